"""A built copy of the ``.test/`` pipeline for the pipeline reliability cases.

The pipeline runs once per session (:func:`built`, ~30 s); each case works on a copy
(:func:`fresh`, metadata and modification times included, so Snakemake sees it up to date) and
checks what a careless or hostile user would get: the exit status, ONE line ``genz: error: ...``
with no traceback and no "internal error", and that nothing already built changed
(:func:`snapshot`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from tests.workflow.conftest import make_test_project

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
TARGET = ["--cores", "2", "--directory", ".test", "reports/all"]
#: the session's built project (made once by :func:`built`)
_BUILT: dict[str, Path] = {}

SMALL = ("grid:\n  model: [meta-llama/Llama-3.1-8B]\n  hardware: [H100-SXM-80GB]\n"
         "  input_tokens: [128]\n  output_tokens: [16]\n")


def run(project: Path, *extra: str, dry: bool = False, timeout: int = 300) -> subprocess.CompletedProcess:
    """``snakemake [-n] --cores 2 --directory .test reports/all [extra]`` in ``project``; with
    ``GENZ_RELIABILITY_LOG=PATH`` its exit status and whole output are appended to PATH (the closing
    note greps the suite's outputs for "internal error")."""
    cmd = [*SNAKEMAKE, *(["-n"] if dry else []), *TARGET, *extra]
    p = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=timeout)
    log = os.environ.get("GENZ_RELIABILITY_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"snakemake {' '.join(cmd[3:])} | rc={p.returncode} | {project.name}\n"
                     + "".join(f"    {line}\n" for line in (p.stdout + p.stderr).splitlines()))
    return p


def built(tmp_path_factory) -> Path:
    """The ``.test/`` pipeline run to the end once per session (the smoke grid, 24 scenarios)."""
    if "project" not in _BUILT:
        project = make_test_project(tmp_path_factory.mktemp("reliability") / "built")
        p = run(project)
        assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
        _BUILT["project"] = project
    return _BUILT["project"]


def fresh(tmp_path_factory, dest: Path) -> Path:
    """A copy of the built project at ``dest`` (times kept: Snakemake finds nothing to do)."""
    shutil.copytree(built(tmp_path_factory), dest, symlinks=True)
    return dest


def use_experiments(project: Path, files: dict[str, str], include: tuple[str, ...] = ()) -> None:
    """Put experiment files beside the smoke grid and run every experiment there (or ``include``)."""
    for name, text in files.items():
        (project / "experiments" / name).write_text(text, encoding="utf-8")
    cfg = project / ".test" / "config" / "config.yaml"
    text = re.sub(r"^include: .*$", f"include: [{', '.join(include)}]", cfg.read_text(), flags=re.MULTILINE)
    cfg.write_text(text)


def snapshot(project: Path) -> dict[str, str]:
    """Content hash of every result a run could damage: everything under ``.test/results`` (logs and
    benchmarks aside: a failed job writes its log) and the reports."""
    work = project / ".test"
    out = {}
    for root in (work / "results", work / "reports"):
        for f in sorted(root.rglob("*")):
            rel = f.relative_to(work)
            if f.is_file() and rel.parts[:2] not in (("results", "logs"), ("results", "benchmarks")):
                out[str(rel)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def warehouse_rows(project: Path) -> dict[str, int]:
    """Estimate rows per experiment in the warehouse."""
    con = duckdb.connect(str(project / ".test" / "results" / "warehouse.duckdb"), read_only=True)
    try:
        return dict(con.execute("SELECT experiment, count(*) FROM v_estimates GROUP BY ALL").fetchall())
    finally:
        con.close()


def warehouse_digest(project: Path) -> str:
    """One hash of every estimate row (experiment, scenario, latency, status)."""
    con = duckdb.connect(str(project / ".test" / "results" / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(
            "SELECT md5(string_agg(experiment || ':' || scenario_id || ':' || coalesce(round(e2e_latency_ms, 9)"
            "::VARCHAR, '-') || ':' || status, ',' ORDER BY experiment, scenario_id)) FROM estimates").fetchone()[0]
    finally:
        con.close()


def one_line_error(p: subprocess.CompletedProcess, *fragments: str) -> str:
    """The run failed with one ``genz: error:`` message holding every fragment, and no traceback or
    internal error anywhere in its output; returns the message."""
    out = p.stdout + p.stderr
    assert p.returncode != 0, out[-3000:]
    lines = sorted({ln.strip() for ln in out.splitlines() if ln.strip().startswith("genz: error:")})
    assert len(lines) == 1, out[-3000:]  # the same line may show twice (the job's log is echoed)
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])
    assert "Traceback" not in out and 'File "' not in out, out[-3000:]
    assert "internal error" not in out
    print(lines[0])  # shown with pytest -s: the closing note quotes them
    return lines[0]
