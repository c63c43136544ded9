"""Physics invariants: a generated grid of comparison pairs that must hold on the shipped profiles.

Each :class:`Pair` is a claim ``value(left) <relation> value(right)`` about one output column of
two scenarios (``ttft_ms`` of a B200 is no higher than that of an H100 at the same layout,
chunked prefill is never faster than unchunked, ...). :func:`pairs` generates the grid (about
13,000 pairs over a dozen families, ~3,700 distinct scenarios); :func:`check` predicts every distinct scenario of the grid
with ONE vectorized :func:`genz.predict` call and returns one row per pair with both values and
``ok``.

Families (see each generator for the exact grid)
    ``platform_dominance``  a preset at least as good as another on every spec the engine uses is
                            never slower (TTFT, TPOT, e2e) and never has lower throughput (fixed
                            batch and max load) under the same framework and layout. The relation
                            is derived from the hardware specs, not hard-coded.
    ``spec_scaling``        the same preset (same id, so the same calibrated profile) with one spec
                            improved (HBM bandwidth, HBM capacity, all compute peaks, scale-up
                            bandwidth) is never slower.
    ``tensor_parallel``     batch-1 decode: TP 2k is no slower than TP k (TPOT) while the model's
                            active parameters per device at TP k are >= 7 B, on a scale-up link.
    ``fp8_without_units``   on a chip without fp8 matrix units, fp8 weights+activations are not
                            faster than bf16 in a large-batch prefill (TTFT).
    ``weight_only``         weight-only formats (awq, gptq, w4a16, int4_wo, int8_wo) keep a 16-bit
                            KV cache (same KV bytes as bf16) and compute at the 16-bit rate
                            (large-batch prefill not faster than bf16).
    ``chunked_prefill``     chunked prefill is never faster than unchunked (TTFT, e2e).
    ``batch_growth``        TTFT and e2e never fall as the batch grows; TPOT never falls and
                            throughput per device never falls while the larger batch runs in one
                            wave (see below). The throughput claim is physical there (dp = 1, no
                            chunking): a batched iteration never costs more than running its
                            sequences in smaller batches, so time(B)/B cannot rise with B (weights
                            are read once per step, fixed per-step costs amortize, the GEMM
                            efficiency M/(M + m_half) only improves). It is NOT claimed across
                            waves (B+1 requests in two waves do more passes than B in one) nor with
                            dp > 1 (ceil(B/dp) per replica: 3 requests on 2 replicas take as long
                            as 4).
    ``prompt_growth``       TTFT and e2e never fall as the prompt grows; TPOT never falls while the
                            longer-prompt batch runs in one wave.
    ``output_growth``       e2e and TTFT never fall as the output grows.
    ``fp8_kv``              an fp8 KV cache is never slower than bf16 KV (decode TPOT while the bf16
                            batch runs in one wave, e2e always; max-load throughput never lower).
    ``data_parallel``       more replicas at the same TP and total batch never lower throughput or
                            raise latency.
    ``speculative``         higher acceptance is never slower; zero acceptance is never faster than
                            no speculation.

Why some claims are conditional (``when``)
    When a batch's KV cache does not fit, the engine runs it in waves and reports the TPOT of one
    wave. A request in a smaller wave really does decode faster, so TPOT and throughput per device
    (a batch that needs ``k+1`` waves does more passes than one that fits) are only compared while
    the batch on the side claimed to be slower-or-equal runs in one wave. TTFT and e2e are compared
    unconditionally: physically the requests of a later wave wait for the earlier ones, so a
    bigger batch (or a longer prompt, or less HBM) can never lower them.

Skipped pairs
    A pair is skipped (``ok`` null) when its reference side (``need``: the right scenario, or both)
    does not run (``does_not_fit`` / error) or its ``when`` condition is false. When the reference
    runs and the other side does not, that is a violation: e.g. a platform with more memory that
    cannot hold what a smaller one holds.

Tolerance (relative)
    ``TOL_EXACT = 1e-6`` where both sides share the preset, profile, layout and dtypes and differ
    only by a continuous quantity (batch, prompt, output, one scaled hardware spec): the engine
    should satisfy these exactly, the tolerance only absorbs float rounding.
    ``TOL_DISCRETE = 0.5 %`` where the sides differ by a discrete choice (another platform and so
    another calibrated profile, a TP/DP layout, a dtype, chunking, speculation): small model-form
    effects (e.g. an element-wise op moving half the bytes in fp8) are tolerated, real inversions
    are not.
"""

