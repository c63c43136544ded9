"""`genz frontier` as users run it: the frontier tables, the comparison line, the written points, and
one-line errors that write nothing."""

from __future__ import annotations

import polars as pl
import pytest

from tests.cli.test_cli import assert_one_line_error, run

BASE = ("frontier", "-m", "openai/gpt-oss-120b", "--isl", "1024", "--osl", "1024", "-p", "mxfp4/fp8/fp8")


def test_frontier_prints_each_gpu_and_compares_them(tmp_path):
    out = tmp_path / "points.parquet"
    p = run(*BASE, "-H", "H100-SXM-80GB", "-H", "MI355X", "-c", "1,8,64,512", "--interactivity", "60", "-o",
            str(out))
    assert p.returncode == 0, p.stderr
    for word in ("H100-SXM-80GB · openai/gpt-oss-120b · ISL 1024 / OSL 1024", "MI355X · openai/gpt-oss-120b",
                 "tok/s/user", "tok/s/GPU", "80 % band", "$/M tok", "tok/s/MW", "DP8-attn EP8",
                 "calibrated: measured chip", "prior: assumed"):
        assert word in p.stdout, word
    line = next(ln for ln in p.stdout.splitlines() if ln.startswith("at 60 tok/s/user:"))
    assert "H100-SXM-80GB" in line and "MI355X" in line
    assert f"wrote {out}" in p.stderr and "profiles:" in p.stderr
    df = pl.read_parquet(out)
    # gpt-oss-120b on 8 GPUs: TP 1/2/4/8, TP+EP 2/4/8, DP-attention 2/4/8, 1P+1D pools of TP 1..8 within
    # 8 GPUs (p + d <= 8: 9 pairs) = 19 deployments, x 4 concurrencies x 2 GPUs
    assert df.height == 19 * 4 * 2
    assert df.get_column("on_frontier").any() and (df.get_column("status") == "ok").all()
    front = df.filter(pl.col("on_frontier") & (pl.col("hardware") == "MI355X")).sort("frontier_rank")
    # what the table printed is the written frontier: its highest-throughput point first by rank
    assert front.get_column("interactivity_tok_s_user").is_sorted()
    assert front.get_column("deployment")[0] in p.stdout


@pytest.mark.parametrize("args, needles", [
    (("-H", "H999"), ("hardware: unknown hardware 'H999'",)),
    (("-H", "H100-SXM-80GB", "--isl", "0"), ("input_tokens: 0 must be >= 1",)),
    (("-H", "H100-SXM-80GB", "-c", "1,0"), ("concurrency: '0'",)),
    (("-H", "H100-SXM-80GB", "--interactivity", "-5"), ("interactivity: -5 must be > 0",)),
    (("-H", "H100-SXM-80GB", "-p", "fp5"), ("precision weight: unknown dtype 'fp5'",)),
    (("-H", "H100-SXM-80GB", "--disagg", "2x1"), ("disagg: '2x1'",)),
])
def test_bad_frontier_inputs_are_one_line(args, needles, tmp_path):
    out = tmp_path / "o.csv"
    p = run(*BASE, *args, "-c", "1", "-o", str(out)) if "-c" not in args else run(*BASE, *args, "-o", str(out))
    assert_one_line_error(p, *needles)
    assert not out.exists()


def test_devices_too_small_for_the_model_is_one_line(tmp_path):
    out = tmp_path / "o.csv"
    # DeepSeek-R1 (the DeepSeek-V3 architecture): 671 GB of fp8 weights do not fit 8 x 80 GB
    p = run("frontier", "-m", "deepseek-ai/DeepSeek-R1", "-H", "H100-SXM-80GB", "-p", "fp8", "-c", "1", "-o",
            str(out))
    assert_one_line_error(p, "devices: no deployment of deepseek-ai/DeepSeek-R1 within 8 device(s) runs",
                          "does_not_fit: needs", "raise --devices")
    assert not out.exists()
    # with 16 GPUs, experts across two nodes (DP16-attention, EP16) fit
    p = run("frontier", "-m", "deepseek-ai/DeepSeek-R1", "-H", "H100-SXM-80GB", "-p", "fp8", "-c", "1,64",
            "--devices", "16")
    assert p.returncode == 0, p.stderr
    assert "DP16-attn EP16" in p.stdout


def test_a_directory_is_refused_before_any_work(tmp_path):
    p = run(*BASE, "-H", "H100-SXM-80GB", "-o", str(tmp_path))
    assert_one_line_error(p, "is a directory")
