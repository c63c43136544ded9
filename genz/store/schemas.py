"""pandera schemas for every frame the pipeline writes (and so for every warehouse table it loads).

* :class:`EstimateFrame` — one estimation shard of the pipeline (parquet);
* :class:`OperatorFrame` — the per-operator rows of a shard's sampled scenarios (parquet);
* :class:`ValidationFrame` — measured rows with their held-out predictions
  (:func:`genz.calibrate.calibration.cross_validate`, ``results/calibration/validation.parquet``);
* :class:`RequirementFrame` and :class:`DeploymentFrame` — the SLO requirement and deployment
  searches (:func:`genz.requirements.sizing.search`).

:class:`PredictionColumns` holds the prediction columns estimates and deployments share (both come
from :func:`genz.perf.predict.predict_frame`), bands included. Measured rows
(``calibration/measurements/*.csv``) are read and checked by :mod:`genz.calibrate.measurements`
(:class:`~genz.calibrate.measurements.MeasurementFrame`).

The field descriptions are the warehouse's data dictionary (:func:`genz.store.warehouse.column_docs`),
and the fields' types give the DDL of a table with no rows (:func:`genz.store.sqlgen.create_table_sql`).

``SCHEMA_VERSION`` changes whenever a column is renamed, retyped or changes meaning; the pipeline
passes it as a rule parameter so every shard regenerates.
"""

from __future__ import annotations

from pathlib import Path

import pandera.polars as pa
import polars as pl

from ..calibrate.measurements import MeasurementFrame
from ..errors import GenzError
from ..perf.scenarios import METRICS

SCHEMA_VERSION = "1"

#: the metrics predict_frame gives an 80 % band (``<metric>_low``, ``<metric>_high``)
BAND_METRICS = METRICS  # every metric carries its band (genz.perf.scenarios.METRICS: the one list)
BOTTLENECKS = ["compute", "memory", "network", "overhead"]


def _band(metric: str, end: str, unit: str = ""):
    # the band genz.perf.predict computed (calibrated 80 % band; widened beyond the measured range)
    return pa.Field(nullable=True, description=f"80 % band of {metric} (as genz.predict computed it), {end} end{unit}")


