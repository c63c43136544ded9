"""Snakemake conventions: lint-clean, snakefmt-formatted, every rule sized and logged, no hidden
paths in the rule scripts, kernel priors fitted once, and the shipped ``.test/`` configuration runs."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from genz.calibrate import calibration, opcal
from tests.conftest import ROOT
from tests.workflow.conftest import TEST_MEASUREMENTS, make_test_project

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
RULE_FILES = sorted((ROOT / "workflow" / "rules").glob("*.smk"))
OPERATORS = ROOT / "calibration" / "operators" / "aiconfigurator"


def _rule_blocks() -> dict[str, str]:
    """Each rule's text (snakefmt layout: ``rule NAME:`` at column 0, its body indented)."""
    blocks = {}
    for f in [ROOT / "Snakefile", *RULE_FILES]:
        for m in re.finditer(r"^(?:rule|checkpoint) (\w+):\n((?:[ \t]+.*\n|\n)+)", f.read_text(), flags=re.MULTILINE):
            blocks[m.group(1)] = m.group(2)
    return blocks


def test_lint_is_clean():
    p = subprocess.run([*SNAKEMAKE, "--lint"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "Lints for" not in out and "Congratulations" in out, out


def test_snakefmt_check():
    if importlib.util.find_spec("snakefmt") is None:
        pytest.skip("snakefmt not installed (pip install -e '.[test]')")
    p = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow/"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, "run `snakefmt Snakefile workflow/`:\n" + p.stdout + p.stderr


def test_every_rule_declares_threads_resources_and_log():
    blocks = _rule_blocks()
    assert {"fit_operator_priors", "calibrate", "publish_profiles", "estimate_shard", "warehouse", "reports"} <= set(blocks)
    for name, body in blocks.items():
        if name == "all":  # the target rule runs nothing
            continue
        assert re.search(r"^    threads: \d+$", body, re.MULTILINE), f"rule {name}: no threads"
        assert re.search(r"^    resources:\n        mem_mb=\d+,$", body, re.MULTILINE), f"rule {name}: no resources: mem_mb"
        assert re.search(r"^    log:\n", body, re.MULTILINE), f"rule {name}: no log"


def test_rule_scripts_take_paths_from_snakemake_only():
    for script in sorted((ROOT / "workflow" / "scripts").glob("*.py")):
        text = script.read_text()
        hard = re.findall(r"""["'](?:results|reports|calibration|experiments|config)/[^"']*["']""", text)
        assert not hard, f"{script.name}: hard-coded path(s) {hard}: use snakemake.input/output/params/log"
        if script.name != "_rule.py":
            assert "setup(snakemake" in text, f"{script.name}: call _rule.setup first (log, thread pools)"


def test_operator_files_are_exactly_what_the_fit_reads(monkeypatch):
    read: list[Path] = []
    real = opcal.pl.read_parquet
    monkeypatch.setattr(opcal.pl, "read_parquet", lambda p, *a, **k: read.append(Path(p)) or real(p, *a, **k))
    fits = opcal.fit_operator_priors(OPERATORS)
    listed = opcal.operator_files(OPERATORS)
    assert sorted(read) == sorted(listed) and len(listed) == 4
    assert {f.family for f in fits} == {"hopper", "ampere"}
    assert opcal.operator_files(OPERATORS / "missing") == []


def test_priors_json_round_trip_gives_the_same_fit(tmp_path):
    fits = opcal.fit_operator_files(opcal.operator_files(OPERATORS))
    priors = opcal.family_priors(fits)
    path = opcal.write_priors(tmp_path / "sub" / "operator_priors.json", priors, sources=["a.parquet"])
    assert opcal.read_priors(path) == priors  # floats survive exactly
    assert not list((tmp_path / "sub").glob(".*"))  # nothing left aside by the atomic write
    paths = sorted(TEST_MEASUREMENTS.rglob("*.csv"))
    a = calibration.fit_files(paths, operators=None, op_priors=opcal.read_priors(path))
    b = calibration.fit_files(paths, operators=OPERATORS)
    assert a.summary["operator_priors"] == b.summary["operator_priors"] == priors
    assert a.profiles.payload() == b.profiles.payload()  # same factors, same version


def _dry_run(project: Path) -> str:
    p = subprocess.run([*SNAKEMAKE, "-n", "--cores", "2", "--directory", ".test", "reports/all"], cwd=project,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout + p.stderr


def test_test_config_runs_end_to_end(tmp_path):
    """CI's small run: `snakemake --cores 2 --directory .test reports/all` (the snakemake-workflows layout)."""
    project = make_test_project(tmp_path / "proj")
    t0 = time.time()
    p = subprocess.run([*SNAKEMAKE, "--cores", "2", "--directory", ".test", "reports/all"], cwd=project,
                       capture_output=True, text=True, timeout=300)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-4000:]
    assert time.time() - t0 < 120, f"the .test run took {time.time() - t0:.0f} s"
    work = project / ".test"
    db = work / "results" / "warehouse.duckdb"
    assert db.exists() and (work / "results" / "warehouse.stamp").exists()
    assert (work / "reports" / "all" / "index.html").exists()
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM estimates").fetchone()[0] == 24  # the smoke grid
        assert con.execute("SELECT count(DISTINCT hardware) FROM measurements").fetchone()[0] == 2
    finally:
        con.close()
    # the kernel priors were fitted once, by their own rule, from exactly the tables opcal lists
    assert out.count("rule fit_operator_priors:") == 1
    priors = work / "results" / "calibration" / "operator_priors.json"
    assert opcal.read_priors(priors).keys() == {"hopper", "ampere"}
    # everything the run wrote is under .test/ (results, reports, .snakemake), nothing at the top level
    assert not (project / "results").exists() and not (project / "reports" / "all").exists()
    assert not (work / "results" / "validation_failures").exists()
    failures = sorted((work / "results" / "logs" / "estimate_shard").rglob("*-failures.parquet"))
    assert len(failures) == 4 and all(pl.read_parquet(f).height == 0 for f in failures)
    out = _dry_run(project)
    assert "Nothing to be done" in out, [l for l in out.splitlines() if "reason" in l.lower()]
