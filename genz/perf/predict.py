"""Scenario table in, predictions out: the public entry point of the engine.

:func:`predict_frame` takes a polars frame in the scenario format (docs/reference.md §2), returns it
with the prediction columns added, and never raises for a bad row: such a row gets a ``status``
explaining why (``error: ...``, ``does_not_fit: ...``, ``unsupported: ...``).

Rows are grouped by model architecture; within a group every computation is an array operation
over all its rows.
"""

from __future__ import annotations

import os

import numpy as np
import polars as pl

from ..catalog import dtypes
from ..catalog.frameworks import resolve_framework
from ..catalog.hardware import Hardware, get_hardware
from ..catalog.modelspec import ModelSpec
from ..catalog.units import GB, GFLOP, MS
from ..catalog.zoo import get_model
from ..errors import GenzError
from . import layouts
from .efficiency import DEFAULT, Efficiency
from .engine import Estimate, Inputs
from .profiles import ProfileSet, default_profiles
from .scenarios import BOOL_COLUMNS, FLOAT_COLUMNS, INT_COLUMNS, METRICS, STR_COLUMNS, normalize


def _unexpected(what: str, name: str, exc: Exception) -> str:
    """The status of rows whose model or hardware failed to load in a way genz did not foresee
    (re-raised under ``GENZ_DEBUG=1``, for the traceback)."""
    if os.environ.get("GENZ_DEBUG"):
        raise exc
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"error: {what} '{name}' could not be read ({type(exc).__name__}: {first}); a bug in genz, please report it"


def _resolve(norm: pl.DataFrame) -> tuple[dict, dict, pl.Series]:
    """Resolve distinct model/hardware names; return lookups and a per-row error column."""
    models: dict[str, ModelSpec] = {}
    hw: dict[str, Hardware] = {}
    bad_model: dict[str, str] = {}
    bad_hw: dict[str, str] = {}
    for name in norm.get_column("_model").unique().drop_nulls().to_list():
        try:
            models[name] = get_model(name)
        except GenzError as exc:
            bad_model[name] = f"error: {exc}"
        except Exception as exc:  # noqa: BLE001 - a file genz cannot digest: that row's status, not a crash
            bad_model[name] = _unexpected("model", name, exc)
    for name in norm.get_column("_hardware").unique().drop_nulls().to_list():
        try:
            hw[name] = get_hardware(name)
        except GenzError as exc:
            bad_hw[name] = f"error: {exc}"
        except Exception as exc:  # noqa: BLE001 - as above
            bad_hw[name] = _unexpected("hardware", name, exc)
    err = norm.select(
        pl.coalesce(
            pl.col("_model").replace_strict(bad_model, default=None, return_dtype=pl.String),
            pl.col("_hardware").replace_strict(bad_hw, default=None, return_dtype=pl.String),
        ).alias("e")
    ).get_column("e")
    return models, hw, err


def _hw_arrays(hws: list[Hardware], idx: np.ndarray, rows: pl.DataFrame) -> dict[str, np.ndarray]:
    """Per-row hardware numbers (SI) gathered by index, compute peaks chosen per dtype."""
    def col(f):
        return np.array([f(h) for h in hws], dtype=float)[idx]

    out = {
        "hbm_bw": col(lambda h: h.hbm_bw),
        "hbm_bytes": col(lambda h: h.hbm_bytes),
        "up_bw": col(lambda h: h.scaleup_bw),
        "up_lat": col(lambda h: h.scaleup_latency),
        "domain": col(lambda h: h.scaleup_domain),
        "out_bw": col(lambda h: h.scaleout_bw),
        "out_lat": col(lambda h: h.scaleout_latency),
        "host_bw": col(lambda h: h.host_bw),
        "peak_vector": col(lambda h: h.vector_flops),
        "peak_16": col(lambda h: h.peak_flops[dtypes.compute_rate_key("bf16", h.peak_flops)]),
        # host memory a device can spill to: the node's memory shared by (typically) 8 devices
        "host_bytes": col(lambda h: h.host_bytes / max(min(h.scaleup_domain, 8), 1)),
    }
    # matrix peak at the compute dtype, attention peak (fp8 only with fp8 activations and KV):
    # computed per distinct (hardware, act dtype, kv dtype) combination, then gathered
    combo = rows.select(pl.format("{}|{}|{}", pl.Series(idx), pl.col("_act_dtype"), pl.col("_kv_dtype"))
                        .alias("c")).get_column("c")
    uniq = combo.unique().sort().to_list()
    inv = combo.replace_strict({u: i for i, u in enumerate(uniq)}, return_dtype=pl.Int64).to_numpy()
    pk, pa, ab = [], [], []
    for u in uniq:
        hi, dt, kdt = u.split("|")
        h = hws[int(hi)]
        pk.append(h.peak_flops[dtypes.compute_rate_key(dt, h.peak_flops)])
        adt = "fp8" if (dt == "fp8" and kdt == "fp8") else "bf16"
        pa.append(h.peak_flops[dtypes.compute_rate_key(adt, h.peak_flops)])
        # activations move in the format the chip computes in (fp8 on A100: 16 bit)
        ab.append(dtypes.activation_bytes(dt, h.peak_flops))
    peak = np.array(pk, dtype=float)[inv] if len(idx) else np.zeros(0)
    peak_attn = np.array(pa, dtype=float)[inv] if len(idx) else np.zeros(0)
    out["peak_matrix"] = peak
    out["peak_attn"] = peak_attn
    out["ab"] = np.array(ab, dtype=float)[inv] if len(idx) else np.zeros(0)
    return out


