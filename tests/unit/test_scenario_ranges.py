"""Every numeric scenario cell is checked against a range: a typo never becomes a default."""

from __future__ import annotations

import polars as pl
import pytest

import genz


@pytest.mark.parametrize("col,val,needle", [
    ("tp", "inf", "error: tp 'inf' is not an integer in [0, 1,048,576]"),
    ("tp", "1e30", "error: tp '1e30' is not an integer in [0, 1,048,576]"),
    ("batch_size", "inf", "error: batch_size 'inf' is not an integer in [0, 10,000,000]"),
    ("input_tokens", "-5", "error: input_tokens '-5' is not an integer in [0, 100,000,000]"),
    ("acceptance_rate", "1.5", "error: acceptance_rate '1.5' is not in [0, 1]"),
    ("usd_per_device_hour", "-1", "error: usd_per_device_hour '-1' is not in [0, 1e+06]"),
    ("usd_per_device_hour", "cheap", "error: usd_per_device_hour 'cheap' is not a number"),
])
def test_out_of_range_cells_get_a_status_naming_the_value(col, val, needle):
    row = {"model": "meta-llama/Llama-3.1-8B", "hardware": "H100-SXM-80GB", "input_tokens": "512",
           "output_tokens": "64", col: val}
    good = {**row, col: "1" if col != "input_tokens" else "512"}
    out = genz.predict(pl.DataFrame([row, good]))
    assert out.get_column("status").to_list() == [needle, "ok"]
    ttft = out.get_column("ttft_ms")[0]
    assert ttft is None or ttft != ttft  # no number for a bad row
