"""The calibration baseline: which measured rows the shared factors are fitted on.

Some fitted numbers are shared by every platform: the software factors of each serving stack
(vLLM's, TensorRT-LLM's, ...) and the pooled statistics of the uncertainty bands (their overall and
per-metric quantiles and the widening scale). A joint fit of every row would move them a little
whenever any row is added, and with them every platform's profile: one new H200 file would change
what genz says about MI300X. So the calibration runs in two stages
(:func:`genz.calibrate.physfit.fit_staged`):

1. **shared**: the joint fit of the *baseline rows*, the rows of the measurement files listed in the
   baseline file (``calibration/baseline.yaml``), matched by content, not by name. It gives the
   stacks' software factors and the pooled band statistics.
2. **per platform group**: with those held, every group of rows that shares no other parameter (a
   family: its platforms and their link class) that holds a row outside the baseline is refitted on
   all its rows. Every other group keeps stage 1's values.

A new measurement file is outside the baseline: it refits its own family's hardware factors, and the
cross-validation refits that group in each fold (stage 1 is read from the fit cache). A baseline
file that was edited counts as new (its digest no longer matches), so its rows leave stage 1 and the
shared factors are refitted without them, and say so in a warning. ``genz baseline`` writes the
file for the current measurement files: the next run refits the shared factors on every row, which
re-estimates everything. With no baseline file, every row is a baseline row (one joint fit).

The file (YAML): ``files:`` maps each file's path (relative to the measurement folder; for people)
to the first 16 hex digits of the SHA-256 of its bytes (what is matched).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..catalog.files import atomic_write_text
from ..errors import GenzError

HEADER = """\
# The calibration baseline (docs/calibration.md, "Baseline"): the measurement files whose rows the
# shared factors (each serving stack's software factors, the pooled band statistics) are fitted on,
# by content (SHA-256 of the file's bytes, first 16 hex digits; the paths are for people).
# Rows of files not listed here refit only their own platform family; a listed file whose content
# changed leaves the shared fit until this file is rewritten with `genz baseline` (after which every
# shard is re-estimated on the next run).
"""


def file_digest(path: str | Path) -> str:
    """First 16 hex digits of the SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


@dataclass(frozen=True)
class Baseline:
    """The digests of the baseline files (``None`` path: no baseline file, every row is baseline)."""

    path: str | None
    files: dict[str, str]  # relative path -> digest

    @property
    def everything(self) -> bool:
        return self.path is None

    def rows(self, measurement_files: Sequence[str]) -> np.ndarray:
        """Which rows are baseline rows, from each row's ``measurement_file``."""
        if self.everything:
            return np.ones(len(measurement_files), dtype=bool)
        digests = set(self.files.values())
        of = {f: file_digest(f) in digests for f in sorted(set(measurement_files))}
        return np.array([of[f] for f in measurement_files], dtype=bool)

    def warnings(self, measurement_files: Iterable[str]) -> list[str]:
        """One line when listed files are missing or changed (their rows are outside the baseline)."""
        if self.everything:
            return []
        present = {file_digest(f) for f in set(measurement_files)}
        gone = sorted(rel for rel, d in self.files.items() if d not in present)
        if not gone:
            return []
        return [f"baseline {self.path}: {len(gone)} listed file(s) are missing or changed ({', '.join(gone[:5])}"
                f"{', ...' if len(gone) > 5 else ''}); the shared factors are fitted without their rows, and rows "
                "of a changed file are fitted as new rows (their platform family only); `genz baseline` refits "
                "the shared factors on the current files"]


def read(path: str | Path | None) -> Baseline:
    """The baseline file at ``path``; no path, or no such file: every row is a baseline row."""
    if path is None or str(path) == "" or not Path(path).is_file():
        return Baseline(None, {})
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise GenzError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, str) and len(v) == 16 for v in files.values()):
        raise GenzError(f"{path}: files: expected a mapping of file path -> 16-hex-digit digest "
                        "(write it with `genz baseline`)")
    return Baseline(str(path), {str(k): v for k, v in files.items()})


def write(path: str | Path, measurements: str | Path) -> dict[str, str]:
    """Write the baseline file listing every ``*.csv`` under ``measurements`` (atomically); returns it."""
    root = Path(measurements)
    if not root.is_dir():
        raise GenzError(f"measurements: {root} is not a folder")
    files = {str(p.relative_to(root)): file_digest(p) for p in sorted(root.rglob("*.csv"))}
    if not files:
        raise GenzError(f"measurements: no *.csv under {root}")
    body = "files:\n" + "".join(f"  {_yaml_key(k)}: '{v}'\n" for k, v in files.items())
    atomic_write_text(path, HEADER + body)
    return files


def _yaml_key(k: str) -> str:
    return "'" + k.replace("'", "''") + "'"
