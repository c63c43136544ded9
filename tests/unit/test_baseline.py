"""The calibration baseline (issue 12): shared factors fitted on the baseline rows, rows outside it
refit only their platform family, and the input keys that say which profile files a change reaches."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from genz.calibrate import baseline as B
from genz.calibrate import calibration as cal
from genz.calibrate import physfit, propagation
from genz.calibrate.measurements import load_measurement_files
from genz.calibrate.prepared import prepare
from genz.errors import GenzError
from tests.conftest import ROOT

TEST_MEASUREMENTS = ROOT / ".test" / "calibration" / "measurements"


@pytest.fixture(scope="module")
def prep_shared():
    """A100 and H100 rows measured under the same two stacks (vLLM, TensorRT-LLM): one problem when
    the stacks are fitted, two (Ampere, Hopper) when they are held."""
    files = [ROOT / "calibration" / "measurements" / "A100-SXM-40GB" / "llm-inference-bench.csv",
             ROOT / "calibration" / "measurements" / "H100-SXM-80GB" / "llm-inference-bench.csv"]
    return prepare(load_measurement_files(files).drop("measurement_file"))


def test_rows_outside_the_baseline_refit_only_their_family(prep_shared):
    prep = prep_shared
    lay = physfit.build_layout(prep.platform, prep.stack, None)
    assert len(physfit.components(lay)) == 1
    assert len(physfit.components(lay, frozenset(lay.stacks))) == 2
    # the last 40 H100 rows are a new measurement file
    new = np.zeros(len(prep), dtype=bool)
    new[np.nonzero(prep.platform == "H100-SXM-80GB")[0][-40:]] = True
    fit, fit1 = physfit.fit_staged(prep, prep.stack, ~new)
    # stage 1 is the joint fit of the baseline rows, exactly
    joint = physfit.fit_joint(prep.subset(~new), prep.stack[~new], None)
    np.testing.assert_array_equal(fit1.x, joint.x)
    by1 = dict(zip(fit1.layout.names, fit1.x))
    moved = set()
    for nm, v in zip(fit.layout.names, fit.x):
        if nm[0] == "stack" or nm[1] in ("ampere", "A100-SXM-40GB"):
            assert v == by1[nm], nm  # shared stacks and the other family: bit-identical
        elif v != by1[nm]:
            moved.add(nm[1])
    assert moved and moved <= {"hopper", "H100-SXM-80GB"}, moved
    # the stack entries count the rows they were fitted on (the baseline rows)
    pset, _ = physfit.profile_set(fit, prep, prep.stack, "v", base=~new)
    assert pset.stacks["vllm"].n_rows == int(((prep.stack == "vllm") & ~new).sum())
    assert pset.hardware["h100-sxm-80gb"].n_rows == int((prep.platform == "H100-SXM-80GB").sum())
    # every row a baseline row: one joint fit
    everything, same = physfit.fit_staged(prep, prep.stack, np.ones(len(prep), dtype=bool))
    assert everything is same


def test_model_folds_do_not_move_when_rows_are_added_outside_the_baseline():
    models = np.array(["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d"] * 2)
    base = np.ones(len(models), dtype=bool)
    before = dict(zip(models, cal.model_folds(models, 3, base)))
    assert before == {"a": 0, "b": 1, "c": 2, "d": 0}  # sorted by row count, dealt round-robin
    # 6 more rows of 'd' and a new model 'e', outside the baseline: no baseline model changes fold
    more = np.concatenate([models, ["d"] * 6, ["e"] * 2])
    base2 = np.concatenate([base, np.zeros(8, dtype=bool)])
    after = dict(zip(more, cal.model_folds(more, 3, base2)))
    assert {m: after[m] for m in before} == before
    assert 0 <= after["e"] < 3
    # counted over every row, 'd' would now lead and every fold would change
    assert dict(zip(more, cal.model_folds(more, 3)))["d"] == 0 and dict(zip(more, cal.model_folds(more, 3)))["a"] == 1


def _folder(tmp_path: Path) -> Path:
    meas = tmp_path / "measurements"
    shutil.copytree(TEST_MEASUREMENTS, meas)
    return meas


def test_baseline_file_matches_by_content(tmp_path):
    meas = _folder(tmp_path)
    files = B.write(tmp_path / "baseline.yaml", meas)
    assert sorted(files) == ["H100-SXM-80GB/llm-inference-bench.csv", "MI300X/llm-inference-bench.csv"]
    bl = B.read(tmp_path / "baseline.yaml")
    h100, mi300x = (str(meas / k) for k in sorted(files))
    assert bl.rows([h100, mi300x, h100]).tolist() == [True, True, True]
    # moved to another folder: same content, still a baseline file; edited: not
    moved = tmp_path / "elsewhere.csv"
    shutil.copy(h100, moved)
    assert bl.rows([str(moved)]).tolist() == [True]
    Path(mi300x).write_text(Path(mi300x).read_text() + "\n")
    assert bl.rows([mi300x]).tolist() == [False]
    (warning,) = bl.warnings([h100, mi300x])
    assert "MI300X/llm-inference-bench.csv" in warning and "genz baseline" in warning
    # no file: every row is a baseline row
    assert B.read(tmp_path / "none.yaml").rows([h100]).tolist() == [True]
    (tmp_path / "bad.yaml").write_text("files: [1, 2]\n")
    with pytest.raises(GenzError, match=r"bad.yaml: files: expected a mapping"):
        B.read(tmp_path / "bad.yaml")


WANTED = {"e/h100.json": ("H100-SXM-80GB", ["vllm"]), "e/mi300x.json": ("MI300X", ["vllm"]),
          "e/a100.json": ("A100-SXM-80GB", ["vllm"]), "g/h100.json": ("H100-SXM-80GB", ["vllm-0.13"])}


def _keys(meas: Path, serving: list[str] = ()) -> dict[str, str]:
    return propagation.profile_keys(sorted(str(p) for p in meas.rglob("*.csv")), str(meas.parent / "baseline.yaml"),
                                    WANTED, shared=["code"], serving=list(serving))


def test_input_keys_change_only_where_a_change_can_reach(tmp_path):
    meas = _folder(tmp_path)
    B.write(tmp_path / "baseline.yaml", meas)
    k0 = _keys(meas)
    assert _keys(meas) == k0  # deterministic
    src = pl.read_csv(meas / "MI300X" / "llm-inference-bench.csv", infer_schema=False)
    # a new MI300X file (same stack): only MI300X's file, and the grid that names a stack generation
    src.head(5).write_csv(meas / "MI300X" / "lab.csv")
    k1 = _keys(meas)
    assert {k for k in k0 if k0[k] != k1[k]} == {"e/mi300x.json", "g/h100.json"}
    # rows under a stack the baseline never fitted (a new stack) reach every file
    src.head(5).with_columns(framework=pl.lit("SGLang")).write_csv(meas / "MI300X" / "sglang.csv")
    k2 = _keys(meas)
    assert all(k2[k] != k1[k] for k in k1)
    (meas / "MI300X" / "sglang.csv").unlink()
    assert _keys(meas) == k1
    # an edited baseline file changes the shared stage: every file
    h100 = meas / "H100-SXM-80GB" / "llm-inference-bench.csv"
    h100.write_text(h100.read_text() + "\n")
    assert all(v != k1[k] for k, v in _keys(meas).items())


def test_cli_writes_the_baseline_and_names_a_missing_one(tmp_path):
    meas = _folder(tmp_path)
    p = subprocess.run([sys.executable, "-m", "genz", "baseline", str(meas), "-o", str(tmp_path / "b.yaml")],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "2 measurement files" in p.stderr
    assert len(B.read(tmp_path / "b.yaml").files) == 2
    p = subprocess.run([sys.executable, "-m", "genz", "calibrate", str(meas), "--no-cv", "--baseline",
                        str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "p.json")], capture_output=True, text=True)
    assert p.returncode != 0
    assert p.stderr.strip().splitlines()[-1].startswith("genz: error: --baseline:"), p.stderr
