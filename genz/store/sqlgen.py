"""Building SQL text safely: the one place identifiers and (unbindable) literals are quoted.

Rules for every statement genz sends to DuckDB:

* values (paths, lists of paths, names, filters) are *bound* as parameters:
  ``con.execute("... read_parquet(?) ... WHERE experiment = ?", [paths, name])``;
* identifiers (table, column, axis names) that are not literal constants in the code go through
  :func:`quote_ident`;
* :func:`quote_literal` only for the few statements DuckDB cannot prepare (``COMMENT ON``).

:func:`duckdb_type` and :func:`create_table_sql` derive the DDL of an empty table from the pandera
model that describes its frames (:mod:`genz.store.schemas`), so column lists are written once.
"""

from __future__ import annotations

import polars as pl

#: polars dtype class -> DuckDB type (pandera's polars engine exposes the polars dtype as ``.type``)
_DUCKDB_TYPES = {
    pl.String: "VARCHAR", pl.Boolean: "BOOLEAN",
    pl.Int8: "TINYINT", pl.Int16: "SMALLINT", pl.Int32: "INTEGER", pl.Int64: "BIGINT",
    pl.UInt8: "UTINYINT", pl.UInt16: "USMALLINT", pl.UInt32: "UINTEGER", pl.UInt64: "UBIGINT",
    pl.Float32: "FLOAT", pl.Float64: "DOUBLE", pl.Date: "DATE", pl.Datetime: "TIMESTAMP",
    pl.Time: "TIME", pl.Duration: "INTERVAL", pl.Binary: "BLOB",
}


def quote_ident(name: str) -> str:
    """``name`` as a DuckDB identifier: in double quotes, embedded double quotes doubled.

    >>> quote_ident('a"b')
    '"a""b"'
    """
    name = str(name)
    if not name or "\x00" in name:
        raise ValueError(f"not a usable identifier (empty, or with a NUL character): {name!r}")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """``value`` as a SQL string literal (single quotes doubled).

    Only for statements that cannot take bound parameters (``COMMENT ON ... IS``); everything else
    binds its values.
    """
    value = str(value)
    if "\x00" in value:
        raise ValueError(f"string literal contains a NUL character: {value!r}")
    return "'" + value.replace("'", "''") + "'"


def duckdb_type(dtype) -> str:
    """The DuckDB type of a pandera (polars engine) or polars dtype."""
    t = getattr(dtype, "type", dtype)  # pandera DataType -> polars dtype
    base = t.base_type() if hasattr(t, "base_type") else t
    try:
        return _DUCKDB_TYPES[base]
    except KeyError:
        raise TypeError(f"no DuckDB type for dtype {dtype!r}") from None


def column_types(model) -> dict[str, str]:
    """Column -> DuckDB type of a pandera ``DataFrameModel``, in the model's field order."""
    return {name: duckdb_type(col.dtype) for name, col in model.to_schema().columns.items()}


def create_table_sql(table: str, model) -> str:
    """``CREATE TABLE`` of an empty table with the columns of a pandera ``DataFrameModel``."""
    cols = ", ".join(f"{quote_ident(c)} {t}" for c, t in column_types(model).items())
    return f"CREATE TABLE {quote_ident(table)} ({cols})"