from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import polars as pl
import yaml

from ..catalog import dtypes
from ..catalog.hardware import Hardware, all_hardware, get_hardware
from ..catalog.units import GB, TFLOPS
from ..catalog.zoo import get_model
from ..perf.predict import predict_frame
from ..perf.profiles import PACKAGED, ProfileSet, default_profiles, load_profiles

TOL_EXACT = 1e-6
TOL_DISCRETE = 5e-3

#: framework cells used for "under the same framework" (None = generic)
FRAMEWORKS = (None, "vLLM", "TensorRT-LLM")

#: activation dtypes whose matrix rate the dominance relation compares (the engine's rate per dtype)
RATE_DTYPES = ("bf16", "fp16", "fp8", "int8", "fp4", "int4")

#: weight-only formats (16-bit activations and KV cache)
WEIGHT_ONLY = ("awq", "gptq", "w4a16", "int4_wo", "int8_wo")

#: synthetic hardware variants: one spec improved on an unchanged preset id (same profile)
VARIANTS = {
    "hbm_bw×1.5": ("hbm_bw", 1.5),
    "hbm_gb×1.5": ("hbm_gb", 1.5),
    "compute×1.5": ("compute", 1.5),
    "scale_up_bw×2": ("scale_up_bw", 2.0),
}
VARIANT_SEP = "~"

LOWER = ("ttft_ms", "tpot_ms", "e2e_latency_ms")  # lower is better
HIGHER = ("throughput_tok_s", "throughput_tok_s_per_device", "max_throughput_tok_s")  # higher is better


@dataclass(frozen=True)
class Pair:
    """Claim ``value(left) <relation> value(right)`` for output column ``metric``, within ``tol``.

    ``need``: ``'right'`` — skipped unless the right scenario runs (the left must then run too);
    ``'both'`` — skipped unless both run. ``when``: extra condition on the predictions
    (``'left_one_wave'``, ``'right_one_wave'``), else skipped.
    """

    family: str
    description: str
    left: tuple  # scenario as sorted (column, value) items
    right: tuple
    metric: str
    relation: str  # '<=', '>=', '=='
    tol: float
    need: str = "right"
    when: str | None = None

    @property
    def left_scenario(self) -> dict:
        return dict(self.left)

    @property
    def right_scenario(self) -> dict:
        return dict(self.right)


def scenario(model: str, hardware: str, *, input_tokens: int, output_tokens: int, batch_size: int, tp: int = 1,
             framework: str | None = None, **kw) -> tuple:
    """A scenario as a hashable, sorted tuple of (column, value) items (None values dropped)."""
    d = {"model": model, "hardware": hardware, "input_tokens": input_tokens, "output_tokens": output_tokens,
         "batch_size": batch_size, "tp": tp, "framework": framework, **kw}
    return tuple(sorted((k, v) for k, v in d.items() if v is not None))


def _with(sc: tuple, **kw) -> tuple:
    d = dict(sc)
    d.update(kw)
    return tuple(sorted((k, v) for k, v in d.items() if v is not None))


def describe(sc: tuple | dict) -> str:
    """Compact one-line text of a scenario."""
    d = dict(sc)
    parts = [str(d.get("model", "")).split("/")[-1], str(d.get("hardware", "")),
             f"tp{d.get('tp', 1)}", f"b{d.get('batch_size')}", f"{d.get('input_tokens')}/{d.get('output_tokens')}",
             str(d.get("framework") or "generic")]
    skip = {"model", "hardware", "tp", "batch_size", "input_tokens", "output_tokens", "framework"}
    parts += [f"{k}={v}" for k, v in sorted(d.items()) if k not in skip]
    return " ".join(parts)


