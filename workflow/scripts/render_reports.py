"""Rule reports: render the HTML reports from the warehouse (read-only)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))  # noqa: F821
from _rule import setup

setup(snakemake)  # noqa: F821
from genz.report import reporting  # noqa: E402

# the templates folder is the one the rule's declared template files are in
templates = Path(snakemake.input.templates[0]).parent if snakemake.input.templates else None  # noqa: F821
pages = reporting.render(snakemake.params.db, snakemake.output[0], templates=templates)  # noqa: F821
print(f"{len(pages)} pages", file=sys.stderr)
