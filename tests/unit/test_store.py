"""The warehouse builder (genz.store): SQL built safely, empty tables from the pandera models, bands.

Each test builds a small warehouse with :func:`genz.store.warehouse.build` from estimate shards made
here by the pipeline's own :func:`genz.pipeline.steps.estimate_frame` (a few scenarios, the shipped
calibration snapshot), so nothing depends on a pipeline run.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from genz.perf.predict import operators_frame, predict_frame
from genz.perf.profiles import PACKAGED, load_profiles
from genz.pipeline import experiments as X
from genz.pipeline.steps import estimate_frame
from genz.store import schemas, warehouse
from genz.store.sqlgen import column_types, create_table_sql, duckdb_type, quote_ident, quote_literal

PROFILES = PACKAGED  # the shipped calibration snapshot: the same profiles for predict and warehouse
BAND_COLUMNS = [f"{m}_{end}" for m in schemas.BAND_METRICS for end in ("low", "high")]
TABLES = ("scenarios", "estimates", "operators", "measurements", "calibration", "validation", "requirements",
          "deployments", "runs")


def grid_rows(experiment: str = "t", **extra) -> pl.DataFrame:
    """A few scenarios in the grid's text format, with their stable ids (like a shard's rows)."""
    rows = pl.DataFrame({
        "model": ["meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-8B", "mistralai/Mixtral-8x7B-v0.1",
                  "meta-llama/Llama-3.1-8B"],
        "hardware": ["H100-SXM-80GB", "MI300X", "H100-SXM-80GB", "H100-SXM-80GB"],
        "input_tokens": ["512", "512", "2048", "128"],
        "output_tokens": ["128", "128", "256", "64"],
        "batch_size": ["1", "16", "8", "4"],
        "tp": ["1", "2", "1", "1"],  # Mixtral at tp 1 does not fit: a row without a prediction
    }).with_columns(experiment=pl.lit(experiment), **{k: pl.lit(v) for k, v in extra.items()})
    return X.with_scenario_ids(rows)


@pytest.fixture(scope="module")
def profiles():
    return load_profiles(PROFILES)


@pytest.fixture(scope="module")
def rows() -> pl.DataFrame:
    return grid_rows()


@pytest.fixture(scope="module")
def shard(rows, profiles) -> pl.DataFrame:
    """The estimate shard the pipeline writes for ``rows`` (genz.pipeline.steps.estimate_frame)."""
    return estimate_frame(rows, profiles, "0123456789abcdef")


def build(db: Path, estimates: list, **kw) -> dict:
    return warehouse.build(db, estimates=estimates, operators=kw.pop("operators", []),
                           measurements=kw.pop("measurements", []), profiles=kw.pop("profiles", PROFILES), **kw)


def columns(db: Path, table: str) -> dict[str, str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {c: t for c, t, *_ in con.execute(f"DESCRIBE {quote_ident(table)}").fetchall()}
    finally:
        con.close()


# ----------------------------------------------------------------------------------------------
# quoting
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, quoted", [
    ("model", '"model"'),
    ("select", '"select"'),
    ("with space", '"with space"'),
    ('a"b', '"a""b"'),
    ('"', '""""'),
    ("it's", '"it\'s"'),
    ("x; DROP TABLE t; --", '"x; DROP TABLE t; --"'),
    ("Ünïcode", '"Ünïcode"'),
])
def test_quote_ident(name, quoted):
    assert quote_ident(name) == quoted


@pytest.mark.parametrize("bad", ["", "a\x00b"])
def test_quote_ident_refuses_unusable_names(bad):
    with pytest.raises(ValueError):
        quote_ident(bad)


def test_quoted_identifiers_round_trip_through_duckdb():
    names = ["plain", "select", "with space", 'dq"inside', "sq'inside", "semi;colon", "x AS y FROM t; SELECT 1",
             "MiXeD", "Ünïcode", "-- comment", "/* c */"]
    con = duckdb.connect()
    con.execute(f"CREATE TABLE {quote_ident('t; x')} ({', '.join(quote_ident(n) + ' INTEGER' for n in names)})")
    got = [r[0] for r in con.execute(f"DESCRIBE {quote_ident('t; x')}").fetchall()]
    assert got == names
    con.execute(f"INSERT INTO {quote_ident('t; x')} ({quote_ident(names[5])}) VALUES (?)", [7])
    assert con.execute(f"SELECT {quote_ident(names[5])} FROM {quote_ident('t; x')}").fetchall() == [(7,)]


