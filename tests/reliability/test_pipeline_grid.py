"""Grids are never expanded to plan the shards, and each shard job computes only its own rows:
index arithmetic over the Cartesian product (genz.pipeline.experiments) against a plain cross join,
hand-counted grids, and the cost of planning and cutting a 50-million-row grid."""

from __future__ import annotations

import json
import time

import polars as pl
import pytest

from genz.errors import GenzError
from genz.pipeline import experiments as X

GRID = """
grid:
  model: [meta-llama/Llama-3.1-8B, meta-llama/Llama-3.1-70B, mistralai/Mixtral-8x7B-v0.1]
  use_case: [chat, rag, reasoning]
  hardware: [H100-SXM-80GB, MI300X, h100-sxm-80gb, A100-SXM-80GB]
  parallel: [{tp: 1}, {tp: 2}, {tp: 4, pp: 2}, {pp: 8}]
  batch_size: [1, 4, 16, 64, 256]
  kv_dtype: [bf16, fp8]
exclude:
  - {model: meta-llama/Llama-3.1-70B, parallel: {tp: 1}}
  - {tp: 4, hardware: MI300X}
  - {use_case: rag, batch_size: 256}
  - {input_tokens: 1024}
  - {kv_dtype: fp8, hardware: A100-SXM-80GB, model: mistralai/Mixtral-8x7B-v0.1}
"""


def _cross_join(exp: X.Experiment) -> pl.DataFrame:
    """The grid the plain way: cross join of the axis frames in file order, then drop every row that
    an exclude entry matches on all its keys (a blank cell matches no value)."""
    from genz.catalog.usecases import load_usecases

    uc = load_usecases(exp.usecases_path) if exp.usecases_path else None
    frame = None
    for axis, values in exp.axes:
        f = X._axis_frame(axis, values, uc)
        frame = f if frame is None else frame.join(f, how="cross")
    for ex in exp.exclude:
        cond = pl.lit(True)
        for k, v in ex.items():
            if isinstance(v, dict):
                cond &= pl.col(f"axis_{k}") == json.dumps(v, sort_keys=True, separators=(",", ":"))
            else:
                cond &= (pl.col(k).cast(pl.String) == str(v)).fill_null(False)
        frame = frame.filter(~cond)
    return frame.with_columns(experiment=pl.lit(exp.name))


@pytest.fixture
def exp(tmp_path) -> X.Experiment:
    (tmp_path / "g.yaml").write_text(GRID)
    return X.load(tmp_path / "g.yaml")


def test_grid_is_the_cross_join_less_the_excludes(exp, monkeypatch):
    want = _cross_join(exp)
    # 3 models x 3 use cases x 4 platforms x 4 layouts x 5 batches x 2 KV dtypes = 1440 before excludes
    assert X.size(exp) == 1440
    for block in (X.BLOCK, 7):  # block boundaries anywhere
        monkeypatch.setattr(X, "BLOCK", block)
        assert X.expand(exp).equals(want)
        assert X.count(exp) == want.height
    # the pieces the excludes leave, counted by hand over the 1440 (inclusion-exclusion):
    #   A 70B x tp1: 1*3*4*1*5*2 = 120       B tp4 x MI300X: 3*3*1*1*5*2 = 90
    #   C rag x b256: 3*1*4*4*1*2 = 96       D input 1024 (reasoning): 3*1*4*4*5*2 = 480
    #   E fp8 x A100 x Mixtral: 1*3*1*4*5*1 = 60
    #   pairs: AC 1*1*4*1*1*2=8, AD 1*1*4*1*5*2=40, AE 0, BC 3*1*1*1*1*2=6, BD 3*1*1*1*5*2=30,
    #          BE 0 (A100 vs MI300X), CD 0 (rag vs reasoning), CE 1*1*1*4*1*1=4, DE 1*1*1*4*5*1=20,
    #          AB 1*3*1*0=0 (tp1 vs tp4)
    #   triples and beyond: CDE, ACD, ... all 0 (rag vs reasoning, A100 vs MI300X, tp1 vs tp4)
    #   removed = 120+90+96+480+60 - (8+40+6+30+4+20) = 846 - 108 = 738; kept = 1440 - 738 = 702
    assert want.height == 702


