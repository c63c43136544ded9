"""Closed-loop serving at a concurrency, today's MoE layouts and precision as served: hand-derived
numbers (issue 14, Done-when 3) and invariants."""

from __future__ import annotations

import csv
import itertools
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from genz.catalog import dtypes
from genz.catalog.hardware import get_hardware
from genz.catalog.zoo import get_model
from genz.perf import collectives as coll
from genz.perf import concurrency, engine, layouts
from genz.perf.predict import engine_inputs, predict_frame
from genz.perf.profiles import uncalibrated
from genz.perf.scenarios import normalize

ROOT = Path(__file__).parents[2]
SERVING = ROOT / "calibration" / "serving_benchmarks" / "inferencemax-gpt-oss-120b.csv"


def _inputs(**row):
    """Engine inputs (uncalibrated) of one scenario row given as keyword strings."""
    norm = normalize(pl.DataFrame({k: [str(v)] for k, v in row.items()}))
    assert norm.get_column("status")[0] == "ok", norm.get_column("status")[0]
    hw = get_hardware(row["hardware"])
    inp, _, _ = engine_inputs(norm, [hw], np.zeros(1, dtype=int), uncalibrated())
    return get_model(row["model"]), inp, hw


# ----------------------------------------------------------------------------------------------
# the ramp: a concurrency the batch budget cannot admit at once
# ----------------------------------------------------------------------------------------------


def test_ramp_iterations_exact_cases():
    # 8 prompts, 2 per budget-full iteration (x = 1/2): done after iterations 1,1,2,2,3,3,4,4 -> mean 2.5
    assert concurrency.ramp_iterations(8, 0.5) == pytest.approx(2.5)
    # 3 prompts of 2 iterations each (x = 2): done after 2, 4, 6 -> mean 4
    assert concurrency.ramp_iterations(3, 2.0) == pytest.approx(4.0)
    # everything fits one iteration: 1
    assert concurrency.ramp_iterations(4, 0.1) == pytest.approx(1.0)
    assert concurrency.ramp_iterations(1, 0.7) == pytest.approx(1.0)


def test_queueing_ttft_when_the_budget_cannot_admit_the_concurrency_at_once():
    # Llama-3.1-8B on one H100, C = 8 requests of exactly 1024 prompt tokens (length_ratio 1) released
    # together, token budget 2052. The first iteration's decodes take n1/2 = 4 tokens on average, leaving
    # B' = 2048 = 2 prompts per iteration (x = 1/2), so the 8 prompts finish after 1,1,2,2,3,3,4,4
    # iterations: mean 2.5 iterations of t_r, the iteration with 2 prompts of 1024 beside (8-2)/2 = 3 decodes.
    row = dict(model="meta-llama/Llama-3.1-8B", hardware="H100-SXM-80GB", input_tokens=1024, output_tokens=128,
               concurrency=8, length_ratio=1, max_num_tokens=2052, framework="vLLM")
    spec, inp, _ = _inputs(**row)
    cl = concurrency.closed_loop(spec, inp, ["vllm"])
    t_r = engine.mixed_iteration(spec, inp, n_dec=np.array([3.0]), ctx_dec=np.array([1024.0]),
                                 n_pf=np.array([2.0]), pf_len=np.array([1024.0])).time
    ovh = inp.eff["request_overhead_s"]
    assert float(cl.ttft_ramp_s[0]) == pytest.approx(float(ovh[0] + 2.5 * t_r[0]), rel=1e-9)
    # the same 8 with a budget that admits them at once (8·1024 + 4 <= 8196): one iteration of 8 prompts
    spec, inp2, _ = _inputs(**{**row, "max_num_tokens": 8196})
    cl2 = concurrency.closed_loop(spec, inp2, ["vllm"])
    t_1 = engine.mixed_iteration(spec, inp2, n_dec=np.array([0.0]), ctx_dec=np.array([1024.0]),
                                 n_pf=np.array([8.0]), pf_len=np.array([1024.0])).time
    assert float(cl2.ttft_ramp_s[0]) == pytest.approx(float(ovh[0] + t_1[0]), rel=1e-9)
    # compute-bound prefill: the small budget finishes the last prompt no sooner (4 iterations of 2 prompts
    # >= 1 of 8, each iteration paying its own overheads), but the first ones earlier, so the mean is lower
    assert 4 * t_r[0] >= t_1[0]
    assert cl.ttft_ramp_s[0] < cl2.ttft_ramp_s[0]
    # the benchmark's mean TTFT: 8 ramp requests and 72 steady-state ones (num_prompts = 10·C)
    mean = (8 * cl.ttft_ramp_s[0] + 72 * cl.ttft_steady_s[0]) / 80
    assert float(cl.ttft_s[0]) == pytest.approx(float(mean), rel=1e-12)