def engine_inputs(rows: pl.DataFrame, hws: list[Hardware], hw_idx: np.ndarray, profiles: ProfileSet,
                  stacks=None) -> tuple[Inputs, np.ndarray, np.ndarray]:
    """The one prepare-rows step every caller uses: normalized rows of one model, on resolved hardware
    (``hws[hw_idx[i]]`` for row ``i``) → engine :class:`Inputs` with each row's efficiencies.

    The efficiencies come from ``profiles`` by hardware id and serving stack (``stacks``, default
    the rows' framework keys: validation passes the stack each measured row ran). Returns the
    inputs, the calibration label and the profile index of each row.
    """
    ids = np.array([h.id for h in hws], dtype=object)[hw_idx]
    fams = np.array([h.family for h in hws], dtype=object)[hw_idx]
    if stacks is None:
        stacks = rows.get_column("_framework_key").to_numpy()
    effs, labels, idx = profiles.lookup_rows(ids, ids, stacks, fams)
    return build_inputs(rows, hws, hw_idx, effs), labels, idx


def build_inputs(rows: pl.DataFrame, hws: list[Hardware], hw_idx: np.ndarray,
                 effs: dict[str, np.ndarray]) -> Inputs:
    """Inputs arrays for normalized rows (all valid)."""
    def i(c):
        return rows.get_column(c).to_numpy().astype(float)

    def b(col):
        """bytes per element of a dtype column"""
        return rows.get_column(col).replace_strict({k: dtypes.bytes_per_element(k) for k in dtypes.BITS},
                                                   default=2.0, return_dtype=pl.Float64).to_numpy()

    wb = b("_weight_dtype")
    hwa = _hw_arrays(hws, hw_idx, rows)
    batch = rows.get_column("_batch_size").fill_null(1).to_numpy().astype(float)
    from ..catalog.frameworks import framework_arrays

    fw = framework_arrays(rows.get_column("_framework_key"))
    offload = rows.get_column("_offload").fill_null("none").str.to_lowercase()
    lay = layouts.engine_layout(rows)
    # closed loop: the batch is the concurrency (a closed-loop row has no batch of its own)
    conc = rows.get_column("_concurrency").fill_null(0).to_numpy().astype(float)
    batch = np.where(conc > 0, conc, batch)
    # MXFP4/NVFP4 on MoE models: the experts at 4 bits, the rest at 16 (engine: MoE models only)
    expert_only = rows.get_column("_weight_dtype").is_in(list(dtypes.EXPERT_ONLY)).to_numpy()
    return Inputs(
        B=batch, L=i("_input_tokens"), O=i("_output_tokens"), tp=lay["tp"], pp=i("_pp"), ep=lay["ep"],
        dp=lay["dp"], cp=i("_cp"), beams=i("_num_beams"), devices=i("_num_devices"), chunk=i("_chunk_size"),
        budget=i("_max_num_tokens"), wb=wb, kvb=b("_kv_dtype"), eb=np.maximum(wb, 2.0),
        wdb=np.where(expert_only, 2.0, 0.0),
        eff=effs, offload_w=offload.is_in(["weights", "both"]).to_numpy(),
        offload_kv=offload.is_in(["kv", "both"]).to_numpy(),
        spec_tokens=i("_spec_tokens"),
        acceptance=rows.get_column("_acceptance_rate").fill_null(0.0).to_numpy().astype(float),
        decode_tp=lay["decode_tp"], decode_pp=i("_decode_pp"), decode_ep=lay["decode_ep"], decode_dp=lay["decode_dp"],
        conc=conc, len_ratio=rows.get_column("_length_ratio").fill_null(0.0).to_numpy().astype(float),
        prompts=rows.get_column("_num_prompts").fill_null(0).to_numpy().astype(float),
        no_window=fw["no_window"], custom_ar=fw["custom_ar"],
        **hwa,
    )


