"""Hardware YAML files with bad numbers: one line naming the file, the field, the value and the
allowed range; never a NaN, infinite or negative metric (`genz estimate -H FILE`)."""

from __future__ import annotations

import copy

import pytest
import yaml

from tests.reliability.conftest import ROOT, M, assert_error, snapshot, write_cases

PRESET = yaml.safe_load((ROOT / "genz" / "data" / "hardware" / "h100-sxm-80gb.yaml").read_text())


def _with(section: str | None, key: str, value) -> dict:
    d = copy.deepcopy(PRESET)
    (d if section is None else d[section])[key] = value
    return d


def _without(section: str, key: str) -> dict:
    d = copy.deepcopy(PRESET)
    del d[section][key]
    return d


# (file name, YAML mapping or raw text/bytes, exact message after "genz: error: ")
CASES = [
    ("nan_bw.yaml", _with("memory", "hbm_gb_per_s", float("nan")),
     "nan_bw.yaml: memory.hbm_gb_per_s 'nan' is not a number in (0, 100,000,000] GB/s"),
    ("half_domain.yaml", _with("scale_up", "domain_size", 0.5),
     "half_domain.yaml: scale_up.domain_size '0.5' is not an integer in [1, 1,048,576] devices"),
    ("zero_domain.yaml", _with("scale_up", "domain_size", 0),
     "zero_domain.yaml: scale_up.domain_size '0' is not an integer in [1, 1,048,576] devices"),
    ("inf_bf16.yaml", _with("compute_tflops", "bf16", float("inf")),
     "inf_bf16.yaml: compute_tflops.bf16 'inf' is not a number in (0, 1,000,000] TFLOP/s"),
    ("huge_bw.yaml", _with("memory", "hbm_gb_per_s", 1e30),
     "huge_bw.yaml: memory.hbm_gb_per_s '1e+30' is not a number in (0, 100,000,000] GB/s"),
    ("neg_hbm.yaml", _with("memory", "hbm_gb", -80),
     "neg_hbm.yaml: memory.hbm_gb '-80' is not a number in (0, 1,000,000] GB"),
    ("zero_hbm.yaml", _with("memory", "hbm_gb", 0),
     "zero_hbm.yaml: memory.hbm_gb '0' is not a number in (0, 1,000,000] GB"),
    ("neg_latency.yaml", _with("scale_up", "latency_us", -2.0),
     "neg_latency.yaml: scale_up.latency_us '-2.0' is not a number in [0, 1,000,000] us"),
    ("text_bw.yaml", _with("memory", "hbm_gb_per_s", "fast"),
     "text_bw.yaml: memory.hbm_gb_per_s 'fast' is not a number in (0, 100,000,000] GB/s"),
    ("bool_tdp.yaml", _with("power", "tdp_w", True),
     "bool_tdp.yaml: power.tdp_w 'True' is not a number in (0, 1,000,000] W"),
    ("neg_price.yaml", _with("cost", "usd_per_hour", -1),
     "neg_price.yaml: cost.usd_per_hour '-1' is not a number in [0, 1,000,000] USD per device-hour"),
    ("zero_vector.yaml", _with(None, "vector_tflops_fp32", 0),
     "zero_vector.yaml: vector_tflops_fp32 '0' is not a number in (0, 1,000,000] TFLOP/s"),
    ("nan_scaleout.yaml", _with("scale_out", "gb_per_s", float("nan")),
     "nan_scaleout.yaml: scale_out.gb_per_s 'nan' is not a number in (0, 1,000,000] GB/s"),
    ("no_bw.yaml", _without("memory", "hbm_gb_per_s"),
     "no_bw.yaml: memory.hbm_gb_per_s: missing; a number in (0, 100,000,000] GB/s is required"),
    ("flat_memory.yaml", _with(None, "memory", 5),
     "flat_memory.yaml: memory must be a mapping of fields, got '5'"),
    ("bad_dtype.yaml", _with(None, "compute_tflops", {"bf17": 100}),
     "bad_dtype.yaml: compute_tflops.bf17: unknown dtype; allowed: fp32, tf32, bf16, fp16, fp8, int8, fp4, int4"),
    ("list.yaml", "- a\n- b\n",
     "list.yaml: a hardware file must be a mapping of fields (id, compute_tflops, memory, ...)"),
    ("broken.yaml", "id: X\ncompute_tflops: {bf16: [1, 2\n",
     "broken.yaml: line 3 malformed YAML: did not find expected ',' or ']'"),
    ("latin1.yaml", "id: H\u00e9\n".encode("latin-1"),
     "latin1.yaml: not UTF-8 (byte 0xe9 at offset 5); save it as UTF-8"),
]


@pytest.fixture(scope="module")
def hw_dir(tmp_path_factory):
    return write_cases(tmp_path_factory.mktemp("hardware"), CASES, lambda c: yaml.safe_dump(c, sort_keys=False))


@pytest.mark.parametrize("name, content, message", CASES, ids=[c[0] for c in CASES])
def test_bad_hardware_file_is_one_line(genz, hw_dir, monkeypatch, name, content, message):
    monkeypatch.chdir(hw_dir)
    before = snapshot(hw_dir)
    assert_error(genz("estimate", "-m", M, "-H", name), message)
    assert snapshot(hw_dir) == before


def test_every_shipped_preset_passes_the_ranges(genz):
    """The ranges are physical sanity bounds: every preset (datasheet numbers) lies inside them."""
    res = genz("hardware", "--csv")
    assert res.rc == 0 and len(res.out.strip().splitlines()) == 1 + len(
        list((ROOT / "genz" / "data" / "hardware").glob("*.yaml")))
