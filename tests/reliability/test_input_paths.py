"""Paths that are not what `genz predict` needs: inputs that are not regular files, outputs that are
not (or cannot become) regular files, and a disk that fails mid-write. One line each; the input,
any earlier output and the special files themselves are left as they were; no temporary is left."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import polars as pl
import pytest

from tests.reliability.conftest import HEADER, ROW, assert_error, snapshot

TAIL = "not a regular file; give a file (or - for standard input)"
NAMES = ".csv, .parquet, .json"


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A folder with a good input, an earlier output, a directory, a FIFO and a symlink."""
    (tmp_path / "in.csv").write_text(f"{HEADER}\n{ROW}\n")
    (tmp_path / "out.csv").write_text("an earlier output, kept\n")
    (tmp_path / "victim.csv").write_text("a file a symlink points at\n")
    (tmp_path / "adir").mkdir()
    os.mkfifo(tmp_path / "fifo.csv")
    (tmp_path / "link.csv").symlink_to(tmp_path / "victim.csv")
    monkeypatch.chdir(tmp_path)
    return tmp_path


INPUT_CASES = [
    ("missing.csv", "missing.csv: file not found"),
    ("adir", f"adir: is a directory, {TAIL}"),
    ("/dev/null", f"/dev/null: is a character device, {TAIL}"),
    ("fifo.csv", f"fifo.csv: is a FIFO (named pipe), {TAIL}"),  # reading it would block forever
]


@pytest.mark.parametrize("src, message", INPUT_CASES, ids=[c[0] for c in INPUT_CASES])
def test_input_that_is_not_a_regular_file(genz, work, src, message):
    before = snapshot(work)
    assert_error(genz("predict", src, "-o", "out.csv"), message)
    assert snapshot(work) == before


def test_unreadable_input(genz, work, monkeypatch):
    """(As root every file is readable, so the refusal of the OS is simulated.)"""
    real = Path.read_bytes

    def locked(self):
        if self.name == "in.csv":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self)

    before = snapshot(work)
    monkeypatch.setattr(Path, "read_bytes", locked)
    assert_error(genz("predict", "in.csv", "-o", "out.csv"), "in.csv: cannot read (Permission denied)")
    monkeypatch.undo()
    assert snapshot(work) == before


OUTPUT_CASES = [
    ("", f"output: empty path; give a file name ending in {NAMES}"),
    (".", f"output: empty path; give a file name ending in {NAMES}"),
    ("adir", f"output: adir is a directory; give a regular file name ending in {NAMES}"),
    ("fifo.csv", f"output: fifo.csv is not a regular file; give a regular file name ending in {NAMES}"),
    ("link.csv", f"output: link.csv is a symlink; give a regular file name ending in {NAMES}"),
    ("out.xlsx", f"output: out.xlsx: unknown extension '.xlsx'; allowed: {NAMES}"),
    ("in.csv/x.csv", "output: in.csv/x.csv: {cwd}/in.csv is not a directory"),
]


@pytest.mark.parametrize("target, message", OUTPUT_CASES, ids=[c[0] or "empty" for c in OUTPUT_CASES])
def test_output_that_cannot_be_a_regular_file(genz, work, target, message):
    before = snapshot(work)
    assert_error(genz("predict", "in.csv", "-o", target), message.format(cwd=work))
    assert snapshot(work) == before


@pytest.mark.parametrize("device", ["/dev/full", "/dev/null"])
def test_device_as_output_is_refused_and_left_a_device(genz, work, device):
    """As root, `-o /dev/full` once replaced the device node with a regular file."""
    if not Path(device).is_char_device():
        pytest.skip(f"{device} is not a character device here")
    assert_error(genz("predict", "in.csv", "-o", device),
                 f"output: {device} is not a regular file; give a regular file name ending in {NAMES}")
    assert stat.S_ISCHR(os.stat(device).st_mode)


# how a write fails: (output, the method that fails, the exception it raises, the reason printed)
DISK_CASES = [
    ("out.csv", "write_csv", OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
    ("out.parquet", "write_parquet", pl.exceptions.ComputeError(
        "parquet: File out of specification: underlying IO error: No space left on device (os error 28)"),
     "No space left on device"),
    ("out.json", "write_json", OSError("No space left on device (os error 28)"), "No space left on device"),
    ("out.csv", "write_csv", PermissionError(errno.EACCES, "Permission denied"), "Permission denied"),
    ("out.csv", "write_csv", OSError(errno.EROFS, "Read-only file system"), "Read-only file system"),
]


@pytest.mark.parametrize("target, method, exc, reason", DISK_CASES,
                         ids=[f"{c[0]}-{c[3].split()[0].lower()}" for c in DISK_CASES])
def test_failed_write_is_one_line_and_keeps_the_earlier_output(genz, work, monkeypatch, target, method, exc, reason):
    """A full disk (simulated: the write puts some bytes down, then fails as polars does) leaves the earlier
    output as it was and no temporary file behind."""
    def fail(self, path, *a, **kw):
        Path(path).write_bytes(b"half a file")
        raise exc

    monkeypatch.setattr(pl.DataFrame, method, fail)
    before = snapshot(work)
    assert_error(genz("predict", "in.csv", "-o", target), f"cannot write {target}: {reason}")
    assert snapshot(work) == before
