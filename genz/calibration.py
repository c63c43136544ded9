"""Calibration: fit efficiency profiles to measured latencies, validate them honestly.

Fit
    For every platform × framework with enough measured rows, the efficiency factors of
    :class:`genz.efficiency.Efficiency` are fitted by robust least squares on
    ``log(predicted / measured)`` (soft-L1 loss, so a 2× outlier does not drag the fit), with a
    Gaussian prior in log space that pulls each factor towards the level above it in the
    hierarchy (global → framework / platform → platform × framework). Factors stay inside
    their physical bounds (:data:`genz.efficiency.BOUNDS`).

Validation
    k-fold cross-validation grouped by model: a model's rows are never in both the fit and the
    check, so the reported error is the error on a model the fit has not seen. The out-of-fold
    residuals give the uncertainty bands (10th-90th percentile of measured/predicted, per
    platform × metric where there are enough rows) and their coverage.

Everything is deterministic: sorted inputs, no random numbers, no clock in the output.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl
from scipy.optimize import least_squares, lsq_linear

from . import engine, serving
from .efficiency import BOUNDS, DEFAULT, Efficiency
from .errors import GenzError
from .hardware import get_hardware
from .predict import build_inputs
from .profiles import Profile, ProfileSet
from .scenarios import normalize
from .zoo import get_model

#: factors fitted from end-to-end measurements, with the prior width (log-space σ) around the parent
FIT_SIGMA: dict[str, float] = {
    "compute": 0.35,
    "attention": 0.6,
    "memory": 0.25,
    "network": 0.7,
    "step_overhead_s": 1.5,
    "seq_overhead_s": 1.5,
    "kernel_overhead_s": 0.8,
    "comm_overhead_s": 1.5,
    "request_overhead_s": 3.0,
}
#: smallest positive value of factors that may be ~0 (log parameterization needs a floor)
FLOOR = {"step_overhead_s": 1e-5, "seq_overhead_s": 1e-7, "kernel_overhead_s": 1e-7, "comm_overhead_s": 1e-7,
         "request_overhead_s": 1e-6}
MIN_ROWS = 12  # fewest rows for a platform × framework profile of its own
BAND_MIN_ROWS = 20  # fewest out-of-fold residuals for a band of its own
BAND_Q = (0.10, 0.90)  # 80 % central band


# ----------------------------------------------------------------------------------------------
# prepared measurements: engine inputs built once, efficiencies swapped per evaluation
# ----------------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """Measured rows with the engine inputs pre-built per model."""

    frame: pl.DataFrame  # normalized measurement rows that can be predicted
    value: np.ndarray
    metric: np.ndarray
    platform: np.ndarray
    framework: np.ndarray
    model: np.ndarray
    groups: list  # (spec, Inputs, row indices, framework keys)

    def __len__(self) -> int:
        return len(self.value)

    def tile(self, k: int) -> Prepared:
        """The rows repeated ``k`` times (block j = rows j·n .. (j+1)·n - 1): evaluates k parameter
        vectors in one vectorized engine pass."""
        n = len(self)
        groups = []
        for spec, inp, idx, fw in self.groups:
            groups.append((spec, inp.take(np.tile(np.arange(len(inp)), k)),
                           np.concatenate([idx + j * n for j in range(k)]), fw * k))
        return Prepared(frame=self.frame, value=np.tile(self.value, k), metric=np.tile(self.metric, k),
                        platform=np.tile(self.platform, k), framework=np.tile(self.framework, k),
                        model=np.tile(self.model, k), groups=groups)

    def subset(self, mask: np.ndarray) -> Prepared:
        """Rows where ``mask`` is true (engine inputs sliced once)."""
        pos = np.cumsum(mask) - 1
        groups = []
        for spec, inp, idx, fw in self.groups:
            keep = mask[idx]
            if keep.any():
                groups.append((spec, inp.take(np.nonzero(keep)[0]), pos[idx[keep]],
                               [f for f, k in zip(fw, keep) if k]))
        return Prepared(frame=self.frame.filter(pl.Series(mask)), value=self.value[mask], metric=self.metric[mask],
                        platform=self.platform[mask], framework=self.framework[mask], model=self.model[mask],
                        groups=groups)


def prepare(measurements: pl.DataFrame) -> Prepared:
    """Normalize measured rows and pre-build engine inputs; rows that cannot be predicted are dropped."""
    norm = normalize(measurements)
    ok = (norm.get_column("status") == "ok").to_numpy()
    specs: dict[str, object] = {}
    hws: dict[str, object] = {}
    for i, (m, h) in enumerate(zip(norm.get_column("_model").to_list(), norm.get_column("_hardware").to_list())):
        if not ok[i]:
            continue
        try:
            specs.setdefault(m, get_model(m))
            hws.setdefault(h, get_hardware(h))
        except GenzError:
            ok[i] = False
    norm = norm.filter(pl.Series(ok))
    norm = norm.with_columns(
        _model_id=pl.col("_model").replace_strict({k: v.id for k, v in specs.items()}, default=None),
        _hw_id=pl.col("_hardware").replace_strict({k: v.id for k, v in hws.items()}, default=None),
    )
    order = np.lexsort((np.arange(norm.height), norm.get_column("_model_id").to_numpy()))
    norm = norm[order]
    hw_ids = sorted({h.id for h in hws.values()})
    hw_list = [get_hardware(h) for h in hw_ids]
    hw_pos = {h: i for i, h in enumerate(hw_ids)}
    groups = []
    model_col = norm.get_column("_model_id").to_numpy()
    for mid in sorted(set(model_col.tolist())):
        idx = np.nonzero(model_col == mid)[0]
        rows = norm[idx]
        fw = rows.get_column("_framework_key").to_list()
        hidx = np.array([hw_pos[h] for h in rows.get_column("_hw_id").to_list()], dtype=int)
        effs = {k: np.full(len(idx), v) for k, v in DEFAULT.as_dict().items()}
        inp = build_inputs(rows, hw_list, hidx, effs)
        groups.append((get_model(mid), inp, idx, fw))
    return Prepared(
        frame=norm, value=norm.get_column("value").cast(pl.Float64).to_numpy(),
        metric=norm.get_column("_metric").to_numpy().astype(str), platform=norm.get_column("_hw_id").to_numpy(),
        framework=norm.get_column("_framework_key").to_numpy(), model=model_col, groups=groups,
    )


def evaluate(prep: Prepared, effs: dict[str, np.ndarray]) -> np.ndarray:
    """Predicted value of every prepared row given per-row efficiency arrays."""
    out = np.full(len(prep), np.nan)
    for spec, inp, idx, fw in prep.groups:
        inp.eff = {k: v[idx] for k, v in effs.items()}
        met = prep.metric[idx]
        mt = met == "max_throughput_tok_s"
        fixed = ~mt
        if fixed.any():
            sub = inp if fixed.all() else inp.take(np.nonzero(fixed)[0])
            est = engine.estimate(spec, sub)
            m = met[fixed]
            val = np.select(
                [m == "ttft_ms", m == "tpot_ms", m == "e2e_latency_ms", m == "throughput_tok_s",
                 m == "throughput_tok_s_per_device"],
                [est.ttft_s * 1e3, est.tpot_s * 1e3, est.e2e_s * 1e3, est.throughput_tok_s,
                 est.throughput_tok_s_per_device], default=np.nan)
            out[idx[fixed]] = val
        if mt.any():
            sub = inp if mt.all() else inp.take(np.nonzero(mt)[0])
            r = serving.max_throughput(spec, sub, [f for f, k in zip(fw, mt) if k])
            out[idx[mt]] = r["throughput"]
    return out


def _log_err(pred: np.ndarray, meas: np.ndarray) -> np.ndarray:
    """log(predicted/measured), sign-adjusted so that 'too slow' is positive for every metric."""
    return np.log(pred / meas)


# ----------------------------------------------------------------------------------------------
# fitting
# ----------------------------------------------------------------------------------------------


def _pack(e: Efficiency, names) -> np.ndarray:
    d = e.as_dict()
    return np.array([math.log(max(d[n], FLOOR.get(n, 1e-12))) for n in names])


def _unpack(x: np.ndarray, base: Efficiency, names) -> Efficiency:
    return replace(base, **{n: float(math.exp(v)) for n, v in zip(names, x)})


#: additive overheads: with the efficiencies fixed, predicted time is linear in these
OVERHEADS = ("step_overhead_s", "seq_overhead_s", "kernel_overhead_s", "comm_overhead_s", "request_overhead_s")
_THROUGHPUT = ("throughput_tok_s", "throughput_tok_s_per_device", "max_throughput_tok_s")


def _as_time(values: np.ndarray, metric: np.ndarray) -> np.ndarray:
    """Time-like view of a metric (throughputs inverted), in which overheads add linearly."""
    return np.where(np.isin(metric, _THROUGHPUT), 1.0 / values, values)


def _solve_overheads(prep: Prepared, eff: Efficiency) -> Efficiency:
    """Least-squares overheads (relative error, non-negative, bounded) for fixed efficiencies.

    Predicted time is ``t0 + Σ_j f_j·o_j``: ``t0`` with all overheads zero, ``f_j`` the time one
    unit of overhead ``j`` adds to each row. Solving this linear problem gives a starting point
    from which the joint non-linear fit cannot get stuck at an overhead whose effect is invisible.
    """
    n = len(prep)
    base = {k: np.full(n, v) for k, v in eff.as_dict().items()}
    for k in OVERHEADS:
        base[k] = np.zeros(n)
    t0 = _as_time(evaluate(prep, base), prep.metric)
    cols = []
    units = {"step_overhead_s": 1e-3, "seq_overhead_s": 1e-4, "kernel_overhead_s": 1e-5, "comm_overhead_s": 1e-4,
             "request_overhead_s": 1.0}
    for k in OVERHEADS:
        e = dict(base)
        e[k] = np.full(n, units[k])
        cols.append((_as_time(evaluate(prep, e), prep.metric) - t0) / units[k])
    y = _as_time(prep.value, prep.metric)
    A = np.stack(cols, axis=1) / y[:, None]
    b = (y - t0) / y
    good = np.all(np.isfinite(A), axis=1) & np.isfinite(b)
    hi = np.array([BOUNDS[k][1] for k in OVERHEADS])
    if good.sum() < 3:
        return eff
    # robust: fit, drop the worst 10 % residuals, refit
    sol = lsq_linear(A[good], b[good], bounds=(0.0, hi))
    r = np.abs(A[good] @ sol.x - b[good])
    keep = r <= np.quantile(r, 0.9)
    sol = lsq_linear(A[good][keep], b[good][keep], bounds=(0.0, hi))
    return replace(eff, **{k: float(max(v, FLOOR.get(k, 0.0))) for k, v in zip(OVERHEADS, sol.x)})


def fit_efficiency(prep: Prepared, prior: Efficiency, names=tuple(FIT_SIGMA), max_nfev: int = 60,
                   rounds: int = 2, sigma: dict[str, float] | None = None) -> tuple[Efficiency, dict]:
    """Fit efficiency factors to the prepared rows (MAP: soft-L1 data term + log-normal prior).

    Each round first solves the additive overheads linearly for the current efficiencies, then
    refines every factor jointly by robust non-linear least squares in log space.
    """
    names = tuple(names)
    lo = np.array([math.log(max(BOUNDS[n][0], FLOOR.get(n, 1e-12))) for n in names])
    hi = np.array([math.log(BOUNDS[n][1]) for n in names])
    mu = np.clip(_pack(prior, names), lo + 1e-9, hi - 1e-9)
    sig = np.array([(sigma or {}).get(n, FIT_SIGMA[n]) for n in names])
    n = len(prep)

    def effs_for(x):
        e = _unpack(x, prior, names).as_dict()
        return {k: np.full(n, v) for k, v in e.items()}

    def resid(x):
        pred = evaluate(prep, effs_for(x))
        r = _log_err(pred, prep.value)
        r = np.where(np.isfinite(r), r, 3.0)
        return np.concatenate([r, (x - mu) / sig])

    # forward-difference Jacobian with all perturbed parameter vectors in one tiled evaluation
    p = len(names)
    tiled = prep.tile(p + 1)
    h = 1e-2
    base_eff = prior.as_dict()

    def jac(x):
        X = np.vstack([x] + [x + h * np.eye(p)[i] for i in range(p)])
        effs = {k: np.full(n * (p + 1), v) for k, v in base_eff.items()}
        for j, name in enumerate(names):
            effs[name] = np.repeat(np.exp(X[:, j]), n)
        pred = evaluate(tiled, effs).reshape(p + 1, n)
        r = _log_err(pred, prep.value[None, :])
        ok = np.all(np.isfinite(r), axis=0)
        J = np.where(ok[None, :], (r[1:] - r[0]) / h, 0.0).T
        return np.vstack([J, np.diag(1.0 / sig)])

    cur = prior
    nfev = 0
    for _ in range(rounds):
        cur = _solve_overheads(prep, cur)
        x0 = np.clip(_pack(cur, names), lo + 1e-9, hi - 1e-9)
        res = least_squares(resid, x0, jac=jac, bounds=(lo, hi), loss="soft_l1", f_scale=0.15,
                            max_nfev=max_nfev, x_scale=1.0)
        cur = _unpack(res.x, prior, names)
        nfev += int(res.nfev)
    r = resid(_pack(cur, names))[:n]
    info = {"n_rows": n, "geomean_abs_err": float(np.exp(np.mean(np.log(np.abs(np.expm1(r)) + 1e-12)))),
            "median_log_err": float(np.median(r)), "nfev": nfev}
    return cur, info


@dataclass(frozen=True)
class FitResult:
    profiles: ProfileSet
    diagnostics: list[dict]


#: prior width of hardware-side factors that kernel timings pinned for the platform's family
OP_SIGMA = {"compute": 0.15, "memory": 0.12, "network": 0.10}
#: factors that kernel timings determine (the rest are overheads of the serving software)
OP_FACTORS = ("compute", "memory", "network", "gemm_m_half")


def platform_prior(hw_id: str, op_priors: dict[str, dict[str, float]] | None) -> tuple[Efficiency, dict | None]:
    """Prior of a platform's fit: the defaults, with its family's kernel-timing factors if known."""
    fam = get_hardware(hw_id).family
    op = (op_priors or {}).get(fam)
    if not op:
        return DEFAULT, None
    return DEFAULT.updated(**{k: v for k, v in op.items() if k in OP_FACTORS}), OP_SIGMA


def fallback_profile(hw_id: str, measured: list[Profile], op_priors: dict[str, dict[str, float]] | None,
                     version: str) -> Profile:
    """The profile of a platform without measurements (marked uncalibrated).

    If platforms of the same architecture family were measured (MI325X <- MI300X, H200 <- H100),
    it takes their fitted factors (geometric mean): same chip generation, same software stacks.
    Otherwise the hardware-side factors come from the family's kernel timings (or the defaults) and
    the serving-software overheads are the median over every measured platform.
    """
    hw = get_hardware(hw_id)
    generic = [p for p in measured if p.framework == "generic" and p.calibrated]
    fam = [p for p in generic if _family_of(p.platform) == hw.family]
    names = Efficiency.names()
    if fam:
        vals = {n: float(np.exp(np.mean([np.log(max(getattr(p.efficiency, n), 1e-12)) for p in fam]))) for n in names}
        note = "family " + "+".join(sorted(p.platform for p in fam))
        return Profile(platform=hw.id, framework="generic", efficiency=Efficiency(**vals), version=version,
                       calibrated=False, n_rows=0, ranges={"note": note})
    base, _ = platform_prior(hw.id, op_priors)
    soft = {}
    if generic:
        for n in ("step_overhead_s", "seq_overhead_s", "kernel_overhead_s", "comm_overhead_s", "request_overhead_s"):
            soft[n] = float(np.median([getattr(p.efficiency, n) for p in generic]))
    note = f"median overheads of {len(generic)} measured platforms" if generic else "defaults"
    return Profile(platform=hw.id, framework="generic", efficiency=base.updated(**soft), version=version,
                   calibrated=False, n_rows=0, ranges={"note": note})


def _family_of(platform: str) -> str:
    try:
        return get_hardware(platform).family
    except GenzError:
        return ""


def fit_platform(prep: Prepared, platform: str, version: str,
                 op_priors: dict[str, dict[str, float]] | None = None) -> tuple[list[Profile], list[dict]]:
    """Profiles of one platform: ``platform/generic`` from all its rows, then one per framework.

    A platform's profiles depend only on its own measurements and on its family's kernel timings,
    so adding measurements for one platform refits that platform alone.
    """
    profiles: list[Profile] = []
    diags: list[dict] = []
    m = prep.platform == platform
    if m.sum() < MIN_ROWS:
        return profiles, diags

    def ranges(mask):
        f = prep.frame.filter(pl.Series(mask))
        b = f.get_column("_batch_size").drop_nulls()
        return {"batch_max": int(b.max()) if b.len() else None,
                "input_max": int(f.get_column("_input_tokens").max()),
                "output_max": int(f.get_column("_output_tokens").max())}

    def add(framework, mask, prior, sigma=None):
        eff, info = fit_efficiency(prep.subset(mask), prior, sigma=sigma)
        profiles.append(Profile(platform=platform, framework=framework, efficiency=eff, version=version,
                                calibrated=True, n_rows=int(mask.sum()), ranges=ranges(mask)))
        diags.append({"platform": platform, "framework": framework, **info})
        return eff

    prior, sigma = platform_prior(platform, op_priors)
    # the platform's generic profile describes serving stacks; rows of plain libraries (HF eager)
    # get a profile of their own but do not shape it, unless they are all there is
    from .serving import frameworks

    fw_info = frameworks()
    serving = np.array([fw_info.get(f, {}).get("serving_stack", True) is not False for f in prep.framework])
    mg = m & serving if (m & serving).sum() >= MIN_ROWS else m
    plat = add("generic", mg, prior, sigma)
    fws = sorted(set(prep.framework[m].tolist()) - {"generic"})
    for fw in fws:
        mf = m & (prep.framework == fw)
        if mf.sum() < MIN_ROWS:
            continue
        if mf.sum() == mg.sum() and mf.sum() == m.sum():
            # the platform's only framework: its profile is the platform fit itself
            profiles.append(replace(profiles[0], framework=fw))
        else:
            add(fw, mf, plat)
    return profiles, diags


def fit_profiles(prep: Prepared, version: str = "unversioned",
                 op_priors: dict[str, dict[str, float]] | None = None) -> FitResult:
    """Profiles of every measured platform, plus family-prior profiles for unmeasured ones."""
    profiles: list[Profile] = []
    diags: list[dict] = []
    for hw in sorted(set(prep.platform.tolist())):
        p, d = fit_platform(prep, hw, version, op_priors)
        profiles += p
        diags += d
    measured = {p.platform for p in profiles}
    from .hardware import hardware_ids

    profiles += [fallback_profile(h, profiles, op_priors, version) for h in hardware_ids() if h not in measured]
    return FitResult(ProfileSet(profiles, source="fit"), diags)


# ----------------------------------------------------------------------------------------------
# prediction with a profile set (same lookup chain as genz.predict), cross-validation, bands
# ----------------------------------------------------------------------------------------------


def predict_prepared(prep: Prepared, profiles: ProfileSet) -> tuple[np.ndarray, np.ndarray]:
    """Predictions for prepared rows using the profile lookup chain; also each row's profile id."""
    effs, labels, idx = profiles.lookup_rows(list(prep.platform), list(prep.platform), list(prep.framework))
    return evaluate(prep, effs), np.array([profiles._all[i].id for i in idx], dtype=object)


