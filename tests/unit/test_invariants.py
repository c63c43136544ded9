"""Physics invariants on the shipped calibration profiles (genz.calibrate.invariants).

The whole grid (a few thousand comparison pairs) is predicted once, in one vectorized
``genz.predict`` call, and shared by the tests: one test per invariant family asserts that no pair
of the family is violated and lists the violations, plus sanity checks on the grid itself.
``python benchmarks/invariants.py`` prints the same result in full.
"""

from __future__ import annotations

import functools
import math

import polars as pl
import pytest

from genz.calibrate import invariants
from genz.catalog.hardware import get_hardware

#: the grid must stay large enough to mean something
MIN_CHECKED_PAIRS = 300
SHOWN = 25


@functools.lru_cache(maxsize=1)
def _result() -> pl.DataFrame:
    return invariants.check()


def _fmt(x) -> str:
    return "nan" if x is None or math.isnan(x) else f"{x:.6g}"


def _violations(family: str) -> str:
    bad = _result().filter((pl.col("family") == family) & ~pl.col("ok"))
    lines = [f"{bad.height} violated pair(s) in {family}"
             + (f" (first {SHOWN} shown; python benchmarks/invariants.py --family {family} --all)"
                if bad.height > SHOWN else "") + ":"]
    for r in bad.head(SHOWN).iter_rows(named=True):
        lines.append(f"- {r['description']} [{r['metric']}: left {r['relation']} right, tol {r['tol']:g}]"
                     f"\n    left  {r['left']} = {_fmt(r['left_value'])}"
                     f"\n    right {r['right']} = {_fmt(r['right_value'])}" + (f"  ({r['note']})" if r["note"] else ""))
    return "\n".join(lines)


@pytest.mark.parametrize("family", list(invariants.FAMILIES))
def test_invariant_family_holds(family):
    res = _result().filter(pl.col("family") == family)
    assert res.height > 0, f"family {family} generated no pairs"
    assert res.get_column("ok").is_not_null().sum() > 0, f"family {family}: every pair was skipped"
    bad = res.filter(~pl.col("ok")).height
    assert bad == 0, _violations(family)


def test_grid_is_large_and_mostly_checked():
    res = _result()
    checked = res.get_column("ok").is_not_null().sum()
    assert res.height >= MIN_CHECKED_PAIRS
    assert checked >= MIN_CHECKED_PAIRS, f"only {checked} of {res.height} pairs could be checked"
    # skipped pairs (reference side does not run, or a one-wave condition is false) stay a minority
    assert checked >= 0.8 * res.height, invariants.summary(res)
    assert set(res.get_column("family").unique()) == set(invariants.FAMILIES)


def test_grid_is_one_row_per_pair_with_values():
    grid = invariants.pairs()
    res = _result()
    assert res.height == len(grid)
    assert {"family", "description", "left", "right", "left_value", "right_value", "ok"} <= set(res.columns)
    checked = res.filter(pl.col("ok").is_not_null() & (pl.col("left_status") == "ok"))
    assert checked.select(pl.col("left_value").is_finite().all() & pl.col("right_value").is_finite().all()).item()


@pytest.mark.parametrize("better, worse, devices", [
    ("H200-SXM-141GB", "H100-SXM-80GB", 8),
    ("B200-SXM-180GB", "H100-SXM-80GB", 8),
    ("H100-SXM-80GB", "A100-SXM-80GB", 8),
    ("A100-SXM-80GB", "A100-SXM-40GB", 8),
    ("MI325X", "MI300X", 8),
    ("GH200-144GB", "GH200-96GB", 2),  # its scale-up domain is 2 devices: dominance holds up to 2
])
# not in the list, by their specs: B300 vs B200 (B300 has no dense INT8 rate, so int8 runs at 16 bit),
# MI355X vs MI325X (lower FP32 vector rate: 157 vs 163 TFLOP/s)
def test_dominance_relation_is_derived_from_specs(better, worse, devices):
    b, w = get_hardware(better), get_hardware(worse)
    assert invariants.dominates(b, w, devices)
    assert not invariants.dominates(w, b, devices)
    assert (better, worse) in invariants.dominance_pairs(devices)


def test_a_bigger_scale_up_domain_matters_only_beyond_the_layout():
    gh144, gh96 = get_hardware("GH200-144GB"), get_hardware("GH200-96GB")
    assert invariants.dominates(gh144, gh96, 2)
    assert not invariants.dominates(gh144, gh96, 4)  # 4 devices leave GH200-144GB's 2-device domain
