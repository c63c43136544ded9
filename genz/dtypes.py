"""Numeric formats: storage size and which peak-throughput column a format computes at.

Weight, activation and KV-cache formats are set separately per scenario:

* ``weight_dtype`` sets the bytes read per weight (int4/fp4 = 0.5 byte, fp8/int8 = 1, 16-bit = 2).
  Quantization scales add a little on top: group-wise 4-bit formats carry one 16-bit scale per
  128 weights (≈ 0.125 bit per weight), which is counted.
* ``act_dtype`` sets the format matmuls compute in: W4A16 reads 4-bit weights but computes at the
  16-bit rate; W8A8 and FP8 compute at the 8-bit rate; FP4 (W4A4) at the 4-bit rate where the
  chip has one.
* ``kv_dtype`` sets the bytes per KV-cache element.

A chip that lacks a format's tensor-core rate computes it at the next wider rate it has
(fp8 on A100 runs as 16-bit after dequantization), see :func:`compute_rate_key`.
"""

from __future__ import annotations

from .errors import GenzError, suggest

#: storage bits per element, including amortized scale overhead of block formats
BITS: dict[str, float] = {
    "fp32": 32.0,
    "tf32": 32.0,
    "bf16": 16.0,
    "fp16": 16.0,
    "fp8": 8.0,
    "int8": 8.0,
    # 4-bit formats: one 16-bit scale per 128-element group (GPTQ/AWQ) or an fp8 scale per
    # 16 elements (NVFP4): both ≈ 4.125-4.5 bits; we use 4.25 as a middle value.
    "int4": 4.25,
    "fp4": 4.25,
}

#: accepted spellings -> canonical name
ALIASES: dict[str, str] = {
    "float32": "fp32",
    "f32": "fp32",
    "float": "fp32",
    "tf32": "tf32",
    "bfloat16": "bf16",
    "float16": "fp16",
    "half": "fp16",
    "f16": "fp16",
    "fp8_e4m3": "fp8",
    "fp8_e5m2": "fp8",
    "e4m3": "fp8",
    "float8": "fp8",
    "float8_e4m3fn": "fp8",
    "w8a8": "int8",
    "int8_wo": "int8",
    "awq": "int4",
    "gptq": "int4",
    "w4a16": "int4",
    "int4_wo": "int4",
    "nvfp4": "fp4",
    "mxfp4": "fp4",
    "fp4_e2m1": "fp4",
}

#: Which compute column to try, widest fallback last.
_FALLBACK: dict[str, tuple[str, ...]] = {
    "fp32": ("fp32",),
    "tf32": ("tf32", "fp32"),
    "bf16": ("bf16", "fp16", "fp32"),
    "fp16": ("fp16", "bf16", "fp32"),
    "fp8": ("fp8", "int8", "bf16", "fp16", "fp32"),
    "int8": ("int8", "fp8", "bf16", "fp16", "fp32"),
    "fp4": ("fp4", "int4", "fp8", "int8", "bf16", "fp16", "fp32"),
    "int4": ("int4", "fp4", "int8", "fp8", "bf16", "fp16", "fp32"),
}

ALLOWED = tuple(BITS)


def canonical(name: object, field: str = "dtype") -> str:
    """Return the canonical dtype name for ``name`` or raise a one-line :class:`GenzError`."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in BITS:
        raise GenzError(
            f"{field}: unknown dtype '{name}'; allowed: {', '.join(ALLOWED)}"
            + suggest(str(name), list(BITS) + list(ALIASES))
        )
    return key


def bytes_per_element(name: str) -> float:
    """Storage bytes per element of a canonical dtype (scales included for 4-bit formats)."""
    return BITS[name] / 8.0


def compute_dtype(weight: str, act: str) -> str:
    """The format a matmul computes in: the activation format.

    W4A16 → 16-bit (weight-only quantization dequantizes in the kernel); W8A8 → 8-bit;
    FP8 weights with FP8 activations → FP8. ``weight`` is accepted for symmetry and future
    mixed formats.
    """
    del weight
    return act


def compute_rate_key(dtype: str, available: set[str] | dict) -> str:
    """The hardware throughput column used for ``dtype``: itself, else the next wider format."""
    for key in _FALLBACK[dtype]:
        if key in available:
            return key
    raise GenzError(f"hardware has no compute rate usable for {dtype}; give at least fp32 or bf16")
