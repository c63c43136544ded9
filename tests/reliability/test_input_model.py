"""Model configs with bad shapes: one line naming the file, the key, the value and the allowed
range, at once (`genz estimate -m config.json`); never a NaN, negative or hanging estimate."""

from __future__ import annotations

import json
import time

import pytest

from tests.reliability.conftest import BASE_CONFIG, H, assert_error, snapshot, write_cases


def _cfg(**changes) -> dict:
    return {**BASE_CONFIG, **changes}


MOE = {"model_type": "mixtral", "num_local_experts": 8, "num_experts_per_tok": 2}

# (file name, config dict or raw text/bytes, exact message after "genz: error: ")
CASES = [
    ("neg_hidden.json", _cfg(hidden_size=-4096),
     "neg_hidden.json: hidden_size '-4096' is not an integer in [1, 1,048,576]"),
    ("zero_heads.json", _cfg(num_attention_heads=0),
     "zero_heads.json: num_attention_heads '0' is not an integer in [1, 65,536]"),
    ("billion_layers.json", _cfg(num_hidden_layers=1e9),
     "billion_layers.json: num_hidden_layers '1000000000.0' is not an integer in [1, 10,000]"),
    ("zero_vocab.json", _cfg(vocab_size=0),
     "zero_vocab.json: vocab_size '0' is not an integer in [1, 10,000,000]"),
    ("frac_ffn.json", _cfg(intermediate_size=14336.5),
     "frac_ffn.json: intermediate_size '14336.5' is not an integer in [1, 10,000,000]"),
    ("text_hidden.json", _cfg(hidden_size="abc"),
     "text_hidden.json: hidden_size 'abc' is not an integer in [1, 1,048,576]"),
    ("bool_hidden.json", _cfg(hidden_size=True),
     "bool_hidden.json: hidden_size 'True' is not an integer in [1, 1,048,576]"),
    ("zero_kv.json", _cfg(num_key_value_heads=0),
     "zero_kv.json: num_key_value_heads '0' is not an integer in [1, 65,536]"),
    ("kv5.json", _cfg(num_key_value_heads=5),
     "kv5.json: 32 attention heads are not a multiple of 5 KV heads (grouped-query attention shares each KV "
     "head among equally many query heads)"),
    ("uneven_heads.json", _cfg(hidden_size=4000, num_attention_heads=48, num_key_value_heads=8),
     "uneven_heads.json: hidden_size 4000 is not a multiple of num_attention_heads 48; give head_dim when the "
     "heads do not split the hidden size evenly"),
    ("zero_head_dim.json", _cfg(head_dim=0),
     "zero_head_dim.json: head_dim '0' is not an integer in [1, 65,536]"),
    ("topk.json", _cfg(**{**MOE, "num_experts_per_tok": 10}),
     "topk.json: MoE top-k 10 must be in [1, 8] (the number of experts)"),
    ("no_topk.json", _cfg(**{**MOE, "num_experts_per_tok": 0}),
     "no_topk.json: MoE top-k 0 must be in [1, 8] (the number of experts)"),
    ("neg_experts.json", _cfg(**{**MOE, "num_local_experts": -8}),
     "neg_experts.json: num_local_experts '-8' is not an integer in [0, 65,536]"),
    ("step0.json", _cfg(model_type="qwen2_moe", num_experts=8, num_experts_per_tok=2, decoder_sparse_step=0),
     "step0.json: decoder_sparse_step '0' is not an integer in [1, 10,000]"),
    ("short_list.json", _cfg(num_key_value_heads_per_layer=[8, 8]),
     "short_list.json: num_key_value_heads_per_layer has 2 entries for 32 layers; give one per layer"),
    ("neg_window.json", _cfg(sliding_window=-5),
     "neg_window.json: sliding_window '-5' is not an integer in [0, 1,000,000,000]"),
    ("zero_context.json", _cfg(max_position_embeddings=0),
     "zero_context.json: max_position_embeddings '0' is not an integer in [1, 1,000,000,000]"),
    ("wrapped.json", {"model_type": "gemma3", "text_config": {"model_type": "gemma3_text", "hidden_size": 2560,
                                                              "num_attention_heads": 0}},
     "wrapped.json: text_config.num_attention_heads '0' is not an integer in [1, 65,536]"),
    ("mamba_state.json", {"model_type": "mamba", "hidden_size": 768, "num_hidden_layers": 24, "vocab_size": 50280,
                          "state_size": 0},
     "mamba_state.json: state_size '0' is not an integer in [1, 65,536]"),
    ("no_heads.json", {k: v for k, v in BASE_CONFIG.items() if k != "num_attention_heads"},
     "no_heads.json: config.json lacks 'num_attention_heads' (also tried n_head, n_heads, num_heads)"),
    ("array.json", [1, 2], "array.json: a config.json must be a JSON object, got list"),
    ("broken.json", '{"hidden_size": 4096,\n "x": }', "broken.json: malformed JSON at line 2: Expecting value"),
    ("latin1.json", '{"model_type": "ll\u00e9ma"}'.encode("latin-1"),
     "latin1.json: not UTF-8 (byte 0xe9 at offset 18)"),
]


@pytest.fixture(scope="module")
def cfg_dir(tmp_path_factory):
    folder = write_cases(tmp_path_factory.mktemp("configs"), CASES, json.dumps)
    (folder / "adir.json").mkdir()
    return folder


@pytest.mark.parametrize("name, content, message", CASES, ids=[c[0] for c in CASES])
def test_bad_config_is_one_line(genz, cfg_dir, monkeypatch, name, content, message):
    monkeypatch.chdir(cfg_dir)
    before = snapshot(cfg_dir)
    t0 = time.perf_counter()
    assert_error(genz("estimate", "-m", name, "-H", H), message)
    # num_hidden_layers: 1e9 used to build a billion layers (> 5 minutes): now refused before any loop
    assert time.perf_counter() - t0 < 5.0
    assert snapshot(cfg_dir) == before


def test_config_path_that_is_a_directory(genz, cfg_dir, monkeypatch):
    monkeypatch.chdir(cfg_dir)
    assert_error(genz("estimate", "-m", "adir.json", "-H", H),
                 "model: adir.json is not a regular file; give a config.json or a model YAML")


def test_the_valid_base_config_runs(genz, cfg_dir, monkeypatch):
    """The bad configs differ from a config that works by the one key each case names."""
    monkeypatch.chdir(cfg_dir)
    (cfg_dir / "good.json").write_text(json.dumps(BASE_CONFIG))
    try:
        res = genz("estimate", "-m", "good.json", "-H", H, "--json")
        assert res.rc == 0, res.err
        assert json.loads(res.out)["metrics"]["status"] == "ok"
    finally:
        (cfg_dir / "good.json").unlink()
