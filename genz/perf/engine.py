"""The analytical engine: phases, pipeline parallelism, memory and metrics, vectorized.

Everything here works on numpy arrays over scenarios that share one model architecture; the
caller (:mod:`genz.perf.predict`) groups rows by model, so a million scenarios cost a few dozen array
passes, never a Python loop per scenario.

Timing of a phase
    A phase is ``n`` iterations; iteration ``j`` processes ``t`` new tokens for each of ``S``
    sequences with ``s_j = s0 + j·Δ`` tokens already cached. Each operator's time is a roofline
    ``max(FLOPs/rate, bytes/bandwidth)``, with FLOPs and bytes affine in ``s`` up to a sliding
    window, constant beyond it and quadratic in the (at most one) iteration whose block straddles
    its edge (:class:`WindowSplit`), so the sum over iterations is computed exactly in closed form
    (:func:`sum_max_affine`, :func:`sum_block_keys`). Prefill is one iteration over the prompt;
    decode is ``output-1`` iterations of one token, context growing by one each.

Pipeline parallelism
    Layers are split over ``pp`` stages; a batch is split into ``m = min(batch, pp)`` micro-batches.
    A prefill takes ``(m + pp - 1)`` stage slots plus ``pp - 1`` activation hops; a decode round
    (every sequence advances one token) takes ``max(m, pp)`` stage slots plus ``pp`` hops. Stage
    imbalance (layers not divisible by ``pp``) is counted.

Metrics (per CONTRACT.md and the measurement README)
    TTFT = prefill of the whole batch. TPOT = mean decode step over the output (the first output
    token comes from the prefill). e2e = TTFT + Σ decode steps. Throughput = batch·output/e2e.
    A batch whose KV cache does not fit runs in waves (see :func:`estimate`): TTFT is then the
    mean over requests, including the wait for earlier waves, and never below the prefill of the
    whole batch in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..catalog.modelspec import Attention, Mamba, ModelSpec
from . import collectives as coll
from .ops import INF, Op, Par, Step, model_ops

#: fallback per-iteration token budget of a serving framework (activation workspace sizing)
DEFAULT_TOKEN_BUDGET = 8192


@dataclass
class Inputs:
    """Scenario arrays for one model (all numpy, same length)."""

    B: np.ndarray  # requests in the batch (whole system)
    L: np.ndarray  # prompt tokens per request
    O: np.ndarray  # output tokens per request
    tp: np.ndarray
    pp: np.ndarray
    ep: np.ndarray
    dp: np.ndarray
    cp: np.ndarray
    beams: np.ndarray
    devices: np.ndarray
    chunk: np.ndarray  # chunked-prefill token budget (0 = off)
    budget: np.ndarray  # per-iteration token budget for workspace (0 = default)
    wb: np.ndarray
    ab: np.ndarray
    kvb: np.ndarray
    eb: np.ndarray
    peak_matrix: np.ndarray  # FLOP/s at the compute dtype
    peak_attn: np.ndarray  # FLOP/s for the attention kernel
    peak_16: np.ndarray  # FLOP/s at 16 bit (LM head)
    peak_vector: np.ndarray  # FLOP/s of element-wise work
    hbm_bw: np.ndarray  # bytes/s
    hbm_bytes: np.ndarray  # bytes
    up_bw: np.ndarray
    up_lat: np.ndarray
    domain: np.ndarray
    out_bw: np.ndarray
    out_lat: np.ndarray
    host_bw: np.ndarray
    eff: dict[str, np.ndarray]  # efficiency factors by name (see genz.perf.efficiency)
    offload_w: np.ndarray = field(default_factory=lambda: np.zeros(0))  # bool: weights may spill to host
    offload_kv: np.ndarray = field(default_factory=lambda: np.zeros(0))  # bool: KV may spill to host
    no_window: np.ndarray = field(default_factory=lambda: np.zeros(0))  # bool: stack ignores sliding windows
    custom_ar: np.ndarray = field(default_factory=lambda: np.zeros(0))  # bool: one/two-shot all-reduce kernels
    host_bytes: np.ndarray = field(default_factory=lambda: np.zeros(0))  # host memory per device for offload, bytes
    spec_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0))  # speculative tokens per step (γ, 0 = off)
    acceptance: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per-token acceptance rate (α)
    decode_tp: np.ndarray = field(default_factory=lambda: np.zeros(0))  # disaggregated decode pool TP (0 = colocated)
    decode_pp: np.ndarray = field(default_factory=lambda: np.zeros(0))  # disaggregated decode pool PP

    def __post_init__(self) -> None:
        n = len(self.B)
        for name in ("offload_w", "offload_kv", "no_window", "custom_ar"):
            if getattr(self, name).shape != (n,):
                setattr(self, name, np.zeros(n, dtype=bool))
        for name in ("host_bytes", "spec_tokens", "acceptance", "decode_tp", "decode_pp"):
            if getattr(self, name).shape != (n,):
                setattr(self, name, np.zeros(n))

    def __len__(self) -> int:
        return len(self.B)

    def take(self, idx: np.ndarray) -> Inputs:
        """A subset of scenarios."""
        kw = {}
        for k, v in self.__dict__.items():
            if k == "eff":
                kw[k] = {n: a[idx] for n, a in v.items()}
            else:
                kw[k] = v[idx]
        return Inputs(**kw)

    def net(self) -> coll.Net:
        e = self.eff["network"]
        return coll.Net(up_bw=self.up_bw * e, up_lat=self.up_lat, domain=self.domain,
                        out_bw=self.out_bw * e, out_lat=self.out_lat, custom=self.custom_ar)

    def par(self) -> Par:
        return Par(tp=self.tp, pp=self.pp, ep=self.ep, dp=self.dp, cp=self.cp, wb=self.wb, ab=self.ab,
                   kvb=self.kvb, eb=self.eb, net=self.net(), no_window=self.no_window)


# ----------------------------------------------------------------------------------------------
# closed-form sums
# ----------------------------------------------------------------------------------------------


def _sum_pos_affine(n, A, B):
    """Σ_{j=0}^{n-1} max(A + B·j, 0) for integer n >= 0 (arrays broadcast)."""
    n = np.asarray(n, dtype=float)
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.where(B != 0, -A / np.where(B != 0, B, 1.0), 0.0)
    # increasing: positive for j > root
    j0 = np.clip(np.floor(root) + 1.0, 0.0, n)
    k_inc = n - j0
    s_inc = k_inc * A + B * (j0 + n - 1.0) * k_inc / 2.0
    # decreasing: positive for j < root
    j1 = np.clip(np.ceil(root), 0.0, n)
    s_dec = j1 * A + B * j1 * (j1 - 1.0) / 2.0
    s_flat = n * np.maximum(A, 0.0)
    out = np.where(B > 0, s_inc, np.where(B < 0, s_dec, s_flat))
    return np.maximum(out, 0.0)


def sum_max_affine(n, a1, b1, a2, b2):
    """Σ_{j=0}^{n-1} max(a1 + b1·j, a2 + b2·j), exactly, for integer n >= 0."""
    n = np.asarray(n, dtype=float)
    sum_g = n * a2 + b2 * n * (n - 1.0) / 2.0
    return sum_g + _sum_pos_affine(n, np.asarray(a1) - a2, np.asarray(b1) - b2)


def _count_le(s0, delta, n, x):
    """How many of ``s_j = s0 + j·Δ`` (j = 0..n-1, Δ >= 0) are <= x."""
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(delta > 0, np.floor((x - s0) / np.where(delta > 0, delta, 1.0)) + 1.0,
                     np.where(s0 <= x, n, 0.0))
    return np.clip(k, 0.0, n)


def _count_lt(s0, delta, n, x):
    """How many of ``s_j = s0 + j·Δ`` (j = 0..n-1, Δ >= 0) are < x."""
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(delta > 0, np.ceil((x - s0) / np.where(delta > 0, delta, 1.0)),
                     np.where(s0 < x, n, 0.0))
    return np.clip(k, 0.0, n)


def _power_sums(s0, delta, lo, hi):
    """(Σ s_j, Σ s_j²) over j = lo..hi-1 of ``s_j = s0 + j·Δ`` (empty when hi <= lo)."""
    cnt = np.maximum(hi - lo, 0.0)
    hi = lo + cnt
    sj = (lo + hi - 1.0) * cnt / 2.0  # Σ j
    sj2 = ((hi - 1.0) * hi * (2.0 * hi - 1.0) - (lo - 1.0) * lo * (2.0 * lo - 1.0)) / 6.0  # Σ j²
    return cnt * s0 + delta * sj, cnt * s0 * s0 + 2.0 * s0 * delta * sj + delta * delta * sj2


@dataclass
class WindowSplit:
    """A phase's iterations split by how a block of ``t`` queries meets a sliding window ``W``.

    Iteration ``j`` has ``s_j = s0 + j·Δ`` cached tokens; its query-key pairs are
    ``K(s, t) = G(s+t) - G(s)`` (:func:`genz.perf.ops.block_keys`) and it reads ``min(s, W-1)`` cached
    tokens. With ``B = W-1``:

    * ``j < n1`` (``s + t <= B``): nothing reaches the window, ``K = t·s + t(t+1)/2`` (affine);
    * ``n1 <= j < n12`` (``B-t < s < B``): the block straddles the window edge,
      ``K = W·(s+t) - W(W-1)/2 - s(s+1)/2`` (quadratic), ``min(s, B) = s``;
    * ``j >= n12`` (``s >= B``): every query sees ``W`` keys, ``K = t·W``, ``min(s, B) = B``.

    The middle range is an open interval of length ``t``, so it holds at most one iteration when
    ``Δ >= t`` (prefill, chunked prefill, decode), and :func:`run_phase` times it exactly. Only
    speculative verification (``t = γ+1`` tokens, advancing ``E < t``) can put a few iterations
    there; they are timed by the roofline of their totals (exact when one resource dominates
    there, a slight underestimate otherwise). Without a window ``n1 = n12 = n``.
    """

    n1: np.ndarray
    n12: np.ndarray
    B: np.ndarray  # W-1 (0 where there is no window)
    Wf: np.ndarray  # W (0 where there is no window)
    sum_s1: np.ndarray  # Σ s_j over the affine range
    sum_s2: np.ndarray  # Σ s_j over the straddling range
    sum_s2sq: np.ndarray  # Σ s_j² over the straddling range

    def keys(self, t):
        """(Σ K over the affine range, Σ K over the straddling range, K per iteration beyond)."""
        n2 = self.n12 - self.n1
        k1 = t * self.sum_s1 + self.n1 * t * (t + 1.0) / 2.0
        W = self.Wf
        k2 = W * (self.sum_s2 + n2 * t) - n2 * W * (W - 1.0) / 2.0 - (self.sum_s2sq + self.sum_s2) / 2.0
        return k1, k2, t * W


def window_split(s0, delta, n, t, window) -> WindowSplit:
    """Split a phase's iterations into the three ranges of :class:`WindowSplit` (closed form)."""
    W = np.asarray(window, dtype=float)
    finite = np.isfinite(W)
    Wf = np.where(finite, W, 0.0)
    B = np.where(finite, Wf - 1.0, 0.0)
    n1 = np.where(finite, _count_le(s0, delta, n, B - t), n)
    n12 = np.maximum(np.where(finite, _count_lt(s0, delta, n, B), n), n1)
    sum_s1, _ = _power_sums(s0, delta, 0.0, n1)
    sum_s2, sum_s2sq = _power_sums(s0, delta, n1, n12)
    return WindowSplit(n1=n1, n12=n12, B=B, Wf=Wf, sum_s1=sum_s1, sum_s2=sum_s2, sum_s2sq=sum_s2sq)