def _estimate_with_drafts(spec: ModelSpec, inp, rows: pl.DataFrame, status: np.ndarray, sel: np.ndarray):
    """Estimate a model's rows, resolving each speculative-decoding draft once."""
    from . import engine
    from .serving import draft_spec

    drafts = rows.get_column("_draft_model").to_numpy()
    spec_rows = (inp.spec_tokens > 0)
    names = sorted({d for d, s in zip(drafts, spec_rows) if s and d is not None}, key=str)
    if not names:
        if spec_rows.any():
            # acceptance without a named draft: an EAGLE-style head on the target
            return engine.estimate(spec, inp, draft=draft_spec(spec, "eagle"))
        return engine.estimate(spec, inp)
    base = engine.estimate(spec, inp)
    for name in names:
        idx = np.nonzero(spec_rows & (drafts == name))[0]
        try:
            d = draft_spec(spec, name)
        except Exception as exc:  # noqa: BLE001 - an unknown or unreadable draft: those rows' status, no numbers
            status[sel[idx]] = (f"error: draft_model: {str(exc).removeprefix('model: ').removeprefix('draft_model: ')}"
                                if isinstance(exc, GenzError) else _unexpected("draft_model", name, exc))
            base.extra["fits"][idx] = True
            continue
        sub = engine.estimate(spec, inp.take(idx), draft=d)
        _splice(base, sub, idx)
    return base


def _splice(base, sub, idx) -> None:
    """Write a sub-estimate's rows into ``base`` at ``idx`` (in place)."""
    from .engine import _merge

    for k in ("ttft_s", "tpot_s", "e2e_s", "throughput_tok_s", "throughput_tok_s_per_device", "bottleneck",
              "prefill_bottleneck", "decode_bottleneck"):
        getattr(base, k)[idx] = getattr(sub, k)
    base.prefill = _merge(base.prefill, sub.prefill, idx)
    base.decode = _merge(base.decode, sub.decode, idx)
    for k in ("weights", "kv", "activations", "kv_per_seq"):
        getattr(base.memory, k)[idx] = getattr(sub.memory, k)
    for k, v in sub.extra.items():
        if k in base.extra:
            base.extra[k][idx] = v


def context_overruns(spec: ModelSpec, rows: pl.DataFrame, allow: np.ndarray) -> np.ndarray:
    """Rows (normalized, all of ``spec``) whose prompt + output exceeds the model's maximum context
    (``max_position_embeddings``; no limit when the config gives none, as for pure SSMs) and that do
    not allow it (``allow``: the row's ``allow_long_context`` or the caller's option).

    A serving stack refuses such a request (vLLM: ``prompt + max_tokens > max_model_len``); the
    roofline itself would happily extrapolate, so without this check the numbers look valid."""
    if not spec.max_context:
        return np.zeros(rows.height, dtype=bool)
    total = (rows.get_column("_input_tokens") + rows.get_column("_output_tokens")).to_numpy()
    return (total > spec.max_context) & ~allow


def context_messages(spec: ModelSpec, rows: pl.DataFrame) -> list[str]:
    """The status of each row over the context (:func:`context_overruns`): its numbers and the limit."""
    return [f"error: input_tokens + output_tokens = {L:,} + {O:,} = {L + O:,} exceeds the {spec.max_context:,}-token "
            f"context of {spec.id}; set allow_long_context (column, or --allow-long-context) to predict anyway"
            for L, O in zip(rows.get_column("_input_tokens").to_list(), rows.get_column("_output_tokens").to_list())]


def _closed_loop(spec: ModelSpec, inp, rows: pl.DataFrame, closed: np.ndarray, sel: np.ndarray, hws, hw_idx,
                 out: dict, extra_f: dict, note: np.ndarray) -> None:
    """Closed-loop rows (``concurrency`` set) of one model: the metrics of
    :func:`genz.perf.concurrency.closed_loop` replace the fixed batch's, in place.

    Energy per output token: every device draws TDP × the power fraction of the mean iteration's
    time split (:data:`genz.perf.serving.POWER_FRACTION`), over the run's output tokens/s; cost per
    million tokens: the deployment's price over the same throughput.
    """
    from .concurrency import closed_loop
    from .serving import POWER_FRACTION

    sub = inp.take(closed)
    cl = closed_loop(spec, sub, rows.get_column("_framework_key").to_numpy()[closed])
    at = sel[closed]
    out["ttft_ms"][at] = cl.ttft_s / MS
    out["tpot_ms"][at] = cl.tpot_s / MS
    out["e2e_latency_ms"][at] = cl.e2e_s / MS
    out["throughput_tok_s"][at] = cl.throughput_tok_s
    out["throughput_tok_s_per_device"][at] = cl.throughput_tok_s / sub.devices
    extra_f["running_requests"][at] = cl.running
    extra_f["queued_requests"][at] = cl.queued
    extra_f["ttft_steady_ms"][at] = cl.ttft_steady_s / MS
    extra_f["ttft_ramp_ms"][at] = cl.ttft_ramp_s / MS
    tdp = np.array([h.tdp_w for h in hws], dtype=float)[hw_idx[closed]]
    price = np.array([h.usd_per_hour for h in hws], dtype=float)[hw_idx[closed]]
    usd = rows.get_column("_usd_per_device_hour").to_numpy()[closed].astype(float)
    price = np.where(np.isfinite(usd), usd, price)
    it = cl.iteration
    busy = it.t_compute + it.t_memory + it.t_network + it.t_overhead
    frac = (it.t_compute * POWER_FRACTION["compute"] + it.t_memory * POWER_FRACTION["memory"]
            + it.t_network * POWER_FRACTION["network"] + it.t_overhead * POWER_FRACTION["overhead"]) \
        / np.maximum(busy, 1e-30)
    extra_f["energy_j_per_token"][at] = tdp * frac * sub.devices / cl.throughput_tok_s
    extra_f["usd_per_million_tokens"][at] = np.where(
        price > 0, price * sub.devices / 3600.0 / cl.throughput_tok_s * 1e6, np.nan)
    for j, i in enumerate(at):
        if cl.notes[j]:
            note[i] = "; ".join(x for x in (note[i], cl.notes[j]) if x)


