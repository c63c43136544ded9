"""The results warehouse: one DuckDB file, rebuilt atomically from the pipeline's outputs.

Loaded tables (one bulk statement each, from the exact file lists the pipeline passes):

* ``scenarios`` — one row per (experiment, scenario): the typed scenario columns;
* ``estimates`` — predictions per (experiment, scenario), with calibrated uncertainty bands;
* ``operators`` — per-operator breakdown rows of sampled scenarios;
* ``measurements`` — every measured row used for calibration;
* ``calibration`` — fitted factors and bands, one row per platform × framework × profile version;
* ``validation`` — each measured row with its out-of-fold prediction;
* ``requirements`` — SLO requirement-search results;
* ``frontier`` — serving-frontier points (throughput per GPU vs interactivity, genz.requirements.frontier);
* ``runs`` — provenance of this build (code fingerprint, inputs, versions).

User-facing views and column comments come from ``genz/store/sql/*.sql``. The file is built under a
temporary name and renamed over ``results/warehouse.duckdb``, so readers never see a half-built
warehouse and a failed build keeps the previous one.

Values (file lists, paths) are bound as parameters and identifiers go through
:func:`genz.store.sqlgen.quote_ident`, so no name or path in the inputs can change a statement. A table
with no input files is created empty with the columns of its pandera model (:func:`_table_models`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import polars as pl
import yaml

from ..catalog.files import DATA_DIR, debug_pause
from ..errors import GenzError
from .sqlgen import create_table_sql, quote_ident, quote_literal

#: descriptions of the columns that no pandera model describes (calibration, runs, views, common)
COLUMNS_FILE = DATA_DIR / "warehouse_columns.yaml"

SQL_DIR = Path(__file__).parent / "sql"
#: metrics whose band the calibration table holds (``band_<metric>_low``/``_high`` multipliers)
METRIC_BANDS = ("ttft_ms", "tpot_ms", "e2e_latency_ms", "throughput_tok_s", "max_throughput_tok_s")

#: scenario columns (the rest of an estimate shard is predictions)
SCENARIO_COLS = ("experiment", "scenario_id", "model", "model_id", "hardware", "hardware_id", "framework", "use_case",
                 "input_tokens", "output_tokens", "batch_size", "tp", "pp", "ep", "dp", "cp", "num_devices",
                 "weight_dtype", "act_dtype", "kv_dtype", "chunk_size", "draft_model", "spec_tokens",
                 "acceptance_rate", "num_beams", "offload", "slo_ttft_ms", "slo_tpot_ms", "slo_e2e_ms")


def _files(paths) -> list[str]:
    return [str(Path(p).resolve()) for p in paths]


def calibration_frame(profiles_json: str | Path) -> pl.DataFrame:
    """One row per profile: factors, bands (multiplicative, 80 %), provenance."""
    data = json.loads(Path(profiles_json).read_text())
    rows = []
    for p in data.get("profiles", []):
        row = {"profile": f"{p['platform']}/{p['framework']}@{p.get('version', '')}", "platform": p["platform"],
               "framework": p["framework"], "version": p.get("version", ""), "calibrated": bool(p.get("calibrated")),
               "label": str(p.get("label") or ("calibrated" if p.get("calibrated") else "prior")),
               "stack": str(p.get("stack") or p["framework"]), "stack_label": str(p.get("stack_label", "")),
               "n_rows": int(p.get("n_rows", 0)), "code": data.get("code", "")}
        row.update({k: float(v) for k, v in (p.get("factors") or {}).items()})
        bands = p.get("bands") or {}
        for m in METRIC_BANDS:
            b = bands.get(m) or bands.get("all") or [0.5, 2.0]
            row[f"band_{m}_low"], row[f"band_{m}_high"] = float(b[0]), float(b[1])
        rng = p.get("ranges") or {}
        row.update({"batch_max": rng.get("batch_max"), "input_max": rng.get("input_max"),
                    "output_max": rng.get("output_max")})
        rows.append(row)
    return pl.DataFrame(rows, infer_schema_length=None)


def build(db_path: str | Path, *, estimates: list, operators: list, measurements: list, profiles: str | Path,
          validation: str | Path | None = None, requirements: list | None = None, deployments: list | None = None,
          run: dict | None = None, frontier: list | None = None) -> dict:
    """Build the warehouse at ``db_path`` atomically; return row counts per table."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_name(f".{db_path.name}.{os.getpid()}.tmp")
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(tmp))
        try:
            counts = _load(con, estimates, operators, measurements, profiles, validation, requirements or [],
                           deployments or [], run or {}, frontier or [])
            con.execute("CHECKPOINT")
        finally:
            con.close()
        debug_pause("warehouse")
        os.replace(tmp, db_path)
    finally:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)
    return counts