def _claims(family, desc, left, right, metrics, tol, need="right", when=None, better=True) -> list[Pair]:
    """Pairs for ``metrics``: ``better=True`` claims the left is no worse (lower latency, higher
    throughput); ``better=False`` claims the left is no better."""
    out = []
    for m in metrics:
        w = when.get(m) if isinstance(when, dict) else when
        lower = m in LOWER
        rel = ("<=" if lower else ">=") if better else (">=" if lower else "<=")
        out.append(Pair(family, desc, left, right, m, rel, tol, need, w))
    return out


# ----------------------------------------------------------------------------------------------
# hardware relations, derived from the presets' specs
# ----------------------------------------------------------------------------------------------


def matrix_rate(h: Hardware, dtype: str) -> float:
    """FLOP/s the engine computes ``dtype`` at on ``h`` (its own rate or the fallback), 0 if none."""
    try:
        return h.peak_flops[dtypes.compute_rate_key(dtype, h.peak_flops)]
    except Exception:  # noqa: BLE001 - no usable rate
        return 0.0


def spec_vector(h: Hardware, devices: int) -> list[float]:
    """Every spec the engine uses, oriented so that larger is better, for a ``devices``-device layout.

    Matrix rate per activation dtype, vector rate, HBM capacity and bandwidth, scale-up bandwidth
    and latency, scale-up domain (only up to the layout's device count: a bigger domain cannot
    matter once the layout fits in it), scale-out bandwidth and latency, host link and host memory
    per device. Not compared: SRAM (the engine does not use it), power and price.
    """
    return [*(matrix_rate(h, d) for d in RATE_DTYPES), h.vector_flops, h.hbm_bytes, h.hbm_bw, h.scaleup_bw,
            -h.scaleup_latency, float(min(h.scaleup_domain, devices)), h.scaleout_bw, -h.scaleout_latency,
            h.host_bw, h.host_bytes / max(min(h.scaleup_domain, 8), 1)]


def dominates(a: Hardware, b: Hardware, devices: int = 1) -> bool:
    """``a`` is at least as good as ``b`` on every spec (and differs on one) for ``devices`` devices."""
    va, vb = spec_vector(a, devices), spec_vector(b, devices)
    return va != vb and all(x >= y for x, y in zip(va, vb))


def dominance_pairs(devices: int = 1) -> list[tuple[str, str]]:
    """(better, worse) preset ids, every ordered pair where the first dominates the second."""
    hws = all_hardware()
    return [(a.id, b.id) for a in hws for b in hws if a.id != b.id and dominates(a, b, devices)]


def _fit_tp(model: str, h: Hardware, *, max_tp: int = 8, fraction: float = 0.7) -> int | None:
    """Smallest TP (power of two, dividing the heads) whose bf16 weights take <= ``fraction`` of HBM."""
    spec = get_model(model)
    heads = spec.attention_heads()
    for tp in (1, 2, 4, 8):
        if tp > max_tp or (heads and heads % tp):
            continue
        if 2.0 * spec.params_total / tp <= fraction * h.hbm_bytes:
            return tp
    return None


def _setups(hardware, models, *, max_dp: int = 1):
    """(hardware, model, tp, framework) for every hardware × model that fits (:func:`_fit_tp`) × framework,
    in that nesting order. ``hardware`` holds preset ids or :class:`Hardware`; with ``max_dp`` > 1 only
    layouts whose ``max_dp`` replicas of TP still fit one scale-up domain."""
    for h in hardware:
        hw = h if isinstance(h, Hardware) else get_hardware(h)
        for model in models:
            tp = _fit_tp(model, hw)
            if tp is None or (max_dp > 1 and max_dp * tp > hw.scaleup_domain):
                continue
            for fw in FRAMEWORKS:
                yield hw, model, tp, fw


# ----------------------------------------------------------------------------------------------
# families
# ----------------------------------------------------------------------------------------------

DOMINANCE_MODELS = ("meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-70B", "mistralai/Mixtral-8x7B-v0.1",
                    "Qwen/Qwen2.5-14B")
#: (batch, prompt, output): a latency point and a loaded point
DOMINANCE_WORKLOADS = ((1, 1024, 256), (64, 2048, 256))