#: prefix under which an input column survives when a prediction column has its name
RENAMED_PREFIX = "input_"


def keep_user_columns(df: pl.DataFrame, added) -> pl.DataFrame:
    """``df`` with every column whose name is in ``added`` renamed ``input_<name>`` (one-line error if
    that name is taken too)."""
    clash = [c for c in df.columns if c in added]
    ren = {c: RENAMED_PREFIX + c for c in clash}
    taken = [r for r in ren.values() if r in df.columns]
    if taken:
        raise GenzError(f"columns {', '.join(clash)}: a prediction column takes these names and "
                        f"{', '.join(taken)} exist too; rename them in the input")
    return df.rename(ren) if ren else df


#: the columns a prediction depends on (everything else in a scenario table passes through)
SCENARIO_INPUTS = frozenset((*STR_COLUMNS, *INT_COLUMNS, *FLOAT_COLUMNS, *BOOL_COLUMNS))
#: tables at least this long are predicted once per distinct scenario (when repeats save a fifth)
DEDUP_MIN_ROWS = 10_000


def predict_frame(df: pl.DataFrame, profiles: ProfileSet | None = None, *,
                  keep_work: bool = False, allow_long_context: bool = False, progress=None) -> pl.DataFrame:
    """Predict every row of a scenario table.

    Adds ``ttft_ms, tpot_ms, e2e_latency_ms, throughput_tok_s, throughput_tok_s_per_device,
    max_throughput_tok_s`` (or, when a ``metric`` column is present, ``predicted`` for that
    metric), ``predicted_low``/``predicted_high`` (calibrated band), ``bottleneck``,
    ``status`` and ``calibration``, plus memory columns. Input columns pass through; an input
    column whose name a prediction column takes (a user's own ``status`` or ``ttft_ms``) is kept
    as ``input_<name>`` (:data:`RENAMED_PREFIX`), never overwritten.

    A row whose prompt + output exceeds the model's maximum context gets an error status unless
    its ``allow_long_context`` cell or ``allow_long_context=True`` allows it (:func:`context_overruns`).
    Row isolation: a bad model or hardware file, an unknown draft, or an unexpected failure while
    estimating one model's rows gives those rows an ``error: ...`` status and no numbers; other rows
    are unaffected. No ``ok`` row carries a non-finite or negative number (:func:`_guard`).

    A prediction is a function of the row's scenario columns (:data:`SCENARIO_INPUTS`) only, so a
    long table with repeated scenarios is predicted once per distinct scenario and the results are
    gathered back to every row (same numbers, row for row). ``progress(done, total, what)`` is called
    as each model's rows are done.
    """
    keys = [c for c in df.columns if c in SCENARIO_INPUTS]
    if df.height >= DEDUP_MIN_ROWS and keys:
        groups = df.select(keys).with_row_index("_row").group_by(keys, maintain_order=True).agg(pl.col("_row"))
        if groups.height <= 0.8 * df.height:
            first = groups.get_column("_row").list.first()
            uniq = df.select(keys)[first]
            res = _predict_rows(uniq, profiles, keep_work=keep_work, allow_long_context=allow_long_context,
                                progress=progress)
            inverse = np.empty(df.height, dtype=np.int64)
            inverse[groups.get_column("_row").explode().to_numpy()] = np.repeat(
                np.arange(groups.height), groups.get_column("_row").list.len().to_numpy())
            new = res.select([c for c in res.columns if c not in keys])[inverse]
            return pl.concat([keep_user_columns(df, set(new.columns)), new], how="horizontal")
    return _predict_rows(df, profiles, keep_work=keep_work, allow_long_context=allow_long_context,
                         progress=progress)