#: a bulk read of the parquet files bound to its one parameter (a list of paths)
READ_PARQUET = "read_parquet(?, union_by_name = true, hive_partitioning = false)"


def _table_models() -> dict:
    """Warehouse table -> the pandera model of its rows (column types of an empty table, descriptions)."""
    from ..calibrate.measurements import MeasurementFrame
    from .schemas import DeploymentFrame, EstimateFrame, FrontierFrame, OperatorFrame, RequirementFrame, ValidationFrame

    return {"estimates": EstimateFrame, "scenarios": EstimateFrame, "operators": OperatorFrame,
            "measurements": MeasurementFrame, "validation": ValidationFrame, "requirements": RequirementFrame,
            "deployments": DeploymentFrame, "frontier": FrontierFrame}


def _load(con, estimates, operators, measurements, profiles, validation, requirements, deployments, run,
          frontier=()) -> dict:
    from ..calibrate.measurements import load_measurement_files

    if not estimates:
        raise GenzError("warehouse: no estimate shards given")
    models = _table_models()
    con.execute("SET preserve_insertion_order = true")
    est = _files(estimates)
    cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {READ_PARQUET}", [est]).fetchall()]
    scen = [c for c in SCENARIO_COLS if c in cols] + sorted(c for c in cols if c.startswith("axis_"))
    con.execute(f"CREATE TABLE scenarios AS SELECT {', '.join(map(quote_ident, scen))} FROM {READ_PARQUET} "
                "ORDER BY experiment, scenario_id", [est])
    pred = [c for c in cols if c not in scen or c in ("experiment", "scenario_id")]

    cal = calibration_frame(profiles)
    con.register("cal_df", cal)
    con.execute("CREATE TABLE calibration AS SELECT * FROM cal_df ORDER BY platform, framework")
    con.unregister("cal_df")
    # the shards carry the bands genz.predict computed and the SLO decisions of genz.requirements.slo:
    # the warehouse stores them as they are (one rule for each, in Python)
    con.execute(
        f"CREATE TABLE estimates AS SELECT {', '.join('r.' + quote_ident(c) for c in pred)} "
        f"FROM {READ_PARQUET} r ORDER BY r.experiment, r.scenario_id",
        [est])
    _parquet_table(con, "operators", operators, models["operators"], order=("experiment", "scenario_id", "phase"))
    if measurements:
        meas = load_measurement_files(measurements)
        con.register("meas_df", meas)
        con.execute("CREATE TABLE measurements AS SELECT * FROM meas_df")
        con.unregister("meas_df")
    else:
        con.execute(create_table_sql("measurements", models["measurements"]))
    _parquet_table(con, "validation", [validation] if validation and Path(validation).exists() else [],
                   models["validation"])
    _parquet_table(con, "requirements", requirements, models["requirements"])
    _parquet_table(con, "deployments", deployments, models["deployments"])
    _parquet_table(con, "frontier", frontier, models["frontier"])
    run_df = pl.DataFrame([{k: (json.dumps(v) if isinstance(v, (dict, list)) else str(v)) for k, v in run.items()}]) \
        if run else pl.DataFrame({"run_id": ["unknown"]})
    con.register("run_df", run_df)
    con.execute("CREATE TABLE runs AS SELECT * FROM run_df")
    con.unregister("run_df")
    for sql in sorted(SQL_DIR.glob("*.sql")):
        con.execute(sql.read_text())
    _comment_columns(con)
    tables = ("scenarios", "estimates", "operators", "measurements", "calibration", "validation", "requirements",
              "deployments", "runs", "frontier")
    return {t: con.execute(f"SELECT count(*) FROM {quote_ident(t)}").fetchall()[0][0] for t in tables}


def _parquet_table(con, name: str, files, model, order: tuple[str, ...] = ()) -> None:
    """Table ``name`` from exactly these parquet files (one bulk read, in ``order``), or, with no
    files, an empty table with the columns of the pandera ``model``."""
    paths = _files(files)
    if paths:
        order_by = f" ORDER BY {', '.join(map(quote_ident, order))}" if order else ""
        con.execute(f"CREATE TABLE {quote_ident(name)} AS SELECT * FROM {READ_PARQUET}{order_by}", [paths])
    else:
        con.execute(create_table_sql(name, model))