@pytest.mark.parametrize("value, literal", [("abc", "'abc'"), ("it's", "'it''s'"), ("''", "''''''"), ("", "''")])
def test_quote_literal(value, literal):
    assert quote_literal(value) == literal
    assert duckdb.connect().execute(f"SELECT {literal}").fetchall() == [(value,)]


def test_duckdb_types_of_pandera_and_polars_dtypes():
    assert duckdb_type(pl.String) == "VARCHAR"
    assert duckdb_type(pl.Int64()) == "BIGINT"
    assert duckdb_type(pl.Int32) == "INTEGER"
    assert duckdb_type(pl.Float64) == "DOUBLE"
    assert duckdb_type(pl.Boolean) == "BOOLEAN"
    assert duckdb_type(pl.Datetime("us")) == "TIMESTAMP"
    cols = schemas.ValidationFrame.to_schema().columns
    assert duckdb_type(cols["fold"].dtype) == "INTEGER" and duckdb_type(cols["stack"].dtype) == "VARCHAR"
    with pytest.raises(TypeError):
        duckdb_type(pl.List(pl.Int64))


def test_create_table_sql_quotes_names():
    assert create_table_sql('we"ird', schemas.OperatorFrame).startswith('CREATE TABLE "we""ird" ("experiment" VARCHAR, ')


# ----------------------------------------------------------------------------------------------
# values are bound, identifiers quoted: hostile names and paths
# ----------------------------------------------------------------------------------------------


def test_injected_axis_name_is_a_column_not_sql(tmp_path, profiles):
    pwned = tmp_path / "pwned.csv"
    axis = f"x AS axis_x2 FROM raw; COPY (SELECT 'pwned') TO '{pwned}'; SELECT 1 AS x"
    # with an axis 'x' beside it, the name pasted into SQL unquoted makes three valid statements (the
    # builder before quoting ran the COPY)
    rows = grid_rows(**{"axis_x": '{"tp":1}', f"axis_{axis}": '{"tp":1}'})
    shard = estimate_frame(rows, profiles, "0123456789abcdef")
    assert f"axis_{axis}" in shard.columns
    shard.write_parquet(tmp_path / "e.parquet")
    counts = build(tmp_path / "w.duckdb", [tmp_path / "e.parquet"])
    assert not pwned.exists()
    assert counts["scenarios"] == counts["estimates"] == rows.height
    scen = columns(tmp_path / "w.duckdb", "scenarios")
    assert f"axis_{axis}" in scen and "axis_x" in scen and "axis_x2" not in scen
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        vals = con.execute(f"SELECT DISTINCT {quote_ident('axis_' + axis)} FROM scenarios").fetchall()
        view = [r[0] for r in con.execute("DESCRIBE v_estimates").fetchall()]
    finally:
        con.close()
    assert vals == [('{"tp":1}',)]
    assert f"axis_{axis}" in view


def test_paths_with_a_quote_and_a_space(tmp_path, rows, shard, profiles):
    d = tmp_path / "it's a dir"
    d.mkdir()
    shard.head(2).write_parquet(d / "part 0.parquet")
    shard.slice(2).write_parquet(d / "o'part 1.parquet")
    operators_frame(rows.head(1), profiles).write_parquet(d / "op's.parquet")
    val = pl.DataFrame([{"model": "m", "hardware": "H100-SXM-80GB", "metric": "ttft_ms", "value": 10.0,
                         "predicted_oof": 8.0, "rel_err": 0.2, "platform": "H100-SXM-80GB", "framework_key": "generic",
                         "scheme": "model"}])
    val.write_parquet(d / "valid'ation.parquet")
    req = pl.DataFrame([{"resource": "compute", "unit": "TFLOP/s", "available": 989.0, "required": 100.0,
                         "ratio": 0.1, "status": "ok", "meets_slo_as_is": True, "binding": True, "model": "m",
                         "use_case": "chat", "hardware": "H100-SXM-80GB", "tp": 1, "pp": 1, "ep": 1, "batch_size": 1,
                         "meets_slo": True, "experiment": "t"}])
    req.write_parquet(d / "req 'x'.parquet")
    counts = build(d / "ware'house.duckdb", [d / "part 0.parquet", d / "o'part 1.parquet"],
                   operators=[d / "op's.parquet"], validation=d / "valid'ation.parquet",
                   requirements=[d / "req 'x'.parquet"])
    assert (d / "ware'house.duckdb").exists()
    assert counts["estimates"] == counts["scenarios"] == shard.height
    assert counts["operators"] > 0 and counts["validation"] == 1 and counts["requirements"] == 1
    con = duckdb.connect(str(d / "ware'house.duckdb"), read_only=True)
    try:
        got = con.execute("SELECT scenario_id FROM estimates ORDER BY scenario_id").fetchall()
        cal = con.execute("SELECT * FROM v_calibration_error").fetchall()
    finally:
        con.close()
    assert [r[0] for r in got] == sorted(shard.get_column("scenario_id").to_list())
    assert len(cal) == 1


