"""Deployment layouts of today's serving: attention data parallelism, wide expert parallelism and
prefill/decode pools of different sizes (docs/reference.md §2, "Layouts").

The scenario table says how a deployment is built the way the serving stacks configure it; this
module turns that into the engine's layout (:class:`genz.perf.inputs.Layout`) and holds the layout
physics that is not one operator's: the device count, the expert-parallel all-to-all volume, the
KV-cache transfer between pools, and notes a user should read.

Scenario columns (all integers, blank = default)
    ``tp``, ``pp``, ``cp``, ``ep``, ``dp``
        as before: one worker of the prefill pool (or of a colocated deployment) has ``tp·pp·cp``
        devices; ``dp`` replicates the whole deployment unit.
    ``dp_attention`` (default 1)
        attention data-parallel ranks inside each TP group of ``tp`` devices (SGLang
        ``--enable-dp-attention --dp N``; TensorRT-LLM ``enable_attention_dp`` = ``tp`` ranks).
        Attention and its KV cache run with TP ``tp / dp_attention`` on each rank, each rank on its
        own requests; the experts are split over ``ep`` devices (EP = DP × TP when ``ep = tp``), whose
        routed tokens come from every attention rank of the expert group (the all-to-all).
    ``prefill_workers`` (x, default 1), ``decode_workers`` (y, default 1)
        with ``decode_tp`` > 0 (disaggregated): x prefill workers of ``tp·pp·cp`` devices and y
        decode workers of ``decode_tp·decode_pp`` devices (xP + yD).
    ``decode_tp``, ``decode_pp`` (disaggregation, as before), ``decode_ep`` (default ``ep``),
    ``decode_dp_attention`` (default 1)
        a decode worker's layout, with the same meanings as the prefill worker's.

Device count (one formula, :func:`unit_devices`)::

    num_devices = (x · tp·pp·cp + y · decode_tp·decode_pp) · dp       (y·... = 0 when colocated)

Engine layout (:func:`engine_layout`): the engine's ``tp`` is the attention TP, its ``dp`` the
number of attention ranks of the pool, so a pool is ``tp_e = tp / dp_attention`` devices per
rank and ``dp_e = dp · x · dp_attention`` ranks (decode: ``decode_tp / decode_dp_attention`` and
``dp · y · decode_dp_attention``). An expert-parallel group spans ``ep / tp_e`` attention ranks,
whose tokens it pools (:func:`genz.perf.ops.ffn_ops`).
"""

from __future__ import annotations

import numpy as np
import polars as pl

#: integer layout columns added by this module (default; None = derived)
INT_COLUMNS: dict[str, int | None] = {
    "dp_attention": 1,
    "prefill_workers": 1,
    "decode_workers": 1,
    "decode_ep": None,  # default: ep
    "decode_dp_attention": 1,
}
#: largest value of each (a typo like 1e30 is an error, never a default)
INT_MAX: dict[str, int] = dict.fromkeys(INT_COLUMNS, 1_048_576)


def unit_devices() -> pl.Expr:
    """Devices of one deployment unit (before ``dp``): ``x·tp·pp·cp + y·decode_tp·max(decode_pp, 1)``,
    the decode term only when disaggregated (``decode_tp`` > 0). Works on normalized working columns."""
    decode = pl.when(pl.col("_decode_tp") > 0).then(
        pl.col("_decode_workers") * pl.col("_decode_tp") * pl.max_horizontal(pl.col("_decode_pp"), pl.lit(1))
    ).otherwise(0)
    return pl.col("_prefill_workers") * pl.col("_tp") * pl.col("_pp") * pl.col("_cp") + decode


