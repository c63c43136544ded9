"""The scenario table: columns, defaults and row-level validation.

One row is one inference scenario (CONTRACT.md §2). :func:`normalize` fills defaults, parses
numbers, canonicalizes dtypes and framework names, derives the device count, and gives each row a
``status`` of ``ok`` or a short reason; it never raises for a bad row, so one bad row cannot crash
a file. Extra columns pass through untouched.
"""

from __future__ import annotations

import re

import polars as pl

from . import dtypes
from .errors import GenzError

REQUIRED = ("model", "hardware", "input_tokens", "output_tokens")

#: integer columns and their defaults (None = derived)
INT_COLUMNS: dict[str, int | None] = {
    "input_tokens": None,
    "output_tokens": None,
    "tp": 1,
    "pp": 1,
    "ep": 1,
    "dp": None,
    "cp": 1,
    "num_devices": None,
    "batch_size": None,
    "chunk_size": 0,
    "spec_tokens": 0,
    "num_beams": 1,
    "decode_devices": 0,  # disaggregation: devices of the decode pool (0 = colocated)
    "max_num_tokens": 0,  # serving: token budget per iteration (0 = framework default)
}
FLOAT_COLUMNS: dict[str, float | None] = {
    "acceptance_rate": None,
    "usd_per_device_hour": None,
}
STR_COLUMNS = ("model", "hardware", "weight_dtype", "act_dtype", "kv_dtype", "framework", "draft_model",
               "metric", "offload")

METRICS = (
    "ttft_ms",
    "tpot_ms",
    "e2e_latency_ms",
    "throughput_tok_s",
    "throughput_tok_s_per_device",
    "max_throughput_tok_s",
)

#: serving stacks recognised in the free-text ``framework`` cell, by leading name
FRAMEWORKS: dict[str, str] = {
    "vllm": "vllm",
    "tensorrt-llm": "trtllm",
    "tensorrt_llm": "trtllm",
    "tensorrtllm": "trtllm",
    "trt-llm": "trtllm",
    "trtllm": "trtllm",
    "sglang": "sglang",
    "tgi": "tgi",
    "text-generation-inference": "tgi",
    "deepspeed": "deepspeed",
    "deepspeed-mii": "deepspeed",
    "lmdeploy": "lmdeploy",
    "llama.cpp": "llamacpp",
    "mlc": "mlc",
    "jetstream": "jetstream",
    "optimum-habana": "habana",
    "ipex-llm": "ipex",
    "huggingface": "hf",
    "transformers": "hf",
    "pytorch": "hf",
}

OFFLOAD = ("none", "weights", "kv", "both")


def framework_key(value: str | None) -> str:
    """Canonical serving-stack key for a free-text framework cell ('' → 'generic')."""
    if value is None:
        return "generic"
    text = str(value).strip().lower()
    if not text:
        return "generic"
    for name in sorted(FRAMEWORKS, key=len, reverse=True):
        if re.match(re.escape(name) + r"(\b|[\s\d(_-]|$)", text):
            return FRAMEWORKS[name]
    return "generic"


def _blank_to_null(col: str) -> pl.Expr:
    c = pl.col(col).cast(pl.String).str.strip_chars()
    return pl.when(c.is_null() | (c == "") | (c.str.to_lowercase().is_in(["nan", "none", "null", "na"]))) \
        .then(None).otherwise(c)


