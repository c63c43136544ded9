"""A throw-away copy of the project with a tiny grid and a small measurement set."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import ROOT

#: rows kept per measured platform (two models each, so 2-fold CV by model works)
SUBSET = {
    "H100-SXM-80GB": ("llm-inference-bench.csv", ["meta-llama/Llama-2-7b-hf", "mistralai/Mistral-7B-v0.1"]),
    "MI300X": ("llm-inference-bench.csv", ["meta-llama/Llama-2-7b-hf", "mistralai/Mistral-7B-v0.1"]),
}

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
    for f in ("smoke.yaml", "usecases.yaml"):
        shutil.copy(ROOT / "experiments" / f, dest / "experiments" / f)
    shutil.copytree(ROOT / "calibration" / "operators", dest / "calibration" / "operators")
    for hw, (fname, models) in SUBSET.items():
        df = pl.read_csv(ROOT / "calibration" / "measurements" / hw / fname, infer_schema=False)
        out = dest / "calibration" / "measurements" / hw
        out.mkdir(parents=True)
        df.filter(pl.col("model").is_in(models)).write_csv(out / fname)
    return dest


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj")