def test_shards_cut_the_grid_per_platform_in_order(exp, monkeypatch):
    monkeypatch.setattr(X, "BLOCK", 11)
    full = X.with_scenario_ids(X.expand(exp))
    slugs = full.get_column("hardware").map_elements(X.hardware_slug, return_dtype=pl.String)
    shards = X.shards(exp, 50)
    # H100-SXM-80GB and h100-sxm-80gb are one platform; every part but the last is full
    per = dict(X.hardware_counts(exp))
    assert sorted(per) == ["a100-sxm-80gb", "h100-sxm-80gb", "mi300x"] and sum(per.values()) == 702
    assert shards == [(h, i) for h in sorted(per) for i in range(-(-per[h] // 50))]
    for h in per:
        parts = [X.shard_rows(exp, h, i, 50) for hh, i in shards if hh == h]
        assert [p.height for p in parts[:-1]] == [50] * (len(parts) - 1)
        assert pl.concat(parts).equals(full.filter(slugs == h))


def test_a_blank_cell_is_not_excluded(tmp_path):
    """exclude {tp: 1} drops the rows whose layout sets tp 1, not the ones that leave tp blank (the
    cross join filter dropped those too, silently: a null comparison is not true)."""
    (tmp_path / "g.yaml").write_text("grid:\n  model: [meta-llama/Llama-3.1-8B]\n  hardware: [H100-SXM-80GB]\n"
                                     "  input_tokens: [128]\n  output_tokens: [16]\n"
                                     "  parallel: [{tp: 1}, {tp: 2}, {pp: 2}]\nexclude:\n  - {tp: 1}\n")
    rows = X.expand(X.load(tmp_path / "g.yaml"))
    assert rows.get_column("axis_parallel").to_list() == ['{"tp":2}', '{"pp":2}']


def test_fifty_million_rows_planned_and_cut_without_expanding(tmp_path):
    """The issue's 50 M grid: before, planning took 53 s and 16.7 GB and every shard job expanded the
    whole grid again (27 s, 16.8 GB each); now both only count and index."""
    batch = ", ".join(str(b) for b in range(1, 101))
    (tmp_path / "big.yaml").write_text(f"""
grid:
  model: [meta-llama/Llama-3.1-8B, meta-llama/Llama-3.1-70B, mistralai/Mixtral-8x7B-v0.1, 01-ai/Yi-34B, Deci/DeciLM-7B]
  hardware: [H100-SXM-80GB, MI300X, A100-SXM-80GB, H200-SXM-141GB, B200-SXM-180GB]
  input_tokens: [128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]
  output_tokens: [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]
  batch_size: [{batch}]
  parallel: [{{tp: 1}}, {{tp: 2}}, {{tp: 4}}, {{tp: 8}}, {{tp: 2, pp: 2}}, {{tp: 4, pp: 2}}, {{tp: 8, pp: 2}},
             {{tp: 1, pp: 8}}, {{tp: 2, pp: 4}}, {{tp: 4, pp: 4}}]
  kv_dtype: [bf16, fp8]
  weight_dtype: [bf16, fp8]
  cp: [1, 2, 3, 4, 5]
exclude:
  - {{model: meta-llama/Llama-3.1-70B, parallel: {{tp: 1}}}}
""")
    exp = X.load(tmp_path / "big.yaml")
    assert X.size(exp) == 50_000_000
    with pytest.raises(GenzError, match=r"big.yaml: the grid has 50,000,000 scenarios .* more than max_scenarios = "
                                        r"20,000,000"):
        X.check_size(exp)
    t0 = time.time()
    shards = X.shards(exp, 250_000)
    # the exclude takes 1 model x 1 layout of 5 x 10: 1 M rows; 49 M left, 9.8 M per platform = 40 parts
    assert len(shards) == 200 and shards[-1] == ("mi300x", 39)
    assert X.hardware_counts(exp) == dict.fromkeys(sorted(h for h, _ in shards[::40]), 9_800_000)
    rows = X.shard_rows(exp, "mi300x", 39, 250_000)  # the last part: 9.8 M - 39 x 250 k = 50 k rows
    assert rows.height == 50_000 and set(rows.get_column("hardware")) == {"MI300X"}
    # the last row of the platform is the last value of every axis
    last = rows.row(-1, named=True)
    assert (last["cp"], last["weight_dtype"], last["batch_size"], last["model"]) == ("5", "fp8", "100", "Deci/DeciLM-7B")
    assert time.time() - t0 < 20  # ~1 s; expanding the grid takes over 50 s (and 16 GB)
