"""Reading a Hugging Face ``config.json``: key lookup, multimodal unwrapping, the model type.

Configs name the same quantity differently across families (``hidden_size``/``n_embd``/``d_model``,
...) and list only the values that differ from their transformers config class's defaults, so the
adapters read them through :class:`HFConfig`: the language model's keys (a multimodal checkpoint's
``text_config`` merged with its wrapper), defaults filled in where the family's class has them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ...errors import GenzError
from ..modelspec import MAX_LAYERS


def first(cfg: dict, *keys: str, default: Any = None) -> Any:
    """The value of the first of ``keys`` that ``cfg`` sets (not None), else ``default``."""
    for k in keys:
        v = cfg.get(k)
        if v is not None:
            return v
    return default


def require(cfg: dict, where: str, *keys: str) -> int:
    """:func:`first` of ``keys`` as an int; :class:`GenzError` naming the key when none is set."""
    v = first(cfg, *keys)
    if v is None:
        raise GenzError(f"{where}: config.json lacks '{keys[0]}' (also tried {', '.join(keys[1:]) or '-'})")
    return int(v)


#: allowed range of every shape key a config may set (whole numbers), checked before any adapter
#: reads them (:meth:`HFConfig.check`). Ceilings are sanity bounds far beyond any published model
#: (the largest have ~130 layers, hidden 16,384, 256 experts): a typo such as ``1e9`` layers is an
#: error at once instead of a billion-layer build. ``0`` is allowed only where configs use it for
#: "off" (experts, sliding window, chunked attention, dense-layer offsets).
_HIDDEN, _LAYERS, _HEADS, _DIM, _FFN = (1, 1_048_576), (1, MAX_LAYERS), (1, 65_536), (1, 65_536), (1, 10_000_000)
SHAPE_RANGES: dict[str, tuple[int, int]] = {
    **dict.fromkeys(("hidden_size", "n_embd", "d_model", "n_embed", "word_embed_proj_dim"), _HIDDEN),
    **dict.fromkeys(("num_hidden_layers", "n_layer", "n_layers", "num_layers"), _LAYERS),
    **dict.fromkeys(("vocab_size", "padded_vocab_size"), (1, 10_000_000)),
    **dict.fromkeys(("num_attention_heads", "n_head", "n_heads", "num_heads", "num_key_value_heads", "num_kv_heads",
                     "n_head_kv", "kv_n_heads", "mamba_n_heads"), _HEADS),
    **dict.fromkeys(("head_dim", "v_head_dim", "qk_nope_head_dim", "qk_rope_head_dim", "mamba_d_head",
                     "mamba_head_dim", "headdim"), _DIM),
    **dict.fromkeys(("intermediate_size", "ffn_dim", "n_inner", "ffn_hidden_size", "moe_intermediate_size",
                     "shared_expert_intermediate_size", "intermediate_size_mlp"), _FFN),
    **dict.fromkeys(("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts", "n_shared_experts",
                     "num_shared_experts", "num_experts_per_tok", "moe_top_k", "experts_per_token"), (0, 65_536)),
    **dict.fromkeys(("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"), (1, 1_000_000_000)),
    **dict.fromkeys(("sliding_window", "attention_chunk_size"), (0, 1_000_000_000)),
    **dict.fromkeys(("kv_lora_rank", "q_lora_rank"), _HIDDEN),
    **dict.fromkeys(("moe_layer_freq", "decoder_sparse_step", "interleave_moe_layer_step", "expert_layer_period",
                     "attn_layer_period", "sliding_window_pattern"), _LAYERS),
    **dict.fromkeys(("first_k_dense_replace", "expert_layer_offset", "attn_layer_offset",
                     "num_nextn_predict_layers"), (0, MAX_LAYERS)),
    **dict.fromkeys(("state_size", "mamba_d_state", "ssm_state_size", "d_state", "n_groups", "mamba_n_groups",
                     "ngroups", "pad_vocab_size_multiple"), _HEADS),
    **dict.fromkeys(("conv_kernel", "mamba_d_conv", "d_conv", "expand", "mamba_expand"), (1, 1024)),
    **dict.fromkeys(("time_step_rank", "mamba_dt_rank"), _HIDDEN),  # or "auto"
}
#: nested sections whose keys are checked too (DBRX, the original Mamba-2 checkpoints)
SHAPE_SECTIONS = ("attn_config", "ffn_config", "ssm_cfg")
#: per-layer lists that must cover every layer
PER_LAYER_LISTS = ("num_key_value_heads_per_layer", "layers_block_type", "hybrid_override_pattern")


def _fmt_range(lo: int, hi: int) -> str:
    return f"[{lo:,}, {hi:,}]"


def whole(v: Any) -> int | None:
    """``v`` as an int when it is a whole finite number (``4096``, ``4096.0``, ``1e3``), else None
    (booleans, fractions, text, NaN and infinities are not shapes)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    if isinstance(v, float) and not (math.isfinite(v) and v.is_integer()):
        return None
    return int(v)


