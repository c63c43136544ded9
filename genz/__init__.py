"""genz: an analytical performance model of LLM inference on hardware platforms.

Public API (see :mod:`genz.api`)::

    import genz
    genz.predict(frame)                  # scenario table (polars) -> predictions
    genz.estimate(model, hardware, **kw) # one scenario, with per-operator table
    genz.get_model(name); genz.get_hardware(name)
"""

from __future__ import annotations

from ._version import __version__
from .api import estimate, hardware_table, models_table, operator_table, predict
from .catalog.hardware import get_hardware
from .catalog.zoo import get_model
from .errors import GenzError

__all__ = [
           "GenzError",
           "__version__",
           "estimate",
           "get_hardware",
           "get_model",
           "hardware_table",
           "models_table",
           "operator_table",
           "predict",
]
