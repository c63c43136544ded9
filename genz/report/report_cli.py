"""Terminal rendering for the CLI (rich tables, CSV, JSON)."""

from __future__ import annotations

import json
import math
import sys

import polars as pl


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        a = abs(v)
        if a >= 1e12:
            return f"{v / 1e12:.2f} T"
        if a >= 1e9:
            return f"{v / 1e9:.2f} B"
        if a >= 1e6:
            return f"{v / 1e6:.2f} M"
        if a >= 100:
            return f"{v:,.0f}"
        if a >= 1:
            return f"{v:.2f}"
        return f"{v:.3g}"
    if isinstance(v, int) and abs(v) >= 1e6:
        return f"{v / 1e9:.2f} B" if abs(v) >= 1e9 else f"{v / 1e6:.2f} M"
    return str(v)


def _console():
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 220)


def print_table(df: pl.DataFrame, csv: bool = False, title: str = "", columns: list[str] | None = None) -> None:
    """Print a frame as CSV (all columns) or as a rich table (selected columns)."""
    if csv:
        sys.stdout.write(df.write_csv())
        return
    from rich.table import Table

    cols = columns or df.columns
    t = Table(title=title, show_lines=False)
    for c in cols:
        t.add_column(c, justify="left" if df.schema[c] == pl.String else "right")
    for row in df.select(cols).iter_rows():
        t.add_row(*[_fmt(v) for v in row])
    _console().print(t)


def print_estimate(res, ops: bool = False, as_json: bool = False, profiles: str | None = None) -> None:
    """Summary of one scenario; with ``ops`` the per-operator table of both phases. ``profiles``
    names the calibration file the numbers came from (printed with them)."""
    m = res.metrics
    if as_json:
        payload = {"scenario": res.scenario, "metrics": {k: v for k, v in m.items() if k not in res.scenario},
                   "profiles": profiles}
        if ops:
            payload["operators"] = res.operators.to_dicts()
        print(json.dumps(payload, indent=2, default=str))
        return
    from rich.table import Table

    con = _console()
    s = res.scenario
    head = (f"{s['model']} on {s.get('num_devices') or ''}{'×' if s.get('num_devices') else ''}{s['hardware']} "
            f"· in {s['input_tokens']} / out {s['output_tokens']} · batch {s.get('batch_size', 1)} "
            f"· tp {s.get('tp', 1)} pp {s.get('pp', 1)} ep {s.get('ep', 1)} dp {s.get('dp', 1)}")
    t = Table(title=head, show_header=True)
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_column("note")
    rows = [
        ("TTFT", f"{m['ttft_ms']:.2f} ms", f"prefill bound: {m['prefill_bottleneck']}" + _band(m, "ttft_ms", "ms")),
        ("TPOT", f"{m['tpot_ms']:.3f} ms", f"decode bound: {m['decode_bottleneck']}" + _band(m, "tpot_ms", "ms")),
        ("e2e latency", f"{m['e2e_latency_ms']:.1f} ms", _band(m, "e2e_latency_ms", "ms").removeprefix("; ")),
        ("throughput", f"{m['throughput_tok_s']:,.1f} tok/s", f"{m['throughput_tok_s_per_device']:,.1f} per device"),
        ("max-load throughput", _fmt(m.get("max_throughput_tok_s")) + " tok/s",
         f"batch {_fmt(m.get('max_throughput_batch'))}"),
        ("memory / device", f"{m['memory_per_device_gb']:.2f} GB",
         f"weights {m['weights_per_device_gb']:.2f} + KV {m['kv_cache_per_device_gb']:.2f} + "
         f"act {m['activations_per_device_gb']:.2f}"),
        ("max batch that fits", _fmt(m.get("max_batch_fit")), ""),
        ("bottleneck", str(m["bottleneck"]), ""),
        ("energy", f"{m['energy_j_per_token']:.3f} J/token", ""),
        ("cost", _fmt(m.get("usd_per_million_tokens")) + " $/M tokens", ""),
        ("calibration", str(m.get("calibration")), calibration_note(str(m.get("calibration")), s["hardware"])),
        ("status", str(m["status"]), ""),
    ]
    for r in rows:
        t.add_row(*r)
    con.print(t)
    if profiles:
        con.print(f"profiles: {profiles}")
    if ops:
        opt = Table(title="per-operator breakdown (per device; decode = mean step)")
        for c, j in (("phase", "left"), ("layers", "left"), ("operator", "left"), ("kind", "left"), ("count", "right"),
                     ("GFLOP/step", "right"), ("GB/step", "right"), ("ms/step", "right"), ("share", "right"),
                     ("bound", "left")):
            opt.add_column(c, justify=j)  # type: ignore[arg-type]
        for r in res.operators.iter_rows(named=True):
            opt.add_row(r["phase"], r["layer_group"], r["operator"], r["kind"], f"{r['layers']:.0f}",
                        f"{r['gflops_per_step']:.3g}", f"{r['gbytes_per_step']:.3g}", f"{r['time_per_step_ms']:.4f}",
                        f"{100 * r['share']:.1f}%", r["bound"])
        con.print(opt)