def platform_dominance() -> list[Pair]:
    out: list[Pair] = []
    hw = {h.id: h for h in all_hardware()}
    for model in DOMINANCE_MODELS:
        for worse in hw.values():
            tp = _fit_tp(model, worse)
            if tp is None:
                continue
            for better in hw.values():
                if better.id == worse.id or not dominates(better, worse, tp):
                    continue
                for fw in FRAMEWORKS:
                    for k, (b, L, O) in enumerate(DOMINANCE_WORKLOADS):
                        r = scenario(model, worse.id, input_tokens=L, output_tokens=O, batch_size=b, tp=tp,
                                     framework=fw)
                        left = _with(r, hardware=better.id)
                        desc = f"{better.id} >= {worse.id} on every spec: no slower"
                        metrics: tuple[str, ...] = ("ttft_ms", "tpot_ms", "e2e_latency_ms", "throughput_tok_s")
                        if k == len(DOMINANCE_WORKLOADS) - 1:
                            metrics += ("max_throughput_tok_s",)
                        out += _claims("platform_dominance", desc, left, r, metrics, TOL_DISCRETE,
                                       when={"tpot_ms": "right_one_wave"})
    return out


SCALING_PRESETS = ("H100-SXM-80GB", "A100-SXM-80GB", "MI300X", "L40S-48GB")
#: latency point, loaded point, and a point whose KV exceeds HBM on the smaller presets (waves)
SCALING_WORKLOADS = ((1, 1024, 256), (64, 2048, 256), (256, 4096, 1024))


def variant_name(preset: str, variant: str) -> str:
    return f"{preset}{VARIANT_SEP}{variant}"


def spec_scaling() -> list[Pair]:
    out: list[Pair] = []
    for h, model, tp, fw in _setups(SCALING_PRESETS, ("meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-70B")):
        for b, L, O in SCALING_WORKLOADS:
            r = scenario(model, h.id, input_tokens=L, output_tokens=O, batch_size=b, tp=tp, framework=fw)
            for v in VARIANTS:
                if v.startswith("scale_up") and tp == 1:
                    continue  # no collectives at TP 1
                left = _with(r, hardware=variant_name(h.id, v))
                out += _claims("spec_scaling", f"{h.id} with {v} (same profile): no slower", left, r,
                               ("ttft_ms", "tpot_ms", "e2e_latency_ms", "throughput_tok_s",
                                "max_throughput_tok_s"), TOL_EXACT, when={"tpot_ms": "right_one_wave"})
    return out


TP_MODELS = ("meta-llama/Llama-3.1-8B", "Qwen/Qwen2.5-7B", "mistralai/Mixtral-8x7B-v0.1", "Qwen/Qwen2.5-14B",
             "meta-llama/Llama-3.1-70B", "Qwen/Qwen2.5-72B")
#: a scale-up link (NVLink, Infinity Fabric, ICI...), not PCIe: at least this bandwidth per direction
SCALE_UP_LINK_BPS = 200e9


def tensor_parallel() -> list[Pair]:
    out: list[Pair] = []
    hws = [h for h in all_hardware() if h.scaleup_bw >= SCALE_UP_LINK_BPS]
    for model in TP_MODELS:
        spec = get_model(model)
        heads = spec.attention_heads()
        for k in (1, 2, 4):
            if spec.params_active / k < 7e9 or heads % (2 * k):
                continue
            for h in hws:
                if h.scaleup_domain < 2 * k:
                    continue
                for fw in FRAMEWORKS:
                    r = scenario(model, h.id, input_tokens=1024, output_tokens=256, batch_size=1, tp=k, framework=fw)
                    left = _with(r, tp=2 * k)
                    desc = f"batch-1 decode, {spec.params_active / k / GB:.0f} B active params per device: TP{2 * k} no slower than TP{k}"
                    out += _claims("tensor_parallel", desc, left, r, ("tpot_ms",), TOL_DISCRETE)
    return out


