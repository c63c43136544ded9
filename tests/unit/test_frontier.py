"""The serving frontier (genz.requirements.frontier): Pareto extraction, interpolation, deployment
enumeration, cost and power arithmetic, the sweep against predict, the pipeline step and the warehouse
table."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from genz.catalog.hardware import get_hardware
from genz.errors import GenzError
from genz.perf.predict import predict_frame
from genz.perf.profiles import PACKAGED, load_profiles
from genz.perf.serving import POWER_FRACTION
from genz.requirements import frontier as fr
from genz.store import warehouse

X, Y = fr.X, fr.Y


@pytest.fixture(scope="module")
def profiles():
    return load_profiles(PACKAGED)


def hand_points(rows: list[tuple], price: float = 2.0) -> pl.DataFrame:
    """Predicted-looking points from (hardware, deployment, concurrency, interactivity, tok/s per GPU,
    W per GPU, status): TPOT = 1000 / x with a band of (0.8, 1.25)·TPOT, throughput band (0.5, 2)·y,
    the engine's cost at ``price`` USD per device-hour (price·1e6 / (3600·y)) and J per token = W / y."""
    recs = []
    for hw, dep, c, x, y, w, st in rows:
        tpot = 1000.0 / x
        recs.append({"model": "m", "hardware": hw, "framework": None, "input_tokens": 1024, "output_tokens": 1024,
                     "length_ratio": 0.8, "deployment": dep, "num_devices": 8, "concurrency": c, "status": st,
                     "calibration": "calibrated: hw/generic@x", "tpot_ms": tpot, "tpot_ms_low": 0.8 * tpot,
                     "tpot_ms_high": 1.25 * tpot, Y: y, f"{Y}_low": 0.5 * y, f"{Y}_high": 2.0 * y,
                     "usd_per_million_tokens": price * 1e6 / (3600.0 * y), "energy_j_per_token": w / y})
    return fr.pareto_front(fr.derived_columns(pl.DataFrame(recs, infer_schema_length=None)))


# ----------------------------------------------------------------------------------------------
# Pareto extraction
# ----------------------------------------------------------------------------------------------


def test_pareto_front_drops_dominated_points_and_orders_by_interactivity():
    pts = hand_points([
        ("A", "TP1", 1, 10.0, 100.0, 500.0, "ok"),   # on: highest throughput
        ("A", "TP2", 1, 20.0, 90.0, 400.0, "ok"),    # on
        ("A", "TP2", 2, 15.0, 80.0, 400.0, "ok"),    # off: TP2@1 is more interactive AND faster
        ("A", "TP4", 1, 30.0, 50.0, 300.0, "ok"),    # on: most interactive
        ("A", "TP4", 2, 30.0, 40.0, 300.0, "ok"),    # off: same x as TP4@1, lower y
        ("A", "TP8", 1, 5.0, 100.0, 500.0, "ok"),    # off: same y as TP1@1, lower x
        ("A", "TP8", 2, 99.0, 999.0, 500.0, "does_not_fit: ..."),  # would dominate all, but does not run
        ("B", "TP1", 1, 12.0, 10.0, 500.0, "ok"),    # another GPU: its own frontier
    ])
    on = pts.filter("on_frontier").sort("hardware", "frontier_rank")
    assert on.select("hardware", "deployment", "concurrency", "frontier_rank").rows() == [
        ("A", "TP1", 1, 1), ("A", "TP2", 1, 2), ("A", "TP4", 1, 3), ("B", "TP1", 1, 1)]
    # every point off the frontier is dominated by one on it (or does not run)
    for r in pts.filter(~pl.col("on_frontier")).iter_rows(named=True):
        dom = on.filter((pl.col("hardware") == r["hardware"]) & (pl.col(X) >= r[X]) & (pl.col(Y) >= r[Y]))
        assert dom.height or r["status"] != "ok", r
    assert pts.filter(~pl.col("on_frontier")).get_column("frontier_rank").null_count() == 4


def test_pareto_front_keeps_one_of_equal_points():
    pts = hand_points([("A", "TP2", 4, 20.0, 90.0, 400.0, "ok"), ("A", "TP1", 4, 20.0, 90.0, 400.0, "ok")])
    # identical (x, y): the first in deployment order (num_devices, deployment, concurrency) stays
    assert pts.filter("on_frontier").get_column("deployment").to_list() == ["TP1"]


