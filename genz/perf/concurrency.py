"""Closed-loop serving at a client concurrency C: the ``benchmark_serving`` method.

A row with a ``concurrency`` column selects this mode (docs/reference.md §2). The client keeps
``C`` requests in flight (``--max-concurrency C``), sends ``P`` requests in all (``--num-prompts``,
default ``10·C``, every one released at once: ``--request-rate inf``), and each request's prompt and
output lengths are uniform in ``[r·L, L]`` and ``[r·O, O]`` (``--random-range-ratio r``,
``length_ratio``, default 0.8). What it reports, and what this module predicts:

* mean TTFT over all ``P`` requests (queueing for a prefill slot included),
* mean TPOT = mean over requests of ``(e2e − TTFT)/(output − 1)``,
* mean e2e latency, and output tokens/s of the whole run (all devices, and per device).

Notation (per replica of a pool: one attention rank, :mod:`genz.perf.layouts`)::

    L̄ = (1+r)/2 · L,  Ō = (1+r)/2 · O          mean prompt and output lengths
    D  = decode ranks, C_r = C / D               requests in flight per rank
    N  = min(C_r, KV pool requests, max_seqs)    requests the rank holds; q = C_r − N queue for KV
    B  = token budget per iteration              max_num_tokens, else chunk_size, else the stack's

Colocated (prefill and decode in the same iterations, chunked prefill, decodes first)
    Little's law on one rank: a request lives ``I = Ō − 1 + k + w`` iterations (``Ō − 1`` decode
    steps, ``k`` iterations carrying its prompt chunks, ``w = ½`` waiting for the iteration in
    progress), so ``a = N / I`` prompts start per iteration, unless the prefill budget caps it:
    a prompt's ``L̄`` tokens and the ``a·(Ō−1)`` decode tokens share ``B``, so
    ``a ≤ B / (L̄ + Ō − 1)``. Then ``n_dec = a·(Ō − 1)`` sequences decode in every iteration,
    ``k = max(1, ⌈L̄ / (B − n_dec)⌉)``, and a fraction ``p = min(a·k, 1)`` of the iterations carry
    a prefill chunk of ``a·L̄/p`` tokens (a mixed iteration, :func:`genz.perf.engine.mixed_iteration`)::

        t_dec  = iteration(n_dec decoding at context L̄ + Ō/2)
        t_mix  = iteration(n_dec decoding + a·L̄/p prompt tokens)
        TPOT   = t̄ = (1 − p)·t_dec + p·t_mix                    mean iteration a decoding request sees
        TTFT_s = request overhead + w·t̄ + k·t_mix + (n_wait + q)·t̄/a

    where ``n_wait = max(N − a·I, 0)`` requests wait for the prefill budget (prefill-bound) and
    ``q`` for KV room; ``t̄/a`` is the time between request starts (Little's law on the queues).

Disaggregated (``decode_tp`` > 0: x prefill workers, y decode workers)
    A prefill rank runs prefill-only iterations; a prompt arriving at rate ``λ = X/D_p`` waits for
    the iteration in progress and joins the next one, which holds ``n`` prompts with
    ``n = λ·τ(n)`` and ``τ(n) = τ₀ + n·s`` (affine between one prompt and a full budget), so
    ``n = λ·τ₀ / (1 − λ·s)`` (capped at ``B/L̄``); TTFT_s = overhead + ρ·τ(n)/2 + τ(n) + queue, with
    ``ρ = λ·τ(n)/n`` the prefill rank's busy fraction. A decode rank decodes ``n_dec`` sequences
    per step (``t_dec``, pure decode). The KV of each prompt crosses to the decode pool after the
    first token (TensorRT-LLM/Dynamo: the context worker returns the first token), so it delays the
    second token: TPOT = ``t_dec + t_kv/(Ō − 1)``. The request rate ``X`` is the fixed point of
    ``X = min(C / e2e(X), prefill capacity, decode capacity)``, found by damped iteration.

The ramp
    Every request is released at once, so the first ``n₁ = min(C_r, N)`` arrive together and
    queue behind the token budget: a budget-full iteration (``t_r``) takes ``B' = B − n₁/2``
    prompt tokens (the first prompts already decode beside it), ``x = L̄/B'`` iterations per
    prompt, and prompt ``i`` is done after ``⌈i·x⌉`` of them; the mean over the ``n₁`` is::

        m = max(⌈x⌉, (n₁·x + max(x, 1)) / 2)                     (exact when 1/x or x is an integer)
        TTFT_ramp = request overhead + m · t_r

    The mean TTFT weights the ramp's requests ``min(C, N·D)`` and the steady state's the rest of
    the ``P`` requests. e2e = TTFT + (Ō − 1)·TPOT.

Throughput
    Each of the C client slots sends ``P/C`` requests back to back, so the run lasts
    ``(P/C)·e2e`` plus the drain: the slowest slot finishes ``z(C)·σ_slot`` later, with
    ``σ_slot = √(P/C) · t_½·(1 − r)·O/√12`` (the spread of a slot's output lengths, at the decode
    step ``t_½`` of the draining system, half the requests in flight) and ``z(C)`` the expected
    maximum of C standard normal draws (Blom's approximation)::

        throughput = P · Ō / ((P/C)·e2e + z(C)·σ_slot)          (output tokens/s, whole deployment)

Vectorized over rows (numpy); a handful of engine passes, no loop per row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy.special import ndtri

from ..catalog.frameworks import framework_arrays
from .engine import Inputs, PhaseResult, decode_pool, kv_transfer, mixed_iteration
from .serving import kv_pool_requests

#: default ``length_ratio`` (benchmark_serving ``--random-range-ratio`` as InferenceMAX runs it)
DEFAULT_LENGTH_RATIO = 0.8
#: default ``num_prompts`` per unit of concurrency (InferenceMAX: ``--num-prompts 10·C``)
PROMPTS_PER_CONCURRENCY = 10
#: mean fraction of the iteration in progress a newly arrived request waits for
WAIT_FRACTION = 0.5
#: fixed-point iterations of the disaggregated request rate (damped; converges to < 0.1 % here)
FIXED_POINT_STEPS = 12

#: integer scenario columns this mode adds (None = blank: not closed-loop / derived)
INT_COLUMNS: dict[str, int | None] = {"concurrency": None, "num_prompts": None}
INT_MAX: dict[str, int] = {"concurrency": 10_000_000, "num_prompts": 1_000_000_000}
#: float scenario columns this mode adds, and their allowed range
FLOAT_COLUMNS: dict[str, float | None] = {"length_ratio": None}
FLOAT_RANGE: dict[str, tuple[float, float]] = {"length_ratio": (0.0, 1.0)}


def checks() -> list[tuple[pl.Expr, pl.Expr]]:
    """Row checks of the closed-loop columns, ``(failing?, message)`` (normalized working columns).

    ``concurrency`` ≥ 1 selects the mode; ``batch_size`` is then blank or equal to it (a closed-loop
    row has no fixed batch); ``length_ratio`` and ``num_prompts`` need ``concurrency``; speculative
    decoding and beam search are not modelled in this mode.
    """
    conc = pl.col("_concurrency")
    cl = conc.is_not_null()
    return [
        (conc == 0, pl.lit("error: concurrency must be >= 1")),
        (cl & pl.col("_batch_size").is_not_null() & (pl.col("_batch_size") != conc),
         pl.format("error: batch_size {} and concurrency {}: a closed-loop row takes concurrency only (leave "
                   "batch_size blank or equal)", pl.col("_batch_size"), conc)),
        (~cl & (pl.col("_length_ratio").is_not_null() | pl.col("_num_prompts").is_not_null()),
         pl.lit("error: length_ratio and num_prompts need concurrency (closed-loop serving)")),
        (cl & (pl.col("_length_ratio") <= 0), pl.lit("error: length_ratio must be in (0, 1]")),
        (cl & (pl.col("_num_prompts") == 0), pl.lit("error: num_prompts must be >= 1")),
        (cl & ((pl.col("_spec_tokens") > 0) | (pl.col("_num_beams") > 1)),
         pl.lit("unsupported: speculative decoding and beam search with concurrency (closed-loop mode)")),
    ]


@dataclass
class ClosedLoop:
    """What the closed-loop model says about each row (SI units; arrays over rows)."""

    ttft_s: np.ndarray  # mean TTFT over all requests of the run
    tpot_s: np.ndarray  # mean TPOT
    e2e_s: np.ndarray  # mean request latency
    throughput_tok_s: np.ndarray  # output tokens/s of the run, whole deployment
    ttft_ramp_s: np.ndarray  # mean TTFT of the requests released together at the start
    ttft_steady_s: np.ndarray  # TTFT of a request in the steady state
    running: np.ndarray  # requests the server holds at once (KV- and max_seqs-limited), whole deployment
    queued: np.ndarray  # requests waiting for KV room or a slot in the steady state, whole deployment
    request_rate: np.ndarray  # requests/s in the steady state, whole deployment
    iteration: PhaseResult  # the mean decode-side iteration (time split per iteration), per rank
    tokens_per_iteration: np.ndarray  # output tokens per mean iteration, per rank
    notes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))


def mean_lengths(inp: Inputs) -> tuple[np.ndarray, np.ndarray]:
    """(L̄, Ō): mean prompt and output tokens of lengths uniform in [r·L, L] and [r·O, O]."""
    r = np.where(inp.len_ratio > 0, inp.len_ratio, DEFAULT_LENGTH_RATIO)
    return (1.0 + r) / 2.0 * inp.L.astype(float), (1.0 + r) / 2.0 * inp.O.astype(float)


def ramp_iterations(n1, x) -> np.ndarray:
    """Mean number of budget-full iterations until a prompt's prefill is done, over ``n1`` prompts
    released together when a prompt needs ``x`` iterations' worth of the budget (prompt ``i`` is
    done after ``⌈i·x⌉``): ``max(⌈x⌉, (n1·x + max(x, 1)) / 2)``.

    Exact when ``1/x`` is an integer ``q`` dividing ``n1`` (``q`` prompts per iteration, ``m = n1/q``
    iterations, mean ``(m+1)/2``) or ``x`` is an integer (mean ``x·(n1+1)/2``)."""
    n1 = np.asarray(n1, dtype=float)
    x = np.asarray(x, dtype=float)
    return np.maximum(np.ceil(x - 1e-12), (n1 * x + np.maximum(x, 1.0)) / 2.0)


def drain_z(C) -> np.ndarray:
    """Expected maximum of ``C`` standard normal draws (Blom: Φ⁻¹((C − 0.375)/(C + 0.25))), 0 for C = 1."""
    C = np.maximum(np.asarray(C, dtype=float), 1.0)
    return np.maximum(ndtri((C - 0.375) / (C + 0.25)), 0.0)


def _budget(inp: Inputs, fa: dict[str, np.ndarray]) -> np.ndarray:
    """Tokens per iteration: ``max_num_tokens``, else ``chunk_size``, else the stack's default."""
    return np.where(inp.budget > 0, inp.budget, np.where(inp.chunk > 0, inp.chunk, fa["budget"])).astype(float)


