"""Bad options and files for every other command (estimate, requirements, calibrate, validate, sql,
and usage mistakes): one line, exit 2, nothing written, checked before any long work starts."""

from __future__ import annotations

import os

import duckdb
import pytest

from tests.reliability.conftest import H, M, assert_error, snapshot

FRAMES = ".parquet, .csv"
NO_WAREHOUSE = "no warehouse here; run `snakemake --cores 32 reports/all` or give --db PATH"
USE_CASES = ("chat, code_completion, question_answering, summarization, rag, reasoning, agentic, offline_batch, "
             "mlperf_llama2_70b_server, mlperf_llama2_70b_interactive, mlperf_llama31_405b_server, "
             "mlperf_llama31_405b_interactive")
REQ = ("requirements", "-m", M, "-u", "chat", "-H", H)

# (case id, argv, exact message after "genz: error: "; {cwd} is the folder the command runs in)
CASES = [
    # estimate
    ("estimate-zero-input", ("estimate", "-m", M, "-H", H, "-i", "0"), "input_tokens must be >= 1"),
    ("estimate-huge-batch", ("estimate", "-m", M, "-H", H, "-b", "99999999999"),
     "batch_size '99999999999' is not an integer in [0, 10,000,000]"),
    ("estimate-inf-acceptance", ("estimate", "-m", M, "-H", H, "--spec-tokens", "4", "--acceptance-rate", "inf"),
     "acceptance_rate 'inf' is not in [0, 1]"),
    ("estimate-unknown-draft", ("estimate", "-m", M, "-H", H, "--draft-model", "nope", "--spec-tokens", "4",
                                "--acceptance-rate", "0.5"),
     "draft_model: unknown model 'nope'; run `genz models` for the zoo or pass a config.json path"),
    ("estimate-pp-past-layers", ("estimate", "-m", M, "-H", H, "--pp", "64"),
     "pp 64 exceeds the 32 layers of meta-llama/Llama-3.1-8B (a stage holds at least one layer)"),
    ("estimate-profiles-dir", ("estimate", "-m", M, "-H", H, "--profiles", "adir"),
     "profiles: --profiles names adir, which is not a file"),
    ("estimate-profiles-fifo", ("estimate", "-m", M, "-H", H, "--profiles", "fifo.csv"),
     "profiles: --profiles names fifo.csv, which is not a file"),
    ("estimate-profiles-malformed", ("estimate", "-m", M, "-H", H, "--profiles", "bad.json"),
     "{cwd}/bad.json: malformed JSON at line 1: Expecting value"),
    ("estimate-text-tokens", ("estimate", "-m", M, "-H", H, "-i", "abc"),
     "Invalid value for '--input' / '--input-tokens' / '-i': Input should be a valid integer, unable to parse "
     "string as an integer (see genz --help)"),
    # requirements
    ("requirements-zero-devices", (*REQ, "--max-devices", "0"), "--max-devices 0 is not in [1, 1,048,576]"),
    ("requirements-output-dir", (*REQ, "-o", "adir"),
     f"output: adir is a directory; give a regular file name ending in {FRAMES}"),
    ("requirements-output-ext", (*REQ, "-o", "r.xlsx"), f"output: r.xlsx: unknown extension '.xlsx'; allowed: {FRAMES}"),
    ("requirements-output-fifo", (*REQ, "-o", "fifo.csv"),
     f"output: fifo.csv is not a regular file; give a regular file name ending in {FRAMES}"),
    ("requirements-sibling-dir", (*REQ, "-o", "r.csv"),
     f"output: r.requirements.csv is a directory; give a regular file name ending in {FRAMES}"),
    ("requirements-unknown-use-case", ("requirements", "-m", M, "-u", "nope"),
     f"use_case: unknown nope; allowed: {USE_CASES}"),
    ("requirements-text-tokens", (*REQ, "--usecases", "uc_tokens.yaml"),
     "uc_tokens.yaml: usecases.chat.input_tokens 'abc' is not an integer in [1, 100,000,000]"),
    ("requirements-negative-slo", (*REQ, "--usecases", "uc_slo.yaml"),
     "uc_slo.yaml: usecases.chat.slo.ttft_ms '-5' is not a number in (0, 1,000,000,000] ms"),
    ("requirements-nan-slo", (*REQ, "--usecases", "uc_nan.yaml"),
     "uc_nan.yaml: usecases.chat.slo.tpot_ms 'nan' is not a number in (0, 1,000,000,000] ms"),
    ("requirements-usecases-dir", (*REQ, "--usecases", "adir"), "use-case library: adir is not a file"),
    # calibrate / validate: every option is checked before the fit
    ("calibrate-output-dir", ("calibrate", "-o", "adir"),
     "output: adir is a directory; give a regular file name ending in .json"),
    ("calibrate-output-ext", ("calibrate", "-o", "p.txt"), "output: p.txt: unknown extension '.txt'; allowed: .json"),
    ("calibrate-output-fifo", ("calibrate", "-o", "fifo.csv"),
     "output: fifo.csv is not a regular file; give a regular file name ending in .json"),
    ("calibrate-validation-ext", ("calibrate", "--validation", "v.xlsx"),
     f"output: v.xlsx: unknown extension '.xlsx'; allowed: {FRAMES}"),
    ("calibrate-one-fold", ("calibrate", "--folds", "1"), "--folds 1 is not in [2, 1,000]"),
    ("calibrate-no-workers", ("calibrate", "--workers", "0"), "--workers 0 is not in [1, 1,024]"),
    ("calibrate-operators-missing", ("calibrate", "--operators", "nope", "meas.csv"),
     "--operators: nope is not a folder of kernel-timing tables"),
    ("calibrate-missing-file", ("calibrate", "missing.csv"), "missing.csv: file not found"),
    ("calibrate-empty-folder", ("calibrate", "adir"), "calibrate: no measurement CSVs found (looked in adir)"),
    ("validate-output-dir", ("validate", "-o", "adir"),
     f"output: adir is a directory; give a regular file name ending in {FRAMES}"),
    ("validate-zero-folds", ("validate", "--folds", "0"), "--folds 0 is not in [2, 1,000]"),
    # sql
    ("sql-not-a-database", ("sql", "--db", "notdb.duckdb", "SELECT 1"),
     'sql: notdb.duckdb: cannot open as a DuckDB warehouse (IO Error: The file "{cwd}/notdb.duckdb" exists, but it '
     "is not a valid DuckDB database file!)"),
    ("sql-db-is-dir", ("sql", "--db", "adir", "SELECT 1"), f"sql: adir: {NO_WAREHOUSE}"),
    ("sql-db-is-device", ("sql", "--db", "/dev/null", "SELECT 1"), f"sql: /dev/null: {NO_WAREHOUSE}"),
    ("sql-syntax", ("sql", "--db", "wh.duckdb", "SELEC 1"), 'sql: Parser Error: syntax error at or near "SELEC"'),
    ("sql-write", ("sql", "--db", "wh.duckdb", "CREATE TABLE x (a INT)"),
     'sql: Invalid Input Error: Cannot execute statement of type "CREATE" on database "wh" which is attached in '
     "read-only mode!"),
    ("sql-unknown-table", ("sql", "--db", "wh.duckdb", "SELECT * FROM nope"),
     "sql: Catalog Error: Table with name nope does not exist!"),
    ("sql-empty", ("sql", "--db", "wh.duckdb", " ; "), "sql: no statement given"),
    # usage
    ("usage-unknown-option", ("models", "--bogus"), "No such option: --bogus (see genz --help)"),
    ("usage-missing-output", ("predict", "in.csv"), "Missing option '-o' / '--output'. (see genz --help)"),
]