# ----------------------------------------------------------------------------------------------
# interpolation, cost and power at an interactivity
# ----------------------------------------------------------------------------------------------


def test_interpolate_is_linear_in_x_and_says_which_points():
    xs, ys = np.array([10.0, 20.0, 30.0]), np.array([100.0, 90.0, 50.0])
    assert fr.interpolate(xs, ys, 25.0) == (70.0, 1, 2)      # 90 + (50 - 90)·(25 - 20)/(30 - 20)
    assert fr.interpolate(xs, ys, 12.5) == (97.5, 0, 1)      # 100 - 10·0.25
    assert fr.interpolate(xs, ys, 20.0) == (90.0, 1, 1)      # a point itself
    y, i, j = fr.interpolate(xs, ys, 40.0)
    assert math.isnan(y) and (i, j) == (2, 2)
    y, i, j = fr.interpolate(xs, ys, 5.0)
    assert math.isnan(y) and (i, j) == (0, 0)
    assert math.isnan(fr.interpolate(np.array([]), np.array([]), 1.0)[0])


FRONT = [("A", "TP1", 64, 10.0, 100.0, 500.0, "ok"), ("A", "TP2", 8, 20.0, 90.0, 400.0, "ok"),
         ("A", "TP4", 1, 30.0, 50.0, 300.0, "ok")]


def test_cost_and_tokens_per_mw_at_an_interactivity_hand_derived():
    at = fr.at_interactivity(hand_points(FRONT, price=2.0), 25.0).row(0, named=True)
    # halfway between (20 tok/s/user, 90 tok/s/GPU, 400 W) and (30, 50, 300 W):
    #   y = 70 tok/s/GPU, band (0.5, 2)·y interpolated = 35 .. 140, power = 350 W
    assert at["reach"] == "interpolated"
    assert at[Y] == pytest.approx(70.0) and at[f"{Y}_low"] == pytest.approx(35.0)
    assert at[f"{Y}_high"] == pytest.approx(140.0) and at["power_per_device_w"] == pytest.approx(350.0)
    # cost = 2 $/GPU-h · 1e6 / (3600 s/h · 70 tok/s) = 7.9365 $/M tokens; band from the throughput band
    assert at["usd_per_million_tokens"] == pytest.approx(2e6 / (3600 * 70))
    assert at["usd_per_million_tokens_low"] == pytest.approx(2e6 / (3600 * 140))
    assert at["usd_per_million_tokens_high"] == pytest.approx(2e6 / (3600 * 35))
    # tokens/s per MW = 1e6 W/MW · 70 tok/s / 350 W = 200,000; band 100,000 .. 400,000
    assert at["tok_s_per_mw"] == pytest.approx(200_000.0)
    assert (at["tok_s_per_mw_low"], at["tok_s_per_mw_high"]) == (pytest.approx(1e5), pytest.approx(4e5))
    assert at["deployment"] == "TP2 | TP4" and "TP2 @ C=8 (20.0)" in at["note"] and "TP4 @ C=1" in at["note"]


def test_each_point_carries_its_cost_and_power():
    p = hand_points(FRONT, price=2.0).filter(pl.col("deployment") == "TP4").row(0, named=True)
    assert p["usd_per_million_tokens"] == pytest.approx(2e6 / (3600 * 50))         # 11.111 $/M tokens
    assert p["tok_s_per_mw"] == pytest.approx(1e6 * 50 / 300)                        # 166,667 tok/s per MW
    assert p["power_per_device_w"] == pytest.approx(300.0)
    assert p[X] == pytest.approx(30.0) and p[f"{X}_low"] == pytest.approx(30.0 / 1.25)
    assert p["usd_per_million_tokens_low"] == pytest.approx(2e6 / (3600 * 100))     # at 2·y


def test_at_interactivity_outside_the_frontier_says_so():
    pts = hand_points(FRONT)
    exact = fr.at_interactivity(pts, 20.0).row(0, named=True)
    assert exact["reach"] == "exact" and exact[Y] == 90.0 and exact["deployment"] == "TP2"
    below = fr.at_interactivity(pts, 5.0).row(0, named=True)
    # the highest-throughput point (10 tok/s/user) is already more interactive than asked
    assert below["reach"] == "below range" and below[Y] == 100.0 and "starts at TP1 @ C=64 (10.0)" in below["note"]
    far = fr.at_interactivity(pts, 40.0).row(0, named=True)
    assert far["reach"] == "not reached" and far[Y] is None and far["usd_per_million_tokens"] is None
    assert "ends at TP4 @ C=1 (30.0)" in far["note"] and "no deployment reaches 40" in far["note"]
    none = fr.at_interactivity(hand_points([("A", "TP1", 1, 10.0, 1.0, 1.0, "does_not_fit: needs 90 GB")]), 5.0)
    assert none.row(0, named=True)["reach"] == "no frontier" and "does_not_fit: needs 90 GB" in none["note"][0]
    with pytest.raises(GenzError, match="interactivity: 0 must be > 0"):
        fr.at_interactivity(pts, 0)


