"""Efficiency factors: how close software gets to the hardware's peaks.

The roofline time of an operator is

    t = max(FLOPs / (peak · eff_compute(M)), bytes / (bandwidth · eff_memory)) + kernel_overhead

and a collective's time uses ``eff_network`` on link bandwidth plus ``comm_overhead`` per call. On top of the per-operator sum,
every forward iteration pays ``step_overhead`` (scheduler, launch gaps, sampling: CPU time the GPU
waits on) plus ``seq_overhead`` per sequence in the batch, and every request pays
``request_overhead`` once (tokenization, scheduling, first-call setup; part of TTFT).

``eff_compute(M) = compute · M / (M + gemm_m_half)`` models the lower utilisation of GEMMs with
few rows (tile quantization, too few thread blocks); ``M`` is the GEMM's row count on the device.

These factors are what calibration fits per platform × serving framework
(:mod:`genz.calibration`). :data:`DEFAULT` holds datasheet-agnostic defaults used when no
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
