"""Error statistics of predictions against measurements: one definition, used by the fit, the
validation tables, the kernel-timing fits and the benchmarks.

The headline number is the **geometric-mean relative error**, ``exp(mean(ln |pred - meas| / meas))``:
a typical factor-free miss that neither a few wild rows nor many exact ones dominate. A tiny floor
(1e-9) keeps an exact prediction from sending the logarithm to -inf.
"""

from __future__ import annotations

import numpy as np
import polars as pl

FLOOR = 1e-9


def geomean_rel_err(rel_err: np.ndarray) -> float:
    """Geometric mean of relative errors ``|pred - meas| / meas`` (non-finite entries skipped)."""
    r = np.asarray(rel_err, dtype=float)
    r = r[np.isfinite(r)]
    return float(np.exp(np.mean(np.log(r + FLOOR)))) if len(r) else float("nan")


def geomean_from_log_ratio(log_ratio: np.ndarray) -> float:
    """The same from ``ln(pred / meas)`` (either orientation: ``|e^r - 1|`` is the relative error
    of pred against meas when ``r = ln(pred/meas)``)."""
    return geomean_rel_err(np.abs(np.expm1(np.asarray(log_ratio, dtype=float))))


def geomean_rel_err_expr(col: str = "rel_err") -> pl.Expr:
    """The same as a polars aggregation over a column of relative errors."""
    return (pl.col(col) + FLOOR).log().mean().exp()
