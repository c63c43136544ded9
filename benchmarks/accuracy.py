"""Benchmark: accuracy on the shipped measurement set.

Usage: python benchmarks/accuracy.py [--uncalibrated-only]

Prints (1) the geometric-mean relative error of the uncalibrated engine (datasheet peaks + default
efficiencies) per metric and hardware, and (2) the cross-validated error of the calibrated model
(5 folds grouped by model: a model's rows are never in both fit and check) overall, per platform,
per metric and per framework, with the 80 % band coverage on held-out rows.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import polars as pl

from genz import calibration as cal
from genz.predict import predict_frame
from genz.profiles import uncalibrated

ROOT = Path(__file__).parents[1]


def main() -> None:
    pl.Config.set_tbl_rows(60)
    files = sorted((ROOT / "calibration" / "measurements").rglob("*.csv"))
    meas = pl.concat([pl.read_csv(f, infer_schema=False) for f in files], how="diagonal")
    out = predict_frame(meas, uncalibrated())
    ok = out.filter(pl.col("status") == "ok").with_columns(
        err=((pl.col("predicted") - pl.col("value").cast(pl.Float64)).abs() / pl.col("value").cast(pl.Float64)))
    gm = (pl.col("err") + 1e-9).log().mean().exp()
    print(f"uncalibrated: {ok.height} of {out.height} rows predicted; geomean relative error "
          f"{ok.select(gm).item():.3f} (fixed-batch {ok.filter(pl.col('metric') != 'max_throughput_tok_s').select(gm).item():.3f})")
    print(ok.group_by("metric").agg(rows=pl.len(), geomean_rel_err=gm).sort("metric"))
    print(ok.group_by("hardware").agg(rows=pl.len(), geomean_rel_err=gm).sort("hardware"))
    if "--uncalibrated-only" in sys.argv:
        return
    t0 = time.perf_counter()
    res = cal.calibrate(files, k=5, workers=2, operators=ROOT / "calibration" / "operators" / "aiconfigurator")
    print(f"\ncalibrated, cross-validated by model ({time.perf_counter() - t0:.0f} s incl. final fit); "
          f"80 % band coverage on held-out rows: {res.summary['coverage_80']:.3f}")
    for name, df in cal.summary_tables(res.validation).items():
        print(f"by {name}:")
        print(df)


if __name__ == "__main__":
    main()
