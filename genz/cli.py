"""Command-line interface: ``genz predict | estimate | models | hardware | calibrate | validate |
requirements``.

Every user error prints one line (``genz: error: ...``) and exits with status 2, no traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from .errors import GenzError

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="genz: analytical performance model of LLM inference (TTFT, TPOT, throughput, memory, bottlenecks).",
)


def _fail(msg: str, code: int = 2) -> None:
    typer.echo(f"genz: error: {msg}", err=True)
    raise typer.Exit(code)


def _profiles_note(path) -> str:
    """Which profiles a command used, in words (printed on stderr by every predicting command)."""
    import os

    from .perf.profiles import PACKAGED, default_profiles

    src = default_profiles(path).source
    if path:
        return f"{src} (--profiles)"
    if os.environ.get("GENZ_PROFILES"):
        return f"{src} (GENZ_PROFILES)"
    return f"{src} (shipped snapshot; --profiles PATH or GENZ_PROFILES to use others)" if src == str(
        PACKAGED.resolve()) else src


class _Progress:
    """A rich progress bar on stderr, or nothing when stderr is not a terminal or ``quiet``; call it
    with (done, total, what)."""

    def __init__(self, quiet: bool, what: str):
        self.bar = None
        if quiet or not sys.stderr.isatty():
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=Console(stderr=True), transient=True)
        self.task = self.bar.add_task(what, total=None)

    def __enter__(self) -> _Progress:
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar:
            self.bar.stop()

    def __call__(self, done: int, total: int, what: str) -> None:
        if self.bar:
            self.bar.update(self.task, completed=done, total=total, description=what)


#: output formats by file extension
WRITERS = {".csv": "write_csv", ".parquet": "write_parquet", ".json": "write_json"}


def check_output(path: Path, allowed: dict[str, str] | tuple[str, ...] = tuple(WRITERS)) -> Path:
    """An output path a user gave: a regular file (or a new name) with a known extension, in a folder
    (or a folder that can be created); a directory, device, FIFO or symlink target is an error, never
    replaced."""
    path = Path(path)
    names = ", ".join(allowed)
    if str(path).strip() in ("", "."):
        raise GenzError(f"output: empty path; give a file name ending in {names}")
    if path.is_symlink() or (path.exists() and not path.is_file()):
        what = "a directory" if path.is_dir() else "a symlink" if path.is_symlink() else "not a regular file"
        raise GenzError(f"output: {path} is {what}; give a regular file name ending in {names}")
    if path.suffix.lower() not in allowed:
        raise GenzError(f"output: {path}: unknown extension '{path.suffix}'; allowed: {names}")
    parent = next((q for q in path.absolute().parents if q.exists()), None)
    if parent is not None and not parent.is_dir():
        raise GenzError(f"output: {path}: {parent} is not a directory")
    return path


def os_reason(exc: BaseException) -> str:
    """Why an operating-system operation failed, in words (``No space left on device``), also when
    polars wraps the error (``... underlying IO error: No space left on device (os error 28)``)."""
    import re

    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip()
    m = re.search(r"([^:]+?)\s*\(os error \d+\)", text)
    return m.group(1).strip() if m else (text.splitlines()[0] if text else type(exc).__name__)


def write_atomic_csv(df, path: Path) -> None:
    """Write ``df`` to ``path`` in the format its extension names (csv, parquet, json), written aside and
    renamed into place (no half-written output; mode follows the umask). A failed write (full disk,
    no permission) is a one-line error and leaves any earlier file at ``path`` as it was."""
    import polars as pl

    from .catalog.files import atomic_write

    path = check_output(path)
    try:
        atomic_write(path, getattr(df, WRITERS[path.suffix.lower()]))
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise GenzError(f"cannot write {path}: {os_reason(exc)}") from None


def read_scenarios(path: Path):
    """Read a scenario table (CSV with every cell as text, Parquet, JSON, JSON Lines; ``-`` = CSV on
    standard input); every unreadable file is a one-line error naming the file and line
    (:func:`genz.catalog.files.read_table`). Extra columns pass through untouched."""
    from .catalog.files import read_table

    return read_table(path)


@app.command()
def predict(
    input: Path = typer.Argument(..., help="Scenario table: .csv, .parquet, .json or .jsonl (- reads CSV from "
                                           "standard input); columns: docs/reference.md §2."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write IN's columns plus predictions."),
    profiles: Path | None = typer.Option(None, "--profiles", help="Calibration profiles JSON."),
    uncalibrated: bool = typer.Option(False, "--uncalibrated", help="Ignore calibration; use datasheet defaults."),
    allow_long_context: bool = typer.Option(False, "--allow-long-context", help="Predict rows whose prompt + "
                                            "output exceeds the model's maximum context (an error by default)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No summary or progress on stderr."),
) -> None:
    """Predict every row of a scenario table."""
    from .perf.predict import RENAMED_PREFIX, predict_frame
    from .perf.profiles import default_profiles
    from .perf.profiles import uncalibrated as uncal

    check_output(output)
    df = read_scenarios(input)
    prof = uncal() if uncalibrated else default_profiles(profiles)
    # a bar only for long tables (a short one is done before a bar would draw)
    with _Progress(quiet or df.height < PROGRESS_MIN_ROWS, "predicting") as bar:
        out = predict_frame(df, prof, allow_long_context=allow_long_context, progress=bar)
    write_atomic_csv(out, output)
    if not quiet:
        ok = int((out.get_column("status") == "ok").sum())
        kept = [c for c in out.columns if c.startswith(RENAMED_PREFIX) and c not in df.columns]
        note = f"; your columns {', '.join(c.removeprefix(RENAMED_PREFIX) for c in kept)} kept as " \
               f"{', '.join(kept)}" if kept else ""
        typer.echo(f"genz: {out.height} rows, {ok} ok, {out.height - ok} with a status; profiles: "
                   f"{_profiles_note(None if uncalibrated else profiles) if not uncalibrated else 'none (--uncalibrated)'}"
                   f"; wrote {output}{note}", err=True)


@app.command()
def estimate(
    model: str = typer.Option(..., "--model", "-m", help="HF repo id, alias or config.json path."),
    hardware: str = typer.Option(..., "--hardware", "-H", help="Preset id or hardware YAML path."),
    input_tokens: int = typer.Option(1024, "--input", "--input-tokens", "-i", help="Prompt tokens per request."),
    output_tokens: int = typer.Option(256, "--output", "--output-tokens", "-o", help="Generated tokens per request."),
    batch: int = typer.Option(1, "--batch", "--batch-size", "-b", help="Requests processed together."),
    tp: int = typer.Option(1, "--tp", help="Tensor-parallel degree."),
    pp: int = typer.Option(1, "--pp", help="Pipeline-parallel degree."),
    ep: int = typer.Option(1, "--ep", help="Expert-parallel degree (MoE)."),
    dp: int = typer.Option(1, "--dp", help="Data-parallel replicas."),
    cp: int = typer.Option(1, "--cp", help="Context (sequence) parallel degree for long prompts."),
    weight_dtype: str = typer.Option("bf16", "--weight-dtype", "-w", help="bf16, fp16, fp8, int8, int4, fp4."),
    act_dtype: str | None = typer.Option(None, "--act-dtype", help="Default: the weight dtype for float formats (bf16, fp8, fp4); bf16 for weight-only integer formats (awq, gptq, int4, int8)."),
    kv_dtype: str | None = typer.Option(None, "--kv-dtype", help="Default: activation dtype."),
    framework: str | None = typer.Option(None, "--framework", "-f", help="vLLM, TensorRT-LLM, SGLang, ..."),
    chunk_size: int | None = typer.Option(None, "--chunk-size", help="Chunked-prefill tokens per iteration."),
    draft_model: str | None = typer.Option(None, "--draft-model", help="Speculative decoding draft (or mtp/eagle)."),
    spec_tokens: int | None = typer.Option(None, "--spec-tokens", help="Draft tokens per step (γ)."),
    acceptance_rate: float | None = typer.Option(None, "--acceptance-rate", help="Per-token acceptance (α)."),
    allow_long_context: bool = typer.Option(False, "--allow-long-context", help="Allow a prompt + output past the "
                                            "model's maximum context."),
    ops: bool = typer.Option(False, "--ops", help="Show the per-operator table."),
    profiles: Path | None = typer.Option(None, "--profiles", help="Calibration profiles JSON."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Predict one scenario and print a readable summary."""
    from . import api
    from .perf.profiles import default_profiles
    from .report import report_cli

    prof = default_profiles(profiles)
    res = api.estimate(model, hardware, profiles=prof, input_tokens=input_tokens, output_tokens=output_tokens,
                       batch_size=batch, tp=tp, pp=pp, ep=ep, dp=dp, cp=cp, weight_dtype=weight_dtype,
                       act_dtype=act_dtype, kv_dtype=kv_dtype, framework=framework, chunk_size=chunk_size,
                       draft_model=draft_model, spec_tokens=spec_tokens, acceptance_rate=acceptance_rate,
                       allow_long_context=allow_long_context or None)
    report_cli.print_estimate(res, ops=ops, as_json=as_json, profiles=_profiles_note(profiles))


