#!/usr/bin/env python3
"""Measure LLM inference latency and GEMM throughput on one GPU, for genz calibration.

Self-contained: needs only PyTorch and Hugging Face transformers; downloads nothing.
Decoder models are built from hard-coded config fields (as in their Hugging Face
config.json) with random bf16 weights, and timed with ``model.generate`` (eager
PyTorch, SDPA attention, DynamicCache).

What is measured
----------------
1. End-to-end latency, per model x batch x (input, output) shape:
     ttft_ms        generate(max_new_tokens=1): prefill + first token;
                    1 warm-up, then median of 3 runs.
     e2e_latency_ms generate(max_new_tokens=min_new_tokens=output): prefill +
                    all output tokens (EOS cannot stop it early);
                    1 short warm-up (decode kernels; prefill already warm from
                    the TTFT runs), then median of 2 full-length runs.
     tpot_ms        (e2e - ttft) / (output - 1): one decode step of the whole batch.
   Times are wall-clock (perf_counter) between torch.cuda.synchronize() calls;
   CUDA-event times are printed next to them as a cross-check.
2. GEMM micro-benchmark: y = x @ W^T (the nn.Linear layout, W is [N, K]) in
   bf16, and fp8 (torch._scaled_mm, per-tensor scales) where it works. L2 is
   flushed before every timed run so that weight reads come from HBM as in
   decode. Median of 20 runs after 5 warm-ups.

Outputs (in --out, default $OUT, else ./out)
--------------------------------------------
   measurements.csv  same columns as calibration/measurements/calibration.csv
   gemm.csv          hardware,dtype,m,n,k,median_ms,tflops,gb_per_s
   env.txt           versions, GPU, nvidia-smi -q
   log.txt           copy of the progress lines printed to stdout
Rows are appended and flushed as soon as each is measured, so a run that is
killed part-way still leaves everything measured up to then.

Usage
-----
   python benchmarks/device/measure_gpu.py                  # full GPU run, ~6 min on an H100
   python benchmarks/device/measure_gpu.py --smoke --out /tmp/smoke   # CPU code-path test, < 1 min
   python benchmarks/device/measure_gpu.py --models Llama-3.2-1B --skip-gemm
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import functools
import gc
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import traceback

import torch

T_START_S = time.perf_counter()  # the run's time budget is counted from here

CSV_COLUMNS = [
    "source", "framework", "model", "hardware", "num_devices", "tp", "pp", "ep",
    "weight_dtype", "act_dtype", "kv_dtype", "batch_size", "input_tokens",
    "output_tokens", "metric", "value", "unit",
]
GEMM_COLUMNS = ["hardware", "dtype", "m", "n", "k", "median_ms", "tflops", "gb_per_s"]

# --------------------------------------------------------------------------------------
# Model architectures: the fields of each model's Hugging Face config.json that matter
# for cost. rope_scaling (Llama 3.x) is left out: it only changes the rotary
# frequencies, not the work done, and its key changed between transformers versions.
# Listed small to large; the run stops starting new models once the budget is spent.
# --------------------------------------------------------------------------------------
FULL_MODELS: list[tuple[str, dict]] = [
    ("Qwen/Qwen2.5-0.5B", dict(
        model_type="qwen2", hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
        num_attention_heads=14, num_key_value_heads=2, vocab_size=151936,
        tie_word_embeddings=True, rope_theta=1000000.0, rms_norm_eps=1e-6,
        max_position_embeddings=32768, use_sliding_window=False, hidden_act="silu")),
    ("meta-llama/Llama-3.2-1B", dict(
        model_type="llama", hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
        num_attention_heads=32, num_key_value_heads=8, head_dim=64, vocab_size=128256,
        tie_word_embeddings=True, rope_theta=500000.0, rms_norm_eps=1e-5,
        max_position_embeddings=131072, hidden_act="silu")),
    ("mistralai/Mistral-7B-v0.1", dict(
        model_type="mistral", hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=8, vocab_size=32000,
        tie_word_embeddings=False, rope_theta=10000.0, rms_norm_eps=1e-5,
        max_position_embeddings=32768, sliding_window=4096, hidden_act="silu")),
    ("meta-llama/Llama-3.1-8B", dict(
        model_type="llama", hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
        tie_word_embeddings=False, rope_theta=500000.0, rms_norm_eps=1e-5,
        max_position_embeddings=131072, hidden_act="silu")),
    ("Qwen/Qwen1.5-MoE-A2.7B", dict(
        model_type="qwen2_moe", hidden_size=2048, intermediate_size=5632, num_hidden_layers=24,
        num_attention_heads=16, num_key_value_heads=16, vocab_size=151936,
        num_experts=60, num_experts_per_tok=4, moe_intermediate_size=1408,
        shared_expert_intermediate_size=5632, decoder_sparse_step=1, norm_topk_prob=False,
        mlp_only_layers=[], output_router_logits=False, tie_word_embeddings=False,
        rope_theta=1000000.0, rms_norm_eps=1e-6, max_position_embeddings=8192,
        use_sliding_window=False, hidden_act="silu")),
]
FULL_BATCHES = (1, 8, 32)
FULL_SHAPES = ((128, 128), (1024, 128), (512, 512))  # (input_tokens, output_tokens)
FULL_GEMM_M = (1, 16, 64, 256, 1024, 4096, 8192)
FULL_GEMM_NK = ((4096, 4096), (14336, 4096), (4096, 14336), (128256, 4096))  # (N, K)

# --smoke: the same code path on CPU with tiny configs (one per architecture family).
_TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, vocab_size=1000, max_position_embeddings=256)
SMOKE_MODELS: list[tuple[str, dict]] = [
    ("smoke/tiny-qwen2", dict(model_type="qwen2", tie_word_embeddings=True, **_TINY)),
    ("smoke/tiny-llama", dict(model_type="llama", tie_word_embeddings=True, **_TINY)),
    ("smoke/tiny-mistral", dict(model_type="mistral", sliding_window=64, **_TINY)),
    ("smoke/tiny-qwen2-moe", dict(model_type="qwen2_moe", num_experts=4, num_experts_per_tok=2,
                                  moe_intermediate_size=32, shared_expert_intermediate_size=64,
                                  decoder_sparse_step=1, mlp_only_layers=[], **_TINY)),
]
SMOKE_BATCHES = (1, 2)
SMOKE_SHAPES = ((8, 4), (16, 6))
SMOKE_GEMM_M = (1, 16, 64)
SMOKE_GEMM_NK = ((128, 64), (256, 128))


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------
class Log:
    """print() with flush, also copied to <out>/log.txt."""

    def __init__(self) -> None:
        self.file = None

    def open(self, path: str) -> None:
        self.file = open(path, "a", encoding="utf-8")

    def __call__(self, msg: str) -> None:
        line = f"[{elapsed_s():7.1f}s] {msg}"
        print(line, flush=True)
        if self.file:
            self.file.write(line + "\n")
            self.file.flush()


log = Log()


def elapsed_s() -> float:
    return time.perf_counter() - T_START_S


def hardware_id(device_name: str) -> str:
    """Map torch.cuda.get_device_name() to a genz hardware id (raw name if unknown)."""
    name = device_name.upper()
    # PCIe / NVL parts share the chip name but have other clocks, memory and power.
    if "PCIE" in name or "NVL" in name:
        return device_name
    if "H100" in name and ("80GB" in name or "HBM3" in name):
        return "H100-SXM-80GB"
    if "H200" in name:
        return "H200-SXM-141GB"
    return device_name


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_ms(fn, device: torch.device):
    """Run fn() once. Returns (result, wall_ms, cuda_event_ms or None)."""
    start_evt = end_evt = None
    if device.type == "cuda":
        start_evt = torch.cuda.Event(enable_timing=True)
        end_evt = torch.cuda.Event(enable_timing=True)
    sync(device)
    if start_evt is not None:
        start_evt.record()
    t0_s = time.perf_counter()
    result = fn()
    if end_evt is not None:
        end_evt.record()
    sync(device)
    wall_ms = (time.perf_counter() - t0_s) * 1e3
    event_ms = start_evt.elapsed_time(end_evt) if start_evt is not None else None
    return result, wall_ms, event_ms


def is_oom(exc: BaseException) -> bool:
    oom_types = tuple(t for t in (getattr(torch, "OutOfMemoryError", None),
                                  getattr(torch.cuda, "OutOfMemoryError", None)) if t)
    return isinstance(exc, oom_types) or "out of memory" in str(exc).lower()


def free_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


class CsvAppender:
    """CSV file whose rows are written and flushed one at a time."""

    def __init__(self, path: str, columns: list[str]) -> None:
        self.columns = columns
        self.file = open(path, "w", newline="", encoding="utf-8")
        self.writer = csv.writer(self.file)
        self.writer.writerow(columns)
        self.file.flush()
        self.rows = 0

    def write(self, row: dict) -> None:
        self.writer.writerow([row[c] for c in self.columns])
        self.file.flush()
        self.rows += 1

    def close(self) -> None:
        self.file.close()


# --------------------------------------------------------------------------------------
# Environment report
# --------------------------------------------------------------------------------------
def write_env(path: str, device: torch.device, device_name: str, hw_id: str, args) -> None:
    import transformers

    lines = [
        f"date_utc: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
        f"command: {' '.join(sys.argv)}",
        f"args: {vars(args)}",
        f"python: {sys.version.split()[0]}",
        f"platform: {platform.platform()}",
        f"torch: {torch.__version__}",
        f"torch.version.cuda: {torch.version.cuda}",
        f"cudnn: {torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None}",
        f"transformers: {transformers.__version__}",
        f"device: {device}",
        f"device_name: {device_name}",
        f"genz_hardware_id: {hw_id}",
        f"cpu_count: {os.cpu_count()}",
    ]
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        lines += [
            f"compute_capability: {props.major}.{props.minor}",
            f"total_memory_GiB: {props.total_memory / 2**30:.2f}",
            f"multi_processor_count: {props.multi_processor_count}",
        ]
    smi = shutil.which("nvidia-smi")
    if smi:
        for cmd in ([smi], [smi, "-q"]):
            try:
                out = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=30).stdout
            except Exception as exc:  # noqa: BLE001 - best effort only
                out = f"failed: {exc!r}"
            lines += ["", f"===== {' '.join(cmd)} =====", out]
    else:
        lines.append("nvidia-smi: not found")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------
# GEMM micro-benchmark
# --------------------------------------------------------------------------------------
def bench_gemm(device, hw_id, m_list, nk_list, gemm_csv: CsvAppender,
               warmup_runs=5, timed_runs=20) -> None:
    """y[M,N] = x[M,K] @ W[N,K]^T in bf16 (and fp8 via torch._scaled_mm if it works)."""
    # Writing a buffer larger than L2 (50 MB on H100, 60 MB on H200) before every timed run
    # evicts the operands, so small-M GEMMs read W from HBM as they would in decode.
    l2_flush = torch.empty(256 * 2**20, dtype=torch.uint8, device=device) if device.type == "cuda" else None

    def measure(fn) -> float:
        for _ in range(warmup_runs):
            fn()
        times_ms = []
        for _ in range(timed_runs):
            if l2_flush is not None:
                l2_flush.zero_()
            _, wall_ms, event_ms = timed_ms(fn, device)
            times_ms.append(event_ms if event_ms is not None else wall_ms)
        return statistics.median(times_ms)

    def record(dtype_name, m, n, k, median_ms, bytes_moved) -> None:
        tflops = 2.0 * m * n * k / (median_ms * 1e-3) / 1e12
        gb_per_s = bytes_moved / (median_ms * 1e-3) / 1e9
        gemm_csv.write(dict(hardware=hw_id, dtype=dtype_name, m=m, n=n, k=k,
                            median_ms=f"{median_ms:.4f}", tflops=f"{tflops:.2f}",
                            gb_per_s=f"{gb_per_s:.1f}"))
        log(f"gemm {dtype_name:4s} M={m:5d} N={n:6d} K={k:5d}: {median_ms:9.4f} ms "
            f"{tflops:8.2f} TFLOP/s {gb_per_s:8.1f} GB/s")

    # ---- bf16 ----
    for n, k in nk_list:
        try:
            w = torch.randn(n, k, device=device, dtype=torch.bfloat16)
        except Exception as exc:  # noqa: BLE001
            log(f"gemm bf16 N={n} K={k}: skipped ({exc!r})")
            continue
        for m in m_list:
            try:
                x = torch.randn(m, k, device=device, dtype=torch.bfloat16)
                y = torch.empty(m, n, device=device, dtype=torch.bfloat16)
                median_ms = measure(functools.partial(torch.matmul, x, w.t(), out=y))
                record("bf16", m, n, k, median_ms, 2 * (m * k + n * k + m * n))
                del x, y
            except Exception as exc:  # noqa: BLE001
                log(f"gemm bf16 M={m} N={n} K={k}: skipped ({type(exc).__name__}: {exc})")
                free_memory(device)
        del w
        free_memory(device)

    # ---- fp8 (e4m3 inputs, per-tensor scales, bf16 output) ----
    if device.type != "cuda" or not hasattr(torch, "_scaled_mm") or not hasattr(torch, "float8_e4m3fn"):
        return
    fp8 = torch.float8_e4m3fn
    one = torch.tensor(1.0, device=device, dtype=torch.float32)

    def scaled_mm(a, b):
        out = torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
        return out[0] if isinstance(out, tuple) else out  # torch < 2.4 returned (out, amax)

    try:  # probe once; skip fp8 quietly if this torch/GPU cannot do it
        probe = torch.randn(16, 16, device=device).to(fp8)
        scaled_mm(probe, probe.t())
    except Exception as exc:  # noqa: BLE001
        log(f"gemm fp8: torch._scaled_mm not usable here, skipped ({type(exc).__name__})")
        return
    for n, k in nk_list:
        try:
            w8 = torch.randn(n, k, device=device, dtype=torch.bfloat16).to(fp8)  # [N, K] row-major
        except Exception as exc:  # noqa: BLE001
            log(f"gemm fp8 N={n} K={k}: skipped ({type(exc).__name__})")
            continue
        for m in m_list:
            try:
                x8 = torch.randn(m, k, device=device, dtype=torch.bfloat16).to(fp8)
                # w8.t() is [K, N] column-major, the layout _scaled_mm needs for its 2nd operand
                median_ms = measure(functools.partial(scaled_mm, x8, w8.t()))
                record("fp8", m, n, k, median_ms, (m * k + n * k) * 1 + m * n * 2)
                del x8
            except Exception as exc:  # noqa: BLE001 - e.g. M not a multiple of 16
                log(f"gemm fp8 M={m} N={n} K={k}: skipped ({type(exc).__name__}: "
                    f"{str(exc).splitlines()[0][:120] if str(exc) else ''})")
                free_memory(device)
        del w8
        free_memory(device)


# --------------------------------------------------------------------------------------
# End-to-end latency with HF transformers generate
# --------------------------------------------------------------------------------------
def build_model(fields: dict, device: torch.device):
    """Random-weight bf16 model from config fields, built directly on `device`."""
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM

    fields = dict(fields)
    cfg = AutoConfig.for_model(fields.pop("model_type"), **fields)
    # transformers >= 4.56 calls it `dtype`; older versions only know `torch_dtype`.
    major, minor = (int(p) for p in transformers.__version__.split(".")[:2])
    dtype_kw = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
    with torch.device(device):  # allocate + random-init on the GPU (fast; no CPU copy)
        model = AutoModelForCausalLM.from_config(
            cfg, attn_implementation="sdpa", **{dtype_kw: torch.bfloat16})
    model = model.to(device=device, dtype=torch.bfloat16).eval()
    # Random weights: make generate() independent of special tokens. min_new_tokens already
    # forces the full length; pad_token_id just silences the "setting pad_token_id" warning.
    gen_cfg = model.generation_config
    gen_cfg.pad_token_id = 0
    gen_cfg.do_sample = False
    for attr in ("temperature", "top_p", "top_k"):  # avoid "flag ignored" warnings
        if hasattr(gen_cfg, attr):
            setattr(gen_cfg, attr, None)
    return model


def generate_fn(model, input_ids, attention_mask, new_tokens: int):
    def run():
        return model.generate(
            input_ids=input_ids, attention_mask=attention_mask,
            max_new_tokens=new_tokens, min_new_tokens=new_tokens,
            do_sample=False, use_cache=True)
    return run


def bench_model(model_name, fields, device, hw_id, batches, shapes, meas_csv: CsvAppender,
                common_row: dict, hard_limit_s: float, ttft_runs=3, e2e_runs=2,
                e2e_warmup_tokens=16) -> None:
    t_model_s = time.perf_counter()
    model = build_model(fields, device)
    n_params = sum(p.numel() for p in model.parameters())
    impl = f"attn={getattr(model.config, '_attn_implementation', '?')}"
    if hasattr(model.config, "_experts_implementation"):  # transformers 5.x MoE kernels
        impl += f", experts={model.config._experts_implementation}"
    log(f"model {model_name}: built, {n_params / 1e9:.3f} B params, {impl} "
        f"({time.perf_counter() - t_model_s:.1f} s)")
    vocab = fields["vocab_size"]

    try:
        for batch in batches:
            for input_tokens, output_tokens in shapes:
                tag = f"{model_name} bs={batch} in={input_tokens} out={output_tokens}"
                if elapsed_s() > hard_limit_s:
                    log(f"{tag}: skipped (hard time limit {hard_limit_s:.1f} s reached)")
                    continue
                t_cfg_s = time.perf_counter()
                try:
                    gen = torch.Generator(device="cpu").manual_seed(batch * 100003 + input_tokens)
                    input_ids = torch.randint(10, vocab, (batch, input_tokens), generator=gen).to(device)
                    attention_mask = torch.ones_like(input_ids)

                    # --- TTFT: prefill + 1 token. 1 warm-up, median of ttft_runs ---
                    ttft_fn = generate_fn(model, input_ids, attention_mask, 1)
                    ttft_fn()
                    ttft_wall, ttft_evt = [], []
                    for _ in range(ttft_runs):
                        _, wall_ms, event_ms = timed_ms(ttft_fn, device)
                        ttft_wall.append(wall_ms)
                        ttft_evt.append(event_ms)
                    ttft_ms = statistics.median(ttft_wall)

                    # --- E2E: prefill + output_tokens. Short warm-up, median of e2e_runs ---
                    generate_fn(model, input_ids, attention_mask,
                                min(e2e_warmup_tokens, output_tokens))()
                    e2e_fn = generate_fn(model, input_ids, attention_mask, output_tokens)
                    e2e_wall, e2e_evt = [], []
                    for _ in range(e2e_runs):
                        out, wall_ms, event_ms = timed_ms(e2e_fn, device)
                        e2e_wall.append(wall_ms)
                        e2e_evt.append(event_ms)
                    e2e_ms = statistics.median(e2e_wall)
                    produced = out.shape[1] - input_tokens
                    if produced != output_tokens:
                        raise RuntimeError(f"generate produced {produced} tokens, "
                                           f"expected {output_tokens}")
                    del out
                    tpot_ms = (e2e_ms - ttft_ms) / (output_tokens - 1)
                except Exception as exc:  # noqa: BLE001 - one failure never kills the run
                    why = "out of memory" if is_oom(exc) else f"{type(exc).__name__}: {exc}"
                    log(f"{tag}: skipped ({why.splitlines()[0][:300]})")
                    if not is_oom(exc):
                        traceback.print_exc()
                    failed = True
                else:
                    failed = False
                if failed:
                    # Outside the except block: the traceback (and the KV cache its frames
                    # hold) is released by now, so the memory can really be freed.
                    input_ids = attention_mask = ttft_fn = e2e_fn = None
                    free_memory(device)
                    continue

                shape = dict(batch_size=batch, input_tokens=input_tokens, output_tokens=output_tokens)
                for metric, value_ms, unit in (
                    ("ttft_ms", ttft_ms,
                     f"ms (median of {ttft_runs} runs; whole batch, prefill + first output token)"),
                    ("tpot_ms", tpot_ms,
                     "ms per output token ((e2e - ttft) / (output_tokens - 1); one decode step of the whole batch)"),
                    ("e2e_latency_ms", e2e_ms,
                     f"ms (median of {e2e_runs} runs; whole batch, prefill + all output tokens)"),
                ):
                    meas_csv.write(dict(common_row, model=model_name, metric=metric,
                                        value=f"{value_ms:.3f}", unit=unit, **shape))
                evt = ""
                if ttft_evt[0] is not None:
                    evt = (f" | cuda-event ttft {statistics.median(ttft_evt):.2f} ms, "
                           f"e2e {statistics.median(e2e_evt):.2f} ms")
                log(f"{tag}: ttft {ttft_ms:.2f} ms, tpot {tpot_ms:.3f} ms, e2e {e2e_ms:.2f} ms"
                    f"{evt} ({time.perf_counter() - t_cfg_s:.1f} s)")
    finally:
        del model
        free_memory(device)
    log(f"model {model_name}: done in {time.perf_counter() - t_model_s:.1f} s; "
        f"total elapsed {elapsed_s():.1f} s")


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------
def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.environ.get("OUT") or "./out",
                   help="output directory (default: $OUT, else ./out)")
    p.add_argument("--smoke", action="store_true",
                   help="tiny configs on CPU to test the code path (< 1 min)")
    p.add_argument("--models", nargs="*", default=None,
                   help="only models whose name contains one of these substrings")
    p.add_argument("--skip-gemm", action="store_true")
    p.add_argument("--skip-e2e", action="store_true")
    p.add_argument("--budget-s", type=float, default=330.0,
                   help="start no new model after this many seconds (default 330 = 5.5 min)")
    p.add_argument("--hard-limit-s", type=float, default=400.0,
                   help="start no new configuration after this many seconds (default 400)")
    p.add_argument("--hardware", default=None, help="override the genz hardware id")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    log.open(os.path.join(args.out, "log.txt"))

    import transformers

    transformers.logging.set_verbosity_error()  # keep the progress lines readable

    if args.smoke:
        device = torch.device("cpu")
        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    elif torch.cuda.is_available():
        device = torch.device("cuda", 0)
    else:
        log("ERROR: no CUDA device; use --smoke for a CPU code-path test")
        return 2

    if device.type == "cuda":
        device_name = torch.cuda.get_device_name(device)
    else:
        device_name = f"cpu ({platform.processor() or platform.machine()})"
    hw_id = args.hardware or (hardware_id(device_name) if device.type == "cuda" else "cpu-smoke")
    log(f"device {device_name!r} -> hardware id {hw_id!r}; torch {torch.__version__}, "
        f"transformers {transformers.__version__}, out={os.path.abspath(args.out)}")

    try:
        write_env(os.path.join(args.out, "env.txt"), device, device_name, hw_id, args)
    except Exception as exc:  # noqa: BLE001
        log(f"env.txt: failed ({exc!r})")

    models = SMOKE_MODELS if args.smoke else FULL_MODELS
    if args.models:
        models = [(n, f) for n, f in models if any(s.lower() in n.lower() for s in args.models)]
    batches = SMOKE_BATCHES if args.smoke else FULL_BATCHES
    shapes = SMOKE_SHAPES if args.smoke else FULL_SHAPES
    gemm_m = SMOKE_GEMM_M if args.smoke else FULL_GEMM_M
    gemm_nk = SMOKE_GEMM_NK if args.smoke else FULL_GEMM_NK

    date = dt.datetime.now(dt.UTC).date().isoformat()
    smoke_note = ", SMOKE TEST - not a measurement" if args.smoke else ""
    common_row = dict(
        source=f"genz device run (benchmarks/device/measure_gpu.py, {date}{smoke_note})",
        framework=f"PyTorch eager (HF transformers {transformers.__version__} generate, "
                  f"random weights, sdpa)",
        hardware=hw_id, num_devices=1, tp=1, pp=1, ep=1,
        weight_dtype="bf16", act_dtype="bf16", kv_dtype="bf16",
    )

    meas_csv = CsvAppender(os.path.join(args.out, "measurements.csv"), CSV_COLUMNS)
    gemm_csv = CsvAppender(os.path.join(args.out, "gemm.csv"), GEMM_COLUMNS)
    torch.manual_seed(0)

    # GEMMs first: a few seconds, and their numbers survive even if the run is cut short.
    if not args.skip_gemm:
        log("=== GEMM micro-benchmark ===")
        try:
            bench_gemm(device, hw_id, gemm_m, gemm_nk, gemm_csv)
        except Exception as exc:  # noqa: BLE001
            log(f"GEMM benchmark failed: {exc!r}")
            traceback.print_exc()
        free_memory(device)
        log(f"GEMM done; total elapsed {elapsed_s():.1f} s")

    if not args.skip_e2e:
        log("=== end-to-end latency (HF generate) ===")
        for model_name, fields in models:
            if elapsed_s() > args.budget_s:
                log(f"model {model_name}: not started (budget {args.budget_s:.1f} s spent)")
                continue
            try:
                bench_model(model_name, fields, device, hw_id, batches, shapes, meas_csv,
                            common_row, hard_limit_s=args.hard_limit_s)
            except Exception as exc:  # noqa: BLE001 - e.g. model does not fit / arch missing
                why = "out of memory" if is_oom(exc) else f"{type(exc).__name__}: {exc}"
                log(f"model {model_name}: skipped ({why.splitlines()[0][:300]})")
                if not is_oom(exc):
                    traceback.print_exc()
            free_memory(device)  # after the except block, once the traceback is released

    meas_csv.close()
    gemm_csv.close()
    log(f"wrote {meas_csv.rows} rows to measurements.csv, {gemm_csv.rows} rows to gemm.csv; "
        f"total elapsed {elapsed_s():.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