def fp8_without_units() -> list[Pair]:
    out: list[Pair] = []
    hws = [h for h in all_hardware() if "fp8" not in h.peak_flops]
    for h, model, tp, fw in _setups(hws, ("meta-llama/Llama-3.1-8B", "Qwen/Qwen2.5-14B", "meta-llama/Llama-3.1-70B")):
        r = scenario(model, h.id, input_tokens=2048, output_tokens=16, batch_size=8, tp=tp, framework=fw,
                     weight_dtype="bf16", act_dtype="bf16", kv_dtype="bf16")
        for kv in ("bf16", "fp8"):
            left = _with(r, weight_dtype="fp8", act_dtype="fp8", kv_dtype=kv)
            desc = f"{h.id} has no fp8 units: fp8 weights+activations (kv {kv}) prefill not faster than bf16"
            out += _claims("fp8_without_units", desc, left, r, ("ttft_ms",), TOL_DISCRETE, better=False)
    return out


def weight_only() -> list[Pair]:
    out: list[Pair] = []
    models = ("meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-70B", "mistralai/Mixtral-8x7B-v0.1")
    for h, model, tp, fw in _setups(("H100-SXM-80GB", "A100-SXM-80GB", "MI300X", "L40S-48GB"), models):
        # KV bytes: a small batch that fits in one wave on both sides
        r = scenario(model, h.id, input_tokens=2048, output_tokens=256, batch_size=4, tp=tp, framework=fw)
        rp = scenario(model, h.id, input_tokens=2048, output_tokens=16, batch_size=8, tp=tp, framework=fw)
        for wd in WEIGHT_ONLY:
            out.append(Pair("weight_only", f"weight-only {wd} keeps a 16-bit KV cache: KV bytes = bf16's",
                            _with(r, weight_dtype=wd), _with(r, weight_dtype="bf16"),
                            "kv_cache_per_device_gb", "==", TOL_EXACT))
            out += _claims("weight_only", f"weight-only {wd} computes at the 16-bit rate: prefill not "
                           "faster than bf16", _with(rp, weight_dtype=wd), _with(rp, weight_dtype="bf16"),
                           ("ttft_ms",), TOL_DISCRETE, better=False)
    return out


def chunked_prefill() -> list[Pair]:
    out: list[Pair] = []
    models = ("meta-llama/Llama-3.1-8B", "mistralai/Mistral-7B-v0.1", "google/gemma-2-9b",
              "mistralai/Mixtral-8x7B-v0.1", "Qwen/Qwen2.5-14B")
    for h, model, tp, fw in _setups(("H100-SXM-80GB", "A100-SXM-80GB", "MI300X"), models):
        for b, L in ((1, 8192), (8, 2048), (1, 16384)):
            r = scenario(model, h.id, input_tokens=L, output_tokens=64, batch_size=b, tp=tp, framework=fw)
            for chunk in (512, 2048):
                desc = f"chunked prefill ({chunk} tokens) not faster than unchunked"
                out += _claims("chunked_prefill", desc, _with(r, chunk_size=chunk), r,
                               ("ttft_ms", "e2e_latency_ms"), TOL_DISCRETE, better=False)
    return out


GROWTH_HW = ("H100-SXM-80GB", "A100-SXM-40GB", "L40S-48GB")
GROWTH_MODELS = ("meta-llama/Llama-3.1-8B", "mistralai/Mixtral-8x7B-v0.1", "google/gemma-2-9b")


def batch_growth() -> list[Pair]:
    out: list[Pair] = []
    batches = (1, 4, 16, 64, 256)
    for h, model, tp, fw in _setups(GROWTH_HW, GROWTH_MODELS):
        for L, O in ((1024, 256), (4096, 1024)):
            for b0, b1 in pairwise(batches):
                r = scenario(model, h.id, input_tokens=L, output_tokens=O, batch_size=b0, tp=tp, framework=fw)
                left = _with(r, batch_size=b1)
                desc = f"batch {b0} -> {b1}"
                out += _claims("batch_growth", desc + ": TTFT, e2e never fall", left, r,
                               ("ttft_ms", "e2e_latency_ms"), TOL_EXACT, better=False)
                out += _claims("batch_growth", desc + " (one wave): TPOT never falls", left, r,
                               ("tpot_ms",), TOL_EXACT, better=False, when="left_one_wave")
                out += _claims("batch_growth", desc + " (one wave): throughput per device never falls",
                               left, r, ("throughput_tok_s_per_device",), TOL_EXACT, when="left_one_wave")
    return out


