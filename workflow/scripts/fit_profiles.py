"""Rule fit_profiles: the joint calibration fit of every measurement file (genz.calibrate.calibration)."""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(snakemake.scriptdir)))  # noqa: F821
from _rule import setup

setup(snakemake)  # noqa: F821
from genz.calibrate import calibration, opcal  # noqa: E402

cal = calibration.fit_files(snakemake.input.measurements, operators=None,  # noqa: F821
                            op_priors=opcal.read_priors(snakemake.input.priors))  # noqa: F821
calibration.write_platform_profiles(cal, snakemake.output[0])  # noqa: F821
for w in cal.summary["warnings"]:
    print(f"warning: {w}", file=sys.stderr)
print(f"{len(cal.profiles)} profiles from {cal.summary['rows']} rows, version {cal.summary['version']}",
      file=sys.stderr)
