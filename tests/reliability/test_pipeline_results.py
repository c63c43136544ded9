"""Damaged results: a truncated or deleted shard is found and rebuilt by the next
``snakemake ... reports/all`` (exactly that shard, then the warehouse), giving the same warehouse;
a killed run's temporary files are removed by the rerun of their job, and nobody else's."""

from __future__ import annotations

import os

import pytest

from tests.reliability.pipeline_project import built, fresh, run, warehouse_digest

SHARD = ".test/results/estimates/experiment=smoke/hardware=mi300x/part-0000.parquet"
OPS = ".test/results/operators/experiment=smoke/hardware=h100-sxm-80gb/part-0000.parquet"


def _rebuilt(project, want: str, p) -> str:
    """The run succeeded without a traceback, the warehouse holds what it held, and a second run has
    nothing to do (the out-of-date mark does not stick)."""
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-3000:]
    assert "Traceback" not in out and "internal error" not in out
    assert warehouse_digest(project) == want
    again = run(project, dry=True)
    assert "Nothing to be done" in again.stdout + again.stderr
    return out


@pytest.fixture
def project(tmp_path_factory, tmp_path):
    return fresh(tmp_path_factory, tmp_path / "proj")


def _rules_run(out: str) -> list[str]:
    """The jobs a run started, by rule (``rule X:`` or, run locally, ``localrule X:``)."""
    return sorted(line.split()[1].rstrip(":") for line in out.splitlines()
                  if line.startswith(("rule ", "localrule ")))


@pytest.mark.slow  # each case reruns the pipeline's tail (shards, warehouse, reports): ~25 s on 2 busy cores
def test_truncated_and_overwritten_shards_are_rebuilt(tmp_path_factory, project):
    """Before: "No magic bytes found" on every later run until the file was deleted by hand."""
    want = warehouse_digest(built(tmp_path_factory))
    data = (project / SHARD).read_bytes()
    (project / SHARD).write_bytes(data[: len(data) // 2])
    (project / OPS).write_text("not parquet\n")
    out = _rebuilt(project, want, run(project))
    assert (f"genz: {SHARD.removeprefix('.test/')}: not a whole parquet file ({len(data) // 2} bytes, no parquet "
            "magic at both ends: truncated?); removed, it will be rebuilt") in out
    assert f"genz: {OPS.removeprefix('.test/')}: not a whole parquet file (12 bytes" in out
    # the two shards' jobs, then the warehouse and the reports: nothing else
    assert _rules_run(out) == ["estimate_shard", "estimate_shard", "reports", "warehouse"], _rules_run(out)


@pytest.mark.slow
def test_failed_warehouse_build_is_redone(tmp_path_factory, project):
    """Snakemake removes a failed job's outputs: a warehouse build that failed for a passing reason
    leaves no stamp beside the previous warehouse. The next run builds it again (before, "Nothing
    to be done", and the old warehouse stayed)."""
    want = warehouse_digest(built(tmp_path_factory))
    (project / ".test" / "results" / "warehouse.stamp").unlink()
    out = _rebuilt(project, want, run(project))
    assert "genz: results/warehouse.stamp: not there (a failed or interrupted warehouse build)" in out
    assert _rules_run(out) == ["reports", "warehouse"]


@pytest.mark.slow
def test_deleted_shard_is_rebuilt_and_killed_runs_temporaries_go(tmp_path_factory, project):
    """A shard deleted by hand (before: "Nothing to be done", never made again) is rebuilt. What a
    SIGKILL between write and rename leaves (``.<name>.<pid>.tmp``; the warehouse's is a full-size
    copy with a DuckDB ``.wal``) goes when the job reruns; look-alikes stay."""
    want = warehouse_digest(built(tmp_path_factory))
    work = project / ".test" / "results"
    shard_dir = (project / SHARD).parent
    db = work / "warehouse.duckdb"
    stale = [shard_dir / ".part-0000.parquet.4242.tmp", work / ".warehouse.duckdb.4242.tmp",
             work / ".warehouse.duckdb.4242.tmp.wal"]
    stale[0].write_bytes((project / SHARD).read_bytes()[:100])
    stale[1].write_bytes(db.read_bytes())
    stale[2].write_bytes(b"wal")
    keep = [shard_dir / ".part-0000.parquet.tmp", shard_dir / ".part-0001.parquet.4242.tmp",
            work / ".warehouse.duckdb.x.tmp", work / "notes.tmp"]
    for f in keep:
        f.write_text("not genz's")
    (project / SHARD).unlink()
    os.sync()
    out = _rebuilt(project, want, run(project))
    assert (f"genz: {SHARD.removeprefix('.test/')}: not there (new, or removed); the warehouse is marked out of "
            "date, so they are made and it is rebuilt") in out
    assert _rules_run(out) == ["estimate_shard", "reports", "warehouse"], _rules_run(out)
    assert [f for f in stale if f.exists()] == []
    assert [f for f in keep if not f.exists()] == []
    logs = work / "logs"
    assert "removed" in (logs / "warehouse.log").read_text()
    assert ".part-0000.parquet.4242.tmp, left by a killed run" in (
        logs / "estimate_shard" / "smoke" / "mi300x" / "part-0000.log").read_text()