# ----------------------------------------------------------------------------------------------
# deployments and the scenario rows
# ----------------------------------------------------------------------------------------------


def labels(deps) -> list[str]:
    return [d.label for d in deps]


def test_deployments_of_an_moe_model_on_two_gpus():
    deps = fr.enumerate_deployments("openai/gpt-oss-120b", "H100-SXM-80GB", devices=2)
    assert labels(deps) == ["TP1", "TP2", "TP2 EP2", "DP2-attn EP2", "1P TP1 + 1D TP1"]
    assert [d.devices for d in deps] == [1, 2, 2, 2, 2]
    assert [d.dp_attention for d in deps] == [False, False, False, True, False]


def test_deployments_of_a_dense_model_on_four_gpus_with_two_splits():
    deps = fr.enumerate_deployments("meta-llama/Llama-3.1-8B", "H100-SXM-80GB", devices=4, disagg=((1, 1), (1, 2)))
    # dense: no EP or DP-attention; 1P+1D pools of TP 1/2/4 within 4 devices, then 1P+2D (1·p + 2·d <= 4)
    assert labels(deps) == ["TP1", "TP2", "TP4", "1P TP1 + 1D TP1", "1P TP1 + 1D TP2", "1P TP2 + 1D TP1",
                            "1P TP2 + 1D TP2", "1P TP1 + 2D TP1", "1P TP2 + 2D TP1"]
    assert [d.devices for d in deps] == [1, 2, 4, 2, 3, 3, 4, 3, 4]


def test_tp_stays_in_the_scale_up_domain_wide_ep_does_not():
    h100 = labels(fr.enumerate_deployments("deepseek-ai/DeepSeek-R1", "H100-SXM-80GB", devices=16, disagg=()))
    nvl = labels(fr.enumerate_deployments("deepseek-ai/DeepSeek-R1", "GB200-NVL72", devices=16, disagg=()))
    assert "TP16" not in h100 and "TP16" in nvl            # H100's NVLink domain is 8 GPUs, NVL72's 72
    assert "DP16-attn EP16" in h100 and "DP16-attn EP16" in nvl  # experts across two H100 nodes (wide EP)
    assert len(nvl) == len(h100) + 2                        # TP16 and TP16 EP16


def test_scenario_row_of_each_mode():
    c = 64
    assert fr.scenario_row(fr.Deployment("tp-ep", tp=8, ep=8), c) == {
        "concurrency": 64, "length_ratio": 0.8, "tp": 8, "ep": 8, "dp": 1, "num_devices": 8}
    # DP-attention over 16 devices: 16 attention ranks of TP 1, experts over all 16 (EP = DP x TP)
    assert fr.scenario_row(fr.Deployment("dp-attention", tp=1, dp=16, ep=16), c) == {
        "concurrency": 64, "length_ratio": 0.8, "tp": 16, "dp_attention": 16, "ep": 16, "num_devices": 16}
    one = fr.Deployment("disaggregated", tp=8, prefill_workers=1, prefill_tp=4, decode_workers=1, decode_tp=8)
    assert fr.scenario_row(one, c) == {"concurrency": 64, "length_ratio": 0.8, "tp": 4, "decode_tp": 8,
                                       "prefill_workers": 1, "decode_workers": 1, "num_devices": 12}
    uneven = fr.Deployment("disaggregated", tp=8, prefill_workers=1, prefill_tp=4, decode_workers=2, decode_tp=8)
    assert uneven.devices == 20 and fr.scenario_row(uneven, c)["decode_workers"] == 2


# ----------------------------------------------------------------------------------------------
# the sweep against predict
# ----------------------------------------------------------------------------------------------


