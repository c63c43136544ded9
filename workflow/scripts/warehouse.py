"""Rule warehouse: load every shard, measurement and calibration output into DuckDB (atomically)."""

import sys

sys.path.insert(0, str(__import__("pathlib").Path(snakemake.scriptdir)))  # noqa: F821
from _rule import setup

setup(snakemake, outputs=[snakemake.params.db])  # noqa: F821
from genz.store import warehouse  # noqa: E402

counts = warehouse.build(
    snakemake.params.db,  # noqa: F821
    estimates=snakemake.input.estimates, operators=snakemake.input.operators,  # noqa: F821
    measurements=snakemake.input.measurements, profiles=snakemake.input.profiles,  # noqa: F821
    validation=snakemake.params.validation,  # noqa: F821
    requirements=list(snakemake.input.requirements), deployments=list(snakemake.input.deployments),  # noqa: F821
    frontier=list(snakemake.input.frontier),  # noqa: F821
    run={"genz_fingerprint": snakemake.params.code, "schema_version": snakemake.params.schema,  # noqa: F821
         "experiments": snakemake.params.experiments},  # noqa: F821
)
warehouse.write_stamp(snakemake.output.stamp, snakemake.params.db, counts)  # noqa: F821
print(counts, file=sys.stderr)
