"""SLO requirement search: what a deployment sustains under its SLO, and what a platform needs.

For a model × use case (request shape + SLO) × platform:

1. **Deployment search** — every parallel layout (TP × PP, and EP for MoE) on up to
   ``max_devices`` devices and every batch size is predicted at once; among those meeting the SLO
   the cheapest ($ per million output tokens) is chosen, with its goodput (output tokens/s per
   device while meeting the SLO) and the Pareto front of TPOT vs throughput per device.
2. **Platform requirements** — holding the rest of the platform fixed, the minimum compute
   (FLOP/s), HBM bandwidth, HBM capacity and interconnect bandwidth, and the maximum interconnect
   latency, that still meet the SLO for the chosen deployment. Each is a bisection on a scale
   factor, vectorized over every scenario; the resource whose requirement is largest relative to
   what the platform has binds first.

Monotonicity the search relies on (and tests check): more of a resource never makes a scenario
slower, so "meets the SLO" flips once along each axis. "Meets the SLO" is the one rule of
:mod:`genz.requirements.slo`: decided at its confidence (the upper end of each metric's 80 % band
within the bound), with the point-estimate answer reported beside it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..catalog.hardware import get_hardware
from ..catalog.units import MS, TFLOPS, US
from ..catalog.usecases import load_usecases
from ..catalog.zoo import get_model
from ..errors import GenzError
from ..perf import engine
from ..perf.predict import engine_inputs, predict_frame
from ..perf.profiles import ProfileSet, default_profiles
from ..perf.scenarios import normalize
from . import slo as slo_rule

#: resource -> (engine input arrays it scales, unit of the reported value, divisor for that unit)
RESOURCES: dict[str, tuple[tuple[str, ...], str, float]] = {
    "compute": (("peak_matrix", "peak_attn", "peak_16", "peak_vector"), "TFLOP/s (at compute dtype)", TFLOPS),
    "memory_bandwidth": (("hbm_bw",), "GB/s", 1e9),
    "memory_capacity": (("hbm_bytes",), "GB", 1e9),
    "interconnect_bandwidth": (("up_bw", "out_bw"), "GB/s (scale-up, per direction)", 1e9),
    "interconnect_latency": (("up_lat", "out_lat"), "us (scale-up)", US),
}
#: the array whose value is reported as "available" for each resource
REPORTED = {"compute": "peak_matrix", "memory_bandwidth": "hbm_bw", "memory_capacity": "hbm_bytes",
            "interconnect_bandwidth": "up_bw", "interconnect_latency": "up_lat"}
BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


@dataclass
class Slo:
    """Latency bounds (ms); None = unbounded."""

    ttft_ms: float | None = None
    tpot_ms: float | None = None
    e2e_ms: float | None = None


def meets_slo(est: engine.Estimate, slo_ttft, slo_tpot, slo_e2e, highs: tuple | None = None) -> np.ndarray:
    """Rows that fit and meet every given bound (NaN bound = none), decided as :mod:`.slo` says
    (at its confidence, with the rows' band upper multipliers ``highs`` for TTFT, TPOT, e2e)."""
    return slo_rule.meets_slo((est.ttft_s / MS, est.tpot_s / MS, est.e2e_s / MS), (slo_ttft, slo_tpot, slo_e2e),
                              highs, fits=est.extra["fits"])


def _scaled(inp: engine.Inputs, resource: str, k: np.ndarray) -> engine.Inputs:
    out = inp.take(np.arange(len(inp)))
    for name in RESOURCES[resource][0]:
        setattr(out, name, getattr(inp, name) * k)
    return out


def bisect_requirement(spec, inp: engine.Inputs, slo: tuple, resource: str, lo: float = 1 / 256,
                       hi: float = 256.0, iters: int = 22, highs: tuple | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Scale factor of ``resource`` at the SLO boundary, per row, and a status per row.

    For capacities and bandwidths: the smallest factor that meets the SLO (more is better).
    For latency: the largest factor that still meets it (less is better). Status: 'ok',
    'not binding' (met even at the extreme end of the range), 'unattainable' (not met even at the
    other end: another resource binds first).
    """
    n = len(inp)
    latency = resource == "interconnect_latency"

    def ok(k):
        return meets_slo(engine.estimate(spec, _scaled(inp, resource, k)), slo[0], slo[1], slo[2], highs=highs)

    good_end = np.full(n, lo if latency else hi)
    bad_end = np.full(n, hi if latency else lo)
    ok_good = ok(good_end)
    ok_bad = ok(bad_end)
    a, b = np.log(bad_end), np.log(good_end)  # invariant: a fails, b meets
    for _ in range(iters):
        mid = 0.5 * (a + b)
        m = ok(np.exp(mid))
        b = np.where(m, mid, b)
        a = np.where(m, a, mid)
    k = np.exp(b)
    status = np.where(~ok_good, "unattainable", np.where(ok_bad, "not binding", "ok"))
    # unattainable by this resource alone: infinitely much of it (latency: none at all)
    k = np.where(ok_bad, bad_end, np.where(ok_good, k, 0.0 if latency else np.inf))
    return k, status.astype(object)


def platform_requirements(rows: pl.DataFrame, profiles: ProfileSet | None = None,
                          resources: tuple[str, ...] = tuple(RESOURCES)) -> pl.DataFrame:
    """Minimum resources to meet each row's SLO (columns slo_ttft_ms / slo_tpot_ms / slo_e2e_ms).

    One output row per scenario × resource: ``available``, ``required`` (in ``unit``),
    ``ratio`` = required / available (latency: available / required), ``status``, and ``binding``
    (the resource with the highest ratio for the scenario).
    """
    profiles = profiles if profiles is not None else default_profiles()
    if "_row" not in rows.columns:
        rows = rows.with_columns(_row=pl.int_range(pl.len()))
    norm = normalize(rows)
    out: list[pl.DataFrame] = []
    for mname in norm.get_column("_model").unique().sort().to_list():
        sel = np.nonzero(((norm.get_column("_model") == mname) & (norm.get_column("status") == "ok")).to_numpy())[0]
        if len(sel) == 0:
            continue
        spec = get_model(mname)
        sub = norm[sel]
        hws = [get_hardware(h) for h in sub.get_column("_hardware").unique().sort().to_list()]
        pos = {h: i for i, h in enumerate(sub.get_column("_hardware").unique().sort().to_list())}
        hidx = sub.get_column("_hardware").replace_strict(pos, return_dtype=pl.Int64).to_numpy()
        inp, _, prof_idx = engine_inputs(sub, hws, hidx, profiles)
        slo = tuple(sub.get_column(c).cast(pl.Float64).fill_null(float("nan")).to_numpy() if c in sub.columns
                    else np.full(sub.height, np.nan) for c in ("slo_ttft_ms", "slo_tpot_ms", "slo_e2e_ms"))
        # the band's upper multiplier of each bounded metric: the SLO is judged at its confidence
        bands = profiles.metric_bands(prof_idx, [m for m, _ in slo_rule.BOUNDS], inp)
        highs = tuple(bands[m][1] for m, _ in slo_rule.BOUNDS)
        base_ok = meets_slo(engine.estimate(spec, inp), slo[0], slo[1], slo[2], highs=highs)
        for r in resources:
            k, status = bisect_requirement(spec, inp, slo, r, highs=highs)
            avail = getattr(inp, REPORTED[r])
            unit_div = RESOURCES[r][2]
            req = k * avail
            with np.errstate(divide="ignore"):
                ratio = np.where(r == "interconnect_latency", 1.0 / k, k)
            out.append(sub.select(pl.col("_row")).with_columns(
                resource=pl.lit(r), unit=pl.lit(RESOURCES[r][1]),
                available=pl.Series(avail / unit_div), required=pl.Series(req / unit_div),
                ratio=pl.Series(ratio), status=pl.Series(status.tolist(), dtype=pl.String),
                meets_slo_as_is=pl.Series(base_ok)))
    if not out:
        return pl.DataFrame()
    res = pl.concat(out).sort("_row", "resource")
    # the binding resource: the highest finite ratio. One that cannot reach the SLO however much of it
    # there is (unattainable) is limited by something else, so it never binds; where every resource is
    # unattainable, none binds (fixed overheads or another platform limit do).
    binding = (res.filter(pl.col("status") == "ok")
               .sort("_row", "ratio", "resource", descending=[False, True, False])
               .unique("_row", keep="first", maintain_order=True)
               .select("_row", pl.col("resource").alias("_bind")))
    res = res.join(binding, on="_row", how="left").with_columns(binding=pl.col("resource") == pl.col("_bind")) \
        .drop("_bind").with_columns(pl.col("binding").fill_null(False))
    return res


def candidates(model: str, hardware: str, use_case: dict, max_devices: int = 8,
               batches: tuple[int, ...] = BATCHES, framework: str | None = None,
               weight_dtype: str = "bf16", kv_dtype: str | None = None) -> pl.DataFrame:
    """Deployment candidates: every TP × PP (× EP for MoE) layout up to ``max_devices`` × batch."""
    spec = get_model(model)
    heads = spec.attention_heads() or 1
    moe = any(lc.ffn is not None and lc.ffn.is_moe for lc in spec.layers)
    n_exp = max((lc.ffn.n_experts for lc in spec.layers if lc.ffn is not None and lc.ffn.is_moe), default=0)
    rows = []
    for tp, pp in itertools.product((1, 2, 4, 8, 16, 32, 64), (1, 2, 4, 8)):
        if tp * pp > max_devices or heads % tp:
            continue
        eps = sorted({1, tp}) if moe else [1]
        for ep in eps:
            if moe and n_exp % ep:
                continue
            for b in batches:
                rows.append({"model": model, "hardware": hardware, "tp": tp, "pp": pp, "ep": ep, "batch_size": b,
                             "input_tokens": int(use_case["input_tokens"]),
                             "output_tokens": int(use_case["output_tokens"]), "weight_dtype": weight_dtype,
                             "kv_dtype": kv_dtype or weight_dtype, "framework": framework})
    return pl.DataFrame(rows, infer_schema_length=None)


def pareto(df: pl.DataFrame, x: str = "tpot_ms", y: str = "throughput_tok_s_per_device") -> pl.DataFrame:
    """Rows not dominated in (lower ``x``, higher ``y``)."""
    d = df.sort([x, y], descending=[False, True])
    best = -np.inf
    keep = []
    for v in d.get_column(y).to_list():
        keep.append(v > best)
        best = max(best, v)
    return d.filter(pl.Series(keep))


def deployment_search(models: list[str], use_cases: dict[str, dict], hardware: list[str],
                      profiles: ProfileSet | None = None, max_devices: int = 8, **kw) -> dict[str, pl.DataFrame]:
    """Cheapest deployment meeting each use case's SLO, per model × use case × platform.

    Returns ``{"deployments": best per combination (or the best-latency one, flagged), "pareto":
    latency/throughput front of the SLO-meeting candidates, "candidates": all predictions}``.
    """
    profiles = profiles if profiles is not None else default_profiles()
    frames = []
    for m in models:
        for uname, uc in use_cases.items():
            for h in hardware:
                c = candidates(m, h, uc, max_devices=max_devices, **kw)
                slo = uc.get("slo") or {}
                frames.append(c.with_columns(use_case=pl.lit(uname),
                                             slo_ttft_ms=pl.lit(slo.get("ttft_ms"), dtype=pl.Float64),
                                             slo_tpot_ms=pl.lit(slo.get("tpot_ms"), dtype=pl.Float64),
                                             slo_e2e_ms=pl.lit(slo.get("e2e_ms"), dtype=pl.Float64)))
    cand = pl.concat(frames, how="diagonal_relaxed")
    pred = slo_rule.slo_columns(predict_frame(cand, profiles)).with_columns(
        devices=pl.col("tp").cast(pl.Int64) * pl.col("pp").cast(pl.Int64),
    )
    keys = ["model", "use_case", "hardware"]
    meeting = pred.filter(pl.col("meets_slo"))
    best = (meeting.sort([*keys, "usd_per_million_tokens", "devices", "batch_size"], nulls_last=True)
            .unique(keys, keep="first", maintain_order=True))
    goodput = meeting.group_by(keys).agg(goodput_tok_s_per_device=pl.col("throughput_tok_s_per_device").max())
    best = best.join(goodput, on=keys, how="left")
    # combinations where nothing meets the SLO: report the lowest-TPOT candidate that runs
    missing = pred.filter(pl.col("status") == "ok").join(best.select(keys), on=keys, how="anti")
    fallback = (missing.sort([*keys, "tpot_ms"]).unique(keys, keep="first", maintain_order=True)
                .with_columns(goodput_tok_s_per_device=pl.lit(None, dtype=pl.Float64)))
    # combinations where no layout up to max_devices even runs
    combos = cand.select(keys).unique()
    none_run = combos.join(pred.filter(pl.col("status") == "ok").select(keys).unique(), on=keys, how="anti")
    # (the largest layout at the smallest batch, so the requirement search says how much is missing)
    layout = ["tp", "pp", "ep", "batch_size"]
    why = (pred.join(none_run, on=keys).sort([*keys, *layout], descending=[False] * 3 + [True, True, True, False])
           .unique(keys, keep="first", maintain_order=True)
           .select(*keys, *layout, *[c for c in cand.columns if c not in (*keys, *layout)], "status")
           .with_columns(meets_slo=pl.lit(False)))
    deployments = pl.concat([best, fallback, why], how="diagonal_relaxed").sort(keys)
    fronts = [pareto(g) for _, g in meeting.group_by(keys, maintain_order=True)] if meeting.height else []
    front = pl.concat(fronts) if fronts else meeting.head(0)
    return {"deployments": deployments, "pareto": front, "candidates": pred}


def search(models: list[str], use_case_names: list[str], hardware: list[str], usecases_path,
           profiles: ProfileSet | None = None, max_devices: int = 8,
           resources: tuple[str, ...] = tuple(RESOURCES), **kw) -> dict[str, pl.DataFrame]:
    """Deployment search, then platform requirements for each chosen deployment."""
    lib = load_usecases(usecases_path)
    missing = [u for u in use_case_names if u not in lib]
    if missing:
        raise GenzError(f"use_case: unknown {', '.join(missing)}; allowed: {', '.join(lib)}")
    ucs = {u: lib[u] for u in use_case_names}
    dep = deployment_search(models, ucs, hardware, profiles, max_devices=max_devices, **kw)
    d = dep["deployments"].with_columns(_row=pl.int_range(pl.len()))
    cols = ["model", "hardware", "tp", "pp", "ep", "batch_size", "input_tokens", "output_tokens", "weight_dtype",
            "kv_dtype", "framework", "slo_ttft_ms", "slo_tpot_ms", "slo_e2e_ms", "_row"]
    req = platform_requirements(d.select([c for c in cols if c in d.columns]), profiles, resources)
    if req.height:
        req = req.join(d.select("_row", "model", "use_case", "hardware", "tp", "pp", "ep", "batch_size", "meets_slo"),
                       on="_row").drop("_row")
    return {**dep, "requirements": req}
