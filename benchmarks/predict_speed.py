"""Benchmark: `genz predict` on N generated scenario rows (process start included).

Usage: python benchmarks/predict_speed.py [N]   (default 1,000,000)
Prints rows/s. Target (issue: the analytical engine): >= 1,000,000 rows in <= 10 s on 2 cores.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

MODELS = ["meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-70B", "mistralai/Mixtral-8x7B-v0.1",
          "deepseek-ai/DeepSeek-V3", "Qwen/Qwen3-30B-A3B", "google/gemma-2-9b", "state-spaces/mamba-2.8b-hf",
          "ai21labs/AI21-Jamba-1.5-Mini", "meta-llama/Llama-2-7b-hf", "Qwen/Qwen2.5-72B"]
HARDWARE = ["H100-SXM-80GB", "A100-SXM-80GB", "H200-SXM-141GB", "MI300X", "B200-SXM-180GB", "L40S-48GB",
            "GH200-96GB", "TPUv5p", "Gaudi3", "MI325X"]


def make_rows(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({
        "model": rng.choice(MODELS, n),
        "hardware": rng.choice(HARDWARE, n),
        "input_tokens": rng.choice([128, 512, 1024, 2048, 8192], n),
        "output_tokens": rng.choice([1, 64, 256, 1024], n),
        "batch_size": rng.choice([1, 4, 16, 64, 256], n),
        "tp": rng.choice([1, 2, 4, 8], n),
        "weight_dtype": rng.choice(["bf16", "fp8"], n),
    })


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "in.csv"
        make_rows(n).write_csv(src)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "genz", "predict", str(src), "-o", str(Path(d) / "out.csv"), "-q"],
                       check=True)
        dt = time.perf_counter() - t0
    print(f"genz predict: {n:,} rows in {dt:.2f} s = {n / dt:,.0f} rows/s (process start included)")


if __name__ == "__main__":
    main()
