"""genz: an analytical performance model of LLM inference on hardware platforms.

Public API (see :mod:`genz.api`)::

    import genz
    genz.predict(frame)                  # scenario table (polars) -> predictions
    genz.estimate(model, hardware, **kw) # one scenario, with per-operator table
    genz.get_model(name); genz.get_hardware(name)
"""

from __future__ import annotations

__version__ = "0.1.0"

from .api import estimate, hardware_table, models_table, operator_table, predict  # noqa: E402
from .errors import GenzError  # noqa: E402
from .hardware import get_hardware  # noqa: E402
from .zoo import get_model  # noqa: E402

__all__ = ["predict", "estimate", "operator_table", "models_table", "hardware_table", "get_model",
           "get_hardware", "GenzError", "__version__"]
