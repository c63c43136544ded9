"""Throw-away copies of the project with a tiny grid and a small measurement set: one laid out
like the repository (``make_project``), one that runs the shipped ``.test/`` configuration
(``make_test_project``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT

#: the small measurement set shipped with the test configuration: two platforms x two models
#: (so 2-fold cross-validation by model works)
TEST_MEASUREMENTS = ROOT / ".test" / "calibration" / "measurements"

CONFIG = """
experiments: experiments
library: [usecases.yaml]
include: []
shard_size: 1000
measurements: calibration/measurements
operators: calibration/operators/aiconfigurator
folds: 2
warehouse: results/warehouse.duckdb
reports: reports/all
"""


def make_project(dest: Path) -> Path:
    """Copy the workflow, the smoke grid and a measurement subset into ``dest``."""
    dest.mkdir(parents=True)
    for name in ("Snakefile", "workflow", "profiles", "config"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copy(src, dest / name)
    (dest / "config" / "config.yaml").write_text(CONFIG)
    shutil.copytree(ROOT / "reports" / "templates", dest / "reports" / "templates")
    (dest / "experiments").mkdir()
    for f in ("smoke.yaml",):  # the use-case library ships with genz
        shutil.copy(ROOT / "experiments" / f, dest / "experiments" / f)
    shutil.copytree(ROOT / "calibration" / "operators", dest / "calibration" / "operators")
    shutil.copytree(TEST_MEASUREMENTS, dest / "calibration" / "measurements")
    # the baseline: both measurement files (genz.calibrate.baseline; config default calibration/baseline.yaml)
    shutil.copy(TEST_MEASUREMENTS.parent / "baseline.yaml", dest / "calibration" / "baseline.yaml")
    return dest


def make_test_project(dest: Path) -> Path:
    """Copy what ``snakemake --directory .test`` reads (workflow, profiles, the ``.test/`` config and
    data, the smoke grid, kernel timings, templates) into ``dest``, without earlier results."""
    dest.mkdir(parents=True)
    shutil.copy(ROOT / "Snakefile", dest / "Snakefile")
    for name in ("workflow", "profiles", "reports/templates", "calibration/operators"):
        shutil.copytree(ROOT / name, dest / name)
    shutil.copytree(ROOT / ".test", dest / ".test",
                    ignore=shutil.ignore_patterns("results", "reports", ".snakemake"))
    (dest / "experiments").mkdir()
    for f in ("smoke.yaml",):  # the use-case library ships with genz
        shutil.copy(ROOT / "experiments" / f, dest / "experiments" / f)
    return dest


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj")
