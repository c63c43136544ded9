"""Calibration: fit efficiency profiles to measured latencies, validate them honestly.

Fit
    One joint fit (:mod:`genz.calibrate.physfit`) of hardware factors per chip (pooled per architecture
    family, anchored by the kernel timings of :mod:`genz.calibrate.opcal`) and software factors per serving
    stack (shared by every platform the stack runs on), by robust MAP least squares on
    ``log(predicted / measured)`` within physical bounds (:data:`genz.perf.efficiency.FIT_BOUNDS`).

Validation
    Two schemes. k-fold cross-validation grouped by model (a model's rows are never in both the fit
    and the check: the error on a model the fit has not seen), and leave-one-source-out (fit
    without a whole study, predict it: the error on a new benchmark and its stack). The
    out-of-fold residuals by model give the uncertainty bands (10th-90th percentile of
    measured/predicted, per platform × metric where there are enough rows) and their coverage.

Everything is deterministic: sorted inputs, no random numbers, no clock in the output.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import multiprocessing
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl

from ..catalog.files import atomic_write, atomic_write_text, code_fingerprint
from ..errors import GenzError
from ..perf.efficiency import DEFAULT, HARDWARE_FACTORS
from ..perf.profiles import HardwareEntry, Profile, ProfileSet, load_profiles, round_sig
from .fitcache import FitCache
from .measurements import load_measurement_files
from .prepared import Prepared, evaluate, prepare
from .stats import geomean_rel_err_expr

BAND_MIN_ROWS = 20  # fewest out-of-fold residuals for a band of its own
BAND_Q = (0.10, 0.90)  # 80 % central band


# ----------------------------------------------------------------------------------------------
# fitting
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitResult:
    profiles: ProfileSet
    diagnostics: list[dict]
    stage1: object = None  # the shared stage's JointFit (genz.calibrate.physfit.fit_staged)
    shared_hardware: list | None = None  # its hardware entries (JSON), when the stages differ


def fit_profiles(prep: Prepared, version: str = "unversioned",
                 op_priors: dict[str, dict[str, float]] | None = None, max_nfev: int = 40,
                 cache: FitCache | None = None, base: np.ndarray | None = None) -> FitResult:
    """Hardware factors of every measured platform (pooled per family) and software factors of every
    measured serving stack (:func:`genz.calibrate.physfit.fit_staged`: the stacks fitted jointly on the
    baseline rows ``base``, default all, each platform group with rows outside it refitted with those
    stacks held); unmeasured platforms inherit their family's die factors or keep the priors, and say
    so in their label."""
    from .physfit import fit_staged, profile_set

    if len(prep) == 0:
        raise GenzError("calibration: no measured row can be predicted")
    base = np.ones(len(prep), dtype=bool) if base is None else np.asarray(base, dtype=bool)
    fit, fit1 = fit_staged(prep, prep.stack, base, op_priors, max_nfev=max_nfev, cache=cache)
    pset, diags = profile_set(fit, prep, prep.stack, version, op_priors, base=base)
    return FitResult(pset, [{"kind": "summary", **fit.info}, *diags], stage1=fit1)


# ----------------------------------------------------------------------------------------------
# prediction with a profile set (same lookup chain as genz.perf.predict), cross-validation, bands
# ----------------------------------------------------------------------------------------------


def predict_prepared(prep: Prepared, profiles: ProfileSet) -> tuple[np.ndarray, np.ndarray]:
    """Predictions for prepared rows using the profile lookup chain; also each row's profile id.

    A row is predicted with the stack it ran (its study's stack when it states no framework): in
    validation the row's stack is known, as it is to a user who names a framework."""
    effs, _, idx = profiles.lookup_rows(list(prep.platform), list(prep.platform), list(prep.stack))
    return evaluate(prep, effs), np.array([profiles._all[i].id for i in idx], dtype=object)


def model_folds(models: np.ndarray, k: int, base: np.ndarray | None = None) -> np.ndarray:
    """Fold id per row: models sorted by row count, dealt round-robin (deterministic, balanced).

    With ``base`` (the baseline rows, :mod:`genz.calibrate.baseline`), only those are counted, and a
    model with no baseline row goes to the fold its name's hash picks: rows added outside the baseline
    never move another model to another fold (which would change every fold's training rows)."""
    counted = models if base is None else models[np.asarray(base, dtype=bool)]
    uniq, counts = np.unique(counted, return_counts=True)
    order = sorted(zip(-counts, uniq))
    fold_of = {m: i % k for i, (_, m) in enumerate(order)}
    return np.array([fold_of[m] if m in fold_of else int(hashlib.sha256(str(m).encode()).hexdigest()[:8], 16) % k
                     for m in models])


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
    """One fit in a worker: a fold (train, test masks: out-of-fold predictions, and those of its
    shared stage alone, which the pooled band statistics are taken from) or, with no test rows, the
    full fit (its profile set). ``base``: the baseline rows (:mod:`genz.calibrate.baseline`)."""
    prep, train, test, op_priors, cache_dir, version, base = args
    cache = FitCache(cache_dir) if cache_dir else None
    fit = fit_profiles(prep.subset(train), version=version, op_priors=op_priors, cache=cache, base=base[train])
    stats = (sorted(cache.used), cache.hits, cache.misses) if cache else ([], 0, 0)
    # the shared stage's own profiles, where the two stages differ (its rows: the baseline training rows)
    staged = (train & base).any() and not base[train].all()
    if staged:
        from .physfit import profile_set

        sub = prep.subset(train & base)
        pset1, _ = profile_set(fit.stage1, sub, sub.stack, version, op_priors)
    if test is None:
        if staged:
            fit = replace(fit, shared_hardware=[h.to_json() for h in pset1.hardware.values()])
        return replace(fit, stage1=None), stats
    pred, used = predict_prepared(prep.subset(test), fit.profiles)
    shared = predict_prepared(prep.subset(test), pset1)[0] if staged else pred
    return (test, pred, used, shared), stats


#: validation schemes: k folds grouped by model, and leave-one-source-out (one study held out)
SCHEMES = ("model", "source")

#: thread-pool variables of the numeric libraries: a worker runs one thread (the pool is the parallelism;
#: two BLAS threads per worker on two cores make each fit's SVDs ~10x slower)
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "POLARS_MAX_THREADS")


