"""Shared start of every rule script, imported first (before numpy or polars are):

* numeric thread pools (polars, OpenMP/BLAS) are sized to the job's ``threads``, so jobs running
  side by side do not each start one thread per core;
* stderr goes to the rule's (first) log file;
* without an installed ``genz`` (a ``--software-deployment-method conda`` job, whose environment
  holds genz's dependencies only), the repository's own ``genz`` sources are imported.
"""

import importlib.util
import os
import sys
from pathlib import Path

#: environment variables that size the thread pools of polars, OpenMP and the BLAS libraries
THREAD_VARS = ("POLARS_MAX_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def setup(snakemake, threads: int | None = None) -> None:
    """Prepare a rule script: ``threads`` per process (default: the job's ``threads``), log, imports."""
    n = max(1, int(snakemake.threads if threads is None else threads))
    for var in THREAD_VARS:
        os.environ[var] = str(n)
    if snakemake.log:
        sys.stderr = open(snakemake.log[0], "w", buffering=1)
    late = sorted(m for m in ("polars", "numpy") if m in sys.modules)
    if late:
        print(f"warning: {', '.join(late)} imported before the thread limits were set", file=sys.stderr)
    if importlib.util.find_spec("genz") is None:
        sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1]))