def checks() -> list[tuple[pl.Expr, pl.Expr]]:
    """Row checks of the layout columns, ``(failing?, message)`` in priority order (after defaults).

    * ``dp_attention`` divides ``tp`` (``decode_dp_attention`` divides ``decode_tp``);
    * with attention data parallelism and experts split (``ep`` > 1), ``ep`` is a multiple of the
      attention TP ``tp/dp_attention``; MoE tensor parallelism across attention ranks is not modelled;
    * the pool columns need a decode pool (``decode_tp`` > 0) to mean anything.
    """
    out: list[tuple[pl.Expr, pl.Expr]] = []
    for pre, tp, ep in (("", "_tp", "_ep"), ("decode_", "_decode_tp", "_decode_ep")):
        att = pl.col(f"_{pre}dp_attention")
        active = (pl.col(tp) > 0) if pre else pl.lit(True)
        out.append((active & (att == 0), pl.lit(f"error: {pre}dp_attention must be >= 1")))
        out.append((active & (att > 0) & (pl.col(tp) % att != 0),
                    pl.format(f"error: {pre}dp_attention {{}} must divide {tp[1:]} {{}}", att, pl.col(tp))))
        tp_att = pl.col(tp) // pl.max_horizontal(att, pl.lit(1))
        out.append((active & (att > 1) & (pl.col(ep) > 1) & (pl.col(ep) % pl.max_horizontal(tp_att, pl.lit(1)) != 0),
                    pl.format(f"error: {pre}ep {{}} must be a multiple of the attention TP {tp[1:]}/{pre}dp_attention "
                              "= {} (experts split over whole attention ranks)", pl.col(ep), tp_att)))
    # the decode pool's experts: like ep for the prefill pool (genz.perf.scenarios), on the decode
    # workers' attention ranks (attention TP dtp_e = decode_tp/decode_dp_attention, ranks = decode ranks)
    dtp_e = pl.col("_decode_tp") // pl.max_horizontal(pl.col("_decode_dp_attention"), pl.lit(1))
    dranks = pl.col("_dp") * pl.col("_decode_workers") * pl.col("_decode_dp_attention")
    dep = pl.col("_decode_ep")
    out.append(((pl.col("_decode_tp") > 0) & (dep > 1) & (dtp_e > 0)
                & pl.when(dep <= dtp_e).then(dtp_e % dep != 0).otherwise(((dtp_e * dranks) % dep != 0)
                                                                         | (dep % dtp_e != 0)),
                pl.format("error: decode_ep {} must divide the decode attention TP {} or be a multiple of it "
                          "dividing the decode devices {}", dep, dtp_e, dtp_e * dranks)))
    for col in ("prefill_workers", "decode_workers"):
        out.append((pl.col(f"_{col}") == 0, pl.lit(f"error: {col} must be >= 1")))
    dis = pl.col("_decode_tp") > 0
    out.append((~dis & ((pl.col("_decode_workers") != 1) | (pl.col("_prefill_workers") != 1)
                        | (pl.col("_decode_dp_attention") != 1)),
                pl.lit("error: prefill_workers, decode_workers and decode_dp_attention need a decode pool "
                       "(decode_tp > 0)")))
    return out


def engine_layout(rows: pl.DataFrame) -> dict[str, np.ndarray]:
    """The engine's layout arrays of normalized rows (see the module docstring)::

        tp_e = tp / dp_attention                 dp_e = dp · x · dp_attention       ep_e = ep
        decode_tp_e = decode_tp / decode_dp_attention   decode_dp_e = dp · y · decode_dp_attention
        decode_ep_e = decode_ep (default ep)     (decode_* = 0 when colocated)
    """
    def i(c: str) -> np.ndarray:
        return rows.get_column(c).fill_null(0).to_numpy().astype(float)

    tp, dp, ep = i("_tp"), i("_dp"), i("_ep")
    att = np.maximum(i("_dp_attention"), 1.0)
    x = np.maximum(i("_prefill_workers"), 1.0)
    y = np.maximum(i("_decode_workers"), 1.0)
    dtp = i("_decode_tp")
    datt = np.maximum(i("_decode_dp_attention"), 1.0)
    dep = rows.get_column("_decode_ep").fill_null(rows.get_column("_ep")).to_numpy().astype(float)
    dis = dtp > 0
    return {
        "tp": tp / att, "dp": dp * x * att, "ep": ep,
        "decode_tp": np.where(dis, dtp / datt, 0.0), "decode_dp": np.where(dis, dp * y * datt, 0.0),
        "decode_ep": np.where(dis, dep, 0.0),
    }


# ----------------------------------------------------------------------------------------------
# expert parallelism
# ----------------------------------------------------------------------------------------------


def experts_per_device(n_experts, ep) -> np.ndarray:
    """Routed experts held by one device: ``E / ep`` (ep devices share a layer's experts)."""
    return np.asarray(n_experts, dtype=float) / np.maximum(np.asarray(ep, dtype=float), 1.0)