def test_query_binds_values(tmp_path, shard):
    shard.write_parquet(tmp_path / "e.parquet")
    build(tmp_path / "w.duckdb", [tmp_path / "e.parquet"])
    hw = "H100-SXM-80GB"
    df = warehouse.query("SELECT count(*) AS n FROM scenarios WHERE hardware = ?", tmp_path / "w.duckdb", [hw])
    assert df.item() == shard.filter(pl.col("hardware") == hw).height
    df = warehouse.query("SELECT count(*) AS n FROM scenarios WHERE hardware = $h", tmp_path / "w.duckdb",
                         {"h": "x' OR '1'='1"})
    assert df.item() == 0


# ----------------------------------------------------------------------------------------------
# empty tables: DDL from the pandera models; the data dictionary
# ----------------------------------------------------------------------------------------------


def test_empty_tables_have_the_columns_of_their_pandera_model(tmp_path, shard):
    shard.write_parquet(tmp_path / "e.parquet")
    counts = build(tmp_path / "w.duckdb", [tmp_path / "e.parquet"])
    models = warehouse._table_models()
    for table in ("operators", "measurements", "validation", "requirements", "deployments"):
        assert counts[table] == 0, table
        assert columns(tmp_path / "w.duckdb", table) == column_types(models[table]), table


def test_new_models_match_what_their_producers_write():
    # the validation frame as genz.calibrate.calibration.cross_validate builds it (column order and types)
    val = ["source", "framework", "model", "hardware", "num_devices", "tp", "pp", "ep", "weight_dtype", "act_dtype",
           "kv_dtype", "batch_size", "input_tokens", "output_tokens", "metric", "value", "unit", "platform",
           "framework_key", "stack", "source_group", "model_id", "scheme", "fold", "predicted_oof", "profile_oof",
           "log_ratio", "rel_err"]
    assert list(column_types(schemas.ValidationFrame)) == val
    assert column_types(schemas.ValidationFrame)["fold"] == "INTEGER"
    req = column_types(schemas.RequirementFrame)
    assert req["binding"] == req["meets_slo"] == req["meets_slo_as_is"] == "BOOLEAN"
    dep = column_types(schemas.DeploymentFrame)
    assert {"meets_slo", "devices", "goodput_tok_s_per_device", "experiment", *BAND_COLUMNS} <= set(dep)


def test_every_model_column_is_described():
    for table, model in warehouse._table_models().items():
        missing = [c for c, col in model.to_schema().columns.items() if not col.description]
        assert not missing, (table, missing)


def test_every_warehouse_column_is_described(tmp_path, shard, rows, profiles):
    shard.write_parquet(tmp_path / "e.parquet")
    operators_frame(rows.head(1), profiles).write_parquet(tmp_path / "o.parquet")
    build(tmp_path / "w.duckdb", [tmp_path / "e.parquet"], operators=[tmp_path / "o.parquet"])
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        undescribed = con.execute("SELECT table_name || '.' || column_name FROM duckdb_columns() "
                                  "WHERE NOT internal AND (comment IS NULL OR comment = '')").fetchall()
        quoted = con.execute("SELECT comment FROM duckdb_columns() WHERE table_name = 'validation' "
                             "AND column_name = 'scheme'").fetchall()
    finally:
        con.close()
    assert undescribed == []
    desc = warehouse.column_docs()[0]["validation"]["scheme"]
    assert "'model'" in desc and quoted == [(desc,)]  # a description with quotes goes in intact