def sum_block_keys(s0, delta, n, t, window=INF):
    """Σ_{j=0}^{n-1} K(s0 + j·Δ, t): query-key pairs of a whole phase, exactly, in closed form.

    ``K(s, t) = Σ_{p=s}^{s+t-1} min(p+1, W)`` (:func:`genz.perf.ops.block_keys`). A prompt of ``L``
    tokens in one block gives ``L(L+1)/2`` (``L <= W``) or ``W(W+1)/2 + (L-W)·W``; ``k`` chunks of
    ``c = L/k`` (``s0 = 0, Δ = c``) telescope to the same total.
    """
    s0, delta, n, t = (np.asarray(x, dtype=float) for x in (s0, delta, n, t))
    ws = window_split(s0, delta, n, t, window)
    k1, k2, k3 = ws.keys(t)
    return k1 + k2 + (n - ws.n12) * k3


# ----------------------------------------------------------------------------------------------
# phases
# ----------------------------------------------------------------------------------------------


@dataclass
class PhaseResult:
    """Totals of one phase per scenario (seconds, FLOPs, bytes; per device)."""

    time: np.ndarray  # wall time of the phase
    t_compute: np.ndarray  # time in compute-bound operators
    t_memory: np.ndarray  # time in memory-bound operators
    t_network: np.ndarray  # time in communication
    t_overhead: np.ndarray  # kernel launch + per-iteration framework overhead
    flops: np.ndarray  # FLOPs per device
    bytes: np.ndarray  # HBM bytes per device
    net_bytes: np.ndarray  # bytes sent over the network per device
    iterations: np.ndarray
    ops: list[dict] = field(default_factory=list)  # per-operator totals (when requested)


def _row(x, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(x, dtype=float), (n,))


