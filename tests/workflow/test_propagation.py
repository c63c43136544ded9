"""Change propagation (issue 12): a change reruns what reads it, decided by content, not file times.

Pipeline tests run the small project of ``conftest.make_project`` (the smoke grid on H100 and MI300X,
the two-platform measurement set of ``.test/``); the others check the pieces directly: the fit's
independent problems, the fit cache, the content-addressed profile files, user hardware.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from genz.calibrate import calibration as cal
from genz.calibrate import physfit, publish
from genz.calibrate.fitcache import FitCache
from genz.calibrate.measurements import load_measurement_files
from genz.calibrate.prepared import prepare
from genz.perf.predict import predict_frame
from genz.perf.profiles import load_profiles, round_sig
from genz.pipeline import experiments as X
from tests.conftest import ROOT, TINY_CONFIG
from tests.workflow.conftest import TEST_MEASUREMENTS, make_project
from tests.workflow.test_pipeline import SNAKEMAKE, dry_run_jobs, run_api

PUBLISHED = Path("results") / "calibration" / "published"
SHARDS = Path("results") / "estimates"


def snakemake(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SNAKEMAKE, "--cores", "2", *args, "reports/all"], cwd=project, capture_output=True,
                          text=True, timeout=600)


def ran_rules(p: subprocess.CompletedProcess) -> Counter:
    """Jobs a (real) run executed, by rule."""
    return Counter(re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):$", p.stdout + p.stderr, flags=re.M))


def files_state(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))
            if p.is_file()}


def rewritten(before: dict, after: dict) -> set[str]:
    """Files whose modification time changed (rewritten), or that are new."""
    return {k for k, (_, t) in after.items() if k not in before or before[k][1] != t}


def table(db: Path, name: str) -> pl.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.sql(f"SELECT * FROM {name} ORDER BY ALL").pl()
    finally:
        con.close()


def scaled_rows(src: Path, n: int, factor: float, source: str) -> pl.DataFrame:
    """The first ``n`` rows of a measurement file, measured ``factor`` × slower, from a new study."""
    df = pl.read_csv(src, infer_schema=False).head(n)
    return df.with_columns(value=(pl.col("value").cast(pl.Float64) * factor).round(3).cast(pl.String),
                           source=pl.lit(source))


@pytest.mark.slow
def test_a_new_measurement_file_reruns_what_its_content_changes_and_equals_a_fresh_run(project, tmp_path):
    run_api(project)
    meas = project / "calibration" / "measurements"
    validation = project / "results" / "calibration" / "validation.parquet"

    # content, not time: a touched measurement file refits (from the cache) and re-estimates nothing
    time.sleep(1.1)
    (meas / "MI300X" / "llm-inference-bench.csv").touch()
    shards0 = files_state(project / SHARDS)
    p = snakemake(project)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "estimate_shard" not in ran_rules(p)
    assert rewritten(shards0, files_state(project / SHARDS)) == set()
    assert "fits computed 0" in (project / "results" / "logs" / "calibrate.log").read_text()

    # a new file for one platform (outside the baseline): the calibration reruns, then exactly the
    # shards of that platform's family; the H100 shard's profile cannot change, so it is not planned
    published0 = files_state(project / PUBLISHED)
    shards0 = files_state(project / SHARDS)
    h100_profile = (project / PUBLISHED / "smoke" / "h100-sxm-80gb.json").read_bytes()
    new = scaled_rows(meas / "MI300X" / "llm-inference-bench.csv", 10, 1.05, "lab run 2026-11")
    new.write_csv(meas / "MI300X" / "lab-run.csv")
    assert dry_run_jobs(project) == {"calibrate": 1, "merge_profiles": 1, "publish_profiles": 1,
                                     "estimate_shard": 1, "warehouse": 1, "reports": 1}
    p = snakemake(project)
    assert p.returncode == 0, p.stderr[-3000:]
    assert rewritten(published0, files_state(project / PUBLISHED)) == {"smoke/mi300x.json"}
    assert (project / PUBLISHED / "smoke" / "h100-sxm-80gb.json").read_bytes() == h100_profile
    ran = {Path(k).parent.name.removeprefix("hardware=")
           for k in rewritten(shards0, files_state(project / SHARDS))}
    assert ran == {"mi300x"}
    assert ran_rules(p)["estimate_shard"] == 1
    assert "fit_operator_priors" not in ran_rules(p)
    # the shared stage's fits (baseline rows) did not change: the validation read them from the cache
    log = (project / "results" / "logs" / "calibrate.log").read_text()
    assert "(365 baseline rows)" in log, log
    assert int(re.search(r"read from the cache (\d+)", log).group(1)) > 0, log

    # the same inputs from scratch give the same warehouse, table by table, value by value
    fresh = make_project(tmp_path / "fresh")
    shutil.copy(meas / "MI300X" / "lab-run.csv", fresh / "calibration" / "measurements" / "MI300X" / "lab-run.csv")
    run_api(fresh)
    for t in ("scenarios", "estimates", "operators", "measurements", "calibration", "validation", "runs"):
        a, b = table(project / "results" / "warehouse.duckdb", t), table(fresh / "results" / "warehouse.duckdb", t)
        assert a.height > 0 or t == "runs"
        assert a.equals(b), t

    # a failed fit keeps the previous profiles, validation and bands until a good run replaces them
    kept = {f: f.read_bytes() for f in [*(project / PUBLISHED).rglob("*.json"), validation,
                                         project / "results" / "calibration" / "bands.json",
                                         project / "results" / "calibration" / "profiles.json"]}
    bad = new.with_columns(value=pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("-1")).otherwise(pl.col("value")))
    bad.write_csv(meas / "MI300X" / "lab-run.csv")
    p = snakemake(project)
    assert p.returncode != 0
    assert "lab-run.csv: row 5, column value" in p.stdout + p.stderr
    for f, data in kept.items():
        assert f.read_bytes() == data, f


@pytest.mark.slow
def test_user_hardware_and_model_files_in_a_grid(project):
    """A hardware YAML and a config.json named by path in a grid run like presets; editing either reruns
    exactly the shards that read it; a deleted profile file is republished."""
    (project / "my_hw").mkdir()
    hw = (ROOT / "genz" / "data" / "hardware" / "h100-sxm-80gb.yaml").read_text()
    hw = re.sub(r"(?m)^id: .*$", "id: Acme-X1", hw)
    hw = re.sub(r"(?m)^aliases: .*$", "aliases: []", hw)
    (project / "my_hw" / "acme-x1.yaml").write_text(hw)
    (project / "models").mkdir()
    # the tiny model's 512-token context would make the smoke grid's use cases context errors
    tiny = dict(TINY_CONFIG, max_position_embeddings=131_072)
    (project / "models" / "config.json").write_text(json.dumps(tiny))
    spec = project / "experiments" / "smoke.yaml"
    text = spec.read_text()
    text = text.replace("hardware: [H100-SXM-80GB, MI300X]", "hardware: [H100-SXM-80GB, MI300X, my_hw/acme-x1.yaml]")
    text = text.replace("model: [meta-llama/Llama-3.1-8B,", "model: [models/config.json, meta-llama/Llama-3.1-8B,")
    spec.write_text(text)
    run_api(project)
    db = project / "results" / "warehouse.duckdb"
    est = table(db, "estimates").join(table(db, "scenarios"), on=["experiment", "scenario_id"])
    acme = est.filter(pl.col("hardware") == "my_hw/acme-x1.yaml")
    assert acme.height == 20 and (acme.get_column("status") == "ok").all()
    # uncalibrated unless measured: the label of an unmeasured preset of its family, never "calibrated"
    pset = load_profiles(project / "results" / "calibration" / "profiles.json")
    peer = pset.hardware["h100-nvl-94gb"]
    assert peer.n_rows == 0
    labels = set(acme.get_column("calibration").str.split(":").list.first().to_list())
    assert labels == {peer.label} and "calibrated" not in labels
    assert est.filter(pl.col("model") == "models/config.json").height == 8 * 3  # 2 use cases × 2 tp × 2 batch

    # a config.json edit reruns every shard (each has the model) and nothing upstream
    time.sleep(1.1)
    cfg = dict(tiny, intermediate_size=256)
    (project / "models" / "config.json").write_text(json.dumps(cfg))
    assert dry_run_jobs(project) == {"estimate_shard": 3, "warehouse": 1, "reports": 1}
    p = snakemake(project)
    assert p.returncode == 0, p.stderr[-3000:]

    # a hardware YAML edit: its profile is republished, and only its shard re-estimated
    shards0 = files_state(project / SHARDS)
    time.sleep(1.1)
    (project / "my_hw" / "acme-x1.yaml").write_text(hw + "\n# edited\n")
    p = snakemake(project)
    assert p.returncode == 0, p.stderr[-3000:]
    assert {Path(k).parent.name for k in rewritten(shards0, files_state(project / SHARDS))} == {"hardware=acme-x1"}
    assert ran_rules(p)["estimate_shard"] == 1

    # a profile file deleted by hand: the checkpoint runs again and rewrites it, the same bytes
    gone = project / PUBLISHED / "smoke" / "h100-sxm-80gb.json"
    data = gone.read_bytes()
    gone.unlink()
    p = snakemake(project)
    assert p.returncode == 0, p.stderr[-3000:]
    assert gone.read_bytes() == data
    assert ran_rules(p)["publish_profiles"] == 1


# ----------------------------------------------------------------------------------------------
# the pieces, without Snakemake
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prep_two():
    files = sorted(TEST_MEASUREMENTS.rglob("*.csv"))
    return prepare(load_measurement_files(files).drop("measurement_file"))


def test_rows_sharing_no_parameter_are_fitted_as_independent_problems(prep_two):
    """H100 rows (vLLM, Hopper) and MI300X rows (the 2024 ROCm build, CDNA3) share no parameter:
    two problems; MI300X rows added or removed leave every H100 number bit-identical."""
    lay = physfit.build_layout(prep_two.platform, prep_two.stack, None)
    parts = physfit.components(lay)
    assert len(parts) == 2
    assert {tuple(sorted(set(prep_two.platform[m].tolist()))) for m in parts} == {("H100-SXM-80GB",), ("MI300X",)}
    both = physfit.fit_joint(prep_two, prep_two.stack, None)
    h100 = prep_two.platform == "H100-SXM-80GB"
    alone = physfit.fit_joint(prep_two.subset(h100), prep_two.stack[h100], None)
    for i, nm in enumerate(alone.layout.names):
        j = both.layout.names.index(nm)
        assert both.x[j] == alone.x[i], nm


def test_the_fit_cache_gives_exactly_the_fit(prep_two, tmp_path):
    c = FitCache(tmp_path / "cache")
    first = physfit.fit_joint(prep_two, prep_two.stack, None, cache=c)
    assert (c.hits, c.misses) == (0, 2)
    again = physfit.fit_joint(prep_two, prep_two.stack, None, cache=FitCache(tmp_path / "cache"))
    np.testing.assert_array_equal(first.x, again.x)
    np.testing.assert_array_equal(first.free, again.free)
    # a different row set is a different key
    keep = np.arange(len(prep_two)) % 7 != 0
    c2 = FitCache(tmp_path / "cache")
    physfit.fit_joint(prep_two.subset(keep), prep_two.stack[keep], None, cache=c2)
    assert c2.misses == 2
    assert len(list((tmp_path / "cache").glob("*.json"))) == 4
    assert c2.prune() == 2 and len(list((tmp_path / "cache").glob("*.json"))) == 2  # the entries c2 did not use


def test_stored_precision_is_three_significant_digits():
    # 0.000123456 -> 1.23e-4; 57.4888 -> 57.5; 0.99949 -> 0.999; 0.9995 -> 1.0 (rounds up a digit)
    assert round_sig(0.000123456) == 1.23e-4
    assert round_sig(57.4888) == 57.5
    assert round_sig(0.99949) == 0.999
    assert round_sig(0.9996) == 1.0
    assert round_sig(0.0) == 0.0
    assert round_sig(-0.0012345) == -0.00123


def test_a_shard_profile_file_predicts_like_the_whole_set(tmp_path):
    """The published subset of the shipped profiles gives the same predictions, row for row, as the
    whole set, for presets (measured or not), a user YAML, and frameworks measured or not."""
    from genz.perf.profiles import PACKAGED

    pset = load_profiles(PACKAGED)
    yaml = tmp_path / "acme.yaml"
    hw = (ROOT / "genz" / "data" / "hardware" / "mi300x.yaml").read_text()
    yaml.write_text(re.sub(r"(?m)^aliases: .*$", "aliases: []", re.sub(r"(?m)^id: .*$", "id: Acme-Y", hw)))
    fws = [None, "vllm", "trtllm", "sglang", "vllm-rocm"]
    for hw_name in ("H100-SXM-80GB", "GH200-144GB", "MI300X", "TPUv6e", str(yaml)):
        keys = publish.grid_frameworks([("framework", tuple(fws))])
        sub = publish.shard_profile_set(pset, hw_name, keys)
        path = tmp_path / "p.json"
        path.write_text(json.dumps(publish.shard_payload(sub)))
        rows = pl.DataFrame({"model": "meta-llama/Llama-3.1-8B", "hardware": hw_name, "input_tokens": 1024,
                             "output_tokens": 128, "batch_size": [1, 16, 128, 1, 16],
                             "framework": fws})
        a = predict_frame(rows, pset)
        b = predict_frame(rows, load_profiles(path))
        assert a.equals(b), hw_name
        if hw_name == str(yaml):
            assert not any(s.startswith("calibrated") for s in b.get_column("calibration").to_list())


def test_grid_frameworks():
    assert publish.grid_frameworks([("model", ("m",))]) == ["generic"]
    assert publish.grid_frameworks([("framework", ("vLLM 0.6", "TensorRT-LLM"))]) == ["trtllm", "vllm"]
    assert publish.grid_frameworks([("stack", ({"framework": "vllm", "tp": 8}, {"tp": 4}))]) == ["generic", "vllm"]


def test_write_if_changed_keeps_the_file_time(tmp_path):
    p = tmp_path / "a.json"
    assert publish.write_if_changed(p, "x")
    t = p.stat().st_mtime_ns
    time.sleep(0.01)
    assert not publish.write_if_changed(p, "x")
    assert p.stat().st_mtime_ns == t
    assert publish.write_if_changed(p, "y") and p.read_text() == "y"


def test_vectorized_scenario_ids_equal_the_canonical_key():
    import hashlib

    for name in ("smoke", "usecase-comparison", "parallelism-sweep"):
        g = X.expand(X.load(ROOT / "experiments" / f"{name}.yaml")).head(3000)
        cols = [c for c in X.KEY_COLUMNS if c in g.columns]
        want = [hashlib.sha256(X.scenario_key(r).encode()).hexdigest()[:16]
                for r in g.select(cols).iter_rows(named=True)]
        assert X.with_scenario_ids(g).get_column("scenario_id").to_list() == want, name


def test_content_version_names_the_content():
    pset = load_profiles(ROOT / "genz" / "data" / "calibration" / "profiles.json")
    a, _ = pset.compose("H100-SXM-80GB", "vllm")
    b, _ = load_profiles(ROOT / "genz" / "data" / "calibration" / "profiles.json").compose("H100-SXM-80GB", "vllm")
    assert a.version == b.version == a.content_version()
    c, _ = pset.compose("H200-SXM-141GB", "vllm")
    assert c.version != a.version


def test_unmeasured_platforms_are_never_labelled_calibrated(prep_two):
    fit = cal.fit_profiles(prep_two)
    for h in fit.profiles.hardware.values():
        if h.n_rows == 0:
            assert h.label != "calibrated", h.platform
