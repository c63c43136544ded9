"""The command line as users run it: readable output, one-line errors, nothing half-written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genz", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def assert_one_line_error(p: subprocess.CompletedProcess, *needles: str) -> None:
    assert p.returncode != 0
    err = p.stderr.strip()
    assert "Traceback" not in p.stderr
    assert len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, err


def test_models_csv_has_contract_columns():
    p = run("models", "--csv")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    header = lines[0].split(",")
    for c in ("model", "architecture", "params_total", "params_active", "kv_bytes_per_token"):
        assert c in header
    row = next(r for r in lines if r.startswith("meta-llama/Llama-2-7b-hf,")).split(",")
    assert int(row[header.index("kv_bytes_per_token")]) == 524288


def test_hardware_csv_has_contract_columns():
    p = run("hardware", "--csv")
    assert p.returncode == 0, p.stderr
    df = pl.read_csv(p.stdout.encode())
    for c in ("hardware", "peak_tflops_bf16", "hbm_gb", "hbm_gb_per_s"):
        assert c in df.columns
    h100 = df.filter(pl.col("hardware") == "H100-SXM-80GB").row(0, named=True)
    assert h100["hbm_gb"] == 80 and h100["hbm_gb_per_s"] == 3350
    contract = ["A100-SXM-40GB", "A100-SXM-80GB", "H100-SXM-80GB", "H200-SXM-141GB", "GH200-96GB", "GH200-120GB",
                "GH200-144GB", "B200-SXM-180GB", "GB200-NVL72", "L40S-48GB", "RTX-PRO-6000", "MI250", "MI300X",
                "MI325X", "Max-1550", "Gaudi2", "Gaudi3", "TPUv5e", "TPUv5p", "TPUv6e"]
    assert set(contract) <= set(df.get_column("hardware").to_list())


def test_estimate_prints_summary_and_ops():
    p = run("estimate", "--model", "meta-llama/Llama-2-7b-hf", "--hardware", "h100-sxm-80gb", "--ops")
    assert p.returncode == 0, p.stderr
    for word in ("TTFT", "TPOT", "throughput", "memory", "bottleneck", "qkv_proj", "attention", "lm_head"):
        assert word in p.stdout


def test_python_m_equals_entry_point():
    p = run("--help")
    assert p.returncode == 0 and "predict" in p.stdout


@pytest.mark.parametrize(
    "args, needles",
    [
        (("estimate", "-m", "no-such-model", "-H", "H100-SXM-80GB"), ("unknown model",)),
        (("estimate", "-m", "llama-2-7b", "-H", "H9000"), ("unknown hardware", "H100-SXM-80GB")),
        (("estimate", "-m", "llama-2-7b", "-H", "H100-SXM-80GB", "--tp", "3"), ("tp 3", "32 attention heads")),
        (("estimate", "-m", "meta-llama/Llama-2-70b-hf", "-H", "L4-24GB"), ("does_not_fit", "GB")),
        (("estimate", "-m", "llama-2-7b", "-H", "H100-SXM-80GB", "-w", "fp9"), ("weight_dtype", "fp9")),
    ],
)
def test_bad_estimate_inputs_are_one_line(args, needles):
    assert_one_line_error(run(*args), *needles)


def test_bad_hardware_yaml_is_one_line(tmp_path):
    bad = tmp_path / "chip.yaml"
    bad.write_text("id: X\ncompute_tflops: {bf16: [1, 2\n")
    assert_one_line_error(run("estimate", "-m", "llama-2-7b", "-H", str(bad)), "malformed YAML")
    missing = tmp_path / "chip2.yaml"
    missing.write_text("id: X\ncompute_tflops: {bf16: 100}\nmemory: {hbm_gb: 10}\n")
    assert_one_line_error(run("estimate", "-m", "llama-2-7b", "-H", str(missing)), "hbm_gb_per_s")


def test_predict_malformed_csv_writes_nothing(tmp_path):
    bad = tmp_path / "in.csv"
    bad.write_text('model,hardware,input_tokens,output_tokens\n"unterminated,H100,1,1\n')
    out = tmp_path / "out.csv"
    p = run("predict", str(bad), "-o", str(out))
    assert_one_line_error(p)
    assert not out.exists()
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("model,hardware\nllama-2-7b,H100-SXM-80GB\n")
    assert_one_line_error(run("predict", str(nocol), "-o", str(out)), "input_tokens")
    assert not out.exists()
    assert_one_line_error(run("predict", str(tmp_path / "nope.csv"), "-o", str(out)), "not found")


def test_predict_bad_rows_get_a_status_not_a_crash(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(
        "model,hardware,input_tokens,output_tokens,tp,batch_size,source\n"
        "llama-2-7b,H100-SXM-80GB,128,128,1,1,a\n"
        "no-such-model,H100-SXM-80GB,128,128,1,1,b\n"
        "llama-2-7b,H100-SXM-80GB,128,128,3,1,c\n"
        "meta-llama/Llama-2-70b-hf,L4-24GB,128,128,1,1,d\n"
        "llama-2-7b,H100-SXM-80GB,abc,128,1,1,e\n"
    )
    out = tmp_path / "out.csv"
    p = run("predict", str(src), "-o", str(out), "-q")
    assert p.returncode == 0, p.stderr
    df = pl.read_csv(out, infer_schema=False)
    st = df.get_column("status").to_list()
    assert st[0] == "ok"
    assert st[1].startswith("error: model")
    assert "tp 3" in st[2]
    assert st[3].startswith("does_not_fit: needs")
    assert "input_tokens" in st[4]
    assert df.get_column("source").to_list() == ["a", "b", "c", "d", "e"]  # extra columns pass through
    assert float(df.get_column("ttft_ms")[0]) > 0


def test_predict_on_the_measurement_set(tmp_path, all_measurements):
    out = tmp_path / "out.csv"
    # measured rows ran past some models' max_position_embeddings (gpt-j, Llama-2): allow it, as calibration does
    p = run("predict", str(all_measurements), "-o", str(out), "--uncalibrated", "--allow-long-context")
    assert p.returncode == 0, p.stderr
    df = pl.read_csv(out, infer_schema=False)
    src = pl.read_csv(all_measurements, infer_schema=False)
    assert df.columns[: len(src.columns)] == src.columns
    assert df.get_column("value").to_list() == src.get_column("value").to_list()
    fixed = df.filter(pl.col("metric") != "max_throughput_tok_s")
    assert (fixed.get_column("status") == "ok").all(), fixed.filter(pl.col("status") != "ok").head()
    pred = fixed.get_column("predicted").cast(pl.Float64)
    assert (pred > 0).all()


def test_estimate_gives_the_same_numbers_from_any_directory(tmp_path):
    """The CLI never picks up a profiles file from the working directory: a stale pipeline output under
    ./results/calibration/ changes nothing; only --profiles or GENZ_PROFILES do, and it says which."""
    import json

    from tests.conftest import ROOT

    args = ("estimate", "-m", "meta-llama/Llama-3.1-8B", "-H", "H100-SXM-80GB", "-b", "8", "--json")
    # a decoy where the pipeline writes its profiles, with every factor at a silly value
    decoy = tmp_path / "results" / "calibration" / "profiles.json"
    decoy.parent.mkdir(parents=True)
    data = json.loads((ROOT / "genz" / "data" / "calibration" / "profiles.json").read_text())
    for p in data["profiles"]:
        p["factors"]["memory"] = 0.05
    decoy.write_text(json.dumps(data))
    outs = [json.loads(run(*args, cwd=cwd).stdout) for cwd in (ROOT, tmp_path, tmp_path / "results")]
    metrics = [{k: o["metrics"][k] for k in ("ttft_ms", "tpot_ms", "e2e_latency_ms", "calibration")} for o in outs]
    assert metrics[0] == metrics[1] == metrics[2]
    assert outs[0]["profiles"].startswith(str(ROOT / "genz" / "data" / "calibration" / "profiles.json"))
    # an explicit file is used, and named
    p = run(*args, "--profiles", str(decoy), cwd=tmp_path)
    other = json.loads(p.stdout)
    assert other["metrics"]["tpot_ms"] != metrics[0]["tpot_ms"] and "(--profiles)" in other["profiles"]


def test_predict_writes_by_extension_keeps_user_columns_and_refuses_special_targets(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("model,hardware,input_tokens,output_tokens,status,ttft_ms\n"
                   "meta-llama/Llama-3.1-8B,H100-SXM-80GB,512,64,mine,1.0\n")
    old = os.umask(0o022)
    try:
        for ext, read in ((".csv", pl.read_csv), (".parquet", pl.read_parquet), (".json", pl.read_json)):
            out = tmp_path / f"out{ext}"
            p = run("predict", str(src), "-o", str(out))
            assert p.returncode == 0, p.stderr
            df = read(out)
            assert df.get_column("status").to_list() == ["ok"]
            assert [str(v) for v in df.get_column("input_status").to_list()] == ["mine"]
            assert "kept as input_status, input_ttft_ms" in p.stderr
            assert (out.stat().st_mode & 0o777) == 0o644  # the umask, not 0600
    finally:
        os.umask(old)
    for target, needle in ((tmp_path, "is a directory"), (tmp_path / "x.xlsx", "unknown extension"),
                           (Path("/dev/null"), "is not a regular file")):
        assert_one_line_error(run("predict", str(src), "-o", str(target)), needle)
    assert Path("/dev/null").is_char_device()
