"""Benchmark: SLO requirement search over 4 models × 8 use cases × 10 platforms.

Usage: python benchmarks/requirements_speed.py
Prints the wall time (target: under a minute on 2 cores), how many combinations meet their SLO,
and which resource binds most often.
"""

from __future__ import annotations

import time

import polars as pl

from genz.requirements import search

MODELS = ["meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-70B", "mistralai/Mixtral-8x7B-v0.1",
          "deepseek-ai/DeepSeek-V3"]
USE_CASES = ["chat", "code_completion", "question_answering", "summarization", "rag", "reasoning", "agentic",
             "offline_batch"]
HARDWARE = ["H100-SXM-80GB", "H200-SXM-141GB", "B200-SXM-180GB", "GB200-NVL72", "A100-SXM-80GB", "MI300X",
            "MI325X", "Gaudi3", "TPUv6e", "L40S-48GB"]


def main() -> None:
    t0 = time.perf_counter()
    res = search(MODELS, USE_CASES, HARDWARE, None)  # the shipped use-case library
    dt = time.perf_counter() - t0
    d = res["deployments"]
    r = res["requirements"]
    print(f"requirement search: {len(MODELS)} models x {len(USE_CASES)} use cases x {len(HARDWARE)} platforms "
          f"= {len(MODELS) * len(USE_CASES) * len(HARDWARE)} combinations, {res['candidates'].height:,} deployment "
          f"candidates, {r.height:,} requirement rows in {dt:.1f} s")
    print(f"meeting the SLO: {int(d.get_column('meets_slo').fill_null(False).sum())} of {d.height}")
    print(r.filter(pl.col("binding")).group_by("resource").len().sort("len", descending=True))


if __name__ == "__main__":
    main()
