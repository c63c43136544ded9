"""Efficiency factors: how close software gets to the hardware's peaks.

The roofline time of an operator is

    t = max(FLOPs / (peak · eff_compute(M)), bytes / (bandwidth · eff_memory)) + kernel_overhead

and a collective's time uses ``eff_network`` on link bandwidth plus ``comm_overhead`` per call. On top of the per-operator sum,
every forward iteration pays ``step_overhead`` (scheduler, launch gaps, sampling: CPU time the GPU
waits on) plus ``seq_overhead`` per sequence in the batch, and every request pays
``request_overhead`` once (tokenization, scheduling, first-call setup; part of TTFT).

``eff_compute(M) = compute · M / (M + gemm_m_half)`` models the lower utilisation of GEMMs with
few rows (tile quantization, too few thread blocks); ``M`` is the GEMM's row count on the device.

The factors split into what belongs to the chip and what belongs to the serving software
(:mod:`genz.calibrate.calibration` fits them apart):

* **hardware** (per platform, pooled per architecture family): ``compute``, ``attention``,
  ``gemm_m_half``, ``kernel_overhead_s`` (the die: shared by every platform of a family, e.g. H100,
  H200 and GH200 share GH100), ``memory`` and ``network`` (the package's memory system and links:
  per platform, shrunk towards the family);
* **software** (per serving stack, shared by every platform the stack runs on,
  :class:`StackFactors`): ``sw_compute``, ``sw_attention`` and ``sw_memory`` (how far the stack's
  GEMM, attention and streaming kernels fall short of
  the reference production stacks, 1 = reference), and the overheads ``launch_overhead_s`` (per
  kernel, added to the chip's ``kernel_overhead_s``), ``step_overhead_s``,
  ``seq_overhead_s``, ``comm_overhead_s``, ``request_overhead_s``.

:func:`compose` is the one place where the two halves become the :class:`Efficiency` the engine
uses. :data:`DEFAULT` holds datasheet-agnostic defaults used when no
calibrated profile exists; they are typical of well-tuned kernels on current GPUs (large GEMMs
reach ~70 % of dense peak, streaming kernels ~80 % of HBM bandwidth, NCCL ~75 % of link bandwidth).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace


@dataclass(frozen=True)
class Efficiency:
    """Efficiency factors of one platform × framework (all dimensionless unless noted)."""

    compute: float = 0.70  # fraction of dense matrix peak reached by large GEMMs, (0, 1]
    attention: float = 0.50  # fraction of matrix peak reached by the attention kernel, (0, 1]
    memory: float = 0.80  # fraction of HBM bandwidth reached by streaming kernels, (0, 1]
    network: float = 0.75  # fraction of link bandwidth reached by collectives, (0, 1]
    vector: float = 0.50  # fraction of vector (non-matrix) FLOP/s reached by element-wise ops
    gemm_m_half: float = 32.0  # GEMM rows at which compute efficiency is half its maximum
    kernel_overhead_s: float = 3e-6  # fixed time per kernel (launch, tail), s
    step_overhead_s: float = 1.0e-3  # fixed time per forward iteration (scheduler, sampling), s
    seq_overhead_s: float = 2e-5  # extra time per sequence per iteration (sampling, bookkeeping), s
    comm_overhead_s: float = 5e-6  # software time per collective call on top of link latency, s
    request_overhead_s: float = 0.0  # fixed time per run/request (tokenize, schedule, first-call setup), s

    @classmethod
    def names(cls) -> list[str]:
        """Factor names, in declaration order."""
        return [f.name for f in fields(cls)]

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def updated(self, **kw: float) -> Efficiency:
        return replace(self, **kw)


#: physical bounds used by validation and by the calibration fit
BOUNDS: dict[str, tuple[float, float]] = {
    "compute": (0.05, 1.0),
    "attention": (0.05, 1.0),
    "memory": (0.05, 1.0),
    "network": (0.05, 1.0),
    "vector": (0.02, 1.0),
    "gemm_m_half": (0.0, 1024.0),
    "kernel_overhead_s": (0.0, 50e-6),
    "step_overhead_s": (0.0, 0.1),
    "seq_overhead_s": (0.0, 2e-3),
    "comm_overhead_s": (0.0, 5e-3),
    "request_overhead_s": (0.0, 30.0),
}

DEFAULT = Efficiency()

#: hardware factors of the die, shared by every platform of an architecture family
FAMILY_FACTORS = ("compute", "attention", "gemm_m_half", "kernel_overhead_s")
#: hardware factors of a platform's memory system and links (shrunk towards the family)
PLATFORM_FACTORS = ("memory", "network")
HARDWARE_FACTORS = FAMILY_FACTORS + PLATFORM_FACTORS + ("vector",)


@dataclass(frozen=True)
class StackFactors:
    """Software factors of one serving stack (shared across the platforms it runs on).

    ``sw_compute`` / ``sw_attention`` / ``sw_memory`` multiply the chip's GEMM, attention and memory
    efficiencies: 1 for the reference production stacks, below 1 for a stack whose kernels are
    slower on the same chip (an early ROCm build, eager PyTorch). The overheads are CPU-side and
    per-call software costs in seconds (see :class:`Efficiency`).
    """

    sw_compute: float = 1.0
    sw_attention: float = 1.0  # the stack's attention kernels (FlashAttention, paged, naive) vs the reference
    sw_memory: float = 1.0
    launch_overhead_s: float = 1e-6  # per-kernel software time on top of the chip's (no graphs, eager launch), s
    step_overhead_s: float = DEFAULT.step_overhead_s
    seq_overhead_s: float = DEFAULT.seq_overhead_s
    comm_overhead_s: float = DEFAULT.comm_overhead_s
    request_overhead_s: float = DEFAULT.request_overhead_s

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


STACK_FACTORS = tuple(StackFactors.names())
DEFAULT_STACK = StackFactors()

#: physical ranges of the fitted factors (calibration never leaves them). Hardware ranges are set
#: from datasheets and the kernel timings under calibration/operators/: a production GEMM on a large
#: shape reaches ≥ 30 % of dense peak, a streaming kernel 40-95 % of HBM bandwidth, NCCL/custom
#: all-reduce 30-95 % of NVLink/xGMI bandwidth (down to 15 % on PCIe cards that route through the
#: host); a kernel costs 1-8 µs of ramp and tail on the chip. Software: a
#: collective's software time per call is at most 30 µs (NCCL small-message latency on 8 GPUs is
#: 10-20 µs; custom all-reduce ~5 µs), a stack's kernels reach 5-130 % of the reference stack's.
FIT_BOUNDS: dict[str, tuple[float, float]] = {
    "compute": (0.30, 0.95),
    "attention": (0.10, 0.95),
    "gemm_m_half": (2.0, 256.0),
    "kernel_overhead_s": (1e-6, 8e-6),
    "memory": (0.40, 0.95),
    "network": (0.15, 0.95),
    "sw_compute": (0.05, 1.30),
    "sw_attention": (0.05, 1.30),
    "sw_memory": (0.05, 1.30),
    "launch_overhead_s": (1e-8, 40e-6),
    "step_overhead_s": (1e-5, 0.1),
    "seq_overhead_s": (1e-7, 2e-3),
    "comm_overhead_s": (1e-7, 30e-6),
    "request_overhead_s": (1e-6, 5.0),
}


def compose(hw: dict[str, float] | Efficiency, stack: StackFactors) -> Efficiency:
    """The engine's efficiencies of a chip (hardware factors) running a serving stack.

    ``compute = hw.compute · sw_compute``, ``attention = hw.attention · sw_attention``,
    ``memory = hw.memory · sw_memory``, capped
    at 1; the per-kernel time is the chip's (ramp, tail: 1-8 µs) plus the stack's launch cost (CPU
    launch without CUDA/HIP graphs); the other overheads come from the stack; the rest from the
    hardware.
    """
    h = hw.as_dict() if isinstance(hw, Efficiency) else {**DEFAULT.as_dict(), **hw}
    return Efficiency(
        compute=min(1.0, h["compute"] * stack.sw_compute),
        attention=min(1.0, h["attention"] * stack.sw_attention),
        memory=min(1.0, h["memory"] * stack.sw_memory),
        network=h["network"], vector=h["vector"], gemm_m_half=h["gemm_m_half"],
        kernel_overhead_s=h["kernel_overhead_s"] + stack.launch_overhead_s,
        step_overhead_s=stack.step_overhead_s, seq_overhead_s=stack.seq_overhead_s,
        comm_overhead_s=stack.comm_overhead_s, request_overhead_s=stack.request_overhead_s,
    )