# ----------------------------------------------------------------------------------------------
# uncertainty bands
# ----------------------------------------------------------------------------------------------


def _warehouse_bands(db: Path) -> pl.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.sql("SELECT * FROM estimates ORDER BY scenario_id").pl()
    finally:
        con.close()


def _assert_same_bands(got: pl.DataFrame, want: pl.DataFrame, cols) -> None:
    merged = got.join(want, on="scenario_id", suffix="_predict")
    assert merged.height == want.height
    for c in cols:
        a = merged.get_column(c).to_numpy().astype(float)
        b = merged.get_column(c + "_predict").to_numpy().astype(float)
        np.testing.assert_array_equal(a, b, err_msg=c)  # exactly the numbers predict computed (NaN = NaN)


def test_warehouse_bands_equal_predicts_bands(tmp_path, rows, shard, profiles):
    """The pipeline's shard (estimate_frame) through the warehouse: every band is predict's."""
    want = predict_frame(rows, profiles).select("scenario_id", *BAND_COLUMNS)
    missing = [c for c in BAND_COLUMNS if c not in shard.columns]
    assert not missing
    schemas.validate_frame(schemas.EstimateFrame, shard)
    shard.write_parquet(tmp_path / "e.parquet")
    build(tmp_path / "w.duckdb", [tmp_path / "e.parquet"])
    got = _warehouse_bands(tmp_path / "w.duckdb")
    _assert_same_bands(got, want, BAND_COLUMNS)
    ok = got.filter(pl.col("status") == "ok")
    assert ok.height >= 3
    assert ((ok["ttft_ms_low"] <= ok["ttft_ms"]) & (ok["ttft_ms"] <= ok["ttft_ms_high"])).all()


def test_warehouse_keeps_a_shards_bands(tmp_path, rows, shard, profiles):
    """A shard that carries predict's bands: the warehouse stores them as they are (no recompute)."""
    bands = predict_frame(rows, profiles).select("scenario_id", *BAND_COLUMNS)
    with_bands = shard.drop([c for c in BAND_COLUMNS if c in shard.columns]).join(bands, on="scenario_id")
    schemas.validate_frame(schemas.EstimateFrame, with_bands)
    with_bands.write_parquet(tmp_path / "e.parquet")
    build(tmp_path / "w.duckdb", [tmp_path / "e.parquet"])
    got = _warehouse_bands(tmp_path / "w.duckdb")
    _assert_same_bands(got, bands, BAND_COLUMNS)




def test_experiment_schema_refuses_an_axis_name_that_is_not_an_identifier(tmp_path):
    """First line of defence (the warehouse quotes names anyway): axis names are checked against a
    documented pattern, with a one-line error naming the file and the name."""
    from genz.errors import GenzError
    from genz.pipeline import experiments as X

    evil = "x AS axis_x2 FROM raw; COPY (SELECT 'pwned') TO '/tmp/pwned.csv'; CREATE TABLE zz AS SELECT 1 AS axis_y"
    f = tmp_path / "evil.yaml"
    f.write_text("grid:\n  model: [meta-llama/Llama-3.1-8B]\n  hardware: [H100-SXM-80GB]\n"
                 "  input_tokens: [128]\n  output_tokens: [16]\n"
                 f"  \"{evil}\": [{{tp: 1}}]\n")
    with pytest.raises(GenzError) as e:
        X.load(f)
    msg = str(e.value)
    assert str(f) in msg and "does not match '^[a-z][a-z0-9_]{0,47}$'" in msg and "\n" not in msg
    for ok in ("parallel", "kv", "chunking_2"):
        g = tmp_path / f"{ok}.yaml"
        g.write_text(f"grid:\n  model: [meta-llama/Llama-3.1-8B]\n  hardware: [H100-SXM-80GB]\n"
                     f"  input_tokens: [128]\n  output_tokens: [16]\n  {ok}: [{{tp: 1}}]\n")
        X.load(g)
