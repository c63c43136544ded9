"""The pipeline run for real (Snakemake API and CLI) on a tiny grid in a temp dir."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from genz.calibrate import baseline as B
from genz.perf.predict import predict_frame
from genz.perf.profiles import load_profiles
from genz.pipeline import experiments as X
from tests.conftest import ROOT

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def run_api(project: Path, dryrun: bool = False) -> None:
    """Run the workflow through Snakemake's Python API (as the issue asks), like the main command."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import DAGSettings, OutputSettings, ResourceSettings

    cwd = os.getcwd()
    try:
        os.chdir(project)
        with SnakemakeApi(OutputSettings()) as api:
            wf = api.workflow(resource_settings=ResourceSettings(cores=2), snakefile=project / "Snakefile",
                              workdir=project)
            dag = wf.dag(dag_settings=DAGSettings(targets={"reports/all"}, force_incomplete=True,
                                                  max_checksum_file_size=0))
            dag.execute_workflow(executor="dryrun" if dryrun else "local")
    finally:
        os.chdir(cwd)


def dry_run_jobs(project: Path) -> dict[str, int]:
    """Jobs a CLI dry-run would execute, by rule."""
    p = subprocess.run([*SNAKEMAKE, "-n", "--cores", "2", "reports/all"], cwd=project, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    jobs: dict[str, int] = {}
    text = p.stdout + p.stderr
    if "Nothing to be done" in text:
        return jobs
    in_table = False
    for line in text.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            in_table = True
            continue
        if in_table and len(parts) == 2 and parts[1].isdigit():
            if parts[0] == "total":
                break
            jobs[parts[0]] = int(parts[1])
    return jobs


def warehouse_digest(db: Path) -> tuple:
    con = duckdb.connect(str(db), read_only=True)
    try:
        counts = tuple(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                       for t in ("scenarios", "estimates", "operators", "measurements", "calibration", "validation"))
        digest = con.execute(
            "SELECT md5(string_agg(experiment || ':' || scenario_id || ':' || coalesce(round(e2e_latency_ms, 6)::VARCHAR, '-')"
            " || ':' || status, ',' ORDER BY experiment, scenario_id)) FROM estimates").fetchall()[0][0]
    finally:
        con.close()
    return counts, digest


def test_tiny_grid_end_to_end(project):
    run_api(project)
    db = project / "results" / "warehouse.duckdb"
    assert db.exists() and (project / "reports" / "all" / "index.html").exists()
    con = duckdb.connect(str(db), read_only=True)
    exp = X.load(project / "experiments" / "smoke.yaml")
    n = X.count(exp)
    est = con.sql("SELECT * FROM v_estimates ORDER BY scenario_id").pl()
    # the data dictionary: every column of every table and view is described
    undescribed = con.sql("SELECT table_name || '.' || column_name FROM duckdb_columns() "
                          "WHERE NOT internal AND (comment IS NULL OR comment = '')").fetchall()
    # a view's column reads like the table column it passes through, not a same-named one elsewhere
    same = con.sql("""SELECT v.table_name || '.' || v.column_name FROM duckdb_columns() v
                      JOIN duckdb_columns() t ON t.table_name = 'estimates' AND t.column_name = v.column_name
                      WHERE v.table_name IN ('v_estimates', 'v_slo') AND v.comment <> t.comment""").fetchall()
    slo = con.sql("SELECT comment FROM duckdb_columns() WHERE table_name = 'v_slo' AND column_name = 'meets_slo'").fetchall()[0][0]
    con.close()
    assert undescribed == [], undescribed
    assert same == [], same
    assert "SLO" in slo, slo  # v_slo's own description, not a same-named column's elsewhere
    assert est.height == n == 24
    assert set(est.get_column("hardware").to_list()) == {"H100-SXM-80GB", "MI300X"}  # as written in the grid
    assert est.get_column("scenario_id").n_unique() == n
    # the warehouse holds exactly what the engine says when called directly with the same profiles
    rows = pl.concat([X.shard_rows(exp, h, i, 1000) for h, i in X.shards(exp, 1000)])
    profiles = load_profiles(project / "results" / "calibration" / "profiles.json")
    direct = predict_frame(rows, profiles).select("scenario_id", "ttft_ms", "tpot_ms", "e2e_latency_ms", "status")
    merged = est.join(direct, on="scenario_id", suffix="_direct")
    assert merged.height == n
    assert (merged.get_column("status") == merged.get_column("status_direct")).all()
    for c in ("ttft_ms", "tpot_ms", "e2e_latency_ms"):
        a, b = merged.get_column(c).to_numpy(), merged.get_column(c + "_direct").to_numpy()
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # SQL over the warehouse: every predicted row has a band around it
    assert (est.filter(pl.col("status") == "ok").select(
        (pl.col("ttft_ms_low") <= pl.col("ttft_ms")) & (pl.col("ttft_ms") <= pl.col("ttft_ms_high"))).to_series()).all()

    # a second run does nothing; touching the experiment re-runs only its shards and what follows
    assert dry_run_jobs(project) == {}
    time.sleep(1.1)
    (project / "experiments" / "smoke.yaml").touch()
    jobs = dry_run_jobs(project)
    assert jobs.get("estimate_shard") == len(X.shards(exp, 1000))
    assert "calibrate" not in jobs and "publish_profiles" not in jobs
    assert set(jobs) <= {"estimate_shard", "warehouse", "reports"}


def test_new_measurement_file_refits_its_platform_family(project):
    run_api(project)
    meas = project / "calibration" / "measurements"
    src = pl.read_csv(ROOT / "calibration" / "measurements" / "H100-SXM-80GB" / "llm-inference-bench.csv",
                      infer_schema=False)
    new = src.filter(pl.col("model") == "meta-llama/Meta-Llama-3-8B")
    new.write_csv(meas / "H100-SXM-80GB" / "new-run.csv")
    jobs = dry_run_jobs(project)
    # the fit and its validation, the merged file, the checkpoint that republishes the shards'
    # profile files where their content changed, and the one shard whose profile the new H100 file
    # can reach (the file is outside the baseline: it refits the Hopper group only, and the MI300X
    # shard's profile cannot change, so it does not wait: docs/calibration.md, "Baseline")
    assert jobs == {"calibrate": 1, "merge_profiles": 1, "publish_profiles": 1,
                    "estimate_shard": 1, "warehouse": 1, "reports": 1}, jobs
    # rebaselined (every file in the shared stage): the shared stacks can move, so every shard waits
    B.write(project / "calibration" / "baseline.yaml", meas)
    shards = len(list((project / "results" / "estimates").rglob("*.parquet")))
    assert dry_run_jobs(project)["estimate_shard"] == shards

    # a broken file fails the refit with the file, row and column, and leaves the profiles in place
    profiles = project / "results" / "calibration" / "profiles.json"
    before = profiles.read_bytes()
    bad = new.head(5).with_columns(pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("-1")).otherwise(pl.col("value"))
                                   .alias("value"))
    bad.write_csv(meas / "H100-SXM-80GB" / "new-run.csv")
    p = subprocess.run([*SNAKEMAKE, "--cores", "2", "reports/all"], cwd=project, capture_output=True, text=True)
    assert p.returncode != 0
    out = p.stdout + p.stderr
    assert "new-run.csv: row 4, column value" in out and "greater_than(0)" in out
    assert profiles.read_bytes() == before