def normalize(df: pl.DataFrame) -> pl.DataFrame:
    """Fill defaults and validate every row; adds canonical ``_``-prefixed working columns.

    Returns the input columns unchanged plus working columns (prefixed ``_``) and ``status``.
    Raises :class:`GenzError` only when a required *column* is missing altogether.
    """
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise GenzError(
            f"scenario table: missing required column(s) {', '.join(missing)}; required: "
            + ", ".join(REQUIRED)
        )
    n = df.height
    work: dict[str, pl.Expr] = {}
    errs: list[pl.Expr] = []

    def present(col: str) -> bool:
        return col in df.columns

    for col in ("model", "hardware"):
        work["_" + col] = _blank_to_null(col)
        errs.append(pl.when(_blank_to_null(col).is_null()).then(pl.lit(f"error: {col} is blank")))

    for col, default in INT_COLUMNS.items():
        if present(col):
            raw = _blank_to_null(col)
            num = raw.cast(pl.Float64, strict=False)
            bad = raw.is_not_null() & (num.is_null() | (num != num.round(0)) | (num < 0))
            errs.append(pl.when(bad).then(pl.format(f"error: {col} '{{}}' is not a non-negative integer", raw)))
            val = pl.when(bad).then(None).otherwise(num).cast(pl.Int64, strict=False)
        else:
            val = pl.lit(None, dtype=pl.Int64)
        if default is not None:
            val = val.fill_null(default)
        work["_" + col] = val
    for col, default in FLOAT_COLUMNS.items():
        if present(col):
            raw = _blank_to_null(col)
            num = raw.cast(pl.Float64, strict=False)
            errs.append(pl.when(raw.is_not_null() & num.is_null())
                        .then(pl.format(f"error: {col} '{{}}' is not a number", raw)))
            work["_" + col] = num
        else:
            work["_" + col] = pl.lit(None, dtype=pl.Float64)

    for col in ("framework", "draft_model", "metric", "offload"):
        work["_" + col] = _blank_to_null(col) if present(col) else pl.lit(None, dtype=pl.String)
    out = df.with_columns(**work)

    # dtypes: canonicalize via a small mapping over the distinct values
    def dtype_col(col: str, fallback: str) -> pl.Expr:
        src = _blank_to_null(col) if present(col) else pl.lit(None, dtype=pl.String)
        return src.fill_null(pl.col(fallback)) if fallback.startswith("_") else src.fill_null(pl.lit(fallback))

    out = out.with_columns(_weight_dtype=dtype_col("weight_dtype", "bf16"))
    out = out.with_columns(_act_dtype=dtype_col("act_dtype", "_weight_dtype"))
    out = out.with_columns(_kv_dtype=dtype_col("kv_dtype", "_act_dtype"))
    for col in ("_weight_dtype", "_act_dtype", "_kv_dtype"):
        values = out.get_column(col).unique().drop_nulls().to_list()
        mapping: dict[str, str] = {}
        bad: dict[str, str] = {}
        for v in values:
            try:
                mapping[v] = dtypes.canonical(v)
            except GenzError:
                bad[v] = f"error: {col[1:]} '{v}' unknown; allowed: {', '.join(dtypes.ALLOWED)}"
        out = out.with_columns(
            pl.col(col).replace_strict(bad, default=None, return_dtype=pl.String).alias(col + "_err"),
            pl.col(col).replace_strict(mapping, default=None, return_dtype=pl.String),
        )
        errs.append(pl.col(col + "_err"))

    fw_values = out.get_column("_framework").unique().to_list()
    fw_map = {v: framework_key(v) for v in fw_values if v is not None}
    out = out.with_columns(
        _framework_key=pl.col("_framework").replace_strict(fw_map, default="generic", return_dtype=pl.String)
    )

    # metric names
    if present("metric"):
        errs.append(pl.when(pl.col("_metric").is_not_null() & ~pl.col("_metric").is_in(list(METRICS)))
                    .then(pl.format("error: metric '{}' unknown; allowed: " + ", ".join(METRICS), pl.col("_metric"))))
    if present("offload"):
        errs.append(pl.when(pl.col("_offload").is_not_null() & ~pl.col("_offload").str.to_lowercase().is_in(list(OFFLOAD)))
                    .then(pl.format("error: offload '{}' unknown; allowed: " + ", ".join(OFFLOAD), pl.col("_offload"))))

    # required numbers and ranges
    for col in ("input_tokens", "output_tokens"):
        errs.append(pl.when(pl.col("_" + col).is_null() & _blank_to_null(col).is_null())
                    .then(pl.lit(f"error: {col} is blank")))
        errs.append(pl.when(pl.col("_" + col) == 0).then(pl.lit(f"error: {col} must be >= 1")))
    for col in ("tp", "pp", "ep", "cp", "num_beams"):
        errs.append(pl.when(pl.col("_" + col) == 0).then(pl.lit(f"error: {col} must be >= 1")))
    errs.append(pl.when(pl.col("_batch_size") == 0).then(pl.lit("error: batch_size must be >= 1")))
    errs.append(pl.when(pl.col("_acceptance_rate").is_not_null() &
                        ((pl.col("_acceptance_rate") < 0) | (pl.col("_acceptance_rate") > 1)))
                .then(pl.lit("error: acceptance_rate must be in [0, 1]")))
    errs.append(pl.when((pl.col("_spec_tokens") > 0) & pl.col("_draft_model").is_null() &
                        pl.col("_acceptance_rate").is_null())
                .then(pl.lit("error: spec_tokens needs acceptance_rate (and a draft_model, or 'mtp'/'eagle')")))

    # devices: num_devices = tp·pp·cp·dp; dp derived from num_devices when blank
    base = pl.col("_tp") * pl.col("_pp") * pl.col("_cp")
    dp = (
        pl.when(pl.col("_dp").is_not_null()).then(pl.col("_dp"))
        .when(pl.col("_num_devices").is_not_null() & (base > 0) & (pl.col("_num_devices") % base == 0)
              & (pl.col("_num_devices") >= base))
        .then(pl.col("_num_devices") // base)
        .otherwise(1)
    )
    out = out.with_columns(_dp=dp)
    errs.append(pl.when(pl.col("_dp") == 0).then(pl.lit("error: dp must be >= 1")))
    out = out.with_columns(_devices=pl.col("_tp") * pl.col("_pp") * pl.col("_cp") * pl.col("_dp"))
    errs.append(
        pl.when(pl.col("_num_devices").is_not_null() & (pl.col("_num_devices") != pl.col("_devices")))
        .then(pl.format("error: num_devices {} != tp·pp·cp·dp = {}·{}·{}·{}", pl.col("_num_devices"),
                        pl.col("_tp"), pl.col("_pp"), pl.col("_cp"), pl.col("_dp")))
    )
    errs.append(
        pl.when((pl.col("_ep") > 1) & ((pl.col("_tp") * pl.col("_dp")) % pl.col("_ep") != 0)
                & (pl.col("_ep") % pl.col("_tp") != 0))
        .then(pl.format("error: ep {} must divide tp ({}) or be a multiple of tp dividing tp·dp",
                        pl.col("_ep"), pl.col("_tp")))
    )
    errs.append(
        pl.when((pl.col("_ep") > pl.col("_tp")) & ((pl.col("_tp") * pl.col("_dp")) % pl.col("_ep") != 0))
        .then(pl.format("error: ep {} > tp {} needs tp·dp ({}) divisible by ep", pl.col("_ep"), pl.col("_tp"),
                        pl.col("_tp") * pl.col("_dp")))
    )
    out = out.with_columns(pl.col("_num_devices").fill_null(pl.col("_devices")))

    out = out.with_columns(status=pl.coalesce(errs).fill_null("ok").cast(pl.String))
    return out.drop(["_weight_dtype_err", "_act_dtype_err", "_kv_dtype_err"])
