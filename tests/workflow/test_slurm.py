"""The shipped Slurm profile, for real: the ``.test/`` configuration through a running Slurm cluster.

Needs a cluster whose node is up and the executor plugin: on a CI machine (root, Debian/Ubuntu)
``bash .ci/slurm-setup.sh`` with the venv active sets up a single-node one. Skipped, with the
reason, where there is none. Marked ``slow``: deselect with ``-m 'not slow'``.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import time

import duckdb
import pytest

from tests.workflow.conftest import make_test_project

pytestmark = pytest.mark.slow

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
#: most CPUs and MB a submitted job asks for (rule threads and resources: mem_mb in workflow/rules)
JOB_CPUS, JOB_MEM_MB = 2, 2000


def _node() -> tuple[int, int] | str:
    """(CPUs, MB) of the largest idle or mixed node, or why the cluster cannot be used."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm not installed (bash .ci/slurm-setup.sh installs it)"
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "no Slurm here (sinfo/sbatch not found); bash .ci/slurm-setup.sh sets up a local cluster as root"
    try:
        p = subprocess.run(["sinfo", "-h", "-N", "-o", "%T %c %m"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "sinfo did not answer in 30 s (slurmctld down?)"
    if p.returncode != 0:
        return f"sinfo failed: {(p.stderr or p.stdout).strip().splitlines()[-1:]} (slurmctld down?)"
    nodes = [line.split() for line in p.stdout.splitlines() if len(line.split()) == 3]
    up = [(int(c), int(m)) for state, c, m in nodes if state.rstrip("*~#").split("+")[0] in ("idle", "mixed")]
    if not up:
        return f"no idle Slurm node (sinfo: {p.stdout.strip() or 'none'})"
    return max(up)


def test_test_config_through_slurm(tmp_path):
    node = _node()
    if isinstance(node, str):
        pytest.skip(node)
    cpus, mem = node
    if mem < JOB_MEM_MB:
        pytest.skip(f"the Slurm node has {mem} MB, jobs ask for up to {JOB_MEM_MB} MB")
    project = make_test_project(tmp_path / "proj")
    cmd = [*SNAKEMAKE, "reports/all", "--directory", ".test", "--workflow-profile", "profiles/slurm", "--jobs", "4",
           # no accounting database on a CI cluster: sacct knows no jobs, squeue does
           "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "5"]
    if cpus < JOB_CPUS:
        cmd += ["--max-threads", str(cpus)]
    t0 = time.time()
    p = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=600)
    took = time.time() - t0
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-6000:]
    print(f"slurm run: {took:.0f} s")
    work = project / ".test"
    assert (work / "reports" / "all" / "index.html").exists()
    con = duckdb.connect(str(work / "results" / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM estimates").fetchone()[0] == 24
    finally:
        con.close()
    # the non-local rules went through sbatch: the operator priors, calibrate (the joint fit and its
    # cross-validation, one job), 2 shards
    submitted = re.findall(r"submitted with SLURM jobid (\d+)", out, flags=re.IGNORECASE)
    assert len(submitted) == 4, out[-6000:]
