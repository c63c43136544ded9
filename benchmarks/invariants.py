"""Physics invariants on the shipped profiles: counts per family and the failing pairs.

Usage: python benchmarks/invariants.py [--profiles PATH] [--family NAME ...] [--limit N | --all]
                                       [--csv PATH]

Generates the grid of :mod:`genz.calibrate.invariants` (a few thousand comparison pairs), predicts every
distinct scenario in one vectorized ``genz.predict`` call, and prints per family how many pairs
were checked, skipped and failing, then the failing pairs (worst first, ``--limit`` per family,
default 20; ``--all`` for every one). ``--csv`` writes the full result table. Exits 1 when any
pair fails.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import time

import polars as pl

from genz.calibrate import invariants


def _fmt(x: float) -> str:
    return "nan" if math.isnan(x) else f"{x:.6g}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profiles", help="profiles JSON (default: the shipped snapshot)")
    ap.add_argument("--family", action="append", help="only these families (repeatable)")
    ap.add_argument("--limit", type=int, default=20, help="failing pairs printed per family (default 20)")
    ap.add_argument("--all", action="store_true", help="print every failing pair")
    ap.add_argument("--csv", help="write the full result table here")
    a = ap.parse_args(argv)
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends quietly

    t0 = time.perf_counter()
    grid = invariants.pairs(a.family)
    t1 = time.perf_counter()
    res = invariants.check(a.profiles, grid=grid)
    t2 = time.perf_counter()
    summ = invariants.summary(res)

    print(f"{len(grid)} pairs over {res.select(pl.concat_list('left', 'right').explode().n_unique()).item()} "
          f"distinct scenarios (grid {t1 - t0:.2f} s, one genz.predict call + checks {t2 - t1:.2f} s)")
    print(f"profiles: {a.profiles or 'shipped snapshot (genz/data/calibration/profiles.json)'}\n")
    w = max(len(f) for f in summ.get_column("family").to_list() + ["family"])
    print(f"{'family':<{w}}  {'pairs':>6}  {'checked':>7}  {'skipped':>7}  {'failing':>7}")
    for r in summ.iter_rows(named=True):
        print(f"{r['family']:<{w}}  {r['pairs']:>6}  {r['checked']:>7}  {r['skipped']:>7}  {r['failing']:>7}")
    tot = summ.select(pl.all().exclude("family").sum()).row(0, named=True)
    print(f"{'total':<{w}}  {tot['pairs']:>6}  {tot['checked']:>7}  {tot['skipped']:>7}  {tot['failing']:>7}")

    bad = res.filter(~pl.col("ok")).with_columns(
        # how far off: ratio of the two values, oriented so that > 1 means "violated by this factor"
        severity=pl.when(pl.col("relation") == "<=").then(pl.col("left_value") / pl.col("right_value"))
        .when(pl.col("relation") == ">=").then(pl.col("right_value") / pl.col("left_value"))
        .otherwise((pl.col("left_value") / pl.col("right_value")).log().abs().exp()))
    for fam in bad.get_column("family").unique(maintain_order=True).sort().to_list():
        rows = bad.filter(pl.col("family") == fam).sort("severity", descending=True, nulls_last=False)
        shown = rows if a.all else rows.head(a.limit)
        print(f"\n== {fam}: {rows.height} failing" + ("" if shown.height == rows.height
                                                      else f" (worst {shown.height} shown)"))
        for r in shown.iter_rows(named=True):
            print(f"  {r['description']}  [{r['metric']}: left {r['relation']} right, tol {r['tol']:g}]")
            print(f"    left : {r['left']}  = {_fmt(r['left_value'])}")
            print(f"    right: {r['right']}  = {_fmt(r['right_value'])}"
                  + (f"   ({r['note']})" if r["note"] else f"   (x{r['severity']:.3f})"))
    if a.csv:
        res.write_csv(a.csv)
        print(f"\nwrote {a.csv}")
    return 1 if bad.height else 0


if __name__ == "__main__":
    sys.exit(main())
