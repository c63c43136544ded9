"""The use-case library: request shapes and latency SLOs by name, with sources.

It ships as package data (``genz/data/usecases.yaml``), so every command finds it from any folder.
A user's own library (same format) is used where one is named (``--usecases PATH``, an experiment's
``usecases:`` key, or a ``usecases.yaml`` next to the experiment files).
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import GenzError
from .files import DATA_DIR, load_yaml
from .units import MAX_TOKENS

#: the shipped library
PACKAGED = DATA_DIR / "usecases.yaml"


def load_usecases(path: str | Path | None = None) -> dict[str, dict]:
    """The use-case library (``path``, else the shipped one): name -> {input_tokens, output_tokens,
    slo: {...}, ...}."""
    path = Path(path) if path is not None else PACKAGED
    if not path.is_file():
        raise GenzError(f"use-case library: {path} is not a file")
    data = load_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("usecases"), dict):
        raise GenzError(f"{path}: expected a mapping 'usecases: {{name: {{input_tokens, output_tokens, slo}}}}'")
    out = {}
    for name, uc in data["usecases"].items():
        if not isinstance(uc, dict) or "input_tokens" not in uc or "output_tokens" not in uc:
            raise GenzError(f"{path}: usecases.{name}: needs input_tokens and output_tokens")
        _check(uc, f"{path}: usecases.{name}")
        out[str(name)] = uc
    return out


#: latency bounds a use case's ``slo`` may set (ms)
SLO_KEYS = ("ttft_ms", "tpot_ms", "e2e_ms")
#: the largest latency bound, ms (~11.6 days)
MAX_SLO_MS = 1e9


def _check(uc: dict, where: str) -> None:
    """Token counts are whole numbers in [1, :data:`~.units.MAX_TOKENS`]; SLO bounds are finite numbers
    in (0, :data:`MAX_SLO_MS`] ms; else a one-line error naming the use case, field and value."""
    for key in ("input_tokens", "output_tokens"):
        v = uc[key]
        ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and float(v).is_integer()
        if not ok or not 1 <= v <= MAX_TOKENS:
            raise GenzError(f"{where}.{key} '{v}' is not an integer in [1, {MAX_TOKENS:,}]")
    slo = uc.get("slo")
    if slo is None:
        return
    if not isinstance(slo, dict):
        raise GenzError(f"{where}.slo must be a mapping of bounds ({', '.join(SLO_KEYS)}), got '{slo}'")
    for key in SLO_KEYS:
        v = slo.get(key)
        if v is None:
            continue
        ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        if not ok or not 0 < v <= MAX_SLO_MS:
            raise GenzError(f"{where}.slo.{key} '{v}' is not a number in (0, {MAX_SLO_MS:,.0f}] ms")