class PredictionColumns(pa.DataFrameModel):
    """The prediction columns of a scenario row (:func:`genz.perf.predict.predict_frame`), shared by
    :class:`EstimateFrame` and :class:`DeploymentFrame`."""

    ttft_ms: pl.Float64 = pa.Field(gt=0, nullable=True, description="time to first token of the batch, ms")
    tpot_ms: pl.Float64 = pa.Field(gt=0, nullable=True, description="mean decode step, ms")
    e2e_latency_ms: pl.Float64 = pa.Field(gt=0, nullable=True, description="whole batch, ms")
    throughput_tok_s: pl.Float64 = pa.Field(gt=0, nullable=True, description="output tokens/s, whole system")
    throughput_tok_s_per_device: pl.Float64 = pa.Field(gt=0, nullable=True,
                                                       description="output tokens/s per device")
    max_throughput_tok_s: pl.Float64 = pa.Field(gt=0, nullable=True, description="max-load output tokens/s")
    # the calibrated 80 % band of every metric above (nullable: no band where there is no prediction)
    ttft_ms_low: pl.Float64 = _band("ttft_ms", "lower", ", ms")
    ttft_ms_high: pl.Float64 = _band("ttft_ms", "upper", ", ms")
    tpot_ms_low: pl.Float64 = _band("tpot_ms", "lower", ", ms")
    tpot_ms_high: pl.Float64 = _band("tpot_ms", "upper", ", ms")
    e2e_latency_ms_low: pl.Float64 = _band("e2e_latency_ms", "lower", ", ms")
    e2e_latency_ms_high: pl.Float64 = _band("e2e_latency_ms", "upper", ", ms")
    throughput_tok_s_low: pl.Float64 = _band("throughput_tok_s", "lower")
    throughput_tok_s_high: pl.Float64 = _band("throughput_tok_s", "upper")
    throughput_tok_s_per_device_low: pl.Float64 = _band("throughput_tok_s_per_device", "lower")
    throughput_tok_s_per_device_high: pl.Float64 = _band("throughput_tok_s_per_device", "upper")
    max_throughput_tok_s_low: pl.Float64 = _band("max_throughput_tok_s", "lower")
    max_throughput_tok_s_high: pl.Float64 = _band("max_throughput_tok_s", "upper")
    max_throughput_batch: pl.Float64 = pa.Field(nullable=True,
                                                description="sequences in flight at max load (KV-limited, "
                                                            "framework defaults)")
    max_throughput_tpot_ms: pl.Float64 = pa.Field(nullable=True, description="decode step at max load, ms")
    bottleneck: str = pa.Field(nullable=True, isin=BOTTLENECKS,
                               description="what most of the end-to-end time is spent on")
    prefill_bottleneck: str = pa.Field(nullable=True, description="what most prefill time is spent on: compute, "
                                                                  "memory, network or overhead")
    decode_bottleneck: str = pa.Field(nullable=True, description="what most decode time is spent on: compute, "
                                                                 "memory, network or overhead")
    status: str = pa.Field(description="ok, or why no prediction was made")
    memory_per_device_gb: pl.Float64 = pa.Field(ge=0, nullable=True,
                                                description="HBM used per device: weights + KV + activations, GB")
    weights_per_device_gb: pl.Float64 = pa.Field(nullable=True, description="weights resident per device (after "
                                                                            "TP/PP/EP split and offload), GB")
    kv_cache_per_device_gb: pl.Float64 = pa.Field(nullable=True, description="KV cache of the batch per device at "
                                                                             "the final context, GB")
    activations_per_device_gb: pl.Float64 = pa.Field(nullable=True, description="activation workspace per device, GB")
    max_batch_fit: pl.Float64 = pa.Field(nullable=True, description="most sequences whose KV fits beside weights "
                                                                    "and workspace (x dp)")
    concurrency: pl.Float64 = pa.Field(nullable=True, description="sequences resident at once (below batch_size "
                                                                  "when the batch runs in waves)")
    prefill_flops: pl.Float64 = pa.Field(nullable=True, description="FLOPs of prefill, whole deployment")
    decode_flops: pl.Float64 = pa.Field(nullable=True, description="FLOPs of all decode steps, whole deployment")
    prefill_compute_ms: pl.Float64 = pa.Field(nullable=True, description="prefill time in compute-bound "
                                                                         "operators, ms")
    prefill_memory_ms: pl.Float64 = pa.Field(nullable=True, description="prefill time in memory-bound operators, ms")
    prefill_network_ms: pl.Float64 = pa.Field(nullable=True, description="prefill time in collectives, ms")
    prefill_overhead_ms: pl.Float64 = pa.Field(nullable=True, description="prefill time in fixed overheads (kernel "
                                                                          "launch, per-step, per-request), ms")
    decode_compute_ms: pl.Float64 = pa.Field(nullable=True, description="decode time (all steps) in compute-bound "
                                                                        "operators, ms")
    decode_memory_ms: pl.Float64 = pa.Field(nullable=True, description="decode time (all steps) in memory-bound "
                                                                       "operators, ms")
    decode_network_ms: pl.Float64 = pa.Field(nullable=True, description="decode time (all steps) in collectives, ms")
    decode_overhead_ms: pl.Float64 = pa.Field(nullable=True, description="decode time (all steps) in fixed "
                                                                         "overheads, ms")
    energy_j_per_token: pl.Float64 = pa.Field(ge=0, nullable=True, description="energy per output token, J")
    usd_per_million_tokens: pl.Float64 = pa.Field(ge=0, nullable=True,
                                                  description="device rental cost per million output tokens, USD")
    calibration: str = pa.Field(nullable=True, description=(
        "calibration label: calibrated / inherited from <platforms> / prior, then the profile id; "
        "'; extrapolated: ...' follows beyond the measured range"))
    profile: str = pa.Field(nullable=True, description="id of the calibration profile used")

    class Config:
        strict = False