def prompt_growth() -> list[Pair]:
    out: list[Pair] = []
    prompts = (512, 2048, 8192, 32768)
    models = ("meta-llama/Llama-3.1-8B", "mistralai/Mistral-7B-v0.1", "google/gemma-2-9b",
              "mistralai/Mixtral-8x7B-v0.1", "Qwen/Qwen2.5-14B")
    for h, model, tp, fw in _setups(("H100-SXM-80GB", "A100-SXM-40GB"), models):
        for b in (1, 16):
            for L0, L1 in pairwise(prompts):
                r = scenario(model, h.id, input_tokens=L0, output_tokens=128, batch_size=b, tp=tp, framework=fw)
                left = _with(r, input_tokens=L1)
                desc = f"prompt {L0} -> {L1}"
                out += _claims("prompt_growth", desc + ": TTFT, e2e never fall", left, r,
                               ("ttft_ms", "e2e_latency_ms"), TOL_EXACT, need="both", better=False)
                out += _claims("prompt_growth", desc + " (one wave): TPOT never falls", left, r,
                               ("tpot_ms",), TOL_EXACT, need="both", better=False, when="left_one_wave")
    return out


def output_growth() -> list[Pair]:
    out: list[Pair] = []
    outputs = (64, 256, 1024, 4096)
    for h, model, tp, fw in _setups(("H100-SXM-80GB", "L40S-48GB"),
                                    ("meta-llama/Llama-3.1-8B", "mistralai/Mixtral-8x7B-v0.1")):
        for b in (1, 64):
            for O0, O1 in pairwise(outputs):
                r = scenario(model, h.id, input_tokens=2048, output_tokens=O0, batch_size=b, tp=tp,
                             framework=fw)
                out += _claims("output_growth", f"output {O0} -> {O1}: e2e, TTFT never fall",
                               _with(r, output_tokens=O1), r, ("e2e_latency_ms", "ttft_ms"), TOL_EXACT,
                               need="both", better=False)
    return out


def fp8_kv() -> list[Pair]:
    out: list[Pair] = []
    hws = [h for h in all_hardware() if "fp8" in h.peak_flops and h.id in (
        "H100-SXM-80GB", "H200-SXM-141GB", "MI300X", "L40S-48GB", "B200-SXM-180GB")]
    models = ("meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-70B", "mistralai/Mixtral-8x7B-v0.1",
              "Qwen/Qwen2.5-14B")
    for h, model, tp, fw in _setups(hws, models):
        r = scenario(model, h.id, input_tokens=4096, output_tokens=256, batch_size=32, tp=tp, framework=fw,
                     weight_dtype="bf16", act_dtype="bf16", kv_dtype="bf16")
        left = _with(r, kv_dtype="fp8")
        out += _claims("fp8_kv", "fp8 KV never slower than bf16 KV", left, r,
                       ("tpot_ms", "e2e_latency_ms", "max_throughput_tok_s"), TOL_DISCRETE,
                       when={"tpot_ms": "right_one_wave"})
    return out


def data_parallel() -> list[Pair]:
    out: list[Pair] = []
    for h, model, tp, fw in _setups(("H100-SXM-80GB", "A100-SXM-80GB", "MI300X"),
                                    ("meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-70B"),
                                    max_dp=2):
        for b in (8, 64):
            r = scenario(model, h.id, input_tokens=2048, output_tokens=256, batch_size=b, tp=tp, framework=fw)
            left = _with(r, dp=2)
            out += _claims("data_parallel", f"2 replicas of TP{tp} vs 1, same total batch: no slower", left,
                           r, ("ttft_ms", "tpot_ms", "e2e_latency_ms", "throughput_tok_s",
                               "max_throughput_tok_s"), TOL_DISCRETE)
    return out


