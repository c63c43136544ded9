"""The one SLO rule: decided at the band's upper end (p90), with the point estimate beside it; the
deployment and requirement searches agree with it."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from genz.requirements import deployment_search, platform_requirements
from genz.requirements import slo as slo_rule
from tests.conftest import ROOT


def test_hand_case_p90_vs_point():
    # TTFT predicted 100 ms, band upper end 150 ms, bound 120 ms: met by the point estimate only.
    # TPOT 10 ms (upper 12) under 50 ms: met either way; e2e unbounded: met.
    df = pl.DataFrame({"status": ["ok", "ok", "error: x"], "ttft_ms": [100.0, 100.0, 1.0],
                       "ttft_ms_high": [150.0, 110.0, 1.0], "tpot_ms": [10.0, 10.0, 1.0],
                       "tpot_ms_high": [12.0, 12.0, 1.0], "e2e_latency_ms": [1e9, 1e9, 1.0],
                       "slo_ttft_ms": [120.0, 120.0, 120.0], "slo_tpot_ms": [50.0, 50.0, 50.0],
                       "slo_e2e_ms": [None, None, None]})
    out = slo_rule.slo_columns(df)
    assert out.get_column("meets_ttft").to_list() == [False, True, False]
    assert out.get_column("meets_slo").to_list() == [False, True, False]
    assert out.get_column("meets_slo_point").to_list() == [True, True, False]
    assert slo_rule.CONFIDENCE == "p90"
    # the array form (used by the requirement search) says the same
    ok = slo_rule.meets_slo((np.array([100.0]), np.array([10.0]), np.array([1e9])),
                            (np.array([120.0]), np.array([50.0]), np.array([np.nan])),
                            (np.array([1.5]), np.array([1.2]), np.array([1.0])))
    assert ok.tolist() == [False]


def test_searches_agree_with_the_rule():
    uc = {"chat": {"input_tokens": 1155, "output_tokens": 211, "slo": {"ttft_ms": 500, "tpot_ms": 50}}}
    res = deployment_search(["meta-llama/Llama-3.1-8B"], uc, ["H100-SXM-80GB"], max_devices=2)
    cand = res["candidates"]
    # every candidate's decision is the rule's
    again = slo_rule.slo_columns(cand.drop("meets_slo", "meets_slo_point", "meets_ttft", "meets_tpot", "meets_e2e"))
    assert again.get_column("meets_slo").to_list() == cand.get_column("meets_slo").to_list()
    # candidates the point estimate passes but the band's upper end does not exist, and are not chosen
    borderline = cand.filter(pl.col("meets_slo_point") & ~pl.col("meets_slo"))
    assert borderline.height > 0
    best = res["deployments"].row(0, named=True)
    assert best["meets_slo"] and best["ttft_ms_high"] <= 500 and best["tpot_ms_high"] <= 50
    # the requirement search, run on the chosen deployment, finds it meeting the SLO as it is
    rows = pl.DataFrame([{k: best[k] for k in ("model", "hardware", "tp", "pp", "ep", "batch_size", "input_tokens",
                                                 "output_tokens", "slo_ttft_ms", "slo_tpot_ms")}])
    req = platform_requirements(rows.with_columns(slo_e2e_ms=pl.lit(None, dtype=pl.Float64)),
                                resources=("memory_bandwidth",))
    assert req.get_column("meets_slo_as_is").all()
    # ... and a borderline candidate (meets by its point estimate only) fails it as it is
    b = borderline.row(0, named=True)
    rows_b = pl.DataFrame([{k: b[k] for k in ("model", "hardware", "tp", "pp", "ep", "batch_size", "input_tokens",
                                               "output_tokens", "slo_ttft_ms", "slo_tpot_ms")}])
    req_b = platform_requirements(rows_b.with_columns(slo_e2e_ms=pl.lit(None, dtype=pl.Float64)),
                                  resources=("memory_bandwidth",))
    assert not req_b.get_column("meets_slo_as_is").any()


def test_unknown_confidence_is_one_line():
    from genz.errors import GenzError

    with pytest.raises(GenzError, match="allowed: p90, point"):
        slo_rule.within(np.array([1.0]), np.array([2.0]), confidence="p99")
    assert ROOT.exists()
