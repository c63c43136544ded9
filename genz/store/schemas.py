"""pandera schemas for every frame the pipeline writes.

* :class:`EstimateFrame` — one estimation shard of the pipeline (parquet);
* :class:`OperatorFrame` — the per-operator rows of a shard's sampled scenarios (parquet).

Measured rows (``calibration/measurements/*.csv``) are read and checked by
:mod:`genz.calibrate.measurements` (:class:`~genz.calibrate.measurements.MeasurementFrame`).

``SCHEMA_VERSION`` changes whenever a column is renamed, retyped or changes meaning; the pipeline
passes it as a rule parameter so every shard regenerates.
"""

from __future__ import annotations

from pathlib import Path

import pandera.polars as pa
import polars as pl

from ..errors import GenzError

SCHEMA_VERSION = "1"


class EstimateFrame(pa.DataFrameModel):
    """One row per (experiment, scenario): the scenario's typed columns and its predictions."""

    experiment: str = pa.Field(str_matches=r"^[a-z0-9][a-z0-9._-]*$", description="experiment name")
    scenario_id: str = pa.Field(str_matches=r"^[0-9a-f]{16}$", description="stable hash of the scenario columns")
    model: str = pa.Field(description="model as written in the grid")
    model_id: str = pa.Field(nullable=True, description="canonical model id (zoo)")
    hardware: str = pa.Field(description="hardware as written in the grid")
    hardware_id: str = pa.Field(nullable=True, description="canonical hardware preset id")
    framework: str = pa.Field(nullable=True, description="serving stack")
    use_case: str = pa.Field(nullable=True, description="use case name (library) if the grid used one")
    input_tokens: pl.Int64 = pa.Field(ge=1, nullable=True, description="prompt tokens per request")
    output_tokens: pl.Int64 = pa.Field(ge=1, nullable=True, description="generated tokens per request")
    batch_size: pl.Int64 = pa.Field(ge=1, nullable=True, description="requests processed together")
    tp: pl.Int64 = pa.Field(ge=1, nullable=True, description="tensor-parallel degree")
    pp: pl.Int64 = pa.Field(ge=1, nullable=True, description="pipeline-parallel degree (stages)")
    ep: pl.Int64 = pa.Field(ge=1, nullable=True, description="expert-parallel degree (MoE)")
    dp: pl.Int64 = pa.Field(ge=1, nullable=True, description="data-parallel replicas")
    cp: pl.Int64 = pa.Field(ge=1, nullable=True, description="context (sequence) parallel degree")
    num_devices: pl.Int64 = pa.Field(ge=1, nullable=True, description="accelerators in the deployment")
    weight_dtype: str = pa.Field(nullable=True, description="weight precision (bf16, fp8, int4, ...)")
    act_dtype: str = pa.Field(nullable=True, description="activation / matmul precision")
    kv_dtype: str = pa.Field(nullable=True, description="KV-cache precision")
    slo_ttft_ms: pl.Float64 = pa.Field(gt=0, nullable=True, description="use case's TTFT bound, ms")
    slo_tpot_ms: pl.Float64 = pa.Field(gt=0, nullable=True, description="use case's TPOT bound, ms")
    slo_e2e_ms: pl.Float64 = pa.Field(gt=0, nullable=True, description="use case's end-to-end bound, ms")
    ttft_ms: pl.Float64 = pa.Field(gt=0, nullable=True, description="time to first token of the batch, ms")
    tpot_ms: pl.Float64 = pa.Field(gt=0, nullable=True, description="mean decode step, ms")
    e2e_latency_ms: pl.Float64 = pa.Field(gt=0, nullable=True, description="whole batch, ms")
    throughput_tok_s: pl.Float64 = pa.Field(gt=0, nullable=True, description="output tokens/s, whole system")
    throughput_tok_s_per_device: pl.Float64 = pa.Field(gt=0, nullable=True,
                                                       description="output tokens/s per device")
    max_throughput_tok_s: pl.Float64 = pa.Field(gt=0, nullable=True, description="max-load output tokens/s")
    memory_per_device_gb: pl.Float64 = pa.Field(ge=0, nullable=True,
                                                description="HBM used per device: weights + KV + activations, GB")
    energy_j_per_token: pl.Float64 = pa.Field(ge=0, nullable=True, description="energy per output token, J")
    usd_per_million_tokens: pl.Float64 = pa.Field(ge=0, nullable=True,
                                                  description="device rental cost per million output tokens, USD")
    bottleneck: str = pa.Field(nullable=True, isin=["compute", "memory", "network", "overhead"],
                               description="what most of the end-to-end time is spent on")
    status: str = pa.Field(description="ok, or why no prediction was made")
    calibration: str = pa.Field(nullable=True, description="calibrated / uncalibrated / extrapolated: ...")
    profile: str = pa.Field(nullable=True, description="id of the calibration profile used")
    genz_fingerprint: str = pa.Field(description="hash of the genz sources that produced the row")

    class Config:
        strict = False
        unique = ["experiment", "scenario_id"]

    @pa.dataframe_check(description="e2e latency is at least the time to first token")
    def e2e_covers_ttft(cls, data) -> pl.LazyFrame:
        c = data.lazyframe.select(
            (pl.col("e2e_latency_ms").is_null() | pl.col("ttft_ms").is_null()
             | (pl.col("e2e_latency_ms") >= pl.col("ttft_ms") * (1 - 1e-9))).alias("ok"))
        return c

    @pa.dataframe_check(description="an ok row has a prediction")
    def ok_rows_predicted(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(
            ((pl.col("status") != "ok") | pl.col("e2e_latency_ms").is_not_null()
             | pl.col("max_throughput_tok_s").is_not_null()).alias("ok"))


class OperatorFrame(pa.DataFrameModel):
    """Per-operator breakdown rows: one per (experiment, scenario, phase, operator)."""

    experiment: str = pa.Field(description="experiment name")
    scenario_id: str = pa.Field(str_matches=r"^[0-9a-f]{16}$", description="scenario the operator belongs to")
    phase: str = pa.Field(isin=["prefill", "decode"], description="prefill, or decode (all steps)")
    layer_group: str = pa.Field(description="layer class the operator belongs to (g<i>:<mixer>+<ffn>x<count>)")
    operator: str = pa.Field(description="operator name (qkv_proj, attn_decode, ffn_up, all_reduce, ...)")
    kind: str = pa.Field(isin=["gemm", "attention", "elementwise", "embedding", "ssm", "comm"],
                         description="operator kind")
    layers: pl.Float64 = pa.Field(ge=0, description="layers (per device) the operator runs in")
    gflops: pl.Float64 = pa.Field(ge=0, description="per device, whole phase")
    gbytes: pl.Float64 = pa.Field(ge=0, description="HBM bytes per device, whole phase (GB)")
    net_gbytes: pl.Float64 = pa.Field(ge=0, description="bytes sent over the network per device (GB)")
    time_ms: pl.Float64 = pa.Field(ge=0, description="time in this operator over the phase, ms")
    bound: str = pa.Field(isin=["compute", "memory", "network"], description="roofline side that sets its time")

    class Config:
        strict = False
        unique = ["experiment", "scenario_id", "phase", "layer_group", "operator"]


def validate_frame(model, df: pl.DataFrame, failures_path: str | Path | None = None) -> pl.DataFrame:
    """Validate ``df`` against a pandera model (all checks, lazily collected).

    On failure the failure cases are written to ``failures_path`` (parquet) when given, and a
    :class:`GenzError` with pandera's report is raised.
    """
    try:
        return model.validate(df, lazy=True)
    except pa.errors.SchemaErrors as err:
        if failures_path is not None:
            Path(failures_path).parent.mkdir(parents=True, exist_ok=True)
            err.failure_cases.write_parquet(failures_path)
        report = str(err)
        if len(report) > 4000:
            report = report[:4000] + " ... (truncated; full failure cases in the failures file)"
        raise GenzError(f"{model.__name__} validation failed:\n{report}") from None
