"""Benchmark: the closed-loop serving model on the shipped InferenceMAX rows (issue 14).

Usage: python benchmarks/serving_frontier.py [--profiles PATH] [--uncalibrated] [--fit [--write-profiles OUT]]

Predicts every row of ``calibration/serving_benchmarks/*.csv`` (closed-loop rows: ``concurrency``)
with the shipped calibration snapshot (or ``--profiles``), and prints

1. the geometric-mean relative error (``genz.calibrate.stats``, the metric of
   benchmarks/accuracy.py) of output tokens/s per GPU, mean TPOT and mean TTFT (and e2e), overall,
   per hardware and per serving stack, with the median predicted/measured ratio;
2. the GPU ordering: of the pairs of rows on different hardware at the same workload (input,
   output tokens) and concurrency whose measured per-GPU throughput differs by more than 5 %, the
   fraction the prediction orders the same way, and the same for interactivity (1/TPOT);
3. the issue's targets side by side;
4. with ``--fit``: the software factors of the stack generations fitted on these rows
   (:mod:`genz.calibrate.stackfit`; the chips keep the profiles' hardware factors) and the same
   tables in sample, leave-one-hardware-out and leave-one-stack-out (a held-out stack gets the
   factors pooled over the other new stacks). ``--write-profiles`` writes the profiles plus the
   fitted stacks (the shipped snapshot is never rewritten).

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


def measurements() -> pl.DataFrame:
    return pl.concat([pl.read_csv(f, infer_schema=False) for f in FILES], how="diagonal")


def predicted_rows(profiles) -> pl.DataFrame:
    """Every measured row with its prediction, per-GPU throughput made comparable (see module doc)."""
    out = predict_frame(measurements(), profiles)
    bad = out.filter(pl.col("status") != "ok")
    if bad.height:
        print(f"{bad.height} rows not predicted:", bad.get_column("status").unique().to_list())
    return comparable(out.filter(pl.col("status") == "ok"))


def comparable(out: pl.DataFrame) -> pl.DataFrame:
    """Measured rows with a ``predicted`` column -> per-GPU throughput, stack, errors (module doc)."""
    nd = pl.col("num_devices").cast(pl.Float64)
    per_gpu = pl.col("metric") == "throughput_tok_s"
    return out.with_columns(
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


def fitted(profiles, write: Path | None) -> list[tuple[str, pl.DataFrame]]:
    """The stack generations fitted on these rows (:mod:`genz.calibrate.stackfit`): in-sample, held out
    by hardware and held out by stack. ``write``: the profiles with the fitted stacks added, as JSON."""
    import json

    import numpy as np

    from genz.calibrate import stackfit

    rows = stackfit.prepare(measurements(), profiles)
    fit = stackfit.fit_all(rows, np.ones(len(rows.metric), dtype=bool))
    print("\nfitted software factors per stack (shared by every platform it ran on):")
    for s, f in fit.items():
        print(f"  {s:10s} " + ", ".join(f"{k} {getattr(f, k):.3g}" for k in stackfit.FIT))
    out = [("fitted, in sample", comparable(rows.frame.with_columns(predicted=stackfit.predict(rows, fit))))]
    for scheme in ("hardware", "stack"):
        pred = stackfit.cross_validate(rows, scheme)
        out.append((f"fitted, leave one {scheme} out", comparable(rows.frame.with_columns(predicted=pred))))
    if write is not None:
        from genz.catalog.files import atomic_write_text

        payload = stackfit.add_stacks(profiles, fit, rows).payload()
        atomic_write_text(write, json.dumps(payload, indent=1))
        print(f"wrote {write} (the profiles used, plus the fitted stacks; use with --profiles)")
    return out


def report(title: str, rows: pl.DataFrame) -> dict[str, float]:
    """Print the error tables and the pair order of one set of predictions; return the headline numbers."""
    print(f"\n== {title}: {rows.height} rows; cells: geomean relative error (x median predicted/measured)")
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
    return {**gm, "pairs": right / max(total, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profiles", type=Path, default=None)
    ap.add_argument("--uncalibrated", action="store_true")
    ap.add_argument("--fit", action="store_true", help="also fit the stack generations on these rows "
                    "(in sample, leave one hardware out, leave one stack out)")
    ap.add_argument("--write-profiles", type=Path, default=None, help="with --fit: write the profiles plus "
                    "the fitted stacks to this JSON")
    args = ap.parse_args()
    pl.Config.set_tbl_rows(60)
    pl.Config.set_tbl_width_chars(200)
    pl.Config.set_fmt_str_lengths(40)
    prof = uncalibrated() if args.uncalibrated else default_profiles(args.profiles)
    results = [("profiles as shipped" if not args.uncalibrated else "uncalibrated",
                report("profiles as shipped" if not args.uncalibrated else "uncalibrated", predicted_rows(prof)))]
    if args.fit:
        for title, rows in fitted(prof, args.write_profiles):
            results.append((title, report(title, rows)))
    print("\ntargets (issue 14): geomean error of per-GPU throughput, mean TPOT, mean TTFT; GPU pair order")
    print(f"  {'':36s} {'tput/GPU':>9s} {'TPOT':>7s} {'TTFT':>7s} {'pairs':>7s}")
    for title, r in results:
        print(f"  {title:36s} {r['tput_per_gpu']:9.3f} {r['tpot_ms']:7.3f} {r['ttft_ms']:7.3f} {r['pairs']:7.1%}")
    print(f"  {'target':36s} {TARGETS['tput_per_gpu']:9.2f} {TARGETS['tpot_ms']:7.2f} {TARGETS['ttft_ms']:7.2f} "
          f"{TARGETS['pairs']:7.0%}")


if __name__ == "__main__":
    main()