def folds_for(prep: Prepared, scheme: str, k: int, base: np.ndarray | None = None) -> np.ndarray:
    """Fold id per row: models dealt into ``k`` folds (:func:`model_folds`), or one fold per source study."""
    if scheme == "model":
        return model_folds(prep.model, k, base)
    if scheme == "source":
        groups = sorted(set(prep.source.tolist()))
        pos = {g: i for i, g in enumerate(groups)}
        return np.array([pos[g] for g in prep.source], dtype=int)
    raise GenzError(f"validation scheme: unknown '{scheme}'; allowed: {', '.join(SCHEMES)}")


def _fold_masks(prep: Prepared, scheme: str, k: int, base: np.ndarray | None = None
                ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    folds = folds_for(prep, scheme, k, base)
    nf = int(folds.max()) + 1 if len(folds) else 0
    return folds, [(folds != f, folds == f) for f in range(nf) if (folds != f).any()]


def _run_fits(jobs: list, workers: int, cache: FitCache | None, progress=None, then=None) -> list:
    """Run fit jobs (:func:`_cv_fold` arguments) in ``workers`` processes, in order; merge the cache
    statistics; ``progress(1)`` after each.

    ``then(first_result)``: a (function, args) to run in the same pool as soon as the first job is
    done, alongside the others (the pipeline's stack-generation fit, which needs the full fit); its
    result is appended last."""
    out = []
    extra = None
    if workers > 1 and len(jobs) > 1:
        import os

        saved = {v: os.environ.get(v) for v in _THREAD_VARS}
        os.environ.update(dict.fromkeys(_THREAD_VARS, "1"))  # inherited by the spawned workers
        try:
            # spawn, not fork: polars' thread pool does not survive a fork
            with _main_not_reimported(), ProcessPoolExecutor(
                    max_workers=min(workers, len(jobs)), mp_context=multiprocessing.get_context("spawn")) as ex:
                futures = [ex.submit(_cv_fold, j) for j in jobs]
                for i, fut in enumerate(futures):
                    out.append(fut.result())
                    if i == 0 and then is not None:
                        fn, args = then(out[0][0])
                        extra = ex.submit(fn, *args)
                    if progress:
                        progress(1)
                if extra is not None:
                    extra = extra.result()
        finally:
            for v, val in saved.items():
                if val is None:
                    os.environ.pop(v, None)
                else:
                    os.environ[v] = val
    else:
        for i, j in enumerate(jobs):
            out.append(_cv_fold(j))
            if i == 0 and then is not None:
                fn, args = then(out[0][0])
                extra = fn(*args)
            if progress:
                progress(1)
    results = []
    for res, (keys, hits, misses) in out:
        results.append(res)
        if cache is not None:
            cache.used.update(keys)
            cache.hits += hits
            cache.misses += misses
    return results + ([extra] if then is not None else [])


#: columns of the validation table in memory only (not in validation.parquet): whether a row is a
#: baseline row, and the log ratio of its shared stage's out-of-fold prediction
SHARED_COLUMNS = ("baseline", "log_ratio_shared")


def _oof_frame(prep: Prepared, scheme: str, folds: np.ndarray, results: list, base: np.ndarray) -> pl.DataFrame:
    """The out-of-fold predictions of one scheme's fold results, as the validation table (plus
    :data:`SHARED_COLUMNS`)."""
    pred = np.full(len(prep), np.nan)
    shared = np.full(len(prep), np.nan)
    used = np.empty(len(prep), dtype=object)
    for test, p, u, sh in results:
        pred[test] = p
        shared[test] = sh
        used[test] = u
    f = prep.frame
    keep = [c for c in ("source", "framework", "model", "hardware", "num_devices", "tp", "pp", "ep", "weight_dtype",
                        "act_dtype", "kv_dtype", "batch_size", "input_tokens", "output_tokens", "metric", "value",
                        "unit") if c in f.columns]
    out = f.select(keep).with_columns(
        value=pl.col("value").cast(pl.Float64),
        platform=pl.Series(prep.platform.tolist(), dtype=pl.String),
        framework_key=pl.Series(prep.framework.tolist(), dtype=pl.String),
        stack=pl.Series(prep.stack.tolist(), dtype=pl.String),
        source_group=pl.Series(prep.source.tolist(), dtype=pl.String),
        model_id=pl.Series(prep.model.tolist(), dtype=pl.String),
        scheme=pl.lit(scheme, dtype=pl.String),
        fold=pl.Series(folds, dtype=pl.Int32),
        predicted_oof=pl.Series(pred, dtype=pl.Float64),
        profile_oof=pl.Series([str(u) if u is not None else None for u in used], dtype=pl.String),
    )
    return out.with_columns(
        log_ratio=(pl.col("value") / pl.col("predicted_oof")).log(),
        rel_err=((pl.col("predicted_oof") - pl.col("value")).abs() / pl.col("value")),
        baseline=pl.Series(base, dtype=pl.Boolean),
        log_ratio_shared=(pl.col("value") / pl.Series(shared, dtype=pl.Float64)).log(),
    )


def cross_validate(prep: Prepared, k: int = 5, workers: int = 2,
                   op_priors: dict[str, dict[str, float]] | None = None, scheme: str = "model",
                   cache: FitCache | None = None, progress=None, base: np.ndarray | None = None) -> pl.DataFrame:
    """Out-of-fold predictions for every row.

    ``scheme='model'``: folds grouped by model (a model's rows are never in both fit and check).
    ``scheme='source'``: leave one source study out: fit without it, predict it. Rows of a study
    whose stack or platform no other study measured are predicted as a user would get them: with
    the base framework's or the reference stack, and inherited or prior hardware factors.

    ``cache``: fits of training rows seen before are read back (:mod:`genz.calibrate.fitcache`);
    ``progress(n)`` is called as each fold finishes. ``base``: the baseline rows (default all); each
    fold fits like the calibration itself (:func:`fit_profiles`) on its training rows.
    """
    return validate_all(prep, k, workers, op_priors, cache, progress, schemes=(scheme,), base=base)


def validate_all(prep: Prepared, k: int = 5, workers: int = 2,
                 op_priors: dict[str, dict[str, float]] | None = None, cache: FitCache | None = None,
                 progress=None, schemes: Sequence[str] = SCHEMES, full_fit_version: str | None = None,
                 base: np.ndarray | None = None, then=None):
    """Out-of-fold predictions under both schemes (``scheme`` column: 'model', 'source'), every
    fold of both in one pool of ``workers`` processes. With ``full_fit_version``, the fit of all
    rows runs in the same pool and ``(validation, FitResult)`` is returned (with ``then``, see
    :func:`_run_fits`: ``(validation, FitResult, its result)``). ``base``: the baseline rows (default all)."""
    cache_dir = str(cache.folder) if cache is not None else None
    base = np.ones(len(prep), dtype=bool) if base is None else np.asarray(base, dtype=bool)
    plan = [(s, *_fold_masks(prep, s, k, base)) for s in schemes]
    jobs: list[tuple] = [(prep, tr, te, op_priors, cache_dir, "cv", base)
                         for _, _, masks in plan for tr, te in masks]
    if full_fit_version is not None:
        jobs.insert(0, (prep, np.ones(len(prep), dtype=bool), None, op_priors, cache_dir, full_fit_version, base))
    results = _run_fits(jobs, workers, cache, progress, then=then if full_fit_version is not None else None)
    extra = results.pop() if then is not None and full_fit_version is not None else None
    full = results.pop(0) if full_fit_version is not None else None
    frames, i = [], 0
    for s, folds, masks in plan:
        frames.append(_oof_frame(prep, s, folds, results[i:i + len(masks)], base))
        i += len(masks)
    val = pl.concat(frames, how="vertical")
    if then is not None and full_fit_version is not None:
        return val, full, extra
    return (val, full) if full_fit_version is not None else val


def n_folds(prep: Prepared, k: int) -> int:
    """Fits a validation makes (folds of both schemes that leave training rows)."""
    return sum(len(_fold_masks(prep, s, k)[1]) for s in SCHEMES)


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
            b[m] = _band(lo, hi)
        lo, hi = _scaled(bands["overall"], scale * 1.5)
        b["all"] = _band(lo, hi)
        out.append(replace(p, bands=b).versioned())
    generic = {p.platform.lower(): p.bands for p in out if p.framework == "generic"}
    hw = [replace(h, bands=generic.get(h.platform.lower(), {})) for h in profiles.hardware.values()]
    return ProfileSet(out, source=profiles.source, hardware=hw, stacks=list(profiles.stacks.values()),
                      version=profiles.version)


def _band(lo: float, hi: float) -> list[float]:
    """Multiplicative band [low, high] from log edges, at the stored precision (never excluding 1)."""
    return [round_sig(math.exp(min(lo, 0.0))), round_sig(math.exp(max(hi, 0.0)))]


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


def inputs_hash(paths: Sequence[str | Path]) -> str:
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


def _version(paths: list[Path], priors_hash: str) -> str:
    """Profile version: content hash of the measurement files, the kernel priors and the code."""
    return hashlib.sha256((inputs_hash(paths) + priors_hash + code_fingerprint()).encode()).hexdigest()[:12]


def operator_priors(operators: str | Path | None) -> tuple[dict[str, dict[str, float]], list[Path]]:
    """Family priors from kernel timings under ``operators`` (and the files they came from)."""
    from .opcal import family_priors, fit_operator_priors

    if not operators or not Path(operators).is_dir():
        return {}, []
    return family_priors(fit_operator_priors(operators)), sorted(Path(operators).rglob("*.parquet"))


# ----------------------------------------------------------------------------------------------
# the calibration path: priors -> fit + validate -> merge. `genz calibrate` runs them in one
# command; the pipeline runs the priors, the fit with its validation, and the merge as rules
# (fit_operator_priors, calibrate, merge_profiles) with the same functions.
# ----------------------------------------------------------------------------------------------


def priors_step(operators: str | Path | None = None, op_priors: dict | None = None) -> tuple[dict, str]:
    """Kernel-timing priors per family (given, or fitted from the tables under ``operators``) and
    their content hash (what a profile's version depends on)."""
    priors = op_priors if op_priors is not None else operator_priors(operators)[0]
    text = json.dumps(priors, sort_keys=True, default=_jsonable)
    return priors, hashlib.sha256(text.encode()).hexdigest()[:16]


def validate_step(prep: Prepared, op_priors: dict | None, k: int = 5, workers: int = 2,
                  cache: FitCache | None = None, progress=None, val: pl.DataFrame | None = None
                  ) -> tuple[pl.DataFrame, dict]:
    """Held-out predictions under both schemes (or ``val``, already made), and the bands (from the
    by-model scheme) with their widening scale and held-out coverage under each scheme."""
    if val is None:
        val = validate_all(prep, k=k, workers=workers, op_priors=op_priors, cache=cache, progress=progress)
    by_model = val.filter(pl.col("scheme") == "model")
    # the pooled statistics (overall and per-metric quantiles, the widening scale) are shared by every
    # platform: taken from the baseline rows' held-out predictions by the shared stage alone, so a new
    # measurement file moves its own platforms' bands and nothing else (genz.calibrate.baseline)
    shared = by_model
    if "log_ratio_shared" in val.columns:
        shared = by_model.filter(pl.col("baseline")).with_columns(log_ratio=pl.col("log_ratio_shared"))
    pooled = band_table(shared)
    bands = {**{k_: v for k_, v in band_table(by_model).items() if "|" in k_},
             **{k_: v for k_, v in pooled.items() if "|" not in k_}}
    scale = fit_band_scale(shared)
    info = {"bands": bands, "scale": scale, "coverage_80": cv_coverage(by_model, scale), "folds": k,
            "coverage_80_source": cv_coverage(val.filter(pl.col("scheme") == "source"), scale),
            "metrics": sorted(set(val.get_column("metric").to_list()))}
    return val.drop([c for c in SHARED_COLUMNS if c in val.columns]), info


def merge_step(pset: ProfileSet, info: dict) -> ProfileSet:
    """A fitted profile set with the validation's bands attached."""
    if not info.get("bands"):
        return pset
    val = pl.DataFrame({"metric": info.get("metrics") or []}, schema={"metric": pl.String})
    return attach_bands(pset, info["bands"], val, float(info.get("scale", 1.0)))


def platform_profiles(pset: ProfileSet, platform: str) -> ProfileSet:
    """The part of a fitted profile set that one platform's estimates use: its hardware entry, every
    stack, and its materialized profiles.

    A platform the fit does not know (a user's hardware YAML) gets its family's factors, or the
    priors, and says which (:meth:`genz.perf.profiles.ProfileSet.hardware_entry`).
    """
    from ..catalog.hardware import get_hardware

    hw = get_hardware(platform)
    entry = pset.hardware_entry(hw.id, hw.family) or HardwareEntry(
        platform=hw.id, family=hw.family, label="prior", factors={k: getattr(DEFAULT, k) for k in HARDWARE_FACTORS})
    sub = ProfileSet([], source=pset.source, hardware=[entry], stacks=list(pset.stacks.values()),
                     version=pset.version)
    profs = [p for p in pset.profiles if p.platform.lower() == hw.id.lower()]
    if not profs:
        profs = [sub.compose(hw.id, f)[0] for f in ["generic"] + sorted(k for k, st in pset.stacks.items()
                                                                       if st.public and k != "generic")]
    return ProfileSet(profs, source=pset.source, hardware=[entry], stacks=list(pset.stacks.values()),
                      version=pset.version)


def fit_files(paths: Sequence[str | Path], operators: str | Path | None = None,
              op_priors: dict | None = None) -> Calibration:
    """The joint fit of every measurement file (no validation: the pipeline's fit rule)."""
    return calibrate(paths, do_cv=False, operators=operators, op_priors=op_priors)


def check_hardware(meas: pl.DataFrame) -> None:
    """Every measured row's ``hardware`` resolves (preset id or alias, case-insensitive); else a
    one-line error naming the file, the row and the value. Rows are routed by this column, wherever
    their file lies under the measurement folder."""
    from ..catalog.hardware import get_hardware

    for h in meas.get_column("hardware").cast(pl.String).unique().sort().to_list():
        try:
            get_hardware(h)
        except GenzError as exc:
            rows = meas.with_row_index("_i").with_columns(
                _row=pl.int_range(pl.len()).over("measurement_file") + 2)  # + header, 1-based
            first = rows.filter(pl.col("hardware") == h).row(0, named=True)
            raise GenzError(f"{first['measurement_file']}: row {first['_row']}, column hardware: {exc}") from None


def prepared_with_baseline(paths: Sequence[str | Path], baseline: str | Path | None
                           ) -> tuple[Prepared, np.ndarray, list[str]]:
    """The measured rows of ``paths`` prepared for the fit, which of them are baseline rows (rows of a
    file the baseline file lists, :mod:`genz.calibrate.baseline`; all without one), and the
    baseline's warnings."""
    from . import baseline as B

    meas = load_measurement_files(paths, with_path=True)
    check_hardware(meas)
    bl = B.read(baseline)
    files = meas.get_column("_measurement_path").to_list()
    prep = prepare(meas.with_columns(_baseline=pl.Series(bl.rows(files), dtype=pl.Boolean))
                   .drop("measurement_file", "_measurement_path"))
    return prep, prep.frame.get_column("_baseline").to_numpy().astype(bool), bl.warnings(files)


def calibrate(paths: Sequence[str | Path], k: int = 5, workers: int = 2, do_cv: bool = True,
              operators: str | Path | None = None, op_priors: dict | None = None,
              progress=None, baseline: str | Path | None = None) -> Calibration:
    """The whole calibration path in one call: kernel priors (``op_priors``, or fitted from the tables
    under ``operators``), the joint fit, validation by model and by source, and the bands; the fit
    and the folds run side by side in ``workers`` processes.

    ``progress(done, total, what)`` is called as steps finish (the CLI draws a bar with it).
    ``baseline``: the baseline file (:mod:`genz.calibrate.baseline`); none: every row is a baseline row."""
    def step(done: int, total: int, what: str) -> None:
        if progress:
            progress(done, total, what)

    step(0, 1, "reading measurements")
    prep, base, base_warnings = prepared_with_baseline(paths, baseline)
    priors, priors_hash = priors_step(operators, op_priors)
    version = _version([Path(p) for p in paths], priors_hash)
    total = 1 + (n_folds(prep, k) if do_cv else 0)
    done = [0]

    def advance(n: int = 1) -> None:
        done[0] += n
        step(done[0], total, "fitting (the joint fit and the cross-validation folds)")

    step(0, total, "fitting (the joint fit and the cross-validation folds)")
    if do_cv:
        val0, fit = validate_all(prep, k=k, workers=workers, op_priors=priors, progress=advance,
                                 full_fit_version=version, base=base)
        val, info = validate_step(prep, priors, k=k, val=val0)
        profiles = merge_step(fit.profiles, info)
    else:
        fit = fit_profiles(prep, version=version, op_priors=priors, base=base)
        advance()
        val, info, profiles = pl.DataFrame(), {}, fit.profiles
    warnings = base_warnings + fit_warnings(prep, fit.profiles) + (band_warnings(val) if do_cv else [])
    summary = {"version": version, "inputs_hash": inputs_hash(paths), "priors_hash": priors_hash, "warnings": warnings,
               "code": code_fingerprint(), "operator_priors": priors, "rows": len(prep),
               "coverage_80": info.get("coverage_80", float("nan")),
               "coverage_80_source": info.get("coverage_80_source", float("nan")),
               "band_scale": info.get("scale"), "folds": k, "bands": info.get("bands", {})}
    return Calibration(profiles=profiles, validation=val, diagnostics=fit.diagnostics, summary=summary)


def fit_warnings(prep: Prepared, pset: ProfileSet) -> list[str]:
    """Where the measured rows were too few (or too alike) to fit what they were meant to: one line
    per platform whose rows identified none of its hardware factors, and per measured stack whose rows
    identified none of its factors (both keep their priors; docs/calibration.md, "Minimum rows")."""
    from collections import Counter

    out = []
    by_platform: dict[str, Counter] = {}
    for plat, st in zip(prep.platform.tolist(), prep.stack.tolist()):
        by_platform.setdefault(plat, Counter())[st] += 1
    for plat, stacks in sorted(by_platform.items()):
        hw = pset.hardware.get(plat.lower())
        if hw is not None and not hw.identified:
            rows = ", ".join(f"{n} under stack {st}" for st, n in sorted(stacks.items()))
            out.append(f"platform {plat}: its {sum(stacks.values())} rows ({rows}) identified none of its hardware "
                       f"factors, which keep their priors (label {hw.label}): rows need a stack measured on another "
                       "family too, and batch sizes and lengths varied enough to tell compute, memory and overheads "
                       "apart")
    by_stack = Counter(prep.stack.tolist())
    for st, n in sorted(by_stack.items()):
        entry = pset.stacks.get(st)
        if entry is not None and not entry.identified:
            plats = sorted({p for p, s_ in zip(prep.platform.tolist(), prep.stack.tolist()) if s_ == st})
            out.append(f"stack {st}: its {n} rows (on {', '.join(plats)}) identified none of its factors, which keep "
                       "their priors")
    return out


def band_warnings(val: pl.DataFrame) -> list[str]:
    """One line per platform with a metric whose held-out rows are fewer than :data:`BAND_MIN_ROWS`:
    that metric's band is the pooled one of all platforms, 1.5× wider."""
    if val.height == 0:
        return []
    v = val.filter((pl.col("scheme") == "model") & pl.col("log_ratio").is_finite())
    few = (v.group_by("platform", "metric").len().filter(pl.col("len") < BAND_MIN_ROWS)
           .sort("platform", "metric"))
    out = []
    for (plat,), g in few.group_by(["platform"], maintain_order=True):
        what = ", ".join(f"{m} {n} rows" for m, n in zip(g.get_column("metric"), g.get_column("len")))
        out.append(f"platform {plat}: {what} held out, fewer than {BAND_MIN_ROWS}: those metrics get the pooled "
                   "band of all platforms, 1.5x wider")
    return out


def write_profiles(cal: Calibration, path: str | Path) -> None:
    """Write profiles JSON atomically (sorted keys: identical inputs give identical bytes)."""
    _write_json({**cal.summary, **cal.profiles.payload(), "fit": cal.diagnostics}, path)


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
                               geomean_rel_err=geomean_rel_err_expr("rel_err"),
                               median_meas_over_pred=pl.col("log_ratio").median().exp())
            .sort(by))