def _band(m: dict, metric: str, unit: str) -> str:
    """'; 80 % band lo-hi unit' for a metric whose band the prediction carries, else ''."""
    lo, hi = m.get(f"{metric}_low"), m.get(f"{metric}_high")
    if lo is None or hi is None or lo != lo or hi != hi:
        return ""
    return f"; 80 % band {lo:.3g}–{hi:.3g} {unit}"


def calibration_note(label: str, hardware: str) -> str:
    """A plain sentence for a prediction's calibration label (what is measured, what is assumed)."""
    if label.startswith("prior"):
        return (f"{hardware} is NOT calibrated: no measurement of it or of its architecture family; "
                "its hardware factors are priors")
    if label.startswith("inherited"):
        src = label.split(":", maxsplit=1)[0].removeprefix("inherited from ")
        return f"{hardware} is not measured itself: hardware factors inherited from {src} (same family)"
    if label.startswith("calibrated"):
        return f"{hardware}'s hardware factors are fitted to its own measurements"
    return ""


def print_validation(val, summary: dict) -> None:
    """Cross-validated error tables (geomean relative error of out-of-fold predictions)."""
    from ..calibrate import calibration as cal

    con = _console()
    tables = cal.summary_tables(val)
    con.print(f"[bold]Validation[/bold] ({summary.get('rows')} rows) under two schemes: "
              f"'model' = {summary.get('folds')} folds grouped by model; 'source' = leave one source study out "
              f"(fit without it, predict it).\n80 % band coverage on held-out rows: by model "
              f"{summary.get('coverage_80', float('nan')):.3f}, by source "
              f"{summary.get('coverage_80_source', float('nan')):.3f}")
    for name, df in tables.items():
        print_table(df, title=f"error by {name}")


def print_requirements(res: dict) -> None:
    """Deployment search and platform requirements tables."""
    import polars as pl

    d = res["deployments"]
    cols = [c for c in ("model", "use_case", "hardware", "meets_slo", "tp", "pp", "ep", "batch_size", "ttft_ms",
                        "tpot_ms", "throughput_tok_s_per_device", "goodput_tok_s_per_device",
                        "usd_per_million_tokens", "bottleneck", "status") if c in d.columns]
    print_table(d.select(cols), title="cheapest deployment meeting the SLO (else the fastest that runs)")
    r = res["requirements"]
    if r.height:
        piv = r.with_columns(cell=pl.when(pl.col("status") == "ok")
                             .then(pl.format("{} / {}{}", pl.col("required").round(1), pl.col("available").round(1),
                                             pl.when(pl.col("binding")).then(pl.lit(" *")).otherwise(pl.lit(""))))
                             .otherwise(pl.col("status")))
        wide = piv.pivot(on="resource", index=["model", "use_case", "hardware"], values="cell")
        print_table(wide, title="required / available per device (* binds first; compute TFLOP/s, bandwidths GB/s, "
                                "capacity GB, latency us)")


