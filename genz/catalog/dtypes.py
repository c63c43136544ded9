"""Numeric formats: storage size and which peak-throughput column a format computes at.

Weight, activation and KV-cache formats are set separately per scenario:

* ``weight_dtype`` sets the bytes read per weight (int4/fp4 = 0.5 byte, fp8/int8 = 1, 16-bit = 2).
  Quantization scales add a little on top: group-wise 4-bit formats carry one 16-bit scale per
  128 weights (≈ 0.125 bit per weight), which is counted.
* ``act_dtype`` sets the format matmuls compute in: W4A16 reads 4-bit weights but computes at the
  16-bit rate; W8A8 and FP8 compute at the 8-bit rate; FP4 (W4A4) at the 4-bit rate where the
  chip has one.
* ``kv_dtype`` sets the bytes per KV-cache element.

Defaults (:func:`default_act_dtype`): a blank ``act_dtype`` follows the weights only for formats
served W=A (16/32-bit floats, fp8, fp4); integer weight formats are weight-only quantization
(``int4``/``int8`` and the aliases ``awq``, ``gptq``, ``w4a16``, ``int4_wo``, ``int8_wo``) and
compute in bf16, except ``w8a8``, which names int8 activations too. A blank ``kv_dtype`` follows
the activations.

A chip that lacks a format's tensor-core rate computes it at the next wider rate it has
(fp8 on A100 runs as 16-bit after dequantization; weights are still stored and read at 8 bits,
activations then move at 16 bits), see :func:`compute_rate_key` and :func:`activation_bytes`. The
same rule makes MXFP4/NVFP4 weight-only on chips without fp4 units (H100, H200, MI300X): read at
4.25 bits, computed at 16 bits; with ``act_dtype`` fp8 they compute at the fp8 rate (W4A8).
A blank ``kv_dtype`` follows the activations, except that 4-bit activations keep a 16-bit KV cache
(:func:`default_kv_dtype`).

Precision as served (:func:`expert_only`): 4-bit float checkpoints of MoE models (gpt-oss MXFP4,
DeepSeek-R1 NVFP4) quantize the routed experts only; attention, the router, shared experts,
embedding and LM head stay at 16 bits, and the engine reads them at 16 bits.
"""

from __future__ import annotations

from ..errors import GenzError, suggest

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

#: Which compute column to try, widest fallback last. A float format never borrows an integer
#: unit's rate (fp8 on A100 dequantizes and runs on the 16-bit tensor cores, not at the int8
#: rate), and an integer format falls back to wider integers, then to 16 bit.
_FALLBACK: dict[str, tuple[str, ...]] = {
    "fp32": ("fp32",),
    "tf32": ("tf32", "fp32"),
    "bf16": ("bf16", "fp16", "fp32"),
    "fp16": ("fp16", "bf16", "fp32"),
    "fp8": ("fp8", "bf16", "fp16", "fp32"),
    "int8": ("int8", "bf16", "fp16", "fp32"),
    # 4-bit floats (MXFP4, NVFP4) on a chip without fp4 units are weight-only: stored and read at
    # 4 bits + scales, dequantized and computed at 16 bits (Marlin-style W4A16 kernels); they never
    # borrow the fp8 rate unless the activations are fp8 themselves (act_dtype fp8: W4A8)
    "fp4": ("fp4", "bf16", "fp16", "fp32"),
    "int4": ("int4", "int8", "bf16", "fp16", "fp32"),
}

#: weight formats whose default activation format is the weight format itself (served W=A);
#: every other (integer) weight format is weight-only quantization with 16-bit activations
_W_EQUALS_A = frozenset({"fp32", "tf32", "bf16", "fp16", "fp8", "fp4"})

#: aliases that name the activation format explicitly (W8A8: int8 activations too)
_ACT_OF_ALIAS: dict[str, str] = {"w8a8": "int8"}

#: activation format of weight-only quantization
WEIGHT_ONLY_ACT = "bf16"

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


def default_act_dtype(weight: object) -> str | None:
    """The activation format used when ``act_dtype`` is blank, from the *raw* weight name.

    * Float formats served W=A (``bf16``/``fp16``/``fp32``/``tf32``, ``fp8``, ``fp4`` and their
      spellings): the weight format (FP8 and NVFP4 checkpoints run matmuls at that rate).
    * ``w8a8``: ``int8`` (the alias names its activations).
    * Other integer formats (``int4``, ``int8``, ``awq``, ``gptq``, ``w4a16``, ``int4_wo``,
      ``int8_wo``): weight-only quantization, activations in ``bf16`` (the kernel dequantizes).

    The raw name matters because ``w8a8`` and ``int8_wo`` canonicalize to the same storage format
    but not the same activations. Returns None for an unknown name (reported on the weight column).
    """
    key = str(weight).strip().lower()
    if key in _ACT_OF_ALIAS:
        return _ACT_OF_ALIAS[key]
    canon = ALIASES.get(key, key)
    if canon not in BITS:
        return None
    return canon if canon in _W_EQUALS_A else WEIGHT_ONLY_ACT


#: activation formats whose blank KV cache is not the activation format: stacks keep the KV
#: cache in 16 bit unless told (vLLM ``--kv-cache-dtype auto``, TensorRT-LLM's default); 4-bit KV
#: caches are opt-in
_KV_OF_ACT: dict[str, str] = {"fp4": "bf16"}


def default_kv_dtype(act: object) -> str:
    """The KV-cache format used when ``kv_dtype`` is blank, from the (raw) activation format: the
    activation format itself (``fp8`` activations keep an fp8 cache), except 4-bit activations,
    whose cache stays 16-bit (``bf16``). Unknown names pass through (reported on their column)."""
    key = str(act).strip().lower()
    return _KV_OF_ACT.get(ALIASES.get(key, key), str(act))


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


def activation_bytes(act: str, available: set[str] | dict) -> float:
    """Bytes per activation element as the chip materializes them.

    Activations live in the format the matmuls compute in (:func:`compute_rate_key`): fp8
    activations on a chip without fp8 units are dequantized to 16 bit (W8A16), so they move at 2
    bytes, not 1. Never narrower than ``act`` and never widened past 16 bit (a 16-bit format on a
    chip whose only matrix rate is fp32 still moves 2-byte tensors).
    """
    run = compute_rate_key(act, available)
    return max(bytes_per_element(act), min(bytes_per_element(run), 2.0))


def compute_rate_key(dtype: str, available: set[str] | dict) -> str:
    """The hardware throughput column used for ``dtype``: itself, else the next wider format."""
    for key in _FALLBACK[dtype]:
        if key in available:
            return key
    raise GenzError(f"hardware has no compute rate usable for {dtype}; give at least fp32 or bf16")


#: weight formats that MoE checkpoints apply to the routed experts only (the rest stays 16-bit)
EXPERT_ONLY = frozenset({"fp4"})


def expert_only(weight: str) -> bool:
    """Whether a canonical weight format, on an MoE model, quantizes the routed experts only:
    the MXFP4/NVFP4 checkpoints of MoE models (gpt-oss ``quantization_config`` excludes attention,
    router, embedding and LM head; NVIDIA's DeepSeek-R1-FP4 quantizes the MoE linear layers only)."""
    return weight in EXPERT_ONLY
