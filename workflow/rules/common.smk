# Shared helpers: config validation, experiment discovery and sharding, rerun fingerprints.
import time
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from genz.calibrate import opcal
from genz.pipeline import experiments as X
from genz import pipeline as P
from genz.pipeline import upkeep
from genz.errors import GenzError
from genz.store.schemas import SCHEMA_VERSION

try:
    validate(config, "../schemas/config.schema.yaml")
except WorkflowError as exc:  # one line, not the schema dump
    raise SystemExit(f"genz: error: config: {X.schema_message(exc.__context__ or exc)}")

START_TIME = time.time()
# Snakemake does not notice edits to imported library code: every rule that calls genz takes
# this fingerprint of the package sources as a param, so a code change re-runs what it affects.
GENZ_FINGERPRINT = P.fingerprint()

# the experiments, validated and sharded without expanding a grid (genz.pipeline.experiments.plan);
# a mistake in one is one line naming the file, with no traceback
try:
    PLAN = X.plan(
        config["experiments"],
        tuple(config.get("library", ["usecases.yaml"])),
        tuple(config.get("include") or ()),
        config["shard_size"],
        config["max_scenarios"],
    )
    SPECS = PLAN.specs
    # a frontier experiment's grid names what a sweep compares; it is not estimated row by row
    FRONTIER_EXPERIMENTS = [n for n, s in SPECS.items() if s.frontier.get("enabled")]
    SHARDS = {n: s for n, s in PLAN.shards.items() if n not in FRONTIER_EXPERIMENTS}
    EXPERIMENTS = {name: spec.path for name, spec in SPECS.items()}
    GRID_HARDWARE = {}
    for spec in SPECS.values():
        for hw in dict(spec.axes)["hardware"]:
            GRID_HARDWARE.setdefault(X.hardware_slug(hw), str(hw))
except GenzError as exc:
    raise SystemExit(f"genz: error: {exc}")

WAREHOUSE_STAMP = str(Path(config["warehouse"]).with_suffix(".stamp"))

# every measurement CSV anywhere under the folder: rows are routed by their `hardware` column
# (resolved case-insensitively like everywhere else), so folders are only for people
MEASUREMENT_FILES = sorted(str(p) for p in Path(config["measurements"]).rglob("*.csv"))
# closed-loop serving rows: the stack generations' software factors are fitted on them
SERVING_FILES = sorted(
    str(p) for p in Path(config["serving_benchmarks"]).rglob("*.csv")
)
# the baseline file (genz.calibrate.baseline): the measurement files the shared factors are fitted
# on; an input only while it exists (none: every row is a baseline row)
BASELINE = (
    [config["baseline"]]
    if config.get("baseline") and Path(config["baseline"]).is_file()
    else []
)
PLATFORMS = sorted(GRID_HARDWARE)
# exactly the kernel-timing tables the operator-prior fit reads (none: the fit keeps the defaults)
OPERATOR_TABLES = (
    [str(p) for p in opcal.operator_files(config["operators"])]
    if config.get("operators")
    else []
)
REPORT_TEMPLATES = sorted(
    str(p) for p in Path(config["templates"]).glob("*") if p.is_file()
)


wildcard_constraints:
    experiment="[a-z0-9][a-z0-9._-]*",
    hardware="[a-z0-9][a-z0-9._-]*",
    platform="[a-z0-9][a-z0-9._-]*",
    part="[0-9]{4}",


def shard_paths(kind):
    """Every estimation shard's output of one kind (estimates or operators)."""
    return [
        f"results/{kind}/experiment={e}/hardware={h}/part-{i:04d}.parquet"
        for e, shards in SHARDS.items()
        for h, i in shards
    ]


def intact(paths):
    """Input function of the warehouse rule: ``paths``, after removing those that are not whole
    parquet files and, if any is missing (or the stamp is), marking the warehouse out of date, so
    that Snakemake rebuilds exactly those and the warehouse (genz.pipeline.upkeep.intact).
    """
    return lambda wildcards: upkeep.intact(paths, WAREHOUSE_STAMP, config["warehouse"])


REQUIREMENT_EXPERIMENTS = [n for n, s in SPECS.items() if s.requirements.get("enabled")]


def requirement_paths(kind):
    """Outputs of the requirement search of every experiment that enables it."""
    return [
        f"results/requirements/experiment={e}/{kind}.parquet"
        for e in REQUIREMENT_EXPERIMENTS
    ]


def frontier_paths():
    """Outputs of the frontier sweep of every experiment that enables it."""
    return [
        f"results/frontier/experiment={e}/frontier.parquet"
        for e in FRONTIER_EXPERIMENTS
    ]


def experiment_inputs(wildcards):
    """An experiment's spec and, if it uses one, its use-case library."""
    spec = SPECS[wildcards.experiment]
    files = [str(spec.path)]
    if spec.usecases_path is not None:
        files.append(str(spec.usecases_path))
    return files


