"""Rule fit_platform: one platform's part of the joint fit (what its estimate shards read)."""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(snakemake.scriptdir)))  # noqa: F821
from _rule import setup

setup(snakemake)  # noqa: F821
from genz.calibrate import calibration  # noqa: E402
from genz.perf.profiles import load_profiles  # noqa: E402

sub = calibration.platform_profiles(load_profiles(snakemake.input.fit), snakemake.params.hardware)  # noqa: F821
calibration.write_profile_set(sub, snakemake.output[0])  # noqa: F821
entry = next(iter(sub.hardware.values()))
print(f"{snakemake.params.hardware}: {len(sub)} profile(s), {entry.label}", file=sys.stderr)  # noqa: F821
