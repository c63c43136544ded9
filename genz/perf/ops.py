"""Per-operator FLOPs and bytes of one forward iteration, per device, vectorized over scenarios.

An *iteration* processes ``t`` new tokens for each of ``S`` sequences whose KV cache already
holds ``s`` tokens (prefill: ``s = 0, t = prompt``; decode: ``t = 1, s = context``). An
:class:`Op` stores, per device and for one layer (plus how many layers share it)::

    flops(s) = f0 + f1·min(s, W-1) + fk·K(s, t)      bytes(s) = b0 + b1·min(s, W-1)

where ``W`` is the op's attention window (``inf`` without one), ``min(s, W-1)`` the cached
tokens a block reads, and ``K(s, t)`` the exact number of query-key pairs of ``t`` causal queries
after ``s`` cached tokens (:func:`block_keys`). These pieces are affine, quadratic or constant in
``s`` on three ranges, which lets the engine sum a whole phase of iterations in closed form.

Modelling choices (each is a comment at its formula):

* GEMM ``[M×K]·[K×N]``: ``2·M·N·K`` FLOPs; bytes = weights ``K·N`` + input ``M·K`` + output ``M·N``.
* Attention is flash-style: scores stay on chip; bytes = Q, O, the new K/V written and the cached
  K/V read once per iteration. Causal attention counts the query-key pairs the mask keeps: query
  ``p`` sees ``min(p+1, W)`` keys (about half the score matrix without a window ``W``).
* Embedding is a row gather, not a GEMM. The LM head runs on the last token of each sequence only.
* Norms, activations and RoPE are memory-bound element-wise ops.
* Tensor parallelism splits heads and FFN width; vocab-parallel embedding and LM head; an
  all-reduce after attention and after the FFN/MoE block.
* MoE: experts touched in an iteration grow with routed tokens, ``E·(1-(1-k/E)^T)``, and each
  touched expert's weights are read once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..catalog.modelspec import FFN, Attention, LayerClass, Mamba, ModelSpec
from . import collectives as coll

INF = np.inf

#: op kinds and the resource they are timed on
KINDS = ("gemm", "attention", "elementwise", "embedding", "ssm", "comm")


@dataclass
class Op:
    """One operator of one layer class (or of the model head/tail), per device.

    Arrays broadcast over scenarios. ``comm_s`` is the time of a communication op (it has no
    FLOPs and its bytes cross the network, not HBM). ``m_gemm`` is the GEMM row count used for
    the efficiency curve.
    """

    name: str
    kind: str
    count: float  # layers sharing this op (multiplier)
    f0: np.ndarray | float = 0.0
    f1: np.ndarray | float = 0.0  # FLOPs per cached token read, min(s, W-1) of them
    b0: np.ndarray | float = 0.0
    b1: np.ndarray | float = 0.0  # bytes per cached token read, min(s, W-1) of them
    fk: np.ndarray | float = 0.0  # FLOPs per attended query-key pair, K(s, kt; window) of them
    kt: np.ndarray | float = 1.0  # queries per sequence in the block (t), for K
    window: np.ndarray | float = INF  # keys a query attends at most (sliding window W); inf = global
    comm_s: np.ndarray | float = 0.0
    m_gemm: np.ndarray | float = 1.0
    weight_bytes: np.ndarray | float = 0.0  # bytes of weights read (part of b0)
    kv_bytes: np.ndarray | float = 0.0  # constant part of KV bytes (informational)
    rate: str = "matrix"  # 'matrix' (tensor cores at compute dtype), 'attn', 'vector', 'matrix16'
    once: bool = False  # only in the last iteration of a phase (LM head of a prefill)
    per_seq: bool = False  # cost depends on sequences and context, not only on tokens (attention, SSM scan)
    group: str = "model"  # which layers the op belongs to (layer-class label), 'model' for embedding/head
    kernels: float = 1.0
    extra: dict = field(default_factory=dict)


@dataclass
class Step:
    """Shape of the iterations of a phase, per replica, as arrays over scenarios."""

    S: np.ndarray  # sequences in the iteration (per replica; after micro-batching)
    t: np.ndarray  # new tokens per sequence
    logits: np.ndarray  # positions per sequence that need logits (1, or γ+1 when verifying)
    absorb: np.ndarray  # bool: MLA weight absorption (decode-like iterations)


@dataclass
class Par:
    """Parallel layout and datatypes per scenario (arrays)."""

    tp: np.ndarray
    pp: np.ndarray
    ep: np.ndarray
    dp: np.ndarray
    cp: np.ndarray
    wb: np.ndarray  # weight bytes/element
    ab: np.ndarray  # activation bytes/element
    kvb: np.ndarray  # KV-cache bytes/element
    eb: np.ndarray  # embedding / LM-head bytes/element (kept at 16 bit when weights are quantized)
    net: coll.Net  # network (efficiency applied)
    no_window: np.ndarray | bool = False  # serving stack runs sliding-window layers as global attention
    wdb: np.ndarray | None = None  # bytes/element of the weights outside the routed experts (None = wb)

    @property
    def dense_wb(self) -> np.ndarray:
        """Bytes per weight of every GEMM but the routed experts' (attention, dense and shared FFN,
        MLA absorption): ``wb`` unless the format quantizes the experts only (genz.catalog.dtypes.expert_only)."""
        return self.wb if self.wdb is None else self.wdb


def _ceil_div(a, b):
    return np.ceil(np.asarray(a, dtype=float) / np.asarray(b, dtype=float))


def gemm(name, M, K, N, par: Par, count, wbytes=None, rate="matrix", kernels=1.0, once=False) -> Op:
    """GEMM [M×K]·[K×N] per device: 2MNK FLOPs; bytes = weights + input + output.

    Under an expert-only weight format (``par.wdb`` set: the MoE checkpoint keeps these weights at
    16 bits) a GEMM outside the routed experts also computes at the 16-bit rate."""
    wb = par.dense_wb if wbytes is None else wbytes
    if par.wdb is not None and rate == "matrix":
        rate = "matrix16"
    w = K * N * wb  # weight matrix, bytes
    io = (M * K + M * N) * par.ab  # activations in and out, bytes
    return Op(name=name, kind="gemm", count=count, f0=2.0 * M * N * K, b0=w + io, m_gemm=M,
              weight_bytes=w, rate=rate, kernels=kernels, once=once)


def elementwise(name, elems, par: Par, count, flops_per_elem=1.0, reads=2.0, once=False) -> Op:
    """Memory-bound element-wise op: ``reads`` tensors of ``elems`` moved, a few FLOPs each."""
    return Op(name=name, kind="elementwise", count=count, f0=flops_per_elem * elems,
              b0=reads * elems * par.ab, rate="vector", once=once)


def comm(name, seconds, count, bytes_=0.0, once=False) -> Op:
    """A collective; its time comes from :mod:`genz.perf.collectives`."""
    return Op(name=name, kind="comm", count=count, comm_s=seconds, b0=0.0, once=once,
              extra={"net_bytes": bytes_})


def attended_keys(n, window=INF):
    """G(n) = Σ_{p=0}^{n-1} min(p+1, W): query-key pairs of ``n`` causal queries from position 0.

    Query ``p`` sees ``min(p+1, W)`` keys, so (exact for integer ``n``)::

        G(n) = n(n+1)/2                                  n ≤ W-1
             = W(W-1)/2 + (n-W+1)·W = W·n - W(W-1)/2     n ≥ W-1

    (the branches agree at ``n = W-1`` and ``n = W``). For a fractional ``n`` (the mean chunk of a
    chunked prefill) the quadratic branch is used up to ``W-1`` and the linear one beyond, so ``G`` is
    continuous and ``K(s, t) = G(s+t) - G(s)`` is ``t·W`` once ``s ≥ W-1``. ``W = inf`` (no window)
    gives ``n(n+1)/2``. Arrays broadcast.
    """
    n = np.asarray(n, dtype=float)
    W = np.asarray(window, dtype=float)
    finite = np.isfinite(W)
    Wf = np.where(finite, W, 0.0)
    quad = n * (n + 1.0) / 2.0
    lin = Wf * n - Wf * (Wf - 1.0) / 2.0
    return np.where(finite & (n > Wf - 1.0), lin, quad)


def block_keys(s, t, window=INF):
    """K(s, t) = G(s+t) - G(s): query-key pairs of ``t`` causal queries after ``s`` cached tokens.

    Without a window ``t·s + t(t+1)/2``; with a window ``W``: the same while ``s + t ≤ W-1``,
    ``t·W`` once ``s ≥ W-1`` (every query sees ``W`` keys), quadratic in between. Prompt of ``L``
    tokens: ``K(0, L) = L(L+1)/2`` for ``L ≤ W``, ``W(W+1)/2 + (L-W)·W`` beyond; the chunks of a
    chunked prefill telescope to the same total.
    """
    s = np.asarray(s, dtype=float)
    return attended_keys(s + t, window) - attended_keys(s, window)


def _window(a: Attention, par: Par):
    """The window an attention layer runs with: its own, or inf when the stack ignores windows."""
    if a.window is None:
        return INF
    return np.where(par.no_window, INF, float(a.window))


def attention_ops(a: Attention, count: float, h: int, st: Step, par: Par) -> list[Op]:
    """Operators of one attention mixer (norm, projections, RoPE, attention core, all-reduce)."""
    tp, cp = par.tp, par.cp
    S, t = st.S, st.t
    T = S * t / cp  # tokens per device (context parallel splits the new tokens)
    ops: list[Op] = []
    ops.append(elementwise("attn_norm", T * h, par, count, flops_per_elem=8.0, reads=3.0))
    Hq = a.n_heads / tp
    if a.kind == "mla":
        ops += _mla_ops(a, count, h, st, par, T, Hq)
    else:
        Hkv = np.ceil(a.n_kv_heads / tp)  # KV heads replicate when tp > n_kv_heads
        d, dv = a.head_dim, a.v_head_dim
        ops.append(gemm("qkv_proj", T, h, Hq * d + Hkv * (d + dv), par, count))
        ops.append(elementwise("rope", T * (Hq + Hkv) * d, par, count, flops_per_elem=6.0, reads=2.0))
        W = _window(a, par)
        # attention core: QK^T and PV over the attended keys K(s, t; W) (block_keys):
        # 2·(d + dv) FLOPs per query-key pair per head
        fk = 2.0 * Hq * (d + dv) * S / cp
        kv_tok = Hkv * (d + dv) * par.kvb  # KV bytes per token per device
        # bytes: Q in + O out (act dtype), new K/V written, the block's own K/V and the cached
        # K/V it attends (min(s, W-1) tokens) read once
        qo = S * t / cp * Hq * (d + dv) * par.ab
        new_kv = S * t / cp * kv_tok
        read0 = S * t * kv_tok / cp  # read of the block's own keys
        ops.append(Op(name="attention", kind="attention", count=count,
                      fk=fk, kt=t, window=W, b0=qo + new_kv + read0, b1=S * kv_tok / cp,
                      rate="attn", kernels=1.0, per_seq=True))
        ops.append(gemm("o_proj", T, Hq * dv, h, par, count))
        if np.any(cp > 1):
            # ring attention: every rank passes its K/V block around the ring (cp-1)/cp of the prompt
            kv_blk = S * t / cp * Hkv * (d + dv) * par.kvb
            tcp = np.where(cp > 1, (cp - 1.0) * coll.p2p(kv_blk, False, par.net), 0.0)
            ops.append(comm("cp_kv_ring", tcp, count, bytes_=(cp - 1.0) * kv_blk))
    msg = T * h * par.ab  # activation tensor reduced across TP ranks, bytes
    ops.append(comm("attn_allreduce", np.where(tp > 1, coll.allreduce(msg, tp, par.net), 0.0), count,
                    bytes_=np.where(tp > 1, msg, 0.0)))
    return ops


def _mla_ops(a: Attention, count: float, h: int, st: Step, par: Par, T, Hq) -> list[Op]:
    """Multi-head latent attention (DeepSeek-V2/V3).

    The latent KV (``kv_lora_rank + rope`` per token) is replicated on every TP rank. Decode-like
    iterations absorb W_UK into the query and W_UV into the output, attending in latent space
    (MQA-like, one shared latent "head"); prefill expands the latents to per-head K and V.
    """
    S, t, cp = st.S, st.t, par.cp
    nope, rope, dv, r = a.qk_nope_head_dim, a.qk_rope_head_dim, a.v_head_dim, a.kv_lora_rank
    ops: list[Op] = []
    if a.q_lora_rank:
        ops.append(gemm("q_a_proj", T, h, a.q_lora_rank, par, count))  # replicated on each rank
        ops.append(gemm("q_b_proj", T, a.q_lora_rank, Hq * (nope + rope), par, count))
    else:
        ops.append(gemm("q_proj", T, h, Hq * (nope + rope), par, count))
    ops.append(gemm("kv_a_proj", T, h, r + rope, par, count))  # replicated: latent + rope key
    lat_tok = (r + rope) * par.kvb  # latent KV bytes per token (not split by TP)
    W = _window(a, par)
    absorb = st.absorb
    # --- absorbed (decode): q_nope·W_UK -> latent query; attention in latent space; ·W_UV ---
    f_abs_proj = 2.0 * T * Hq * nope * r + 2.0 * T * Hq * r * dv
    w_abs = Hq * (nope + dv) * r * par.dense_wb
    fk_abs = 2.0 * Hq * (2 * r + rope) * S / cp  # scores over r+rope, values over r, per key
    # --- expanded (prefill): W_UK/W_UV applied to every context token's latent -------------
    fk_exp = 2.0 * Hq * (nope + rope + dv) * S / cp
    f_exp_proj0 = 2.0 * S * t / cp * r * Hq * (nope + dv)  # expand this block's latents
    f_exp_proj1 = 2.0 * S / cp * r * Hq * (nope + dv)  # ... and the cached context's, per token
    # FLOPs = f0 + f1·(cached tokens attended) + fk·(query-key pairs K(s, t; W))
    f0 = np.where(absorb, f_abs_proj, f_exp_proj0)
    f1 = np.where(absorb, 0.0, f_exp_proj1)
    fk = np.where(absorb, fk_abs, fk_exp)
    qo = T * Hq * (nope + rope + dv) * par.ab
    b0 = qo + w_abs + T * lat_tok + S * t / cp * lat_tok
    b1 = S * lat_tok / cp
    ops.append(Op(name="attention", kind="attention", count=count, f0=f0, f1=f1, fk=fk, kt=t, window=W,
                  b0=b0, b1=b1, rate="attn", kernels=3.0, weight_bytes=w_abs, per_seq=True))
    ops.append(gemm("o_proj", T, Hq * dv, h, par, count))
    return ops


def _touched(E, k, tokens):
    """Expected distinct experts hit when ``tokens`` tokens each pick k of E experts uniformly."""
    tokens = np.maximum(tokens, 0.0)
    return E * (1.0 - np.power(1.0 - k / E, tokens))


def ffn_ops(f: FFN, count: float, h: int, st: Step, par: Par) -> list[Op]:
    """Feed-forward block: dense MLP or MoE (router, routed experts, shared experts, EP traffic)."""
    tp, ep, cp = par.tp, par.ep, par.cp
    T = st.S * st.t / cp
    ops: list[Op] = [elementwise("ffn_norm", T * h, par, count, flops_per_elem=8.0, reads=3.0)]
    up_mats = f.mats - 1
    if not f.is_moe:
        dff = f.d_ff / tp
        ops.append(gemm("ffn_up", T, h, up_mats * dff, par, count))
        ops.append(elementwise("ffn_act", T * dff, par, count, flops_per_elem=5.0, reads=1.0 + up_mats))
        ops.append(gemm("ffn_down", T, dff, h, par, count))
    else:
        E, k = f.n_experts, f.top_k
        moe_tp = np.maximum(tp / ep, 1.0)  # each expert's width split over tp/ep ranks
        pool = np.maximum(ep / tp, 1.0)  # ep > tp: experts span attention-DP ranks (tokens pooled)
        Tg = T * pool  # tokens entering the MoE group
        ops.append(gemm("router", T, h, E, par, count, wbytes=par.eb))
        pairs = Tg * k / ep  # routed (token, expert) pairs per device, balanced routing
        touched = _touched(E, k, Tg) / ep  # experts per device whose weights are read
        d = f.d_ff / moe_tp
        w_up = touched * h * up_mats * d * par.wb
        w_down = touched * d * h * par.wb
        m_exp = np.maximum(Tg * k / E, 1.0)  # rows per expert GEMM (efficiency curve)
        ops.append(Op(name="experts_up", kind="gemm", count=count, f0=2.0 * pairs * h * up_mats * d,
                      b0=w_up + pairs * (h + up_mats * d) * par.ab, m_gemm=m_exp, weight_bytes=w_up))
        ops.append(elementwise("experts_act", pairs * d, par, count, flops_per_elem=5.0, reads=1.0 + up_mats))
        ops.append(Op(name="experts_down", kind="gemm", count=count, f0=2.0 * pairs * d * h,
                      b0=w_down + pairs * (d + h) * par.ab, m_gemm=m_exp, weight_bytes=w_down))
        if f.d_shared:
            ds = f.d_shared / tp
            ops.append(gemm("shared_up", T, h, up_mats * ds, par, count))
            ops.append(gemm("shared_down", T, ds, h, par, count))
        # expert-parallel dispatch + combine when experts live on other attention ranks
        a2a_bytes = T * k * h * par.ab
        t_a2a = np.where(pool > 1, 2.0 * coll.alltoall(a2a_bytes, ep, par.net), 0.0)
        if np.any(pool > 1):
            ops.append(comm("moe_all2all", t_a2a, count, bytes_=np.where(pool > 1, 2 * a2a_bytes, 0.0)))
    msg = T * h * par.ab
    ops.append(comm("ffn_allreduce", np.where(tp > 1, coll.allreduce(msg, tp, par.net), 0.0), count,
                    bytes_=np.where(tp > 1, msg, 0.0)))
    return ops


def mamba_ops(m: Mamba, count: float, h: int, st: Step, par: Par) -> list[Op]:
    """Mamba-1/2 mixer: projections, causal conv, selective scan with a fixed-size state.

    The scan reads and writes the recurrent state once per iteration per sequence
    (``d_inner·d_state`` elements), so a decode step costs the same at any context length.
    """
    tp = par.tp
    S, t = st.S, st.t
    T = S * t
    ops: list[Op] = [elementwise("mixer_norm", T * h, par, count, flops_per_elem=8.0, reads=3.0)]
    di = m.d_inner / tp
    ops.append(gemm("ssm_in_proj", T, h, m.in_proj_out / tp, par, count))
    conv = m.conv_dim / tp
    ops.append(Op(name="ssm_conv", kind="elementwise", count=count, f0=2.0 * T * conv * m.d_conv,
                  b0=2.0 * T * conv * par.ab + 2.0 * S * conv * (m.d_conv - 1) * par.kvb, rate="vector",
                  per_seq=True))
    if m.version == 1:
        ops.append(gemm("ssm_x_proj", T, di, m.dt_rank + 2 * m.d_state, par, count))
        ops.append(gemm("ssm_dt_proj", T, m.dt_rank, di, par, count))
    state = S * di * m.d_state * par.kvb  # recurrent state per device, bytes
    # selective scan: ~9 FLOPs per (channel, state) per token (discretize, update, readout)
    ops.append(Op(name="ssm_scan", kind="ssm", count=count, f0=9.0 * T * di * m.d_state,
                  b0=2.0 * state + T * (3.0 * di + 2.0 * m.d_state) * par.ab, rate="vector", kernels=2.0,
                  per_seq=True))
    ops.append(gemm("ssm_out_proj", T, di, h, par, count))
    msg = T * h * par.ab
    ops.append(comm("ssm_allreduce", np.where(tp > 1, coll.allreduce(msg, tp, par.net), 0.0), count,
                    bytes_=np.where(tp > 1, msg, 0.0)))
    return ops


def layer_ops(lc: LayerClass, h: int, st: Step, par: Par, count: float) -> list[Op]:
    """All operators of one layer class (``count`` layers on this device's pipeline share)."""
    ops: list[Op] = []
    if isinstance(lc.mixer, Attention):
        ops += attention_ops(lc.mixer, count, h, st, par)
    elif isinstance(lc.mixer, Mamba):
        ops += mamba_ops(lc.mixer, count, h, st, par)
    if lc.ffn is not None:
        ops += ffn_ops(lc.ffn, count, h, st, par)
    return ops


def layer_group_label(lc: LayerClass, i: int) -> str:
    """Short label of a layer class, e.g. 'g0:gqa+dense×32', 'g1:swa+moe×24', 'g2:mamba×28'."""
    mx = lc.mixer
    if isinstance(mx, Attention):
        mix = "mla" if mx.kind == "mla" else ("swa" if mx.window else "attn")
    elif isinstance(mx, Mamba):
        mix = "mamba"
    else:
        mix = "none"
    ffn = "" if lc.ffn is None else ("+moe" if lc.ffn.is_moe else "+mlp")
    return f"g{i}:{mix}{ffn}x{lc.count}"


def model_ops(model: ModelSpec, st: Step, par: Par) -> list[Op]:
    """Operators of one full forward pass over all layers (all pipeline stages summed).

    Per-op ``count`` is the number of layers; the embedding and LM head appear once.
    """
    h, V = model.hidden, model.vocab
    tp, cp = par.tp, par.cp
    T = st.S * st.t / cp
    if par.wdb is not None and not any(lc.ffn is not None and lc.ffn.is_moe for lc in model.layers):
        par = replace(par, wdb=None)  # expert-only formats quantize every layer of a dense model
    ops: list[Op] = []
    # embedding: a row gather of T rows (bytes at embedding precision) + vocab-parallel all-reduce
    ops.append(Op(name="embedding", kind="embedding", count=1, f0=0.0,
                  b0=T * h * (par.eb + par.ab), rate="vector"))
    emb_msg = T * h * par.ab
    ops.append(comm("embed_allreduce", np.where(tp > 1, coll.allreduce(emb_msg, tp, par.net), 0.0), 1,
                    bytes_=np.where(tp > 1, emb_msg, 0.0)))
    for i, lc in enumerate(model.layers):
        label = layer_group_label(lc, i)
        for op in layer_ops(lc, h, st, par, lc.count):
            op.group = label
            ops.append(op)
    # final norm + LM head on the positions that need logits (last token of each prompt)
    R = st.S * st.logits
    ops.append(elementwise("final_norm", R * h, par, 1, flops_per_elem=8.0, reads=2.0, once=True))
    ops.append(gemm("lm_head", R, h, V / tp, par, 1, wbytes=par.eb, rate="matrix16", once=True))
    logit_bytes = R * V * 4.0  # fp32 logits gathered for sampling
    ops.append(comm("logits_gather", np.where(tp > 1, coll.allgather(logit_bytes, tp, par.net), 0.0), 1,
                    bytes_=np.where(tp > 1, logit_bytes, 0.0), once=True))
    return ops