def test_steady_state_follows_littles_law():
    # colocated: a = N / (O - 1 + k + 1/2) prompts start per iteration; every other request decodes
    row = dict(model="meta-llama/Llama-3.1-8B", hardware="H100-SXM-80GB", input_tokens=512, output_tokens=256,
               concurrency=32, length_ratio=1)
    spec, inp, _ = _inputs(**row)
    cl = concurrency.closed_loop(spec, inp, ["generic"])
    a = 32 / (255 + 1 + 0.5)  # k = 1: 512 tokens fit the 8192 budget beside the decodes
    assert float(cl.request_rate[0]) == pytest.approx(a / float(cl.tpot_s[0]), rel=1e-9)
    assert float(cl.running[0]) == 32 and float(cl.queued[0]) == 0


def test_concurrency_beyond_the_kv_cache_queues_and_says_so():
    # Llama-3.1-70B fp8 on 2 H100 (TP2): ~17 GB of KV room per device holds far fewer than 2000 requests
    # of 2048 + 1024 tokens; the rest queue for KV, which only TTFT (and so e2e) sees
    base = dict(model="meta-llama/Llama-3.1-70B", hardware="H100-SXM-80GB", tp=2, weight_dtype="fp8",
                input_tokens=2048, output_tokens=1024, framework="vLLM")
    out = predict_frame(pl.DataFrame([{**base, "concurrency": c} for c in ("64", "256", "2000")]), uncalibrated())
    assert (out.get_column("status") == "ok").all()
    q = out.get_column("queued_requests").to_list()
    assert q[0] == 0 and q[2] > 0
    assert "queues" in out.get_column("note")[2] and "KV cache" in out.get_column("note")[2]
    ttft = out.get_column("ttft_ms").to_list()
    assert ttft[0] < ttft[1] < ttft[2]
    # beyond the KV limit more clients add waiting, not tokens: throughput stays within a few %
    thr = out.get_column("throughput_tok_s").to_list()
    assert thr[2] == pytest.approx(thr[1], rel=0.15) or thr[2] < thr[1] * 1.15


def test_closed_loop_monotone_in_concurrency():
    base = dict(model="openai/gpt-oss-120b", hardware="H200-SXM-141GB", tp=2, weight_dtype="fp4", act_dtype="bf16",
                input_tokens=1024, output_tokens=1024, framework="vLLM 0.13.0")
    cs = [1, 4, 16, 64, 128]
    out = predict_frame(pl.DataFrame([{**base, "concurrency": str(c)} for c in cs]), uncalibrated())
    assert (out.get_column("status") == "ok").all()
    for m in ("ttft_ms", "tpot_ms", "e2e_latency_ms", "throughput_tok_s_per_device"):
        v = out.get_column(m).to_list()
        assert all(b > a for a, b in itertools.pairwise(v)), (m, v)


# ----------------------------------------------------------------------------------------------
# wide EP: the all-to-all of a decode step
# ----------------------------------------------------------------------------------------------


