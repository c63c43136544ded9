"""SLO requirement search: cheapest deployment meeting an SLO, and the platform resources it needs."""

from .sizing import (
    BATCHES,
    REPORTED,
    RESOURCES,
    Slo,
    bisect_requirement,
    candidates,
    deployment_search,
    meets_slo,
    pareto,
    platform_requirements,
    search,
)

__all__ = ["BATCHES", "REPORTED", "RESOURCES", "Slo", "bisect_requirement", "candidates", "deployment_search",
           "meets_slo", "pareto", "platform_requirements", "search"]