class EstimateFrame(PredictionColumns):
    """One row per (experiment, scenario): the scenario's typed columns and its predictions
    (:class:`PredictionColumns`, bands included)."""

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
    meets_ttft: bool = pa.Field(description="TTFT bound met at the SLO confidence (genz.requirements.slo: the 80 % "
                                            "band's upper end within the bound); true without a bound")
    meets_tpot: bool = pa.Field(description="TPOT bound met at the SLO confidence; true without a bound")
    meets_e2e: bool = pa.Field(description="end-to-end bound met at the SLO confidence; true without a bound")
    meets_slo: bool = pa.Field(description="every SLO bound met at the SLO confidence (the band's upper end, p90); "
                                           "false for a row that does not run")
    meets_slo_point: bool = pa.Field(description="every bound met by the point estimate (no margin), beside "
                                                 "meets_slo")
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


class ValidationFrame(MeasurementFrame):
    """A measured row (:class:`~genz.calibrate.measurements.MeasurementFrame`) with its held-out
    prediction, once per validation scheme (:func:`genz.calibrate.calibration.cross_validate`)."""

    platform: str = pa.Field(nullable=True, description="hardware preset id the measurement maps to")
    framework_key: str = pa.Field(nullable=True, description="serving framework key of the row")
    stack: str = pa.Field(nullable=True, description=(
        "serving stack the row ran (its framework, a vendor variant such as vllm-rocm@cdna3, or unstated:<study>); "
        "the held-out prediction uses it if the fit saw it, else its framework's or the reference stack"))
    source_group: str = pa.Field(nullable=True, description=(
        "the study the row comes from (first word of source); the unit held out by scheme 'source'"))
    model_id: str = pa.Field(nullable=True, description="zoo model id the measurement maps to")
    scheme: str = pa.Field(nullable=True, description=(
        "validation scheme: 'model' = 5 folds grouped by model; 'source' = leave one source study out"))
    fold: pl.Int32 = pa.Field(nullable=True, description="held-out fold within the scheme (a model group, or one "
                                                         "source study)")
    predicted_oof: pl.Float64 = pa.Field(nullable=True, description="prediction from profiles fitted without this "
                                                                    "row's fold, in the metric's unit")
    profile_oof: str = pa.Field(nullable=True, description="profile used for predicted_oof")
    log_ratio: pl.Float64 = pa.Field(nullable=True, description="ln(value / predicted_oof)")
    rel_err: pl.Float64 = pa.Field(nullable=True, description="|value - predicted_oof| / value")

    class Config:
        strict = False


