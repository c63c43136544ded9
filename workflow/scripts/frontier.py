"""Rule frontier: the serving-frontier sweep of one experiment (genz.pipeline.frontier_for_experiment)."""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(snakemake.scriptdir)))  # noqa: F821
from _rule import setup

setup(snakemake)  # noqa: F821
from genz import pipeline  # noqa: E402

n = pipeline.frontier_for_experiment(snakemake.input.spec[0], snakemake.input.profiles,  # noqa: F821
                                     snakemake.output[0])  # noqa: F821
print(f"{snakemake.wildcards.experiment}: {n} frontier points", file=sys.stderr)  # noqa: F821