def speculative() -> list[Pair]:
    out: list[Pair] = []
    for h, model, tp, fw in _setups(("H100-SXM-80GB", "MI300X"),
                                    ("meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-70B")):
        r = scenario(model, h.id, input_tokens=1024, output_tokens=256, batch_size=4, tp=tp, framework=fw)
        spec = {"draft_model": "eagle", "spec_tokens": 3}
        hi = _with(r, acceptance_rate=0.8, **spec)
        lo = _with(r, acceptance_rate=0.5, **spec)
        zero = _with(r, acceptance_rate=0.0, **spec)
        out += _claims("speculative", "acceptance 0.8 no slower than 0.5", hi, lo,
                       ("tpot_ms", "e2e_latency_ms"), TOL_DISCRETE)
        out += _claims("speculative", "acceptance 0 not faster than no speculation", zero, r,
                       ("tpot_ms", "e2e_latency_ms"), TOL_DISCRETE, better=False)
    return out


FAMILIES = {
    "platform_dominance": platform_dominance,
    "spec_scaling": spec_scaling,
    "tensor_parallel": tensor_parallel,
    "fp8_without_units": fp8_without_units,
    "weight_only": weight_only,
    "chunked_prefill": chunked_prefill,
    "batch_growth": batch_growth,
    "prompt_growth": prompt_growth,
    "output_growth": output_growth,
    "fp8_kv": fp8_kv,
    "data_parallel": data_parallel,
    "speculative": speculative,
}


def pairs(families: list[str] | None = None) -> list[Pair]:
    """The invariant grid (all families, or those named)."""
    out: list[Pair] = []
    for name, gen in FAMILIES.items():
        if families is None or name in families:
            out += gen()
    return out


# ----------------------------------------------------------------------------------------------
# checking
# ----------------------------------------------------------------------------------------------


def _variant_yaml(preset: str, variant: str) -> dict:
    """The preset's YAML mapping with one spec scaled (id unchanged, so the profile is the preset's)."""
    h = get_hardware(preset)
    d = copy.deepcopy(h.raw)
    what, f = VARIANTS[variant]
    if what == "hbm_bw":
        d.setdefault("memory", {})["hbm_gb_per_s"] = h.hbm_bw / GB * f
    elif what == "hbm_gb":
        d.setdefault("memory", {})["hbm_gb"] = h.hbm_bytes / GB * f
    elif what == "compute":
        d["compute_tflops"] = {k: v / TFLOPS * f for k, v in h.peak_flops.items()}
        d["vector_tflops_fp32"] = h.vector_flops / TFLOPS * f
    elif what == "scale_up_bw":
        d.setdefault("scale_up", {})["gb_per_s"] = h.scaleup_bw / GB * f
    return d


def _materialize(names: list[str], folder: Path) -> dict[str, str]:
    """Write a YAML per synthetic variant name; returns name -> path."""
    out = {}
    for i, name in enumerate(names):
        preset, variant = name.split(VARIANT_SEP, 1)
        p = folder / f"variant{i}.yaml"
        p.write_text(yaml.safe_dump(_variant_yaml(preset, variant), sort_keys=False), encoding="utf-8")
        out[name] = str(p)
    return out


def _profiles(profiles) -> ProfileSet:
    if profiles is None:
        return default_profiles(PACKAGED)
    if isinstance(profiles, ProfileSet):
        return profiles
    return load_profiles(profiles)


def predict_scenarios(scenarios: list[tuple], profiles=None) -> pl.DataFrame:
    """Predict distinct scenarios in ONE :func:`genz.predict` call; row ``i`` is ``scenarios[i]``."""
    cols = sorted({k for sc in scenarios for k, _ in sc})
    data: dict[str, list[str | None]] = {c: [None] * len(scenarios) for c in cols}
    for i, sc in enumerate(scenarios):
        for k, v in sc:
            data[k][i] = None if v is None else str(v)
    frame = pl.DataFrame(data, schema=dict.fromkeys(cols, pl.String))
    variants = sorted({h for h in frame.get_column("hardware").to_list() if VARIANT_SEP in h})
    with tempfile.TemporaryDirectory(prefix="genz-invariants-") as tmp:
        if variants:
            paths = _materialize(variants, Path(tmp))
            frame = frame.with_columns(pl.col("hardware").replace(paths))
        out = predict_frame(frame, _profiles(profiles))
    return out