def _op_rates(ops: list[Op], inp: Inputs) -> np.ndarray:
    """FLOP/s each operator runs at, stacked (ops × scenarios), efficiencies applied."""
    e = inp.eff
    n = len(inp)
    out = np.empty((len(ops), n))
    matrix = inp.peak_matrix * e["compute"]
    m16 = inp.peak_16 * e["compute"]
    for i, op in enumerate(ops):
        if op.rate == "vector":
            out[i] = inp.peak_vector * e["vector"]
        elif op.rate == "attn":
            out[i] = inp.peak_attn * e["attention"]
        else:
            m = _row(op.m_gemm, n)
            # small-M GEMMs underuse the matrix units: efficiency × M/(M + m½)
            out[i] = (m16 if op.rate == "matrix16" else matrix) * m / (m + e["gemm_m_half"])
    return out


def run_phase(model: ModelSpec, inp: Inputs, step: Step, s0, delta, n_iter, n_once, stage_factor,
              hops_per_iter, want_ops: bool = False, include=None, step_overhead: bool = True,
              work_factor=None) -> PhaseResult:
    """Time a phase of ``n_iter`` iterations (closed form over the growing context).

    ``stage_factor`` scales the per-pass operator time for pipeline parallelism and
    ``work_factor`` the per-device FLOPs/bytes (micro-batches per stage / stages; default 1),
    ``hops_per_iter`` is the pipeline activation-transfer time per iteration (s),
    ``n_once`` is how many times the ``once`` operators (LM head of a prefill) run.
    ``include`` filters operators (used to compose mixed prefill+decode iterations);
    ``step_overhead`` adds the per-iteration framework overhead.

    Operators without a context term are timed together as one (ops × scenarios) array; the few
    whose cost grows with context (attention) go through the closed-form sum.
    """
    par = inp.par()
    ops = model_ops(model, step, par)
    if include is not None:
        ops = [op for op in ops if include(op)]
    N = len(inp)
    n = _row(n_iter, N)
    n_once = _row(n_once, N)
    s0 = _row(s0, N)
    delta = _row(delta, N)
    wf = np.ones(N) if work_factor is None else _row(work_factor, N)
    e = inp.eff
    mr = inp.hbm_bw * e["memory"]  # bytes/s of streaming kernels
    zeros = np.zeros(N)
    details: list[dict] = []

    def grows(op):  # cost depends on the cached context
        return np.any(op.f1) or np.any(op.b1) or np.any(op.fk)

    comm = [op for op in ops if op.kind == "comm"]
    flat = [op for op in ops if op.kind != "comm" and not grows(op)]
    ctx = [op for op in ops if op.kind != "comm" and grows(op)]

    # --- collectives -------------------------------------------------------------------------
    tn = zeros.copy()
    nbytes = zeros.copy()
    kernels = zeros.copy()
    for op in comm:
        reps = n_once if op.once else n
        raw = _row(op.comm_s, N)
        # software cost per collective call (launch, synchronization) on top of the alpha-beta time
        raw = raw + np.where(raw > 0, e["comm_overhead_s"], 0.0)
        t = raw * reps * op.count
        tn = tn + t
        nb = _row(op.extra.get("net_bytes", 0.0), N) * reps * op.count
        nbytes = nbytes + nb
        kernels = kernels + np.where(t > 0, op.kernels * op.count * reps, 0.0)
        if want_ops:
            details.append(dict(name=op.name, group=op.group, kind=op.kind, count=op.count, flops=zeros, bytes=zeros,
                                net_bytes=nb, time=t, t_compute=zeros, t_memory=zeros, bound="network"))

    # --- context-free operators, all at once -------------------------------------------------
    tc = zeros.copy()
    tm = zeros.copy()
    flops = zeros.copy()
    byts = zeros.copy()
    if flat:
        F = np.stack([_row(op.f0, N) for op in flat])
        B = np.stack([_row(op.b0, N) for op in flat])
        FR = _op_rates(flat, inp)
        once = np.array([op.once for op in flat])[:, None]
        cnt = np.array([float(op.count) for op in flat])[:, None]
        reps = np.where(once, n_once[None, :], n[None, :]) * cnt
        c = F / FR
        m = B / mr[None, :]
        t = np.maximum(c, m) * reps
        cb = c >= m
        tc = tc + np.where(cb, t, 0.0).sum(axis=0)
        tm = tm + np.where(cb, 0.0, t).sum(axis=0)
        flops = flops + (F * reps).sum(axis=0)
        byts = byts + (B * reps).sum(axis=0)
        kernels = kernels + (np.array([op.kernels for op in flat])[:, None] * reps).sum(axis=0)
        if want_ops:
            for i, op in enumerate(flat):
                details.append(dict(name=op.name, group=op.group, kind=op.kind, count=op.count, flops=F[i] * reps[i],
                                    bytes=B[i] * reps[i], net_bytes=zeros, time=t[i], t_compute=c[i] * reps[i],
                                    t_memory=m[i] * reps[i], bound=np.where(cb[i], "compute", "memory")))

    # --- operators whose cost grows with the context: closed-form sums -----------------------
    if ctx:
        FRc = _op_rates(ctx, inp)
    for i, op in enumerate(ctx):
        fr = FRc[i]
        f0, f1, fk = _row(op.f0, N), _row(op.f1, N), _row(op.fk, N)
        b0, b1 = _row(op.b0, N), _row(op.b1, N)
        tq = _row(op.kt, N)  # queries per sequence in the block
        ws = window_split(s0, delta, n, tq, _row(op.window, N))
        n2 = ws.n12 - ws.n1
        n3 = n - ws.n12
        k1, k2, k3 = ws.keys(tq)
        # (1) affine range: flops = f0 + fk·t(t+1)/2 + (f1 + fk·t)·s, bytes = b0 + b1·s (no window: all)
        F1a, F1b = f0 + fk * tq * (tq + 1.0) / 2.0, f1 + fk * tq
        tA = sum_max_affine(ws.n1, (F1a + F1b * s0) / fr, F1b * delta / fr, (b0 + b1 * s0) / mr, b1 * delta / mr)
        # (2) straddling range (at most one iteration unless verifying γ+1 tokens): roofline of its totals
        F2 = n2 * f0 + f1 * ws.sum_s2 + fk * k2
        B2 = n2 * b0 + b1 * ws.sum_s2
        tS = np.maximum(F2 / fr, B2 / mr)
        # (3) beyond the window: constant per iteration, W-1 cached tokens, t·W query-key pairs
        F3 = f0 + f1 * ws.B + fk * k3
        B3 = b0 + b1 * ws.B
        tB = n3 * np.maximum(F3 / fr, B3 / mr)
        f_tot = ws.n1 * f0 + f1 * ws.sum_s1 + fk * k1 + F2 + n3 * F3
        b_tot = ws.n1 * b0 + b1 * ws.sum_s1 + B2 + n3 * B3
        sum_c = f_tot / fr
        sum_m = b_tot / mr
        t = (tA + tS + tB) * op.count
        cb = sum_c >= sum_m
        tc = tc + np.where(cb, t, 0.0)
        tm = tm + np.where(cb, 0.0, t)
        flops = flops + f_tot * op.count
        byts = byts + b_tot * op.count
        kernels = kernels + op.kernels * op.count * n
        if want_ops:
            details.append(dict(name=op.name, group=op.group, kind=op.kind, count=op.count, flops=f_tot * op.count,
                                bytes=b_tot * op.count, net_bytes=zeros, time=t, t_compute=sum_c * op.count,
                                t_memory=sum_m * op.count, bound=np.where(cb, "compute", "memory")))

    t_kernel = kernels * e["kernel_overhead_s"]
    body = (tc + tm + tn + t_kernel) * stage_factor
    if step_overhead:
        t_step = n * (e["step_overhead_s"] + e["seq_overhead_s"] * step.S * _microbatches(inp, step))
    else:
        t_step = zeros
    hops = n * hops_per_iter
    total = body + t_step + hops
    if want_ops and np.any(wf != 1.0):
        for d in details:
            for key in ("flops", "bytes", "net_bytes"):
                d[key] = d[key] * wf
    return PhaseResult(
        time=total, t_compute=tc * stage_factor, t_memory=tm * stage_factor,
        t_network=tn * stage_factor + hops, t_overhead=t_kernel * stage_factor + t_step,
        flops=flops * wf, bytes=byts * wf, net_bytes=nbytes * wf, iterations=n,
        ops=details,
    )