def model_folds(models: np.ndarray, k: int) -> np.ndarray:
    """Fold id per row: models sorted by row count, dealt round-robin (deterministic, balanced)."""
    uniq, counts = np.unique(models, return_counts=True)
    order = sorted(zip(-counts, uniq))
    fold_of = {m: i % k for i, (_, m) in enumerate(order)}
    return np.array([fold_of[m] for m in models])


@contextlib.contextmanager
def _main_not_reimported():
    """Keep spawned workers from re-running the caller's main script (a Snakemake script, the CLI).

    The workers only need :func:`_cv_fold`, which they import from this module; hiding the main
    module's file/spec while the pool runs stops multiprocessing from re-executing it.
    """
    main = sys.modules.get("__main__")
    saved = {k: getattr(main, k) for k in ("__file__", "__spec__") if main is not None and hasattr(main, k)}
    try:
        for k in saved:
            if k == "__file__":
                delattr(main, k)
            else:
                setattr(main, k, None)
        yield
    finally:
        for k, v in saved.items():
            setattr(main, k, v)


def _cv_fold(args):
    prep, train, test, op_priors = args
    fit = fit_profiles(prep.subset(train), version="cv", op_priors=op_priors)
    pred, used = predict_prepared(prep.subset(test), fit.profiles)
    return test, pred, used


