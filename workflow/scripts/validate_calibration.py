"""Rule validate_calibration: model-grouped cross-validation and uncertainty bands."""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(snakemake.scriptdir)))  # noqa: F821
from _log import to_log  # noqa: E402

to_log(snakemake)  # noqa: F821
from genz.calibrate import calibration  # noqa: E402

info = calibration.validate_files(snakemake.input.measurements, snakemake.params.operators,  # noqa: F821
                                  snakemake.output.validation, snakemake.output.bands,  # noqa: F821
                                  k=snakemake.params.folds, workers=snakemake.threads)  # noqa: F821
print(f"cross-validated 80% band coverage {info['coverage_80']:.3f} (scale {info['scale']:.2f})", file=sys.stderr)