@app.command()
def models(csv: bool = typer.Option(False, "--csv", help="Print CSV.")) -> None:
    """List the model zoo (parameters, active parameters, KV bytes per token)."""
    from . import api
    from .report import report_cli

    report_cli.print_table(api.models_table(), csv=csv, title="genz model zoo",
                           columns=["model", "architecture", "params_total", "params_active", "kv_bytes_per_token",
                                    "layers", "hidden", "max_context", "aliases"])


@app.command()
def hardware(csv: bool = typer.Option(False, "--csv", help="Print CSV.")) -> None:
    """List the hardware presets (peak compute, memory, bandwidth, network)."""
    from . import api
    from .report import report_cli

    report_cli.print_table(api.hardware_table(), csv=csv, title="genz hardware presets",
                           columns=["hardware", "peak_tflops_bf16", "peak_tflops_fp8", "hbm_gb", "hbm_gb_per_s",
                                    "scale_up_gb_per_s", "scale_up_domain", "tdp_w", "usd_per_hour"])


#: formats of the frames calibrate, validate and requirements write (parquet, or CSV by extension)
FRAME_FORMATS = (".parquet", ".csv")
#: allowed ranges of the fit options
FOLDS_RANGE, WORKERS_RANGE, MAX_DEVICES_RANGE = (2, 1000), (1, 1024), (1, 1_048_576)