def cross_validate(prep: Prepared, k: int = 5, workers: int = 2,
                   op_priors: dict[str, dict[str, float]] | None = None) -> pl.DataFrame:
    """Out-of-fold predictions for every row (folds grouped by model)."""
    folds = model_folds(prep.model, k)
    jobs = [(prep, folds != f, folds == f, op_priors) for f in range(k)]
    pred = np.full(len(prep), np.nan)
    used = np.empty(len(prep), dtype=object)
    if workers > 1:
        # spawn, not fork: polars' thread pool does not survive a fork
        with _main_not_reimported(), ProcessPoolExecutor(
                max_workers=min(workers, k), mp_context=multiprocessing.get_context("spawn")) as ex:
            results = list(ex.map(_cv_fold, jobs))
    else:
        results = [_cv_fold(j) for j in jobs]
    for test, p, u in results:
        pred[test] = p
        used[test] = u
    f = prep.frame
    keep = [c for c in ("source", "framework", "model", "hardware", "num_devices", "tp", "pp", "ep", "weight_dtype",
                        "act_dtype", "kv_dtype", "batch_size", "input_tokens", "output_tokens", "metric", "value",
                        "unit") if c in f.columns]
    out = f.select(keep).with_columns(
        value=pl.col("value").cast(pl.Float64),
        platform=pl.Series(prep.platform.tolist(), dtype=pl.String),
        framework_key=pl.Series(prep.framework.tolist(), dtype=pl.String),
        model_id=pl.Series(prep.model.tolist(), dtype=pl.String),
        fold=pl.Series(folds, dtype=pl.Int32),
        predicted_oof=pl.Series(pred, dtype=pl.Float64),
        profile_oof=pl.Series(used.tolist(), dtype=pl.String),
    )
    return out.with_columns(
        log_ratio=(pl.col("value") / pl.col("predicted_oof")).log(),
        rel_err=((pl.col("predicted_oof") - pl.col("value")).abs() / pl.col("value")),
    )


