"""Benchmark: the closed-loop serving model on the shipped InferenceMAX rows (issue 14).

Usage: python benchmarks/serving_frontier.py [--profiles PATH] [--uncalibrated]

Predicts every row of ``calibration/serving_benchmarks/*.csv`` (closed-loop rows: ``concurrency``)
with the shipped calibration snapshot (or ``--profiles``), and prints

1. the geometric-mean relative error (``genz.calibrate.stats``, the metric of
   benchmarks/accuracy.py) of output tokens/s per GPU, mean TPOT and mean TTFT (and e2e), overall,
   per hardware and per serving stack, with the median predicted/measured ratio;
2. the GPU ordering: of the pairs of rows on different hardware at the same workload (input,
   output tokens) and concurrency whose measured per-GPU throughput differs by more than 5 %, the
   fraction the prediction orders the same way, and the same for interactivity (1/TPOT);
3. the issue's targets side by side.

Per-GPU throughput: ``throughput_tok_s_per_device`` rows as they are; whole-system
``throughput_tok_s`` rows (disaggregated) divided by ``num_devices`` (prefill + decode GPUs).
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import polars as pl

from genz.calibrate.stats import geomean_rel_err_expr
from genz.perf.predict import predict_frame
from genz.perf.profiles import default_profiles, uncalibrated

ROOT = Path(__file__).parents[1]
FILES = sorted((ROOT / "calibration" / "serving_benchmarks").glob("*.csv"))
#: the issue's targets (geomean relative error; fraction of pairs)
TARGETS = {"tput_per_gpu": 0.15, "tpot_ms": 0.15, "ttft_ms": 0.30, "pairs": 0.95}
#: a pair counts when its measured values differ by more than this
PAIR_MARGIN = 1.05
#: scenario keys that identify one measured point (its metrics are separate rows)
POINT = ("hardware", "framework", "model", "num_devices", "tp", "ep", "input_tokens", "output_tokens", "concurrency")


def stack_of(framework: pl.Expr) -> pl.Expr:
    """The stack as the benchmark names it: the framework text up to its first parenthesis."""
    return framework.str.replace(r"\s*\(.*$", "").str.replace(r"^TensorRT-LLM via NVIDIA Dynamo.*$", "Dynamo+TRT-LLM")


def predicted_rows(profiles) -> pl.DataFrame:
    """Every measured row with its prediction, per-GPU throughput made comparable (see module doc)."""
    meas = pl.concat([pl.read_csv(f, infer_schema=False) for f in FILES], how="diagonal")
    out = predict_frame(meas, profiles)
    bad = out.filter(pl.col("status") != "ok")
    if bad.height:
        print(f"{bad.height} rows not predicted:", bad.get_column("status").unique().to_list())
    nd = pl.col("num_devices").cast(pl.Float64)
    per_gpu = pl.col("metric") == "throughput_tok_s"
    return out.filter(pl.col("status") == "ok").with_columns(
        measured=pl.when(per_gpu).then(pl.col("value").cast(pl.Float64) / nd).otherwise(pl.col("value").cast(pl.Float64)),
        pred=pl.when(per_gpu).then(pl.col("predicted") / nd).otherwise(pl.col("predicted")),
        m=pl.when(pl.col("metric").str.starts_with("throughput")).then(pl.lit("tput_per_gpu"))
        .otherwise(pl.col("metric")),
        stack=stack_of(pl.col("framework")),
        concurrency=pl.col("concurrency").cast(pl.Int64),
    ).with_columns(rel_err=(pl.col("pred") - pl.col("measured")).abs() / pl.col("measured"),
                   ratio=pl.col("pred") / pl.col("measured"))


def error_table(rows: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """geomean relative error and median predicted/measured per metric (columns) and ``by``."""
    agg = rows.group_by([*by, "m"]).agg(gm=geomean_rel_err_expr("rel_err"), med=pl.col("ratio").median(),
                                        n=pl.len())
    wide = agg.with_columns(cell=pl.format("{} (x{})", pl.col("gm").round(3), pl.col("med").round(2)))
    return wide.pivot(on="m", index=by, values="cell").sort(by) if by else wide.select("m", "n", "cell")


def pair_order(rows: pl.DataFrame, metric: str, higher_is_better: bool = True) -> tuple[int, int, list[str]]:
    """(right, total, wrong pairs) over pairs of points on different hardware at the same workload and
    concurrency whose measured ``metric`` differs by more than 5 %."""
    pts = rows.filter(pl.col("m") == metric).select(*POINT, "measured", "pred").to_dicts()
    right, total, wrong = 0, 0, []
    for a, b in itertools.combinations(pts, 2):
        if a["hardware"] == b["hardware"] or any(a[k] != b[k] for k in ("input_tokens", "output_tokens",
                                                                       "concurrency")):
            continue
        hi, lo = max(a["measured"], b["measured"]), min(a["measured"], b["measured"])
        if hi <= PAIR_MARGIN * lo:
            continue
        total += 1
        if (a["measured"] > b["measured"]) == (a["pred"] > b["pred"]):
            right += 1
        else:
            wrong.append(f"{a['hardware']} tp{a['tp']} vs {b['hardware']} tp{b['tp']} "
                         f"({a['input_tokens']}/{a['output_tokens']}, C={a['concurrency']})")
    del higher_is_better
    return right, total, wrong


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profiles", type=Path, default=None)
    ap.add_argument("--uncalibrated", action="store_true")
    args = ap.parse_args()
    pl.Config.set_tbl_rows(60)
    pl.Config.set_tbl_width_chars(200)
    pl.Config.set_fmt_str_lengths(40)
    prof = uncalibrated() if args.uncalibrated else default_profiles(args.profiles)
    rows = predicted_rows(prof)
    print(f"{rows.height} rows predicted ({len(FILES)} file(s)); cells: geomean relative error (x median "
          "predicted/measured)")
    print(error_table(rows, []))
    for by in ("hardware", "stack"):
        print(f"by {by}:")
        print(error_table(rows, [by]))
    right, total, wrong = pair_order(rows, "tput_per_gpu")
    inter = rows.filter(pl.col("m") == "tpot_ms").with_columns(measured=1.0 / pl.col("measured"),
                                                               pred=1.0 / pl.col("pred"),
                                                               m=pl.lit("interactivity"))
    ri, ti, _ = pair_order(inter, "interactivity")
    print(f"\nGPU pairs at the same workload and concurrency, measured > 5 % apart: per-GPU throughput ordered "
          f"right {right}/{total} ({right / max(total, 1):.1%}); interactivity {ri}/{ti} ({ri / max(ti, 1):.1%})")
    for w in wrong:
        print("  wrong:", w)
    gm = {m: rows.filter(pl.col("m") == m).select(geomean_rel_err_expr("rel_err")).item()
          for m in ("tput_per_gpu", "tpot_ms", "ttft_ms")}
    print("\ntargets (issue 14):")
    for m, v in gm.items():
        print(f"  {m:14s} geomean error {v:.3f}  (target <= {TARGETS[m]:.2f})")
    print(f"  pair order     {right / max(total, 1):.3f}  (target >= {TARGETS['pairs']:.2f})")


if __name__ == "__main__":
    main()
