"""A user's mistake found by a job (not when the workflow loads) ends that job with one line
``genz: error: ...`` and a non-zero exit, never a Python traceback, and leaves every result built
before in place. The shared rule start (workflow/scripts/_rule.py) does it for every rule script."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import polars as pl
import pytest

from tests.conftest import ROOT
from tests.reliability.pipeline_project import fresh, one_line_error, run, snapshot

MEAS = ".test/calibration/measurements/H100-SXM-80GB"


@pytest.fixture
def project(tmp_path_factory, tmp_path):
    return fresh(tmp_path_factory, tmp_path / "proj")


def _rows(project) -> pl.DataFrame:
    return pl.read_csv(project / MEAS / "llm-inference-bench.csv", infer_schema=False).head(5)


def _value_below_zero(project):
    rows = _rows(project)
    rows.with_columns(value=pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("-1")).otherwise(pl.col("value"))
                      ).write_csv(project / MEAS / "bad.csv")


def _unknown_hardware(project):
    rows = _rows(project)
    rows.with_columns(hardware=pl.when(pl.int_range(pl.len()) == 1).then(pl.lit("Acme-X1"))
                      .otherwise(pl.col("hardware"))).write_csv(project / MEAS / "bad.csv")


def _no_metric_column(project):
    _rows(project).drop("metric").write_csv(project / MEAS / "bad.csv")


def _latin1_bytes(project):
    text = (project / MEAS / "llm-inference-bench.csv").read_text().splitlines()[:4]
    (project / MEAS / "bad.csv").write_bytes(("\n".join(text).replace("ms (whole", "µs (whole") + "\n")
                                             .encode("latin-1"))


def _empty_file(project):
    (project / MEAS / "bad.csv").write_bytes(b"")


def _broken_template(project):
    page = project / "reports" / "templates" / "page.html.j2"
    page.write_text(page.read_text() + "\n{% if %}\n")


def _truncated_kernel_table(project):
    from genz.calibrate import opcal

    table = opcal.operator_files(project / "calibration" / "operators" / "aiconfigurator")[0]
    data = table.read_bytes()
    table.write_bytes(data[: len(data) // 2])


# (case, how to break the project, the rule that stops, fragments of the one line)
CASES = [
    ("measurement value below zero", _value_below_zero, "calibrate",
     ("bad.csv: row 4, column value: value '-1.0' fails greater_than(0)",)),
    ("measurement on unknown hardware", _unknown_hardware, "calibrate",
     ("bad.csv: row 3, column hardware: hardware: unknown", "Acme-X1")),
    ("measurement without a metric column", _no_metric_column, "calibrate", ("bad.csv", "metric")),
    ("measurement file in latin-1", _latin1_bytes, "calibrate", ("bad.csv",)),
    ("empty measurement file", _empty_file, "calibrate", ("bad.csv",)),
    ("kernel-timing table truncated", _truncated_kernel_table, "fit_operator_priors",
     ("gemm_perf.parquet: cannot use this kernel-timing table",)),
    ("report template with a syntax error", _broken_template, "reports",
     ("page.html.j2:", "TemplateSyntaxError")),
]


@pytest.mark.parametrize("breaks, rule, fragments", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_job_stops_with_one_line(project, breaks, rule, fragments):
    breaks(project)
    before = snapshot(project)
    p = run(project)
    one_line_error(p, *fragments)
    assert f"Error in rule {rule}:" in p.stdout + p.stderr
    # every result in place, but the failed job's own output, which Snakemake removes (the next
    # successful run makes it again; fit.json and validation.stamp are the calibrate job's, reports/all the reports folder)
    own = {"calibrate": ("results/calibration/fit.json", "results/calibration/validation.stamp"),
           "reports": ("reports/",),
           "fit_operator_priors": ("results/calibration/operator_priors.json",)}[rule]
    kept = {k: v for k, v in before.items() if not k.startswith(own)}
    assert {k: v for k, v in snapshot(project).items() if not k.startswith(own)} == kept
    assert kept and "results/warehouse.duckdb" in kept and "results/calibration/profiles.json" in kept


SCRIPT = textwrap.dedent("""
    import sys, types
    sys.path.insert(0, {scripts!r})
    from _rule import setup
    snakemake = types.SimpleNamespace(threads=1, log=[{log!r}], output=[{out!r}], scriptdir={scripts!r})
    setup(snakemake)
    {body}
""")


@pytest.mark.parametrize("body, status, first", [
    ("from genz.errors import GenzError\nraise GenzError('x.yaml: grid.tp: 0 is less than 1')", 2,
     "genz: error: x.yaml: grid.tp: 0 is less than 1"),
    ("from genz.errors import GenzError\nraise GenzError('EstimateFrame validation failed:\\ncase 1\\ncase 2')", 2,
     "genz: error: EstimateFrame validation failed: (details below)"),
    ("open('/nonexistent/dir/f.csv')", 2, "genz: error: /nonexistent/dir/f.csv: No such file or directory"),
    ("import jsonschema\njsonschema.validate({'a': 1}, {'properties': {'a': {'type': 'string'}}})", 2,
     "genz: error: a: 1 is not of type 'string'"),
    ("raise ZeroDivisionError('a bug')", 1, "Traceback (most recent call last):"),
], ids=["GenzError", "multi-line GenzError", "OSError", "schema error", "a bug keeps its traceback"])
def test_rule_start_turns_user_errors_into_one_line(tmp_path, body, status, first):
    """The hook the rule scripts install: user errors are one line and exit 2; a bug is not hidden."""
    log, out = tmp_path / "job.log", tmp_path / "out.parquet"
    script = tmp_path / "job.py"
    script.write_text(SCRIPT.format(scripts=str(ROOT / "workflow" / "scripts"), log=str(log), out=str(out),
                                    body=body))
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert p.returncode == status, p.stderr
    text = log.read_text()
    assert text.splitlines()[0] == first, text
    if status == 2:
        assert "Traceback" not in text and "internal error" not in text
        assert text.count("genz: error:") == 1

