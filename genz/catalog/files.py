"""Reading the package's data files: YAML with a one-line error naming the file."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..errors import GenzError

#: the package data folder (``genz/data``): zoo, presets, serving stacks, schemas, calibration snapshot
DATA_DIR = Path(__file__).parent.parent / "data"

try:  # libyaml is ~10x faster than the pure-Python loader
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader  # type: ignore[misc]


def load_yaml(path: Path) -> object:
    """Parse a YAML file with a one-line error naming the file on failure."""
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise GenzError(f"{path}:{where} malformed YAML: {problem}") from None
    except OSError as exc:
        raise GenzError(f"{path}: cannot read ({exc.strerror})") from None
