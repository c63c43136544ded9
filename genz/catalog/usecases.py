"""The use-case library (``experiments/usecases.yaml``): request shapes and latency SLOs by name."""

from __future__ import annotations

from pathlib import Path

from ..errors import GenzError
from .files import load_yaml


def load_usecases(path: str | Path) -> dict[str, dict]:
    """The use-case library: name -> {input_tokens, output_tokens, slo: {...}, ...}."""
    path = Path(path)
    data = load_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("usecases"), dict):
        raise GenzError(f"{path}: expected a mapping 'usecases: {{name: {{input_tokens, output_tokens, slo}}}}'")
    out = {}
    for name, uc in data["usecases"].items():
        if not isinstance(uc, dict) or "input_tokens" not in uc or "output_tokens" not in uc:
            raise GenzError(f"{path}: usecases.{name}: needs input_tokens and output_tokens")
        out[str(name)] = uc
    return out
