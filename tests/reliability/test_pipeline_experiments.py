"""Hostile and careless experiment files and config through ``snakemake ... reports/all``: each is one
line naming the file and what is allowed, before any job starts, and nothing already built changes.

The warehouse's own defence against a hostile axis name (names are quoted, values bound) is tested
directly in tests/unit/test_store.py (test_injected_axis_name_is_a_column_not_sql, and the schema's
pattern in test_experiment_schema_refuses_an_axis_name_that_is_not_an_identifier); here the same
experiment goes through the whole pipeline.
"""

from __future__ import annotations

import time

import pytest

from tests.reliability.pipeline_project import (
    SMALL,
    fresh,
    one_line_error,
    run,
    snapshot,
    use_experiments,
    warehouse_rows,
)

SMOKE_ROWS = 24  # the smoke grid: 2 models x 2 platforms x 2 use cases x 2 layouts x 2 batches, less 8 excluded


@pytest.fixture
def project(tmp_path_factory, tmp_path):
    return fresh(tmp_path_factory, tmp_path / "proj")


def test_injection_axis_name_writes_no_file(project, tmp_path):
    target = tmp_path / "pwned.csv"
    evil = f"x AS axis_x2 FROM raw; COPY (SELECT 'pwned') TO '{target}'; CREATE TABLE zz AS SELECT 1 AS axis_y"
    use_experiments(project, {"evil.yaml": SMALL + f'  "{evil}": [{{tp: 1}}]\n'})
    before = snapshot(project)
    p = run(project)
    one_line_error(p, "evil.yaml: grid:", "does not match '^[a-z][a-z0-9_]{0,47}$'")
    assert not target.exists()
    assert snapshot(project) == before  # the warehouse file is byte-identical: no table zz, no run


# (case, experiment files, extra snakemake arguments, fragments of the one line)
CASES = [
    ("duplicate name", {"copy.yaml": "name: smoke\n" + SMALL}, (),
     ("smoke.yaml: experiment name 'smoke' is also the name of", "copy.yaml", "must be unique")),
    ("excludes remove every row", {"empty.yaml": SMALL + "exclude:\n  - {hardware: H100-SXM-80GB}\n"}, (),
     ("empty.yaml: the grid expands to no scenarios", "remove all 1")),
    ("exclude: unknown key", {"typo.yaml": SMALL + "exclude:\n  - {modle: meta-llama/Llama-3.1-8B}\n"}, (),
     ("typo.yaml: exclude[0].modle: unknown key 'modle'", "allowed: the axes and the columns they set: model, "
      "hardware, input_tokens, output_tokens")),
    ("exclude: value in no row", {"miss.yaml": SMALL + "exclude:\n  - {model: meta-llama/Llama-3.1-7B}\n"}, (),
     ("miss.yaml: exclude[0].model: 'meta-llama/Llama-3.1-7B' matches no value of grid.model",)),
    ("exclude: group axis without a mapping", {"grp.yaml": SMALL + "  parallel: [{tp: 1}]\nexclude:\n  - {parallel: 1}\n"},
     (), ("grp.yaml: exclude[0].parallel: 'parallel' is a group axis",)),
    ("exclude: keys that contradict", {"both.yaml": SMALL + "  parallel: [{tp: 1}, {tp: 2}]\nexclude:\n"
                                       "  - {parallel: {tp: 1}, tp: 2}\n"}, (),
     ("both.yaml: exclude[0]", "matches no scenario")),
    ("file name that is no name", {"it's.yaml": SMALL}, (),
     ("it's.yaml: the file name 'it's' is not a valid experiment name", "give the experiment a `name:`")),
    ("name: that is no name", {"x.yaml": "name: My Grid\n" + SMALL}, (), ("x.yaml: name: 'My Grid' does not match '^[a-z0-9][a-z0-9._-]*$'",)),
    ("malformed YAML", {"broken.yaml": SMALL + "  tp: [1, 2\n"}, (), ("broken.yaml: line", "malformed YAML")),
    ("empty axis", {"none.yaml": SMALL + "  tp: []\n"}, (), ("none.yaml: grid.tp: [] should be non-empty",)),
    ("requirements without use cases", {"req.yaml": SMALL + "requirements: {enabled: true}\n"}, (),
     ("req.yaml: requirements.enabled: the requirement search needs a use_case axis",)),
    ("unknown hardware", {"hw.yaml": SMALL.replace("H100-SXM-80GB", "H1000")}, (),
     ("hw.yaml: grid.hardware: unknown hardware 'H1000'; allowed: A100-SXM-40GB",)),
    ("unknown model", {"m.yaml": SMALL.replace("Llama-3.1-8B", "Llama-3.1-8")}, (),
     ("m.yaml: grid.model: unknown model 'meta-llama/Llama-3.1-8'", "did you mean")),
    ("grid over max_scenarios", {}, ("--config", "max_scenarios=10"),
     ("smoke.yaml: the grid has 32 scenarios (model 2 x hardware 2 x use_case 2 x parallel 2 x batch_size 2), "
      "more than max_scenarios = 10",)),
    ("include: unknown experiment", {}, ("--config", "include=[smokey]"),
     ("config include: unknown experiment(s) smokey; available:",)),
    ("config: value out of range", {}, ("--config", "shard_size=5"),
     ("config: shard_size: 5 is less than the minimum of 1000",)),
    ("config: unknown key", {}, ("--config", "shard_sise=5000"),
     ("config: (top level): Additional properties are not allowed ('shard_sise' was unexpected)",
      "allowed keys: baseline, experiments")),
]


