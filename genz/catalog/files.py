"""Files: the package's data folder, YAML with a one-line error naming the file, atomic writes,
and the code fingerprint (one place for each)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import yaml

from ..errors import GenzError

#: the package folder (``genz/``) and its data folder: zoo, presets, serving stacks, schemas, snapshot
PACKAGE_DIR = Path(__file__).parent.parent
DATA_DIR = PACKAGE_DIR / "data"

# libyaml is ~10x faster than the pure-Python loader
_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
    except UnicodeDecodeError as exc:
        raise GenzError(f"{path}: not UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                        "save it as UTF-8") from None
    except OSError as exc:
        raise GenzError(f"{path}: cannot read ({exc.strerror})") from None


def atomic_write(path: str | Path, write: Callable[[Path], object], *, pause: str | None = None) -> Path:
    """Write ``path`` without ever leaving a half-written file: ``write(tmp)`` fills a temporary file
    in the same folder (same file system), which is then renamed over ``path`` (atomic on POSIX).

    The temporary name is unique per process (``.<name>.<pid>.tmp``) and removed if ``write`` fails.
    File mode follows the umask, as for any new file. ``pause`` names a fault-injection point
    (:func:`debug_pause`) between the write and the rename, for tests that kill a run there.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~_umask())
        if pause:
            debug_pause(pause)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write` of a UTF-8 text."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def debug_pause(step: str) -> None:
    """Fault-injection aid: sleep at a step's critical point (output written aside, not yet renamed)
    when ``GENZ_PAUSE_AT`` names the step, so tests can kill a run exactly there."""
    if os.environ.get("GENZ_PAUSE_AT") == step:
        import time

        time.sleep(float(os.environ.get("GENZ_PAUSE_S", "30")))


def code_fingerprint(root: Path = PACKAGE_DIR) -> str:
    """Hash of the package's sources and data (what every estimate and profile depends on).

    Every ``.py``, ``.yaml``, ``.sql``, ``.json`` and ``.j2`` file under ``genz/``, by relative path
    and content. The shipped calibration snapshot (``data/calibration/profiles.json``) is left out:
    it is copied from the pipeline's own fit, so hashing it would make every refreshed snapshot
    invalidate the run that produced it.
    """
    h = hashlib.sha256()
    snapshot = root / "data" / "calibration" / "profiles.json"
    for p in sorted(root.rglob("*")):
        if p == snapshot:
            continue
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".yaml", ".sql", ".json", ".j2"):
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]
