"""The SLO test: the one definition of "meets the SLO" (deployment search, requirement search and the
warehouse's ``v_slo`` all use it).

A use case bounds TTFT, TPOT and e2e latency (ms; a missing bound is met). A prediction is a point
estimate with an 80 % band ``[lo, hi]`` (multiplicative, from the calibration's held-out residuals:
the 10th and 90th percentiles of measured/predicted). The SLO is decided at a stated confidence:

* ``"p90"`` (the default): every bounded metric's *upper* band end, ``predicted · hi``, is within
  its bound: with 90 % probability the deployment really meets the bound (each metric separately);
* ``"point"``: the point estimate is within the bound (what the model predicts, no margin).

Both are reported (``meets_slo`` at the confidence, ``meets_slo_point`` beside it), so a user sees
where the answer depends on the uncertainty.
"""

from __future__ import annotations

import numpy as np
import polars as pl

#: the confidence every SLO decision is taken at (see the module docstring)
CONFIDENCE = "p90"
CONFIDENCES = ("p90", "point")
#: (metric column, SLO column) pairs
BOUNDS = (("ttft_ms", "slo_ttft_ms"), ("tpot_ms", "slo_tpot_ms"), ("e2e_latency_ms", "slo_e2e_ms"))


def _check(confidence: str) -> None:
    if confidence not in CONFIDENCES:
        from ..errors import GenzError

        raise GenzError(f"slo confidence: unknown '{confidence}'; allowed: {', '.join(CONFIDENCES)}")


def within(value: np.ndarray, bound: np.ndarray, high: np.ndarray | None = None,
           confidence: str = CONFIDENCE) -> np.ndarray:
    """Per row: ``value`` (times the band's upper multiplier ``high`` at ``p90``) ≤ ``bound``; a NaN
    bound is met. ``value`` NaN (not predicted) never meets a finite bound."""
    _check(confidence)
    v = np.asarray(value, dtype=float)
    if confidence == "p90" and high is not None:
        v = v * np.asarray(high, dtype=float)
    b = np.asarray(bound, dtype=float)
    return np.where(np.isnan(b), True, v <= b)


def meets_slo(values: tuple, bounds: tuple, highs: tuple | None = None, fits=None,
              confidence: str = CONFIDENCE) -> np.ndarray:
    """Rows meeting every bound: ``values``/``bounds``/``highs`` are (TTFT, TPOT, e2e) arrays in ms;
    ``fits`` (optional) masks rows that do not run at all."""
    ok = np.ones(len(np.asarray(values[0])), dtype=bool) if fits is None else np.asarray(fits, dtype=bool).copy()
    for j in range(3):
        ok &= within(values[j], bounds[j], None if highs is None else highs[j], confidence)
    return ok


def slo_columns(df: pl.DataFrame, confidence: str = CONFIDENCE) -> pl.DataFrame:
    """``df`` (predictions with ``status``, the metrics, their ``*_high`` band columns and the
    ``slo_*`` bounds) with ``meets_ttft``, ``meets_tpot``, ``meets_e2e``, ``meets_slo`` (at
    ``confidence``) and ``meets_slo_point`` (point estimate) added."""
    _check(confidence)
    ok = (df.get_column("status") == "ok").to_numpy() if "status" in df.columns else np.ones(df.height, bool)

    def arr(c):
        return df.get_column(c).cast(pl.Float64).fill_null(float("nan")).to_numpy() if c in df.columns \
            else np.full(df.height, np.nan)

    per, point = [], []
    for m, b in BOUNDS:
        # at p90 the band's upper end (predicted · hi) is what must fit under the bound
        judged = arr(f"{m}_high") if confidence == "p90" and f"{m}_high" in df.columns else arr(m)
        per.append(ok & within(judged, arr(b), None, "point"))
        point.append(ok & within(arr(m), arr(b), None, "point"))
    return df.with_columns(
        meets_ttft=pl.Series(per[0]), meets_tpot=pl.Series(per[1]), meets_e2e=pl.Series(per[2]),
        meets_slo=pl.Series(per[0] & per[1] & per[2]),
        meets_slo_point=pl.Series(point[0] & point[1] & point[2]),
    )