def test_wide_ep_alltoall_volume_of_a_decode_step():
    # DeepSeek-V3 (hidden 7168, top-8 of 256 experts, 58 MoE layers) with DP-attention over 144 GB200 GPUs
    # (two NVL72 domains), EP 144, 32 sequences decoding per GPU, bf16 activations (2 bytes).
    # Per MoE layer a GPU sends dispatch + combine = 2 · 32 · 8 · 7168 · 2 = 7,340,032 bytes; of it
    # (72 - 1)/144 stays in its NVL72 domain and (144 - 72)/144 = 1/2 crosses InfiniBand.
    per_layer = layouts.alltoall_bytes_per_step(32, 8, 7168, 2.0)
    assert float(per_layer) == 7_340_032
    up, out = layouts.alltoall_split(per_layer, 144, 72)
    assert float(up) == pytest.approx(7_340_032 * 71 / 144)
    assert float(out) == pytest.approx(3_670_016)
    # the engine's decode step moves the same bytes: 58 layers × 7,340,032 = 425,721,856 per GPU
    spec, inp, _ = _inputs(model="deepseek-ai/DeepSeek-V3", hardware="GB200-NVL72", tp=144, dp_attention=144,
                            ep=144, weight_dtype="fp8", act_dtype="bf16", kv_dtype="fp8", input_tokens=1024,
                            output_tokens=1024, batch_size=32 * 144)
    assert float(inp.tp[0]) == 1 and float(inp.dp[0]) == 144 and float(inp.ep[0]) == 144
    it = engine.mixed_iteration(spec, inp, n_dec=np.array([32.0]), ctx_dec=np.array([1536.0]),
                                n_pf=np.array([0.0]), pf_len=np.array([0.0]), want_ops=True)
    a2a = [d for d in it.ops if d.name == "moe_all2all"]
    assert len(a2a) == 1 and a2a[0].count == 58
    assert float(np.asarray(a2a[0].net_bytes).reshape(-1)[0]) == pytest.approx(58 * 7_340_032)
    # its time: the slower of the NVLink and InfiniBand legs (efficiency applied), twice, per layer
    net = inp.net()
    s = 32 * 8 * 7168 * 2.0
    leg = max(71 / 144 * s / float(net.up_bw[0]) + float(net.up_lat[0]),
              72 / 144 * s / float(net.out_bw[0]) + float(net.out_lat[0]))
    assert float(coll.alltoall(s, 144.0, net)[0]) == pytest.approx(leg)
    per_call = 2 * leg + float(inp.eff["comm_overhead_s"][0])
    assert float(np.asarray(a2a[0].time).reshape(-1)[0]) == pytest.approx(58 * per_call)


def test_layout_notes_for_wide_ep():
    spec = get_model("deepseek-ai/DeepSeek-V3")
    # EP 256 on 256 GPUs: one expert per GPU; EP 144 on NVL72: two domains
    n = layouts.notes(spec, np.array([256.0, 144.0, 8.0]), np.array([72.0, 72.0, 72.0]))
    assert "experts per GPU 1 (<= 1" in n[0] and "spans 4 scale-up domains" in n[0]
    assert "experts per GPU" not in n[1] and "EP 144 spans 2 scale-up domains" in n[1]
    assert n[2] == ""


# ----------------------------------------------------------------------------------------------
# disaggregation: pools of different sizes and the KV transfer
# ----------------------------------------------------------------------------------------------


def test_kv_transfer_of_a_disaggregated_request():
    # Llama-3.1-70B: 80 layers × 8 KV heads × (128 + 128) × 2 bytes = 327,680 bytes of KV per token.
    # A 1000-token prompt: 327.68 MB; prefill TP8 and decode TP8 each hold 1 KV head per GPU, 40.96 MB.
    # 8 + 8 GPUs do not fit one 8-GPU NVLink node: InfiniBand, 50 GB/s per GPU on H100.
    spec, inp, hw = _inputs(model="meta-llama/Llama-3.1-70B", hardware="H100-SXM-80GB", tp=8, decode_tp=8,
                            input_tokens=1000, output_tokens=100)
    dc = engine.decode_pool(inp)
    t = engine.kv_transfer(spec, inp, dc, np.ones(1), np.ones(1))
    bw = hw.scaleout_bw * float(inp.eff["network"][0])
    assert float(t[0]) == pytest.approx(hw.scaleout_latency + 40.96e6 / bw)
    # GB200 NVL72: prefill TP1 (all 8 heads, 327.68 MB sent) and decode TP4 (2 heads, 81.92 MB received)
    # share the rack: NVLink, and the sender is the slower end
    spec, inp, hw = _inputs(model="meta-llama/Llama-3.1-70B", hardware="GB200-NVL72", tp=1, decode_tp=4,
                            input_tokens=1000, output_tokens=100, num_devices=5)
    t = engine.kv_transfer(spec, inp, engine.decode_pool(inp), np.ones(1), np.ones(1))
    assert float(t[0]) == pytest.approx(hw.scaleup_latency + 327.68e6 / (hw.scaleup_bw * float(inp.eff["network"][0])))