def test_sweep_points_are_predicts_numbers(profiles):
    hw = get_hardware("H100-SXM-80GB")
    pts = fr.sweep("meta-llama/Llama-3.1-8B", ["h100-sxm-80gb"], 1024, 256, devices=3, concurrency=[1, 16],
                   disagg=((1, 1), (1, 2)), profiles=profiles)
    # TP1, TP2; 1P+1D with pools TP1+TP1, TP1+TP2, TP2+TP1; 1P+2D TP1: 6 x 2 concurrencies
    assert pts.height == 12 and pts.get_column("hardware").unique().to_list() == ["h100-sxm-80gb"]
    assert (pts.get_column("status") == "ok").all()
    # the 1P+2D point is the closed-loop row with x = 1 prefill and y = 2 decode workers (3 devices)
    want2 = predict_frame(pl.DataFrame({"model": ["meta-llama/Llama-3.1-8B"], "hardware": ["H100-SXM-80GB"],
                                        "input_tokens": [1024], "output_tokens": [256], "tp": [1], "decode_tp": [1],
                                        "prefill_workers": [1], "decode_workers": [2], "num_devices": [3],
                                        "concurrency": [16], "length_ratio": [0.8]}), profiles).row(0, named=True)
    got2 = pts.filter((pl.col("deployment") == "1P TP1 + 2D TP1") & (pl.col("concurrency") == 16)).row(0, named=True)
    assert got2["tpot_ms"] == pytest.approx(want2["tpot_ms"], rel=1e-12)
    want = predict_frame(pl.DataFrame({"model": ["meta-llama/Llama-3.1-8B"], "hardware": ["H100-SXM-80GB"],
                                       "input_tokens": [1024], "output_tokens": [256], "tp": [2],
                                       "concurrency": [16], "length_ratio": [0.8]}), profiles).row(0, named=True)
    got = pts.filter((pl.col("deployment") == "TP2") & (pl.col("concurrency") == 16)).row(0, named=True)
    for c in (Y, f"{Y}_low", f"{Y}_high", "tpot_ms", "ttft_ms", "usd_per_million_tokens", "energy_j_per_token"):
        assert got[c] == pytest.approx(want[c], rel=1e-12), c  # the same rows, batched with others
    assert got[X] == pytest.approx(1000.0 / want["tpot_ms"])
    assert got[f"{X}_low"] == pytest.approx(1000.0 / want["tpot_ms_high"])
    ok = pts.filter(pl.col("status") == "ok")
    # cost = the preset's price per device-hour / (3600 · tokens/s per GPU) · 1e6, for every point
    np.testing.assert_allclose(ok.get_column("usd_per_million_tokens").to_numpy(),
                               hw.usd_per_hour * 1e6 / (3600.0 * ok.get_column(Y).to_numpy()), rtol=1e-9)
    # mean power per GPU lies between the idle-ish and the full-power fractions of the TDP
    p = ok.get_column("power_per_device_w").to_numpy()
    assert (p >= min(POWER_FRACTION.values()) * hw.tdp_w - 1e-6).all() and (p <= hw.tdp_w + 1e-6).all()
    np.testing.assert_allclose(ok.get_column("tok_s_per_mw").to_numpy(),
                               1e6 / ok.get_column("energy_j_per_token").to_numpy())
    # the frontier is the Pareto front of the ok points, in interactivity order
    again = fr.pareto_front(pts.drop("on_frontier", "frontier_rank"))
    assert again.get_column("on_frontier").to_list() == pts.get_column("on_frontier").to_list()
    front = pts.filter("on_frontier").sort("frontier_rank")
    assert front.get_column(X).is_sorted() and front.get_column(Y).is_sorted(descending=True)
    assert pts.get_column("calibration").drop_nulls().str.starts_with("calibrated").all()


def test_sweep_aliases_and_precision_formats(profiles):
    pts = fr.sweep("deepseek-ai/DeepSeek-R1", ["H200-SXM-141GB"], 1024, 1024, concurrency=[4],
                   precisions=[fr.Precision.parse("nvfp4/fp8"), fr.Precision.parse("fp8")], profiles=profiles)
    assert pts.get_column("model_id").unique().to_list() == ["deepseek-ai/DeepSeek-V3"]
    assert sorted(set(pts.select("weight_dtype", "act_dtype", "kv_dtype").rows())) == [("fp4", "fp8", "fp8"),
                                                                                      ("fp8", "fp8", "fp8")]
    # precisions compete on one curve per GPU; 8 x H200 holds fp8 DeepSeek (671 GB) only at TP/EP/DP 8
    fp8 = pts.filter((pl.col("weight_dtype") == "fp8") & (pl.col("status") == "ok"))
    assert set(fp8.get_column("num_devices").to_list()) == {8}


