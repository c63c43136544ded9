"""Measured rows: reading and checking measurement CSVs (``calibration/measurements/*.csv``).

:class:`MeasurementFrame` is the pandera schema of a measured latency or throughput: the scenario
format plus ``metric``, ``value`` and ``unit``. :func:`read_measurements` reads one file and raises
a one-line :class:`~genz.errors.GenzError` naming the file, row and column of the first problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandera.polars as pa
import polars as pl

from ..errors import GenzError
from ..perf.scenarios import METRICS


class MeasurementFrame(pa.DataFrameModel):
    """A measured latency or throughput, in the scenario format plus ``metric``, ``value``, ``unit``."""

    source: str = pa.Field(nullable=True, description="where the number was published")
    framework: str = pa.Field(nullable=True, description="serving stack as the source wrote it")
    model: str = pa.Field(str_length={"min_value": 1}, description="Hugging Face repo id")
    hardware: str = pa.Field(str_length={"min_value": 1}, description="hardware preset id")
    num_devices: pl.Int64 = pa.Field(nullable=True, ge=1, description="accelerators used")
    tp: pl.Int64 = pa.Field(nullable=True, ge=1, description="tensor-parallel degree")
    pp: pl.Int64 = pa.Field(nullable=True, ge=1, description="pipeline-parallel degree")
    ep: pl.Int64 = pa.Field(nullable=True, ge=1, description="expert-parallel degree")
    weight_dtype: str = pa.Field(nullable=True, description="weight precision (bf16, fp8, int4, ...)")
    act_dtype: str = pa.Field(nullable=True, description="activation / matmul precision")
    kv_dtype: str = pa.Field(nullable=True, description="KV-cache precision")
    batch_size: pl.Int64 = pa.Field(nullable=True, ge=1, description="requests processed together")
    input_tokens: pl.Int64 = pa.Field(ge=1, description="prompt tokens per request")
    output_tokens: pl.Int64 = pa.Field(ge=1, description="generated tokens per request")
    metric: str = pa.Field(isin=list(METRICS), description="what value measures")
    value: pl.Float64 = pa.Field(gt=0, description="the measured number")
    unit: str = pa.Field(nullable=True, description="unit and meaning of value")

    class Config:
        coerce = True
        strict = False


_INT_COLS = ("num_devices", "tp", "pp", "ep", "batch_size", "input_tokens", "output_tokens")


def _describe(err: pa.errors.SchemaErrors, path: str, raw: pl.DataFrame) -> str:
    fc = err.failure_cases
    try:
        first = fc.row(0, named=True)
    except Exception:  # noqa: BLE001  # pragma: no cover - any odd failure report still gets a one-line message
        return f"{path}: invalid measurement file"
    col = first.get("column")
    idx = first.get("index")
    check = first.get("check")
    case = first.get("failure_case")
    row = f"row {int(idx) + 2}" if idx is not None else "header"  # +1 header, +1 one-based
    more = f" (+{fc.height - 1} more problems)" if fc.height > 1 else ""
    if col is None and check:
        return f"{path}: {check}{more}"
    return f"{path}: {row}, column {col}: value {case!r} fails {check}{more}"


def read_measurements(path: str | Path) -> pl.DataFrame:
    """Read and validate a measurement CSV; raise :class:`GenzError` naming file, row and column."""
    path = Path(path)
    try:
        raw = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GenzError(f"{path}: cannot read CSV ({first})") from None
    return validate_measurements(raw, str(path))


def validate_measurements(raw: pl.DataFrame, origin: str = "measurements") -> pl.DataFrame:
    """Validate a frame of measurements (all-text columns are coerced)."""
    required = ("model", "hardware", "input_tokens", "output_tokens", "metric", "value")
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise GenzError(f"{origin}: missing column(s) {', '.join(missing)}; required: {', '.join(required)}")
    df = raw
    for c in ("source", "framework", "weight_dtype", "act_dtype", "kv_dtype", "unit", *_INT_COLS):
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    # blank cells are nulls; integers may be written '2.0'
    df = df.with_columns([pl.when(pl.col(c).cast(pl.String).str.strip_chars() == "").then(None)
                          .otherwise(pl.col(c)).alias(c) for c in df.columns])
    bad_int: list[str] = []
    for c in _INT_COLS:
        f = df.get_column(c).cast(pl.Float64, strict=False)
        s = df.get_column(c)
        bad = s.is_not_null() & (f.is_null() | (f != f.round(0)))
        if bad.any():
            i = int(bad.arg_true()[0])
            bad_int.append(f"{origin}: row {i + 2}, column {c}: value {s[i]!r} is not an integer")
        df = df.with_columns(f.cast(pl.Int64, strict=False).alias(c))
    v = df.get_column("value")
    vf = v.cast(pl.Float64, strict=False)
    bad = v.is_not_null() & vf.is_null()
    if bad.any():
        i = int(bad.arg_true()[0])
        bad_int.append(f"{origin}: row {i + 2}, column value: value {v[i]!r} is not a number")
    df = df.with_columns(vf.alias("value"))
    if bad_int:
        raise GenzError(bad_int[0] + (f" (+{len(bad_int) - 1} more problems)" if len(bad_int) > 1 else ""))
    try:
        return MeasurementFrame.validate(df, lazy=True)
    except pa.errors.SchemaErrors as err:
        raise GenzError(_describe(err, origin, raw)) from None
    except pa.errors.SchemaError as err:  # pragma: no cover
        raise GenzError(f"{origin}: {str(err).splitlines()[0]}") from None


def load_measurement_files(paths: Sequence[str | Path], with_path: bool = False) -> pl.DataFrame:
    """Read and validate measurement CSVs (sorted by path), concatenated; ``measurement_file`` is
    each row's file name (and ``_measurement_path`` its path, ``with_path``)."""
    frames = []
    for p in sorted(Path(x) for x in paths):
        df = read_measurements(p).with_columns(pl.lit(p.name).alias("measurement_file"))
        frames.append(df.with_columns(pl.lit(str(p)).alias("_measurement_path")) if with_path else df)
    if not frames:
        raise GenzError("calibration: no measurement files given")
    return pl.concat(frames, how="diagonal_relaxed")
