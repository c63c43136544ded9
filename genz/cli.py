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


def check_output(path: Path) -> Path:
    """An output path a user gave: a regular file (or a new name) with a known extension; a
    directory, device, FIFO or symlink target is an error, never replaced."""
    path = Path(path)
    if str(path).strip() in ("", "."):
        raise GenzError("output: empty path; give a file name ending in .csv, .parquet or .json")
    if path.is_symlink() or (path.exists() and not path.is_file()):
        what = "a directory" if path.is_dir() else "a symlink" if path.is_symlink() else "not a regular file"
        raise GenzError(f"output: {path} is {what}; give a regular file name ending in .csv, .parquet or .json")
    if path.suffix.lower() not in WRITERS:
        raise GenzError(f"output: {path}: unknown extension '{path.suffix}'; allowed: {', '.join(WRITERS)}")
    return path


def write_atomic_csv(df, path: Path) -> None:
    """Write ``df`` to ``path`` in the format its extension names (csv, parquet, json), written aside and
    renamed into place (no half-written output; mode follows the umask)."""
    from .catalog.files import atomic_write

    path = check_output(path)
    atomic_write(path, getattr(df, WRITERS[path.suffix.lower()]))


def read_scenarios(path: Path):
    """Read a scenario CSV with every cell as text (extra columns pass through untouched)."""
    import polars as pl

    if not path.exists():
        raise GenzError(f"{path}: file not found")
    try:
        df = pl.read_csv(path, infer_schema=False, truncate_ragged_lines=False)
    except pl.exceptions.NoDataError:
        raise GenzError(f"{path}: empty file; expected a header with at least model, hardware, "
                        "input_tokens, output_tokens") from None
    except (pl.exceptions.ComputeError, pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GenzError(f"{path}: malformed CSV ({first})") from None
    return df


@app.command()
def predict(
    input: Path = typer.Argument(..., help="Scenario table (CSV; columns: docs/reference.md §2)."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write IN's columns plus predictions."),
    profiles: Path | None = typer.Option(None, "--profiles", help="Calibration profiles JSON."),
    uncalibrated: bool = typer.Option(False, "--uncalibrated", help="Ignore calibration; use datasheet defaults."),
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
        out = predict_frame(df, prof, progress=bar)
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
                       draft_model=draft_model, spec_tokens=spec_tokens, acceptance_rate=acceptance_rate)
    report_cli.print_estimate(res, ops=ops, as_json=as_json, profiles=_profiles_note(profiles))


@app.command()
def models(csv: bool = typer.Option(False, "--csv", help="Print CSV.")) -> None:
    """List the model zoo (parameters, active parameters, KV bytes per token)."""
    from . import api
    from .report import report_cli

    report_cli.print_table(api.models_table(), csv=csv, title="genz model zoo",
                           columns=["model", "architecture", "params_total", "params_active", "kv_bytes_per_token",
                                    "layers", "hidden", "max_context"])


@app.command()
def hardware(csv: bool = typer.Option(False, "--csv", help="Print CSV.")) -> None:
    """List the hardware presets (peak compute, memory, bandwidth, network)."""
    from . import api
    from .report import report_cli

    report_cli.print_table(api.hardware_table(), csv=csv, title="genz hardware presets",
                           columns=["hardware", "peak_tflops_bf16", "peak_tflops_fp8", "hbm_gb", "hbm_gb_per_s",
                                    "scale_up_gb_per_s", "scale_up_domain", "tdp_w", "usd_per_hour"])


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
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar or warnings on stderr."),
) -> None:
    """Fit calibration profiles (per platform × framework) to measured latencies."""
    from .calibrate import calibration as cal
    from .report import report_cli

    files = _measurement_files(measurements)
    ops = operators if operators is not None else (DEFAULT_OPERATORS if DEFAULT_OPERATORS.is_dir() else None)
    with _Progress(quiet, "calibrating") as bar:
        res = cal.calibrate(files, k=folds, workers=workers, do_cv=not no_cv, operators=ops, progress=bar)
    _warn(res.summary["warnings"], quiet)
    cal.write_profiles(res, output)
    if validation is not None and res.validation.height:
        cal.write_frame(res.validation, validation)
    typer.echo(f"genz: {len(res.profiles)} profiles from {res.summary['rows']} measured rows "
               f"(version {res.summary['version']}) -> {output}", err=True)
    if res.validation.height:
        report_cli.print_validation(res.validation, res.summary)


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

    files = _measurement_files(measurements)
    ops = operators if operators is not None else (DEFAULT_OPERATORS if DEFAULT_OPERATORS.is_dir() else None)
    with _Progress(quiet, "validating") as bar:
        res = cal.calibrate(files, k=folds, workers=workers, do_cv=True, operators=ops, progress=bar)
    _warn(res.summary["warnings"], quiet)
    if output is not None:
        cal.write_frame(res.validation, output)
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

    hw = hardware or ["H100-SXM-80GB", "H200-SXM-141GB", "B200-SXM-180GB", "A100-SXM-80GB", "MI300X", "Gaudi3"]
    res = search(model, use_case, hw, usecases, default_profiles(profiles), max_devices=max_devices,
                 weight_dtype=weight_dtype, kv_dtype=kv_dtype, framework=framework)
    report_cli.print_requirements(res)
    typer.echo(f"genz: profiles: {_profiles_note(profiles)}", err=True)
    if output is not None:
        from .calibrate.calibration import write_frame

        write_frame(res["deployments"], output)
        if res["requirements"].height:
            write_frame(res["requirements"], output.with_name(output.stem + ".requirements" + output.suffix))


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
    con = duckdb.connect(str(db), read_only=True)
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
