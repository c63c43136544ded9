"""The analytical engine: phases, pipeline parallelism, memory and metrics, vectorized.

Everything here works on numpy arrays over scenarios that share one model architecture
(:class:`~genz.perf.inputs.Inputs`); the caller (:mod:`genz.perf.predict`) groups rows by model,
so a million scenarios cost a few dozen array passes, never a Python loop per scenario.

Timing of a phase
    A phase is ``n`` iterations; iteration ``j`` processes ``t`` new tokens for each of ``S``
    sequences with ``s_j = s0 + j·Δ`` tokens already cached (a :class:`Schedule`). Each operator's
    time is a roofline ``max(FLOPs/rate, bytes/bandwidth)``, with FLOPs and bytes affine in ``s`` up
    to a sliding window, constant beyond it and quadratic in the (at most one) iteration whose
    block straddles its edge (:class:`~genz.perf.closedform.WindowSplit`), so the sum over
    iterations is computed exactly in closed form (:func:`sum_max_affine`, :func:`sum_block_keys`).
    Prefill is one iteration over the prompt; decode is ``output-1`` iterations of one token,
    context growing by one each.

Pipeline parallelism
    Layers are split over ``pp`` stages; a batch is split into ``m = min(batch, pp)`` micro-batches.
    A prefill takes ``(m + pp - 1)`` stage slots plus ``pp - 1`` activation hops; a decode round
    (every sequence advances one token) takes ``max(m, pp)`` stage slots plus ``pp`` hops. Stage
    imbalance (layers not divisible by ``pp``) is counted.

Metrics (docs/reference.md §2)
    TTFT = prefill of the whole batch. TPOT = mean decode step over the output (the first output
    token comes from the prefill). e2e = TTFT + Σ decode steps. Throughput = batch·output/e2e.
    A batch whose KV cache does not fit runs in waves (see :func:`estimate`): TTFT is then the
    mean over requests, including the wait for earlier waves, and never below the prefill of the
    whole batch in one pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from ..catalog.modelspec import Attention, Mamba, ModelSpec
from . import collectives as coll
from .closedform import WindowSplit, sum_block_keys, sum_max_affine, window_split
from .inputs import Device, Inputs, Layout, Precision, Stack, Workload
from .ops import INF, Op, Step, model_ops

#: fallback per-iteration token budget of a serving framework (activation workspace sizing)
DEFAULT_TOKEN_BUDGET = 8192


# ----------------------------------------------------------------------------------------------
# results
# ----------------------------------------------------------------------------------------------


@dataclass(eq=False)
class OpTiming:
    """One operator's totals over a phase, per device, as arrays over scenarios.

    ``time`` is the operator's share of the phase (s): its roofline summed over iterations
    (:func:`run_phase`), or its collective time for network operators; ``t_compute``/``t_memory``
    are the sums of ``FLOPs/rate`` and ``bytes/bandwidth`` and ``bound`` says which resource
    the operator is bound by (``'compute'``, ``'memory'``, ``'network'``). ``flops``, ``bytes``
    (HBM) and ``net_bytes`` are per device over the whole phase; ``count`` is the number of layers
    sharing the operator, ``group`` its layer-group label (the ``layer_group`` column).

    It reads like the dict it replaced: ``t["time"]``, ``t.get("group", "model")``, ``dict(t)``,
    :meth:`as_dict`.
    """

    name: str
    group: str  # layer-group label, 'model' for the embedding and the head
    kind: str  # genz.perf.ops.KINDS
    count: float  # layers sharing the operator
    flops: np.ndarray  # FLOPs per device
    bytes: np.ndarray  # HBM bytes per device
    net_bytes: np.ndarray  # bytes sent over the network per device
    time: np.ndarray  # s
    t_compute: np.ndarray  # Σ FLOPs/rate, s
    t_memory: np.ndarray  # Σ bytes/bandwidth, s
    bound: np.ndarray | str  # 'compute', 'memory' or 'network'

    #: fields that add up over iterations, waves and repeats (scaled by :meth:`scaled`)
    EXTENSIVE = ("flops", "bytes", "net_bytes", "time", "t_compute", "t_memory")

    def keys(self) -> tuple[str, ...]:
        return _OP_TIMING_KEYS

    def __getitem__(self, key: str):
        if key not in _OP_TIMING_KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in _OP_TIMING_KEYS

    def get(self, key: str, default=None):
        return getattr(self, key) if key in _OP_TIMING_KEYS else default

    def as_dict(self) -> dict:
        """The fields as a plain dict (the per-operator record of earlier versions)."""
        return {k: getattr(self, k) for k in _OP_TIMING_KEYS}

    def scaled(self, k, names: tuple[str, ...] = EXTENSIVE) -> OpTiming:
        """A copy with the fields ``names`` (default: all extensive ones) multiplied by ``k``."""
        return replace(self, **{f: getattr(self, f) * k for f in names})


_OP_TIMING_KEYS = tuple(f.name for f in fields(OpTiming))


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
    ops: list[OpTiming] = field(default_factory=list)  # per-operator totals (when requested)

    #: the per-scenario array fields
    ARRAYS = ("time", "t_compute", "t_memory", "t_network", "t_overhead", "flops", "bytes", "net_bytes",
              "iterations")

    def copy(self) -> PhaseResult:
        """A copy whose arrays can be written in place (operator list shared)."""
        out = replace(self)
        for k in self.ARRAYS:
            v = getattr(self, k)
            if isinstance(v, np.ndarray):
                setattr(out, k, v.copy())
        return out


# ----------------------------------------------------------------------------------------------
# timing one phase
# ----------------------------------------------------------------------------------------------


@dataclass
class Schedule:
    """How a phase's iterations run, arrays over scenarios (per replica).

    ``n`` iterations of shape ``step``; iteration ``j`` has ``s0 + j·delta`` tokens cached; the
    ``once`` operators (LM head of a prefill) run ``n_once`` times. Pipeline parallelism scales
    the per-pass operator time by ``stage_factor`` and the per-device FLOPs/bytes by
    ``work_factor`` (micro-batches per stage / stages; ``None`` = 1), and adds ``hops`` seconds
    of activation transfer per iteration.
    """

    step: Step
    s0: np.ndarray | float
    delta: np.ndarray | float
    n: np.ndarray | float
    n_once: np.ndarray | float
    stage_factor: np.ndarray | float
    hops: np.ndarray | float
    work_factor: np.ndarray | float | None = None


@dataclass
class _Tally:
    """Running per-scenario totals over a phase's operators, added in operator order.

    ``t_compute``/``t_memory`` (s, before the pipeline's stage factor) of compute- and
    memory-bound operators, ``t_network`` (s) of collectives, ``flops``, HBM ``bytes``,
    ``net_bytes``, kernel launches; ``ops`` the per-operator timings when requested (else None).
    """

    t_compute: np.ndarray
    t_memory: np.ndarray
    t_network: np.ndarray
    flops: np.ndarray
    bytes: np.ndarray
    net_bytes: np.ndarray
    kernels: np.ndarray
    zeros: np.ndarray  # a shared zero row, for the per-operator fields that do not apply
    ops: list[OpTiming] | None

    @classmethod
    def empty(cls, n: int, want_ops: bool) -> _Tally:
        z = np.zeros(n)
        return cls(z.copy(), z.copy(), z.copy(), z.copy(), z.copy(), z.copy(), z.copy(), z,
                   [] if want_ops else None)


def _row(x, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(x, dtype=float), (n,))


def _grows(op: Op) -> bool:
    """Whether the operator's cost depends on the cached context (attention)."""
    return bool(np.any(op.f1) or np.any(op.b1) or np.any(op.fk))


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


def _time_collectives(ops: list[Op], n, n_once, eff: dict, tally: _Tally) -> None:
    """Collectives: ``(alpha-beta time + per-call software cost) × calls`` each, network-bound.

    A collective runs ``count`` times per iteration (``n_once`` iterations for ``once`` ops);
    its kernels count as launches only where it moves data.
    """
    N = len(tally.zeros)
    for op in ops:
        reps = n_once if op.once else n
        raw = _row(op.comm_s, N)
        # software cost per collective call (launch, synchronization) on top of the alpha-beta time
        raw = raw + np.where(raw > 0, eff["comm_overhead_s"], 0.0)
        t = raw * reps * op.count
        tally.t_network = tally.t_network + t
        nb = _row(op.extra.get("net_bytes", 0.0), N) * reps * op.count
        tally.net_bytes = tally.net_bytes + nb
        tally.kernels = tally.kernels + np.where(t > 0, op.kernels * op.count * reps, 0.0)
        if tally.ops is not None:
            z = tally.zeros
            tally.ops.append(OpTiming(name=op.name, group=op.group, kind=op.kind, count=op.count, flops=z, bytes=z,
                                      net_bytes=nb, time=t, t_compute=z, t_memory=z, bound="network"))


def _time_flat(ops: list[Op], inp: Inputs, n, n_once, tally: _Tally) -> None:
    """Operators whose cost does not grow with the context, all at once as (ops × scenarios) arrays.

    Every iteration costs the same: ``time = max(F/rate, B/bandwidth) × iterations × count``.
    """
    if not ops:
        return
    N = len(inp)
    F = np.stack([_row(op.f0, N) for op in ops])
    B = np.stack([_row(op.b0, N) for op in ops])
    FR = _op_rates(ops, inp)
    mr = inp.hbm_bw * inp.eff["memory"]  # bytes/s of streaming kernels
    once = np.array([op.once for op in ops])[:, None]
    cnt = np.array([float(op.count) for op in ops])[:, None]
    reps = np.where(once, n_once[None, :], n[None, :]) * cnt
    c = F / FR
    m = B / mr[None, :]
    t = np.maximum(c, m) * reps
    cb = c >= m
    tally.t_compute = tally.t_compute + np.where(cb, t, 0.0).sum(axis=0)
    tally.t_memory = tally.t_memory + np.where(cb, 0.0, t).sum(axis=0)
    tally.flops = tally.flops + (F * reps).sum(axis=0)
    tally.bytes = tally.bytes + (B * reps).sum(axis=0)
    tally.kernels = tally.kernels + (np.array([op.kernels for op in ops])[:, None] * reps).sum(axis=0)
    if tally.ops is not None:
        for i, op in enumerate(ops):
            tally.ops.append(OpTiming(name=op.name, group=op.group, kind=op.kind, count=op.count,
                                      flops=F[i] * reps[i], bytes=B[i] * reps[i], net_bytes=tally.zeros, time=t[i],
                                      t_compute=c[i] * reps[i], t_memory=m[i] * reps[i],
                                      bound=np.where(cb[i], "compute", "memory")))


def _context_op_sums(op: Op, fr, mr, s0, delta, n, N: int):
    """One layer's roofline time, FLOPs and bytes of a context-dependent operator over a phase.

    With ``flops(s) = f0 + f1·min(s, W-1) + fk·K(s, t)`` and ``bytes(s) = b0 + b1·min(s, W-1)``
    (:mod:`genz.perf.ops`), the iterations split into three ranges (:class:`WindowSplit`):

    1. affine: ``flops = f0 + fk·t(t+1)/2 + (f1 + fk·t)·s``, ``bytes = b0 + b1·s``, summed exactly
       by :func:`sum_max_affine` (no window: every iteration);
    2. straddling the window edge (at most one iteration unless verifying γ+1 tokens): the
       roofline of its totals;
    3. beyond the window: constant per iteration, ``W-1`` cached tokens, ``t·W`` query-key pairs.

    Returns (Σ roofline time (s), Σ FLOPs, Σ bytes), per layer.
    """
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
    return tA + tS + tB, f_tot, b_tot


def _time_context(ops: list[Op], inp: Inputs, s0, delta, n, tally: _Tally) -> None:
    """Operators whose cost grows with the cached context (attention), one closed-form sum each
    (:func:`_context_op_sums`); an operator is compute-bound when Σ FLOPs/rate ≥ Σ bytes/bandwidth."""
    if not ops:
        return
    N = len(inp)
    FRc = _op_rates(ops, inp)
    mr = inp.hbm_bw * inp.eff["memory"]  # bytes/s of streaming kernels
    for i, op in enumerate(ops):
        fr = FRc[i]
        t_layer, f_tot, b_tot = _context_op_sums(op, fr, mr, s0, delta, n, N)
        sum_c = f_tot / fr
        sum_m = b_tot / mr
        t = t_layer * op.count
        cb = sum_c >= sum_m
        tally.t_compute = tally.t_compute + np.where(cb, t, 0.0)
        tally.t_memory = tally.t_memory + np.where(cb, 0.0, t)
        tally.flops = tally.flops + f_tot * op.count
        tally.bytes = tally.bytes + b_tot * op.count
        tally.kernels = tally.kernels + op.kernels * op.count * n
        if tally.ops is not None:
            tally.ops.append(OpTiming(name=op.name, group=op.group, kind=op.kind, count=op.count,
                                      flops=f_tot * op.count, bytes=b_tot * op.count, net_bytes=tally.zeros, time=t,
                                      t_compute=sum_c * op.count, t_memory=sum_m * op.count,
                                      bound=np.where(cb, "compute", "memory")))


def run_phase(model: ModelSpec, inp: Inputs, sched: Schedule, want_ops: bool = False,
              include: Callable[[Op], bool] | None = None, step_overhead: bool = True) -> PhaseResult:
    """Time a phase of ``sched.n`` iterations (closed form over the growing context).

    Operators without a context term are timed together as one (ops × scenarios) array
    (:func:`_time_flat`); the few whose cost grows with context (attention) go through the
    closed-form sum (:func:`_time_context`); collectives are network time (:func:`_time_collectives`).
    Then, per scenario (s)::

        time = (t_compute + t_memory + t_network + kernels·kernel_overhead)·stage_factor
               + n·(step_overhead + seq_overhead·S·micro-batches) + n·hops

    ``include`` filters operators (used to compose mixed prefill+decode iterations);
    ``step_overhead`` adds the per-iteration framework overhead. FLOPs and bytes are per device
    (× ``work_factor``).
    """
    step = sched.step
    ops = model_ops(model, step, inp.par())
    if include is not None:
        ops = [op for op in ops if include(op)]
    N = len(inp)
    n = _row(sched.n, N)
    n_once = _row(sched.n_once, N)
    s0 = _row(sched.s0, N)
    delta = _row(sched.delta, N)
    wf = np.ones(N) if sched.work_factor is None else _row(sched.work_factor, N)
    tally = _Tally.empty(N, want_ops)
    comm = [op for op in ops if op.kind == "comm"]
    _time_collectives(comm, n, n_once, inp.eff, tally)
    _time_flat([op for op in ops if op.kind != "comm" and not _grows(op)], inp, n, n_once, tally)
    _time_context([op for op in ops if op.kind != "comm" and _grows(op)], inp, s0, delta, n, tally)

    e = inp.eff
    sf = sched.stage_factor
    t_kernel = tally.kernels * e["kernel_overhead_s"]
    body = (tally.t_compute + tally.t_memory + tally.t_network + t_kernel) * sf
    if step_overhead:
        t_step = n * (e["step_overhead_s"] + e["seq_overhead_s"] * step.S * _microbatches(inp, step))
    else:
        t_step = tally.zeros
    hops = n * sched.hops
    details = tally.ops or []
    if want_ops and np.any(wf != 1.0):
        details = [d.scaled(wf, ("flops", "bytes", "net_bytes")) for d in details]
    return PhaseResult(
        time=body + t_step + hops, t_compute=tally.t_compute * sf, t_memory=tally.t_memory * sf,
        t_network=tally.t_network * sf + hops, t_overhead=t_kernel * sf + t_step,
        flops=tally.flops * wf, bytes=tally.bytes * wf, net_bytes=tally.net_bytes * wf, iterations=n,
        ops=details,
    )


# ----------------------------------------------------------------------------------------------
# phases
# ----------------------------------------------------------------------------------------------


def _microbatches(inp: Inputs, step: Step) -> np.ndarray:
    """Number of micro-batches a replica's batch is split into (pipeline parallelism)."""
    Br = np.ceil(inp.B / inp.dp)
    return np.maximum(np.round(Br / np.maximum(step.S, 1e-9)), 1.0)


def _stage_imbalance(model: ModelSpec, pp: np.ndarray) -> np.ndarray:
    """Slowest stage over mean stage when layers don't divide evenly: ceil(L/pp)/(L/pp)."""
    nl = model.n_layers
    return np.ceil(nl / pp) / (nl / pp)


def _hop(model: ModelSpec, inp: Inputs, tokens) -> np.ndarray:
    """Seconds to pass ``tokens`` tokens of activations (``tokens × hidden × act bytes``) to the next
    pipeline stage; over the scale-out network when a stage's ``tp·cp`` devices fill the domain."""
    cross = inp.tp * inp.cp >= inp.domain
    return coll.p2p(tokens * model.hidden * inp.ab, cross, inp.net())


def replica_batch(inp: Inputs) -> np.ndarray:
    """Requests per data-parallel replica (ceil)."""
    return np.ceil(inp.B / inp.dp)


def prefill(model: ModelSpec, inp: Inputs, want_ops: bool = False, S_override=None) -> PhaseResult:
    """Prefill of the whole batch (TTFT), with optional chunking.

    Without chunking one iteration processes every prompt (``S = batch``, ``t = prompt``).
    With ``chunk`` tokens per iteration: prompts longer than the chunk are split into
    ``k = ceil(L/chunk)`` pieces processed one after another (context grows by ``L/k``), and
    shorter prompts are packed ``floor(chunk/L)`` per iteration.

    Pipeline: ``m = min(S, pp)`` micro-batches fill ``(m + pp - 1)`` stage slots of ``1/pp`` of the
    layers each, plus ``pp - 1`` activation hops per iteration.
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
    st = Step(S=mb, t=t, logits=np.ones_like(t), absorb=t <= 16)
    hops = np.where(pp > 1, (pp - 1.0) * _hop(model, inp, mb * t), 0.0)
    sched = Schedule(step=st, s0=np.zeros_like(t), delta=t, n=k, n_once=1.0,
                     stage_factor=(m + pp - 1.0) / pp * imb, hops=hops, work_factor=m / pp)
    r = run_phase(model, inp, sched, want_ops=want_ops)
    # repeat for each group of prompts processed one after another
    if np.any(groups != 1):
        r = _scale(r, groups)
    return r


def decode(model: ModelSpec, inp: Inputs, want_ops: bool = False, t_tokens=None, advance=None,
           n_steps=None, logits=None) -> PhaseResult:
    """All decode iterations after the prefill: ``output - 1`` steps of one token per sequence.

    ``t_tokens``/``advance``/``n_steps``/``logits`` override the step shape (speculative decoding
    verifies ``γ+1`` tokens per step and advances by the expected accepted tokens).

    Pipeline: ``m = min(batch, pp)`` micro-batches; a round takes ``max(m, pp)`` stage slots and
    ``pp`` hops per micro-batch slot.
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
    st = Step(S=mb, t=t, logits=np.ones_like(t) if logits is None else logits, absorb=t <= 16)
    hops = np.where(pp > 1, pp * _hop(model, inp, mb * t) * np.maximum(m, pp) / pp, 0.0)
    # step j attends to L + j·adv cached tokens (j = 0 is the first decode step)
    sched = Schedule(step=st, s0=L, delta=adv, n=n, n_once=n, stage_factor=np.maximum(m, pp) / pp * imb,
                     hops=hops, work_factor=m / pp)
    return run_phase(model, inp, sched, want_ops=want_ops)


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
    sf = np.maximum(m, pp) / pp * imb
    one = np.ones_like(T)
    zero = np.zeros_like(T)
    wf = m / pp
    tokens = Step(S=one, t=T / m, logits=(n_dec * t_d + n_pf) / m, absorb=np.zeros_like(T, dtype=bool))
    hops = np.where(pp > 1, pp * _hop(model, inp, T / m) * np.maximum(m, pp) / pp, 0.0)
    a = run_phase(model, inp, Schedule(tokens, s0=zero, delta=zero, n=one, n_once=one, stage_factor=sf, hops=hops,
                                       work_factor=wf),
                  want_ops=want_ops, include=lambda op: not op.per_seq, step_overhead=False)
    # framework overhead per iteration: fixed part plus a part per sequence in flight
    over = inp.eff["step_overhead_s"] + inp.eff["seq_overhead_s"] * (n_dec + n_pf)
    a.time = a.time + over
    a.t_overhead = a.t_overhead + over
    dec = Step(S=n_dec / m, t=t_d, logits=one, absorb=t_d <= 16)
    b = run_phase(model, inp, Schedule(dec, s0=ctx_dec, delta=zero, n=one, n_once=one, stage_factor=sf, hops=zero,
                                       work_factor=wf),
                  want_ops=want_ops, include=lambda op: op.per_seq, step_overhead=False)
    pf = Step(S=n_pf / m, t=np.maximum(pf_len, 1.0), logits=one, absorb=pf_len <= 16)
    c = run_phase(model, inp, Schedule(pf, s0=zero, delta=zero, n=np.where(n_pf > 0, 1.0, 0.0), n_once=one,
                                       stage_factor=sf, hops=zero, work_factor=wf),
                  want_ops=want_ops, include=lambda op: op.per_seq, step_overhead=False)
    return combine(a, b, c)


def _scale(r: PhaseResult, k: np.ndarray) -> PhaseResult:
    """A phase repeated ``k`` times (every total and operator × k)."""
    return PhaseResult(time=r.time * k, t_compute=r.t_compute * k, t_memory=r.t_memory * k,
                       t_network=r.t_network * k, t_overhead=r.t_overhead * k, flops=r.flops * k,
                       bytes=r.bytes * k, net_bytes=r.net_bytes * k, iterations=r.iterations * k,
                       ops=[d.scaled(k) for d in r.ops])


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
    """Weight bytes on the most loaded device (TP/EP shards, PP stage with the most layers).

    The routed experts' parameters are stored at ``wb`` bytes each, the other layer weights at
    ``wdb`` on an MoE model (``wb`` unless the format quantizes the experts only,
    :func:`genz.catalog.dtypes.expert_only`); a dense model stores every layer at ``wb``.
    """
    h = model.hidden
    tp, ep, pp = inp.tp.astype(float), inp.ep.astype(float), inp.pp.astype(float)
    is_moe = any(lc.ffn is not None and lc.ffn.is_moe for lc in model.layers)
    wdb = np.where((inp.wdb > 0) & is_moe, inp.wdb, inp.wb)
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
                experts = f.n_experts / ep * f.expert_params(h) / moe_tp
                layer_bytes = layer_bytes + lc.count * experts * inp.wb
                p = p + f.shared_params(h) / tp + h * f.n_experts
            else:
                p = p + f.weight_params(h) / tp
        layer_bytes = layer_bytes + lc.count * p * wdb
    imb = _stage_imbalance(model, pp)
    emb = model.embedding_params() * inp.eb / tp
    head = (model.lm_head_params() / tp + model.hidden) * inp.eb  # LM head (vocab-split) + final norm
    ends = np.where(pp > 1, np.maximum(emb, head), emb + head)
    return layer_bytes / pp * imb + ends


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
    """The inputs of the decode pool: disaggregated rows (``decode_tp`` > 0) use the decode workers'
    layout (``decode_tp``, ``decode_pp``, ``decode_ep``, and ``decode_dp`` attention ranks over all
    decode workers and replicas; 0 = the prefill pool's, :func:`genz.perf.layouts.engine_layout`)."""
    dis = inp.decode_tp > 0
    if not dis.any():
        return inp
    return inp.replace(tp=np.where(dis, inp.decode_tp, inp.tp),
                       pp=np.where(dis, np.maximum(inp.decode_pp, 1.0), inp.pp),
                       ep=np.where(dis & (inp.decode_ep > 0), inp.decode_ep, inp.ep),
                       dp=np.where(dis & (inp.decode_dp > 0), inp.decode_dp, inp.dp))


def kv_transfer(model: ModelSpec, pf: Inputs, dc: Inputs, sent, received) -> np.ndarray:
    """Seconds to move the prompt KV of requests from the prefill pool to the decode pool.

    A prefill device sends ``sent`` requests' prompt KV at its layout's share
    (``kv_bytes_per_request(pf, L)`` each), a decode device receives ``received`` requests' at its
    share; every device has its own link, so the slower end sets the time::

        t = latency + max(sent · kv_pf, received · kv_dc) / (bandwidth · network efficiency)

    over the scale-up fabric when a prefill rank's and a decode rank's devices fit one scale-up
    domain together (they can be placed in it), else scale-out (:func:`genz.perf.layouts.kv_link`).
    """
    from .layouts import kv_link, kv_transfer_seconds

    L = pf.L.astype(float)
    send = np.asarray(sent, dtype=float) * kv_bytes_per_request(model, pf, L)
    recv = np.asarray(received, dtype=float) * kv_bytes_per_request(model, dc, L)
    bw, lat = kv_link(pf.tp * pf.pp * pf.cp, dc.tp * dc.pp * dc.cp, pf.domain, pf.up_bw, pf.up_lat,
                      pf.out_bw, pf.out_lat)
    return kv_transfer_seconds(np.maximum(send, recv), bw * pf.eff["network"], lat)


def _merge(base: PhaseResult, sub: PhaseResult, idx: np.ndarray) -> PhaseResult:
    """``base`` with rows ``idx`` replaced by ``sub`` (same fields)."""
    out = base.copy()
    for k in PhaseResult.ARRAYS:
        getattr(out, k)[idx] = getattr(sub, k)
    return out


def _add_time(r: PhaseResult, seconds: np.ndarray, kind: str) -> None:
    """Add ``seconds`` to a phase's time and to its ``kind`` share (``'t_memory'``, ...), in place."""
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


@dataclass
class _Offload:
    """What HBM cannot hold and lives in host memory instead (bytes per device; rows ``rows``)."""

    rows: np.ndarray  # bool: the row runs offloaded (in one wave)
    weights: np.ndarray  # spilled weight bytes
    kv: np.ndarray  # spilled KV bytes


def _offload(inp: Inputs, conc: np.ndarray, mem_full: Memory, extra_w: np.ndarray) -> _Offload:
    """Spill for rows that allow offload and whose batch does not fit at once.

    The excess ``weights + draft weights + KV - (capacity - activations)`` spills weights first
    (if allowed), then KV (if allowed); a row is offloaded only when the spill covers the excess
    and fits in the host memory available to the device.
    """
    offload = (inp.offload_w | inp.offload_kv) & (conc < replica_batch(inp))
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
    return _Offload(rows=offload, weights=spill_w, kv=spill_kv)


@dataclass
class _Waves:
    """A batch run in waves: a full wave's phases, the last wave's times and totals over all waves.

    ``multi`` are the rows with more than one wave; elsewhere the last wave is the full one and
    the totals are the full wave's.
    """

    pf: PhaseResult  # prefill of a full wave
    dc: PhaseResult  # decode of a full wave
    tpot: np.ndarray  # TPOT of a full wave (s)
    pf_last: np.ndarray  # prefill time of the last wave (s)
    dc_last: np.ndarray  # decode time of the last wave (s)
    tpot_last: np.ndarray  # TPOT of the last wave (s)
    pf_tot: PhaseResult  # prefill over all waves
    dc_tot: PhaseResult  # decode over all waves
    multi: np.ndarray  # row indices with waves > 1


def _run_waves(model: ModelSpec, draft: ModelSpec | None, inp: Inputs, run: Inputs, spec: np.ndarray,
               want_ops: bool, waves: np.ndarray, last: np.ndarray, off: _Offload) -> _Waves:
    """Time a full wave (``run.B`` requests) and, where there are several, the last one.

    Offload penalty: spilled weights stream over the host link on every pass (the prefill and
    every decode step), spilled KV on every decode step (attention reads the whole context).
    """
    pf, dc, tpot = _wave(model, draft, run, spec, want_ops, bool(spec.all()))
    if off.rows.any():
        host = inp.host_bw
        _add_time(pf, off.weights / host, "t_memory")
        _add_time(dc, (off.weights + off.kv) / host * dc.iterations, "t_memory")
    w = _Waves(pf=pf, dc=dc, tpot=tpot, pf_last=pf.time, dc_last=dc.time, tpot_last=tpot, pf_tot=pf, dc_tot=dc,
               multi=np.nonzero(waves > 1)[0])
    multi = w.multi
    if multi.size:
        rl = run.take(multi).replace(B=last[multi] * decode_pool(inp).dp[multi])
        pl_, dl_, tl_ = _wave(model, draft, rl, spec[multi], want_ops, bool(spec.all()))
        w.pf_last, w.dc_last, w.tpot_last = pf.time.copy(), dc.time.copy(), tpot.copy()
        w.pf_last[multi], w.dc_last[multi], w.tpot_last[multi] = pl_.time, dl_.time, tl_
        w.pf_tot = _waves_total(pf, pl_, multi, waves)
        w.dc_tot = _waves_total(dc, dl_, multi, waves)
    return w


def _wave_latencies(model: ModelSpec, inp: Inputs, w: _Waves, waves, full, last, Br):
    """(TTFT, TPOT, e2e) per scenario, means over the ``Br`` requests of a replica (s).

    Wave ``k`` (0-based) starts when the waves before it finished, at ``k·P`` with ``P`` = one full
    wave's prefill + decode; its requests get their first token after its prefill. With
    ``w - 1`` full waves of ``full`` requests and ``last`` requests in the last one, in closed form::

        TTFT = (full·((w-1)·P_pf + P·(w-1)(w-2)/2) + last·((w-1)·P + P_pf,last)) / Br
        e2e  = (w-1)·P + P_pf,last + P_dc,last
        TPOT = (full·(w-1)·TPOT + last·TPOT_last) / Br

    Under several waves TTFT is kept between the prefill of the whole batch in one pass and e2e.
    """
    k = waves - 1.0
    P = w.pf.time + w.dc.time
    ttft = (full * (k * w.pf.time + P * k * (k - 1.0) / 2.0) + last * (k * P + w.pf_last)) / Br
    e2e = k * P + w.pf_last + w.dc_last
    multi = w.multi
    if multi.size:
        # ... never below the prefill of the whole batch in one pass, its TTFT had it fit, and
        # never after the end of the run (every first token comes before the last wave ends)
        ttft[multi] = np.minimum(np.maximum(ttft[multi], prefill(model, inp.take(multi)).time), e2e[multi])
    tpot = (full * k * w.tpot + last * w.tpot_last) / Br
    return ttft, tpot, e2e


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
    one wave all of these are those of the batch (:func:`_wave_latencies`).
    ``extra['prefill_flops']``/``extra['decode_flops']`` are whole-deployment FLOPs (all devices,
    all replicas, all waves). ``extra['fits']`` is False when not even one request fits next to
    the weights.

    Serving options, per row: speculative decoding (``spec_tokens`` > 0 with ``draft``),
    prefill/decode disaggregation (``decode_tp`` > 0: decode runs on its own pool after a KV
    transfer over the scale-out network), and offload (weights/KV beyond HBM stay in host
    memory and are streamed over the host link each pass instead of failing; :func:`_offload`).
    """
    dinp = decode_pool(inp)
    conc, mem_full = concurrency(model, dinp)
    extra_w = np.zeros(len(inp))
    if draft is not None and np.any(inp.spec_tokens > 0):
        # the draft's weights share the devices
        extra_w = np.where(inp.spec_tokens > 0, weight_bytes_per_device(draft, dinp), 0.0)
        conc, _ = concurrency(model, dinp, extra_w)
    Br = replica_batch(dinp)  # requests per decode replica (the KV lives there)
    off = _offload(dinp, conc, mem_full, extra_w)
    conc = np.where(off.rows, Br, conc)
    fits = conc >= 1
    waves = np.where(fits, np.ceil(Br / np.maximum(conc, 1.0)), 1.0)
    # greedy admission: full waves of `conc` requests, then the rest (per replica)
    full = np.where(waves > 1, np.minimum(conc, Br), Br)
    last = Br - (waves - 1.0) * full
    run = inp.replace(B=full * dinp.dp) if np.any(waves > 1) else inp
    spec = (inp.spec_tokens > 0) if draft is not None else np.zeros(len(inp), dtype=bool)
    w = _run_waves(model, draft, inp, run, spec, want_ops, waves, last, off)
    ttft, tpot, e2e = _wave_latencies(model, inp, w, waves, full, last, Br)
    # fixed per-run cost (tokenization, scheduling, setup) lands before the first token
    ovh = inp.eff["request_overhead_s"]
    _add_time(w.pf_tot, ovh, "t_overhead")
    ttft = ttft + ovh
    e2e = e2e + ovh
    thr = inp.B * inp.O.astype(float) / e2e
    mem = memory(model, decode_pool(run)) if run is not inp else mem_full
    if extra_w.any():
        mem.weights = mem.weights + extra_w
    if off.rows.any():
        mem.weights = mem.weights - off.weights
        mem.kv = mem.kv - off.kv
    # whole-deployment FLOPs: per-device FLOPs (all waves) × devices of a replica's pool × dp
    cp = inp.cp.astype(float)
    pf_flops = w.pf_tot.flops * inp.tp * inp.pp * cp * inp.dp
    dc_flops = w.dc_tot.flops * dinp.tp * dinp.pp * cp * dinp.dp
    return Estimate(
        ttft_s=ttft, tpot_s=tpot, e2e_s=e2e, throughput_tok_s=thr,
        throughput_tok_s_per_device=thr / inp.devices, prefill=w.pf_tot, decode=w.dc_tot, memory=mem,
        bottleneck=bottleneck_of(w.pf_tot, w.dc_tot), prefill_bottleneck=bottleneck_of(w.pf_tot),
        decode_bottleneck=bottleneck_of(w.dc_tot),
        extra={"concurrency": np.where(fits, np.minimum(conc, Br), 0.0) * dinp.dp, "waves": waves,
               "fits": fits, "memory_full": mem_full.total, "spill_weights": off.weights, "spill_kv": off.kv,
               "offloaded": off.rows, "tokens_per_step": np.where(spec, expected_tokens_per_step(
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
        assert draft is not None, "speculative rows need a draft model"
        dc = speculative_decode(model, draft, drun, want_ops=want_ops)
    else:
        dc = decode(model, drun, want_ops=want_ops)
        if spec.any():
            assert draft is not None, "speculative rows need a draft model"
            idx = np.nonzero(spec)[0]
            dc = _merge(dc, speculative_decode(model, draft, drun.take(idx)), idx)
    # disaggregation: the prompts' KV moves from the prefill pool to the decode pool
    dis = run.decode_tp > 0
    if dis.any():
        xfer = np.where(dis, kv_transfer(model, run, drun, replica_batch(run), replica_batch(drun)), 0.0)
        _add_time(dc, xfer, "t_network")
    steps = np.maximum(run.O.astype(float) - 1.0, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tpot = np.where(steps > 0, dc.time / np.maximum(steps, 1.0), np.nan)
    if np.any(steps == 0):
        one = drun.take(np.nonzero(steps == 0)[0])
        tpot[steps == 0] = decode(model, one.replace(O=np.full(len(one), 2.0))).time
    return pf, dc, tpot


def _waves_total(full: PhaseResult, last: PhaseResult, idx: np.ndarray, waves: np.ndarray) -> PhaseResult:
    """A phase summed over all waves: rows ``idx`` get ``(waves-1)·full + last``, others ``full``.

    Per-operator details are summed the same way (the op lists match: same model and phase).
    """
    k = waves[idx] - 1.0
    n = len(full.time)

    def total(a_full, a_last) -> np.ndarray:
        a = np.array(np.broadcast_to(np.asarray(a_full, dtype=float), (n,)), dtype=float)
        a[idx] = a[idx] * k + np.broadcast_to(np.asarray(a_last, dtype=float), (len(idx),))
        return a

    sums: dict[str, Any] = {f: total(getattr(full, f), getattr(last, f)) for f in PhaseResult.ARRAYS}
    out = replace(full, **sums)
    out.ops = []
    for d, dl in zip(full.ops, last.ops):
        op_sums: dict[str, Any] = {f: total(getattr(d, f), getattr(dl, f)) for f in OpTiming.EXTENSIVE}
        out.ops.append(replace(d, **op_sums))
    return out


__all__ = [
    "INF",
    "Device",
    "Estimate",
    "Inputs",
    "Layout",
    "OpTiming",
    "PhaseResult",
    "Precision",
    "Schedule",
    "Stack",
    "WindowSplit",
    "Workload",
    "decode",
    "estimate",
    "memory",
    "mixed_iteration",
    "prefill",
    "run_phase",
    "sum_block_keys",
    "sum_max_affine",
    "window_split",
]
