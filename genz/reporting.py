"""HTML reports rendered from the warehouse (read-only) with jinja2.

Numbers come from SQL views or from functions here; templates only loop and format. Output is
deterministic: the same warehouse gives the same bytes, apart from one generated-at line.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

import jinja2
import polars as pl

from . import __version__
from .warehouse import connect

TEMPLATES = Path(__file__).parent.parent / "reports" / "templates"


def _env(templates: str | Path) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = fmt_num
    return env


def fmt_num(v, digits: int = 3) -> str:
    """Human formatting of a number (thousands separators, significant digits)."""
    if v is None:
        return "–"
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    if x != x:
        return "–"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 1:
        return f"{x:.{max(digits - len(str(int(a))), 0)}f}"
    if a == 0:
        return "0"
    return f"{x:.{digits}g}"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def index_context(con) -> dict:
    """Numbers for the index page."""
    exps = con.sql("""
        SELECT s.experiment, count(*) AS scenarios,
               count(*) FILTER (WHERE e.status = 'ok') AS predicted,
               count(DISTINCT s.model_id) AS models, count(DISTINCT s.hardware_id) AS platforms
        FROM scenarios s JOIN estimates e USING (experiment, scenario_id)
        GROUP BY s.experiment ORDER BY s.experiment""").pl()
    cal = con.sql("""SELECT platform, framework, version, calibrated, n_rows FROM calibration
                     ORDER BY platform, framework""").pl()
    run = con.sql("SELECT * FROM runs").pl()
    return {"experiments": exps.to_dicts(), "calibration": cal.to_dicts(),
            "total_scenarios": int(exps.get_column("scenarios").sum()) if exps.height else 0,
            "run": run.to_dicts()[0] if run.height else {}}


def render(db_path: str | Path, out_dir: str | Path, templates: str | Path | None = None) -> list[Path]:
    """Render every report page into ``out_dir`` (built aside, then swapped in)."""
    out_dir = Path(out_dir)
    templates = Path(templates) if templates else TEMPLATES
    env = _env(templates)
    con = connect(db_path)
    try:
        ctx = {"version": __version__, "generated_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
        pages = {"index.html": env.get_template("index.html.j2").render(**ctx, **index_context(con))}
    finally:
        con.close()
    written = []
    for name, html in pages.items():
        p = out_dir / name
        _write(p, html)
        written.append(p)
    return written


def run_summary(db_path: str | Path, reports: str | Path, seconds: float) -> str:
    """The short summary printed at the end of a pipeline run."""
    try:
        con = connect(db_path)
    except Exception as exc:  # noqa: BLE001
        return f"genz: done in {seconds:.0f} s ({exc})"
    try:
        n = con.execute("SELECT count(*), count(*) FILTER (WHERE status = 'ok') FROM estimates").fetchall()[0]
        ops = con.execute("SELECT count(*) FROM operators").fetchall()[0][0]
        exps = con.execute("SELECT count(DISTINCT experiment) FROM estimates").fetchall()[0][0]
    finally:
        con.close()
    return (f"genz: {n[0]:,} scenarios in {exps} experiments ({n[1]:,} predicted, {ops:,} operator rows) "
            f"in {seconds:.0f} s; warehouse {db_path}; reports {Path(reports) / 'index.html'}")


def frame(con, sql: str) -> pl.DataFrame:
    """A query as a polars frame (for report builders)."""
    return con.sql(sql).pl()