def _microbatches(inp: Inputs, step: Step) -> np.ndarray:
    """Number of micro-batches a replica's batch is split into (pipeline parallelism)."""
    Br = np.ceil(inp.B / inp.dp)
    return np.maximum(np.round(Br / np.maximum(step.S, 1e-9)), 1.0)


def _stage_imbalance(model: ModelSpec, pp: np.ndarray) -> np.ndarray:
    """Slowest stage over mean stage when layers don't divide evenly: ceil(L/pp)/(L/pp)."""
    nl = model.n_layers
    return np.ceil(nl / pp) / (nl / pp)


def replica_batch(inp: Inputs) -> np.ndarray:
    """Requests per data-parallel replica (ceil)."""
    return np.ceil(inp.B / inp.dp)


def prefill(model: ModelSpec, inp: Inputs, want_ops: bool = False, S_override=None) -> PhaseResult:
    """Prefill of the whole batch (TTFT), with optional chunking.

    Without chunking one iteration processes every prompt (``S = batch``, ``t = prompt``).
    With ``chunk`` tokens per iteration: prompts longer than the chunk are split into
    ``k = ceil(L/chunk)`` pieces processed one after another (context grows by ``L/k``), and
    shorter prompts are packed ``floor(chunk/L)`` per iteration.
    """
    Br = replica_batch(inp) if S_override is None else S_override
    Sb = Br * inp.beams ** 0  # beams share the prompt: prefill once per request
    L = inp.L.astype(float)
    C = inp.chunk.astype(float)
    chunked = C > 0
    long_prompt = chunked & (C < L)
    k = np.where(long_prompt, np.ceil(L / np.maximum(C, 1.0)), 1.0)  # chunks per prompt
    per_iter = np.where(chunked & ~long_prompt, np.maximum(np.floor(C / L), 1.0), Sb)
    per_iter = np.minimum(per_iter, Sb)
    # groups of prompts processed in sequence (each group's chunks in order)
    groups = np.where(long_prompt, Sb, np.where(chunked, np.ceil(Sb / per_iter), 1.0))
    S_it = np.where(long_prompt, 1.0, per_iter)
    t = L / k
    # pipeline: micro-batches over the sequences of one iteration
    pp = inp.pp.astype(float)
    m = np.minimum(S_it, pp)
    mb = S_it / m
    imb = _stage_imbalance(model, pp)
    stage_factor = (m + pp - 1.0) / pp * imb
    st = Step(S=mb, t=t, logits=np.ones_like(t), absorb=t <= 16)
    par = inp.par()
    cross = inp.tp * inp.cp >= inp.domain
    hop = coll.p2p(mb * t * model.hidden * inp.ab, cross, par.net)
    hops = np.where(pp > 1, (pp - 1.0) * hop, 0.0)
    r = run_phase(model, inp, st, s0=np.zeros_like(t), delta=t, n_iter=k, n_once=1.0,
                  stage_factor=stage_factor, hops_per_iter=hops, want_ops=want_ops, work_factor=m / pp)
    # repeat for each group of prompts processed one after another
    if np.any(groups != 1):
        r = _scale(r, groups)
    return r


def decode(model: ModelSpec, inp: Inputs, want_ops: bool = False, t_tokens=None, advance=None,
           n_steps=None, logits=None) -> PhaseResult:
    """All decode iterations after the prefill: ``output - 1`` steps of one token per sequence.

    ``t_tokens``/``advance``/``n_steps``/``logits`` override the step shape (speculative decoding
    verifies ``γ+1`` tokens per step and advances by the expected accepted tokens).
    """
    Br = replica_batch(inp) * inp.beams
    L = inp.L.astype(float)
    O = inp.O.astype(float)
    t = np.ones_like(L) if t_tokens is None else t_tokens
    adv = np.ones_like(L) if advance is None else advance
    n = np.maximum(O - 1.0, 0.0) if n_steps is None else n_steps
    pp = inp.pp.astype(float)
    m = np.minimum(Br, pp)
    mb = Br / m
    imb = _stage_imbalance(model, pp)
    stage_factor = np.maximum(m, pp) / pp * imb
    st = Step(S=mb, t=t, logits=np.ones_like(t) if logits is None else logits, absorb=t <= 16)
    par = inp.par()
    cross = inp.tp * inp.cp >= inp.domain
    hop = coll.p2p(mb * t * model.hidden * inp.ab, cross, par.net)
    hops = np.where(pp > 1, pp * hop * np.maximum(m, pp) / pp, 0.0)
    # step j attends to L + j·adv cached tokens (j = 0 is the first decode step)
    return run_phase(model, inp, st, s0=L, delta=adv, n_iter=n, n_once=n, stage_factor=stage_factor,
                     hops_per_iter=hops, want_ops=want_ops, work_factor=m / pp)


def combine(*parts: PhaseResult) -> PhaseResult:
    """Sum of phase results (parts of one composite iteration)."""
    def tot(name):
        return sum(getattr(p, name) for p in parts)

    return PhaseResult(time=tot("time"), t_compute=tot("t_compute"), t_memory=tot("t_memory"),
                       t_network=tot("t_network"), t_overhead=tot("t_overhead"), flops=tot("flops"),
                       bytes=tot("bytes"), net_bytes=tot("net_bytes"), iterations=parts[0].iterations,
                       ops=[d for p in parts for d in p.ops])


