"""The use-case library: request shapes and latency SLOs by name, with sources.

It ships as package data (``genz/data/usecases.yaml``), so every command finds it from any folder.
A user's own library (same format) is used where one is named (``--usecases PATH``, an experiment's
``usecases:`` key, or a ``usecases.yaml`` next to the experiment files).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import GenzError
from .files import DATA_DIR, load_yaml

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
        out[str(name)] = uc
    return out
