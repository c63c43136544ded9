"""Model zoo facts derived by hand from the published config.json values."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from genz import get_model
from genz.catalog.files import load_yaml
from genz.catalog.modelspec import from_hf_config
from genz.catalog.zoo import MODELS_DIR, model_ids
from genz.errors import GenzError

KiB = 1024


def test_llama2_7b_parameters_and_kv():
    m = get_model("meta-llama/Llama-2-7b-hf")
    # 32 layers × (4·4096² attention + 3·4096·11008 MLP + 2·4096 norms) + 2·32000·4096 + 4096
    expected = 32 * (4 * 4096**2 + 3 * 4096 * 11008 + 2 * 4096) + 2 * 32000 * 4096 + 4096
    assert m.params_total == expected
    assert m.params_total == pytest.approx(6.74e9, rel=1e-3)
    # 32 layers × K and V × 32 heads × 128 dims × 2 bytes = 512 KiB
    assert m.kv_bytes_per_token(2.0) == 512 * KiB


def test_llama3_70b_kv_bytes_per_token():
    m = get_model("meta-llama/Meta-Llama-3-70B")
    # 80 layers × 2 × 8 KV heads × 128 × 2 bytes = 320 KiB
    assert m.kv_bytes_per_token(2.0) == 320 * KiB


def test_deepseek_v3_mla_latent_cache():
    m = get_model("deepseek-ai/DeepSeek-V3")
    # MLA stores kv_lora_rank + qk_rope_head_dim = 512 + 64 elements per token per layer, 61 layers
    assert m.kv_bytes_per_token(1.0) == (512 + 64) * 61
    assert m.architecture == "mla-moe"
    assert m.params_total == pytest.approx(671e9, rel=0.01)
    assert m.params_active == pytest.approx(37e9, rel=0.03)


def test_mixtral_active_vs_total():
    m = get_model("mistralai/Mixtral-8x7B-v0.1")
    assert m.params_total == pytest.approx(46.7e9, rel=0.005)
    assert m.params_active == pytest.approx(12.9e9, rel=0.005)


@pytest.mark.parametrize(
    "name, total, active",
    [
        ("meta-llama/Llama-4-Maverick-17B-128E", 400e9, 17.2e9),
        ("meta-llama/Llama-4-Scout-17B-16E", 108e9, 17.2e9),
        ("Qwen/Qwen3-235B-A22B", 235e9, 22.2e9),
        ("ai21labs/AI21-Jamba-1.5-Large", 398e9, 94e9),
        ("ai21labs/AI21-Jamba-1.5-Mini", 52e9, 12e9),
        ("databricks/dbrx-base", 132e9, 36e9),
        ("xai-org/grok-1", 314e9, 84e9),
    ],
)
def test_moe_and_hybrid_sizes_match_model_cards(name, total, active):
    m = get_model(name)
    assert m.params_total == pytest.approx(total, rel=0.02)
    assert m.params_active == pytest.approx(active, rel=0.03)


def test_sliding_window_layers():
    gemma2 = get_model("google/gemma-2-9b")
    windows = [lc.mixer.window for lc in gemma2.layers for _ in range(lc.count)]
    assert windows.count(4096) == 21 and windows.count(None) == 21  # alternating local/global
    gemma3 = get_model("google/gemma-3-27b-pt")
    w3 = [lc.mixer.window for lc in gemma3.layers for _ in range(lc.count)]
    assert w3.count(None) == 62 // 6  # 5 local : 1 global
    mistral = get_model("mistralai/Mistral-7B-v0.1")
    assert {lc.mixer.window for lc in mistral.layers} == {4096}


def test_ssm_models_have_no_kv_cache():
    for name in ("state-spaces/mamba-2.8b-hf", "tiiuae/falcon-mamba-7b", "state-spaces/mamba2-2.7b"):
        m = get_model(name)
        assert m.kv_bytes_per_token() == 0
        assert m.ssm_state_elements() > 0
        assert m.architecture == "ssm"


def test_decilm_per_layer_kv_heads():
    m = get_model("Deci/DeciLM-7B")
    kv = sorted({lc.mixer.n_kv_heads for lc in m.layers})
    assert len(kv) > 1  # variable GQA


@pytest.mark.parametrize(
    "alias, canonical",
    [
        ("meta-llama/Llama-2-70b-chat-hf", "meta-llama/Llama-2-70b-hf"),
        ("META-LLAMA/LLAMA-2-7B-HF", "meta-llama/Llama-2-7b-hf"),
        ("meta-llama/Llama-3.3-70B-Instruct", "meta-llama/Llama-3.1-70B"),
        ("llama-2-7b", "meta-llama/Llama-2-7b-hf"),
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", "mistralai/Mixtral-8x7B-v0.1"),
    ],
)
def test_aliases_resolve_to_the_architecture(alias, canonical):
    assert get_model(alias).id == canonical


def test_unknown_model_is_one_line_with_suggestion():
    with pytest.raises(GenzError) as e:
        get_model("meta-llama/Llama-2-7b-hff-typo")
    msg = str(e.value)
    assert "\n" not in msg and "unknown model" in msg


def test_config_json_path(tiny_config_path):
    m = get_model(str(tiny_config_path))
    assert m.hidden == 64 and m.n_layers == 2


def test_every_zoo_file_loads_and_cites_a_source():
    ids = model_ids()
    assert len(ids) >= 70
    for i in ids:
        m = get_model(i)
        assert m.source, i
        assert m.params_total > 1e8, i


# --- golden file: every zoo model's spec, recorded before the parser became per-family adapters ---

GOLDEN = Path(__file__).with_name("zoo_specs.json")


def _fields(obj) -> dict:
    """A mixer's or FFN's fields that differ from the dataclass defaults, plus its type."""
    out = {"type": type(obj).__name__}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if v != f.default:
            out[f.name] = v
    return out


def spec_digest(m) -> dict:
    """The numbers a ModelSpec is judged by: sizes, KV bytes, flags and every layer class."""
    return {
        "model_type": m.model_type, "architecture": m.architecture, "hidden": m.hidden, "vocab": m.vocab,
        "n_layers": m.n_layers, "params_total": m.params_total, "params_active": m.params_active,
        "kv_bytes_per_token": m.kv_bytes_per_token(2.0), "ssm_state_elements": m.ssm_state_elements(),
        "tied_embeddings": m.tied_embeddings, "pos_embeddings": m.pos_embeddings, "max_context": m.max_context,
        "embed_proj": m.embed_proj, "lm_head_bias": m.lm_head_bias, "mtp_layers": m.mtp_layers,
        "layers": [[lc.count, lc.norms, None if lc.mixer is None else _fields(lc.mixer),
                    None if lc.ffn is None else _fields(lc.ffn)] for lc in m.layers],
    }


def zoo_digests() -> dict[str, dict]:
    """:func:`spec_digest` of every zoo file, parsed afresh (no cache)."""
    out = {}
    for path in sorted(MODELS_DIR.glob("*.yaml")):
        entry = load_yaml(path)
        out[str(entry["id"])] = spec_digest(from_hf_config(entry["config"], model_id=str(entry["id"])))
    return out


def write_golden(path: Path = GOLDEN) -> None:
    """Rewrite the golden file (only when a zoo model is added or a spec change is intended)."""
    d = zoo_digests()
    lines = [f"{json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in sorted(d.items())]
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")


def test_every_zoo_model_matches_the_golden_file():
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    got = json.loads(json.dumps(zoo_digests()))  # same JSON round trip as the file (tuples -> lists)
    assert sorted(got) == sorted(golden)
    for mid, want in golden.items():
        assert got[mid] == want, mid


def test_each_family_has_its_adapter():
    from genz.catalog.adapters import ADAPTERS, adapter_for

    for mt in ("llama", "mixtral", "qwen2_moe", "gemma2", "gemma3_text", "llama4_text", "deepseek_v3", "jamba",
               "mamba", "mamba2", "falcon", "gptj", "opt", "bloom", "gpt_neox", "deci", "dbrx"):
        assert mt in ADAPTERS, mt
    assert adapter_for("no-such-type").__name__ == "unknown_type"


def test_unknown_type_is_read_as_llama_like():
    cfg = {"model_type": "brand_new", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
           "num_attention_heads": 4, "vocab_size": 100}
    m = from_hf_config(cfg)
    assert m.model_type == "brand_new" and m.layers[0].ffn.gated and m.architecture == "mha"
    plain = from_hf_config({**cfg, "hidden_act": "gelu"})
    assert not plain.layers[0].ffn.gated