def column_docs() -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """The data dictionary: (table -> column -> description, fallback column -> description).

    Tables: the pandera models' field descriptions (:func:`_table_models`: estimates, scenarios,
    operators, measurements, validation, requirements, deployments, frontier) and the sections of
    ``genz/data/warehouse_columns.yaml`` (calibration, runs, views). A column a table (or view) does
    not describe takes the fallback: ``estimates``' description, else the file's ``common`` section,
    else a same-named column of any other table. A table's view ``v_<table>`` takes the table's
    descriptions first.
    """
    extra = yaml.safe_load(COLUMNS_FILE.read_text())
    common = extra.pop("common", {})
    docs: dict[str, dict[str, str]] = {}
    for table, model in _table_models().items():
        docs[table] = {n: c.description for n, c in model.to_schema().columns.items() if c.description}
    for table, cols in extra.items():
        docs.setdefault(table, {}).update(cols)
    for table in _table_models():  # a table's view (v_<table>) describes its columns as the table does
        docs[f"v_{table}"] = {**docs[table], **docs.get(f"v_{table}", {})}
    fallback = {**{c: d for cols in docs.values() for c, d in cols.items()}, **common, **docs["estimates"]}
    return docs, fallback


def _comment_columns(con) -> None:
    """Write the data dictionary as DuckDB column comments on every table and view."""
    docs, fallback = column_docs()
    for table, column in con.execute("SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal "
                                     "ORDER BY ALL").fetchall():
        d = docs.get(table, {}).get(column) or fallback.get(column)
        if d:
            # COMMENT ON cannot take a bound parameter: the description goes in as a quoted literal
            con.execute(f"COMMENT ON COLUMN {quote_ident(table)}.{quote_ident(column)} IS {quote_literal(d)}")


#: the 4 bytes a parquet file starts and ends with
PARQUET_MAGIC = b"PAR1"


def parquet_problem(path: str | Path) -> str | None:
    """Why a parquet file the warehouse would load is unreadable, in words, or None when it is whole.

    A parquet file is ``PAR1 <row groups> <footer> <footer length: 4 bytes, little endian> PAR1``;
    a truncated or overwritten file loses the trailing magic or the footer (DuckDB then stops the
    whole build with "No magic bytes found"). Checked: both magics, a footer length that fits in the
    file, and a footer that parses (its schema is read). Damage inside a data page is not seen here.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        with open(p, "rb") as fh:
            head = fh.read(4)
            fh.seek(max(size - 8, 0))
            tail = fh.read(8)
    except OSError as exc:
        return f"cannot read ({exc.strerror})"
    if size < 12 or head != PARQUET_MAGIC or tail[4:] != PARQUET_MAGIC:
        return f"not a whole parquet file ({size} bytes, no parquet magic at both ends: truncated?)"
    footer = int.from_bytes(tail[:4], "little")
    if footer + 12 > size:
        return f"not a whole parquet file (footer of {footer} bytes in a {size}-byte file)"
    try:
        pl.read_parquet_schema(p)
    except Exception as exc:  # noqa: BLE001 - any reader error means the footer is damaged
        return f"unreadable parquet footer ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
    return None


def write_stamp(stamp: str | Path, db_path: str | Path, counts: dict) -> None:
    """The warehouse rule's declared output: which file was built and its table sizes."""
    Path(stamp).write_text(json.dumps({"warehouse": str(db_path), "rows": counts}, sort_keys=True, indent=1) + "\n")


def connect(db_path: str | Path = "results/warehouse.duckdb"):
    """Open the warehouse read-only (never blocks the pipeline's writer for long)."""
    p = Path(db_path)
    if not p.exists():
        raise GenzError(f"{p}: no warehouse yet; run `snakemake --cores 32 reports/all` first")
    return duckdb.connect(str(p), read_only=True)


def query(sql: str, db_path: str | Path = "results/warehouse.duckdb", params=None) -> pl.DataFrame:
    """Run a read-only query and return a polars frame; values go in ``params`` (bound, not
    formatted into ``sql``): a list for ``?`` placeholders or a dict for ``$name`` ones."""
    con = connect(db_path)
    try:
        return con.sql(sql, params=params).pl()
    finally:
        con.close()
