"""Row isolation in `genz predict`: a bad row (model or hardware file, draft, context, layout, or a
failure inside genz) gets its own status and no numbers; every other row is predicted as if it
were alone, and the file is written."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from genz.perf.predict import MAY_BE_BLANK, predict_frame
from genz.perf.profiles import uncalibrated
from tests.reliability.conftest import BASE_CONFIG, HEADER, H, M, assert_error, run_subprocess, snapshot

UNCAL = uncalibrated()
METRIC_COLS = ("ttft_ms", "tpot_ms", "e2e_latency_ms", "throughput_tok_s", "throughput_tok_s_per_device",
               "max_throughput_tok_s", "memory_per_device_gb", "energy_j_per_token")


def _frame(rows: list[dict]) -> pl.DataFrame:
    cols = sorted({k for r in rows for k in r})
    return pl.DataFrame({c: [None if r.get(c) is None else str(r[c]) for r in rows] for c in cols},
                        schema=dict.fromkeys(cols, pl.String))


def _base(**kw) -> dict:
    return {"model": M, "hardware": H, "input_tokens": 128, "output_tokens": 64, **kw}


def _no_numbers(row: dict) -> None:
    for c in METRIC_COLS:
        assert row[c] is None or np.isnan(row[c]), (c, row[c])
    assert row["bottleneck"] is None and row["calibration"] is None


@pytest.fixture(scope="module")
def rows_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rows")
    (folder / "zero_heads.json").write_text(json.dumps({**BASE_CONFIG, "num_attention_heads": 0}))
    (folder / "nan_bw.yaml").write_text("id: X\ncompute_tflops: {bf16: 989}\nmemory: {hbm_gb: 80, hbm_gb_per_s: .nan}\n")
    lines = [HEADER + ",source"] + [f"{M},{H},{100 + i},64,r{i}" for i in range(100)]
    lines[51] = f"zero_heads.json,{H},150,64,r50"  # data row 51 of 100 (line 52 of the file)
    (folder / "hundred.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_one_bad_config_row_of_100_gets_its_status_and_99_are_ok(rows_dir):
    """The issue's case, through the real entry point: `num_attention_heads: 0` in one row's config.json
    used to end the run with `internal error: ZeroDivisionError` and write nothing."""
    before = snapshot(rows_dir)
    res = run_subprocess("predict", "hundred.csv", "-o", "out.csv", "--uncalibrated", cwd=rows_dir)
    assert res.rc == 0, res.err
    assert res.line == ("genz: 100 rows, 99 ok, 1 with a status; profiles: none (--uncalibrated); wrote out.csv")
    out = pl.read_csv(rows_dir / "out.csv", infer_schema=False)
    (rows_dir / "out.csv").unlink()
    assert snapshot(rows_dir) == before  # the input is untouched
    st = out.get_column("status").to_list()
    assert st[50] == "error: zero_heads.json: num_attention_heads '0' is not an integer in [1, 65,536]"
    assert st[:50] + st[51:] == ["ok"] * 99
    assert out.get_column("source").to_list() == [f"r{i}" for i in range(100)]
    assert out.get_column("ttft_ms")[50] == "NaN"  # no number (written as NaN, like every row with a status)
    # the other 99 rows are predicted exactly as without the bad row
    alone = predict_frame(pl.read_csv(rows_dir / "hundred.csv", infer_schema=False).filter(
        pl.col("source") != "r50"), UNCAL)
    got = out.filter(pl.col("source") != "r50").get_column("ttft_ms").cast(pl.Float64).to_numpy()
    np.testing.assert_allclose(got, alone.get_column("ttft_ms").to_numpy(), rtol=1e-12)


# (case, extra row columns, exact status of that row)
ROW_CASES = [
    ("unknown_draft", {"draft_model": "no-such-draft", "spec_tokens": 4, "acceptance_rate": 0.7},
     "error: draft_model: unknown model 'no-such-draft'; run `genz models` for the zoo or pass a config.json path"),
    ("bad_config_file", {"model": "zero_heads.json"},
     "error: zero_heads.json: num_attention_heads '0' is not an integer in [1, 65,536]"),
    ("nan_hardware_file", {"hardware": "nan_bw.yaml"},
     "error: nan_bw.yaml: memory.hbm_gb_per_s 'nan' is not a number in (0, 100,000,000] GB/s"),
    ("past_context", {"input_tokens": 500_000, "output_tokens": 256},
     "error: input_tokens + output_tokens = 500,000 + 256 = 500,256 exceeds the 131,072-token context of "
     "meta-llama/Llama-3.1-8B; set allow_long_context (column, or --allow-long-context) to predict anyway"),
    ("one_past_context", {"input_tokens": 131_072, "output_tokens": 1},
     "error: input_tokens + output_tokens = 131,072 + 1 = 131,073 exceeds the 131,072-token context of "
     "meta-llama/Llama-3.1-8B; set allow_long_context (column, or --allow-long-context) to predict anyway"),
    ("allow_not_yes_no", {"allow_long_context": "maybe"},
     "error: allow_long_context 'maybe' is not yes or no; allowed: true, false (or yes/no, 1/0)"),
    ("pp_past_layers", {"pp": 64},
     "error: pp 64 exceeds the 32 layers of meta-llama/Llama-3.1-8B (a stage holds at least one layer)"),
    ("decode_pp_past_layers", {"decode_tp": 1, "decode_pp": 33},
     "error: decode_pp 33 exceeds the 32 layers of meta-llama/Llama-3.1-8B (a stage holds at least one layer)"),
    ("tp_inf", {"tp": "inf"}, "error: tp 'inf' is not an integer in [0, 1,048,576]"),
    ("batch_1e30", {"batch_size": "1e30"}, "error: batch_size '1e30' is not an integer in [0, 10,000,000]"),
]


@pytest.mark.parametrize("case, extra, status", ROW_CASES, ids=[c[0] for c in ROW_CASES])
def test_bad_row_gets_its_status_and_no_numbers(rows_dir, monkeypatch, case, extra, status):
    monkeypatch.chdir(rows_dir)
    out = predict_frame(_frame([_base(), _base(**extra), _base(input_tokens=256)]), UNCAL)
    rows = out.rows(named=True)
    assert rows[1]["status"] == status
    _no_numbers(rows[1])
    assert rows[0]["status"] == rows[2]["status"] == "ok"
    alone = predict_frame(_frame([_base(), _base(input_tokens=256)]), UNCAL)
    assert [rows[0]["ttft_ms"], rows[2]["ttft_ms"]] == alone.get_column("ttft_ms").to_list()


@pytest.mark.parametrize("how", ["column", "option"])
def test_long_context_is_predicted_when_allowed(how):
    """`allow_long_context` (a column, or the option behind --allow-long-context) lets the row run."""
    row = _base(input_tokens=200_000, output_tokens=64, batch_size=1)
    if how == "column":
        row["allow_long_context"] = "yes"
    out = predict_frame(_frame([row]), UNCAL, allow_long_context=how == "option").row(0, named=True)
    assert out["status"] == "ok" and out["ttft_ms"] > 0


def test_long_context_flag_on_the_command_line(genz, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "long.csv").write_text(f"{HEADER}\n{M},{H},200000,64\n")
    assert genz("predict", "long.csv", "-o", "a.csv", "-q").rc == 0
    assert pl.read_csv(tmp_path / "a.csv").get_column("status")[0].startswith("error: input_tokens + output_tokens")
    assert genz("predict", "long.csv", "-o", "b.csv", "-q", "--allow-long-context").rc == 0
    assert pl.read_csv(tmp_path / "b.csv").get_column("status")[0] == "ok"
    assert_error(genz("estimate", "-m", M, "-H", H, "-i", "200000", "-o", "64"),
                 "input_tokens + output_tokens = 200,000 + 64 = 200,064 exceeds the 131,072-token context of "
                 "meta-llama/Llama-3.1-8B; set allow_long_context (column, or --allow-long-context) to predict anyway")
    assert genz("estimate", "-m", M, "-H", H, "-i", "200000", "-o", "64", "--allow-long-context").rc == 0


def test_guard_turns_a_non_finite_or_negative_ok_row_into_an_error(monkeypatch):
    """The last line of defence: were the engine to return NaN or a negative time for an `ok` row, the row
    says so (naming the metric and value) and carries no numbers; the other rows are unaffected."""
    from genz.perf import engine

    real = engine.estimate

    def broken(spec, inp, *a, **kw):
        est = real(spec, inp, *a, **kw)
        if len(inp) == 3:
            est.ttft_s[0] = np.nan
            est.tpot_s[1] = -0.001  # -1 ms
        return est

    monkeypatch.setattr(engine, "estimate", broken)
    out = predict_frame(_frame([_base(), _base(input_tokens=200), _base(input_tokens=300)]), UNCAL).rows(named=True)
    assert out[0]["status"] == ("error: ttft_ms came out nan, not a finite non-negative number; a bug in genz, "
                                "please report it")
    assert out[1]["status"] == ("error: tpot_ms came out -1, not a finite non-negative number; a bug in genz, "
                                "please report it")
    _no_numbers(out[0] | {"bottleneck": None, "calibration": None})
    assert out[2]["status"] == "ok" and out[2]["ttft_ms"] > 0


def test_a_failure_inside_genz_stops_only_that_models_rows(monkeypatch):
    """An unforeseen exception while estimating one model's rows gives those rows a status naming it (a bug
    report, not a crash); other models' rows are predicted; GENZ_DEBUG=1 re-raises for the traceback."""
    from genz.perf import serving

    real = serving.max_throughput

    def boom(spec, *a, **kw):
        if spec.id == M:
            raise ZeroDivisionError("division by zero")
        return real(spec, *a, **kw)

    monkeypatch.setattr(serving, "max_throughput", boom)
    monkeypatch.delenv("GENZ_DEBUG", raising=False)
    frame = _frame([_base(), _base(model="meta-llama/Llama-2-7b-hf")])
    out = predict_frame(frame, UNCAL).rows(named=True)
    assert out[0]["status"] == ("error: genz failed on these rows of meta-llama/Llama-3.1-8B (ZeroDivisionError: "
                                "division by zero); a bug in genz, please report it")
    _no_numbers(out[0])
    assert out[1]["status"] == "ok" and out[1]["ttft_ms"] > 0
    monkeypatch.setenv("GENZ_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        predict_frame(frame, UNCAL)


def test_a_model_that_fails_to_load_unexpectedly_is_that_rows_status(monkeypatch):
    from genz.perf import predict

    real = predict.get_model

    def odd(name):
        if name == "odd-model":
            raise RecursionError("maximum recursion depth exceeded")
        return real(name)

    monkeypatch.setattr(predict, "get_model", odd)
    monkeypatch.delenv("GENZ_DEBUG", raising=False)
    out = predict_frame(_frame([_base(model="odd-model"), _base()]), UNCAL).rows(named=True)
    assert out[0]["status"] == ("error: model 'odd-model' could not be read (RecursionError: maximum recursion depth "
                                "exceeded); a bug in genz, please report it")
    assert out[1]["status"] == "ok"


def test_nothing_non_finite_or_negative_is_ever_ok():
    """Over a grid of awkward but valid rows (1-token prompts and outputs, huge batches, every parallel axis,
    offload, speculation, disaggregation) every `ok` row's numbers are finite and non-negative."""
    rows = []
    for L in (1, 7, 4096, 131_000):
        for O in (1, 2, 64):
            for extra in ({}, {"batch_size": 1_000_000}, {"tp": 8, "pp": 4, "dp": 2}, {"cp": 4, "tp": 2},
                          {"offload": "both", "batch_size": 4096}, {"chunk_size": 512},
                          {"draft_model": "eagle", "spec_tokens": 4, "acceptance_rate": 0.0},
                          {"decode_tp": 4, "tp": 2}, {"num_beams": 8}, {"concurrency": 64},
                          {"concurrency": 8, "decode_tp": 4, "tp": 2}):
                rows.append(_base(input_tokens=L, output_tokens=O, **extra))
    out = predict_frame(_frame(rows), UNCAL)
    ok = out.filter(pl.col("status") == "ok")
    assert ok.height > 0.8 * out.height
    num = ok.select([c for c, t in ok.schema.items() if t == pl.Float64 and c not in MAY_BE_BLANK])
    arr = num.to_numpy()
    assert np.isfinite(arr).all() and (arr >= 0).all()
    mt = ok.select([c for c in ok.columns if c in MAY_BE_BLANK]).to_numpy()  # may be blank (NaN)
    assert not np.isinf(mt).any() and not (mt < 0).any()