def test_nothing_fits_names_what_is_missing(profiles):
    pts = fr.sweep("deepseek-ai/DeepSeek-R1", ["H100-SXM-80GB", "H200-SXM-141GB"], 1024, 1024, devices=8,
                   concurrency=[1], precisions=[fr.Precision("fp8")], profiles=profiles)
    bad = fr.nothing_fits(pts)
    assert list(bad) == ["H100-SXM-80GB"]
    # 671 GB of fp8 weights over 8 GPUs: 84 GB per device, beyond 80
    assert bad["H100-SXM-80GB"].startswith("does_not_fit: needs 8") and "has 80.0 GB" in bad["H100-SXM-80GB"]


@pytest.mark.parametrize("kw, needle", [
    ({"input_tokens": 0}, "input_tokens: 0 must be >= 1"),
    ({"output_tokens": -3}, "output_tokens: -3 must be >= 1"),
    ({"devices": 0}, "devices: 0 must be >= 1"),
    ({"concurrency": [0, 4]}, "concurrency: [0, 4]"),
    ({"length_ratio": 0.0}, "length_ratio: 0.0 must be in (0, 1]"),
    ({"hardware": ["H999"]}, "hardware: unknown hardware 'H999'"),
    ({"model": "no/such-model"}, "model: unknown model"),
])
def test_bad_sweep_inputs_are_one_line_errors(kw, needle, profiles):
    args = {"model": "meta-llama/Llama-3.1-8B", "hardware": ["H100-SXM-80GB"], "input_tokens": 128,
            "output_tokens": 16, **kw}
    with pytest.raises(GenzError) as e:
        fr.sweep(args.pop("model"), args.pop("hardware"), args.pop("input_tokens"), args.pop("output_tokens"),
                 profiles=profiles, **args)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_parsers():
    assert fr.parse_concurrency("4, 1,2,4") == (1, 2, 4)
    assert fr.parse_disagg(["1:1", "1:2", "1:1"]) == ((1, 1), (1, 2)) and fr.parse_disagg(["none"]) == ()
    assert fr.Precision.parse("mxfp4/fp8").resolved() == ("fp4", "fp8", "fp8")
    assert fr.Precision.parse("awq").resolved() == ("int4", "bf16", "bf16")  # weight-only: 16-bit activations
    for bad, needle in (("0", "concurrency: '0'"), ("2.5", "concurrency: '2.5'"), ("x", "concurrency: 'x'"),
                        ("", "concurrency: empty")):
        with pytest.raises(GenzError, match=needle.replace("(", r"\(")):
            fr.parse_concurrency(bad)
    with pytest.raises(GenzError, match="disagg: '1-2'"):
        fr.parse_disagg(["1-2"])
    with pytest.raises(GenzError, match="disagg: '0:1': worker counts"):
        fr.parse_disagg(["0:1"])
    with pytest.raises(GenzError, match="precision weight: unknown dtype 'fp5'"):
        fr.Precision.parse("fp5")
    with pytest.raises(GenzError, match="is not weight"):
        fr.Precision.parse("fp8/fp8/fp8/fp8")


# ----------------------------------------------------------------------------------------------
# pipeline step and warehouse table
# ----------------------------------------------------------------------------------------------

TINY = """description: tiny frontier
grid:
  model: [mistralai/Mixtral-8x7B-v0.1]
  hardware: [H100-SXM-80GB, MI300X]
  input_tokens: [1024]
  output_tokens: [256]
  precision: [{weight_dtype: fp8}]
frontier:
  enabled: true
  devices: 2
  concurrency: [1, 16]
  interactivity: 40
"""


@pytest.fixture(scope="module")
def tiny_frontier(tmp_path_factory) -> Path:
    from genz.pipeline import frontier_for_experiment

    d = tmp_path_factory.mktemp("fr")
    (d / "tiny.yaml").write_text(TINY)
    n = frontier_for_experiment(d / "tiny.yaml", PACKAGED, d / "frontier.parquet")
    # Mixtral (MoE) within 2 GPUs: TP1, TP2, TP2 EP2, DP2-attn EP2, 1P TP1 + 1D TP1; x 2 concurrencies x 2 GPUs
    assert n == 5 * 2 * 2
    return d / "frontier.parquet"