def _in_range(name: str, value: int, lo_hi: tuple[int, int]) -> None:
    lo, hi = lo_hi
    if not lo <= value <= hi:
        raise GenzError(f"{name} {value} is not in [{lo:,}, {hi:,}]")


def _check_fit_options(folds: int, workers: int) -> None:
    _in_range("--folds", folds, FOLDS_RANGE)
    _in_range("--workers", workers, WORKERS_RANGE)


def _operators(path: Path | None) -> Path | None:
    """The kernel-timing folder: the one given (which must be a folder), else the default if present."""
    if path is None:
        return DEFAULT_OPERATORS if DEFAULT_OPERATORS.is_dir() else None
    if not path.is_dir():
        raise GenzError(f"--operators: {path} is not a folder of kernel-timing tables")
    return path


def _write(write, path: Path) -> None:
    """Run ``write()`` (an atomic write to ``path``); a failure of the disk is a one-line error."""
    import polars as pl

    try:
        write()
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise GenzError(f"cannot write {path}: {os_reason(exc)}") from None


DEFAULT_MEASUREMENTS = Path("calibration") / "measurements"
DEFAULT_OPERATORS = Path("calibration") / "operators" / "aiconfigurator"
#: a scenario table at least this long gets a progress bar (on a terminal, without --quiet)
PROGRESS_MIN_ROWS = 200_000


def _warn(lines: list[str], quiet: bool) -> None:
    """Calibration warnings (thresholds that bit: docs/calibration.md), one line each on stderr."""
    if not quiet:
        for w in lines:
            typer.echo(f"genz: warning: {w}", err=True)


def _measurement_files(paths: list[Path] | None) -> list[Path]:
    if paths:
        files: list[Path] = []
        for p in paths:
            files += sorted(p.rglob("*.csv")) if p.is_dir() else [p]
    else:
        files = sorted(DEFAULT_MEASUREMENTS.rglob("*.csv"))
    if not files:
        raise GenzError(f"calibrate: no measurement CSVs found (looked in {', '.join(map(str, paths or [DEFAULT_MEASUREMENTS]))})")
    for f in files:
        if not f.exists():
            raise GenzError(f"{f}: file not found")
    return files