def test_pools_of_different_sizes_count_every_device():
    base = dict(model="openai/gpt-oss-120b", hardware="GB200-NVL72", weight_dtype="fp4", input_tokens="1024",
                output_tokens="1024", concurrency="64")
    rows = [
        # 1 prefill GPU + 1 decode worker of TP4: 5 devices (the rows the 2024 layout could not write)
        {**base, "num_devices": "5", "tp": "1", "decode_tp": "4"},
        # 2 prefill workers of TP2 + 3 decode workers of TP4 with DP-attention and EP4, twice: (4 + 12)·2 = 32
        {**base, "num_devices": "32", "tp": "2", "prefill_workers": "2", "decode_tp": "4", "decode_workers": "3",
         "decode_dp_attention": "4", "decode_ep": "4", "dp": "2"},
        {**base, "num_devices": "6", "tp": "1", "decode_tp": "4"},
        {**base, "tp": "2", "dp_attention": "4"},
    ]
    norm = normalize(pl.DataFrame(rows))
    st = norm.get_column("status").to_list()
    assert st[0] == "ok" and st[1] == "ok"
    assert "num_devices 6 != (prefill_workers·tp·pp·cp + decode_workers·decode_tp·decode_pp)·dp = 5" in st[2]
    assert "dp_attention 4 must divide tp 2" in st[3]
    lay = layouts.engine_layout(norm[:2])
    # engine: prefill ranks dp·x·att = 2·2·1 = 4 of TP2; decode ranks dp·y·att = 2·3·4 = 24 of TP1
    assert lay["dp"].tolist() == [1.0, 4.0] and lay["tp"].tolist() == [1.0, 2.0]
    assert lay["decode_dp"].tolist() == [1.0, 24.0] and lay["decode_tp"].tolist() == [4.0, 1.0]
    out = predict_frame(pl.DataFrame(rows[:2]), uncalibrated())
    assert (out.get_column("status") == "ok").all()
    assert out.get_column("throughput_tok_s_per_device").to_list() == pytest.approx(
        (out.get_column("throughput_tok_s") / pl.Series([5.0, 32.0])).to_list())


# ----------------------------------------------------------------------------------------------
# precision as served
# ----------------------------------------------------------------------------------------------


def test_fp4_is_weight_only_without_fp4_units():
    h100, b200 = get_hardware("H100-SXM-80GB"), get_hardware("B200-SXM-180GB")
    assert dtypes.compute_rate_key("fp4", h100.peak_flops) == "bf16"  # dequantized, 16-bit tensor cores
    assert dtypes.activation_bytes("fp4", h100.peak_flops) == 2.0
    assert dtypes.compute_rate_key("fp4", b200.peak_flops) == "fp4"
    assert dtypes.compute_rate_key("fp8", h100.peak_flops) == "fp8"  # W4A8 with fp8 activations
    assert dtypes.default_kv_dtype("fp4") == "bf16" and dtypes.default_kv_dtype("fp8") == "fp8"
    norm = normalize(pl.DataFrame({"model": ["m"], "hardware": ["h"], "input_tokens": ["1"], "output_tokens": ["1"],
                                   "weight_dtype": ["mxfp4"]}))
    assert norm.get_column("_act_dtype")[0] == "fp4" and norm.get_column("_kv_dtype")[0] == "bf16"


def test_fp4_moe_checkpoints_quantize_the_experts_only():
    # gpt-oss-120b: 36 layers × 128 experts × 24,883,200 parameters (3·2880·2880; the zoo counts no expert biases).
    # Going from bf16 to MXFP4 changes only the experts: 2 - 4.25/8 = 1.46875 bytes less per parameter.
    spec = get_model("openai/gpt-oss-120b")
    f = spec.layers[0].ffn
    assert f.expert_params(spec.hidden) == 24_883_200
    w = {}
    for dt in ("bf16", "fp4"):
        _, inp, _ = _inputs(model="openai/gpt-oss-120b", hardware="B200-SXM-180GB", weight_dtype=dt, input_tokens=8,
                            output_tokens=8)
        w[dt] = float(engine.weight_bytes_per_device(spec, inp)[0])
    assert w["bf16"] - w["fp4"] == pytest.approx(36 * 128 * 24_883_200 * (2 - 4.25 / 8), rel=1e-12)
    # a dense model's fp4 checkpoint quantizes every layer
    dense = get_model("meta-llama/Llama-3.1-8B")
    _, inp, _ = _inputs(model="meta-llama/Llama-3.1-8B", hardware="B200-SXM-180GB", weight_dtype="fp4",
                        input_tokens=8, output_tokens=8)
    _, inp16, _ = _inputs(model="meta-llama/Llama-3.1-8B", hardware="B200-SXM-180GB", weight_dtype="bf16",
                          input_tokens=8, output_tokens=8)
    ends = (dense.embedding_params() + dense.lm_head_params() + dense.hidden) * 2.0  # kept at 16 bit
    wq = float(engine.weight_bytes_per_device(dense, inp)[0]) - ends
    w16 = float(engine.weight_bytes_per_device(dense, inp16)[0]) - ends
    assert wq / w16 == pytest.approx(4.25 / 16, rel=1e-12)


