"""The serving frontier: output tokens/s per GPU against interactivity, over deployments and concurrency.

What architects compare GPUs on today (the form of the InferenceMAX / InferenceX benchmark): for a
model, a precision and a workload (ISL/OSL), every deployment that fits a device budget is run at
every client concurrency ``C``; each point is placed at

* x = **interactivity** = 1000 / TPOT  (output tokens/s seen by one user; TPOT in ms), and
* y = **output tokens/s per GPU** = output tokens/s of the deployment / its devices (prefill and
  decode pools both count),

and the curve shown per GPU is the **Pareto frontier** of those points: the points no other point of
the same GPU beats on both axes (:func:`pareto_front`). One engine serves the CLI (``genz
frontier``), the pipeline (``frontier`` warehouse table) and the report page.

Deployments (:func:`enumerate_deployments`; sizes are powers of two up to the device budget ``N``):

* ``tp``: one TP group of ``g`` devices, ``g`` within the scale-up domain and dividing the heads;
* ``tp-ep`` (MoE): the same group with the experts split across it (EP = TP = ``g``);
* ``dp-attention`` (MoE): attention data-parallel over ``g`` ranks (TP 1 each), experts split over
  all of them (EP = DP = ``g``); ``g`` may exceed the scale-up domain (wide EP across nodes);
* ``disaggregated``: ``x`` prefill workers of TP ``p`` and ``y`` decode workers of TP ``d`` (each a
  TP group of a size above), ``x·p + y·d ≤ N``; the splits ``(x, y)`` are a parameter, default
  1P + 1D only.

Plain data-parallel replicas are not enumerated: ``k`` independent replicas at concurrency ``k·C``
give the same point as one replica at ``C`` (same TPOT, same tokens/s per GPU), so they add nothing
to the frontier. Pipeline and context parallelism are left out (they trade latency for capacity,
which the budget already bounds).

Every point carries its deployment, its ``status`` (``ok``, ``does_not_fit: ...``, ``unsupported:
...``), the calibrated 80 % band of both axes (from :func:`genz.perf.predict.predict_frame`'s
``*_low``/``*_high`` columns) and the calibration label (``calibrated`` = the chip was measured;
``inherited from ...`` / ``prior`` = assumed). Economics at an interactivity (:func:`at_interactivity`):

* cost per million output tokens = price [USD per device-hour] · 10⁶ / (3600 · y), the engine's
  ``usd_per_million_tokens`` (price: the preset's, or ``usd_per_device_hour``);
* output tokens/s per MW = 10⁶ / (J per output token) = 10⁶ · y / P, with P the mean board power
  per device while serving (TDP × the engine's per-kind power fractions,
  :data:`genz.perf.serving.POWER_FRACTION`; accelerators only: no host, network or cooling).

Between two frontier points both y and P are interpolated linearly in x (a frontier is a set of
discrete deployments, so the value between them is an estimate and is labelled as one).

The one place a (deployment, concurrency) point becomes scenario columns is :func:`scenario_row`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..catalog import dtypes
from ..catalog.hardware import Hardware, get_hardware
from ..catalog.zoo import get_model
from ..errors import GenzError
from ..perf.predict import predict_frame
from ..perf.profiles import ProfileSet, default_profiles

#: client concurrencies swept by default (requests in flight)
CONCURRENCY = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
#: interactivity at which the economics are compared by default, output tokens/s per user (TPOT 20 ms)
INTERACTIVITY = 50.0
#: device budget by default: one 8-GPU node
DEVICES = 8
#: input/output length spread of the benchmark's random requests: uniform in [r·L, L]
LENGTH_RATIO = 0.8
#: disaggregated splits enumerated by default: (prefill workers, decode workers)
DISAGG = ((1, 1),)
#: deployment modes, in the order they are listed
MODES = ("tp", "tp-ep", "dp-attention", "disaggregated")
#: a frontier is one curve per these columns (precisions compete on one curve; run once per
#: precision to compare them)
FRONTIER_KEYS = ("model", "hardware", "framework", "input_tokens", "output_tokens", "length_ratio")
#: the metric columns of a point, with their 80 % band (``<name>_low``/``_high``)
X, Y = "interactivity_tok_s_user", "throughput_tok_s_per_device"


@dataclass(frozen=True)
class Precision:
    """Weight / activation / KV formats of a sweep (blank act and KV follow the scenario table's
    defaults: :func:`genz.catalog.dtypes.default_act_dtype`, then the activations)."""

    weight: str = "bf16"
    act: str | None = None
    kv: str | None = None

    @classmethod
    def parse(cls, text: str) -> Precision:
        """``'fp4'``, ``'fp4/fp8'`` or ``'fp4/fp8/fp8'`` (weight[/act[/kv]]); aliases such as
        ``mxfp4`` or ``nvfp4`` are accepted (one-line error for an unknown format)."""
        parts = [p.strip() for p in str(text).split("/")]
        if not 1 <= len(parts) <= 3 or not parts[0]:
            raise GenzError(f"precision: '{text}' is not weight[/act[/kv]] (e.g. fp8, fp4/fp8, fp4/fp8/fp8)")
        for p, field in zip(parts, ("weight", "act", "kv")):
            if p:
                dtypes.canonical(p, f"precision {field}")
        return cls(parts[0], (parts[1] or None) if len(parts) > 1 else None, (parts[2] or None) if len(parts) > 2 else None)

    def resolved(self, hw: Hardware | None = None) -> tuple[str, str, str]:
        """(weight, act, kv) canonical names with the defaults filled in. 4-bit float weights with no
        activation format given are served as the stacks serve MXFP4/NVFP4 checkpoints: W4A8 (fp8
        activations) on a chip with fp4 units, weight-only W4A16 (bf16) on one without (``hw``)."""
        w = dtypes.canonical(self.weight, "precision weight")
        if not self.act and w == "fp4" and hw is not None:
            a = "fp8" if dtypes.compute_rate_key("fp4", hw.peak_flops) == "fp4" else "bf16"
        else:
            a = dtypes.canonical(self.act, "precision act") if self.act else (dtypes.default_act_dtype(self.weight)
                                                                              or w)
        k = dtypes.canonical(self.kv, "precision kv") if self.kv else dtypes.default_kv_dtype(a)
        return w, a, k


@dataclass(frozen=True)
class Deployment:
    """One way of laying a model out on devices (see the module docstring for the modes).

    ``tp``/``ep``/``dp`` are the aggregated layout, or, for a disaggregated one, the decode
    workers' (the benchmark's convention); ``prefill_*``/``decode_*`` hold the pools.
    """

    mode: str
    tp: int = 1
    ep: int = 1
    dp: int = 1
    prefill_workers: int = 0
    prefill_tp: int = 0
    decode_workers: int = 0
    decode_tp: int = 0

    @property
    def devices(self) -> int:
        """Devices of the deployment: both pools when disaggregated, else TP × DP."""
        if self.mode == "disaggregated":
            return self.prefill_workers * self.prefill_tp + self.decode_workers * self.decode_tp
        return self.tp * self.dp

    @property
    def dp_attention(self) -> bool:
        return self.mode == "dp-attention"

    @property
    def label(self) -> str:
        """Short name: ``TP8``, ``TP8 EP8``, ``DP8-attn EP8``, ``1P TP4 + 1D TP8``."""
        if self.mode == "disaggregated":
            return f"{self.prefill_workers}P TP{self.prefill_tp} + {self.decode_workers}D TP{self.decode_tp}"
        if self.mode == "dp-attention":
            return f"DP{self.dp}-attn EP{self.ep}" + (f" TP{self.tp}" if self.tp > 1 else "")
        return f"TP{self.tp}" + (f" EP{self.ep}" if self.ep > 1 else "")


def scenario_row(dep: Deployment, concurrency: int, length_ratio: float = LENGTH_RATIO) -> dict:
    """The scenario columns (docs/reference.md §2) of one (deployment, concurrency) point.

    The one place the frontier meets the scenario table: every sweep goes through here.
    """
    # closed-loop serving at client concurrency C (genz.perf.concurrency): `concurrency` selects the
    # mode; lengths uniform in [r·L, L] (`length_ratio`)
    row: dict = {"concurrency": concurrency, "length_ratio": length_ratio}
    if dep.mode == "disaggregated":
        # xP + yD: x prefill workers of TP prefill_tp, y decode workers of TP decode_tp (genz.perf.layouts)
        return {**row, "tp": dep.prefill_tp, "decode_tp": dep.decode_tp, "prefill_workers": dep.prefill_workers,
                "decode_workers": dep.decode_workers, "num_devices": dep.devices}
    if dep.dp_attention:
        # DP-attention: one attention rank per device (attention TP 1), experts over all g devices
        # (EP = DP × TP): the stacks' `--enable-dp-attention` / `enable_attention_dp` layout
        return {**row, "tp": dep.dp, "dp_attention": dep.dp, "ep": dep.ep, "num_devices": dep.devices}
    return {**row, "tp": dep.tp, "ep": dep.ep, "dp": dep.dp, "num_devices": dep.devices}


def _powers_of_two(limit: int) -> list[int]:
    out, g = [], 1
    while g <= limit:
        out.append(g)
        g *= 2
    return out


def enumerate_deployments(model: str, hardware: str | Hardware, devices: int = DEVICES,
                          disagg: Sequence[tuple[int, int]] = DISAGG) -> list[Deployment]:
    """Every deployment of ``model`` on at most ``devices`` devices of ``hardware`` that is
    structurally valid (TP within the scale-up domain and dividing the attention heads, EP dividing
    the experts), in the order of :data:`MODES`, smallest first. Whether it fits in memory is the
    prediction's to say (status ``does_not_fit``)."""
    spec = get_model(model)
    hw = hardware if isinstance(hardware, Hardware) else get_hardware(hardware)
    heads = spec.attention_heads() or 1
    experts = max((lc.ffn.n_experts for lc in spec.layers if lc.ffn is not None and lc.ffn.is_moe), default=0)
    sizes = _powers_of_two(devices)
    tps = [g for g in sizes if g <= hw.scaleup_domain and heads % g == 0]
    out = [Deployment("tp", tp=g) for g in tps]
    if experts:
        out += [Deployment("tp-ep", tp=g, ep=g) for g in tps if g > 1 and experts % g == 0]
        out += [Deployment("dp-attention", tp=1, dp=g, ep=g) for g in sizes if g > 1 and experts % g == 0]
    for x, y in disagg:
        out += [Deployment("disaggregated", tp=d, prefill_workers=x, prefill_tp=p, decode_workers=y, decode_tp=d)
                for p in tps for d in tps if x * p + y * d <= devices]
    return out


