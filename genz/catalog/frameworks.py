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
    "atom": "atom",  # AMD ATOM (ROCm inference engine)
    "dynamo": "dynamo",  # NVIDIA Dynamo (disaggregated serving over a TensorRT-LLM/vLLM/SGLang runtime)
    "nvidia dynamo": "dynamo",
    "tensorrt-llm via nvidia dynamo": "dynamo",
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
    """Canonical serving-stack key for a free-text framework cell ('' → 'generic').

    The leading name picks the stack; a version written right after it (``vLLM 0.13.0``,
    ``TensorRT-LLM 1.2.0rc2``, ``SGLang v0.5.2``) picks the stack's generation declared in
    ``frameworks.yaml`` whose ``version`` is nearest (:func:`resolve_version`). No version: the stack's
    base key (the generation the shipped calibration measured).
    """
    return resolve_framework(value)[0]


_VERSION = re.compile(r"[\s_-]*v?(\d+(?:\.\d+)*)")


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", str(text))[:3])


def resolve_framework(value: str | None) -> tuple[str, str]:
    """(stack key, note) of a free-text framework cell. The note is non-empty when a written version
    is not one the stack declares and the nearest known generation is used
    (``vLLM 0.10 resolved to vllm-0.13 (nearest known version 0.13)``)."""
    if value is None:
        return "generic", ""
    text = str(value).strip().lower()
    if not text:
        return "generic", ""
    for name in sorted(FRAMEWORKS, key=len, reverse=True):
        if re.match(re.escape(name) + r"(\b|[\s\d(_-]|$)", text):
            key = FRAMEWORKS[name]
            m = _VERSION.match(text[len(name):])
            if m is None:
                return key, ""
            return resolve_version(key, m.group(1))
    return "generic", ""


def generations(key: str) -> dict[str, list[str]]:
    """The generations of a stack: generation key -> the versions it stands for (``version``: one
    or a list), the base key included when it declares any (``frameworks.yaml``: ``generation_of``)."""
    out = {}
    for k, d in frameworks().items():
        if not isinstance(d, dict) or "version" not in d:
            continue
        if k == key or d.get("generation_of") == key:
            v = d["version"]
            out[k] = [str(x) for x in (v if isinstance(v, list) else [v])]
    return out


def resolve_version(key: str, version: str) -> tuple[str, str]:
    """The generation of stack ``key`` nearest to ``version`` (distance on (major, minor, patch),
    major first), and a note unless the generation declares the version (same major.minor)."""
    gens = generations(key)
    if not gens:
        return key, ""
    want = _version_tuple(version)

    def distance(v: str) -> tuple[int, ...]:
        have = _version_tuple(v)
        n = max(len(want), len(have))
        a = want + (0,) * (n - len(want))
        b = have + (0,) * (n - len(have))
        return tuple(abs(x - y) for x, y in zip(a, b))

    best_key, best_v = min(((k, v) for k in sorted(gens) for v in gens[k]), key=lambda kv: distance(kv[1]))
    same = _version_tuple(best_v)[:2] == want[:2]
    note = "" if same else f"{key} {version} resolved to {best_key} (nearest known version {best_v})"
    return best_key, note


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