# ----------------------------------------------------------------------------------------------
# model aliases and the shipped serving benchmark
# ----------------------------------------------------------------------------------------------


def test_deepseek_r1_names_resolve_to_the_v3_architecture():
    v3 = get_model("deepseek-ai/DeepSeek-V3")
    for name in ("deepseek-ai/DeepSeek-R1", "deepseek-ai/DeepSeek-R1-0528", "deepseek-ai/DeepSeek-V3-0324",
                 "DeepSeek-R1"):
        m = get_model(name)
        assert m.id == "deepseek-ai/DeepSeek-V3" and m is v3
    moe = next(lc.ffn for lc in v3.layers if lc.ffn is not None and lc.ffn.is_moe)
    assert (moe.n_experts, moe.top_k, v3.hidden, v3.n_layers) == (256, 8, 7168, 61)
    assert get_model("meta-llama/Llama-3.3-70B-Instruct").id == "meta-llama/Llama-3.1-70B"


_POOLS = re.compile(r"prefill (\d+) GPU\(s\) \((\d+) worker\(s\), tp(\d+) ep(\d+) dp-attn (true|false)\) \+ "
                    r"decode (\d+) GPU\(s\) \((\d+) worker\(s\), tp(\d+) ep(\d+) dp-attn (true|false)\)")


def test_shipped_serving_rows_derive_their_columns_from_the_source_cells():
    """The columns added to the InferenceMAX rows (calibration/serving_benchmarks/README.md) follow from
    the rows' own ``batch_size`` and ``framework`` text."""
    rows = list(csv.DictReader(SERVING.open(newline="")))
    assert len(rows) == 196
    for r in rows:
        assert r["concurrency"] == r["batch_size"] and r["length_ratio"] == "0.8"
        # activations as served (README): MXFP8 on Blackwell, A16W4 under ATOM 0.1 on MI355X, Marlin W4A16 on Hopper
        assert r["act_dtype"] == {"B200-SXM-180GB": "fp8", "GB200-NVL72": "fp8", "MI355X": "bf16"}.get(
            r["hardware"], "bf16")
        m = _POOLS.search(r["framework"])
        if m:
            pg, pw, ptp, pep, _, dg, dw, dtp, dep, ddp = m.groups()
            assert (r["tp"], r["ep"], r["prefill_workers"], r["decode_workers"], r["decode_tp"], r["decode_ep"]) == \
                (ptp, pep, pw, dw, dtp, dep)
            assert r["decode_dp_attention"] == (dtp if ddp == "true" else "")
            assert int(r["num_devices"]) == int(pg) + int(dg)
        else:
            assert r["dp_attention"] == (r["tp"] if "DP-attention on" in r["framework"] else "")
            assert r["decode_tp"] == r["prefill_workers"] == ""


def test_every_shipped_serving_row_is_predicted():
    df = pl.read_csv(SERVING, infer_schema=False)
    out = predict_frame(df)
    assert out.height == 196 and (out.get_column("status") == "ok").all()
    assert out.get_column("predicted").is_finite().all() and (out.get_column("predicted") > 0).all()
    # the scenario column passes through; the server's running requests are their own column
    assert out.get_column("concurrency").to_list() == df.get_column("concurrency").to_list()
    assert "input_concurrency" not in out.columns and out.get_column("running_requests").min() >= 1


# ----------------------------------------------------------------------------------------------
# stack generations
# ----------------------------------------------------------------------------------------------


