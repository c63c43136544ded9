"""Shared machinery of the reliability suite: run the CLI in-process, check the one-line message,
and check that no data changed.

Every case runs ``genz.cli.main(argv)`` (the function the ``genz`` entry point and ``python -m
genz`` call) in a folder holding the bad inputs, so messages name files by their relative names and
can be compared exactly. A few cases also go through a real subprocess (``python -m genz``).

Set ``GENZ_RELIABILITY_LOG=PATH`` to append every case's exit code and stderr to PATH (the closing
note greps it for ``internal error``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from genz.cli import main

ROOT = Path(__file__).resolve().parents[2]

H = "H100-SXM-80GB"
M = "meta-llama/Llama-3.1-8B"
HEADER = "model,hardware,input_tokens,output_tokens"
ROW = f"{M},{H},128,64"

#: a valid Hugging Face config (Llama-3.1-8B's shape) that the bad configs start from
BASE_CONFIG = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
               "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
               "max_position_embeddings": 131072}


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def line(self) -> str:
        """The single stderr line (asserts there is exactly one)."""
        lines = [x for x in self.err.splitlines() if x.strip()]
        assert len(lines) == 1, self.err
        return lines[0]


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every entry under ``folder``: regular files by content hash, others by kind (a FIFO is never
    opened); comparing two snapshots shows a changed, added or removed file."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = os.lstat(p)
        if p.is_symlink():
            out[str(p.relative_to(folder))] = ("link:" + os.readlink(p), 0)
        elif p.is_file():
            out[str(p.relative_to(folder))] = (hashlib.sha256(p.read_bytes()).hexdigest(), st.st_size)
        else:
            out[str(p.relative_to(folder))] = (f"mode:{st.st_mode:o}", 0)
    return out


def _log(args, res: Result) -> None:
    path = os.environ.get("GENZ_RELIABILITY_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"genz {' '.join(map(str, args))} | rc={res.rc} | {res.err.strip()}\n")


@pytest.fixture
def genz(capsys, monkeypatch):
    """``genz(*args)`` runs the CLI in-process in the current folder; returns rc, stdout, stderr."""
    from genz.catalog.hardware import get_hardware
    from genz.catalog.zoo import get_model

    monkeypatch.delenv("GENZ_DEBUG", raising=False)
    monkeypatch.delenv("GENZ_PROFILES", raising=False)

    def run(*args) -> Result:
        get_model.cache_clear()  # lookups are cached by name: files of the same name differ between tests
        get_hardware.cache_clear()
        capsys.readouterr()
        rc = main([str(a) for a in args])
        cap = capsys.readouterr()
        res = Result(rc, cap.out, cap.err)
        _log(args, res)
        assert "internal error" not in res.err and "Traceback" not in res.err, res.err
        return res

    return run


def run_subprocess(*args, cwd: Path, stdin: bytes | None = None) -> Result:
    """``python -m genz ARGS`` as a user runs it (the tree under test first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("GENZ_DEBUG", None)
    p = subprocess.run([sys.executable, "-m", "genz", *map(str, args)], capture_output=True, cwd=cwd, input=stdin,
                       timeout=120, env=env)
    res = Result(p.returncode, p.stdout.decode(), p.stderr.decode())
    _log(args, res)
    assert "internal error" not in res.err and "Traceback" not in res.err, res.err
    return res


def assert_error(res: Result, message: str, rc: int = 2) -> None:
    """Exit code ``rc`` and exactly ``genz: error: <message>`` on stderr, one line."""
    assert res.rc == rc, res.err
    assert res.line == f"genz: error: {message}"


def write_cases(folder: Path, cases, dump) -> Path:
    """Write each case's file into ``folder``: bytes as they are, text as it is, anything else through
    ``dump`` (``yaml.safe_dump`` or ``json.dumps``). Cases are ``(name, content, expected message)``."""
    for name, content, _ in cases:
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        elif isinstance(content, str):
            (folder / name).write_text(content)
        else:
            (folder / name).write_text(dump(content))
    return folder
