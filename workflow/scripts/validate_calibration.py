"""Rule validate_calibration: model-grouped and leave-one-source-out cross-validation and the
uncertainty bands, written aside; the rule's declared output is a stamp of the two files."""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(snakemake.scriptdir)))  # noqa: F821
from _rule import setup

# the folds run in `threads` worker processes: one thread each
setup(snakemake, threads=1)  # noqa: F821
from genz.calibrate import calibration, opcal  # noqa: E402

p = snakemake.params  # noqa: F821
info = calibration.validate_files(snakemake.input.measurements, None, p.validation, p.bands,  # noqa: F821
                                  k=p.folds, workers=snakemake.threads,  # noqa: F821
                                  op_priors=opcal.read_priors(snakemake.input.priors),  # noqa: F821
                                  cache=p.cache, stamp=snakemake.output[0])  # noqa: F821
for w in info["warnings"]:
    print(f"warning: {w}", file=sys.stderr)
print(f"cross-validated 80% band coverage {info['coverage_80']:.3f} (scale {info['scale']:.2f}); "
      f"fits computed {info['fits_computed']}, read from the cache {info['fits_cached']}", file=sys.stderr)
