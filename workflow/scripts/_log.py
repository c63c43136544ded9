"""Send a script's stderr to its rule's log file (imported first by every rule script)."""

import sys


def to_log(snakemake) -> None:  # noqa: D103
    if snakemake.log:
        sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115