def band_table(val: pl.DataFrame) -> dict:
    """Band quantiles of log(measured/predicted): per platform × metric, per metric, overall."""
    v = val.filter(pl.col("log_ratio").is_finite())
    out: dict = {"overall": _q(v.get_column("log_ratio").to_numpy())}
    for (m,), g in v.group_by(["metric"], maintain_order=True):
        out[f"metric:{m}"] = _q(g.get_column("log_ratio").to_numpy())
    for (p, m), g in v.group_by(["platform", "metric"], maintain_order=True):
        if g.height >= BAND_MIN_ROWS:
            out[f"{p}|{m}"] = _q(g.get_column("log_ratio").to_numpy())
    return out


def _q(x: np.ndarray) -> list[float]:
    """[low, median, high] quantiles of log(measured/predicted)."""
    if len(x) == 0:
        return [math.log(0.5), 0.0, math.log(2.0)]
    lo, med, hi = np.quantile(x, (BAND_Q[0], 0.5, BAND_Q[1]))
    return [float(lo), float(med), float(hi)]


def _scaled(q: list[float], scale: float) -> tuple[float, float]:
    """Band edges widened by ``scale`` around the median (log space)."""
    lo, med, hi = q
    return med + (lo - med) * scale, med + (hi - med) * scale


def attach_bands(profiles: ProfileSet, bands: dict, val: pl.DataFrame, scale: float = 1.0) -> ProfileSet:
    """Give every profile its band per metric (multiplicative factors on the prediction).

    ``scale`` widens the out-of-fold quantiles so that held-out coverage matches the nominal 80 %
    (see :func:`fit_band_scale`); profiles without platform evidence get 1.5× wider bands.
    """
    metrics = sorted(set(val.get_column("metric").to_list()))
    out = []
    for p in profiles.profiles:
        b = {}
        for m in metrics:
            key = f"{p.platform}|{m}"
            q = bands.get(key) or bands.get(f"metric:{m}") or bands["overall"]
            widen = 1.0 if (p.calibrated and key in bands) else 1.5
            lo, hi = _scaled(q, scale * widen)
            b[m] = [float(math.exp(min(lo, 0.0))), float(math.exp(max(hi, 0.0)))]
        lo, hi = _scaled(bands["overall"], scale * 1.5)
        b["all"] = [float(math.exp(min(lo, 0.0))), float(math.exp(max(hi, 0.0)))]
        out.append(replace(p, bands=b))
    return ProfileSet(out, source=profiles.source)


