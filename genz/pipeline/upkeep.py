"""Keeping the results folder whole between runs: broken or missing warehouse inputs are rebuilt,
and the temporary files of killed jobs are removed.

* **Broken or missing inputs.** Snakemake reruns a job whose output is missing only when a job
  downstream has to run, so a shard deleted by hand behind an up-to-date warehouse stamp is never
  made again ("Nothing to be done"), and a truncated one is trusted and stops every warehouse build
  ("No magic bytes found"). :func:`intact` is called from the warehouse rule's input functions: it
  removes each input that exists but is not a whole parquet file
  (:func:`genz.store.warehouse.parquet_problem`), and when any input is missing it sets the
  modification time of the warehouse's stamp to the epoch: the stamp is then older than the
  warehouse's other inputs, so the warehouse job must run (Snakemake's mtime rerun trigger) and
  Snakemake makes exactly the missing inputs first. (Removing the stamp would not do: a missing
  intermediate file is itself only remade for a job downstream that has to run.) For the same
  reason a stamp missing beside an existing warehouse (Snakemake removes a failed job's outputs, so
  a warehouse build that failed for a passing reason, a full disk, leaves none) is put back with
  the epoch as its time. The warehouse file itself is never touched: it is replaced only by a
  successful build.
* **Temporary files.** Outputs are written aside as ``.<name>.<pid>.tmp`` and renamed into place
  (:func:`genz.catalog.files.atomic_write`; the warehouse build uses the same name plus a DuckDB
  ``.wal``). A killed job leaves that file behind (for the warehouse, a full-size copy). Snakemake
  reruns a killed job, and before writing it removes the leftovers of its own outputs
  (:func:`remove_stale_temps`, called by every rule script's ``setup``). Only the temporaries of the
  job's own outputs are touched: Snakemake's lock keeps every other run off those outputs.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from ..store.warehouse import parquet_problem


def _say(msg: str) -> None:
    print(f"genz: {msg}", file=sys.stderr)


def intact(paths: Iterable[str | Path], stamp: str | Path, db: str | Path | None = None,
           say: Callable[[str], None] = _say) -> list[str]:
    """``paths`` (the parquet inputs of the warehouse rule), after removing the broken ones and, if any
    is missing, marking the warehouse ``stamp`` out of date (so that Snakemake makes them and
    rebuilds the warehouse). A stamp missing beside an existing warehouse ``db`` (a failed or
    interrupted build: Snakemake removes a failed job's outputs) is put back out of date too, or the
    old warehouse would stay, with "Nothing to be done". Returns the paths as given."""
    out = [str(p) for p in paths]
    missing = []
    for p in out:
        f = Path(p)
        if f.exists():
            why = parquet_problem(f)
            if why is None:
                continue
            f.unlink()
            say(f"{p}: {why}; removed, it will be rebuilt")
        missing.append(p)
    st = Path(stamp)
    if not st.exists() and db is not None and Path(db).exists():
        st.touch()
        os.utime(st, (0, 0))
        say(f"{st}: not there (a failed or interrupted warehouse build); the warehouse will be rebuilt")
    elif missing and st.exists() and st.stat().st_mtime > 0:
        os.utime(st, (0, 0))
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        say(f"{missing[0]}{more}: not there (new, or removed); the warehouse is marked out of date, so they "
            "are made and it is rebuilt")
    return out


def _temp_pattern(path: Path) -> re.Pattern:
    """Temporary names of ``path`` (:func:`genz.catalog.files.atomic_write`: ``.<name>.<pid>.tmp``,
    and the ``.wal`` DuckDB keeps beside a database being built)."""
    return re.compile(rf"^\.{re.escape(path.name)}\.\d+\.tmp(\.wal)?$")


def remove_stale_temps(paths: Iterable[str | Path]) -> list[Path]:
    """Remove the temporary files a killed writer of each of ``paths`` left beside it; returns them."""
    removed = []
    for p in paths:
        path = Path(p)
        if not path.parent.is_dir():
            continue
        pattern = _temp_pattern(path)
        for f in path.parent.iterdir():
            if pattern.match(f.name) and f.is_file():
                f.unlink(missing_ok=True)
                removed.append(f)
    return removed
