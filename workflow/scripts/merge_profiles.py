"""Rule merge_profiles: all platform profiles plus bands and the fitted stack generations in one file."""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(snakemake.scriptdir)))  # noqa: F821
from _rule import setup

setup(snakemake)  # noqa: F821
from genz.calibrate import calibration  # noqa: E402

pset = calibration.merge_profile_files(
    snakemake.input.profiles,  # noqa: F821
    snakemake.params.bands,  # noqa: F821
    snakemake.output[0],  # noqa: F821
)
print(f"{len(pset)} profiles", file=sys.stderr)