def cv_coverage(val: pl.DataFrame, scale: float = 1.0) -> float:
    """Honest band coverage: each fold's rows judged against bands built from the other folds."""
    inside = []
    for f in sorted(set(val.get_column("fold").to_list())):
        train = val.filter(pl.col("fold") != f)
        test = val.filter((pl.col("fold") == f) & pl.col("log_ratio").is_finite())
        b = band_table(train)
        for p, m, r in zip(test.get_column("platform"), test.get_column("metric"), test.get_column("log_ratio")):
            key = f"{p}|{m}"
            q = b.get(key) or b.get(f"metric:{m}") or b["overall"]
            lo, hi = _scaled(q, scale * (1.0 if key in b else 1.5))
            inside.append(lo <= r <= hi)
    return float(np.mean(inside)) if inside else float("nan")


def fit_band_scale(val: pl.DataFrame, target: float = BAND_Q[1] - BAND_Q[0]) -> float:
    """Widening factor of the bands that gives ``target`` coverage on held-out folds (bisection)."""
    lo, hi = 0.5, 6.0
    if cv_coverage(val, hi) < target:
        return hi
    for _ in range(25):
        mid = 0.5 * (lo + hi)
        if cv_coverage(val, mid) < target:
            lo = mid
        else:
            hi = mid
    return hi


