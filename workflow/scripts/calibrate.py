"""Rule calibrate: the joint fit and its cross-validation (by model and leave-one-source-out) with
the uncertainty bands, in one pool of worker processes (genz.calibrate.calibration.calibrate_files)."""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(snakemake.scriptdir)))  # noqa: F821
from _rule import setup

# the fits run in `threads` worker processes: one thread each
setup(snakemake, threads=1)  # noqa: F821
from genz.calibrate import calibration, opcal  # noqa: E402

p = snakemake.params  # noqa: F821
info = calibration.calibrate_files(
    snakemake.input.measurements, snakemake.output.fit, p.validation, p.bands,  # noqa: F821
    k=p.folds, workers=snakemake.threads, op_priors=opcal.read_priors(snakemake.input.priors),  # noqa: F821
    cache=p.cache, stamp=snakemake.output.validation,  # noqa: F821
    baseline=snakemake.input.baseline[0] if snakemake.input.baseline else None,  # noqa: F821
    serving=list(snakemake.input.serving), serving_cache=p.serving_cache)  # noqa: F821
for w in info["warnings"]:
    print(f"warning: {w}", file=sys.stderr)
print(f"{info['profiles']} profiles from {info['rows']} rows ({info['baseline_rows']} baseline rows), version {info['version']}; cross-validated 80% band "
      f"coverage {info['coverage_80']:.3f} (scale {info['scale']:.2f}); fits computed {info['fits_computed']}, "
      f"read from the cache {info['fits_cached']}", file=sys.stderr)
