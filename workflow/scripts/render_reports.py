"""Rule reports: render the HTML reports from the warehouse (read-only)."""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(snakemake.scriptdir)))  # noqa: F821
from _log import to_log  # noqa: E402

to_log(snakemake)  # noqa: F821
from genz.report import reporting  # noqa: E402

pages = reporting.render(snakemake.params.db, snakemake.output[0], templates="reports/templates")  # noqa: F821
print(f"{len(pages)} pages", file=sys.stderr)
