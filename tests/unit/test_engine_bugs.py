"""Regression tests for five engine bugs, with expected values worked out by hand.

Every hand-derived number is derived in the test's docstring or comments (shapes from the model
config, the formula, the arithmetic). Timings use ``genz.perf.profiles.uncalibrated()`` (datasheet
defaults) so that nothing here depends on fitted calibration factors.

1. sliding-window prefill attention (``ops.block_keys``, ``engine.sum_block_keys``)
2. weight-only quantization keeps 16-bit activations and KV (``dtypes.default_act_dtype``)
3. fp8/fp4 on chips without those units run at the 16-bit rate (``dtypes._FALLBACK``)
4. ``prefill_flops``/``decode_flops`` are whole-deployment totals (``engine.estimate`` extra)
5. TTFT under waves is the mean over requests and never falls as the batch grows
plus invariants: TTFT and e2e never fall as batch or prompt grows; chunked prefill is never
faster than unchunked.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import genz
from genz.api import scenario_inputs
from genz.catalog import dtypes
from genz.catalog.hardware import get_hardware
from genz.perf import engine
from genz.perf.engine import sum_block_keys
from genz.perf.ops import attended_keys, block_keys
from genz.perf.profiles import uncalibrated
from genz.perf.scenarios import normalize

UNCAL = uncalibrated()


def _est(model, hardware, **kw):
    return genz.estimate(model, hardware, profiles=UNCAL, **kw)


def _predict(rows: list[dict]) -> pl.DataFrame:
    return genz.predict(pl.DataFrame(rows), UNCAL)


def _attention_gflops(res, phase="prefill") -> float:
    ops = res.operators
    return ops.filter((pl.col("phase") == phase) & (pl.col("operator") == "attention"))["gflops"].sum()


# ----------------------------------------------------------------------------------------------
# 1. sliding-window prefill attention
# ----------------------------------------------------------------------------------------------


def test_window_key_sums_match_brute_force():
    """K(s, t) = Σ_{p=s}^{s+t-1} min(p+1, W), and its closed-form sum over a phase, for integers."""
    rng = np.random.default_rng(7)
    for _ in range(400):
        W = int(rng.integers(1, 30))
        t = int(rng.integers(1, 40))
        s0 = int(rng.integers(0, 70))
        d = int(rng.integers(0, 40))
        n = int(rng.integers(0, 10))
        brute = sum(min(p + 1, W) for j in range(n) for p in range(s0 + j * d, s0 + j * d + t))
        assert float(sum_block_keys(s0, d, n, t, W)) == pytest.approx(brute, abs=1e-6)
        no_window = sum(p + 1 for j in range(n) for p in range(s0 + j * d, s0 + j * d + t))
        assert float(sum_block_keys(s0, d, n, t, np.inf)) == pytest.approx(no_window, abs=1e-6)
        assert float(block_keys(s0, t, W)) == pytest.approx(sum(min(p + 1, W) for p in range(s0, s0 + t)))


def test_prompt_keys_closed_form():
    """Σ_{p=0}^{L-1} min(p+1, W) = L(L+1)/2 for L <= W, W(W+1)/2 + (L-W)·W beyond."""
    # L = 10 <= W = 16: 10·11/2 = 55;  L = 40 > W = 16: 16·17/2 + 24·16 = 136 + 384 = 520
    assert float(attended_keys(10, 16)) == 55
    assert float(attended_keys(40, 16)) == 520
    assert float(block_keys(0, 40, 16)) == 520
    # chunks of 8 tokens telescope to the same total: Σ_j K(8j, 8) = G(40)
    assert float(sum_block_keys(0, 8, 5, 8, 16)) == 520


def test_mistral_32k_prefill_attention_flops_by_hand():
    """Mistral-7B-v0.1: 32 layers, 32 query heads of 128 dims, sliding window W = 4096.

    Per layer, a query-key pair costs QK^T + PV = 2·(d + dv) FLOPs per head:
    2·32·(128 + 128) = 16,384 FLOPs. A 32,768-token prompt attends
    W(W+1)/2 + (L-W)·W = 4096·4097/2 + 28,672·4096 = 8,390,656 + 117,440,512 = 125,831,168 pairs
    (unwindowed it would be L(L+1)/2 = 536,887,296 pairs, 281,483 GFLOP: the bug).
    FLOPs = 32 layers · 16,384 · 125,831,168 = 65,971,771,408,384 = 65,971.77 GFLOP.
    """
    pairs = 4096 * 4097 // 2 + (32768 - 4096) * 4096
    assert pairs == 125_831_168
    expected_gflop = 32 * 16384 * pairs / 1e9
    assert expected_gflop == pytest.approx(65_971.771408384)
    # 32,768 + 1 output token is one past Mistral-7B-v0.1's 32,768-token context: allowed explicitly
    r = _est("mistralai/Mistral-7B-v0.1", "H100-SXM-80GB", input_tokens=32768, output_tokens=1,
             allow_long_context=True)
    assert _attention_gflops(r) == pytest.approx(expected_gflop, rel=1e-12)
    # chunked prefill does the same attention work: 16 chunks of 2048 telescope to the same pairs
    rc = _est("mistralai/Mistral-7B-v0.1", "H100-SXM-80GB", input_tokens=32768, output_tokens=1, chunk_size=2048,
              allow_long_context=True)
    assert _attention_gflops(rc) == pytest.approx(expected_gflop, rel=1e-12)
    # uneven chunks: L = 10,000 in ceil(10000/4096) = 3 chunks of 3333.3 tokens; total pairs
    # 4096·4097/2 + (10,000-4096)·4096 = 8,390,656 + 24,182,784 = 32,573,440
    ru = _est("mistralai/Mistral-7B-v0.1", "H100-SXM-80GB", input_tokens=10000, output_tokens=1, chunk_size=4096)
    assert _attention_gflops(ru) == pytest.approx(32 * 16384 * 32_573_440 / 1e9, rel=1e-12)


def test_a_stack_without_windows_attends_the_whole_prompt():
    """TensorRT-LLM (frameworks.yaml: sliding_window false) runs Mistral's layers as global
    attention: L(L+1)/2 = 8192·8193/2 = 33,558,528 pairs · 16,384 FLOPs · 32 layers."""
    r = _est("mistralai/Mistral-7B-v0.1", "H100-SXM-80GB", input_tokens=8192, output_tokens=1,
             framework="TensorRT-LLM")
    assert _attention_gflops(r) == pytest.approx(32 * 16384 * 33_558_528 / 1e9, rel=1e-12)


@pytest.mark.parametrize("model,L", [("mistralai/Mistral-7B-v0.1", 32768), ("google/gemma-3-4b-pt", 65536),
                                     ("google/gemma-2-9b", 8192)])
def test_chunked_prefill_never_faster_for_windowed_models(model, L):
    # L fills Mistral's and Gemma-2's whole context; the one output token is allowed past it
    base = _est(model, "H100-SXM-80GB", input_tokens=L, output_tokens=1, allow_long_context=True).metrics["ttft_ms"]
    for chunk in (512, 2048, 4096, 8192):
        ttft = _est(model, "H100-SXM-80GB", input_tokens=L, output_tokens=1, chunk_size=chunk,
                    allow_long_context=True).metrics["ttft_ms"]
        assert ttft >= base * (1 - 1e-9), (model, L, chunk, ttft, base)


# ----------------------------------------------------------------------------------------------
# 2. weight-only quantization keeps 16-bit activations and KV
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw,act", [
    ("bf16", "bf16"), ("fp16", "fp16"), ("float32", "fp32"), ("tf32", "tf32"), ("fp8", "fp8"), ("e4m3", "fp8"),
    ("fp4", "fp4"), ("nvfp4", "fp4"), ("int4", "bf16"), ("awq", "bf16"), ("gptq", "bf16"), ("w4a16", "bf16"),
    ("int4_wo", "bf16"), ("int8", "bf16"), ("int8_wo", "bf16"), ("w8a8", "int8"), (" AWQ ", "bf16"),
    ("W8A8", "int8"), ("nonsense", None)])
def test_default_activation_dtype(raw, act):
    assert dtypes.default_act_dtype(raw) == act


def test_scenario_defaults_follow_the_raw_weight_name():
    df = pl.DataFrame({"model": ["m"] * 5, "hardware": ["h"] * 5, "input_tokens": [8] * 5, "output_tokens": [8] * 5,
                       "weight_dtype": ["awq", "w8a8", "int8_wo", "fp8", None],
                       "act_dtype": [None, None, None, None, None], "kv_dtype": [None, None, "fp8", None, None]})
    n = normalize(df)
    assert n["_weight_dtype"].to_list() == ["int4", "int8", "int8", "fp8", "bf16"]
    assert n["_act_dtype"].to_list() == ["bf16", "int8", "bf16", "fp8", "bf16"]
    assert n["_kv_dtype"].to_list() == ["bf16", "int8", "fp8", "fp8", "bf16"]


@pytest.mark.parametrize("wdt", ["awq", "gptq", "w4a16", "int4_wo", "int4"])
def test_awq_equals_int4_with_bf16_activations_and_kv(wdt):
    """``-m meta-llama/Llama-3.1-8B -H H100-SXM-80GB -w awq -i 4096 -o 256 -b 16``.

    KV per token: 2 bytes (bf16) · 2 (K and V) · 32 layers · 8 KV heads · 128 dims = 131,072 B.
    Batch 16 at full context 4096 + 256 = 4352 tokens: 16 · 4352 · 131,072 B = 9,126,805,504 B
    = 9.13 GB (the bug gave 2.42 GB: int4 KV).
    """
    kw = dict(input_tokens=4096, output_tokens=256, batch_size=16)
    a = _est("meta-llama/Llama-3.1-8B", "H100-SXM-80GB", weight_dtype=wdt, **kw).metrics
    b = _est("meta-llama/Llama-3.1-8B", "H100-SXM-80GB", weight_dtype="int4", act_dtype="bf16", kv_dtype="bf16",
             **kw).metrics
    assert 2 * 2 * 32 * 8 * 128 == 131_072
    assert a["kv_cache_per_device_gb"] == pytest.approx(16 * 4352 * 131_072 / 1e9, rel=1e-12)
    for k in ("ttft_ms", "tpot_ms", "e2e_latency_ms", "weights_per_device_gb", "kv_cache_per_device_gb"):
        assert a[k] == pytest.approx(b[k], rel=1e-12), k


def test_int8_weight_only_vs_w8a8():
    """int8_wo/int8 keep bf16 activations and KV; w8a8 means int8 activations (and KV by default):
    KV 16 · 4352 · 1 B · 2 · 32 · 8 · 128 = 4,563,402,752 B."""
    kw = dict(input_tokens=4096, output_tokens=256, batch_size=16)
    wo = _est("meta-llama/Llama-3.1-8B", "H100-SXM-80GB", weight_dtype="int8_wo", **kw).metrics
    ref = _est("meta-llama/Llama-3.1-8B", "H100-SXM-80GB", weight_dtype="int8", act_dtype="bf16", kv_dtype="bf16",
               **kw).metrics
    assert wo["ttft_ms"] == pytest.approx(ref["ttft_ms"], rel=1e-12)
    assert wo["kv_cache_per_device_gb"] == pytest.approx(9.126805504)
    w8a8 = _est("meta-llama/Llama-3.1-8B", "H100-SXM-80GB", weight_dtype="w8a8", **kw).metrics
    assert w8a8["kv_cache_per_device_gb"] == pytest.approx(4.563402752)


# ----------------------------------------------------------------------------------------------
# 3. fp8/fp4 on chips without those units run at the 16-bit rate
# ----------------------------------------------------------------------------------------------


def test_fallback_rates():
    a100 = get_hardware("A100-SXM-80GB").peak_flops  # bf16, int8, int4; no fp8/fp4
    h100 = get_hardware("H100-SXM-80GB").peak_flops  # bf16, fp8, int8; no fp4/int4
    assert dtypes.compute_rate_key("fp8", a100) == "bf16"  # not int8 (624 TFLOP/s > A100's 312 peak)
    assert dtypes.compute_rate_key("fp4", a100) == "bf16"  # not int4
    assert dtypes.compute_rate_key("fp4", h100) == "bf16"  # weight-only without fp4 units (issue 14)
    assert dtypes.compute_rate_key("int8", a100) == "int8"
    assert dtypes.compute_rate_key("int4", h100) == "int8"
    assert dtypes.compute_rate_key("int8", {"bf16": 1, "fp8": 2}) == "bf16"  # never an fp unit for int
    # activations then move at 16 bit on A100, 8 bit where fp8 units exist
    assert dtypes.activation_bytes("fp8", a100) == 2.0
    assert dtypes.activation_bytes("fp8", h100) == 1.0
    assert dtypes.activation_bytes("fp4", h100) == 2.0
    assert dtypes.activation_bytes("bf16", {"fp32": 1}) == 2.0


def test_fp8_on_a100_runs_at_the_bf16_rate_with_8bit_weights():
    """Llama-3.1-8B prefill of 8 × 4096 tokens on A100 (bf16 peak 312 TFLOP/s, no fp8 units).

    Compute: fp8 matmuls run at the bf16 rate, so the compute-bound time equals bf16's and
    the TTFT is not lower. Weights: per layer q,o 2·4096² = 33,554,432; k,v 2·4096·1024 =
    8,388,608; gated MLP 3·4096·14,336 = 176,160,768; 2 norms 8192 → 218,112,000 params × 32
    layers = 6,979,584,000 params at 1 byte (fp8) vs 2 (bf16). Embedding and LM head stay 16 bit:
    (2 · 128,256 · 4096 + 4096 final norm) · 2 B = 2,101,354,496 B in both.
    """
    kw = dict(input_tokens=4096, output_tokens=2, batch_size=8)
    _, inp = scenario_inputs("meta-llama/Llama-3.1-8B", "A100-SXM-80GB", profiles=UNCAL, weight_dtype="fp8", **kw)
    assert float(inp.peak_matrix[0]) == 312e12
    assert float(inp.ab[0]) == 2.0
    fp8 = _est("meta-llama/Llama-3.1-8B", "A100-SXM-80GB", weight_dtype="fp8", **kw).metrics
    bf16 = _est("meta-llama/Llama-3.1-8B", "A100-SXM-80GB", weight_dtype="bf16", **kw).metrics
    assert fp8["prefill_compute_ms"] == pytest.approx(bf16["prefill_compute_ms"], rel=1e-12)
    assert fp8["ttft_ms"] >= bf16["ttft_ms"] * (1 - 1e-9)
    layers = 32 * (2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336 + 2 * 4096)
    assert layers == 6_979_584_000
    ends = (2 * 128256 * 4096 + 4096) * 2
    assert fp8["weights_per_device_gb"] == pytest.approx((layers * 1 + ends) / 1e9, rel=1e-12)
    assert bf16["weights_per_device_gb"] == pytest.approx((layers * 2 + ends) / 1e9, rel=1e-12)


# ----------------------------------------------------------------------------------------------
# 4. whole-deployment FLOPs
# ----------------------------------------------------------------------------------------------

#: tiny llama of conftest.TINY_CONFIG: hidden h = 64, 2 layers, 4 heads × 16 dims (MHA), gated MLP
#: of 128, vocab 100. Batch 2, prompt 8, output 4 (3 decode steps at contexts 8, 9, 10).
#: Per layer and token count T (element-wise FLOPs per element as in genz.perf.ops):
#:   attn_norm 8·T·h, qkv 2·T·h·3h, rope 6·T·(4+4)·16, o_proj 2·T·h·h, ffn_norm 8·T·h,
#:   gate+up 2·T·h·256, act 5·T·128, down 2·T·128·h;
#:   attention 2·4 heads·(16+16) = 256 FLOPs per query-key pair;
#:   head (last token per sequence, R = 2 rows): final_norm 8·R·h, lm_head 2·R·h·100.
_PF_LAYER = (8 * 16 * 64 + 2 * 16 * 64 * 192 + 6 * 16 * 8 * 16 + 2 * 16 * 64 * 64 + 8 * 16 * 64
             + 2 * 16 * 64 * 256 + 5 * 16 * 128 + 2 * 16 * 128 * 64)  # T = 16 prompt tokens
_PF_ATTN = 256 * 2 * (8 * 9 // 2)  # 2 prompts × 36 causal pairs
_HEAD = 8 * 2 * 64 + 2 * 2 * 64 * 100  # 1,024 + 25,600
_DC_LAYER = (8 * 2 * 64 + 2 * 2 * 64 * 192 + 6 * 2 * 8 * 16 + 2 * 2 * 64 * 64 + 8 * 2 * 64
             + 2 * 2 * 64 * 256 + 5 * 2 * 128 + 2 * 2 * 128 * 64)  # T = 2 tokens per step
_DC_ATTN = 256 * 2 * (9 + 10 + 11)  # 2 sequences attend 9, 10, 11 keys in the 3 steps
PREFILL_FLOPS = 2 * (_PF_LAYER + _PF_ATTN) + _HEAD  # 2,762,752
DECODE_FLOPS = 3 * (2 * _DC_LAYER + _HEAD) + 2 * _DC_ATTN  # 1,122,816
#: norms are replicated on every TP rank: a second rank runs attn_norm + ffn_norm per layer
#: and the final norm once more per pass
PREFILL_REPLICATED = 2 * (8 * 16 * 64 * 2) + 8 * 2 * 64  # 33,792
DECODE_REPLICATED = 3 * (2 * (8 * 2 * 64 * 2) + 8 * 2 * 64)  # 15,360


def test_deployment_flops_of_a_tiny_model_by_hand(tiny_config_path):
    assert (PREFILL_FLOPS, DECODE_FLOPS) == (2_762_752, 1_122_816)
    base = dict(model=str(tiny_config_path), hardware="H100-SXM-80GB", input_tokens=8, output_tokens=4,
                batch_size=2, tp=1, pp=1, dp=1, decode_tp=0)
    layouts = [{}, {"dp": 2}, {"pp": 2}, {"tp": 2}, {"decode_tp": 2}, {"decode_tp": 1}]
    out = _predict([{**base, **kw} for kw in layouts])
    assert out["status"].to_list() == ["ok"] * len(layouts)
    pf, dc = out["prefill_flops"].to_list(), out["decode_flops"].to_list()
    # tp 1: the hand count; dp 2 (one request per replica) and pp 2 (two micro-batches): the same
    for i in (0, 1, 2, 5):
        assert pf[i] == pytest.approx(PREFILL_FLOPS, rel=1e-12)
        assert dc[i] == pytest.approx(DECODE_FLOPS, rel=1e-12)
    # tp 2: the split work is conserved, the replicated norms run on both ranks
    assert pf[3] == pytest.approx(PREFILL_FLOPS + PREFILL_REPLICATED, rel=1e-12)
    assert dc[3] == pytest.approx(DECODE_FLOPS + DECODE_REPLICATED, rel=1e-12)
    # disaggregated decode on a tp-2 pool: prefill as tp 1 (not ×3), decode as tp 2 (not ×1.5)
    assert pf[4] == pytest.approx(PREFILL_FLOPS, rel=1e-12)
    assert dc[4] == pytest.approx(DECODE_FLOPS + DECODE_REPLICATED, rel=1e-12)


def test_deployment_flops_are_conserved_across_data_parallel_replicas():
    base = dict(model="meta-llama/Llama-3.1-8B", hardware="H100-SXM-80GB", input_tokens=1024, output_tokens=64,
                batch_size=8)
    out = _predict([{**base, "dp": dp} for dp in (1, 2, 4, 8)] + [{**base, "pp": 2}, {**base, "pp": 4}])
    for col in ("prefill_flops", "decode_flops"):
        v = out[col].to_numpy()
        assert np.allclose(v, v[0], rtol=1e-12, atol=0), (col, v)
    # order of magnitude: 2·params·tokens for the linear layers, ≈ 2 · 8.03e9 · 8 · 1024 = 1.3e14
    assert 1.0e14 < out["prefill_flops"][0] < 1.4e14


# ----------------------------------------------------------------------------------------------
# 5. waves
# ----------------------------------------------------------------------------------------------

#: Gemma-2-9B on an H100-NVL (94 GB), 1024-token prompts and 32 output tokens: 204 requests fit next
#: to the weights and workspace, the 205th runs in a second wave (the bug: TTFT 6.37 s at batch 204,
#: 3.22 s at 205 with the shipped profiles, because the 205 were split into two waves of 103)
GEMMA = dict(model="google/gemma-2-9b", hardware="H100-NVL-94GB", input_tokens=1024, output_tokens=32)


def _gemma_rows(batches):
    return _predict([{**GEMMA, "batch_size": b} for b in batches])


def test_concurrency_does_not_shrink_with_the_queue():
    out = _gemma_rows([204, 205, 1000, 100000])
    assert out["concurrency"].to_list() == [204.0] * 4


def test_ttft_and_e2e_never_fall_across_the_fit_boundary():
    c = 204
    batches = list(range(c - 3, c + 4)) + list(range(2 * c - 2, 2 * c + 3)) + [3 * c, 3 * c + 1]
    out = _gemma_rows(batches)
    assert out["status"].to_list() == ["ok"] * len(batches)
    assert out["concurrency"].max() == c  # the sweep does cross the boundary
    for col in ("ttft_ms", "e2e_latency_ms"):
        v = out[col].to_numpy()
        assert np.all(np.diff(v) >= -1e-9 * v[1:]), (col, list(zip(batches, v)))
    # a request of the second wave waits for the whole first wave: mean TTFT at 205 is at least
    # the single-wave TTFT at 204
    assert out["ttft_ms"][batches.index(c + 1)] >= out["ttft_ms"][batches.index(c)]


@pytest.mark.parametrize("output_tokens,floored", [(32, True), (1024, False)])
def test_wave_ttft_is_the_mean_over_requests_floored_at_the_whole_prefill(output_tokens, floored):
    """B = 2c + 5 requests, c per wave: waves of c, c and r = 5.

    Wave k starts at k·P with P = prefill(c) + decode(c); its requests see their first token after
    its prefill, so the mean over requests is [c·pf_c + c·(P + pf_c) + r·(2P + pf_r)] / B. TTFT is
    that mean, but never below prefill(B), the one-pass TTFT the batch would report had it fit
    (+ the per-run request overhead in both). e2e = 2P + pf_r + dc_r (+ overhead).
    32 output tokens: decode is short, the mean (the first wave's early first tokens) falls below
    prefill(B) and the floor applies; 1024 output tokens: the waits dominate, the mean applies.
    """
    spec, inp = scenario_inputs(GEMMA["model"], GEMMA["hardware"], profiles=UNCAL, input_tokens=1024,
                                output_tokens=output_tokens, batch_size=1)
    c = int(engine.concurrency(spec, _with_batch(inp, 10**6))[0][0])
    r = 5
    B = 2 * c + r
    est = engine.estimate(spec, _with_batch(inp, B))
    assert float(est.extra["waves"][0]) == 3 and float(est.extra["concurrency"][0]) == c

    def wave(n):
        w = _with_batch(inp, n)
        return float(engine.prefill(spec, w).time[0]), float(engine.decode(spec, w).time[0])

    pf_c, dc_c = wave(c)
    pf_r, dc_r = wave(r)
    pf_all, _ = wave(B)
    P = pf_c + dc_c
    ovh = float(inp.eff["request_overhead_s"][0])
    firsts = [k * P + pf_c for k in range(2) for _ in range(c)] + [2 * P + pf_r] * r
    mean = sum(firsts) / B
    assert (pf_all > mean) == floored
    assert float(est.ttft_s[0]) == pytest.approx(max(mean, pf_all) + ovh, rel=1e-12)
    assert float(est.e2e_s[0]) == pytest.approx(2 * P + pf_r + dc_r + ovh, rel=1e-12)
    # the phase totals cover every wave
    assert float(est.prefill.time[0]) == pytest.approx(2 * pf_c + pf_r + ovh, rel=1e-12)
    assert float(est.decode.time[0]) == pytest.approx(2 * dc_c + dc_r, rel=1e-12)


def _with_batch(inp, n):
    w = inp.take(np.arange(1))
    w.B = np.array([float(n)])
    return w


# ----------------------------------------------------------------------------------------------
# invariants over a small sweep
# ----------------------------------------------------------------------------------------------

_MODELS = {"meta-llama/Llama-3.1-8B": 16384, "mistralai/Mistral-7B-v0.1": 16384, "google/gemma-2-9b": 8192,
           "google/gemma-3-4b-pt": 16384}
_HW = ("H100-SXM-80GB", "A100-SXM-40GB", "L4-24GB")
_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
_PROMPTS = (256, 1024, 4096, 8192, 16384)
_KEYS = ["model", "hardware", "input_tokens", "output_tokens", "batch_size"]


@pytest.fixture(scope="module")
def sweep() -> pl.DataFrame:
    """A coarse grid (4 models × 3 chips × 5 prompts × 10 batches, outputs 1 and 64) plus dense
    prompt and batch lines where the batch runs in waves (a longer prompt lowers the concurrency
    one request at a time there; 1-token outputs are the prefill-dominated extreme)."""
    rows = [dict(model=m, hardware=h, input_tokens=L, output_tokens=o, batch_size=b)
            for m, ctx in _MODELS.items() for h in _HW for L in _PROMPTS if ctx >= L + 64
            for o in (1, 64) for b in _BATCHES]
    dense = [("meta-llama/Llama-3.1-8B", "L4-24GB"), ("google/gemma-2-9b", "A100-SXM-40GB")]
    rows += [dict(model=m, hardware=h, input_tokens=L, output_tokens=o, batch_size=b)
             for m, h in dense for o in (1, 4, 256) for b in (16, 64) for L in range(512, 8000, 61)]
    rows += [dict(model=m, hardware=h, input_tokens=2048, output_tokens=o, batch_size=b)
             for m, h in dense for o in (1, 4, 256) for b in range(1, 300, 7)]
    return _predict(rows).filter(pl.col("status") == "ok").unique(_KEYS, keep="first")


@pytest.mark.parametrize("along", ["batch_size", "input_tokens"])
def test_ttft_and_e2e_never_fall_as_batch_or_prompt_grows(sweep, along):
    assert sweep.height > 1000
    assert (sweep["concurrency"] < sweep["batch_size"]).sum() > 100  # waves are exercised
    bad = []
    for key, grp in sweep.group_by([k for k in _KEYS if k != along]):
        g = grp.sort(along)
        for col in ("ttft_ms", "e2e_latency_ms"):
            v = g[col].to_numpy()
            for i in np.nonzero(np.diff(v) < -1e-9 * v[1:])[0]:
                bad.append((key, along, g[along][i], g[along][i + 1], col, v[i], v[i + 1]))
    assert not bad, bad[:10]


def test_chunked_prefill_never_faster_than_unchunked(sweep):
    """Same scenarios with a chunked-prefill budget: TTFT and e2e never lower (rows whose
    unchunked batch runs in one wave; chunking shrinks the workspace, which may admit more)."""
    one = sweep.filter((pl.col("concurrency") >= pl.col("batch_size")) & pl.col("batch_size").is_in([1, 8, 64])
                       & (pl.col("output_tokens") == 64) & pl.col("input_tokens").is_in(_PROMPTS))
    rows = [dict(model=r["model"], hardware=r["hardware"], input_tokens=r["input_tokens"], output_tokens=64,
                 batch_size=r["batch_size"], chunk_size=c) for r in one.iter_rows(named=True) for c in (512, 2048)]
    ch = _predict(rows).filter(pl.col("status") == "ok")
    j = ch.join(one.select("model", "hardware", "input_tokens", "batch_size", ttft0="ttft_ms", e2e0="e2e_latency_ms"),
                on=["model", "hardware", "input_tokens", "batch_size"])
    assert j.height > 50
    bad = j.filter((pl.col("ttft_ms") < pl.col("ttft0") * (1 - 1e-9))
                   | (pl.col("e2e_latency_ms") < pl.col("e2e0") * (1 - 1e-9)))
    assert bad.height == 0, bad.select("model", "hardware", "input_tokens", "batch_size", "chunk_size", "ttft_ms",
                                       "ttft0").head(10)
