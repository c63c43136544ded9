"""Pipeline steps callable without Snakemake: estimate a shard, fingerprint the code.

Snakemake rules stay thin: each ``workflow/scripts/*.py`` reads ``snakemake.input/params``
and calls one function here (or in :mod:`genz.calibrate.calibration`, :mod:`genz.store.warehouse`,
:mod:`genz.report.reporting`). Every output is written to a temporary name and renamed into place.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..catalog.files import atomic_write, code_fingerprint
from ..catalog.hardware import get_hardware
from ..catalog.zoo import get_model
from ..errors import GenzError
from ..perf.predict import operators_frame, predict_frame
from ..perf.profiles import ProfileSet, load_profile_files, load_profiles
from ..perf.scenarios import METRICS
from ..requirements.slo import slo_columns
from ..store.schemas import SCHEMA_VERSION, EstimateFrame, OperatorFrame, validate_frame
from . import experiments as X

#: the genz package folder, whose sources and data :func:`fingerprint` hashes
PACKAGE = Path(__file__).parent.parent

#: typed scenario columns stored with every estimate (working column -> output column)
SCENARIO_OUT = {
    "_framework": "framework", "_input_tokens": "input_tokens", "_output_tokens": "output_tokens",
    "_batch_size": "batch_size", "_tp": "tp", "_pp": "pp", "_ep": "ep", "_dp": "dp", "_cp": "cp",
    "_num_devices": "num_devices", "_weight_dtype": "weight_dtype", "_act_dtype": "act_dtype",
    "_kv_dtype": "kv_dtype", "_chunk_size": "chunk_size", "_draft_model": "draft_model",
    "_spec_tokens": "spec_tokens", "_acceptance_rate": "acceptance_rate", "_num_beams": "num_beams",
    "_offload": "offload",
}
PREDICTION_COLUMNS = (
    *METRICS, "max_throughput_batch", "max_throughput_tpot_ms", "bottleneck", "prefill_bottleneck",
    "decode_bottleneck", "status", "memory_per_device_gb", "weights_per_device_gb", "kv_cache_per_device_gb",
    "activations_per_device_gb", "max_batch_fit", "concurrency", "prefill_flops", "decode_flops",
    "prefill_compute_ms", "prefill_memory_ms", "prefill_network_ms", "prefill_overhead_ms", "decode_compute_ms",
    "decode_memory_ms", "decode_network_ms", "decode_overhead_ms", "energy_j_per_token", "usd_per_million_tokens",
)

#: columns of pandera's failure-case table (what a shard's failures files hold)
FAILURE_CASES = {"failure_case": pl.String, "schema_context": pl.String, "column": pl.String, "check": pl.String,
                 "check_number": pl.Int32, "index": pl.Int32}


def fingerprint() -> str:
    """The code fingerprint every rule takes as a param (:func:`genz.catalog.files.code_fingerprint`)."""
    return code_fingerprint()


def _atomic_parquet(df: pl.DataFrame, path: str | Path) -> None:
    atomic_write(path, lambda tmp: df.write_parquet(tmp, compression="zstd", statistics=True), pause="estimate")


def estimate_frame(rows: pl.DataFrame, profiles: ProfileSet, code: str) -> pl.DataFrame:
    """Predictions for grid rows (with ``experiment``, ``scenario_id``), in the EstimateFrame layout."""
    pred = predict_frame(rows, profiles, keep_work=True)
    models = {m: _safe(get_model, m) for m in pred.get_column("model").unique().to_list()}
    hws = {h: _safe(get_hardware, h) for h in pred.get_column("hardware").unique().to_list()}
    out = pred.select(
        "experiment", "scenario_id", "model",
        pl.col("model").replace_strict({k: v.id if v else None for k, v in models.items()}, default=None,
                                       return_dtype=pl.String).alias("model_id"),
        "hardware",
        pl.col("hardware").replace_strict({k: v.id if v else None for k, v in hws.items()}, default=None,
                                          return_dtype=pl.String).alias("hardware_id"),
        *[pl.col(k).alias(v) for k, v in SCENARIO_OUT.items()],
        *[pl.col(c) for c in ("use_case",) if c in pred.columns],
        *[pl.col(c).cast(pl.Float64) for c in X.SLO_COLUMNS if c in pred.columns],
        *[pl.col(c) for c in pred.columns if c.startswith("axis_")],
        *PREDICTION_COLUMNS,
        *[f"{m}_{end}" for m in METRICS for end in ("low", "high")],  # predict's bands, stored as computed
        "calibration", "profile",
    )
    for c in ("use_case",):
        if c not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    for c in X.SLO_COLUMNS:
        if c not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=pl.Float64).alias(c))
    # the one SLO rule (genz.requirements.slo), decided here so the warehouse never re-implements it
    out = slo_columns(out)
    return out.with_columns(genz_fingerprint=pl.lit(code), schema_version=pl.lit(SCHEMA_VERSION))


def _safe(fn, name):
    try:
        return fn(name)
    except Exception:  # noqa: BLE001 - unknown names become a row status, not a crash
        return None


def sample_for_operators(rows: pl.DataFrame, mode: str, cap: int = 400) -> pl.DataFrame:
    """Scenarios whose per-operator breakdown is stored: none, all, or one per model × hardware ×
    layout × precision (the first in grid order), at most ``cap`` per shard."""
    if mode == "none" or rows.height == 0:
        return rows.head(0)
    if mode == "all":
        return rows
    group = [c for c in ("model", "hardware", "tp", "pp", "ep", "dp", "cp", "weight_dtype", "act_dtype", "kv_dtype",
                         "framework") if c in rows.columns]
    return rows.unique(subset=group, keep="first", maintain_order=True).head(cap)


def estimate_shard(spec: str | Path, hardware: str, part: int, shard_size: int, profiles_path: str | Path,
                   out_estimates: str | Path, out_operators: str | Path, code: str | None = None,
                   failures_estimates: str | Path | None = None,
                   failures_operators: str | Path | None = None) -> int:
    """Estimate one shard of an experiment; write its estimates and operator rows. Returns rows.

    Rows failing the output schema raise :class:`~genz.errors.GenzError`; their failure cases are
    written to ``failures_estimates`` / ``failures_operators`` when given (the rule declares them as
    logs), which otherwise hold an empty failure table.
    """
    for f in (failures_estimates, failures_operators):
        if f:
            Path(f).parent.mkdir(parents=True, exist_ok=True)
            pl.DataFrame(schema=FAILURE_CASES).write_parquet(f)
    exp = X.load(spec)
    rows = X.shard_rows(exp, hardware, part, shard_size)
    profiles = load_profiles(profiles_path)
    code = code or fingerprint()
    est = estimate_frame(rows, profiles, code)
    est = validate_frame(EstimateFrame, est, failures_estimates)
    sample = sample_for_operators(rows.join(est.select("scenario_id", "status"), on="scenario_id")
                                  .filter(pl.col("status") == "ok").drop("status"), exp.operators)
    ops = operators_frame(sample, profiles)
    ops = validate_frame(OperatorFrame, ops, failures_operators)
    _atomic_parquet(est, out_estimates)
    _atomic_parquet(ops, out_operators)
    return est.height


def requirements_for_experiment(spec: str | Path, profiles_path, out_requirements: str | Path,
                                out_deployments: str | Path, max_devices: int = 8) -> int:
    """SLO requirement search over an experiment's models × use cases × platforms (genz.requirements),
    with the profiles of one file or of several (the pipeline passes its platforms' files)."""
    from ..requirements import RESOURCES, search

    exp = X.load(spec)
    axes = dict(exp.axes)
    if exp.usecases_path is None or "use_case" not in axes:
        raise GenzError(f"{spec}: requirements need a use_case axis (SLOs come from the use-case library)")
    resources = tuple(exp.requirements.get("resources") or RESOURCES)
    fw = str(next(iter(axes.get("framework", [None]))))
    res = search([str(m) for m in axes["model"]], [str(u) for u in axes["use_case"]],
                 [str(h) for h in axes["hardware"]], exp.usecases_path, load_profile_files(profiles_path),
                 max_devices=max_devices, resources=resources, framework=fw)
    req = res["requirements"].with_columns(experiment=pl.lit(exp.name))
    dep = res["deployments"].with_columns(experiment=pl.lit(exp.name))
    _atomic_parquet(req, out_requirements)
    _atomic_parquet(dep, out_deployments)
    return req.height


def frontier_for_experiment(spec: str | Path, profiles_path: str | Path, out: str | Path) -> int:
    """The serving frontier of an experiment with ``frontier: {enabled: true}`` (genz.requirements.frontier).

    The grid's rows name what is compared: one sweep per model x workload x precision x framework over
    the grid's hardware; deployments and concurrency are swept (the block's ``devices``,
    ``concurrency``, ``disagg``, ``length_ratio``), and ``interactivity`` is stored with every point
    for the report's cost and tokens-per-MW table. Writes every point (FrontierFrame) atomically.
    """
    from ..requirements import frontier as fr
    from ..store.schemas import FrontierFrame

    exp = X.load(spec)
    cfg = exp.frontier
    grid = X.expand(exp)
    keys = [c for c in ("model", "input_tokens", "output_tokens", "weight_dtype", "act_dtype", "kv_dtype",
                        "framework") if c in grid.columns]
    profiles = load_profiles(profiles_path)
    frames = []
    for _, g in grid.group_by(keys, maintain_order=True):
        r = g.row(0, named=True)
        prec = fr.Precision(r.get("weight_dtype") or "bf16", r.get("act_dtype"), r.get("kv_dtype"))
        frames.append(fr.sweep(
            r["model"], list(dict.fromkeys(g.get_column("hardware").to_list())), int(r["input_tokens"]),
            int(r["output_tokens"]), devices=int(cfg.get("devices", fr.DEVICES)),
            concurrency=cfg.get("concurrency", fr.CONCURRENCY), precisions=[prec],
            length_ratio=float(cfg.get("length_ratio", fr.LENGTH_RATIO)), framework=r.get("framework"),
            disagg=fr.parse_disagg(cfg.get("disagg", [f"{x}:{y}" for x, y in fr.DISAGG])), profiles=profiles))
    pts = pl.concat(frames, how="diagonal_relaxed").with_columns(
        experiment=pl.lit(exp.name), interactivity_target=pl.lit(float(cfg.get("interactivity", fr.INTERACTIVITY))))
    pts = validate_frame(FrontierFrame, pts)
    _atomic_parquet(pts, out)
    return pts.height