class RequirementFrame(pa.DataFrameModel):
    """SLO requirement search: per deployment (model x use case x platform) and resource, the least of
    the resource that still meets the SLO (:func:`genz.requirements.sizing.search`)."""

    resource: str = pa.Field(description="resource scaled alone: compute, memory_bandwidth, memory_capacity, "
                                         "interconnect_bandwidth or interconnect_latency")
    unit: str = pa.Field(nullable=True, description="unit of required and available (TFLOP/s, GB/s, GB, GB/s, us)")
    available: pl.Float64 = pa.Field(nullable=True, description="what one device of the platform has (datasheet "
                                                                "value, per device), in unit")
    required: pl.Float64 = pa.Field(nullable=True, description=(
        "least of the resource that still meets the SLO with everything else as is (latency: the most tolerable), "
        "in unit; inf (latency: 0) when unattainable"))
    ratio: pl.Float64 = pa.Field(nullable=True, description="required / available (latency: available / required); "
                                                            "above 1 the platform falls short")
    status: str = pa.Field(nullable=True, description=(
        "ok: bisected boundary; not binding: met even at 1/256 of the resource (latency: 256x); unattainable: not "
        "met even at 256x (latency: zero)"))
    meets_slo_as_is: bool = pa.Field(nullable=True, description="whether the deployment meets the SLO on the "
                                                                "platform as it is")
    binding: bool = pa.Field(nullable=True, description=(
        "true for the resource with the highest finite ratio of this model x use case x platform; no row is true "
        "when every resource is unattainable"))
    model: str = pa.Field(description="model id of the deployment")
    use_case: str = pa.Field(description="use case name from the use-case library (genz/data/usecases.yaml)")
    hardware: str = pa.Field(description="platform id of the deployment")
    tp: pl.Int64 = pa.Field(nullable=True, description="tensor-parallel degree of the deployment")
    pp: pl.Int64 = pa.Field(nullable=True, description="pipeline-parallel degree of the deployment")
    ep: pl.Int64 = pa.Field(nullable=True, description="expert-parallel degree of the deployment")
    batch_size: pl.Int64 = pa.Field(nullable=True, description="concurrent sequences of the deployment")
    meets_slo: bool = pa.Field(nullable=True, description=(
        "whether the chosen deployment meets the SLO (false: the fastest layout that runs, or the largest layout "
        "when none fits)"))
    experiment: str = pa.Field(description="experiment (grid) name that asked for the search")

    class Config:
        strict = False


class DeploymentFrame(PredictionColumns):
    """Deployment search: per model x use case x platform, the cheapest layout x batch meeting the SLO
    (else the fastest that runs), with its predictions (:func:`genz.requirements.sizing.search`)."""

    model: str = pa.Field(description="model id of the deployment")
    hardware: str = pa.Field(description="platform id of the deployment")
    tp: pl.Int64 = pa.Field(nullable=True, description="tensor-parallel degree of the deployment")
    pp: pl.Int64 = pa.Field(nullable=True, description="pipeline-parallel degree of the deployment")
    ep: pl.Int64 = pa.Field(nullable=True, description="expert-parallel degree of the deployment")
    batch_size: pl.Int64 = pa.Field(nullable=True, description="concurrent sequences of the deployment")
    input_tokens: pl.Int64 = pa.Field(nullable=True, description="prompt tokens per request (the use case's)")
    output_tokens: pl.Int64 = pa.Field(nullable=True, description="generated tokens per request (the use case's)")
    weight_dtype: str = pa.Field(nullable=True, description="weight precision (bf16, fp8, int4, ...)")
    kv_dtype: str = pa.Field(nullable=True, description="KV-cache precision")
    framework: str = pa.Field(nullable=True, description="serving stack of the deployment")
    use_case: str = pa.Field(description="use case name from the use-case library (genz/data/usecases.yaml)")
    slo_ttft_ms: pl.Float64 = pa.Field(nullable=True, description="SLO on time to first token, ms (null: none)")
    slo_tpot_ms: pl.Float64 = pa.Field(nullable=True, description="SLO on time per output token, ms (null: none)")
    slo_e2e_ms: pl.Float64 = pa.Field(nullable=True, description="SLO on end-to-end latency, ms (null: none)")
    max_throughput_ttft_ms: pl.Float64 = pa.Field(nullable=True, description=(
        "TTFT at max load (iteration time x prefill chunks, no queueing), ms"))
    offloaded_gb: pl.Float64 = pa.Field(nullable=True, description="bytes kept in host memory and streamed per "
                                                                   "step, GB")
    tokens_per_step: pl.Float64 = pa.Field(nullable=True, description=(
        "expected tokens accepted per decode step (1 without speculative decoding)"))
    meets_slo: bool = pa.Field(nullable=True, description=(
        "true: the cheapest layout x batch meeting every SLO; false: none does, this is the lowest-TPOT layout that "
        "runs (or, where none fits, the largest layout at batch 1)"))
    devices: pl.Int64 = pa.Field(nullable=True, description="devices of the deployment, tp x pp")
    goodput_tok_s_per_device: pl.Float64 = pa.Field(nullable=True, description=(
        "highest output tokens/s per device among the candidates meeting the SLO"))
    experiment: str = pa.Field(description="experiment (grid) name that asked for the search")

    class Config:
        strict = False


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