def platform_name(wildcards):
    """Hardware preset id (or YAML path) behind a platform slug."""
    return GRID_HARDWARE[wildcards.platform]


def report_summary():
    """The short summary printed when a run succeeds (genz.report.reporting.run_summary)."""
    from genz.report.reporting import run_summary

    return run_summary(config["warehouse"], config["reports"], time.time() - START_TIME)


def _grid_file(value):
    """A grid cell that names a file (a config.json or YAML path), else None."""
    v = str(value)
    return v if v.endswith((".json", ".yaml", ".yml")) and Path(v).is_file() else None


def grid_files(wildcards):
    """Files a shard (or the requirement search) of one experiment reads besides its spec: the model
    configs its grid names by path (every shard has every model) and, for a shard, its own hardware
    YAML (all of them for the requirement search), so editing one reruns exactly what reads it.
    """
    own = getattr(wildcards, "hardware", None)
    files = set()
    for axis, values in SPECS[wildcards.experiment].axes:
        for v in values:
            cells = v.items() if isinstance(v, dict) else [(axis, v)]
            for col, cell in cells:
                if col in ("model", "draft_model") or (
                    col == "hardware" and (own is None or X.hardware_slug(cell) == own)
                ):
                    files.add(_grid_file(cell))
    return sorted(f for f in files if f)


# ----------------------------------------------------------------------------------------------
# calibration outputs and the content-addressed profile files the shards read
# (workflow/rules/calibration.smk; genz.calibrate.publish)
# ----------------------------------------------------------------------------------------------
import json
import os

from genz.calibrate import baseline as BL
from genz.calibrate import propagation as PROP
from genz.calibrate import publish as PUB

VALIDATION = "results/calibration/validation.parquet"
BANDS = "results/calibration/bands.json"
VALIDATION_STAMP = "results/calibration/validation.stamp"
PUBLISHED = "results/calibration/published"
PUBLISHED_STAMP = "results/calibration/profiles-published.stamp"
# (experiment/platform.json) -> (hardware as the grid names it, framework keys its rows name)
PUBLISHED_WANTED = {
    f"{e}/{X.hardware_slug(h)}.json": (str(h), PUB.grid_frameworks(SPECS[e].axes))
    for e in SPECS
    for h in dict(SPECS[e].axes)["hardware"]
}
# user hardware YAMLs named by the grids (presets are part of the code fingerprint)
GRID_HARDWARE_FILES = sorted(
    {h for h, _ in PUBLISHED_WANTED.values() if h.endswith((".yaml", ".yml"))}
)


# the stamp says every published file is current: one that went missing (deleted by hand) makes it
# stale, so it is dated back to 1970 and the checkpoint runs again (it rewrites only what is missing)
if Path(PUBLISHED_STAMP).exists() and any(
    not Path(PUBLISHED, rel).is_file() for rel in PUBLISHED_WANTED
):
    os.utime(PUBLISHED_STAMP, (0, 0))


# each profile file's input key: the hash of everything its content can depend on, known before any
# fit (genz.calibrate.propagation). A file whose key is the one it was last published with cannot
# change: its shard does not wait for the checkpoint, so a dry run lists exactly the shards to redo
PUBLISHED_KEYS = "results/calibration/published-keys.json"
try:
    PROFILE_KEYS = PROP.profile_keys(
        MEASUREMENT_FILES,
        BASELINE[0] if BASELINE else None,
        PUBLISHED_WANTED,
        shared=[
            GENZ_FINGERPRINT,
            config["folds"],
            [(p, BL.file_digest(p)) for p in OPERATOR_TABLES],
        ],
        serving=SERVING_FILES,
    )
except GenzError as exc:
    raise SystemExit(f"genz: error: {exc}")
try:
    _LAST_KEYS = json.loads(Path(PUBLISHED_KEYS).read_text())
except (OSError, ValueError):
    _LAST_KEYS = {}
STALE_PROFILES = {
    rel
    for rel, key in PROFILE_KEYS.items()
    if _LAST_KEYS.get(rel) != key or not Path(PUBLISHED, rel).is_file()
}


def published_profile(wildcards):
    """The profile file of one shard (after the checkpoint has written it where it changed, when
    its input key says it may have)."""
    rel = f"{wildcards.experiment}/{wildcards.hardware}.json"
    if rel in STALE_PROFILES:
        checkpoints.publish_profiles.get()
    return f"{PUBLISHED}/{rel}"


def published_profiles(wildcards):
    """Every profile file of one experiment (the requirement search reads its platforms')."""
    rels = [
        rel
        for rel in sorted(PUBLISHED_WANTED)
        if rel.startswith(f"{wildcards.experiment}/")
    ]
    if STALE_PROFILES.intersection(rels):
        checkpoints.publish_profiles.get()
    return [f"{PUBLISHED}/{rel}" for rel in rels]
