"""The scenario table: columns, defaults and row-level validation.

One row is one inference scenario (docs/reference.md §2). :func:`normalize` fills defaults, parses
numbers, canonicalizes dtypes and framework names, derives the device count, and gives each row a
``status`` of ``ok`` or a short reason; it never raises for a bad row, so one bad row cannot crash
a file. Extra columns pass through untouched.
"""

from __future__ import annotations

import polars as pl

from ..catalog import dtypes
from ..catalog.frameworks import framework_key
from ..catalog.units import MAX_TOKENS
from ..errors import GenzError
from . import concurrency as closed_loop
from . import layouts

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
    "decode_tp": 0,  # disaggregation: TP of the decode pool (0 = prefill and decode colocated)
    "decode_pp": 0,  # disaggregation: PP of the decode pool (default 1 when decode_tp is set)
    "max_num_tokens": 0,  # serving: token budget per iteration (0 = framework default)
    **layouts.INT_COLUMNS,  # dp_attention, prefill/decode workers, decode_ep, decode_dp_attention
    **closed_loop.INT_COLUMNS,  # concurrency, num_prompts (closed-loop serving)
}
#: largest value each integer column takes (a typo like 1e30 or inf is an error, never a default):
#: 100 M tokens per request, 1 M devices along any parallel axis, 10 M requests in a batch
INT_MAX: dict[str, int] = {
    "input_tokens": MAX_TOKENS, "output_tokens": MAX_TOKENS, "tp": 1_048_576, "pp": 1_048_576,
    "ep": 1_048_576, "dp": 1_048_576, "cp": 1_048_576, "num_devices": 1_048_576, "batch_size": 10_000_000,
    "chunk_size": 100_000_000, "spec_tokens": 64, "num_beams": 1024, "decode_tp": 1_048_576,
    "decode_pp": 1_048_576, "max_num_tokens": 100_000_000, **layouts.INT_MAX, **closed_loop.INT_MAX,
}
#: allowed range of each float column
FLOAT_RANGE: dict[str, tuple[float, float]] = {"acceptance_rate": (0.0, 1.0), "usd_per_device_hour": (0.0, 1e6),
                                               **closed_loop.FLOAT_RANGE}
FLOAT_COLUMNS: dict[str, float | None] = {
    "acceptance_rate": None,
    "usd_per_device_hour": None,
    **closed_loop.FLOAT_COLUMNS,  # length_ratio
}
#: yes/no columns (default no): ``allow_long_context`` lets a prompt + output run past the model's
#: maximum context (``max_position_embeddings``), which is otherwise a row error
BOOL_COLUMNS = ("allow_long_context",)
#: accepted spellings of yes and no (case-insensitive; a blank cell is no)
TRUE_WORDS = ("true", "yes", "y", "t", "1")
FALSE_WORDS = ("false", "no", "n", "f", "0")
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

OFFLOAD = ("none", "weights", "kv", "both")


_BLANKS = ["", "nan", "none", "null", "na", "n/a"]


def _text(col: str) -> pl.Expr:
    """A column as trimmed text with blank-like cells as null."""
    c = pl.col(col).cast(pl.String).str.strip_chars()
    return pl.when(c.str.to_lowercase().is_in(_BLANKS)).then(None).otherwise(c)


def _num(col: str) -> pl.Expr:
    """A column as float; unparsable and blank cells become null (checked separately)."""
    x = pl.col(col).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    return pl.when(x.is_nan()).then(None).otherwise(x)


