"""Serving-level models built on the engine: max-load throughput, offload, energy and cost."""

from __future__ import annotations

import numpy as np

from ..catalog.frameworks import framework_arrays
from ..catalog.units import GB
from ..errors import GenzError
from .engine import Estimate, Inputs, activation_bytes, kv_bytes_per_request, mixed_iteration, weight_bytes_per_device

#: draft-free speculative decoding: heads that run on the target's own hidden states
DRAFT_HEADS = ("mtp", "eagle")


def draft_spec(target, name: str):
    """The draft model of a speculative-decoding scenario.

    * ``mtp``: the target's multi-token-prediction modules (DeepSeek-V3: one extra decoder layer of
      the target's last layer type, sharing its embedding and LM head);
    * ``eagle``: an EAGLE-style head: one decoder layer at the target's width (dense FFN with the
      target's active FFN width) plus the LM head;
    * otherwise a zoo model name or config path (a separate small model).
    """
    from dataclasses import replace as _replace

    from ..catalog.modelspec import FFN, LayerClass
    from ..catalog.zoo import get_model

    key = str(name).strip().lower()
    if key == "mtp":
        if not target.mtp_layers:
            raise GenzError(f"draft_model: {target.id} has no multi-token-prediction heads; use 'eagle' or a model")
        last = target.layers[-1]
        return _replace(target, id=f"{target.id}+mtp", layers=(_replace(last, count=target.mtp_layers),),
                        mtp_layers=0)
    if key == "eagle":
        last = target.layers[-1]
        f = last.ffn
        if f is not None and f.is_moe:
            f = FFN(d_ff=f.d_ff * max(f.top_k, 1) + f.d_shared, gated=f.gated)
        return _replace(target, id=f"{target.id}+eagle", layers=(LayerClass(count=1, mixer=last.mixer, ffn=f),),
                        mtp_layers=0)
    return get_model(name)

#: fraction of board power drawn while a device is in each kind of work (assumption: compute-bound
#: kernels run near TDP, memory-bound ones well below, waiting on network/CPU near idle)
POWER_FRACTION = {"compute": 1.0, "memory": 0.7, "network": 0.5, "overhead": 0.35}


def kv_pool_requests(spec, work: Inputs, fa: dict[str, np.ndarray], L, O):
    """Requests whose KV the stack's KV-cache pool holds at once, per replica (``work``'s layout).

    Pool (bytes per device, ``genz/data/frameworks.yaml``)::

        free_fraction:  pool = fraction · (HBM − weights − activations)     (TensorRT-LLM)
        total_fraction: pool = fraction · HBM − weights − activations       (vLLM, SGLang)

    A request reserves its prompt ``L`` plus its whole output ``O`` (stacks that never evict) or
    half of it (paged stacks with preemption), so ``N = floor(pool / kv(L + O or L + O/2))``.
    ``work.budget`` sets the activation workspace. Returns (N, KV bytes per request, weight bytes),
    per device.
    """
    weights = weight_bytes_per_device(spec, work)
    act = activation_bytes(spec, work)
    cap = work.hbm_bytes
    pool = np.where(fa["free_mode"], fa["fraction"] * (cap - weights - act), fa["fraction"] * cap - weights - act)
    L = np.asarray(L, dtype=float)
    O = np.asarray(O, dtype=float)
    per_req = kv_bytes_per_request(spec, work, np.where(fa["full_reserve"], L + O, L + O / 2.0))
    return np.floor(np.maximum(pool, 0.0) / np.maximum(per_req, 1e-9)), per_req, weights


def max_throughput(spec, inp: Inputs, fw_keys) -> dict[str, np.ndarray]:
    """Steady-state output tokens/s of a server under maximum load (in-flight batching).

    Model: the server keeps ``N`` requests in flight, as many as its KV-cache pool holds
    (capped by the stack's max batch). Every request lives ``O`` iterations (one prefill, ``O-1``
    decode steps), so each iteration decodes ``N·(O-1)/O`` sequences, whose contexts are spread
    uniformly over ``[L, L+O]`` (mean ``L + O/2``), and prefills ``N/O`` new prompts in the same
    forward pass; it emits ``N`` output tokens. Throughput = ``N / t_iteration`` per replica,
    times ``dp`` replicas.

    KV pool: TensorRT-LLM-style stacks take a fraction of the memory left after weights and
    activations; vLLM-style stacks a fraction of the device memory minus weights and activations
    (``genz/data/frameworks.yaml``). Stacks that never evict reserve prompt + full output per
    request; paged stacks with preemption the mean footprint.
    """
    n = len(inp)
    fa = framework_arrays(fw_keys)
    work = inp.take(np.arange(n))
    work.budget = np.where(inp.budget > 0, inp.budget, fa["budget"])
    L = work.L.astype(float)
    O = work.O.astype(float)
    N, per_req, weights = kv_pool_requests(spec, work, fa, L, O)
    cap = work.hbm_bytes
    user_batch = inp.B.astype(float)
    N = np.minimum(N, fa["max_batch"])
    # chunked prefill: an iteration carries at most `chunk` tokens, decodes first; the prompts
    # admitted per iteration (N/O of them, L tokens each) must fit in what is left
    chunk = work.chunk.astype(float)
    N = np.where(chunk > 0, np.minimum(N, np.floor(chunk * O / (L + O))), N)
    ok = N >= 1
    N = np.maximum(N, 1.0)
    n_pf = N / O
    n_dec = N - n_pf
    it = mixed_iteration(spec, work, n_dec=n_dec, ctx_dec=L + O / 2.0, n_pf=n_pf, pf_len=L)
    thr = N / it.time * work.dp
    # TTFT at max load: a prompt needs ceil(L / prefill budget) iterations (whole prompt without chunking)
    room = np.where(chunk > 0, np.maximum(chunk - n_dec, 1.0), np.inf)
    ttft = np.where(chunk > 0, np.ceil(L / room), 1.0) * it.time
    status = np.full(n, "ok", dtype=object)
    for i in np.nonzero(~ok)[0]:
        status[i] = (f"does_not_fit: weights {weights[i] / GB:.1f} GB leave no KV room for one request of "
                     f"{int(L[i] + O[i])} tokens ({per_req[i] / GB:.2f} GB) on {cap[i] / GB:.0f} GB")
    del user_batch
    return {"throughput": np.where(ok, thr, np.nan), "batch": np.where(ok, N * work.dp, np.nan),
            "ttft_s": ttft, "tpot_s": it.time, "status": status.astype(object), "iteration": it}


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
