"""Shared start of every rule script, imported first (before numpy or polars are):

* numeric thread pools (polars, OpenMP/BLAS) are sized to the job's ``threads``, so jobs running
  side by side do not each start one thread per core;
* stderr goes to the rule's (first) log file;
* without an installed ``genz`` (a ``--software-deployment-method conda`` job, whose environment
  holds genz's dependencies only), the repository's own ``genz`` sources are imported;
* the temporary files a killed earlier run of this job left beside its outputs are removed
  (:func:`genz.pipeline.upkeep.remove_stale_temps`);
* a user's mistake (:class:`genz.errors.GenzError`, a JSON-schema or pandera validation error, a
  template error, a file the system refuses) ends the job with ONE line, ``genz: error: ...``, in
  the log (which Snakemake shows for a failed job) and a non-zero exit, not a traceback. Anything
  else is a bug and keeps its traceback.
"""

import importlib.util
import os
import sys
from pathlib import Path

#: environment variables that size the thread pools of polars, OpenMP and the BLAS libraries
THREAD_VARS = ("POLARS_MAX_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
#: exit status of a job stopped by a user error (as the ``genz`` command line)
USER_ERROR = 2


def setup(snakemake, threads: int | None = None, outputs=()) -> None:
    """Prepare a rule script: ``threads`` per process (default: the job's ``threads``), log, imports,
    leftovers of a killed run beside the job's outputs (and ``outputs``, files written under another
    name than a declared output, e.g. the warehouse behind its stamp), one-line user errors."""
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
    sys.excepthook = _excepthook
    from genz.pipeline.upkeep import remove_stale_temps

    for f in remove_stale_temps([*snakemake.output, *outputs]):
        print(f"removed {f}, left by a killed run", file=sys.stderr)


def user_error(exc: BaseException) -> str | None:
    """The message of a user's mistake (its first line is the one to show), or None for anything
    else (a bug)."""
    from genz.errors import GenzError

    kinds = {"jsonschema.exceptions": ("ValidationError",), "pandera.errors": ("SchemaError", "SchemaErrors"),
             "jinja2.exceptions": ("TemplateError", "TemplateSyntaxError", "TemplateNotFound", "UndefinedError")}
    mod = type(exc).__module__
    if isinstance(exc, GenzError):
        return str(exc) or type(exc).__name__
    if mod == "jsonschema.exceptions" and type(exc).__name__ in kinds[mod]:
        where = ".".join(str(p) for p in getattr(exc, "absolute_path", ())) or "(top level)"
        return f"{where}: {getattr(exc, 'message', exc)}"
    if mod in kinds and type(exc).__name__ in kinds[mod]:
        where = ":".join(str(x) for x in (getattr(exc, "filename", None), getattr(exc, "lineno", None)) if x)
        return f"{where + ': ' if where else ''}{type(exc).__name__}: {exc}"
    if isinstance(exc, OSError) and not isinstance(exc, (BlockingIOError, ChildProcessError)):
        return f"{str(exc.filename) + ': ' if exc.filename else ''}{exc.strerror or exc}"
    return None


def _excepthook(kind, exc, tb) -> None:
    msg = user_error(exc)
    if msg is None:
        sys.__excepthook__(kind, exc, tb)
        return
    first, *rest = [s for s in msg.splitlines() if s.strip()] or [type(exc).__name__]
    print(f"genz: error: {first}" + (" (details below)" if rest else ""), file=sys.stderr)
    for line in rest:  # e.g. pandera's table of failure cases
        print(f"    {line}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(USER_ERROR)  # the hook cannot raise SystemExit; the interpreter's own status would be 1