def _predict_rows(df: pl.DataFrame, profiles: ProfileSet | None = None, *,
                  keep_work: bool = False, allow_long_context: bool = False, progress=None) -> pl.DataFrame:
    """:func:`predict_frame`, row by row."""
    from . import serving  # local import: serving builds on this module

    profiles = profiles if profiles is not None else default_profiles()
    norm = normalize(df)
    n = norm.height
    models, hw_map, res_err = _resolve(norm)
    st_expr = pl.when(pl.Series(res_err).is_not_null() & (norm.get_column("status") == "ok")) \
        .then(pl.Series(res_err)).otherwise(norm.get_column("status"))
    st_series = pl.select(st_expr.alias("s")).get_column("s")
    ok = (st_series == "ok").to_numpy()
    status = st_series.to_numpy().astype(object)

    out = {m: np.full(n, np.nan) for m in METRICS}
    extra_f = {k: np.full(n, np.nan) for k in (
        "memory_per_device_gb", "weights_per_device_gb", "kv_cache_per_device_gb", "activations_per_device_gb",
        "max_batch_fit", "prefill_flops", "decode_flops", "energy_j_per_token", "usd_per_million_tokens",
        "prefill_compute_ms", "prefill_memory_ms", "prefill_network_ms", "prefill_overhead_ms",
        "decode_compute_ms", "decode_memory_ms", "decode_network_ms", "decode_overhead_ms",
        "max_throughput_batch", "max_throughput_ttft_ms", "max_throughput_tpot_ms", "concurrency",
        "offloaded_gb", "tokens_per_step", "running_requests", "queued_requests", "ttft_steady_ms",
        "ttft_ramp_ms")}
    note = np.full(n, None, dtype=object)
    bottleneck = np.full(n, "", dtype="U8")
    pb = np.full(n, "", dtype="U8")
    db = np.full(n, "", dtype="U8")
    calib = np.full(n, None, dtype=object)
    prof_col = np.full(n, None, dtype=object)
    band_lo = np.full(n, np.nan)
    band_hi = np.full(n, np.nan)
    # without a metric column: every metric's band (the warehouse stores exactly these)
    per_metric = "metric" not in df.columns
    m_lo = {m: np.full(n, np.nan) for m in METRICS} if per_metric else {}
    m_hi = {m: np.full(n, np.nan) for m in METRICS} if per_metric else {}
    metric_col = norm.get_column("_metric").to_numpy() if "metric" in df.columns else np.full(n, None)

    hw_names = list(hw_map)
    hws = [hw_map[k] for k in hw_names]
    hw_pos = {k: j for j, k in enumerate(hw_names)}
    model_code = norm.get_column("_model").replace_strict({m: i for i, m in enumerate(models)}, default=-1,
                                                          return_dtype=pl.Int64).to_numpy()
    allow_long = norm.get_column("_allow_long_context").to_numpy() | bool(allow_long_context)
    nulls = np.zeros(n, dtype=bool)  # rows estimated and then turned into errors: their numbers are dropped

    def run_group(spec: ModelSpec, sel: np.ndarray) -> None:
        """Estimate the rows ``sel`` (all of model ``spec``), filling the output arrays in place."""
        rows = norm[sel]
        # structural checks: TP must divide the attention heads (and the KV heads or be a multiple)
        tp = rows.get_column("_tp").to_numpy()
        heads = spec.attention_heads()
        if heads:
            bad = (heads % tp) != 0
            if bad.any():
                status[sel[bad]] = [f"error: tp {t} does not divide the {heads} attention heads of {spec.id}"
                                    for t in tp[bad]]
                ok[sel[bad]] = False
        moe = [lc.ffn for lc in spec.layers if lc.ffn is not None and lc.ffn.is_moe]
        ep = rows.get_column("_ep").to_numpy()
        if moe:
            bad = (moe[0].n_experts % ep) != 0
            if bad.any():
                status[sel[bad]] = [f"error: ep {e} does not divide the {moe[0].n_experts} experts of {spec.id}"
                                    for e in ep[bad]]
                ok[sel[bad]] = False
        elif (ep > 1).any():
            status[sel[ep > 1]] = f"error: ep > 1 but {spec.id} has no experts"
            ok[sel[ep > 1]] = False
        for col in ("pp", "decode_pp"):  # a pipeline stage holds at least one layer
            stages = rows.get_column("_" + col).to_numpy()
            bad = (stages > spec.n_layers) & ok[sel]
            if bad.any():
                status[sel[bad]] = [f"error: {col} {p} exceeds the {spec.n_layers} layers of {spec.id} (a stage "
                                    "holds at least one layer)" for p in stages[bad]]
                ok[sel[bad]] = False
        over = context_overruns(spec, rows, allow_long[sel]) & ok[sel]
        if over.any():
            status[sel[over]] = context_messages(spec, rows.filter(pl.Series(over)))
            ok[sel[over]] = False
        sel = sel[ok[sel]]
        if len(sel) == 0:
            return
        rows = norm[sel]
        hw_idx = rows.get_column("_hardware").replace_strict(hw_pos, return_dtype=pl.Int64).to_numpy()
        inp, prof_label, prof_idx = engine_inputs(rows, hws, hw_idx, profiles)
        needs_batch = rows.get_column("_batch_size").is_null().to_numpy()
        metric_here = metric_col[sel]
        est = _estimate_with_drafts(spec, inp, rows, status, sel)
        draft_bad = status[sel] != "ok"  # a draft that cannot be resolved: that status, no numbers
        mem = est.memory
        fits = est.extra["fits"]
        extra_f["offloaded_gb"][sel] = (est.extra["spill_weights"] + est.extra["spill_kv"]) / GB
        extra_f["tokens_per_step"][sel] = est.extra["tokens_per_step"]
        free = mem.capacity - mem.weights - mem.activations
        max_fit = np.floor(np.maximum(free, 0) / np.maximum(mem.kv_per_seq, 1e-9)) * inp.dp
        extra_f["concurrency"][sel] = est.extra["concurrency"]
        # max-load throughput: serving model (in-flight batching, KV-limited batch)
        mt = serving.max_throughput(spec, inp, rows.get_column("_framework_key"))
        one_req = mem.weights + mem.activations + mem.kv_per_seq
        st_here = np.full(len(sel), "ok", dtype=object)
        for i in np.nonzero(~fits)[0]:
            st_here[i] = (f"does_not_fit: needs {one_req[i] / GB:.1f} GB per device for weights + one request "
                          f"(weights {mem.weights[i] / GB:.1f}, KV {mem.kv_per_seq[i] / GB:.2f}, activations "
                          f"{mem.activations[i] / GB:.1f}), has {mem.capacity[i] / GB:.1f} GB")
        # a max-throughput row has no fixed batch: it fits if the weights + one request fit
        mt_ok = mt["status"] == "ok"
        is_mt = (metric_here == "max_throughput_tok_s") | needs_batch & (metric_here == None)  # noqa: E711
        is_mt_metric = metric_here == "max_throughput_tok_s"
        good = np.where(is_mt_metric, mt_ok, fits)
        st_here = np.where(is_mt_metric, mt["status"], st_here)
        bad_here = ~good & ~draft_bad
        status[sel[bad_here]] = st_here[bad_here]
        ok[sel[bad_here | draft_bad]] = False
        nulls[sel[draft_bad]] = True
        out["ttft_ms"][sel] = np.where(good | is_mt, est.ttft_s / MS, np.nan)
        out["tpot_ms"][sel] = est.tpot_s / MS
        out["e2e_latency_ms"][sel] = est.e2e_s / MS
        out["throughput_tok_s"][sel] = est.throughput_tok_s
        out["throughput_tok_s_per_device"][sel] = est.throughput_tok_s_per_device
        out["max_throughput_tok_s"][sel] = np.where(mt_ok, mt["throughput"], np.nan)
        extra_f["max_throughput_batch"][sel] = mt["batch"]
        extra_f["max_throughput_ttft_ms"][sel] = mt["ttft_s"] / MS
        extra_f["max_throughput_tpot_ms"][sel] = mt["tpot_s"] / MS
        extra_f["memory_per_device_gb"][sel] = mem.total / GB
        extra_f["weights_per_device_gb"][sel] = mem.weights / GB
        extra_f["kv_cache_per_device_gb"][sel] = mem.kv / GB
        extra_f["activations_per_device_gb"][sel] = mem.activations / GB
        extra_f["max_batch_fit"][sel] = max_fit
        # whole deployment: every device of every replica (prefill pool, decode pool), all waves
        extra_f["prefill_flops"][sel] = est.extra["prefill_flops"]
        extra_f["decode_flops"][sel] = est.extra["decode_flops"]
        for ph, r in (("prefill", est.prefill), ("decode", est.decode)):
            extra_f[f"{ph}_compute_ms"][sel] = r.t_compute / MS
            extra_f[f"{ph}_memory_ms"][sel] = r.t_memory / MS
            extra_f[f"{ph}_network_ms"][sel] = r.t_network / MS
            extra_f[f"{ph}_overhead_ms"][sel] = r.t_overhead / MS
        energy, cost = serving.energy_cost(inp, est, [hws[j] for j in range(len(hws))], hw_idx,
                                           rows.get_column("_usd_per_device_hour").to_numpy())
        extra_f["energy_j_per_token"][sel] = energy
        extra_f["usd_per_million_tokens"][sel] = cost
        extra_f["running_requests"][sel] = est.extra["concurrency"]
        note[sel] = layouts.notes(spec, inp.ep, inp.domain, inp.decode_tp, inp.decode_ep)
        closed = np.nonzero(inp.conc > 0)[0]
        if closed.size:  # closed-loop rows: the benchmark_serving metrics replace the fixed batch's
            _closed_loop(spec, inp, rows, closed, sel, hws, hw_idx, out, extra_f, note)
        bottleneck[sel] = est.bottleneck
        pb[sel] = est.prefill_bottleneck
        db[sel] = est.decode_bottleneck
        extrap = profiles.extrapolation(prof_idx, inp)
        calib[sel] = np.where(extrap != "", prof_label.astype(object) + "; " + extrap, prof_label)
        # a framework version the stack does not declare: the nearest generation, and the label says so
        fw_text = rows.get_column("_framework")
        fw_note = {v: resolve_framework(v)[1] for v in fw_text.unique().drop_nulls().to_list()}
        fw_note = {v: t for v, t in fw_note.items() if t}
        if fw_note:
            at = np.nonzero(fw_text.is_in(list(fw_note)).to_numpy())[0]
            texts = fw_text.to_numpy()
            calib[sel[at]] = [f"{calib[sel[j]]}; {fw_note[texts[j]]}" for j in at]
        prof_col[sel] = profiles.profile_ids(prof_idx)
        if per_metric:
            for m, (lo, hi) in profiles.metric_bands(prof_idx, METRICS, inp).items():
                m_lo[m][sel], m_hi[m][sel] = lo, hi
        else:
            band_lo[sel], band_hi[sel] = profiles.band_rows(prof_idx, metric_here, inp)

    done = 0
    for mi, spec in enumerate(models.values()):
        sel = np.nonzero(ok & (model_code == mi))[0]
        if progress:
            progress(done, n, f"predicting {spec.id}")
            done += len(sel)
        if len(sel) == 0:
            continue
        try:
            run_group(spec, sel)
        except Exception as exc:  # a bug, not the user's input: these rows get a status, the file goes on
            if os.environ.get("GENZ_DEBUG"):
                raise
            left = sel[ok[sel]]
            status[left] = (f"error: genz failed on these rows of {spec.id} ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}); a bug in genz, please report it")
            ok[left] = False
            nulls[left] = True
    for arr in (*out.values(), *extra_f.values(), band_lo, band_hi, *m_lo.values(), *m_hi.values()):
        arr[nulls] = np.nan
    for txt in (bottleneck, pb, db):
        txt[nulls] = ""
    calib[nulls] = None
    prof_col[nulls] = None

    cols: dict[str, np.ndarray] = {}
    if "metric" in df.columns:
        pred = np.full(n, np.nan)
        for m in METRICS:
            sel = metric_col == m
            pred[sel] = out[m][sel]
        # rows without a metric get the e2e latency
        none = norm.get_column("_metric").is_null().to_numpy()
        pred[none] = out["e2e_latency_ms"][none]
        pred = np.where(ok, pred, np.nan)
        cols["predicted"] = pred
        cols["predicted_low"] = np.where(ok, pred * band_lo, np.nan)
        cols["predicted_high"] = np.where(ok, pred * band_hi, np.nan)
    else:
        for m in METRICS:
            cols[m] = np.where(ok | (m == "max_throughput_tok_s"), out[m], np.nan)
        for m in METRICS:
            # the calibrated 80 % band: measured/predicted quantiles per platform × metric, widened
            # beyond the measured range (:meth:`genz.perf.profiles.ProfileSet.metric_bands`)
            cols[f"{m}_low"] = cols[m] * m_lo[m]
            cols[f"{m}_high"] = cols[m] * m_hi[m]
    _guard(cols, extra_f, ok, status)
    okser = pl.Series(ok)

    def text(name, arr):
        ser = pl.Series(name, arr)
        return pl.when(okser & (ser != "")).then(ser).otherwise(None).alias(name)

    if "concurrency" in df.columns:
        # a scenario column now: the input passes through; the old output is running_requests
        del extra_f["concurrency"]
    added = {*cols, "status", "calibration", "profile", *extra_f, "bottleneck", "prefill_bottleneck",
             "decode_bottleneck", "note"}
    df = keep_user_columns(df, added)
    result = df.with_columns(
        **{k: pl.Series(k, v, dtype=pl.Float64) for k, v in cols.items()},
        status=pl.Series("status", status.tolist(), dtype=pl.String),
        calibration=pl.Series("calibration", calib.tolist(), dtype=pl.String),
        profile=pl.Series("profile", prof_col.tolist(), dtype=pl.String),
        **{k: pl.Series(k, v, dtype=pl.Float64) for k, v in extra_f.items()},
    ).with_columns(text("bottleneck", bottleneck), text("prefill_bottleneck", pb),
                   text("decode_bottleneck", db),
                   note=pl.Series("note", [v or None for v in note.tolist()], dtype=pl.String))
    if keep_work:
        work = norm.select([c for c in norm.columns if c.startswith("_")])
        result = pl.concat([result, work], how="horizontal")
    return result