def closed_loop(spec, inp: Inputs, fw_keys) -> ClosedLoop:
    """Closed-loop serving metrics of every row of ``inp`` (rows with ``conc`` > 0; see the module
    docstring for the model). ``fw_keys`` are the rows' serving-stack keys (token budget, KV pool,
    max sequences)."""
    fa = framework_arrays(fw_keys)
    n = len(inp)
    C = np.maximum(inp.conc.astype(float), 1.0)
    r = np.where(inp.len_ratio > 0, inp.len_ratio, DEFAULT_LENGTH_RATIO)
    P = np.where(inp.prompts > 0, inp.prompts, PROMPTS_PER_CONCURRENCY * C).astype(float)
    Lb, Ob = mean_lengths(inp)
    ctx = Lb + Ob / 2.0  # mean context of a decoding request
    B = _budget(inp, fa)
    ovh = inp.eff["request_overhead_s"]
    dis = inp.decode_tp > 0
    dinp = decode_pool(inp)
    # the pools at the mean lengths: memory, KV, weights see L̄ and Ō
    pf = inp.replace(L=Lb, O=Ob, budget=B)
    dc = dinp.replace(L=Lb, O=Ob, budget=B)
    D = np.maximum(dc.dp.astype(float), 1.0)  # decode ranks
    Cr = C / D
    kv_cap, _, _ = kv_pool_requests(spec, dc, fa, Lb, Ob)
    N = np.maximum(np.minimum(np.minimum(Cr, kv_cap), fa["max_batch"]), 1.0)
    q = np.maximum(Cr - N, 0.0)
    dec = np.maximum(Ob - 1.0, 0.0)
    out = _colocated(spec, pf, N, q, Lb, Ob, ctx, B, ovh)
    if dis.any():
        idx = np.nonzero(dis)[0]
        sub = _disaggregated(spec, pf.take(idx), dc.take(idx), C[idx], N[idx], Lb[idx], Ob[idx], ctx[idx],
                             B[idx], ovh[idx])
        for k, v in sub.items():
            out[k] = out[k].copy() if isinstance(out[k], np.ndarray) else out[k]
            if isinstance(v, PhaseResult):
                out[k] = _merge_phase(out[k], v, idx)
            else:
                out[k][idx] = v
    tbar = out["tpot"]
    # mean TTFT over the P requests: the first wave (released together) and the steady state
    n_ramp = np.minimum(np.minimum(C, N * D), P)
    ttft = (n_ramp * out["ttft_ramp"] + (P - n_ramp) * out["ttft_steady"]) / P
    e2e = ttft + dec * tbar
    sigma = np.sqrt(P / C) * out["t_half"] * (1.0 - r) * inp.O.astype(float) / np.sqrt(12.0)
    duration = P / C * e2e + drain_z(C) * sigma
    thr = P * Ob / duration
    notes = np.full(n, "", dtype=object)
    for i in np.nonzero(q > 0.5)[0]:
        what = "KV cache" if kv_cap[i] < min(Cr[i], fa["max_batch"][i]) else "max batch"
        notes[i] = (f"concurrency {C[i]:g} queues: the {what} holds {N[i]:g} of {Cr[i]:g} requests per rank; "
                    f"{q[i] * D[i]:.0f} wait")
    return ClosedLoop(
        ttft_s=ttft, tpot_s=tbar, e2e_s=e2e, throughput_tok_s=thr, ttft_ramp_s=out["ttft_ramp"],
        ttft_steady_s=out["ttft_steady"], running=N * D, queued=q * D, request_rate=out["rate"] * D,
        iteration=out["iteration"], tokens_per_iteration=out["tokens"], notes=notes,
    )


