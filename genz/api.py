"""Public Python API: one scenario or a table of them, the per-operator breakdown, catalogs.

Every caller (CLI, workflow scripts, reports, tests) goes through these functions::

    import genz
    genz.predict(df)                                   # polars frame in, predictions out
    r = genz.estimate("meta-llama/Llama-3.1-70B", "H100-SXM-80GB", tp=8, kv_dtype="fp8")
    r.metrics["tpot_ms"], r.operators                  # per-operator table (prefill / decode)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from .catalog.hardware import all_hardware, get_hardware
from .catalog.units import GB, GFLOP, MS, TFLOPS
from .catalog.zoo import all_models, get_model
from .errors import GenzError
from .perf import engine
from .perf.predict import (
    engine_inputs,
    operators_frame,  # noqa: F401 - re-exported: it lived here before genz.perf
    predict_frame,
)
from .perf.profiles import ProfileSet, default_profiles
from .perf.scenarios import normalize

SCENARIO_KEYS = ("input_tokens", "output_tokens", "batch_size", "tp", "pp", "ep", "dp", "cp", "num_devices",
                 "weight_dtype", "act_dtype", "kv_dtype", "framework", "chunk_size", "draft_model",
                 "spec_tokens", "acceptance_rate", "num_beams", "offload", "max_num_tokens",
                 "usd_per_device_hour", "allow_long_context")


def predict(df: pl.DataFrame, profiles: ProfileSet | None = None) -> pl.DataFrame:
    """Predict every row of a scenario table (see :func:`genz.perf.predict.predict_frame`)."""
    return predict_frame(df, profiles)


@dataclass
class Result:
    """One scenario's prediction: metrics (dict) and the per-operator table (polars)."""

    scenario: dict
    metrics: dict
    operators: pl.DataFrame


def _scenario_frame(model: str, hardware: str, **kw) -> pl.DataFrame:
    row = {"model": model, "hardware": hardware, "input_tokens": kw.pop("input_tokens", 1024),
           "output_tokens": kw.pop("output_tokens", 256)}
    for k, v in kw.items():
        if k not in SCENARIO_KEYS:
            raise GenzError(f"estimate: unknown option '{k}'; allowed: {', '.join(SCENARIO_KEYS)}")
        if v is not None:
            row[k] = v
    return pl.DataFrame({k: [None if v is None else str(v)] for k, v in row.items()})


def estimate(model: str, hardware: str, profiles: ProfileSet | None = None, **kw) -> Result:
    """Predict one scenario; raise :class:`GenzError` (one line) if it cannot be predicted.

    Keyword arguments are scenario columns (``tp=8, batch_size=16, kv_dtype='fp8', ...``).
    """
    df = _scenario_frame(model, hardware, **kw)
    profiles = profiles if profiles is not None else default_profiles()
    out = predict_frame(df, profiles)
    row = out.row(0, named=True)
    if row["status"] != "ok" and not str(row["status"]).startswith("unsupported"):
        raise GenzError(str(row["status"]).removeprefix("error: "))
    return Result(scenario={k: v for k, v in row.items() if k in df.columns}, metrics=row,
                  operators=operator_table(df, profiles))


def scenario_inputs(model: str, hardware: str, profiles: ProfileSet | None = None, **kw):
    """(ModelSpec, engine Inputs) for one scenario: the raw arrays the engine works on.

    Useful to vary hardware numbers directly (``inp.hbm_bw *= 2``) in studies and tests.
    """
    df = _scenario_frame(model, hardware, **kw)
    return _inputs_for(df, profiles if profiles is not None else default_profiles())


def _inputs_for(df: pl.DataFrame, profiles: ProfileSet):
    norm = normalize(df.head(1))
    if norm.get_column("status")[0] != "ok":
        raise GenzError(norm.get_column("status")[0].removeprefix("error: "))
    spec = get_model(norm.get_column("_model")[0])
    hw = get_hardware(norm.get_column("_hardware")[0])
    inp, _, _ = engine_inputs(norm, [hw], np.zeros(1, dtype=int), profiles)
    return spec, inp


def operator_table(df: pl.DataFrame, profiles: ProfileSet | None = None) -> pl.DataFrame:
    """Per-operator breakdown of the first scenario of ``df``: one row per phase × operator.

    Columns: ``phase`` (prefill, decode), ``operator``, ``kind``, ``layers``, ``gflops`` and
    ``gbytes`` (per device, whole phase), their ``_per_step`` means, ``time_ms`` (whole phase),
    ``time_per_step_ms``,
    ``bound`` (compute / memory / network), ``share`` of the phase's operator time.
    """
    spec, inp = _inputs_for(df, profiles if profiles is not None else default_profiles())
    est = engine.estimate(spec, inp, want_ops=True)
    rows = []
    for phase, res in (("prefill", est.prefill), ("decode", est.decode)):
        steps = max(float(res.iterations[0]), 1.0)
        total = sum(float(d["time"][0]) for d in res.ops) or 1.0
        for d in res.ops:
            t = float(np.asarray(d["time"])[0])
            rows.append({
                "phase": phase, "layer_group": d.get("group", "model"), "operator": d["name"], "kind": d["kind"],
                "layers": float(d["count"]),
                "gflops": float(np.asarray(d["flops"])[0]) / GFLOP, "gbytes": float(np.asarray(d["bytes"])[0]) / GB,
                "net_gbytes": float(np.broadcast_to(d["net_bytes"], (1,))[0]) / GB,
                "gflops_per_step": float(np.asarray(d["flops"])[0]) / GFLOP / steps,
                "gbytes_per_step": float(np.asarray(d["bytes"])[0]) / GB / steps,
                "time_ms": t / MS, "time_per_step_ms": t / MS / steps,
                "bound": str(np.asarray(d["bound"]).reshape(-1)[0]), "share": t / total,
            })
    return pl.DataFrame(rows)


def models_table() -> pl.DataFrame:
    """The model zoo with key numbers (docs/reference.md §1 ``genz models --csv``)."""
    rows = []
    for m in all_models():
        rows.append({
            "model": m.id, "architecture": m.architecture, "model_type": m.model_type,
            "params_total": m.params_total, "params_active": m.params_active,
            "kv_bytes_per_token": int(m.kv_bytes_per_token(2.0)), "layers": m.n_layers, "hidden": m.hidden,
            "vocab": m.vocab, "attention_heads": m.attention_heads(), "max_context": m.max_context,
            "aliases": ";".join(m.aliases), "source": m.source,
        })
    return pl.DataFrame(rows)


def hardware_table() -> pl.DataFrame:
    """The hardware presets with key numbers (docs/reference.md §1 ``genz hardware --csv``)."""
    rows = []
    for h in all_hardware():
        pf = h.peak_flops
        rows.append({
            "hardware": h.id, "vendor": h.vendor, "peak_tflops_bf16": h.peak_tflops_bf16,
            "peak_tflops_fp8": pf.get("fp8", float("nan")) / TFLOPS if "fp8" in pf else None,
            "peak_tflops_fp4": pf.get("fp4", float("nan")) / TFLOPS if "fp4" in pf else None,
            "hbm_gb": h.hbm_bytes / GB, "hbm_gb_per_s": h.hbm_bw / GB,
            "scale_up_gb_per_s": h.scaleup_bw / GB, "scale_up_domain": h.scaleup_domain,
            "scale_out_gb_per_s": h.scaleout_bw / GB, "tdp_w": h.tdp_w,
            "usd_per_hour": h.usd_per_hour or None, "name": h.name,
        })
    return pl.DataFrame(rows)