def _short_label(label) -> str:
    """The calibration label without its profile id: 'calibrated', 'inherited from X', 'prior'."""
    return str(label or "prior").split(":", maxsplit=1)[0].split(";", maxsplit=1)[0].strip()


def _measured_or_assumed(label) -> str:
    short = _short_label(label)
    return f"{short}: measured chip" if short == "calibrated" else f"{short}: assumed"


def print_frontier(points: pl.DataFrame, at: pl.DataFrame, all_points: bool = False) -> None:
    """One table per frontier (hardware × workload) of ``genz frontier``: its points with their
    deployment, 80 % bands and calibration label; then one line comparing the hardware at the
    chosen interactivity (``at``: :func:`genz.requirements.frontier.at_interactivity`)."""
    from rich.table import Table

    from ..requirements.frontier import FRONTIER_KEYS, X, Y

    con = _console()
    keys = [c for c in FRONTIER_KEYS if c in points.columns]
    for key, grp in points.group_by(keys, maintain_order=True):
        k = dict(zip(keys, key))
        shown = grp.filter(pl.col("status") == "ok") if all_points else grp.filter(pl.col("on_frontier"))
        shown = shown.sort(X)
        fits = grp.filter(pl.col("status") == "ok").get_column("deployment").n_unique()
        deps = grp.get_column("deployment").n_unique()
        label = _measured_or_assumed(shown.get_column("calibration")[0]) if shown.height else "-"
        t = Table(title=(f"{k['hardware']} · {k['model']} · ISL {k['input_tokens']} / OSL {k['output_tokens']}"
                         f"{' · ' + k['framework'] if k.get('framework') else ''} · "
                         f"{'all points' if all_points else 'frontier'} ({shown.height} of {grp.height} points; "
                         f"{fits} of {deps} deployments run) · {label}"))
        for c, j in (("deployment", "left"), ("C", "right"), ("precision", "left"), ("tok/s/user", "right"),
                     ("80 % band", "right"), ("tok/s/GPU", "right"), ("80 % band ", "right"), ("TTFT ms", "right"),
                     ("$/M tok", "right"), ("tok/s/MW", "right"), ("frontier", "left"), ("calibration", "left")):
            t.add_column(c, justify=j)  # type: ignore[arg-type]
        for r in shown.iter_rows(named=True):
            t.add_row(r["deployment"], str(r["concurrency"]), f"{r['weight_dtype']}/{r['act_dtype']}/{r['kv_dtype']}",
                      _fmt(r[X]), f"{_fmt(r[X + '_low'])}–{_fmt(r[X + '_high'])}", _fmt(r[Y]),
                      f"{_fmt(r[Y + '_low'])}–{_fmt(r[Y + '_high'])}", _fmt(r["ttft_ms"]),
                      _fmt(r["usd_per_million_tokens"]), _fmt(r["tok_s_per_mw"]), "yes" if r["on_frontier"] else "",
                      _short_label(r["calibration"]))
        con.print(t)
    for _, grp in at.group_by([c for c in keys if c != "hardware"], maintain_order=True):
        reached = grp.filter(pl.col(Y).is_not_null()).sort(Y, descending=True)
        parts = [f"{r['hardware']} {_fmt(r[Y])} tok/s/GPU (80 % band {_fmt(r[Y + '_low'])}–{_fmt(r[Y + '_high'])}; "
                 f"${_fmt(r['usd_per_million_tokens'])}/M tok; {_fmt(r['tok_s_per_mw'])} tok/s/MW; {r['reach']}; "
                 f"{_measured_or_assumed(r['calibration'])})" for r in reached.iter_rows(named=True)]
        parts += [f"{r['hardware']} {r['reach']} ({r['note']})"
                  for r in grp.filter(pl.col(Y).is_null()).iter_rows(named=True)]
        target = grp.get_column("interactivity_target")[0]
        con.print(f"at {target:g} tok/s/user: " + " > ".join(parts[:reached.height])
                  + ("; " if reached.height and len(parts) > reached.height else "")
                  + "; ".join(parts[reached.height:]), soft_wrap=True)