#: transformers' config-class defaults for keys that configs may omit (they list non-defaults only)
TYPE_DEFAULTS: dict[str, dict[str, Any]] = {
    # transformers Gemma3TextConfig
    "gemma3_text": {"vocab_size": 262208, "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
                    "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "sliding_window": 4096,
                    "sliding_window_pattern": 6, "max_position_embeddings": 131072, "tie_word_embeddings": True},
    # transformers Gemma2Config
    "gemma2": {"vocab_size": 256000, "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
               "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "sliding_window": 4096,
               "max_position_embeddings": 8192, "tie_word_embeddings": True},
    # transformers Llama4TextConfig
    "llama4_text": {"vocab_size": 202048, "hidden_size": 5120, "intermediate_size": 8192,
                    "intermediate_size_mlp": 16384, "num_hidden_layers": 48, "num_attention_heads": 40,
                    "num_key_value_heads": 8, "head_dim": 128, "num_experts_per_tok": 1, "num_local_experts": 16,
                    "interleave_moe_layer_step": 1, "attention_chunk_size": 8192,
                    "max_position_embeddings": 4096 * 32},
}


def unwrap(cfg: dict) -> dict:
    """Multimodal checkpoints keep the language model under ``text_config``/``llm_config``."""
    for key in ("text_config", "llm_config", "language_config"):
        sub = cfg.get(key)
        if isinstance(sub, dict) and first(sub, "hidden_size", "d_model") is not None:
            merged = dict(sub)
            merged.setdefault("tie_word_embeddings", cfg.get("tie_word_embeddings"))
            if "model_type" not in sub or not sub["model_type"]:
                merged["model_type"] = cfg.get("model_type", "")
            return with_defaults(merged)
        if isinstance(sub, dict) and sub.get("model_type") in TYPE_DEFAULTS:
            merged = dict(sub)
            if merged.get("tie_word_embeddings") is None and cfg.get("tie_word_embeddings") is not None:
                merged["tie_word_embeddings"] = cfg["tie_word_embeddings"]
            return with_defaults(merged)
    return with_defaults(cfg)


def with_defaults(cfg: dict) -> dict:
    """Fill keys a config omits with its transformers config class's defaults."""
    mt = str(cfg.get("model_type", "")).lower()
    defaults = TYPE_DEFAULTS.get(mt)
    if not defaults:
        return cfg
    out = dict(defaults)
    out.update({k: v for k, v in cfg.items() if v is not None or k not in defaults})
    return out


