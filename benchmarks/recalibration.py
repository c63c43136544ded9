"""Benchmark: recalibration after one platform's new measurement file (issue 12).

Usage: python benchmarks/recalibration.py [--platform H200-SXM-141GB] [--rows 8] [--factor 1.04] [--keep]

From the repository root, with a full default run in place (one is made first when the warehouse is
missing, and timed): writes ``calibration/measurements/<platform>/recalibration-benchmark.csv`` (the
first ``--rows`` rows of the platform's first file, measured ``--factor`` × faster, from a new
study), prints the dry run's job list, runs ``snakemake --cores 2 reports/all`` and prints its wall
time, the jobs it ran by rule, the profile files the checkpoint rewrote, the platforms whose shards
were re-estimated, which stacks and hardware entries of the merged profiles changed, and the
cross-validation fits computed and read from the cache. The file is removed at the end unless ``--keep`` (the next
run then refits back). Targets (2-core machine): rerun ≤ 60 s (goal 30 s); fresh run ≤ 90 s.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--cores", "2"]
NEW_FILE = "recalibration-benchmark.csv"


def snakemake(*args: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    p = subprocess.run([*SNAKEMAKE, *args, "reports/all"], cwd=ROOT, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"snakemake failed:\n{(p.stdout + p.stderr)[-3000:]}")
    return dt, p.stdout + p.stderr


def dry_run_jobs(text: str) -> dict[str, int]:
    jobs: dict[str, int] = {}
    rows = re.search(r"job\s+count\n[-\s]+\n(.*?)\ntotal", text, flags=re.S)
    for line in (rows.group(1).splitlines() if rows else []):
        name, n = line.split()
        jobs[name] = int(n)
    return jobs


def ran_jobs(text: str) -> Counter:
    return Counter(re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):$", text, flags=re.M))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--platform", default="H200-SXM-141GB")
    ap.add_argument("--rows", type=int, default=8)
    ap.add_argument("--factor", type=float, default=1.04)
    ap.add_argument("--keep", action="store_true", help="leave the new measurement file in place")
    a = ap.parse_args()

    if not (ROOT / "results" / "warehouse.duckdb").exists():
        dt, _ = snakemake()
        print(f"full default run (no warehouse yet): {dt:.1f} s")
    dt, text = snakemake("-n")
    if dry_run_jobs(text):
        dt, _ = snakemake()
        print(f"brought the default run up to date first: {dt:.1f} s")

    folder = ROOT / "calibration" / "measurements" / a.platform
    src = sorted(p for p in folder.glob("*.csv") if p.name != NEW_FILE)[0]
    new = folder / NEW_FILE
    rows = pl.read_csv(src, infer_schema=False).head(a.rows).with_columns(
        value=(pl.col("value").cast(pl.Float64) * a.factor).round(3).cast(pl.String),
        source=pl.lit("recalibration benchmark (benchmarks/recalibration.py)"))
    before = json.loads((ROOT / "results" / "calibration" / "profiles.json").read_text())
    rows.write_csv(new)
    try:
        _, text = snakemake("-n")
        planned = dry_run_jobs(text)
        print(f"added {new.relative_to(ROOT)}: {rows.height} rows ({src.name} × {a.factor})")
        print(f"dry run plans {sum(planned.values())} jobs: "
              + ", ".join(f"{k} {v}" for k, v in planned.items())
              + "  (exactly the shards whose profile's input key changed: genz.calibrate.propagation)")
        dt, text = snakemake()
        ran = ran_jobs(text)
        cal = ROOT / "results" / "logs"
        pub = (cal / "publish_profiles.log").read_text().strip().splitlines()[-1] if ran["publish_profiles"] else "-"
        val = (cal / "calibrate.log").read_text().strip().splitlines()[-1] if ran["calibrate"] else "-"
        print(f"rerun: {dt:.1f} s wall, {sum(ran.values())} jobs: " + ", ".join(f"{k} {v}" for k, v in ran.items()))
        print(f"  profile files: {pub}")
        ran_shards = sorted(set(re.findall(r"output: results/estimates/experiment=[\w.-]+/hardware=([\w.-]+)/",
                                           text)))
        print(f"  shards re-estimated, by platform: {', '.join(ran_shards) or '-'}")
        after = json.loads((ROOT / "results" / "calibration" / "profiles.json").read_text())
        same_st = [e["stack"] for e in after["stacks"] if e in before["stacks"]]
        moved_hw = sorted(e["platform"] for e in after["hardware"]
                          if {**e, "bands": None} not in [{**b, "bands": None} for b in before["hardware"]])
        print(f"  stacks unchanged: {len(same_st)} of {len(after['stacks'])}; hardware entries changed: "
              f"{', '.join(moved_hw) or '-'}")
        print(f"  calibration: {val}")
        print(f"  target: <= 60 s (goal 30 s): {'met' if dt <= 60 else 'not met'}")
    finally:
        if not a.keep:
            new.unlink(missing_ok=True)
            print(f"removed {new.relative_to(ROOT)} (the next run refits without it)")


if __name__ == "__main__":
    main()
