"""Reading a Hugging Face ``config.json``: key lookup, multimodal unwrapping, the model type.

Configs name the same quantity differently across families (``hidden_size``/``n_embd``/``d_model``,
...) and list only the values that differ from their transformers config class's defaults, so the
adapters read them through :class:`HFConfig`: the language model's keys (a multimodal checkpoint's
``text_config`` merged with its wrapper), defaults filled in where the family's class has them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import GenzError


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

    @classmethod
    def read(cls, raw: dict, model_id: str) -> HFConfig:
        """Unwrap ``raw`` and find its model type (from ``architectures`` when ``model_type`` is absent)."""
        cfg = unwrap(raw)
        mt = str(first(cfg, "model_type", default="") or "").lower()
        arch = " ".join(first(raw, "architectures", default=[]) or [])
        if not mt and "Mamba" in arch:
            mt = "mamba"
        if not mt and "ssm_cfg" in cfg:
            mt = "mamba2"  # the original state-spaces checkpoints
        if not mt and "Grok" in arch:
            mt = "grok"
        return cls(cfg=cfg, raw=raw, model_type=mt, model_id=model_id)

    @property
    def where(self) -> str:
        """How error messages name this config."""
        return f"{self.model_id} ({self.model_type or 'unknown model_type'})"

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