def _run_and_kill(project: Path, pause_at: str, marker) -> None:
    env = {**os.environ, "GENZ_PAUSE_AT": pause_at, "GENZ_PAUSE_S": "60"}
    p = subprocess.Popen([*SNAKEMAKE, "--cores", "2", "reports/all"], cwd=project, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    try:
        while time.time() < deadline and p.poll() is None:
            if marker():
                break
            time.sleep(0.05)
        assert p.poll() is None, "the run ended before reaching the pause point"
        assert marker(), "pause point not reached in time"
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)  # SIGKILL the whole run, as a crash would
        p.wait()


def rerun(project: Path) -> None:
    """What a user does after a crash: release Snakemake's stale lock (it says so), then re-run."""
    subprocess.run([*SNAKEMAKE, "--unlock", "--cores", "1"], cwd=project, check=True, capture_output=True)
    p = subprocess.run([*SNAKEMAKE, "--cores", "2", "reports/all"], cwd=project, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]


def test_kill_midway_then_rerun_gives_the_same_warehouse(project, tmp_path):
    from tests.workflow.conftest import make_project

    reference = make_project(tmp_path / "ref")
    run_api(reference)
    want = warehouse_digest(reference / "results" / "warehouse.duckdb")

    # 1. killed during estimation: a shard's output is written aside but not yet renamed
    _run_and_kill(project, "estimate", lambda: any((project / "results" / "estimates").rglob(".*.tmp"))
                  if (project / "results" / "estimates").exists() else False)
    assert not (project / "results" / "warehouse.duckdb").exists()
    orphans = sorted((project / "results").rglob(".*.tmp"))
    assert orphans  # what the kill left: the shard written aside
    rerun(project)
    assert warehouse_digest(project / "results" / "warehouse.duckdb") == want
    assert [f for f in orphans if f.exists()] == []  # the rerun of its job removed it

    # 2. killed during the warehouse build: the old warehouse stays whole, the rerun rebuilds it
    time.sleep(1.1)
    (project / "experiments" / "smoke.yaml").touch()
    _run_and_kill(project, "warehouse", lambda: any((project / "results").glob(".warehouse.duckdb.*.tmp")))
    assert warehouse_digest(project / "results" / "warehouse.duckdb") == want  # previous build intact
    copy = sorted((project / "results").glob(".warehouse.duckdb.*.tmp"))
    assert copy  # the copy of the warehouse being built, left by the kill
    rerun(project)
    assert warehouse_digest(project / "results" / "warehouse.duckdb") == want
    assert sorted((project / "results").rglob(".*.tmp*")) == []