@pytest.fixture(scope="module")
def cmd_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("commands")
    (folder / "adir").mkdir()
    (folder / "r.requirements.csv").mkdir()
    os.mkfifo(folder / "fifo.csv")
    (folder / "bad.json").write_text("not json")
    (folder / "notdb.duckdb").write_text("hello")
    (folder / "meas.csv").write_text("model,hardware,input_tokens,output_tokens,metric,value\n")
    (folder / "in.csv").write_text("model,hardware,input_tokens,output_tokens\n")
    base = "usecases:\n  chat:\n    input_tokens: {i}\n    output_tokens: 200\n    slo: {{ttft_ms: {t}, tpot_ms: {p}}}\n"
    (folder / "uc_tokens.yaml").write_text(base.format(i="abc", t=500, p=50))
    (folder / "uc_slo.yaml").write_text(base.format(i=1000, t=-5, p=50))
    (folder / "uc_nan.yaml").write_text(base.format(i=1000, t=500, p=".nan"))
    con = duckdb.connect(str(folder / "wh.duckdb"))
    con.sql("CREATE TABLE t AS SELECT 1 AS a")
    con.close()
    return folder


@pytest.mark.parametrize("case, args, message", CASES, ids=[c[0] for c in CASES])
def test_bad_option_or_file_is_one_line(genz, cmd_dir, monkeypatch, case, args, message):
    monkeypatch.chdir(cmd_dir)
    before = snapshot(cmd_dir)
    assert_error(genz(*args), message.format(cwd=cmd_dir))
    assert snapshot(cmd_dir) == before  # nothing written, the warehouse unchanged


def test_profiles_env_naming_a_folder(genz, cmd_dir, monkeypatch):
    monkeypatch.chdir(cmd_dir)
    monkeypatch.setenv("GENZ_PROFILES", "adir")
    assert_error(genz("estimate", "-m", M, "-H", H), "profiles: GENZ_PROFILES names adir, which is not a file")


def test_requirements_on_a_full_disk(genz, cmd_dir, monkeypatch):
    """A failed write of the deployment table is one line and leaves no file (simulated ENOSPC)."""
    import errno

    from genz.calibrate import calibration

    def full(df, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.chdir(cmd_dir)
    monkeypatch.setattr(calibration, "write_frame", full)
    before = snapshot(cmd_dir)
    res = genz(*REQ, "-o", "dep.parquet")
    assert res.rc == 2 and res.err.strip() == "genz: error: cannot write dep.parquet: No space left on device"
    assert snapshot(cmd_dir) == before
