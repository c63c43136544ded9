"""Rule estimate_shard: predict one shard of an experiment grid (genz.pipeline.estimate_shard)."""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(snakemake.scriptdir)))  # noqa: F821
from _rule import setup

setup(snakemake)  # noqa: F821
from genz import pipeline  # noqa: E402

w = snakemake.wildcards  # noqa: F821
n = pipeline.estimate_shard(
    snakemake.input.spec[0], w.hardware, int(w.part), snakemake.params.shard_size,  # noqa: F821
    snakemake.input.profiles, snakemake.output.estimates, snakemake.output.operators,  # noqa: F821
    code=snakemake.params.code,  # noqa: F821
    failures_estimates=snakemake.log.failures_estimates,  # noqa: F821
    failures_operators=snakemake.log.failures_operators,  # noqa: F821
)
print(f"{w.experiment}/{w.hardware}/part-{w.part}: {n} scenarios", file=sys.stderr)