def mixed_iteration(model: ModelSpec, inp: Inputs, n_dec, ctx_dec, n_pf, pf_len, want_ops: bool = False,
                    t_dec=None) -> PhaseResult:
    """One iteration of an in-flight batch: ``n_dec`` sequences decoding at context ``ctx_dec``
    (``t_dec`` tokens each, 1 unless verifying speculative tokens) and ``n_pf`` prompts of ``pf_len``
    tokens prefilled in the same forward pass (per replica).

    Token-wise operators (GEMMs, norms, collectives) run once on all tokens of the iteration, so
    weights are read once; attention and SSM scans are costed per sequence group (decode at its
    context, prefill causal over its prompt). With pipeline parallelism the iteration is split in
    ``pp`` micro-batches and the stages overlap (steady state).
    """
    n_dec = np.asarray(n_dec, dtype=float)
    n_pf = np.asarray(n_pf, dtype=float)
    pf_len = np.asarray(pf_len, dtype=float)
    t_d = np.ones_like(n_dec) if t_dec is None else np.asarray(t_dec, dtype=float)
    T = n_dec * t_d + n_pf * pf_len
    pp = inp.pp.astype(float)
    m = np.where(n_dec + n_pf >= pp, pp, 1.0)
    imb = _stage_imbalance(model, pp)
    stage_factor = np.maximum(m, pp) / pp * imb
    one = np.ones_like(T)
    zero = np.zeros_like(T)
    tok = Step(S=one, t=T / m, logits=(n_dec * t_d + n_pf) / m, absorb=np.zeros_like(T, dtype=bool))
    dec = Step(S=n_dec / m, t=t_d, logits=one, absorb=t_d <= 16)
    pf = Step(S=n_pf / m, t=np.maximum(pf_len, 1.0), logits=one, absorb=pf_len <= 16)
    par = inp.par()
    cross = inp.tp * inp.cp >= inp.domain
    hop = coll.p2p(T / m * model.hidden * inp.ab, cross, par.net)
    hops = np.where(pp > 1, pp * hop * np.maximum(m, pp) / pp, 0.0)
    wf = m / pp
    a = run_phase(model, inp, tok, s0=zero, delta=zero, n_iter=one, n_once=one, stage_factor=stage_factor,
                  hops_per_iter=hops, want_ops=want_ops, include=lambda op: not op.per_seq, step_overhead=False,
                  work_factor=wf)
    # framework overhead per iteration: fixed part plus a part per sequence in flight
    over = inp.eff["step_overhead_s"] + inp.eff["seq_overhead_s"] * (n_dec + n_pf)
    a.time = a.time + over
    a.t_overhead = a.t_overhead + over
    b = run_phase(model, inp, dec, s0=ctx_dec, delta=zero, n_iter=one, n_once=one, stage_factor=stage_factor,
                  hops_per_iter=zero, want_ops=want_ops, include=lambda op: op.per_seq, step_overhead=False,
                  work_factor=wf)
    c = run_phase(model, inp, pf, s0=zero, delta=zero, n_iter=np.where(n_pf > 0, 1.0, 0.0), n_once=one,
                  stage_factor=stage_factor, hops_per_iter=zero, want_ops=want_ops,
                  include=lambda op: op.per_seq, step_overhead=False, work_factor=wf)
    return combine(a, b, c)


def _scale(r: PhaseResult, k: np.ndarray) -> PhaseResult:
    ops = [{**d, **{x: d[x] * k for x in ("flops", "bytes", "net_bytes", "time", "t_compute", "t_memory")}}
           for d in r.ops]
    return PhaseResult(time=r.time * k, t_compute=r.t_compute * k, t_memory=r.t_memory * k,
                       t_network=r.t_network * k, t_overhead=r.t_overhead * k, flops=r.flops * k,
                       bytes=r.bytes * k, net_bytes=r.net_bytes * k, iterations=r.iterations * k, ops=ops)


# ----------------------------------------------------------------------------------------------
# memory
# ----------------------------------------------------------------------------------------------


@dataclass
class Memory:
    """Per-device memory (bytes)."""

    weights: np.ndarray
    kv: np.ndarray
    activations: np.ndarray
    kv_per_seq: np.ndarray  # KV (+ SSM state) bytes per request at full context, per device
    capacity: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return self.weights + self.kv + self.activations


def weight_bytes_per_device(model: ModelSpec, inp: Inputs) -> np.ndarray:
    """Weight bytes on the most loaded device (TP/EP shards, PP stage with the most layers)."""
    h = model.hidden
    tp, ep, pp = inp.tp.astype(float), inp.ep.astype(float), inp.pp.astype(float)
    layer_bytes = np.zeros(len(inp))
    for lc in model.layers:
        p = np.full(len(inp), float(lc.norms * h))
        mx = lc.mixer
        if isinstance(mx, Attention):
            if mx.kind == "mla":
                rep = h * ((mx.q_lora_rank or 0) + mx.kv_lora_rank + mx.qk_rope_head_dim)
                split = mx.weight_params(h) - rep
                p = p + rep + split / tp
            else:
                hkv = np.ceil(mx.n_kv_heads / tp)
                q_o = h * mx.n_heads * (mx.head_dim + mx.v_head_dim) / tp
                p = p + q_o + h * hkv * (mx.head_dim + mx.v_head_dim)
        elif isinstance(mx, Mamba):
            p = p + mx.weight_params(h) / tp
        f = lc.ffn
        if f is not None:
            if f.is_moe:
                moe_tp = np.maximum(tp / ep, 1.0)
                p = p + f.n_experts / ep * f.expert_params(h) / moe_tp + f.shared_params(h) / tp + h * f.n_experts
            else:
                p = p + f.weight_params(h) / tp
        layer_bytes = layer_bytes + lc.count * p
    imb = _stage_imbalance(model, pp)
    emb = model.embedding_params() * inp.eb / tp
    head = (model.lm_head_params() / tp + model.hidden) * inp.eb  # LM head (vocab-split) + final norm
    ends = np.where(pp > 1, np.maximum(emb, head), emb + head)
    return layer_bytes * inp.wb / pp * imb + ends