@dataclass(frozen=True)
class HFConfig:
    """A ``config.json`` as the adapters see it.

    ``cfg`` holds the language model's keys (unwrapped, defaults filled), ``raw`` the file as given,
    ``model_type`` the lower-case type ('' when the config names none and its architecture does
    not tell).
    """

    cfg: dict
    raw: dict
    model_type: str
    model_id: str
    origin: str = ""  # the file the config came from (error messages name it)

    @classmethod
    def read(cls, raw: dict, model_id: str, origin: str = "") -> HFConfig:
        """Unwrap ``raw``, find its model type (from ``architectures`` when ``model_type`` is absent)
        and check its shape keys (:meth:`check`)."""
        cfg = unwrap(raw)
        mt = str(first(cfg, "model_type", default="") or "").lower()
        arch = " ".join(first(raw, "architectures", default=[]) or [])
        if not mt and "Mamba" in arch:
            mt = "mamba"
        if not mt and "ssm_cfg" in cfg:
            mt = "mamba2"  # the original state-spaces checkpoints
        if not mt and "Grok" in arch:
            mt = "grok"
        out = cls(cfg=cfg, raw=raw, model_type=mt, model_id=model_id, origin=origin)
        out.check()
        return out

    @property
    def where(self) -> str:
        """How error messages name this config: its file, else its id and type."""
        return self.origin or f"{self.model_id} ({self.model_type or 'unknown model_type'})"

    def field(self, key: str, section: str = "") -> str:
        """A key as the user wrote it: ``text_config.hidden_size`` when it came from a multimodal
        wrapper's ``text_config``, ``ffn_config.moe_top_k`` inside a section."""
        if section:
            return f"{section}.{key}"
        if key not in self.raw:
            for wrap in ("text_config", "llm_config", "language_config"):
                sub = self.raw.get(wrap)
                if isinstance(sub, dict) and key in sub:
                    return f"{wrap}.{key}"
        return key

    def check(self) -> None:
        """Every shape key the config sets is a whole number in :data:`SHAPE_RANGES`, every per-layer
        list covers the layers, and the attention heads split evenly; else a one-line
        :class:`GenzError` naming the file, the key, the value and what is allowed.

        Runs before any adapter, so a typo never reaches a per-layer loop (``num_hidden_layers:
        1e9`` used to build a billion layers) nor a division (``num_attention_heads: 0``)."""
        sections = [("", self.cfg)] + [(s, self.cfg[s]) for s in SHAPE_SECTIONS if isinstance(self.cfg.get(s), dict)]
        for section, d in sections:
            for key, (lo, hi) in SHAPE_RANGES.items():
                v = d.get(key)
                if v is None or v is False or (key in ("time_step_rank", "mamba_dt_rank") and v == "auto"):
                    continue
                n = whole(v)
                if n is None or not lo <= n <= hi:
                    raise GenzError(f"{self.where}: {self.field(key, section)} '{v}' is not an integer in "
                                    f"{_fmt_range(lo, hi)}")
        layers = first(self.cfg, "num_hidden_layers", "n_layer", "n_layers", "num_layers")
        for key in PER_LAYER_LISTS:
            v = self.cfg.get(key)
            if isinstance(v, list | str) and layers is not None and len(v) < int(layers):
                raise GenzError(f"{self.where}: {self.field(key)} has {len(v)} entries for {int(layers)} layers; "
                                "give one per layer")
        per_layer = self.cfg.get("num_key_value_heads_per_layer")
        if isinstance(per_layer, list):
            for i, v in enumerate(per_layer):
                n = whole(v)
                if n is None or not _HEADS[0] <= n <= _HEADS[1]:
                    raise GenzError(f"{self.where}: {self.field('num_key_value_heads_per_layer')}[{i}] '{v}' is "
                                    f"not an integer in {_fmt_range(*_HEADS)}")
        hidden = first(self.cfg, "hidden_size", "n_embd", "d_model", "n_embed")
        heads = first(self.cfg, "num_attention_heads", "n_head", "n_heads", "num_heads")
        ssm = self.model_type in ("mamba", "mamba2", "falcon_mamba")  # num_heads: SSM heads, not attention
        if hidden and heads and not ssm and self.cfg.get("head_dim") is None and not self.cfg.get("kv_lora_rank") \
                and int(hidden) % int(heads):
            raise GenzError(f"{self.where}: hidden_size {int(hidden)} is not a multiple of num_attention_heads "
                            f"{int(heads)}; give head_dim when the heads do not split the hidden size evenly")

    def __contains__(self, key: str) -> bool:
        return key in self.cfg

    def get(self, key: str, default: Any = None) -> Any:
        return self.cfg.get(key, default)

    def first(self, *keys: str, default: Any = None) -> Any:
        """:func:`first` over this config's keys."""
        return first(self.cfg, *keys, default=default)

    def num(self, *keys: str) -> int:
        """The first of ``keys`` that is set, as an int; 0 when none is (or it is 0/empty)."""
        return int(first(self.cfg, *keys, default=0) or 0)

    def require(self, *keys: str) -> int:
        """:func:`require` over this config's keys."""
        return require(self.cfg, self.where, *keys)

    def section(self, key: str) -> dict:
        """A nested dict (DBRX ``attn_config``/``ffn_config``); empty when absent."""
        sub = self.cfg.get(key)
        return sub if isinstance(sub, dict) else {}
