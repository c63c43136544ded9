"""Software factors of today's serving stacks, fitted on closed-loop serving rows.

The shipped calibration (:mod:`genz.calibrate.physfit`) learned its stacks on 2024 builds (vLLM
0.4-0.6, TensorRT-LLM 0.13). The generations declared in ``genz/data/frameworks.yaml`` (``vllm-0.13``,
``trtllm-1``, ``atom``, ``dynamo``, ...) start from those factors (the calibration label says so).
This module fits a generation's own software factors on closed-loop rows (``concurrency``;
``calibration/serving_benchmarks/``), physics-faithfully: the chips keep their hardware factors from
the shipped profiles, only the stack's factors move, and every row of a stack shares them across
platforms (a stack's kernels and overheads are the same software on every chip).

Fit: for each stack, the factors :data:`FIT` minimize the soft-L1 loss of
``ln(predicted/measured)/0.15`` over its rows (TTFT, TPOT and per-GPU throughput; e2e is their sum,
not a separate fact) plus a Gaussian prior ``ln(f/f₀)/0.5`` pulling the kernel multipliers towards their starting
value (the 2024 stack it falls back to); the CPU-side overheads are free, all within
:data:`genz.perf.efficiency.FIT_BOUNDS`.

Validation (:func:`cross_validate`): ``hardware`` holds out one platform (fit on the others' rows,
predict its rows); ``stack`` holds out one stack (predict its rows with the factors pooled over the
other new stacks, fitted together: what a user of a stack never measured would get).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl
from scipy.optimize import least_squares

from ..catalog.hardware import get_hardware
from ..catalog.units import MS
from ..catalog.zoo import get_model
from ..perf.concurrency import closed_loop
from ..perf.efficiency import DEFAULT, FIT_BOUNDS, Efficiency, StackFactors, compose
from ..perf.predict import engine_inputs
from ..perf.profiles import ProfileSet, round_sig
from ..perf.scenarios import normalize

#: software factors fitted per stack
FIT = ("sw_compute", "sw_memory", "launch_overhead_s", "step_overhead_s", "seq_overhead_s", "request_overhead_s")
#: scatter of one measured row (log space), as the joint fit uses
ROW_SIGMA = 0.15
#: prior width (log space) of the kernel multipliers around their starting value (a stack's kernels
#: are anchored by the chips' kernel timings: within a factor ~1.6); the overheads are free within
#: their bounds (CPU-side costs the 2024 rows did not identify, such as the per-request cost)
PRIOR_SIGMA = {"sw_compute": 0.5, "sw_memory": 0.5}
#: where an overhead starts when its starting value is below it (a factor near its lower bound has
#: no gradient in log space): typical values of today's servers, seconds
OVERHEAD_FLOOR = {"launch_overhead_s": 1e-6, "step_overhead_s": 2e-4, "seq_overhead_s": 1e-5,
                  "request_overhead_s": 5e-3}
#: metrics that enter the fit
FIT_METRICS = ("ttft_ms", "tpot_ms", "throughput_tok_s", "throughput_tok_s_per_device")
#: pooled factors of the stacks fitted together (for a held-out stack)
POOLED = "pooled"


@dataclass
class ServingRows:
    """Measured closed-loop rows with their engine inputs built once (one model group each)."""

    groups: list[tuple]  # (spec, inputs, row positions, framework keys)
    metric: np.ndarray
    measured: np.ndarray
    stack: np.ndarray  # stack key per row
    hardware: np.ndarray  # hardware id per row
    hw_factors: dict[str, dict]  # hardware id -> its fitted hardware factors
    start: dict[str, StackFactors]  # stack -> starting factors (what the profiles give it)
    frame: pl.DataFrame  # the rows as read (same order as the arrays), for reporting


def prepare(meas: pl.DataFrame, profiles: ProfileSet) -> ServingRows:
    """Normalize the closed-loop rows of ``meas`` (long format: ``metric``, ``value``) and build their
    inputs. Rows that are not closed-loop, not ok, or not a fitted metric are dropped."""
    norm = normalize(meas)
    norm = norm.filter((pl.col("status") == "ok") & pl.col("_concurrency").is_not_null()
                       & pl.col("_metric").is_in(list(FIT_METRICS)))
    groups, pos = [], 0
    hw_ids, stacks, metric, measured, frames = [], [], [], [], []
    for model in norm.get_column("_model").unique().sort().to_list():
        rows = norm.filter(pl.col("_model") == model)
        frames.append(rows.select(meas.columns))
        spec = get_model(model)
        hws = [get_hardware(h) for h in rows.get_column("_hardware").unique().sort().to_list()]
        idx = {h.id: i for i, h in enumerate(hws)}
        ids = [get_hardware(h).id for h in rows.get_column("_hardware").to_list()]
        inp, _, _ = engine_inputs(rows, hws, np.array([idx[i] for i in ids]), profiles)
        fw = rows.get_column("_framework_key").to_numpy()
        groups.append((spec, inp, np.arange(pos, pos + rows.height), fw))
        pos += rows.height
        hw_ids += ids
        stacks += fw.tolist()
        metric += rows.get_column("_metric").to_list()
        measured += rows.get_column("value").cast(pl.Float64).to_list()
    hw_factors = {h: dict(profiles.hardware[h.lower()].factors) if h.lower() in profiles.hardware else {}
                  for h in set(hw_ids)}
    start = {s: profiles.stack_for(s)[0].factors for s in set(stacks)}
    return ServingRows(groups=groups, metric=np.array(metric), measured=np.array(measured),
                       stack=np.array(stacks, dtype=object), hardware=np.array(hw_ids, dtype=object),
                       hw_factors=hw_factors, start=start,
                       frame=pl.concat(frames, how="vertical") if frames else meas.clear())


def _effs(rows: ServingRows, pos: np.ndarray, factors: dict[str, StackFactors]) -> dict[str, np.ndarray]:
    """Engine efficiencies of rows ``pos``: their chip's hardware factors composed with their stack's."""
    names = Efficiency.names()
    out = {k: np.empty(len(pos)) for k in names}
    pairs: dict[tuple[str, str], Efficiency] = {}
    for j, p in enumerate(pos):
        key = (rows.hardware[p], rows.stack[p])
        if key not in pairs:
            pairs[key] = compose(rows.hw_factors.get(key[0]) or DEFAULT, factors[key[1]])
        e = pairs[key]
        for k in names:
            out[k][j] = getattr(e, k)
    return out


def predict(rows: ServingRows, factors: dict[str, StackFactors], mask: np.ndarray | None = None) -> np.ndarray:
    """Predicted value of every row (NaN outside ``mask``) with these stack factors."""
    pred = np.full(len(rows.metric), np.nan)
    for spec, inp, pos, fw in rows.groups:
        sel = np.arange(len(pos)) if mask is None else np.nonzero(mask[pos])[0]
        if sel.size == 0:
            continue
        sub = inp.take(sel)
        sub.eff = _effs(rows, pos[sel], factors)
        cl = closed_loop(spec, sub, fw[sel])
        m = rows.metric[pos[sel]]
        val = np.select([m == "ttft_ms", m == "tpot_ms", m == "throughput_tok_s"],
                        [cl.ttft_s / MS, cl.tpot_s / MS, cl.throughput_tok_s],
                        cl.throughput_tok_s / sub.devices)
        pred[pos[sel]] = val
    return pred


def _vector(f: StackFactors) -> np.ndarray:
    return np.log([getattr(f, k) for k in FIT])


def _factors(base: StackFactors, x: np.ndarray) -> StackFactors:
    return replace(base, **{k: float(np.exp(v)) for k, v in zip(FIT, x)})


def fit_stack(rows: ServingRows, mask: np.ndarray, stacks: list[str], start: StackFactors,
              others: dict[str, StackFactors] | None = None) -> StackFactors:
    """One set of software factors shared by ``stacks``, fitted on rows ``mask`` of those stacks."""
    sel = mask & np.isin(rows.stack, stacks)
    lo = np.log([max(FIT_BOUNDS[k][0], 1e-12) for k in FIT])
    hi = np.log([FIT_BOUNDS[k][1] for k in FIT])
    start = replace(start, **{k: max(getattr(start, k), v) for k, v in OVERHEAD_FLOOR.items()})
    x0 = np.clip(_vector(start), lo + 1e-9, hi - 1e-9)
    fixed = dict(others or {})
    pri = np.array([k in PRIOR_SIGMA for k in FIT])
    sig = np.array([PRIOR_SIGMA.get(k, 1.0) for k in FIT])

    def residuals(x: np.ndarray) -> np.ndarray:
        f = _factors(start, x)
        table = {**fixed, **dict.fromkeys(stacks, f)}
        pred = predict(rows, table, sel)[sel]
        r = np.log(np.maximum(pred, 1e-30) / rows.measured[sel]) / ROW_SIGMA
        return np.concatenate([np.where(np.isfinite(r), r, 50.0), ((x - x0) / sig)[pri]])

    res = least_squares(residuals, x0, bounds=(lo, hi), loss="soft_l1", x_scale=1.0, max_nfev=40,
                        diff_step=1e-3)
    return _factors(start, res.x)


def fit_all(rows: ServingRows, mask: np.ndarray, pooled: bool = True) -> dict[str, StackFactors]:
    """Every stack with rows in ``mask`` fitted on them, plus :data:`POOLED` (all of them together;
    only for the cross-validation by stack, ``pooled``)."""
    out: dict[str, StackFactors] = {}
    present = sorted(set(rows.stack[mask].tolist()))
    for s in present:
        out[s] = fit_stack(rows, mask, [s], rows.start[s])
    if not pooled:
        return out
    pooled_start = _factors(DEFAULT_START, np.mean([_vector(out[s]) for s in present], axis=0))
    out[POOLED] = fit_stack(rows, mask, present, pooled_start) if present else DEFAULT_START
    return out


DEFAULT_START = StackFactors()


def cross_validate(rows: ServingRows, scheme: str) -> np.ndarray:
    """Held-out predictions of every row under ``scheme`` (``hardware`` or ``stack``, module docstring)."""
    key = rows.hardware if scheme == "hardware" else rows.stack
    pred = np.full(len(rows.metric), np.nan)
    for held in sorted(set(key.tolist())):
        test = key == held
        fit = fit_all(rows, ~test)
        table = {s: (fit[s] if (scheme == "hardware" and s in fit) else fit[POOLED]) for s in set(rows.stack.tolist())}
        pred[test] = predict(rows, table, test)[test]
    return pred


def stack_entries(fit: dict[str, StackFactors], rows: ServingRows) -> list[dict]:
    """Profile-file stack entries (``genz/data/calibration/profiles.json`` ``stacks``) of fitted stacks."""
    out = []
    for s, f in sorted(fit.items()):
        if s == POOLED:
            continue
        n = int((rows.stack == s).sum())
        out.append({"stack": s, "factors": {k: round_sig(float(v)) for k, v in f.as_dict().items()},
                    "label": f"measured ({n} serving rows, stackfit)",
                    "n_rows": n, "base": "", "public": True, "identified": list(FIT)})
    return out


def generation_entries(pset: ProfileSet, shared_hardware: list | None, paths, cache: str | None = None) -> list:
    """The stack-generation entries (JSON, :func:`stack_entries`) fitted on the closed-loop serving rows
    of ``paths`` (CSVs in the measurement format with a ``concurrency`` column, e.g.
    ``calibration/serving_benchmarks/``); apply them with :func:`with_entries`. Runs in a worker of
    the calibration's pool.

    Software factors only (physics first): the chips keep the hardware factors of ``shared_hardware``
    (the shared stage's entries, :mod:`genz.calibrate.baseline`) or else ``pset``'s; like every
    software factor, the generations are fitted with the shared stage's chips, so a new measurement
    file does not move them. Each stack's factors are stored at the profiles' precision
    (:func:`genz.perf.profiles.round_sig`), labelled ``measured (n serving rows, stackfit)``.

    ``cache``: a JSON file holding the last fit by the content of what it depends on (the serving
    files, the hardware and stack factors it starts from, the code): the same inputs read it back."""
    from ..catalog.files import atomic_write_text, code_fingerprint, read_table
    from ..perf.profiles import HardwareEntry

    base = pset if not shared_hardware else ProfileSet(
        [], source=pset.source, hardware=[HardwareEntry.from_json(e) for e in shared_hardware],
        stacks=list(pset.stacks.values()), version=pset.version)
    files = sorted(str(p) for p in paths)
    if not files:
        return []
    h = hashlib.sha256()
    for f in files:
        h.update(Path(f).read_bytes())
    h.update(json.dumps({k: e.factors for k, e in sorted(base.hardware.items())}, sort_keys=True).encode())
    h.update(json.dumps({k: e.factors.as_dict() for k, e in sorted(base.stacks.items())}, sort_keys=True).encode())
    h.update(code_fingerprint().encode())
    key = h.hexdigest()[:24]
    if cache is not None and Path(cache).is_file():
        try:
            hit = json.loads(Path(cache).read_text(encoding="utf-8"))
            if hit.get("key") == key:
                return list(hit["entries"])
        except (OSError, ValueError, KeyError):
            pass
    meas = pl.concat([read_table(f) for f in files], how="diagonal_relaxed")
    rows = prepare(meas.select(pl.all().cast(pl.String)), base)
    entries = stack_entries(fit_all(rows, np.ones(len(rows.metric), dtype=bool), pooled=False), rows) \
        if len(rows.metric) else []
    if cache is not None:
        atomic_write_text(cache, json.dumps({"key": key, "entries": entries}, sort_keys=True, default=float))
    return entries


def with_entries(pset: ProfileSet, entries: list) -> ProfileSet:
    """``pset`` with these stack entries (JSON, :func:`stack_entries`) in place of its own entries for them."""
    from ..perf.profiles import StackEntry

    stacks = {**pset.stacks, **{e.stack: e for e in (StackEntry.from_json(dict(x)) for x in entries)}}
    return ProfileSet(list(pset.profiles), source=pset.source, hardware=list(pset.hardware.values()),
                      stacks=list(stacks.values()), version=pset.version)


def add_stacks(pset: ProfileSet, fit: dict[str, StackFactors], rows: ServingRows) -> ProfileSet:
    """``pset`` with the fitted stacks of ``fit`` (:func:`fit_all`) in place of its own entries for
    them, their factors stored at the profiles' precision (:func:`genz.perf.profiles.round_sig`)."""
    return with_entries(pset, stack_entries(fit, rows))