def kv_bytes_per_request(model: ModelSpec, inp: Inputs, context: np.ndarray) -> np.ndarray:
    """KV-cache (+ SSM state) bytes per request on one device at ``context`` tokens.

    MHA/GQA: ``ceil(n_kv/tp)`` heads per device; MLA: the full latent on every TP rank.
    Sliding-window layers keep at most ``window`` tokens. Context parallelism splits the tokens.
    With beam search the prompt's KV is shared by the beams; each beam keeps its own outputs.
    """
    tp, pp, cp = inp.tp.astype(float), inp.pp.astype(float), inp.cp.astype(float)
    beams = inp.beams.astype(float)
    L = inp.L.astype(float)
    gen = np.maximum(context - L, 0.0)
    total = np.zeros(len(inp))
    for lc in model.layers:
        mx = lc.mixer
        if isinstance(mx, Attention):
            if mx.kind == "mla":
                per_tok = (mx.kv_lora_rank + mx.qk_rope_head_dim) * inp.kvb
            else:
                per_tok = np.ceil(mx.n_kv_heads / tp) * (mx.head_dim + mx.v_head_dim) * inp.kvb
            tokens = np.minimum(L, context) + beams * gen
            if mx.window:
                # a sliding-window layer keeps the last `window` tokens, unless the serving stack
                # allocates full-length KV for it (then the layer behaves as global attention)
                tokens = np.where(inp.no_window, tokens, np.minimum(tokens, mx.window * beams))
            total = total + lc.count * per_tok * tokens / cp
        elif isinstance(mx, Mamba):
            total = total + lc.count * beams * mx.state_elements() / tp * inp.kvb
    return total / pp * _stage_imbalance(model, pp)


def _workspace(model: ModelSpec, inp: Inputs):
    """Coefficients of the workspace for ``c`` requests in flight (bytes per device)::

        activations(c) = X·max(min(c·a, budget), c·b) + c·g

    ``X``: bytes per token in flight (residual stream + widest intermediate), ``a = L/cp`` prompt
    tokens per request, ``b = beams`` decode tokens per request, ``budget`` the framework's token cap
    per iteration, ``g`` fp32 logits bytes per request. Returns (X, a, b, budget, g).
    """
    h = model.hidden
    tp = inp.tp.astype(float)
    widest = 0.0
    for lc in model.layers:
        mx, f = lc.mixer, lc.ffn
        if isinstance(mx, Attention):
            widest = max(widest, mx.n_heads * mx.head_dim + 2 * mx.n_kv_heads * mx.head_dim)
        elif isinstance(mx, Mamba):
            widest = max(widest, mx.in_proj_out)
        if f is not None:
            widest = max(widest, (f.mats - 1) * f.d_ff * (f.top_k or 1), (f.mats - 1) * f.d_shared)
    budget = np.where(inp.chunk > 0, inp.chunk, np.where(inp.budget > 0, inp.budget, DEFAULT_TOKEN_BUDGET))
    X = (4.0 * h + 2.0 * widest / tp) * inp.ab
    g = inp.beams * model.vocab / tp * 4.0
    return X, inp.L / inp.cp, inp.beams.astype(float), budget, g


def activation_bytes(model: ModelSpec, inp: Inputs) -> np.ndarray:
    """Transient workspace of the largest iteration (bytes per device).

    Frameworks cap the tokens per iteration (``max_num_tokens``, chunk size; default 8192), so the
    workspace is the residual stream plus the widest intermediate for that many tokens, and the
    fp32 logits of the batch (:func:`_workspace`, for the replica's batch).
    """
    X, a, b, budget, g = _workspace(model, inp)
    Br = replica_batch(inp)
    tokens = np.maximum(np.minimum(Br * a, budget), Br * b)
    return tokens * X + Br * g


def memory(model: ModelSpec, inp: Inputs) -> Memory:
    """Per-device memory of the scenario: weights, KV cache for the whole batch, workspace."""
    ctx = (inp.L + inp.O).astype(float)
    per_req = kv_bytes_per_request(model, inp, ctx)
    Br = replica_batch(inp)
    return Memory(weights=weight_bytes_per_device(model, inp), kv=per_req * Br,
                  activations=activation_bytes(model, inp), kv_per_seq=per_req, capacity=inp.hbm_bytes)


# ----------------------------------------------------------------------------------------------
# metrics
# ----------------------------------------------------------------------------------------------


@dataclass
class Estimate:
    """Everything the engine says about a set of scenarios (arrays, SI units)."""

    ttft_s: np.ndarray
    tpot_s: np.ndarray
    e2e_s: np.ndarray
    throughput_tok_s: np.ndarray
    throughput_tok_s_per_device: np.ndarray
    prefill: PhaseResult
    decode: PhaseResult
    memory: Memory
    bottleneck: np.ndarray
    prefill_bottleneck: np.ndarray
    decode_bottleneck: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)


_BOUNDS = np.array(["compute", "memory", "network", "overhead"])


def bottleneck_of(*phases: PhaseResult) -> np.ndarray:
    """Which of compute, memory, network or framework overhead takes the most time."""
    stack = np.stack([sum(p.t_compute for p in phases), sum(p.t_memory for p in phases),
                      sum(p.t_network for p in phases), sum(p.t_overhead for p in phases)])
    return _BOUNDS[np.argmax(stack, axis=0)]


def concurrency(model: ModelSpec, inp: Inputs, extra_weights=0.0) -> tuple[np.ndarray, Memory]:
    """Requests a replica can hold at once (KV-limited), and the full-batch memory.

    Paged-KV serving stacks admit as many requests as their KV cache holds and queue the rest,
    so a batch whose KV exceeds memory runs in waves. The workspace is that of the requests in
    flight, not of the whole queue: ``c`` is the largest integer with

        weights + extra_weights + activations(c) + c·kv ≤ capacity

    With ``activations(c) = X·max(min(c·a, budget), c·b) + c·g`` (:func:`_workspace`) the
    condition is ``c·(kv+g+X·b) ≤ F`` and ``min(c·(kv+g+X·a), c·(kv+g) + X·budget) ≤ F``
    (``F`` = capacity - weights), so, in closed form,
    ``c = floor(min(F/(kv+g+X·b), max(F/(kv+g+X·a), (F - X·budget)/(kv+g))))``.
    A batch that fits whole gets ``c = batch``; so a larger queue never shrinks ``c``. Returns 0
    when not even the weights, the workspace and one request fit.
    """
    mem = memory(model, inp)
    X, a, b, budget, g = _workspace(model, inp)
    F = mem.capacity - mem.weights - extra_weights
    kv = np.maximum(mem.kv_per_seq, 1e-9)
    c_decode = F / (kv + g + X * b)
    c_prompt = np.maximum(F / (kv + g + X * a), (F - X * budget) / (kv + g))
    conc = np.floor(np.maximum(np.minimum(c_decode, c_prompt), 0.0) * (1.0 + 1e-12))
    return np.minimum(conc, replica_batch(inp)), mem