def _merge_phase(base: PhaseResult, sub: PhaseResult, idx: np.ndarray) -> PhaseResult:
    from .engine import _merge

    return _merge(base, sub, idx)


def _colocated(spec, inp: Inputs, N, q, Lb, Ob, ctx, B, ovh) -> dict:
    """Steady state and ramp of colocated serving (module docstring), per rank."""
    dec = np.maximum(Ob - 1.0, 0.0)
    w = WAIT_FRACTION
    a_cap = B / (Lb + dec)
    k = np.ones_like(Lb)
    for _ in range(2):  # k depends on n_dec, n_dec on a, a on k: two passes settle it
        a = np.minimum(N / (dec + k + w), a_cap)
        n_dec = a * dec
        k = np.maximum(1.0, np.ceil(Lb / np.maximum(B - n_dec, 1.0) - 1e-9))
    a = np.minimum(N / (dec + k + w), a_cap)
    n_dec = a * dec
    p = np.minimum(a * k, 1.0)
    zero = np.zeros_like(Lb)
    t_dec = mixed_iteration(spec, inp, n_dec=n_dec, ctx_dec=ctx, n_pf=zero, pf_len=zero)
    t_mix = mixed_iteration(spec, inp, n_dec=n_dec, ctx_dec=ctx, n_pf=a / p, pf_len=Lb)
    tbar = (1.0 - p) * t_dec.time + p * t_mix.time
    n_wait = np.maximum(N - a * (dec + k + w), 0.0)
    ttft_s = ovh + w * tbar + k * t_mix.time + (n_wait + q) * tbar / a
    # ramp: the first n1 requests arrive together and queue behind the token budget
    n1 = N
    b_eff = np.maximum(B - n1 / 2.0, B / 2.0)
    x = Lb / b_eff
    n_pf_r = np.minimum(n1, b_eff / Lb)
    t_r = mixed_iteration(spec, inp, n_dec=np.maximum(n1 - n_pf_r, 0.0) / 2.0, ctx_dec=Lb, n_pf=n_pf_r, pf_len=Lb)
    ttft_r = ovh + ramp_iterations(n1, x) * t_r.time
    # drain: decode steps with half the requests in flight
    t_half = mixed_iteration(spec, inp, n_dec=np.maximum(n_dec / 2.0, 1.0), ctx_dec=ctx, n_pf=zero, pf_len=zero)
    it = _blend(t_dec, t_mix, p)
    return {"tpot": tbar, "ttft_steady": ttft_s, "ttft_ramp": ttft_r, "t_half": t_half.time, "rate": a / tbar,
            "iteration": it, "tokens": n_dec + a}


