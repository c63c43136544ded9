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


# ----------------------------------------------------------------------------------------------
# reading a user's table (scenario tables for `genz predict`)
# ----------------------------------------------------------------------------------------------

#: table formats by extension; any other name (and standard input, ``-``) is read as CSV
TABLE_FORMATS = {".parquet": "parquet", ".json": "json", ".jsonl": "ndjson", ".ndjson": "ndjson"}


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    import stat

    for test, word in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return word
    return "not a regular file"


def read_bytes(path: str | Path) -> bytes:
    """The bytes of a user's input file (``-``: standard input). Only a regular file is read: a
    directory, device, FIFO or socket is a one-line error (reading a FIFO could block forever)."""
    import sys

    if str(path) == "-":
        return sys.stdin.buffer.read()
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise GenzError(f"{path}: file not found") from None
    except OSError as exc:
        raise GenzError(f"{path}: cannot read ({exc.strerror})") from None
    import stat

    if not stat.S_ISREG(st.st_mode):
        raise GenzError(f"{path}: is {_kind(st.st_mode)}, not a regular file; give a file (or - for standard input)")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise GenzError(f"{path}: cannot read ({exc.strerror})") from None


def _line_of(data: bytes | str, offset: int) -> int:
    """1-based line number of a byte/character offset."""
    if isinstance(data, bytes):
        return data.count(b"\n", 0, offset) + 1
    return data.count("\n", 0, offset) + 1


def decode_text(data: bytes, where: str) -> str:
    """Text of a CSV file: UTF-8 (a byte-order mark is dropped), or UTF-16/UTF-32 with a byte-order
    mark. Anything else is a one-line error with the line and byte offset of the first bad byte."""
    import codecs

    for bom, enc in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                     (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"), (codecs.BOM_UTF8, "utf-8-sig")):
        if data.startswith(bom):
            try:
                return data.decode(enc)
            except UnicodeDecodeError as exc:
                raise GenzError(f"{where}: byte offset {exc.start}: not valid {enc.upper().removesuffix('-SIG')} "
                                "although the file starts with its byte-order mark; save it as UTF-8") from None
    nul = data.find(b"\x00")
    if nul >= 0:
        raise GenzError(f"{where}: line {_line_of(data, nul)}, byte offset {nul}: a NUL byte; not a UTF-8 text file "
                        "(UTF-16 without a byte-order mark?); save it as UTF-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GenzError(f"{where}: line {_line_of(data, exc.start)}, byte offset {exc.start}: byte "
                        f"0x{data[exc.start]:02x} is not UTF-8 (Latin-1 or Windows-1252 text?); save the file as "
                        "UTF-8") from None


def csv_problem(text: str) -> str | None:
    """The first structural problem of a CSV text, as ``line N: ...``, or None.

    Rows must have as many fields as the header; a quoted field must be closed and followed by a
    delimiter; a quote inside an unquoted field is refused (as the fast reader does)."""
    import csv
    import io

    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    width = None
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            return f"line {start}: malformed quoting ({exc}); close every quoted field and double quotes inside it"
        if not row:
            continue
        if width is None:
            width = len(row)
        elif len(row) != width:
            return f"line {start}: {len(row)} fields, the header has {width}"
    # a quote inside an unquoted field (the csv module takes it literally, the fast reader does not)
    quoted = False
    for lineno, line in enumerate(text.splitlines(), 1):
        if '"' not in line and not quoted:
            continue
        at_start, i = not quoted, 0
        while i < len(line):
            ch = line[i]
            if quoted:
                if ch == '"':
                    if i + 1 < len(line) and line[i + 1] == '"':
                        i += 1
                    else:
                        quoted = False
            elif ch == '"':
                if not at_start:
                    return (f"line {lineno}: a quote inside an unquoted field; quote the whole field and double the "
                            "quotes inside it")
                quoted = True
            at_start = ch == "," and not quoted
            i += 1
    return None


def read_table(path: str | Path):
    """A user's table as a polars frame, every way it can be unreadable a one-line :class:`GenzError`
    naming the file (and the line, for text formats).

    CSV (every cell read as text; UTF-8, or UTF-16/32 with a byte-order mark), Parquet
    (``.parquet``), a JSON array of records (``.json``) or JSON Lines (``.jsonl``, ``.ndjson``);
    ``-`` reads CSV from standard input. Ragged rows, broken quoting, duplicate header names and
    nested (list/struct) cells are refused.
    """
    import io

    import polars as pl

    where = "<stdin>" if str(path) == "-" else str(path)
    data = read_bytes(path)
    fmt = "csv" if str(path) == "-" else TABLE_FORMATS.get(Path(path).suffix.lower(), "csv")
    if not data.strip():
        raise GenzError(f"{where}: empty file; expected a header with at least model, hardware, input_tokens, "
                        "output_tokens")
    if fmt == "csv":
        text = decode_text(data, where)
        try:
            df = pl.read_csv(io.BytesIO(text.encode("utf-8")), infer_schema=False, truncate_ragged_lines=False)
        except pl.exceptions.NoDataError:
            raise GenzError(f"{where}: empty file; expected a header with at least model, hardware, input_tokens, "
                            "output_tokens") from None
        except pl.exceptions.PolarsError as exc:
            problem = csv_problem(text) or f"malformed CSV ({_first_line(exc)})"
            raise GenzError(f"{where}: {problem}") from None
        # a short row reads as trailing nulls: look for ragged rows only when the last column has a blank
        if df.width > 1 and df.height and df.get_column(df.columns[-1]).null_count():
            ragged = csv_problem(text)
            if ragged:
                raise GenzError(f"{where}: {ragged}")
    else:
        try:
            if fmt == "parquet":
                df = pl.read_parquet(io.BytesIO(data))
            elif fmt == "json":
                df = pl.read_json(io.BytesIO(data))
            else:
                df = pl.read_ndjson(io.BytesIO(data))
        except Exception as exc:  # noqa: BLE001 - polars fails in several ways on a broken file: all the user's
            raise GenzError(f"{where}: {_format_problem(fmt, data, exc)}") from None
    dup = [c for c in df.columns if "_duplicated_" in c and c.split("_duplicated_")[0] in df.columns]
    if dup:
        raise GenzError(f"{where}: column '{dup[0].split('_duplicated_')[0]}' appears more than once in the header")
    nested = [c for c, t in df.schema.items() if t.is_nested()]
    if nested:
        raise GenzError(f"{where}: column '{nested[0]}' holds lists or records; give one value per cell")
    return df


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _format_problem(fmt: str, data: bytes, exc: BaseException) -> str:
    """Why a Parquet/JSON file could not be read, with the line for JSON."""
    import json

    if fmt == "parquet":
        return f"not a readable Parquet file ({_first_line(exc)})"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return f"line {_line_of(data, e.start)}, byte offset {e.start}: not UTF-8; save the file as UTF-8"
    if fmt == "json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            return f"line {e.lineno}: malformed JSON ({e.msg})"
        if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
            return "a .json table must be an array of records ([{\"model\": ..., \"hardware\": ...}, ...])"
        return f"cannot read the records ({_first_line(exc)})"
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            return f"line {lineno}: malformed JSON ({e.msg})"
        if not isinstance(rec, dict):
            return f"line {lineno}: each line of a JSON Lines table must be one record ({{...}})"
    return f"cannot read the records ({_first_line(exc)})"
