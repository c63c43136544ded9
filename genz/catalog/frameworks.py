"""Serving-stack facts: defaults per framework (``genz/data/frameworks.yaml``) and the names a
scenario's free-text ``framework`` cell is recognised by."""

from __future__ import annotations

import functools
import re

import numpy as np

from ..errors import GenzError
from .files import DATA_DIR, load_yaml

FRAMEWORKS_FILE = DATA_DIR / "frameworks.yaml"

#: serving stacks recognised in the free-text ``framework`` cell, by leading name
FRAMEWORKS: dict[str, str] = {
    "vllm": "vllm",
    "vllm-rocm": "vllm-rocm",  # the 2024 ROCm build's stack factors (see frameworks.yaml)
    "vllm-xpu": "vllm-xpu",
    "tensorrt-llm": "trtllm",
    "tensorrt_llm": "trtllm",
    "tensorrtllm": "trtllm",
    "trt-llm": "trtllm",
    "trtllm": "trtllm",
    "sglang": "sglang",
    "tgi": "tgi",
    "text-generation-inference": "tgi",
    "deepspeed": "deepspeed",
    "deepspeed-mii": "deepspeed",
    "lmdeploy": "lmdeploy",
    "llama.cpp": "llamacpp",
    "mlc": "mlc",
    "jetstream": "jetstream",
    "optimum-habana": "habana",
    "ipex-llm": "ipex",
    "huggingface": "hf",
    "transformers": "hf",
    "pytorch": "hf",
}


def framework_key(value: str | None) -> str:
    """Canonical serving-stack key for a free-text framework cell ('' → 'generic')."""
    if value is None:
        return "generic"
    text = str(value).strip().lower()
    if not text:
        return "generic"
    for name in sorted(FRAMEWORKS, key=len, reverse=True):
        if re.match(re.escape(name) + r"(\b|[\s\d(_-]|$)", text):
            return FRAMEWORKS[name]
    return "generic"


@functools.lru_cache(maxsize=1)
def frameworks() -> dict[str, dict]:
    """Serving-stack defaults (``genz/data/frameworks.yaml``), by framework key."""
    data = load_yaml(FRAMEWORKS_FILE)
    if not isinstance(data, dict) or "generic" not in data:
        raise GenzError(f"{FRAMEWORKS_FILE}: needs a 'generic' entry")
    return data


def framework_arrays(keys) -> dict[str, np.ndarray]:
    """Per-row serving defaults for framework keys (unknown keys use 'generic')."""
    import polars as pl

    fw = frameworks()
    ser = keys if isinstance(keys, pl.Series) else pl.Series("k", list(keys), dtype=pl.String)
    uniq = ser.unique().sort().to_list()
    inv = ser.replace_strict({u: i for i, u in enumerate(uniq)}, return_dtype=pl.Int64).to_numpy()
    rows = [fw.get(k, fw["generic"]) for k in uniq]
    per = {
        "free_mode": np.array([r.get("memory_mode", "free_fraction") == "free_fraction" for r in rows]),
        "fraction": np.array([float(r.get("memory_fraction", 0.9)) for r in rows]),
        "max_batch": np.array([float(r.get("max_batch", 1024)) for r in rows]),
        "budget": np.array([float(r.get("max_num_tokens", 8192)) for r in rows]),
        "full_reserve": np.array([r.get("reserve", "full") == "full" for r in rows]),
        "no_window": np.array([not bool(r.get("sliding_window", True)) for r in rows]),
        "custom_ar": np.array([r.get("allreduce", "nccl") == "custom" for r in rows]),
    }
    return {k: v[inv] for k, v in per.items()}
