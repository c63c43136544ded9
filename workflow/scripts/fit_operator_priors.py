"""Rule fit_operator_priors: kernel-timing priors per architecture family, fitted once
(genz.calibrate.opcal) and read by the joint fit and the cross-validation."""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(snakemake.scriptdir)))  # noqa: F821
from _rule import setup

setup(snakemake)  # noqa: F821
from genz.calibrate import opcal  # noqa: E402

tables = list(snakemake.input.tables)  # noqa: F821
fits = opcal.fit_operator_files(tables)
priors = opcal.family_priors(fits)
opcal.write_priors(snakemake.output[0], priors, sources=tables)  # noqa: F821
for f in fits:
    print(f"{f.system} ({f.family}): {f.factors} {f.diagnostics}", file=sys.stderr)
print(f"{len(priors)} family prior(s) from {len(tables)} table(s)", file=sys.stderr)