def normalize(df: pl.DataFrame) -> pl.DataFrame:
    """Fill defaults and validate every row; adds canonical ``_``-prefixed working columns.

    Returns the input columns unchanged plus working columns (prefixed ``_``) and ``status``.
    Raises :class:`GenzError` only when a required *column* is missing altogether.

    Checks are boolean columns evaluated for all rows at once; the human-readable message is
    built only for the (usually few) rows that fail one.
    """
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise GenzError(
            f"scenario table: missing required column(s) {', '.join(missing)}; required: "
            + ", ".join(REQUIRED)
        )

    def present(col: str) -> bool:
        return col in df.columns

    work: dict[str, pl.Expr] = {}
    for col in ("model", "hardware", "framework", "draft_model", "metric", "offload", "weight_dtype", "act_dtype",
                "kv_dtype"):
        work["_" + col] = _text(col) if present(col) else pl.lit(None, dtype=pl.String)
    for col in BOOL_COLUMNS:
        work["_" + col + "_raw"] = _text(col).str.to_lowercase() if present(col) else pl.lit(None, dtype=pl.String)
    for col in INT_COLUMNS:
        work["_" + col + "_f"] = _num(col) if present(col) else pl.lit(None, dtype=pl.Float64)
    for col in FLOAT_COLUMNS:
        work["_" + col] = _num(col) if present(col) else pl.lit(None, dtype=pl.Float64)
    out = df.with_columns(**work)

    # integer columns: non-negative whole numbers; a cell that is text or fractional is an error
    checks: list[tuple[pl.Expr, pl.Expr]] = []  # (failing?, message) in priority order
    for col in ("model", "hardware"):
        checks.append((pl.col("_" + col).is_null(), pl.lit(f"error: {col} is blank")))
    int_exprs = {}
    for col, default in INT_COLUMNS.items():
        f = pl.col("_" + col + "_f")
        if present(col):
            raw = pl.col(col).cast(pl.String)
            unparsable = f.is_null() & raw.is_not_null() & ~raw.str.strip_chars().str.to_lowercase().is_in(_BLANKS)
            bad = unparsable | (f.is_not_null() & (~f.is_finite() | (f != f.round(0)) | (f < 0)
                                                   | (f > INT_MAX[col])))
            checks.append((bad, pl.format(f"error: {col} '{{}}' is not an integer in [0, {INT_MAX[col]:,}]",
                                          raw.str.strip_chars())))
        else:
            bad = pl.lit(False)
        v = pl.when(bad).then(None).otherwise(f).cast(pl.Int64, strict=False)
        int_exprs["_" + col] = v.fill_null(default) if default is not None else v
    for col in FLOAT_COLUMNS:
        if present(col):
            raw = pl.col(col).cast(pl.String)
            lo, hi = FLOAT_RANGE[col]
            x = pl.col("_" + col)
            checks.append((pl.col("_" + col).is_null() & raw.is_not_null()
                           & ~raw.str.strip_chars().str.to_lowercase().is_in(_BLANKS),
                           pl.format(f"error: {col} '{{}}' is not a number", raw.str.strip_chars())))
            checks.append((x.is_not_null() & (~x.is_finite() | (x < lo) | (x > hi)),
                           pl.format(f"error: {col} '{{}}' is not in [{lo:g}, {hi:g}]", raw.str.strip_chars())))
    out = out.with_columns(**int_exprs)

    # dtypes: canonicalize the distinct values. A blank act follows dtypes.default_act_dtype of the
    # raw weight name (W=A floats keep the weight format; weight-only integer formats compute in
    # bf16; w8a8 in int8); a blank kv follows act
    out = out.with_columns(_weight_dtype=pl.col("_weight_dtype").fill_null("bf16"))
    act_default = {v: dtypes.default_act_dtype(v) or v  # unknown names pass through to be reported
                   for v in out.get_column("_weight_dtype").unique().drop_nulls().to_list()}
    out = out.with_columns(_act_dtype=pl.col("_act_dtype").fill_null(
        pl.col("_weight_dtype").replace_strict(act_default, default=None, return_dtype=pl.String)))
    kv_default = {v: dtypes.default_kv_dtype(v) for v in out.get_column("_act_dtype").unique().drop_nulls().to_list()}
    out = out.with_columns(_kv_dtype=pl.col("_kv_dtype").fill_null(
        pl.col("_act_dtype").replace_strict(kv_default, default=None, return_dtype=pl.String)))
    for col in ("_weight_dtype", "_act_dtype", "_kv_dtype"):
        mapping: dict[str, str] = {}
        bad_vals: list[str] = []
        for v in out.get_column(col).unique().drop_nulls().to_list():
            try:
                mapping[v] = dtypes.canonical(v)
            except GenzError:
                bad_vals.append(v)
        if bad_vals:
            checks.append((pl.col(col + "_raw").is_in(bad_vals),
                           pl.format(f"error: {col[1:]} '{{}}' unknown; allowed: {', '.join(dtypes.ALLOWED)}",
                                     pl.col(col + "_raw"))))
        out = out.with_columns(**{col + "_raw": pl.col(col)})
        out = out.with_columns(pl.col(col).replace_strict(mapping, default=None, return_dtype=pl.String))

    fw_map = {v: framework_key(v) for v in out.get_column("_framework").unique().to_list() if v is not None}
    out = out.with_columns(
        _framework_key=pl.col("_framework").replace_strict(fw_map, default="generic", return_dtype=pl.String)
    )
    for col in BOOL_COLUMNS:
        raw = pl.col("_" + col + "_raw")
        if present(col):
            checks.append((raw.is_not_null() & ~raw.is_in([*TRUE_WORDS, *FALSE_WORDS]),
                           pl.format(f"error: {col} '{{}}' is not yes or no; allowed: true, false (or yes/no, 1/0)",
                                     pl.col(col).cast(pl.String).str.strip_chars())))
        out = out.with_columns(**{"_" + col: raw.is_in(TRUE_WORDS).fill_null(False)})
    if present("metric"):
        checks.append((pl.col("_metric").is_not_null() & ~pl.col("_metric").is_in(list(METRICS)),
                       pl.format("error: metric '{}' unknown; allowed: " + ", ".join(METRICS), pl.col("_metric"))))
    if present("offload"):
        checks.append((pl.col("_offload").is_not_null() & ~pl.col("_offload").str.to_lowercase().is_in(list(OFFLOAD)),
                       pl.format("error: offload '{}' unknown; allowed: " + ", ".join(OFFLOAD), pl.col("_offload"))))
    for col in ("input_tokens", "output_tokens"):
        checks.append((pl.col("_" + col).is_null(), pl.lit(f"error: {col} is blank or invalid")))
        checks.append((pl.col("_" + col) == 0, pl.lit(f"error: {col} must be >= 1")))
    for col in ("tp", "pp", "ep", "cp", "num_beams", "batch_size", "dp", "num_devices"):
        checks.append((pl.col("_" + col) == 0, pl.lit(f"error: {col} must be >= 1")))
    checks.append((pl.col("_acceptance_rate").is_not_null() &
                   ((pl.col("_acceptance_rate") < 0) | (pl.col("_acceptance_rate") > 1)),
                   pl.lit("error: acceptance_rate must be in [0, 1]")))
    checks.append(((pl.col("_spec_tokens") > 0) & pl.col("_acceptance_rate").is_null(),
                   pl.lit("error: spec_tokens needs acceptance_rate (and a draft_model, or 'mtp'/'eagle')")))

    # devices: num_devices = (x·tp·pp·cp + y·decode_tp·decode_pp)·dp (genz.perf.layouts.unit_devices);
    # dp derived from num_devices when blank
    base = layouts.unit_devices()
    out = out.with_columns(_dp=(
        pl.when(pl.col("_dp").is_not_null()).then(pl.col("_dp"))
        .when(pl.col("_num_devices").is_not_null() & (base > 0) & (pl.col("_num_devices") % base == 0)
              & (pl.col("_num_devices") >= base))
        .then(pl.col("_num_devices") // base)
        .otherwise(1)
    ))
    out = out.with_columns(_devices=layouts.unit_devices() * pl.col("_dp"),
                           _decode_ep=pl.col("_decode_ep").fill_null(pl.col("_ep")))
    checks.append((pl.col("_num_devices").is_not_null() & (pl.col("_num_devices") != pl.col("_devices")),
                   pl.format("error: num_devices {} != (prefill_workers·tp·pp·cp + decode_workers·decode_tp·decode_pp)"
                             "·dp = {}", pl.col("_num_devices"), pl.col("_devices"))))
    checks.extend(layouts.checks())
    checks.extend(closed_loop.checks())
    checks.append(((pl.col("_ep") > 1) & ((pl.col("_tp") * pl.col("_dp")) % pl.col("_ep") != 0)
                   & (pl.col("_ep") % pl.col("_tp") != 0),
                   pl.format("error: ep {} must divide tp ({}) or be a multiple of tp dividing tp·dp",
                             pl.col("_ep"), pl.col("_tp"))))
    checks.append(((pl.col("_ep") > pl.col("_tp")) & ((pl.col("_tp") * pl.col("_dp")) % pl.col("_ep") != 0),
                   pl.format("error: ep {} > tp {} needs tp·dp ({}) divisible by ep", pl.col("_ep"), pl.col("_tp"),
                             pl.col("_tp") * pl.col("_dp"))))
    out = out.with_columns(pl.col("_num_devices").fill_null(pl.col("_devices")))

    # evaluate all checks as booleans; build messages only for failing rows
    flags = out.select([c.fill_null(False).alias(f"c{i}") for i, (c, _) in enumerate(checks)])
    any_bad = flags.select(pl.any_horizontal(pl.all()).alias("b")).get_column("b")
    status = pl.Series("status", ["ok"] * out.height, dtype=pl.String)
    if any_bad.any():
        idx = any_bad.arg_true()
        sub = out[idx]
        sub_flags = flags[idx]
        msgs = sub.select([pl.when(sub_flags.get_column(f"c{i}")).then(m.cast(pl.String)).otherwise(None)
                           .alias(f"m{i}") for i, (_, m) in enumerate(checks)])
        first = msgs.select(pl.coalesce(pl.all()).alias("s")).get_column("s")
        status = status.scatter(idx, first)
    out = out.with_columns(status)
    return out.drop(["_weight_dtype_raw", "_act_dtype_raw", "_kv_dtype_raw", *[f"_{c}_f" for c in INT_COLUMNS],
                     *[f"_{c}_raw" for c in BOOL_COLUMNS]])
