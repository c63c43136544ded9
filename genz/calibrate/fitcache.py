"""A content-addressed cache of fits: the same rows, priors and code give the same fit, so a
cross-validation fold whose training rows did not change is read back instead of refitted.

The key of a fit is the hash of everything it depends on: the measured rows it sees (every
measurement column, in order), the stack each row ran, the kernel-timing priors, the fit's
iteration limit and the code fingerprint. The fit is deterministic, so a hit returns exactly what a
refit would (the pipeline's test compares the two). Honesty is unchanged: a fold's key is made of
its own training rows only, never of the rows it is checked on.

Entries are small JSON files under one folder, written atomically; :meth:`FitCache.prune` removes
those a run did not use, so the folder holds one run's fits.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..catalog.files import atomic_write_text, code_fingerprint
from .measurements import MeasurementFrame

#: the measurement columns a fit can depend on (the schema's, in its order)
ROW_COLUMNS = tuple(MeasurementFrame.to_schema().columns)


class FitCache:
    """Fits by content key, in ``folder`` (created on first write)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.used: set[str] = set()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(frame, stack: np.ndarray, op_priors: dict | None, max_nfev: int, held: list | None = None) -> str:
        """Content key of a fit of these rows (a polars frame with the measurement columns) with the
        ``held`` parameters (name, value) of a staged fit."""
        h = hashlib.sha256()
        cols = [c for c in ROW_COLUMNS if c in frame.columns]
        h.update(frame.select(cols).write_csv().encode())
        h.update("\x1f".join(np.asarray(stack).astype(str).tolist()).encode())
        h.update(json.dumps(op_priors or {}, sort_keys=True, default=float).encode())
        h.update(f"{max_nfev}:{code_fingerprint()}".encode())
        if held:
            h.update(json.dumps(held).encode())
        return h.hexdigest()[:24]

    def get(self, key: str) -> dict | None:
        self.used.add(key)
        p = self.folder / f"{key}.json"
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.misses += 1
            return None
        self.hits += 1
        return data

    def put(self, key: str, data: dict) -> None:
        self.used.add(key)
        atomic_write_text(self.folder / f"{key}.json", json.dumps(data, sort_keys=True, default=float))

    def prune(self) -> int:
        """Remove the entries this cache object did not use; returns how many."""
        n = 0
        for p in self.folder.glob("*.json") if self.folder.is_dir() else []:
            if p.stem not in self.used:
                p.unlink(missing_ok=True)
                n += 1
        return n