def _blend(a: PhaseResult, b: PhaseResult, p) -> PhaseResult:
    """The mean of two iterations, ``(1-p)·a + p·b`` (time split, FLOPs, bytes)."""
    kw = {f: (1.0 - p) * getattr(a, f) + p * getattr(b, f) for f in PhaseResult.ARRAYS}
    return PhaseResult(**kw)


def _disaggregated(spec, pf: Inputs, dc: Inputs, C, N, Lb, Ob, ctx, B, ovh) -> dict:
    """Steady state and ramp of xP + yD disaggregated serving (module docstring)."""
    dec = np.maximum(Ob - 1.0, 0.0)
    zero = np.zeros_like(Lb)
    Dp = np.maximum(pf.dp.astype(float), 1.0)
    Dd = np.maximum(dc.dp.astype(float), 1.0)
    # prefill iteration: one prompt (τ₁) and a budget-full one (n_B prompts, τ_B); prompts longer
    # than the budget run in k chunks
    k = np.maximum(1.0, np.ceil(Lb / B - 1e-9))
    nB = np.maximum(B / Lb, 1.0)
    tau1 = k * mixed_iteration(spec, pf, n_dec=zero, ctx_dec=zero, n_pf=1.0 / k, pf_len=Lb).time
    tauB = k * mixed_iteration(spec, pf, n_dec=zero, ctx_dec=zero, n_pf=nB / k, pf_len=Lb).time
    s = np.where(nB > 1.0, (tauB - tau1) / np.maximum(nB - 1.0, 1e-9), 0.0)
    tau0 = np.maximum(tau1 - s, 0.0)
    # KV of one request into a decode rank (after the first token)
    xfer = kv_transfer(spec, pf, dc, np.ones_like(Lb), np.ones_like(Lb))

    def decode_step(n_dec):
        return mixed_iteration(spec, dc, n_dec=np.maximum(n_dec, 1e-9), ctx_dec=ctx, n_pf=zero, pf_len=zero)

    t_d = decode_step(N).time
    X = C / (dec * t_d + tau1 + ovh)
    pf_cap = Dp * nB / tauB  # requests/s the prefill pool can prefill
    for _ in range(FIXED_POINT_STEPS):
        lam = X / Dp
        busy = lam * s
        nq = np.where(busy < 1.0, lam * tau0 / np.maximum(1.0 - busy, 1e-9), nB)
        nq = np.clip(nq, 1.0, nB)
        tau = tau0 + nq * s
        rho = np.minimum(lam * tau / nq, 1.0)
        ttft_pf = rho * tau / 2.0 + tau
        n_dec = np.minimum(X / Dd * (dec * t_d + xfer), N)
        t_d = decode_step(n_dec).time
        e2e = ovh + ttft_pf + xfer + dec * t_d
        dc_cap = Dd * N / np.maximum(dec * t_d + xfer, 1e-12)
        X_new = np.minimum(np.minimum(C / e2e, pf_cap), dc_cap)
        X = np.sqrt(X * X_new)
    # requests neither in prefill, transfer nor decode wait in a queue (Little's law)
    queued = np.maximum(C - X * e2e, 0.0)
    ttft_s = ovh + ttft_pf + queued / X
    it = decode_step(n_dec)
    tpot = it.time + np.where(dec > 0, xfer / np.maximum(dec, 1.0), 0.0)
    # ramp: all C prompts reach the prefill pool at once
    n1 = np.minimum(C / Dp, N * Dd / Dp)
    x = Lb / B
    tau_r = k * mixed_iteration(spec, pf, n_dec=zero, ctx_dec=zero, n_pf=np.minimum(n1, nB) / k, pf_len=Lb).time
    ttft_r = ovh + ramp_iterations(n1, x) * tau_r / k
    t_half = decode_step(np.maximum(n_dec / 2.0, 1.0)).time
    return {"tpot": tpot, "ttft_steady": ttft_s, "ttft_ramp": ttft_r, "t_half": t_half, "rate": X / Dd,
            "iteration": it, "tokens": n_dec}
