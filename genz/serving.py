"""Serving-level models built on the engine: max-load throughput, offload, energy and cost."""

from __future__ import annotations

import numpy as np

from .engine import Estimate, Inputs

#: fraction of board power drawn while a device is in each kind of work (assumption: compute-bound
#: kernels run near TDP, memory-bound ones well below, waiting on network/CPU near idle)
POWER_FRACTION = {"compute": 1.0, "memory": 0.7, "network": 0.5, "overhead": 0.35}


def max_throughput(spec, inp: Inputs, profiles_ok: bool = True) -> dict[str, np.ndarray]:
    """Placeholder until the serving model lands: max-load throughput is unsupported."""
    n = len(inp)
    return {"throughput": np.full(n, np.nan), "batch": np.full(n, np.nan), "ttft_s": np.full(n, np.nan),
            "tpot_s": np.full(n, np.nan),
            "status": np.full(n, "unsupported: max_throughput_tok_s needs the serving model", dtype=object)}


def apply_offload(spec, inp: Inputs, est: Estimate, spill: np.ndarray) -> Estimate:
    """Placeholder: offload not modelled yet."""
    return est


def energy_cost(inp: Inputs, est: Estimate, hws, hw_idx, usd_override) -> tuple[np.ndarray, np.ndarray]:
    """Joules per output token and USD per million output tokens.

    Energy = Σ_phase Σ_kind time_kind · TDP · POWER_FRACTION[kind] · devices, divided by the
    output tokens of the batch. Cost = $/device-hour · devices · e2e / tokens (×1e6).
    """
    tdp = np.array([h.tdp_w for h in hws], dtype=float)[hw_idx]
    price = np.array([h.usd_per_hour for h in hws], dtype=float)[hw_idx]
    usd = np.asarray(usd_override, dtype=float)
    price = np.where(np.isfinite(usd), usd, price)
    e = 0.0
    for ph in (est.prefill, est.decode):
        e = e + tdp * (ph.t_compute * POWER_FRACTION["compute"] + ph.t_memory * POWER_FRACTION["memory"]
                       + ph.t_network * POWER_FRACTION["network"] + ph.t_overhead * POWER_FRACTION["overhead"])
    tokens = inp.B * inp.O
    energy = e * inp.devices / tokens
    cost = np.where(price > 0, price * inp.devices * est.e2e_s / 3600.0 / tokens * 1e6, np.nan)
    return energy, cost