def check(profiles=None, families: list[str] | None = None, grid: list[Pair] | None = None) -> pl.DataFrame:
    """Evaluate every pair; one row per pair.

    Columns: ``family, description, metric, relation, tol, left, right`` (scenario text),
    ``left_value, right_value, left_status, right_status``, ``ok`` (null when skipped) and
    ``note`` (why skipped / why it fails when a side does not run). ``profiles``: None = the
    shipped snapshot (``genz/data/calibration/profiles.json``), or a :class:`ProfileSet` / path.
    """
    grid = pairs(families) if grid is None else grid
    scen: dict[tuple, int] = {}
    for p in grid:
        for sc in (p.left, p.right):
            scen.setdefault(sc, len(scen))
    pred = predict_scenarios(list(scen), profiles)
    status = np.array(pred.get_column("status").to_list(), dtype=object)
    batch = pred.get_column("batch_size").cast(pl.Float64).to_numpy()
    conc = pred.get_column("concurrency").to_numpy()
    one_wave = np.nan_to_num(conc, nan=-1.0) >= batch - 1e-9
    metrics = sorted({p.metric for p in grid})
    values = {m: pred.get_column(m).to_numpy().astype(float) for m in metrics}

    li = np.array([scen[p.left] for p in grid], dtype=np.int64)
    ri = np.array([scen[p.right] for p in grid], dtype=np.int64)
    lv = np.array([values[p.metric][i] for p, i in zip(grid, li)])
    rv = np.array([values[p.metric][i] for p, i in zip(grid, ri)])
    lok = (status[li] == "ok") & np.isfinite(lv)
    rok = (status[ri] == "ok") & np.isfinite(rv)
    need_both = np.array([p.need == "both" for p in grid])
    tol = np.array([p.tol for p in grid])
    rel = np.array([p.relation for p in grid])
    with np.errstate(invalid="ignore"):
        holds = np.where(rel == "<=", lv <= rv * (1 + tol) + 1e-12,
                         np.where(rel == ">=", lv >= rv * (1 - tol) - 1e-12,
                                  np.abs(lv - rv) <= tol * np.maximum(np.abs(lv), np.abs(rv)) + 1e-12))
    cond = np.ones(len(grid), dtype=bool)
    for i, p in enumerate(grid):
        if p.when == "left_one_wave":
            cond[i] = one_wave[li[i]]
        elif p.when == "right_one_wave":
            cond[i] = one_wave[ri[i]]
    skipped = ~rok | (need_both & ~lok) | ~cond
    ok = np.where(skipped, np.array(None, dtype=object), np.where(lok, holds, False))
    note = np.full(len(grid), "", dtype=object)
    for i in np.nonzero(skipped | ~lok)[0].tolist():
        if not rok[i]:
            note[i] = f"skipped: right does not run ({status[ri[i]]})"
        elif not lok[i]:
            note[i] = "skipped: left does not run" if need_both[i] else f"left does not run ({status[li[i]]})"
        elif not cond[i]:
            note[i] = f"skipped: {grid[i].when} is false"
    texts = {sc: describe(sc) for sc in scen}
    return pl.DataFrame({
        "family": [p.family for p in grid],
        "description": [p.description for p in grid],
        "metric": [p.metric for p in grid],
        "relation": rel.tolist(),
        "tol": tol,
        "left": [texts[p.left] for p in grid],
        "right": [texts[p.right] for p in grid],
        "left_value": lv,
        "right_value": rv,
        "left_status": status[li].tolist(),
        "right_status": status[ri].tolist(),
        "ok": pl.Series("ok", ok.tolist(), dtype=pl.Boolean),
        "note": note.tolist(),
    }, strict=False)


def summary(result: pl.DataFrame) -> pl.DataFrame:
    """Per family: pairs, checked, skipped, failing."""
    return (result.group_by("family", maintain_order=True)
            .agg(pairs=pl.len(), checked=pl.col("ok").is_not_null().sum(),
                 skipped=pl.col("ok").is_null().sum(), failing=(~pl.col("ok")).sum())
            .sort("family"))


__all__ = ["FAMILIES", "TOL_DISCRETE", "TOL_EXACT", "Pair", "check", "dominance_pairs", "dominates", "pairs",
           "spec_vector", "summary"]
