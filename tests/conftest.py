"""Shared fixtures: paths and a tiny model config used by hand-derived tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MEASUREMENT_DIR = ROOT / "calibration" / "measurements"
MEASUREMENT_FILES = sorted(MEASUREMENT_DIR.rglob("*.csv"))


@pytest.fixture(scope="session")
def all_measurements(tmp_path_factory) -> Path:
    """Every shipped measurement row in one CSV (the calibration set)."""
    import polars as pl

    frames = [pl.read_csv(f, infer_schema=False) for f in MEASUREMENT_FILES]
    out = tmp_path_factory.mktemp("meas") / "calibration.csv"
    pl.concat(frames, how="diagonal").write_csv(out)
    return out

#: a tiny llama-like decoder whose FLOPs are worked out by hand in test_engine.py
TINY_CONFIG = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "vocab_size": 100,
    "tie_word_embeddings": False,
    "max_position_embeddings": 512,
}


@pytest.fixture
def tiny_config_path(tmp_path: Path) -> Path:
    p = tmp_path / "config.json"
    p.write_text(json.dumps(TINY_CONFIG))
    return p
