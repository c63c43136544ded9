"""Rule validate_calibration: model-grouped cross-validation and uncertainty bands."""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(snakemake.scriptdir)))  # noqa: F821
from _rule import setup

# the folds run in `threads` worker processes: one thread each
setup(snakemake, threads=1)  # noqa: F821
from genz.calibrate import calibration, opcal  # noqa: E402

info = calibration.validate_files(snakemake.input.measurements, None,  # noqa: F821
                                  snakemake.output.validation, snakemake.output.bands,  # noqa: F821
                                  k=snakemake.params.folds, workers=snakemake.threads,  # noqa: F821
                                  op_priors=opcal.read_priors(snakemake.input.priors))  # noqa: F821
print(f"cross-validated 80% band coverage {info['coverage_80']:.3f} (scale {info['scale']:.2f})", file=sys.stderr)