def expected_tokens_per_step(gamma, alpha):
    """Tokens a speculative step yields on average: Σ_{i=0}^{γ} α^i = (1 - α^(γ+1)) / (1 - α).

    (γ drafted tokens, each accepted with probability α given its predecessors were; the target's
    verification always contributes one token.) α = 1 gives γ + 1, α = 0 gives 1.
    """
    gamma = np.asarray(gamma, dtype=float)
    alpha = np.clip(np.asarray(alpha, dtype=float), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.where(alpha < 1.0, (1.0 - alpha ** (gamma + 1.0)) / np.where(alpha < 1.0, 1.0 - alpha, 1.0),
                     gamma + 1.0)
    return e


def decode_pool(inp: Inputs) -> Inputs:
    """The inputs of the decode pool: disaggregated rows use decode_tp/decode_pp."""
    dis = inp.decode_tp > 0
    if not dis.any():
        return inp
    d = inp.take(np.arange(len(inp)))
    d.tp = np.where(dis, inp.decode_tp, inp.tp)
    d.pp = np.where(dis, np.maximum(inp.decode_pp, 1.0), inp.pp)
    return d


def _merge(base: PhaseResult, sub: PhaseResult, idx: np.ndarray) -> PhaseResult:
    """``base`` with rows ``idx`` replaced by ``sub`` (same fields)."""
    out = PhaseResult(**{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in base.__dict__.items()})
    for k in ("time", "t_compute", "t_memory", "t_network", "t_overhead", "flops", "bytes", "net_bytes",
              "iterations"):
        getattr(out, k)[idx] = getattr(sub, k)
    return out


def _add_time(r: PhaseResult, seconds: np.ndarray, kind: str) -> None:
    r.time = r.time + seconds
    setattr(r, kind, getattr(r, kind) + seconds)


def speculative_decode(model: ModelSpec, draft: ModelSpec, inp: Inputs, want_ops: bool = False) -> PhaseResult:
    """Decode with speculative steps: γ draft decodes, then one target pass verifying γ+1 tokens.

    A step advances every sequence by the expected accepted tokens E(α, γ); ``ceil((O-1)/E)`` steps
    cover the output. Draft and target share the devices (same parallel layout).
    """
    g = inp.spec_tokens.astype(float)
    e = expected_tokens_per_step(g, inp.acceptance)
    steps = np.ceil(np.maximum(inp.O - 1.0, 0.0) / e)
    verify = decode(model, inp, want_ops=want_ops, t_tokens=g + 1.0, advance=e, n_steps=steps, logits=g + 1.0)
    drafted = decode(draft, inp, want_ops=want_ops, t_tokens=np.ones_like(g), advance=e, n_steps=steps)
    out = combine(verify, _scale(drafted, g))
    out.iterations = steps
    return out


def estimate(model: ModelSpec, inp: Inputs, want_ops: bool = False, draft: ModelSpec | None = None) -> Estimate:
    """TTFT, TPOT, e2e latency, throughput, memory and bottlenecks for every scenario.

    When a batch's KV cache does not fit, the requests run in ``waves``: as a paged-KV server
    admits them, ``c`` = as many as fit (``extra['concurrency']``) per wave, the rest in the last
    wave; each wave starts when the one before has finished. Under waves

    * TTFT is the mean over requests of their time to first token: a request in wave ``k`` waits
      for the ``k`` earlier waves (prefill + decode each) and then its wave's prefill; but never
      less than the prefill of the whole batch in one pass, the TTFT the batch reports when it fits
      (one pass, every first token at its end). Without that floor a mean could credit the first
      wave's shorter prefill, which the one-pass convention never credits, and a batch would look
      faster for lack of memory (more HBM, a shorter prompt or a smaller batch would raise TTFT);
      and never more than e2e (the floor's one pass can cost more than the waves' prefills);
    * TPOT is the mean over requests of their wave's decode step;
    * e2e is when the last wave finishes, and throughput covers all waves;
    * ``prefill``/``decode`` (time split, FLOPs, bytes) are totals over all waves.

    A request that does not fit waits for a whole earlier wave, so neither TTFT nor e2e falls
    when a growing batch starts a new wave, nor when a longer prompt lowers the concurrency. With
    one wave all of these are those of the batch.
    ``extra['prefill_flops']``/``extra['decode_flops']`` are whole-deployment FLOPs (all devices,
    all replicas, all waves). ``extra['fits']`` is False when not even one request fits next to
    the weights.

    Serving options, per row: speculative decoding (``spec_tokens`` > 0 with ``draft``),
    prefill/decode disaggregation (``decode_tp`` > 0: decode runs on its own pool after a KV
    transfer over the scale-out network), and offload (weights/KV beyond HBM stay in host
    memory and are streamed over the host link each pass instead of failing).
    """
    dinp = decode_pool(inp)
    conc, mem_full = concurrency(model, dinp)
    extra_w = np.zeros(len(inp))
    if draft is not None and np.any(inp.spec_tokens > 0):
        # the draft's weights share the devices
        extra_w = np.where(inp.spec_tokens > 0, weight_bytes_per_device(draft, dinp), 0.0)
        conc, _ = concurrency(model, dinp, extra_w)
    Br = replica_batch(inp)
    # offload: what HBM cannot hold lives in host memory (host link bandwidth per pass)
    offload = (inp.offload_w | inp.offload_kv) & (conc < Br)
    spill_w = np.zeros(len(inp))
    spill_kv = np.zeros(len(inp))
    if offload.any():
        # bytes HBM cannot hold: spill weights first (if allowed), then KV (if allowed)
        room = mem_full.capacity - mem_full.activations
        excess = np.maximum(mem_full.weights + extra_w + mem_full.kv - room, 0.0)
        spill_w = np.where(offload & inp.offload_w, np.minimum(excess, mem_full.weights), 0.0)
        spill_kv = np.where(offload & inp.offload_kv, np.minimum(excess - spill_w, mem_full.kv), 0.0)
        offload = offload & (spill_w + spill_kv >= excess * (1 - 1e-9)) & (spill_w + spill_kv <= inp.host_bytes)
        spill_w = np.where(offload, spill_w, 0.0)
        spill_kv = np.where(offload, spill_kv, 0.0)
        conc = np.where(offload, Br, conc)
    fits = conc >= 1
    waves = np.where(fits, np.ceil(Br / np.maximum(conc, 1.0)), 1.0)
    # greedy admission: full waves of `conc` requests, then the rest (per replica)
    full = np.where(waves > 1, np.minimum(conc, Br), Br)
    last = Br - (waves - 1.0) * full
    run = inp
    if np.any(waves > 1):
        run = inp.take(np.arange(len(inp)))
        run.B = full * inp.dp
    spec = (inp.spec_tokens > 0) if draft is not None else np.zeros(len(inp), dtype=bool)
    pf, dc, tpot = _wave(model, draft, run, spec, want_ops, bool(spec.all()))
    # offload penalty: spilled weights stream over the host link on every pass; spilled KV on
    # every decode step (attention reads the whole context). Offloaded rows run in one wave.
    if offload.any():
        host = inp.host_bw
        _add_time(pf, spill_w / host, "t_memory")
        _add_time(dc, (spill_w + spill_kv) / host * dc.iterations, "t_memory")
    pf_last, dc_last, tpot_last = pf.time, dc.time, tpot
    pf_tot, dc_tot = pf, dc
    multi = np.nonzero(waves > 1)[0]
    if multi.size:
        rl = run.take(multi)
        rl.B = last[multi] * inp.dp[multi]
        pl_, dl_, tl_ = _wave(model, draft, rl, spec[multi], want_ops, bool(spec.all()))
        pf_last, dc_last, tpot_last = pf.time.copy(), dc.time.copy(), tpot.copy()
        pf_last[multi], dc_last[multi], tpot_last[multi] = pl_.time, dl_.time, tl_
        pf_tot = _waves_total(pf, pl_, multi, waves)
        dc_tot = _waves_total(dc, dl_, multi, waves)
    # wave k (0-based) starts when the waves before it finished: k·P, P = one full wave's
    # prefill + decode; its requests get their first token after its prefill. Mean over the
    # Br requests (full in each of the first w-1 waves, `last` in the last one), closed form:
    k = waves - 1.0
    P = pf.time + dc.time
    ttft = (full * (k * pf.time + P * k * (k - 1.0) / 2.0) + last * (k * P + pf_last)) / Br
    e2e = k * P + pf_last + dc_last
    if multi.size:
        # ... never below the prefill of the whole batch in one pass, its TTFT had it fit, and
        # never after the end of the run (every first token comes before the last wave ends)
        ttft[multi] = np.minimum(np.maximum(ttft[multi], prefill(model, inp.take(multi)).time), e2e[multi])
    tpot = (full * k * tpot + last * tpot_last) / Br
    # fixed per-run cost (tokenization, scheduling, setup) lands before the first token
    ovh = inp.eff["request_overhead_s"]
    _add_time(pf_tot, ovh, "t_overhead")
    ttft = ttft + ovh
    e2e = e2e + ovh
    O = inp.O.astype(float)
    tokens = inp.B * O
    thr = tokens / e2e
    mem = memory(model, decode_pool(run)) if run is not inp else mem_full
    if extra_w.any():
        mem.weights = mem.weights + extra_w
    if offload.any():
        mem.weights = mem.weights - spill_w
        mem.kv = mem.kv - spill_kv
    devices = inp.devices
    # whole-deployment FLOPs: per-device FLOPs (all waves) × devices of a replica's pool × dp
    cp = inp.cp.astype(float)
    pf_flops = pf_tot.flops * inp.tp * inp.pp * cp * inp.dp
    dc_flops = dc_tot.flops * dinp.tp * dinp.pp * cp * inp.dp
    return Estimate(
        ttft_s=ttft, tpot_s=tpot, e2e_s=e2e, throughput_tok_s=thr,
        throughput_tok_s_per_device=thr / devices, prefill=pf_tot, decode=dc_tot, memory=mem,
        bottleneck=bottleneck_of(pf_tot, dc_tot), prefill_bottleneck=bottleneck_of(pf_tot),
        decode_bottleneck=bottleneck_of(dc_tot),
        extra={"concurrency": np.where(fits, np.minimum(conc, Br), 0.0) * inp.dp, "waves": waves,
               "fits": fits, "memory_full": mem_full.total, "spill_weights": spill_w, "spill_kv": spill_kv,
               "offloaded": offload, "tokens_per_step": np.where(spec, expected_tokens_per_step(
                   inp.spec_tokens, inp.acceptance), 1.0),
               "prefill_flops": pf_flops, "decode_flops": dc_flops},
    )


def _wave(model: ModelSpec, draft: ModelSpec | None, run: Inputs, spec: np.ndarray, want_ops: bool,
          all_spec: bool) -> tuple[PhaseResult, PhaseResult, np.ndarray]:
    """Prefill, decode (speculative where ``spec``) and TPOT of one wave of ``run.B`` requests.

    ``all_spec`` (every row of the whole estimate speculates) picks the speculative phase as a
    whole, so that every wave's per-operator list has the same operators. Disaggregated rows add
    the prompt KV transfer from the prefill to the decode pool (scale-out network) to the decode
    phase. A 1-token output has no decode step: its TPOT is the time one step would take.
    """
    drun = decode_pool(run)
    pf = prefill(model, run, want_ops=want_ops)
    if all_spec:
        dc = speculative_decode(model, draft, drun, want_ops=want_ops)
    else:
        dc = decode(model, drun, want_ops=want_ops)
        if spec.any():
            idx = np.nonzero(spec)[0]
            dc = _merge(dc, speculative_decode(model, draft, drun.take(idx)), idx)
    # disaggregation: the prompt's KV moves from the prefill pool to the decode pool
    dis = run.decode_tp > 0
    if dis.any():
        kv_req = kv_bytes_per_request(model, run, run.L.astype(float)) * (run.tp * run.pp) / (drun.tp * drun.pp)
        send = np.maximum(replica_batch(run) * kv_req, 0.0)
        xfer = np.where(dis, run.out_lat + send / (run.out_bw * run.eff["network"]), 0.0)
        _add_time(dc, xfer, "t_network")
    steps = np.maximum(run.O.astype(float) - 1.0, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tpot = np.where(steps > 0, dc.time / np.maximum(steps, 1.0), np.nan)
    if np.any(steps == 0):
        one = drun.take(np.nonzero(steps == 0)[0])
        one.O = np.full(len(one), 2.0)
        tpot[steps == 0] = decode(model, one).time
    return pf, dc, tpot


def _waves_total(full: PhaseResult, last: PhaseResult, idx: np.ndarray, waves: np.ndarray) -> PhaseResult:
    """A phase summed over all waves: rows ``idx`` get ``(waves-1)·full + last``, others ``full``.

    Per-operator details are summed the same way (the op lists match: same model and phase).
    """
    k = waves[idx] - 1.0
    n = len(full.time)
    out = PhaseResult(**{f: (v.copy() if isinstance(v, np.ndarray) else v) for f, v in full.__dict__.items()})
    for f in ("time", "t_compute", "t_memory", "t_network", "t_overhead", "flops", "bytes", "net_bytes",
              "iterations"):
        a = np.array(np.broadcast_to(getattr(full, f), (n,)), dtype=float)
        a[idx] = a[idx] * k + getattr(last, f)
        setattr(out, f, a)
    ops = []
    for d, dl in zip(full.ops, last.ops):
        d = dict(d)
        for f in ("flops", "bytes", "net_bytes", "time", "t_compute", "t_memory"):
            a = np.array(np.broadcast_to(np.asarray(d[f], dtype=float), (n,)), dtype=float)
            a[idx] = a[idx] * k + np.broadcast_to(np.asarray(dl[f], dtype=float), (len(idx),))
            d[f] = a
        ops.append(d)
    out.ops = ops
    return out


__all__ = ["Inputs", "Estimate", "estimate", "prefill", "decode", "memory", "sum_max_affine", "INF"]