#: output columns an ``ok`` row may leave blank (NaN): the max-load figures when no batch reaches
#: the serving model's steady state, cost without a price, their bands; the closed-loop figures
#: (queue, steady-state and ramp TTFT) on a fixed-batch row
MAY_BE_BLANK = frozenset({"max_throughput_tok_s", "max_throughput_tok_s_low", "max_throughput_tok_s_high",
                          "max_throughput_batch", "max_throughput_ttft_ms", "max_throughput_tpot_ms",
                          "queued_requests", "ttft_steady_ms", "ttft_ramp_ms"})


def _guard(cols: dict[str, np.ndarray], extra: dict[str, np.ndarray], ok: np.ndarray, status: np.ndarray) -> None:
    """Last line of defence, a bug catcher (validation happens before): an ``ok`` row never carries
    a non-finite or negative number. Such a row gets an error status naming the first bad column and
    its value, and loses its numbers (in place)."""
    culprit = np.full(len(ok), "", dtype=object)
    value = np.zeros(len(ok))
    for name, arr in (*cols.items(), *extra.items()):
        bad = ok & (culprit == "") & (np.isinf(arr) | (arr < 0) | (np.isnan(arr) & (name not in MAY_BE_BLANK)))
        if bad.any():
            culprit[bad] = name
            value[bad] = arr[bad]
    rows = np.nonzero(culprit != "")[0]
    if not len(rows):
        return
    status[rows] = [f"error: {culprit[i]} came out {value[i]:g}, not a finite non-negative number; a bug in genz, "
                    "please report it" for i in rows]
    ok[rows] = False
    for arr in (*cols.values(), *extra.values()):
        arr[rows] = np.nan


