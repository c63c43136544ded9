"""Benchmark: accuracy on the shipped measurement set.

Usage: python benchmarks/accuracy.py [--uncalibrated-only]

Prints (1) the geometric-mean relative error of the uncalibrated engine (datasheet peaks + default
efficiencies) per metric and hardware, and (2) the held-out error of the calibrated model under two
schemes: 5 folds grouped by model (a model's rows are never in both fit and check) and
leave-one-source-out (a whole study held out), overall, per platform, per metric, per framework and
per source, with the 80 % band coverage on held-out rows, and (3) the issue's targets side by side.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import polars as pl

from genz.calibrate import calibration as cal
from genz.calibrate.stats import geomean_rel_err_expr
from genz.perf.predict import predict_frame
from genz.perf.profiles import uncalibrated

ROOT = Path(__file__).parents[1]


def main() -> None:
    pl.Config.set_tbl_rows(60)
    files = sorted((ROOT / "calibration" / "measurements").rglob("*.csv"))
    meas = pl.concat([pl.read_csv(f, infer_schema=False) for f in files], how="diagonal")
    out = predict_frame(meas, uncalibrated())
    ok = out.filter(pl.col("status") == "ok").with_columns(
        err=((pl.col("predicted") - pl.col("value").cast(pl.Float64)).abs() / pl.col("value").cast(pl.Float64)))
    gm = geomean_rel_err_expr("err")
    print(f"uncalibrated: {ok.height} of {out.height} rows predicted; geomean relative error "
          f"{ok.select(gm).item():.3f} (fixed-batch {ok.filter(pl.col('metric') != 'max_throughput_tok_s').select(gm).item():.3f})")
    print(ok.group_by("metric").agg(rows=pl.len(), geomean_rel_err=gm).sort("metric"))
    print(ok.group_by("hardware").agg(rows=pl.len(), geomean_rel_err=gm).sort("hardware"))
    if "--uncalibrated-only" in sys.argv:
        return
    t0 = time.perf_counter()
    res = cal.calibrate(files, k=5, workers=2, operators=ROOT / "calibration" / "operators" / "aiconfigurator")
    print(f"\ncalibrated, held out by model and by source ({time.perf_counter() - t0:.0f} s incl. final fit); "
          f"80 % band coverage on held-out rows: by model {res.summary['coverage_80']:.3f}, "
          f"by source {res.summary['coverage_80_source']:.3f}")
    tables = cal.summary_tables(res.validation)
    for name, df in tables.items():
        print(f"by {name}:")
        print(df)
    v = res.validation.filter(pl.col("rel_err").is_finite())
    gm = geomean_rel_err_expr("rel_err")
    med = pl.col("log_ratio").median().exp()

    def one(scheme, expr, where=True):
        return v.filter((pl.col("scheme") == scheme) & where).select(expr).item()

    fixed = pl.col("metric") != "max_throughput_tok_s"
    print("\ntargets (issue: physics-faithful calibration):")
    print(f"  fixed-batch, CV by model       {one('model', gm, fixed):.3f}  (target <= 0.08)")
    print(f"  max-load, CV by model          {one('model', gm, ~fixed):.3f}  (target <= 0.10)")
    print(f"  pooled, leave-one-source-out   {one('source', gm):.3f}  (target <= 0.15)")
    for m in ("ttft_ms", "tpot_ms"):
        print(f"  median measured/predicted {m:8s} {one('model', med, pl.col('metric') == m):.3f}  (target 0.9-1.1)")
    print(f"  80 % band coverage             model {res.summary['coverage_80']:.3f}, "
          f"source {res.summary['coverage_80_source']:.3f}  (target 0.75-0.85)")


if __name__ == "__main__":
    main()
