"""Rule fit_platform: one platform's calibration profiles (genz.calibration)."""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(snakemake.scriptdir)))  # noqa: F821
from _log import to_log  # noqa: E402

to_log(snakemake)  # noqa: F821
from genz import calibration  # noqa: E402

cal = calibration.calibrate_platform(snakemake.input.measurements, snakemake.params.hardware,  # noqa: F821
                                     operators=snakemake.params.operators,  # noqa: F821
                                     peers=list(snakemake.input.peers))  # noqa: F821
calibration.write_platform_profiles(cal, snakemake.output[0])  # noqa: F821
print(f"{snakemake.params.hardware}: {len(cal.profiles)} profile(s), version {cal.summary['version']}",  # noqa: F821
      file=sys.stderr)
