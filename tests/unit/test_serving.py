"""Serving optimizations and the SLO requirement search: hand-checked numbers and invariants."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from genz.api import scenario_inputs
from genz.perf import engine, serving
from genz.perf.engine import expected_tokens_per_step
from genz.perf.predict import predict_frame
from genz.perf.profiles import uncalibrated
from genz.requirements import bisect_requirement, meets_slo, platform_requirements

GB = 1e9


def test_expected_tokens_per_speculative_step():
    # α = 0.7, γ = 4: 1 + 0.7 + 0.49 + 0.343 + 0.2401 = 2.7731
    assert expected_tokens_per_step(4, 0.7) == pytest.approx(2.7731)
    assert expected_tokens_per_step(4, 0.0) == 1.0
    assert expected_tokens_per_step(4, 1.0) == 5.0


def test_speculative_decoding_with_zero_acceptance_is_never_faster():
    base = dict(model="meta-llama/Llama-3.1-70B", hardware="H100-SXM-80GB", tp="4", input_tokens="1024",
                output_tokens="256", batch_size="8")
    rows = [base, {**base, "draft_model": "meta-llama/Llama-3.2-1B", "spec_tokens": "4", "acceptance_rate": "0"},
            {**base, "draft_model": "meta-llama/Llama-3.2-1B", "spec_tokens": "4", "acceptance_rate": "0.8"},
            {**base, "spec_tokens": "2", "acceptance_rate": "0.0"}]
    out = predict_frame(pl.DataFrame(rows), uncalibrated())
    tpot = out.get_column("tpot_ms").to_list()
    assert (out.get_column("status") == "ok").all()
    assert tpot[1] >= tpot[0] and tpot[3] >= tpot[0]  # α = 0: drafts and verification are pure cost
    assert tpot[2] < tpot[0]  # α = 0.8 pays off
    assert out.get_column("tokens_per_step").to_list()[2] == pytest.approx(expected_tokens_per_step(4, 0.8))


def test_mtp_draft_needs_mtp_heads():
    rows = [dict(model="meta-llama/Llama-3.1-8B", hardware="H100-SXM-80GB", input_tokens="128", output_tokens="64",
                 draft_model="mtp", spec_tokens="1", acceptance_rate="0.8")]
    out = predict_frame(pl.DataFrame(rows), uncalibrated())
    assert "no multi-token-prediction heads" in out.get_column("status")[0]


def test_max_concurrent_sequences_llama2_7b_on_80gb():
    # Llama-2-7B fp16: weights 6,738,415,616 params × 2 B = 13.48 GB per device.
    # KV per token: 32 layers × 2 (K,V) × 4096 × 2 B = 524,288 B; 2048 + 2048 tokens -> 2.147 GB per sequence.
    # Workspace for an 8192-token iteration: 8192 × (4·4096 + 2·22016) × 2 B = 0.990 GB, + fp32 logits of one
    # sequence (32000 × 4 B). Free: 80 - 13.477 - 0.990 = 65.53 GB -> 30 sequences (65.53 / 2.147 = 30.5).
    spec, inp = scenario_inputs("meta-llama/Llama-2-7b-hf", "A100-SXM-80GB", input_tokens=2048,
                                output_tokens=2048, weight_dtype="fp16")
    mem = engine.memory(spec, inp)
    assert float(mem.weights[0]) == pytest.approx(6_738_415_616 * 2, rel=1e-9)
    assert float(mem.kv_per_seq[0]) == pytest.approx(4096 * 524_288)
    free = 80e9 - float(mem.weights[0]) - float(mem.activations[0])
    assert int(free // float(mem.kv_per_seq[0])) == 30
    # TensorRT-LLM gives 90 % of the free memory to the KV pool and reserves prompt + output per request
    mt = serving.max_throughput(spec, inp, ["trtllm"])
    assert float(mt["batch"][0]) == int(0.9 * free // float(mem.kv_per_seq[0])) == 27


def test_more_hbm_never_lowers_max_load_throughput():
    spec, inp = scenario_inputs("meta-llama/Llama-3.1-8B", "H100-SXM-80GB", input_tokens=2048, output_tokens=512)
    last = 0.0
    for cap in (30e9, 40e9, 60e9, 80e9, 120e9, 200e9):
        i2 = inp.take(np.arange(1))
        i2.hbm_bytes = np.array([cap])
        thr = float(serving.max_throughput(spec, i2, ["generic"])["throughput"][0])
        assert thr >= last * (1 - 1e-12)
        last = thr


def test_chunked_prefill_and_beams_and_disaggregation_and_offload():
    base = dict(model="meta-llama/Llama-3.1-70B", hardware="H100-SXM-80GB", input_tokens="8192", output_tokens="256",
                batch_size="4", tp="4")
    rows = [base, {**base, "chunk_size": "1024"}, {**base, "decode_tp": "4"}, {**base, "num_beams": "4"},
            {**base, "tp": "1"}, {**base, "tp": "1", "offload": "weights"}]
    out = predict_frame(pl.DataFrame(rows), uncalibrated())
    st = out.get_column("status").to_list()
    assert st[:4] == ["ok"] * 4 and st[4].startswith("does_not_fit") and st[5] == "ok"
    ttft = out.get_column("ttft_ms").to_list()
    assert ttft[1] > ttft[0]  # chunks re-read the weights and attend to earlier chunks
    nd = out.get_column("num_devices").to_list() if "num_devices" in out.columns else None
    assert nd is None  # not an input column here
    e2e = out.get_column("e2e_latency_ms").to_list()
    assert e2e[2] > e2e[0]  # same devices per pool, plus the KV transfer
    mem = out.get_column("kv_cache_per_device_gb").to_list()
    assert mem[0] < mem[3] < 4 * mem[0]  # beams share the prompt's KV
    assert out.get_column("offloaded_gb")[5] > 60  # ~140 GB of weights on an 80 GB device


def test_looser_slo_never_needs_more_of_any_resource():
    rows = []
    for ttft, tpot in ((200.0, 20.0), (400.0, 40.0), (2000.0, 200.0)):
        rows.append(dict(model="meta-llama/Llama-3.1-8B", hardware="H100-SXM-80GB", input_tokens="2048",
                         output_tokens="256", batch_size="16", tp="1", slo_ttft_ms=ttft, slo_tpot_ms=tpot,
                         _row=len(rows)))
    req = platform_requirements(pl.DataFrame(rows), uncalibrated())
    for r in ("compute", "memory_bandwidth", "memory_capacity", "interconnect_bandwidth"):
        v = req.filter(pl.col("resource") == r).sort("_row").get_column("required").to_list()
        assert v[0] >= v[1] * (1 - 1e-6) >= v[2] * (1 - 1e-6), (r, v)
    lat = req.filter(pl.col("resource") == "interconnect_latency").sort("_row").get_column("required").to_list()
    assert lat[0] <= lat[1] * (1 + 1e-6) <= lat[2] * (1 + 1e-6)


def test_requirement_is_the_slo_boundary():
    spec, inp = scenario_inputs("meta-llama/Llama-3.1-8B", "H100-SXM-80GB", input_tokens=1024, output_tokens=256,
                                batch_size=8, profiles=uncalibrated())
    tpot = float(engine.estimate(spec, inp).tpot_s[0]) * 1e3
    slo = (np.array([np.nan]), np.array([tpot * 0.8]), np.array([np.nan]))  # 20 % faster than today
    k, status = bisect_requirement(spec, inp, slo, "memory_bandwidth")
    assert status[0] == "ok" and k[0] > 1.0
    i2 = inp.take(np.arange(1))
    i2.hbm_bw = inp.hbm_bw * k[0] * 1.001
    assert meets_slo(engine.estimate(spec, i2), *slo)[0]
    i2.hbm_bw = inp.hbm_bw * k[0] * 0.98
    assert not meets_slo(engine.estimate(spec, i2), *slo)[0]


def test_deployment_search_picks_a_deployment_meeting_the_slo():
    from genz.requirements import search

    res = search(["meta-llama/Llama-3.1-8B"], ["chat"], ["H100-SXM-80GB"], None,
                 uncalibrated())
    d = res["deployments"].row(0, named=True)
    assert d["meets_slo"] and d["ttft_ms"] <= d["slo_ttft_ms"] and d["tpot_ms"] <= d["slo_tpot_ms"]
    front = res["pareto"]
    assert front.height >= 1
    assert front.get_column("tpot_ms").is_sorted()


def test_a_model_that_fits_nowhere_reports_the_memory_it_lacks():
    """DeepSeek-V3 in bf16 on 8 × H100-80GB: 671 B parameters × 2 B / 8 devices = 167.8 GB of
    weights per device before KV and workspace, so no layout up to 8 devices runs. The search keeps
    the largest layout (TP8, EP8, batch 1) and reports the HBM it lacks: at least 167.8 / 80 = 2.10×,
    and memory capacity binds; compute, bandwidths and latency alone cannot help (∞, never binding)."""
    from genz.requirements import search

    res = search(["deepseek-ai/DeepSeek-V3"], ["chat"], ["H100-SXM-80GB"], None,
                 uncalibrated())
    d = res["deployments"].row(0, named=True)
    assert (d["tp"], d["pp"], d["batch_size"]) == (8, 1, 1) and d["status"].startswith("does_not_fit")
    req = {r["resource"]: r for r in res["requirements"].iter_rows(named=True)}
    cap = req["memory_capacity"]
    assert cap["binding"] and cap["status"] == "ok" and 2.09 < cap["ratio"] < 2.3, cap
    for r in ("compute", "memory_bandwidth", "interconnect_bandwidth", "interconnect_latency"):
        assert req[r]["status"] == "unattainable" and not req[r]["binding"], req[r]