def test_pipeline_step_writes_the_frontier_frame(tiny_frontier):
    df = pl.read_parquet(tiny_frontier)
    assert df.get_column("experiment").unique().to_list() == ["tiny"]
    assert df.get_column("interactivity_target").unique().to_list() == [40.0]
    assert df.get_column("weight_dtype").unique().to_list() == ["fp8"]
    assert set(df.get_column("hardware").to_list()) == {"H100-SXM-80GB", "MI300X"}
    assert df.filter("on_frontier").group_by("hardware").len().get_column("len").min() >= 1


def test_warehouse_frontier_table_and_view_are_described(tiny_frontier, tmp_path, profiles):
    from genz.pipeline.steps import estimate_frame
    from tests.unit.test_store import grid_rows

    estimate_frame(grid_rows(), profiles, "0123456789abcdef").write_parquet(tmp_path / "e.parquet")
    counts = warehouse.build(tmp_path / "w.duckdb", estimates=[tmp_path / "e.parquet"], operators=[],
                             measurements=[], profiles=PACKAGED, frontier=[tiny_frontier])
    want = pl.read_parquet(tiny_frontier)
    assert counts["frontier"] == want.height
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        undescribed = con.execute("""SELECT table_name || '.' || column_name FROM duckdb_columns()
                                     WHERE NOT internal AND table_name IN ('frontier', 'v_frontier')
                                       AND (comment IS NULL OR comment = '')""").fetchall()
        cols = {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() "
                                          "WHERE table_name = 'frontier'").fetchall()}
        view = con.execute("SELECT hardware_id, calibration_label, measured, count(*) FROM v_frontier "
                           "GROUP BY ALL ORDER BY ALL").fetchall()
        ydesc = con.execute("SELECT comment FROM duckdb_columns() WHERE table_name = 'v_frontier' "
                            "AND column_name = 'throughput_tok_s_per_device'").fetchall()[0][0]
    finally:
        con.close()
    assert undescribed == []
    assert cols == set(want.columns)
    n_front = want.filter("on_frontier").group_by("hardware_id").len().sort("hardware_id").rows()
    assert [(h, n) for h, _, _, n in view] == n_front
    # H100 is measured in the shipped calibration, MI300X is not (its numbers are priors: assumed)
    assert {(h, lab, m) for h, lab, m, _ in view} == {("H100-SXM-80GB", "calibrated", True),
                                                      ("MI300X", "prior", False)}
    assert "frontier's y" in ydesc  # the view describes its columns as the table does


def test_experiment_frontier_block_is_checked(tmp_path):
    from genz.pipeline import experiments as X

    p = tmp_path / "bad.yaml"
    p.write_text(TINY.replace("  devices: 2", "  devices: 0"))
    with pytest.raises(GenzError, match=r"frontier.devices: 0 is less than the minimum of 1"):
        X.load(p)
    p.write_text(TINY.replace("  devices: 2", "  gpus: 2"))
    with pytest.raises(GenzError, match="allowed keys: concurrency, devices, disagg, enabled"):
        X.load(p)


def test_fp4_checkpoints_are_served_w4a8_with_fp4_units_and_weight_only_without():
    """MXFP4 weights with no activation format: W4A8 (fp8 activations and KV) on B200, which has fp4
    units; weight-only W4A16 (bf16 activations and KV) on H100, which has none (issue 14)."""
    p = fr.Precision("mxfp4")
    assert p.resolved(get_hardware("B200-SXM-180GB")) == ("fp4", "fp8", "fp8")
    assert p.resolved(get_hardware("H100-SXM-80GB")) == ("fp4", "bf16", "bf16")
    assert fr.Precision("fp4", "fp8", "bf16").resolved(get_hardware("H100-SXM-80GB")) == ("fp4", "fp8", "bf16")
    # a model's published format is the default: gpt-oss ships MXFP4 experts, DeepSeek-R1 FP8
    pts = fr.sweep("openai/gpt-oss-120b", ["H100-SXM-80GB", "B200-SXM-180GB"], 1024, 1024, devices=2,
                   concurrency=[4], disagg=())
    got = {r["hardware"]: (r["weight_dtype"], r["act_dtype"], r["kv_dtype"]) for r in pts.iter_rows(named=True)}
    assert got == {"H100-SXM-80GB": ("fp4", "bf16", "bf16"), "B200-SXM-180GB": ("fp4", "fp8", "fp8")}