class FrontierFrame(pa.DataFrameModel):
    """The serving frontier (:func:`genz.requirements.frontier.sweep`): one row per experiment x model x
    workload x precision x hardware x deployment x concurrency point; ``on_frontier`` marks the Pareto
    frontier of output tokens/s per GPU vs interactivity of each hardware."""

    experiment: str = pa.Field(description="experiment (grid) name that asked for the sweep")
    model: str = pa.Field(description="model as written in the grid")
    model_id: str = pa.Field(description="canonical model id (zoo)")
    hardware: str = pa.Field(description="hardware as written in the grid")
    hardware_id: str = pa.Field(description="canonical hardware preset id")
    framework: str = pa.Field(nullable=True, description="serving stack (null: the reference stack)")
    input_tokens: pl.Int64 = pa.Field(ge=1, description="prompt tokens per request (nominal L)")
    output_tokens: pl.Int64 = pa.Field(ge=1, description="generated tokens per request (nominal L)")
    length_ratio: pl.Float64 = pa.Field(gt=0, le=1, description=(
        "request lengths uniform in [length_ratio·L, L], the benchmark's random range ratio"))
    weight_dtype: str = pa.Field(description="weight precision (bf16, fp8, fp4, ...)")
    act_dtype: str = pa.Field(description="activation / matmul precision")
    kv_dtype: str = pa.Field(description="KV-cache precision")
    mode: str = pa.Field(isin=["tp", "tp-ep", "dp-attention", "disaggregated"], description=(
        "deployment kind: tp (one TP group), tp-ep (MoE experts split across the TP group), dp-attention (MoE: "
        "attention data-parallel, experts split across all ranks, EP = DP), disaggregated (prefill and decode pools)"))
    deployment: str = pa.Field(description="the deployment in short: TP8, TP8 EP8, DP8-attn EP8, 1P TP4 + 1D TP8")
    tp: pl.Int64 = pa.Field(ge=1, description="tensor-parallel degree (disaggregated: of a decode worker)")
    ep: pl.Int64 = pa.Field(ge=1, description="expert-parallel degree (disaggregated: of a decode worker)")
    dp: pl.Int64 = pa.Field(ge=1, description="attention data-parallel ranks (dp-attention), else 1")
    dp_attention: bool = pa.Field(description="attention runs data-parallel with experts across the ranks")
    prefill_workers: pl.Int64 = pa.Field(ge=0, description="prefill workers of a disaggregated deployment (0: none)")
    prefill_tp: pl.Int64 = pa.Field(ge=0, description="TP of each prefill worker (0: not disaggregated)")
    decode_workers: pl.Int64 = pa.Field(ge=0, description="decode workers of a disaggregated deployment (0: none)")
    decode_tp: pl.Int64 = pa.Field(ge=0, description="TP of each decode worker (0: not disaggregated)")
    num_devices: pl.Int64 = pa.Field(ge=1, description="devices of the deployment (both pools when disaggregated)")
    concurrency: pl.Int64 = pa.Field(ge=1, description="client concurrency: requests in flight")
    ttft_ms: pl.Float64 = pa.Field(nullable=True, description="time to first token, ms")
    ttft_ms_low: pl.Float64 = _band("ttft_ms", "lower", ", ms")
    ttft_ms_high: pl.Float64 = _band("ttft_ms", "upper", ", ms")
    tpot_ms: pl.Float64 = pa.Field(nullable=True, description="time per output token, ms")
    tpot_ms_low: pl.Float64 = _band("tpot_ms", "lower", ", ms")
    tpot_ms_high: pl.Float64 = _band("tpot_ms", "upper", ", ms")
    e2e_latency_ms: pl.Float64 = pa.Field(nullable=True, description="request latency, ms")
    throughput_tok_s: pl.Float64 = pa.Field(nullable=True, description="output tokens/s of the whole deployment")
    throughput_tok_s_per_device: pl.Float64 = pa.Field(nullable=True, description=(
        "output tokens/s per GPU (the frontier's y): deployment output tokens/s / num_devices"))
    throughput_tok_s_per_device_low: pl.Float64 = _band("throughput_tok_s_per_device", "lower", ", tokens/s")
    throughput_tok_s_per_device_high: pl.Float64 = _band("throughput_tok_s_per_device", "upper", ", tokens/s")
    energy_j_per_token: pl.Float64 = pa.Field(nullable=True, description="device energy per output token, J")
    usd_per_million_tokens: pl.Float64 = pa.Field(nullable=True, description=(
        "device rental cost per million output tokens, USD (price per device-hour / (3600 · tokens/s per GPU) · 1e6)"))
    memory_per_device_gb: pl.Float64 = pa.Field(nullable=True, description="HBM used per device, GB")
    bottleneck: str = pa.Field(nullable=True, description="what most of the time is spent on")
    status: str = pa.Field(description="ok, or why the point has no prediction (does_not_fit: ..., unsupported: ...)")
    calibration: str = pa.Field(nullable=True, description=(
        "calibration label: calibrated (the chip was measured) / inherited from <platforms> / prior (assumed), "
        "then the profile id"))
    profile: str = pa.Field(nullable=True, description="id of the calibration profile used")
    interactivity_tok_s_user: pl.Float64 = pa.Field(nullable=True, description=(
        "interactivity (the frontier's x): output tokens/s per user = 1000 / tpot_ms"))
    interactivity_tok_s_user_low: pl.Float64 = pa.Field(nullable=True, description=(
        "80 % band of the interactivity, lower end (1000 / tpot_ms_high)"))
    interactivity_tok_s_user_high: pl.Float64 = pa.Field(nullable=True, description=(
        "80 % band of the interactivity, upper end (1000 / tpot_ms_low)"))
    usd_per_million_tokens_low: pl.Float64 = pa.Field(nullable=True, description=(
        "80 % band of the cost, low end (cost at the throughput band's upper end), USD per million output tokens"))
    usd_per_million_tokens_high: pl.Float64 = pa.Field(nullable=True, description=(
        "80 % band of the cost, high end (cost at the throughput band's lower end), USD per million output tokens"))
    power_per_device_w: pl.Float64 = pa.Field(nullable=True, description=(
        "mean board power per device while serving, W (tokens/s per GPU x J per token; TDP x per-kind power "
        "fractions)"))
    tok_s_per_mw: pl.Float64 = pa.Field(nullable=True, description=(
        "output tokens/s per MW of accelerator board power (1e6 / energy_j_per_token; no host, network or cooling)"))
    tok_s_per_mw_low: pl.Float64 = pa.Field(nullable=True, description=(
        "80 % band of tok_s_per_mw, lower end (the throughput band's lower end at the same power)"))
    tok_s_per_mw_high: pl.Float64 = pa.Field(nullable=True, description=(
        "80 % band of tok_s_per_mw, upper end (the throughput band's upper end at the same power)"))
    frontier_rank: pl.Int64 = pa.Field(nullable=True, description=(
        "position along the hardware's frontier by increasing interactivity (1 = highest throughput); null off it"))
    on_frontier: bool = pa.Field(description=(
        "the point is on its hardware's Pareto frontier: no other ok point of the same model x hardware x framework x "
        "workload (x precision in the pipeline) has both higher-or-equal interactivity and throughput per GPU"))
    interactivity_target: pl.Float64 = pa.Field(gt=0, description=(
        "interactivity at which the experiment compares cost and tokens per MW (its frontier.interactivity), "
        "tokens/s per user"))

    class Config:
        strict = False