def alltoall_bytes_per_step(tokens, top_k: int, hidden: int, act_bytes) -> np.ndarray:
    """Bytes one device sends in one MoE layer's dispatch + combine (per iteration).

    Each of the ``tokens`` tokens of the device's attention rank goes to its ``top_k`` experts
    (dispatch: ``hidden`` activations each) and comes back weighted (combine, same size)::

        bytes = 2 · tokens · top_k · hidden · act_bytes

    of which the fraction ``(ep - local)/ep`` leaves the scale-up domain and ``(local - 1)/ep``
    stays in it (:func:`genz.perf.collectives.alltoall`; ``local = min(ep, domain)``).
    """
    return 2.0 * np.asarray(tokens, dtype=float) * top_k * hidden * np.asarray(act_bytes, dtype=float)


def alltoall_split(total_bytes, ep, domain) -> tuple[np.ndarray, np.ndarray]:
    """(bytes over the scale-up domain, bytes over scale-out) of an all-to-all whose device sends
    ``total_bytes`` evenly to the ``ep`` ranks of its expert group (itself included, which moves
    nothing): ``(local-1)/ep`` and ``(ep-local)/ep`` of it, ``local = min(ep, domain)``."""
    ep = np.maximum(np.asarray(ep, dtype=float), 1.0)
    local = np.minimum(ep, np.asarray(domain, dtype=float))
    b = np.asarray(total_bytes, dtype=float)
    return b * (local - 1.0) / ep, b * (ep - local) / ep


def notes(model, ep, domain, decode_tp=None, decode_ep=None) -> np.ndarray:
    """Per-row text notes on an MoE layout (engine arrays; empty string when nothing to say):

    * ``experts per GPU 1 (<= 1)``: every device holds one expert of a layer or less: expert
      load imbalance is not modelled, and with fewer than one expert per device the experts are
      replicated (redundant experts), which the weights per device do not count;
    * ``EP 144 spans 2 scale-up domains``: the all-to-all crosses the scale-out network.
    """
    moe = [lc.ffn for lc in model.layers if lc.ffn is not None and lc.ffn.is_moe]
    n = len(np.asarray(ep))
    out = np.full(n, "", dtype=object)
    if not moe:
        return out
    E = moe[0].n_experts
    pools = [("", np.asarray(ep, dtype=float))]
    if decode_tp is not None:
        pools.append(("decode ", np.where(np.asarray(decode_tp, dtype=float) > 0, decode_ep, 0.0)))
    dom = np.asarray(domain, dtype=float)
    for label, e in pools:
        per = experts_per_device(E, np.maximum(e, 1.0))
        few = (e > 1) & (per <= 1.0)
        cross = (e > 1) & (e > dom)
        for i in np.nonzero(few | cross)[0]:
            parts = []
            if few[i]:
                parts.append(f"{label}experts per GPU {per[i]:g} (<= 1: expert load imbalance and redundant "
                             "experts not modelled)")
            if cross[i]:
                parts.append(f"{label}EP {int(e[i])} spans {int(np.ceil(e[i] / dom[i]))} scale-up domains "
                             "(all-to-all over scale-out)")
            out[i] = "; ".join([s for s in (out[i], *parts) if s])
    return out


# ----------------------------------------------------------------------------------------------
# disaggregation: the KV cache moves from the prefill pool to the decode pool
# ----------------------------------------------------------------------------------------------


def kv_link(prefill_devices, decode_devices, domain, up_bw, up_lat, out_bw, out_lat):
    """(bytes/s, s) of the link a prompt's KV crosses from a prefill to a decode device: the
    scale-up fabric when a prefill rank's and a decode rank's devices fit one scale-up domain
    together (same node, or an NVL72 rack, where NIXL moves KV over NVLink), else the scale-out
    network (one NIC per device)."""
    inside = np.asarray(prefill_devices, dtype=float) + np.asarray(decode_devices, dtype=float) \
        <= np.asarray(domain, dtype=float)
    return np.where(inside, up_bw, out_bw), np.where(inside, up_lat, out_lat)


def kv_transfer_seconds(kv_bytes, bw, lat) -> np.ndarray:
    """Time to move ``kv_bytes`` into one decode device over a link of ``bw`` bytes/s and ``lat``
    seconds: ``lat + kv_bytes / bw`` (each decode device receives its own share in parallel; the
    prefill devices send theirs in parallel too)."""
    kv = np.asarray(kv_bytes, dtype=float)
    return np.where(kv > 0, lat + kv / bw, 0.0)