def write_frame(df: pl.DataFrame, path: str | Path) -> None:
    """Write a frame as parquet (or CSV by extension), atomically."""
    atomic_write(path, df.write_csv if Path(path).suffix == ".csv" else df.write_parquet)


def summary_tables(val: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The cross-validated error tables: overall, per platform, per metric, per framework, per model.

    ``fixed-batch`` covers e2e/TTFT/TPOT rows; ``max-load`` the max_throughput rows.
    """
    v = val.with_columns(regime=pl.when(pl.col("metric") == "max_throughput_tok_s").then(pl.lit("max-load"))
                         .otherwise(pl.lit("fixed-batch")))
    if "scheme" not in v.columns:
        v = v.with_columns(scheme=pl.lit("model"))
    return {
        "regime": error_table(v, ["scheme", "regime"]),
        "platform": error_table(v, ["scheme", "regime", "platform"]),
        "metric": error_table(v, ["scheme", "metric"]),
        "framework": error_table(v, ["scheme", "regime", "framework_key"]),
        "source": error_table(v, ["scheme", "source_group"]) if "source_group" in v.columns
        else error_table(v, ["scheme"]),
        "model": error_table(v, ["scheme", "model_id"]),
    }


def read_profiles_json(path: str | Path) -> tuple[list[Profile], dict]:
    """Profiles and header of a profiles JSON file."""
    data = json.loads(Path(path).read_text())
    return [Profile.from_json(e, str(path)) for e in data.get("profiles", [])], data


def calibrate_files(paths: Sequence[str | Path], out_fit: str | Path, out_validation: str | Path,
                    out_bands: str | Path, k: int = 5, workers: int = 2, op_priors: dict | None = None,
                    cache: str | Path | None = None, stamp: str | Path | None = None,
                    baseline: str | Path | None = None, serving: Sequence[str | Path] = (),
                    serving_cache: str | Path | None = None) -> dict:
    """The pipeline's calibration rule: the joint fit of every row and the held-out predictions of
    both schemes, side by side in ``workers`` processes; writes the fit (profiles without bands:
    those come from the validation), the validation, the bands (:func:`validate_step`), each
    atomically, then ``stamp`` (the validation files' hashes: the rule's declared output, so a failed
    run leaves the previous validation and bands in place).

    ``cache``: a folder of fits by content (:mod:`genz.calibrate.fitcache`): a fit of training rows
    fitted before is read back, not refitted; entries this run did not use are removed.
    ``baseline``: the baseline file (:mod:`genz.calibrate.baseline`): the rows the shared factors are
    fitted on (none: every row). ``serving``: closed-loop serving-benchmark CSVs: the stack generations
    are fitted on them in the same pool as soon as the full fit is done
    (:func:`genz.calibrate.stackfit.generation_entries`, cached in ``serving_cache``) and stored in
    the fit file (``generations``) for :func:`merge_profile_files`."""
    prep, base, base_warnings = prepared_with_baseline(paths, baseline)
    priors, priors_hash = priors_step(None, op_priors)
    version = _version([Path(p) for p in paths], priors_hash)
    fc = FitCache(cache) if cache else None

    def generations(full):
        from . import stackfit

        return stackfit.generation_entries, (full.profiles, full.shared_hardware, [str(p) for p in serving],
                                             None if serving_cache is None else str(serving_cache))

    val0, fit, gens = validate_all(prep, k=k, workers=workers, op_priors=priors, cache=fc,
                                   full_fit_version=version, base=base, then=generations)
    val, info = validate_step(prep, priors, k=k, val=val0)
    warnings = base_warnings + fit_warnings(prep, fit.profiles)
    info.update(inputs_hash=inputs_hash(paths), priors_hash=priors_hash, code=code_fingerprint(),
                warnings=band_warnings(val))
    summary = {"version": version, "inputs_hash": inputs_hash(paths), "priors_hash": priors_hash,
               "warnings": warnings, "code": code_fingerprint(), "operator_priors": priors, "rows": len(prep),
               "baseline_rows": int(base.sum()), "folds": k}
    extra = {"generations": gens} if gens else {}
    _write_json({**summary, **fit.profiles.payload(), **extra, "fit": fit.diagnostics}, out_fit)
    write_frame(val, out_validation)
    _write_json(info, out_bands)
    if fc is not None:
        fc.prune()
    if stamp:
        atomic_write_text(stamp, json.dumps({str(p): _file_hash(p) for p in (out_validation, out_bands)},
                                            indent=1, sort_keys=True) + "\n")
    return {**info, "warnings": warnings + info["warnings"], "rows": len(prep), "baseline_rows": int(base.sum()),
            "profiles": len(fit.profiles),
            "version": version, "fits_computed": fc.misses if fc else 1 + n_folds(prep, k),
            "fits_cached": fc.hits if fc else 0}


def _file_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def merge_profile_files(paths: str | Path | list[str | Path], bands_path: str | Path | None,
                        out: str | Path) -> ProfileSet:
    """The fit's profile file(s) plus the cross-validated bands, as one profiles JSON (atomic), with
    the stack generations the fit file holds (``generations``: fitted on the serving benchmarks by
    :func:`calibrate_files`, software factors only)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    sets = [load_profiles(p) for p in sorted(Path(x) for x in paths)]
    if not sets:
        raise GenzError("merge: no profile files given")
    base = sets[0]
    profiles: list[Profile] = []
    seen = set()
    hardware = {}
    for ps in sets:
        hardware.update({k: v for k, v in ps.hardware.items() if k not in hardware})
        for prof in ps.profiles:
            if (prof.platform, prof.framework) not in seen:
                seen.add((prof.platform, prof.framework))
                profiles.append(prof)
    pset = ProfileSet(profiles, source=str(out), hardware=list(hardware.values()),
                      stacks=list(base.stacks.values()), version=base.version)
    info: dict = json.loads(Path(bands_path).read_text()) if bands_path and Path(bands_path).exists() else {}
    pset = merge_step(pset, info)
    gens = json.loads(Path(sorted(Path(x) for x in paths)[0]).read_text()).get("generations")
    if gens:
        from .stackfit import with_entries

        pset = with_entries(pset, gens)
    _write_json({"code": code_fingerprint(), "coverage_80": info.get("coverage_80"),
                 "coverage_80_source": info.get("coverage_80_source"),
                 "band_scale": info.get("scale"), **pset.payload()}, out)
    return pset


def write_platform_profiles(cal: Calibration, path: str | Path) -> None:
    """Write profiles (no bands: those come from cross-validation) with the fit's diagnostics."""
    _write_json({**cal.summary, **cal.profiles.payload(), "fit": cal.diagnostics}, path)


def write_profile_set(pset: ProfileSet, path: str | Path) -> None:
    """Write a profile set (profiles plus hardware and stack halves) atomically."""
    _write_json({"code": code_fingerprint(), **pset.payload()}, path)


def _write_json(payload: dict, path: str | Path) -> None:
    """Write JSON atomically (sorted keys: identical inputs give identical bytes)."""
    atomic_write_text(path, json.dumps(payload, indent=1, sort_keys=True, default=_jsonable) + "\n")
