"""Pipeline glue on top of everything: experiment grids and shards, and the steps Snakemake rules call."""

from .steps import (
    PREDICTION_COLUMNS,
    SCENARIO_OUT,
    estimate_frame,
    estimate_shard,
    fingerprint,
    frontier_for_experiment,
    requirements_for_experiment,
    sample_for_operators,
)

__all__ = ["PREDICTION_COLUMNS", "SCENARIO_OUT", "estimate_frame", "estimate_shard", "fingerprint",
           "frontier_for_experiment", "requirements_for_experiment", "sample_for_operators"]