# ----------------------------------------------------------------------------------------------
# versioning and the end-to-end calibrate entry point
# ----------------------------------------------------------------------------------------------


def code_fingerprint() -> str:
    """Hash of the genz sources and data files (what a profile's numbers depend on)."""
    root = Path(__file__).parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix in (".py", ".yaml", ".sql") and "__pycache__" not in p.parts \
                and "calibration" not in p.relative_to(root).parts[:2]:
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def load_measurement_files(paths: list[str | Path]) -> pl.DataFrame:
    """Read and validate measurement CSVs (sorted by path), concatenated."""
    from .schemas import read_measurements

    frames = []
    for p in sorted(Path(x) for x in paths):
        df = read_measurements(p)
        frames.append(df.with_columns(pl.lit(p.name).alias("measurement_file")))
    if not frames:
        raise GenzError("calibration: no measurement files given")
    return pl.concat(frames, how="diagonal_relaxed")


def inputs_hash(paths: list[str | Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(Path(x) for x in paths):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


@dataclass
class Calibration:
    profiles: ProfileSet
    validation: pl.DataFrame
    diagnostics: list[dict]
    summary: dict


def _version(paths: list[Path], op_files: list[Path]) -> str:
    return hashlib.sha256((inputs_hash([*paths, *op_files]) + code_fingerprint()).encode()).hexdigest()[:12]


def operator_priors(operators: str | Path | None) -> tuple[dict[str, dict[str, float]], list[Path]]:
    """Family priors from kernel timings under ``operators`` (and the files they came from)."""
    from .opcal import family_priors, fit_operator_priors

    if not operators or not Path(operators).is_dir():
        return {}, []
    return family_priors(fit_operator_priors(operators)), sorted(Path(operators).rglob("*.parquet"))


def calibrate_platform(paths: list[str | Path], platform: str, operators: str | Path | None = None,
                       peers: list[str | Path] | None = None) -> Calibration:
    """Profiles of one platform from its measurement files (the pipeline's per-platform rule).

    With no measured rows the result is the platform's :func:`fallback_profile`, built from the
    profiles of the measured platforms given as ``peers`` (their JSON files), marked uncalibrated.
    """
    from .hardware import get_hardware

    hw = get_hardware(platform)
    op_priors, op_files = operator_priors(operators)
    files = [Path(p) for p in paths]
    version = _version(files, op_files)
    profiles: list[Profile] = []
    diags: list[dict] = []
    if files:
        meas = load_measurement_files(files)
        prep = prepare(meas.drop("measurement_file"))
        other = sorted(set(prep.platform.tolist()) - {hw.id})
        if other:
            raise GenzError(f"{files[0].parent}: measurement files of {hw.id} hold rows of {', '.join(other)}; "
                            "put each platform's rows in its own folder")
        profiles, diags = fit_platform(prep, hw.id, version, op_priors)
    if not profiles:
        measured = [p for f in sorted(Path(x) for x in peers or []) for p in read_profiles_json(f)[0]]
        peer_versions = "".join(sorted({p.version for p in measured}))
        version = hashlib.sha256((version + peer_versions).encode()).hexdigest()[:12]
        profiles = [fallback_profile(hw.id, measured, op_priors, version)]
    summary = {"version": version, "platform": hw.id, "inputs_hash": inputs_hash([*files, *op_files]),
               "code": code_fingerprint()}
    return Calibration(profiles=ProfileSet(profiles, source="fit"), validation=pl.DataFrame(), diagnostics=diags,
                       summary=summary)


def calibrate(paths: list[str | Path], k: int = 5, workers: int = 2, do_cv: bool = True,
              operators: str | Path | None = None) -> Calibration:
    """Fit every platform's profiles from measurement files (and kernel timings under ``operators``),
    cross-validate by model, attach uncertainty bands."""
    meas = load_measurement_files(paths)
    prep = prepare(meas.drop("measurement_file"))
    op_priors, op_files = operator_priors(operators)
    version = _version([Path(p) for p in paths], op_files)
    fit = fit_profiles(prep, version=version, op_priors=op_priors)
    if do_cv:
        val = cross_validate(prep, k=k, workers=workers, op_priors=op_priors)
        bands = band_table(val)
        scale = fit_band_scale(val)
        profiles = attach_bands(fit.profiles, bands, val, scale)
        cov = cv_coverage(val, scale)
    else:
        val = pl.DataFrame()
        bands, cov, profiles, scale = {}, float("nan"), fit.profiles, 1.0
    summary = {"version": version, "inputs_hash": inputs_hash([*paths, *op_files]), "code": code_fingerprint(),
               "operator_priors": op_priors, "rows": len(prep), "coverage_80": cov,
               "band_scale": scale if do_cv else None, "folds": k, "bands": bands}
    return Calibration(profiles=profiles, validation=val, diagnostics=fit.diagnostics, summary=summary)


def write_profiles(cal: Calibration, path: str | Path) -> None:
    """Write profiles JSON atomically (sorted keys: identical inputs give identical bytes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {**cal.summary, "profiles": cal.profiles.to_json(), "fit": cal.diagnostics}
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=True, default=_jsonable) + "\n")
    tmp.replace(path)


def _jsonable(x):
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    raise TypeError(type(x))


def error_table(val: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Geometric-mean relative error (and row count, median ratio) of out-of-fold predictions."""
    v = val.filter(pl.col("rel_err").is_finite())
    return (v.group_by(by).agg(rows=pl.len(),
                               geomean_rel_err=(pl.col("rel_err") + 1e-9).log().mean().exp(),
                               median_meas_over_pred=pl.col("log_ratio").median().exp())
            .sort(by))


def write_frame(df: pl.DataFrame, path: str | Path) -> None:
    """Write a frame as parquet (or CSV by extension), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix == ".csv":
        df.write_csv(tmp)
    else:
        df.write_parquet(tmp)
    tmp.replace(path)


def summary_tables(val: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The cross-validated error tables: overall, per platform, per metric, per framework, per model.

    ``fixed-batch`` covers e2e/TTFT/TPOT rows; ``max-load`` the max_throughput rows.
    """
    v = val.with_columns(regime=pl.when(pl.col("metric") == "max_throughput_tok_s").then(pl.lit("max-load"))
                         .otherwise(pl.lit("fixed-batch")))
    return {
        "regime": error_table(v, ["regime"]),
        "platform": error_table(v, ["regime", "platform"]),
        "metric": error_table(v, ["metric"]),
        "framework": error_table(v, ["regime", "framework_key"]),
        "model": error_table(v, ["model_id"]),
    }


def read_profiles_json(path: str | Path) -> tuple[list[Profile], dict]:
    """Profiles and header of a profiles JSON file."""
    data = json.loads(Path(path).read_text())
    return [Profile.from_json(e, str(path)) for e in data.get("profiles", [])], data


def validate_files(paths: list[str | Path], operators: str | Path | None, out_validation: str | Path,
                   out_bands: str | Path, k: int = 5, workers: int = 2) -> dict:
    """Cross-validate on measurement files; write the out-of-fold table and the band file."""
    meas = load_measurement_files(paths)
    prep = prepare(meas.drop("measurement_file"))
    op_priors, op_files = operator_priors(operators)
    val = cross_validate(prep, k=k, workers=workers, op_priors=op_priors)
    bands = band_table(val)
    scale = fit_band_scale(val)
    info = {"bands": bands, "scale": scale, "coverage_80": cv_coverage(val, scale), "folds": k,
            "metrics": sorted(set(val.get_column("metric").to_list())),
            "inputs_hash": inputs_hash([*paths, *op_files]), "code": code_fingerprint()}
    write_frame(val, out_validation)
    _write_json(info, out_bands)
    return info


def merge_profile_files(paths: list[str | Path], bands_path: str | Path | None, out: str | Path) -> ProfileSet:
    """Combine per-platform profile files, attach bands, write one profiles JSON (atomically)."""
    profiles: list[Profile] = []
    seen = set()
    for p in sorted(Path(x) for x in paths):
        for prof in read_profiles_json(p)[0]:
            if (prof.platform, prof.framework) not in seen:
                seen.add((prof.platform, prof.framework))
                profiles.append(prof)
    pset = ProfileSet(profiles, source=str(out))
    info: dict = {}
    if bands_path and Path(bands_path).exists():
        info = json.loads(Path(bands_path).read_text())
        metrics = info.get("metrics") or []
        val = pl.DataFrame({"metric": metrics}, schema={"metric": pl.String})
        pset = attach_bands(pset, info["bands"], val, float(info.get("scale", 1.0)))
    _write_json({"code": code_fingerprint(), "coverage_80": info.get("coverage_80"),
                 "band_scale": info.get("scale"), "profiles": pset.to_json()}, out)
    return pset


def write_platform_profiles(cal: Calibration, path: str | Path) -> None:
    """Write one platform's profiles (no bands: those come from cross-validation)."""
    _write_json({**cal.summary, "profiles": cal.profiles.to_json(), "fit": cal.diagnostics}, path)


def _write_json(payload: dict, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=True, default=_jsonable) + "\n")
    tmp.replace(path)