def parse_disagg(items: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """``['1:1', '1:2']`` → ((1, 1), (1, 2)); ``['none']`` → () (one-line error otherwise)."""
    out = []
    for it in items:
        s = str(it).strip().lower()
        if s in ("none", "off", "0", ""):
            continue
        try:
            x, y = (int(v) for v in s.split(":"))
        except ValueError:
            raise GenzError(f"disagg: '{it}' is not XP:YD worker counts (e.g. 1:1, 1:2) or none") from None
        if x < 1 or y < 1:
            raise GenzError(f"disagg: '{it}': worker counts must be >= 1")
        out.append((x, y))
    return tuple(dict.fromkeys(out))


def parse_concurrency(text: str | Sequence) -> tuple[int, ...]:
    """``'1,2,4'`` (or a list) → (1, 2, 4); one-line error for anything but whole numbers >= 1."""
    items = [t for t in (str(text).replace(" ", "").split(",") if isinstance(text, str) else text)
             if str(t).strip() != ""]
    out = []
    for t in items:
        try:
            v = float(t)
        except ValueError:
            v = float("nan")
        if not (v == v and v >= 1 and v == int(v) and v <= 10_000_000):
            raise GenzError(f"concurrency: '{t}' is not a whole number of requests in [1, 10,000,000]")
        out.append(int(v))
    if not out:
        raise GenzError("concurrency: empty; give request counts such as 1,2,4,8")
    return tuple(sorted(set(out)))


def _check(input_tokens, output_tokens, devices, concurrency, length_ratio) -> None:
    for name, v in (("input_tokens", input_tokens), ("output_tokens", output_tokens)):
        if int(v) < 1:
            raise GenzError(f"{name}: {v} must be >= 1 (tokens per request)")
    if int(devices) < 1:
        raise GenzError(f"devices: {devices} must be >= 1")
    if not concurrency or any(int(c) < 1 for c in concurrency):
        raise GenzError(f"concurrency: {list(concurrency)}: give one or more request counts >= 1")
    if not 0.0 < float(length_ratio) <= 1.0:
        raise GenzError(f"length_ratio: {length_ratio} must be in (0, 1] (lengths uniform in [r·L, L])")


#: predicted columns a point keeps (with the bands of the metrics that have one)
_KEEP = ("ttft_ms", "ttft_ms_low", "ttft_ms_high", "tpot_ms", "tpot_ms_low", "tpot_ms_high", "e2e_latency_ms",
         "throughput_tok_s", Y, f"{Y}_low", f"{Y}_high", "energy_j_per_token", "usd_per_million_tokens",
         "memory_per_device_gb", "bottleneck", "status", "calibration", "profile")


def sweep(model: str, hardware: Sequence[str], input_tokens: int, output_tokens: int, *,
          devices: int = DEVICES, concurrency: Sequence[int] = CONCURRENCY,
          precisions: Sequence[Precision] = (), length_ratio: float = LENGTH_RATIO,
          framework: str | None = None, disagg: Sequence[tuple[int, int]] = DISAGG,
          profiles: ProfileSet | None = None) -> pl.DataFrame:
    """Predict every (hardware, precision, deployment, concurrency) point and mark each hardware's
    frontier; one row per point (columns: docs/reference.md, warehouse table ``frontier``).

    Raises :class:`GenzError` (one line) for an unknown model, hardware or format and for bad
    numbers; a point that cannot run gets a ``status``, never an exception.
    """
    _check(input_tokens, output_tokens, devices, concurrency, length_ratio)
    spec = get_model(model)
    hardware = list(dict.fromkeys(str(h) for h in hardware))  # each GPU once, in the order given
    hws = [get_hardware(h) for h in hardware]
    if not hws:
        raise GenzError("hardware: give at least one (-H H100-SXM-80GB)")
    # no precision given: the checkpoint as published (config.json quantization_config: gpt-oss's
    # MXFP4 experts, DeepSeek-V3's FP8), else 16-bit; 4-bit weights are served W4A8 (the MXFP4 MoE
    # kernels' MXFP8 activations) where fp4 units exist, W4A16 elsewhere (Precision.resolved)
    precs = list(precisions) or [Precision(weight=spec.served_weights or "bf16")]
    conc = sorted({int(c) for c in concurrency})
    meta: list[dict] = []
    rows: list[dict] = []
    for name, hw in zip(hardware, hws):
        for dep in enumerate_deployments(spec.id, hw, int(devices), disagg):
            for prec in precs:
                w, a, k = prec.resolved(hw)
                for c in conc:
                    sc = scenario_row(dep, c, float(length_ratio))
                    i = len(meta)
                    meta.append({
                        "_point": i, "model": str(model), "model_id": spec.id, "hardware": str(name),
                        "hardware_id": hw.id, "framework": framework, "input_tokens": int(input_tokens),
                        "output_tokens": int(output_tokens), "length_ratio": float(length_ratio),
                        "weight_dtype": w, "act_dtype": a, "kv_dtype": k, "mode": dep.mode,
                        "deployment": dep.label, "tp": dep.tp, "ep": dep.ep, "dp": dep.dp,
                        "dp_attention": dep.dp_attention, "prefill_workers": dep.prefill_workers,
                        "prefill_tp": dep.prefill_tp, "decode_workers": dep.decode_workers,
                        "decode_tp": dep.decode_tp, "num_devices": dep.devices, "concurrency": c,
                    })
                    rows.append({"_point": i, "model": spec.id, "hardware": hw.id, "framework": framework,
                                     "input_tokens": int(input_tokens), "output_tokens": int(output_tokens),
                                 "weight_dtype": w, "act_dtype": a, "kv_dtype": k, **sc})
    points = pl.DataFrame(meta, infer_schema_length=None).with_columns(
        pl.col("framework").cast(pl.String), pl.col("_point").cast(pl.Int64))
    if rows:
        scen = pl.DataFrame(rows, infer_schema_length=None)
        pred = predict_frame(scen, profiles if profiles is not None else default_profiles())
        points = points.join(pred.select("_point", *_KEEP), on="_point", how="left")
    else:
        points = points.with_columns(*[pl.lit(None, dtype=pl.String if c in ("bottleneck", "status", "calibration",
                                                                            "profile") else pl.Float64).alias(c)
                                       for c in _KEEP])
    return pareto_front(derived_columns(points)).drop("_point")


def derived_columns(points: pl.DataFrame) -> pl.DataFrame:
    """Interactivity, cost and power columns of predicted points (module docstring: the equations).

    * ``interactivity_tok_s_user`` = 1000 / TPOT [ms]; its band from TPOT's (``_low`` = 1000 /
      ``tpot_ms_high``);
    * ``usd_per_million_tokens_low/high`` = cost at the throughput band's high / low end;
    * ``power_per_device_w`` = y · J per token (mean board power per device while serving);
    * ``tok_s_per_mw`` = 10⁶ / J per token, band from the throughput band at that power.
    """
    y = pl.col(Y)
    return points.with_columns(
        (1000.0 / pl.col("tpot_ms")).alias(X),
        (1000.0 / pl.col("tpot_ms_high")).alias(f"{X}_low"),
        (1000.0 / pl.col("tpot_ms_low")).alias(f"{X}_high"),
        (pl.col("usd_per_million_tokens") * y / pl.col(f"{Y}_high")).alias("usd_per_million_tokens_low"),
        (pl.col("usd_per_million_tokens") * y / pl.col(f"{Y}_low")).alias("usd_per_million_tokens_high"),
        (y * pl.col("energy_j_per_token")).alias("power_per_device_w"),
        (1e6 / pl.col("energy_j_per_token")).alias("tok_s_per_mw"),
        (1e6 / pl.col("energy_j_per_token") * pl.col(f"{Y}_low") / y).alias("tok_s_per_mw_low"),
        (1e6 / pl.col("energy_j_per_token") * pl.col(f"{Y}_high") / y).alias("tok_s_per_mw_high"),
    )


def pareto_front(points: pl.DataFrame, by: Sequence[str] = FRONTIER_KEYS, x: str = X, y: str = Y) -> pl.DataFrame:
    """``points`` with ``on_frontier`` (no ok point of the same ``by`` group has both a higher-or-equal
    ``x`` and a higher-or-equal ``y``, one of them strictly; of equal points the first in deployment
    order is kept) and ``frontier_rank`` (1, 2, ... along the frontier by increasing ``x``; null off it).

    Sweep by decreasing x (ties: higher y first): a point is on the frontier iff its y beats every y
    seen before it in its group.
    """
    by = [c for c in by if c in points.columns]
    idx = "_pareto_row"
    pts = points.with_row_index(idx)
    finite = (pl.col("status") == "ok") & pl.col(x).is_finite() & pl.col(y).is_finite()
    cand = pts.filter(finite)
    order = [c for c in ("num_devices", "deployment", "concurrency") if c in cand.columns]
    cand = cand.sort([*by, x, y, *order, idx], descending=[False] * len(by) + [True, True] + [False] * (len(order) + 1),
                     nulls_last=True)
    best = pl.col(y).cum_max().shift(1)
    cand = cand.with_columns(_seen=(best.over(by) if by else best).fill_null(-np.inf))
    front = cand.filter(pl.col(y) > pl.col("_seen")).with_columns(
        frontier_rank=(pl.col(x).rank("ordinal").over(by) if by else pl.col(x).rank("ordinal")).cast(pl.Int64))
    out = pts.join(front.select(idx, "frontier_rank"), on=idx, how="left")
    return out.with_columns(on_frontier=pl.col("frontier_rank").is_not_null()).drop(idx)


def interpolate(xs: np.ndarray, ys: np.ndarray, at: float) -> tuple[float, int, int]:
    """y at ``at`` on the polyline through (``xs``, ``ys``) (``xs`` increasing), linear in x, with
    the indices of the bracketing points (equal when ``at`` hits a point). Outside the range: NaN
    and the index of the nearest end (-1 / -1 when empty)."""
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if len(xs) == 0:
        return float("nan"), -1, -1
    if at < xs[0] or at > xs[-1]:
        j = 0 if at < xs[0] else len(xs) - 1
        return float("nan"), j, j
    j = int(np.searchsorted(xs, at, side="left"))
    if xs[j] == at:
        return float(ys[j]), j, j
    i = j - 1
    return float(ys[i] + (ys[j] - ys[i]) * (at - xs[i]) / (xs[j] - xs[i])), i, j


def _where(r: dict) -> str:
    return f"{r['deployment']} @ C={r['concurrency']} ({r[X]:.1f})"


def at_interactivity(points: pl.DataFrame, interactivity: float = INTERACTIVITY,
                     by: Sequence[str] = FRONTIER_KEYS) -> pl.DataFrame:
    """Per frontier (``by`` group): throughput per GPU, cost per million output tokens and output
    tokens/s per MW at ``interactivity`` tok/s/user, interpolated on the frontier, with their bands.

    ``reach`` says how the number was obtained: ``exact`` / ``interpolated`` (between two frontier
    points, named in ``note``), ``below range`` (the frontier starts above the asked interactivity:
    its highest-throughput point is used, and more concurrency might give more), ``not reached`` (no
    deployment is that interactive: no numbers) or ``no frontier`` (nothing fits).
    """
    if not interactivity > 0:
        raise GenzError(f"interactivity: {interactivity} must be > 0 (output tokens/s per user)")
    by = [c for c in by if c in points.columns]
    out = []
    for key, grp in points.group_by(by, maintain_order=True):
        base = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        f = grp.filter(pl.col("on_frontier")).sort(X)
        row = {**base, "interactivity_target": float(interactivity), "reach": "", "note": "",
               Y: None, f"{Y}_low": None, f"{Y}_high": None, "usd_per_million_tokens": None,
               "usd_per_million_tokens_low": None, "usd_per_million_tokens_high": None, "tok_s_per_mw": None,
               "tok_s_per_mw_low": None, "tok_s_per_mw_high": None, "power_per_device_w": None,
               "deployment": None, "calibration": None}
        if f.height == 0:
            row.update(reach="no frontier", note=f"nothing runs: {_why(grp)}")
            out.append(row)
            continue
        recs = f.to_dicts()
        xs = f.get_column(X).to_numpy()
        yv, i, j = interpolate(xs, f.get_column(Y).to_numpy(), float(interactivity))
        if yv != yv:  # outside the frontier's range
            r = recs[i]
            if interactivity > xs[-1]:
                row.update(reach="not reached", deployment=r["deployment"], calibration=r["calibration"],
                           note=f"the frontier ends at {_where(r)} tok/s/user; no deployment reaches "
                                f"{interactivity:g}")
                out.append(row)
                continue
            j, t = i, 0.0
            row.update(reach="below range", note=f"the frontier starts at {_where(r)} tok/s/user: its "
                                                  f"highest-throughput point is used; more concurrency may give more")
        else:
            t = 0.0 if i == j else (interactivity - xs[i]) / (xs[j] - xs[i])
            row.update(reach="exact" if i == j else "interpolated",
                       note=f"at {_where(recs[i])}" if i == j else
                       f"between {_where(recs[i])} and {_where(recs[j])} tok/s/user")

        def lerp(c, i=i, j=j, t=t, recs=recs):
            a, b = recs[i][c], recs[j][c]
            return None if a is None or b is None else a + (b - a) * t

        y, y_lo, y_hi, p = lerp(Y), lerp(f"{Y}_low"), lerp(f"{Y}_high"), lerp("power_per_device_w")
        # price per device-hour of the curve's points, from the engine's own cost column (one rule)
        price = recs[i]["usd_per_million_tokens"] * recs[i][Y] * 3600.0 / 1e6 \
            if recs[i]["usd_per_million_tokens"] is not None else None

        def cost(v, price=price):
            return None if price is None or not v else price * 1e6 / (3600.0 * v)

        def per_mw(v, p=p):
            return None if not p or v is None else 1e6 * v / p

        row.update({Y: y, f"{Y}_low": y_lo, f"{Y}_high": y_hi, "usd_per_million_tokens": cost(y),
                    "usd_per_million_tokens_low": cost(y_hi), "usd_per_million_tokens_high": cost(y_lo),
                    "tok_s_per_mw": per_mw(y), "tok_s_per_mw_low": per_mw(y_lo), "tok_s_per_mw_high": per_mw(y_hi),
                    "power_per_device_w": p, "calibration": recs[i]["calibration"],
                    "deployment": recs[i]["deployment"] if i == j else
                    f"{recs[i]['deployment']} | {recs[j]['deployment']}"})
        out.append(row)
    schema: dict[str, pl.DataType | type[pl.DataType]] = {c: points.schema[c] for c in by}
    floats = [Y, f"{Y}_low", f"{Y}_high", "usd_per_million_tokens", "usd_per_million_tokens_low",
              "usd_per_million_tokens_high", "tok_s_per_mw", "tok_s_per_mw_low", "tok_s_per_mw_high",
              "power_per_device_w", "interactivity_target"]
    schema.update(dict.fromkeys(floats, pl.Float64))
    schema.update(dict.fromkeys(("reach", "note", "deployment", "calibration"), pl.String))
    return pl.DataFrame(out, schema=schema).select(*by, "interactivity_target", "reach", Y, f"{Y}_low", f"{Y}_high",
                                                  "usd_per_million_tokens", "usd_per_million_tokens_low",
                                                  "usd_per_million_tokens_high", "tok_s_per_mw", "tok_s_per_mw_low",
                                                  "tok_s_per_mw_high", "power_per_device_w", "deployment",
                                                  "calibration", "note")


def nothing_fits(points: pl.DataFrame) -> dict[str, str]:
    """Hardware (as asked) on which no point runs -> why (the status of its largest deployment at its
    smallest concurrency: for a model that does not fit, how much memory it lacks)."""
    return {str(hw): _why(grp) for (hw,), grp in points.group_by(["hardware"], maintain_order=True)
            if not grp.get_column("on_frontier").any()}


def _why(grp: pl.DataFrame) -> str:
    """Why none of ``grp``'s points runs: the status of the largest deployment that does not fit
    (at its smallest concurrency), else the first status."""
    st = grp.sort(pl.col("status").str.starts_with("does_not_fit").not_(), "num_devices", "concurrency",
                  descending=[False, True, False]).get_column("status")
    return str(st[0]) if st.len() else "no deployment within the budget"