def test_framework_versions_resolve_to_the_nearest_generation():
    from genz.catalog.frameworks import resolve_framework

    assert resolve_framework("vLLM 0.13.0 (InferenceMAX; concurrency 4)") == ("vllm-0.13", "")
    assert resolve_framework("vLLM (benchmark_latency-style offline batch)") == ("vllm", "")  # no version: base
    assert resolve_framework("vLLM 0.6.1") == ("vllm", "")  # the 2024 generation declares 0.4-0.6
    key, note = resolve_framework("vLLM 0.10.2")  # 0.10 is 3 minor versions from 0.13, 4 from 0.6
    assert key == "vllm-0.13" and "nearest known version 0.13" in note
    assert resolve_framework("TensorRT-LLM 0.13.0 (trtllm-bench)") == ("trtllm", "")
    assert resolve_framework("TensorRT-LLM 1.2.0rc2 (InferenceMAX)") == ("trtllm-1", "")
    assert resolve_framework("TensorRT-LLM via NVIDIA Dynamo (image x:0.7.0)")[0] == "dynamo"
    assert resolve_framework("ATOM 0.1.1")[0] == "atom"


#: the stack generations fitted on the serving rows (merge_profiles -> the shipped snapshot)
GENERATIONS = ("vllm-0.13", "trtllm-1", "atom", "dynamo", "sglang")


def _without_generations():
    """The shipped profiles as they were before the serving rows were fitted (no generation stacks)."""
    from genz.perf.profiles import ProfileSet, default_profiles

    base = default_profiles()
    return ProfileSet(base.profiles, source=base.source, hardware=list(base.hardware.values()),
                      stacks=[s for k, s in base.stacks.items() if k not in GENERATIONS], version=base.version)


def test_shipped_generations_are_fitted_on_the_serving_rows():
    from genz.perf.profiles import default_profiles

    stacks = default_profiles().stacks
    for s in ("vllm-0.13", "trtllm-1", "atom", "dynamo"):
        assert stacks[s].label.startswith("measured (") and stacks[s].label.endswith("serving rows, stackfit)"), s
    row = dict(model="openai/gpt-oss-120b", hardware="H100-SXM-80GB", tp="2", weight_dtype="fp4",
               input_tokens="1024", output_tokens="1024", concurrency="4", framework="vLLM 0.10")
    lab = predict_frame(pl.DataFrame([row])).get_column("calibration")[0]
    assert "not measured" not in lab and "vllm 0.10 resolved to vllm-0.13" in lab


def test_unfitted_generations_fall_back_and_the_label_says_so():
    rows = [dict(model="openai/gpt-oss-120b", hardware="H100-SXM-80GB", tp="2", weight_dtype="fp4",
                 input_tokens="1024", output_tokens="1024", concurrency="4", framework=fw)
            for fw in ("vLLM 0.10", "TensorRT-LLM via NVIDIA Dynamo", "ATOM 0.1")]
    lab = predict_frame(pl.DataFrame(rows), _without_generations()).get_column("calibration").to_list()
    assert "stack vllm-0.13 not measured: vllm used" in lab[0] and "vllm 0.10 resolved to vllm-0.13" in lab[0]
    assert "stack dynamo not measured: trtllm used" in lab[1]  # dynamo -> its runtime trtllm-1 -> trtllm
    assert "stack atom not measured: reference stack used" in lab[2]


def test_a_stack_generation_fit_moves_only_that_stacks_software_factors():
    from genz.calibrate import stackfit

    meas = pl.read_csv(SERVING, infer_schema=False).filter(pl.col("framework").str.starts_with("vLLM"))
    rows = stackfit.prepare(meas, _without_generations())  # starts from the 2024 vllm stack
    assert set(rows.stack.tolist()) == {"vllm-0.13"} and len(rows.metric) == 3 * 26  # 26 points: ttft, tpot, tput
    before = stackfit.predict(rows, rows.start)
    fit = stackfit.fit_stack(rows, np.ones(len(rows.metric), dtype=bool), ["vllm-0.13"], rows.start["vllm-0.13"])
    after = stackfit.predict(rows, {"vllm-0.13": fit})

    def gm(p, m):
        sel = rows.metric == m
        return float(np.exp(np.mean(np.log(np.abs(p[sel] / rows.measured[sel] - 1) + 1e-9))))

    for m in ("ttft_ms", "tpot_ms", "throughput_tok_s_per_device"):
        assert gm(after, m) < gm(before, m)
    assert gm(after, "tpot_ms") < 0.15
    # the chips' factors are untouched: only software factors differ from the start
    assert fit.sw_attention == rows.start["vllm-0.13"].sw_attention
    assert fit.comm_overhead_s == rows.start["vllm-0.13"].comm_overhead_s
