"""Rule requirements: deployment search and platform requirements for one experiment."""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(snakemake.scriptdir)))  # noqa: F821
from _rule import setup

setup(snakemake)  # noqa: F821
from genz import pipeline  # noqa: E402

n = pipeline.requirements_for_experiment(snakemake.input.spec[0], list(snakemake.input.profiles),  # noqa: F821
                                         snakemake.output.requirements, snakemake.output.deployments)  # noqa: F821
print(f"{snakemake.wildcards.experiment}: {n} requirement rows", file=sys.stderr)  # noqa: F821