def test_dry_run_of_the_full_grids():
    p = subprocess.run([*SNAKEMAKE, "-n", "--cores", "2", "reports/all"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    out = p.stdout + p.stderr
    if "Nothing to be done" not in out:
        for exp in X.discover(ROOT / "experiments"):
            assert f"experiment={exp}/" in out, exp


def test_bad_experiment_file_is_a_one_line_error(project):
    (project / "experiments" / "bad.yaml").write_text("grid:\n  model: [llama-2-7b]\n  hardware: [H100-SXM-80GB]\n"
                                                      "  use_case: [chatt]\n")
    p = subprocess.run([*SNAKEMAKE, "-n", "--cores", "1", "reports/all"], cwd=project, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode != 0
    assert "bad.yaml: grid.use_case: 'chatt' not in" in p.stdout + p.stderr
    (project / "experiments" / "bad.yaml").write_text("grid:\n  model: [llama-2-7b]\n  hardware: [H100-SXM-80GB]\n"
                                                      "  input_tokens: [1]\n  output_tokens: [1]\n  tpp: [2]\n")
    p = subprocess.run([*SNAKEMAKE, "-n", "--cores", "1", "reports/all"], cwd=project, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode != 0 and "grid.tpp" in p.stdout + p.stderr


def test_measurement_files_are_routed_by_their_hardware_column(project):
    """A CSV directly under calibration/measurements/ and a folder whose name differs in case are both
    read (rows are routed by their `hardware` column, case-insensitively); an unknown hardware is a
    one-line error naming the file and the row."""
    import json
    import shutil

    meas = project / "calibration" / "measurements"
    files = sorted(meas.rglob("*.csv"))
    rows = sum(pl.read_csv(f, infer_schema=False).height for f in files)
    h100 = next(f for f in files if "H100" in str(f))
    shutil.move(h100, meas / "h100-at-the-root.csv")  # root level
    mi = next(d for d in meas.iterdir() if d.is_dir() and d.name == "MI300X")
    mi.rename(meas / "mi300x")  # case variant
    p = subprocess.run([*SNAKEMAKE, "--cores", "2", "results/calibration/fit.json"], cwd=project,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    fit = json.loads((project / "results" / "calibration" / "fit.json").read_text())
    assert fit["rows"] == rows
    # a row naming a hardware nobody knows: one line with the file and the row
    bad = pl.read_csv(meas / "h100-at-the-root.csv", infer_schema=False).head(3)
    bad = bad.with_columns(hardware=pl.when(pl.int_range(pl.len()) == 1).then(pl.lit("Acme-X1"))
                           .otherwise(pl.col("hardware")))
    bad.write_csv(meas / "typo.csv")
    p = subprocess.run([*SNAKEMAKE, "--cores", "2", "results/calibration/fit.json"], cwd=project,
                       capture_output=True, text=True)
    assert p.returncode != 0
    assert "typo.csv: row 3, column hardware: hardware: unknown" in p.stdout + p.stderr