@app.command()
def calibrate(
    measurements: list[Path] | None = typer.Argument(None, help="Measurement CSVs or folders "
                                                        "(default: calibration/measurements/)."),
    output: Path = typer.Option(Path("genz-profiles.json"), "-o", "--output",
                                help="Profiles JSON to write (atomically); use it with --profiles PATH or "
                                     "GENZ_PROFILES=PATH. The pipeline's own file is never touched."),
    operators: Path | None = typer.Option(None, "--operators", help="Kernel-timing tables "
                                             "(default: calibration/operators/aiconfigurator if present)."),
    validation: Path | None = typer.Option(None, "--validation", help="Also write out-of-fold predictions "
                                              "(parquet or csv)."),
    folds: int = typer.Option(5, "--folds", help="Cross-validation folds (grouped by model)."),
    no_cv: bool = typer.Option(False, "--no-cv", help="Fit only; no cross-validation, no bands."),
    workers: int = typer.Option(2, "--workers", help="Processes for the fit and cross-validation."),
    baseline: Path | None = typer.Option(None, "--baseline", help="Baseline file (calibration/baseline.yaml): "
                                            "the shared factors are fitted on the rows of the files it lists, and "
                                            "other rows refit only their platform family. Default: every row."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar or warnings on stderr."),
) -> None:
    """Fit calibration profiles (per platform × framework) to measured latencies."""
    from .calibrate import calibration as cal
    from .report import report_cli

    check_output(output, (".json",))
    if validation is not None:
        check_output(validation, FRAME_FORMATS)
    _check_fit_options(folds, workers)
    files = _measurement_files(measurements)
    ops = _operators(operators)
    with _Progress(quiet, "calibrating") as bar:
        res = cal.calibrate(files, k=folds, workers=workers, do_cv=not no_cv, operators=ops, progress=bar,
                            baseline=_baseline_file(baseline))
    _warn(res.summary["warnings"], quiet)
    _write(lambda: cal.write_profiles(res, output), output)
    if validation is not None and res.validation.height:
        _write(lambda: cal.write_frame(res.validation, validation), validation)
    typer.echo(f"genz: {len(res.profiles)} profiles from {res.summary['rows']} measured rows "
               f"(version {res.summary['version']}) -> {output}", err=True)
    if res.validation.height:
        report_cli.print_validation(res.validation, res.summary)


def _baseline_file(path: Path | None) -> Path | None:
    if path is not None and not path.is_file():
        raise GenzError(f"--baseline: {path}: file not found")
    return path


@app.command("baseline")
def baseline_cmd(
    measurements: Path = typer.Argument(DEFAULT_MEASUREMENTS, help="Folder of measurement CSVs."),
    output: Path = typer.Option(Path("calibration") / "baseline.yaml", "-o", "--output",
                                help="Baseline file to write (atomically)."),
) -> None:
    """Make every measurement file a baseline file (docs/calibration.md, "Baseline").

    The shared factors (each serving stack's software factors, the pooled band statistics) are
    fitted on the baseline files' rows only; a file added later refits only its own platform family.
    After this, the next pipeline run refits the shared factors on every row, which re-estimates
    every shard."""
    from .calibrate import baseline as B

    check_output(output, (".yaml", ".yml"))
    files = B.write(output, measurements)
    typer.echo(f"genz: {len(files)} measurement files -> {output}", err=True)


@app.command()
def validate(
    measurements: list[Path] | None = typer.Argument(None, help="Measurement CSVs or folders "
                                                        "(default: calibration/measurements/)."),
    operators: Path | None = typer.Option(None, "--operators", help="Kernel-timing tables."),
    folds: int = typer.Option(5, "--folds", help="Cross-validation folds (grouped by model)."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write out-of-fold predictions here."),
    workers: int = typer.Option(2, "--workers", help="Processes for the fit and cross-validation."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar or warnings on stderr."),
) -> None:
    """Cross-validate the calibration by model and print error tables (nothing else is written)."""
    from .calibrate import calibration as cal
    from .report import report_cli

    if output is not None:
        check_output(output, FRAME_FORMATS)
    _check_fit_options(folds, workers)
    files = _measurement_files(measurements)
    ops = _operators(operators)
    with _Progress(quiet, "validating") as bar:
        res = cal.calibrate(files, k=folds, workers=workers, do_cv=True, operators=ops, progress=bar)
    _warn(res.summary["warnings"], quiet)
    if output is not None:
        _write(lambda: cal.write_frame(res.validation, output), output)
    report_cli.print_validation(res.validation, res.summary)


@app.command()
def requirements(
    model: list[str] = typer.Option(..., "--model", "-m", help="Model(s); repeat the option for several."),
    use_case: list[str] = typer.Option(..., "--use-case", "-u", help="Use case(s) from the library."),
    hardware: list[str] | None = typer.Option(None, "--hardware", "-H", help="Platform(s) (default: main presets)."),
    usecases: Path | None = typer.Option(None, "--usecases", help="Use-case library (default: the shipped "
                                            "genz/data/usecases.yaml)."),
    max_devices: int = typer.Option(8, "--max-devices", help="Largest deployment (TP × PP) searched."),
    weight_dtype: str = typer.Option("bf16", "--weight-dtype", "-w"),
    kv_dtype: str | None = typer.Option(None, "--kv-dtype"),
    framework: str | None = typer.Option(None, "--framework", "-f"),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write deployments + requirements (parquet "
                                          "or csv; requirements go to <name>.requirements.<ext>)."),
    profiles: Path | None = typer.Option(None, "--profiles", help="Calibration profiles JSON."),
) -> None:
    """Cheapest deployment meeting each use case's SLO, and the minimum platform resources it needs."""
    from .perf.profiles import default_profiles
    from .report import report_cli
    from .requirements import search

    _in_range("--max-devices", max_devices, MAX_DEVICES_RANGE)
    req_out = None
    if output is not None:
        check_output(output, FRAME_FORMATS)
        req_out = check_output(output.with_name(output.stem + ".requirements" + output.suffix), FRAME_FORMATS)
    hw = hardware or ["H100-SXM-80GB", "H200-SXM-141GB", "B200-SXM-180GB", "A100-SXM-80GB", "MI300X", "Gaudi3"]
    res = search(model, use_case, hw, usecases, default_profiles(profiles), max_devices=max_devices,
                 weight_dtype=weight_dtype, kv_dtype=kv_dtype, framework=framework)
    report_cli.print_requirements(res)
    if output is not None and req_out is not None:
        from .calibrate.calibration import write_frame

        _write(lambda: write_frame(res["deployments"], output), output)
        if res["requirements"].height:
            _write(lambda: write_frame(res["requirements"], req_out), req_out)
    typer.echo(f"genz: profiles: {_profiles_note(profiles)}", err=True)


@app.command()
def frontier(
    model: str = typer.Option(..., "--model", "-m", help="HF repo id, alias or config.json path."),
    hardware: list[str] = typer.Option(..., "--hardware", "-H", help="Platform(s); repeat the option for several."),
    isl: int = typer.Option(1024, "--isl", "--input-tokens", help="Prompt tokens per request (nominal L)."),
    osl: int = typer.Option(1024, "--osl", "--output-tokens", help="Generated tokens per request (nominal L)."),
    devices: int = typer.Option(8, "--devices", help="Device budget per deployment (prefill + decode pools)."),
    concurrency: str = typer.Option(",".join(map(str, (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024))),
                                    "--concurrency", "-c", help="Client concurrencies to sweep, comma-separated."),
    precision: list[str] | None = typer.Option(None, "--precision", "-p", help="weight[/act[/kv]] formats, e.g. "
                                                  "fp8 or fp4/fp8/fp8; repeat for several (default: the checkpoint's published weights, e.g. "
                                                  "MXFP4 experts for gpt-oss, FP8 for DeepSeek-V3; else bf16)."),
    framework: str | None = typer.Option(None, "--framework", "-f", help="vLLM, TensorRT-LLM, SGLang, ..."),
    disagg: list[str] | None = typer.Option(None, "--disagg", help="Disaggregated splits XP:YD (prefill:decode "
                                               "workers) to enumerate; repeat; 'none' for none (default 1:1)."),
    length_ratio: float = typer.Option(0.8, "--length-ratio", help="Request lengths uniform in [r·L, L]."),
    interactivity: float = typer.Option(50.0, "--interactivity", help="Output tokens/s per user at which "
                                           "platforms are compared (cost, tokens per MW)."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write every swept point (.csv, .parquet or "
                                          ".json), with on_frontier."),
    all_points: bool = typer.Option(False, "--all", help="Print every point that runs, not only the frontier."),
    profiles: Path | None = typer.Option(None, "--profiles", help="Calibration profiles JSON."),
) -> None:
    """Throughput per GPU vs interactivity: the Pareto frontier over deployments and concurrency."""
    from .perf.profiles import default_profiles
    from .report import report_cli
    from .requirements import frontier as fr

    if output is not None:
        check_output(output)
    if not interactivity > 0:
        raise GenzError(f"interactivity: {interactivity:g} must be > 0 (output tokens/s per user)")
    precs = [fr.Precision.parse(p) for p in precision] if precision else []  # none: as the checkpoint ships
    pts = fr.sweep(model, hardware, isl, osl, devices=devices, concurrency=fr.parse_concurrency(concurrency),
                   precisions=precs, length_ratio=length_ratio, framework=framework,
                   disagg=fr.parse_disagg(disagg) if disagg else fr.DISAGG, profiles=default_profiles(profiles))
    bad = fr.nothing_fits(pts)
    if len(bad) == len(set(pts.get_column("hardware").to_list())):
        why = "; ".join(f"{h}: {w}" for h, w in bad.items())
        raise GenzError(f"devices: no deployment of {model} within {devices} device(s) runs ({why}); raise "
                        "--devices or use a smaller --precision")
    for h, w in bad.items():
        typer.echo(f"genz: warning: {h}: no deployment within {devices} device(s) runs ({w})", err=True)
    report_cli.print_frontier(pts, fr.at_interactivity(pts, interactivity), all_points=all_points)
    if output is not None:
        write_atomic_csv(pts, output)
    typer.echo(f"genz: {pts.height} points, {int(pts.get_column('on_frontier').sum())} on the frontiers; profiles: "
               f"{_profiles_note(profiles)}" + (f"; wrote {output}" if output is not None else ""), err=True)


@app.command()
def sql(
    query: str | None = typer.Argument(None, help="SQL to run; without it, statements are read from standard "
                                          "input, one per line or separated by ';'."),
    db: Path = typer.Option(Path("results/warehouse.duckdb"), "--db", help="Warehouse to open (read-only)."),
    csv: bool = typer.Option(False, "--csv", help="Print CSV instead of a table."),
) -> None:
    """Query the warehouse (read-only DuckDB): the SQL shell the install provides."""
    import sys

    import duckdb

    from .report import report_cli

    if not db.is_file():
        raise GenzError(f"sql: {db}: no warehouse here; run `snakemake --cores 32 reports/all` or give --db PATH")
    text = query if query is not None else sys.stdin.read()
    statements = [q.strip() for q in text.split(";") if q.strip()]
    if not statements:
        raise GenzError("sql: no statement given")
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as exc:
        raise GenzError(f"sql: {db}: cannot open as a DuckDB warehouse ({str(exc).splitlines()[0]})") from None
    try:
        for q in statements:
            try:
                rel = con.sql(q)
            except duckdb.Error as exc:
                raise GenzError(f"sql: {str(exc).splitlines()[0]}") from None
            if rel is not None:
                report_cli.print_table(rel.pl(), csv=csv)
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the Typer app, turning user errors into one-line messages."""
    try:
        app(args=argv, prog_name="genz", standalone_mode=False)
    except GenzError as exc:
        typer.echo(f"genz: error: {exc}", err=True)
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        typer.echo("genz: aborted", err=True)
        return 130
    except KeyboardInterrupt:
        typer.echo("genz: interrupted", err=True)
        return 130
    except Exception as exc:  # usage errors and anything unexpected: still one line
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # typer/click usage error
            msg = " ".join(str(exc.format_message()).split())
            typer.echo(f"genz: error: {msg} (see genz --help)", err=True)
            return int(exc.exit_code) if exc.exit_code else 2
        if os.environ.get("GENZ_DEBUG"):
            raise
        typer.echo(f"genz: internal error: {type(exc).__name__}: {exc} (set GENZ_DEBUG=1 for a traceback)", err=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