def predict_one(**scenario) -> dict:
    """Predict a single scenario given as keyword arguments; returns a dict of results."""
    df = pl.DataFrame({k: [v] for k, v in scenario.items()})
    return predict_frame(df).row(0, named=True)


def operators_frame(df: pl.DataFrame, profiles: ProfileSet | None = None,
                    keys: tuple[str, ...] = ("experiment", "scenario_id")) -> pl.DataFrame:
    """Per-operator breakdown of many scenarios at once (long format, vectorized per model).

    One row per scenario × phase × operator with ``layers``, ``gflops``, ``gbytes``, ``net_gbytes``
    (per device, whole phase), ``time_ms`` and ``bound``; ``keys`` columns of ``df`` identify rows.
    Scenarios that cannot be predicted are skipped.
    """
    from . import engine

    profiles = profiles if profiles is not None else default_profiles()
    norm = normalize(df)
    frames: list[pl.DataFrame] = []
    ok = (norm.get_column("status") == "ok").to_numpy()
    for mname in norm.filter(pl.Series(ok)).get_column("_model").unique().sort().to_list():
        try:
            spec = get_model(mname)
        except GenzError:
            continue
        sel = np.nonzero(ok & (norm.get_column("_model") == mname).to_numpy())[0]
        rows = norm[sel]
        hws, hw_idx = [], []
        for h in rows.get_column("_hardware").to_list():
            try:
                hw = get_hardware(h)
            except GenzError:
                hw_idx.append(-1)
                continue
            if hw not in hws:
                hws.append(hw)
            hw_idx.append(hws.index(hw))
        good = np.array(hw_idx) >= 0
        if not good.any():
            continue
        rows = rows.filter(pl.Series(good))
        hidx = np.array(hw_idx)[good]
        heads = spec.attention_heads()
        tpv = rows.get_column("_tp").to_numpy()
        fine = (heads % tpv == 0) if heads else np.ones(len(tpv), dtype=bool)
        rows, hidx = rows.filter(pl.Series(fine)), hidx[fine]
        if rows.height == 0:
            continue
        inp, _, _ = engine_inputs(rows, hws, hidx, profiles)
        est = engine.estimate(spec, inp, want_ops=True)
        base = rows.select(list(keys))
        for phase, res in (("prefill", est.prefill), ("decode", est.decode)):
            for d in res.ops:
                n = rows.height
                frames.append(base.with_columns(
                    phase=pl.lit(phase), layer_group=pl.lit(d.get("group", "model")), operator=pl.lit(d["name"]),
                    kind=pl.lit(d["kind"]),
                    layers=pl.lit(float(d["count"])),
                    gflops=pl.Series(np.broadcast_to(np.asarray(d["flops"], dtype=float), (n,)) / GFLOP),
                    gbytes=pl.Series(np.broadcast_to(np.asarray(d["bytes"], dtype=float), (n,)) / GB),
                    net_gbytes=pl.Series(np.broadcast_to(np.asarray(d["net_bytes"], dtype=float), (n,)) / GB),
                    time_ms=pl.Series(np.broadcast_to(np.asarray(d["time"], dtype=float), (n,)) / MS),
                    bound=pl.Series(np.broadcast_to(np.asarray(d["bound"]), (n,)).astype(str)),
                ))
    if not frames:
        return pl.DataFrame(schema={**dict.fromkeys(keys, pl.String), "phase": pl.String, "layer_group": pl.String,
                                    "operator": pl.String,
                                    "kind": pl.String, "layers": pl.Float64, "gflops": pl.Float64,
                                    "gbytes": pl.Float64, "net_gbytes": pl.Float64, "time_ms": pl.Float64,
                                    "bound": pl.String})
    return pl.concat(frames, how="vertical")


__all__ = ["DEFAULT", "Efficiency", "Estimate", "build_inputs", "engine_inputs", "operators_frame", "predict_frame", "predict_one"]