@pytest.mark.parametrize("files, extra, fragments", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_mistake_is_one_line_and_changes_nothing(project, files, extra, fragments):
    use_experiments(project, files)
    before = snapshot(project)
    p = run(project, *extra)
    one_line_error(p, *fragments)
    assert "rule " not in p.stdout + p.stderr  # refused before the job graph: no job ran
    assert snapshot(project) == before


def test_a_billion_scenarios_are_refused_before_the_job_graph(project):
    """10^9 scenarios (product of the axis lengths) are refused from the lengths alone: one line, in
    seconds, without expanding anything (before, 5x10^8 aborted with a Rust panic)."""
    axes = "".join(f"  {c}: [{', '.join(str(i) for i in range(1, 11))}]\n"
                   for c in ("batch_size", "tp", "pp", "ep", "dp", "cp", "chunk_size", "spec_tokens", "num_beams"))
    use_experiments(project, {"huge.yaml": "grid:\n  model: [meta-llama/Llama-3.1-8B]\n  hardware: [H100-SXM-80GB]\n"
                                           "  input_tokens: [128]\n  output_tokens: [16]\n" + axes})
    before = snapshot(project)
    t0 = time.time()
    p = run(project, timeout=120)
    one_line_error(p, "huge.yaml: the grid has 1,000,000,000 scenarios", "more than max_scenarios = 20,000,000")
    assert time.time() - t0 < 60
    assert snapshot(project) == before


@pytest.mark.slow  # three new experiments estimated, the warehouse and the reports rebuilt (~30 s)
def test_file_names_with_a_quote_a_space_or_unicode_run_under_their_name(project):
    """Shard paths and the warehouse use the validated `name:`, never the file name: a file named
    `it's.yaml` (or with a space, or non-ASCII) runs like any other, and nothing is skipped."""
    use_experiments(project, {"it's.yaml": "name: its\n" + SMALL, "my grid.yaml": "name: my-grid\n" + SMALL,
                              "ünï.yaml": "name: uni\n" + SMALL})
    p = run(project)
    assert p.returncode == 0, (p.stdout + p.stderr)[-3000:]
    assert warehouse_rows(project) == {"smoke": SMOKE_ROWS, "its": 1, "my-grid": 1, "uni": 1}
    shards = sorted(d.name for d in (project / ".test" / "results" / "estimates").iterdir())
    assert shards == ["experiment=its", "experiment=my-grid", "experiment=smoke", "experiment=uni"]
    again = run(project, dry=True)
    assert "Nothing to be done" in again.stdout + again.stderr
