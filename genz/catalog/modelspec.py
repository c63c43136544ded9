"""Model architecture specs and the Hugging Face ``config.json`` parser.

A model is a stack of decoder layers. Layers that are identical in cost are grouped into
:class:`LayerClass` entries with a count, so a hybrid like Jamba (attention/Mamba × dense/MoE)
or Gemma-2 (alternating local/global attention) is a handful of classes, and the engine's cost
of a model is a sum over classes of ``count × per-layer cost``.

Each layer has a token mixer (:class:`Attention` for MHA/GQA/MQA/sliding-window/MLA, or
:class:`Mamba` for Mamba-1/2 SSM layers) and a feed-forward block (:class:`FFN`, dense or MoE).

:func:`from_hf_config` turns a ``config.json`` dict into a :class:`ModelSpec`; the model zoo
files in ``genz/data/models`` are such configs plus their citation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import GenzError


@dataclass(frozen=True)
class Attention:
    """Attention mixer of one layer.

    ``kind='mha'`` covers MHA, GQA and MQA (``n_kv_heads`` = ``n_heads``, fewer, or 1).
    ``kind='mla'`` is DeepSeek's multi-head latent attention: the KV cache holds one latent
    vector of ``kv_lora_rank + qk_rope_head_dim`` elements per token per layer, shared by all
    heads.
    ``window`` caps how many past tokens a query attends to (sliding-window or chunked-local
    attention); ``None`` means global attention. It caps both the KV read and the KV memory.
    """

    kind: str = "mha"
    n_heads: int = 0
    n_kv_heads: int = 0
    head_dim: int = 0  # query/key head dim (nope+rope for MLA)
    v_head_dim: int = 0
    window: int | None = None
    qkv_bias: bool = False
    o_bias: bool = False
    # MLA only
    q_lora_rank: int | None = None
    kv_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    qk_nope_head_dim: int = 0

    def kv_elements_per_token(self) -> int:
        """KV-cache elements stored per token for this layer (whole model width, before TP)."""
        if self.kind == "mla":
            return self.kv_lora_rank + self.qk_rope_head_dim
        return self.n_kv_heads * (self.head_dim + self.v_head_dim)

    def weight_params(self, hidden: int) -> int:
        """Parameters of the attention projections (biases included)."""
        h = hidden
        if self.kind == "mla":
            hd = self.qk_nope_head_dim + self.qk_rope_head_dim
            if self.q_lora_rank:
                q = h * self.q_lora_rank + self.q_lora_rank + self.q_lora_rank * self.n_heads * hd
            else:
                q = h * self.n_heads * hd
            kv_a = h * (self.kv_lora_rank + self.qk_rope_head_dim) + self.kv_lora_rank
            kv_b = self.kv_lora_rank * self.n_heads * (self.qk_nope_head_dim + self.v_head_dim)
            o = self.n_heads * self.v_head_dim * h
            return q + kv_a + kv_b + o
        q = h * self.n_heads * self.head_dim
        kv = h * self.n_kv_heads * (self.head_dim + self.v_head_dim)
        o = self.n_heads * self.v_head_dim * h
        bias = 0
        if self.qkv_bias:
            bias += self.n_heads * self.head_dim + self.n_kv_heads * (self.head_dim + self.v_head_dim)
        if self.o_bias:
            bias += h
        return q + kv + o + bias


@dataclass(frozen=True)
class Mamba:
    """Selective state-space mixer (Mamba-1 when ``version=1``, Mamba-2/SSD when ``2``).

    The recurrent state replaces the KV cache: ``d_inner × d_state`` elements per sequence per
    layer (plus the short convolution's ``(d_conv-1) × conv_dim`` window), independent of context.
    """

    version: int = 1
    d_inner: int = 0
    d_state: int = 16
    d_conv: int = 4
    dt_rank: int = 0  # Mamba-1
    n_groups: int = 1  # Mamba-2
    n_heads: int = 0  # Mamba-2
    bias: bool = False
    conv_bias: bool = True

    @property
    def conv_dim(self) -> int:
        """Channels of the causal 1-D convolution."""
        if self.version == 2:
            return self.d_inner + 2 * self.n_groups * self.d_state
        return self.d_inner

    @property
    def in_proj_out(self) -> int:
        """Output width of the input projection."""
        if self.version == 2:
            return 2 * self.d_inner + 2 * self.n_groups * self.d_state + self.n_heads
        return 2 * self.d_inner

    def state_elements(self) -> int:
        """Recurrent state elements per sequence for this layer (SSM state + conv window)."""
        return self.d_inner * self.d_state + (self.d_conv - 1) * self.conv_dim

    def weight_params(self, hidden: int) -> int:
        """Parameters of the Mamba mixer."""
        p = hidden * self.in_proj_out + self.conv_dim * self.d_conv + self.d_inner * hidden
        if self.conv_bias:
            p += self.conv_dim
        if self.version == 1:
            # x_proj (dt, B, C), dt_proj (+bias), A_log, D
            p += self.d_inner * (self.dt_rank + 2 * self.d_state)
            p += self.dt_rank * self.d_inner + self.d_inner
            p += self.d_inner * self.d_state + self.d_inner
        else:
            # A_log, D, dt_bias per head; gated RMSNorm over d_inner
            p += 3 * self.n_heads + self.d_inner
        return p


@dataclass(frozen=True)
class FFN:
    """Feed-forward block: dense MLP (``n_experts == 0``) or mixture of experts.

    ``d_ff`` is the intermediate size of the dense MLP or of one routed expert. A gated MLP
    (SwiGLU/GeGLU) has three matrices (gate, up, down), a plain one two (up, down).
    Shared experts are always active; ``d_shared`` is their total intermediate size.
    """

    d_ff: int = 0
    gated: bool = True
    bias: bool = False
    n_experts: int = 0
    top_k: int = 0
    d_shared: int = 0
    shared_gate: bool = False  # Qwen2-MoE: sigmoid gate (hidden→1) on the shared expert

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 0

    @property
    def mats(self) -> int:
        """Weight matrices per MLP (3 gated, 2 plain)."""
        return 3 if self.gated else 2

    def expert_params(self, hidden: int) -> int:
        """Parameters of one routed expert (or of the dense MLP)."""
        p = self.mats * hidden * self.d_ff
        if self.bias:
            p += (self.mats - 1) * self.d_ff + hidden
        return p

    def shared_params(self, hidden: int) -> int:
        """Parameters of the shared expert(s) and their gate."""
        if not self.d_shared:
            return 0
        return self.mats * hidden * self.d_shared + (hidden if self.shared_gate else 0)

    def weight_params(self, hidden: int) -> int:
        """All parameters of the block (all experts)."""
        if not self.is_moe:
            return self.expert_params(hidden)
        router = hidden * self.n_experts
        return self.n_experts * self.expert_params(hidden) + self.shared_params(hidden) + router

    def active_params(self, hidden: int) -> int:
        """Parameters one token uses (top-k experts + shared + router)."""
        if not self.is_moe:
            return self.expert_params(hidden)
        router = hidden * self.n_experts
        return self.top_k * self.expert_params(hidden) + self.shared_params(hidden) + router


@dataclass(frozen=True)
class LayerClass:
    """``count`` identical decoder layers."""

    count: int
    mixer: Attention | Mamba | None
    ffn: FFN | None
    norms: int = 2  # normalization layers per decoder layer (Gemma-2/3 have 4)

    def weight_params(self, hidden: int) -> int:
        """Parameters of one layer of this class."""
        p = self.norms * hidden
        if self.mixer is not None:
            p += self.mixer.weight_params(hidden)
        if self.ffn is not None:
            p += self.ffn.weight_params(hidden)
        return p

    def active_params(self, hidden: int) -> int:
        """Parameters one token touches in one layer of this class."""
        p = self.norms * hidden
        if self.mixer is not None:
            p += self.mixer.weight_params(hidden)
        if self.ffn is not None:
            p += self.ffn.active_params(hidden)
        return p


@dataclass(frozen=True)
class ModelSpec:
    """A model architecture, as the engine needs it.

    Counts are parameters (not bytes); :meth:`kv_bytes_per_token` gives the KV-cache size.
    """

    id: str
    model_type: str
    hidden: int
    vocab: int
    layers: tuple[LayerClass, ...]
    tied_embeddings: bool = False
    pos_embeddings: int = 0  # learned absolute position table rows (OPT, GPT-2); 0 for RoPE/ALiBi
    max_context: int = 0
    embed_proj: int = 0  # OPT-350m style projection width (0 = none)
    lm_head_bias: bool = False
    aliases: tuple[str, ...] = ()
    source: str = ""
    notes: str = ""
    mtp_layers: int = 0  # DeepSeek-V3 multi-token-prediction modules (usable as a draft)
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def n_layers(self) -> int:
        return sum(lc.count for lc in self.layers)

    @property
    def architecture(self) -> str:
        """A short family label: dense, moe, mla-moe, ssm, hybrid, ..."""
        has_attn = any(isinstance(lc.mixer, Attention) for lc in self.layers)
        has_ssm = any(isinstance(lc.mixer, Mamba) for lc in self.layers)
        has_moe = any(lc.ffn is not None and lc.ffn.is_moe for lc in self.layers)
        has_mla = any(isinstance(lc.mixer, Attention) and lc.mixer.kind == "mla" for lc in self.layers)
        if has_ssm and has_attn:
            base = "hybrid"
        elif has_ssm:
            base = "ssm"
        elif has_mla:
            base = "mla"
        else:
            attns = [lc.mixer for lc in self.layers if isinstance(lc.mixer, Attention)]
            kv = {a.n_kv_heads for a in attns}
            heads = {a.n_heads for a in attns}
            if kv == {1}:
                base = "mqa"
            elif kv and max(kv) < max(heads):
                base = "gqa"
            else:
                base = "mha"
            if any(a.window for a in attns):
                base += "+swa"
        return base + ("-moe" if has_moe else "")

    def embedding_params(self) -> int:
        """Token embedding (+ learned positions, + projection) parameters."""
        p = self.vocab * self.hidden
        p += self.pos_embeddings * self.hidden
        if self.embed_proj:
            p += 2 * self.embed_proj * self.hidden
        return p

    def lm_head_params(self) -> int:
        """LM-head parameters (0 extra when tied to the embedding)."""
        if self.tied_embeddings:
            return 0
        return self.vocab * self.hidden + (self.vocab if self.lm_head_bias else 0)

    @property
    def params_total(self) -> int:
        """All parameters (embeddings and LM head included; MTP modules excluded)."""
        body = sum(lc.count * lc.weight_params(self.hidden) for lc in self.layers)
        return body + self.embedding_params() + self.lm_head_params() + self.hidden  # final norm

    @property
    def params_active(self) -> int:
        """Parameters used per token (MoE: top-k + shared experts; embeddings counted)."""
        body = sum(lc.count * lc.active_params(self.hidden) for lc in self.layers)
        return body + self.embedding_params() + self.lm_head_params() + self.hidden

    def kv_bytes_per_token(self, bytes_per_element: float = 2.0) -> float:
        """KV-cache bytes per token of context, all layers, no window cap (0 for pure SSM)."""
        elems = sum(
            lc.count * lc.mixer.kv_elements_per_token()
            for lc in self.layers
            if isinstance(lc.mixer, Attention)
        )
        return elems * bytes_per_element

    def ssm_state_elements(self) -> int:
        """Recurrent-state elements per sequence, all SSM layers."""
        return sum(
            lc.count * lc.mixer.state_elements() for lc in self.layers if isinstance(lc.mixer, Mamba)
        )

    def attention_heads(self) -> int:
        """Query heads of the attention layers (TP must divide it); 0 if none."""
        heads = {lc.mixer.n_heads for lc in self.layers if isinstance(lc.mixer, Attention)}
        return max(heads) if heads else 0

    def with_layers(self, n_layers: int) -> ModelSpec:
        """A copy scaled to ``n_layers`` decoder layers (single-class models only; for tests)."""
        if len(self.layers) != 1:
            raise GenzError("with_layers: only models with one layer class can be rescaled")
        return replace(self, layers=(replace(self.layers[0], count=n_layers),))


# --------------------------------------------------------------------------------------------
# Hugging Face config.json parser
# --------------------------------------------------------------------------------------------

#: model types whose MLP is gated (SwiGLU / GeGLU: gate, up, down)
_GATED = {
    "llama", "mistral", "mixtral", "qwen", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma",
    "gemma2", "gemma3", "gemma3_text", "phi3", "deepseek_v2", "deepseek_v3", "dbrx", "grok-1",
    "grok", "jamba", "llama4", "llama4_text", "deci", "aquila", "internlm", "internlm2",
    "granite", "olmo", "olmo2", "cohere", "yi", "baichuan", "exaone", "gpt_oss", "minicpm",
    "stablelm", "bamba", "nemotron_h", "phimoe", "arctic", "qwen2_vl", "mistral3", "ernie4_5",
    "ernie4_5_moe", "glm", "glm4", "glm4_moe", "hunyuan", "seed_oss", "smollm3",
}
#: model types whose MLP is plain (up, act, down)
_PLAIN = {"gpt_j", "gptj", "bloom", "opt", "falcon", "gpt_neox", "gpt2", "starcoder2", "gpt_bigcode",
          "mpt", "phi", "codegen", "RefinedWeb", "RefinedWebModel", "nemotron"}
#: model types whose config default ties the LM head to the embedding
_TIED_DEFAULT = {"gemma", "gemma2", "gemma3", "gemma3_text", "opt", "bloom", "falcon", "mamba",
                 "mamba2", "falcon_mamba", "gpt2", "gpt_bigcode", "starcoder2", "mpt", "RefinedWeb",
                 "RefinedWebModel"}

SUPPORTED_MODEL_TYPES = sorted(_GATED | _PLAIN | {"mamba", "mamba2", "falcon_mamba"})


def _first(cfg: dict, *keys: str, default: Any = None) -> Any:
    for k in keys:
        v = cfg.get(k)
        if v is not None:
            return v
    return default


def _req(cfg: dict, where: str, *keys: str) -> int:
    v = _first(cfg, *keys)
    if v is None:
        raise GenzError(f"{where}: config.json lacks '{keys[0]}' (also tried {', '.join(keys[1:]) or '-'})")
    return int(v)


def _group(per_layer: list[LayerClass]) -> tuple[LayerClass, ...]:
    """Merge identical consecutive-or-not layers into classes with counts (order of first use)."""
    out: list[LayerClass] = []
    for lc in per_layer:
        for i, o in enumerate(out):
            if o.mixer == lc.mixer and o.ffn == lc.ffn and o.norms == lc.norms:
                out[i] = replace(o, count=o.count + lc.count)
                break
        else:
            out.append(lc)
    return tuple(out)


#: transformers' config-class defaults for keys that configs may omit (they list non-defaults only)
_TYPE_DEFAULTS: dict[str, dict[str, Any]] = {
    # transformers Gemma3TextConfig
    "gemma3_text": dict(vocab_size=262208, hidden_size=2304, intermediate_size=9216, num_hidden_layers=26,
                        num_attention_heads=8, num_key_value_heads=4, head_dim=256, sliding_window=4096,
                        sliding_window_pattern=6, max_position_embeddings=131072, tie_word_embeddings=True),
    # transformers Gemma2Config
    "gemma2": dict(vocab_size=256000, hidden_size=2304, intermediate_size=9216, num_hidden_layers=26,
                   num_attention_heads=8, num_key_value_heads=4, head_dim=256, sliding_window=4096,
                   max_position_embeddings=8192, tie_word_embeddings=True),
    # transformers Llama4TextConfig
    "llama4_text": dict(vocab_size=202048, hidden_size=5120, intermediate_size=8192, intermediate_size_mlp=16384,
                        num_hidden_layers=48, num_attention_heads=40, num_key_value_heads=8, head_dim=128,
                        num_experts_per_tok=1, num_local_experts=16, interleave_moe_layer_step=1,
                        attention_chunk_size=8192, max_position_embeddings=4096 * 32),
}


def _unwrap(cfg: dict) -> dict:
    """Multimodal checkpoints keep the language model under ``text_config``/``llm_config``."""
    for key in ("text_config", "llm_config", "language_config"):
        sub = cfg.get(key)
        if isinstance(sub, dict) and _first(sub, "hidden_size", "d_model") is not None:
            merged = dict(sub)
            merged.setdefault("tie_word_embeddings", cfg.get("tie_word_embeddings"))
            if "model_type" not in sub or not sub["model_type"]:
                merged["model_type"] = cfg.get("model_type", "")
            return _with_defaults(merged)
        if isinstance(sub, dict) and sub.get("model_type") in _TYPE_DEFAULTS:
            merged = dict(sub)
            if merged.get("tie_word_embeddings") is None and cfg.get("tie_word_embeddings") is not None:
                merged["tie_word_embeddings"] = cfg["tie_word_embeddings"]
            return _with_defaults(merged)
    return _with_defaults(cfg)


def _with_defaults(cfg: dict) -> dict:
    """Fill keys a config omits with its transformers config class's defaults."""
    mt = str(cfg.get("model_type", "")).lower()
    defaults = _TYPE_DEFAULTS.get(mt)
    if not defaults:
        return cfg
    out = dict(defaults)
    out.update({k: v for k, v in cfg.items() if v is not None or k not in defaults})
    return out


def from_hf_config(cfg: dict, model_id: str = "custom", **meta: Any) -> ModelSpec:
    """Build a :class:`ModelSpec` from a Hugging Face ``config.json`` dictionary.

    Understands llama, mistral, mixtral, qwen2/2-moe/3/3-moe, gemma/2/3, phi3, deepseek_v2/v3,
    llama4, dbrx, grok, deci, mamba, mamba2, falcon_mamba, jamba, falcon, gpt_j, gpt_neox,
    bloom, opt, starcoder2, gpt_oss and llama-like configs of other types. An unknown
    ``model_type`` is read as a llama-like decoder when it has the usual keys.
    """
    if not isinstance(cfg, dict):
        raise GenzError(f"{model_id}: config must be a mapping, got {type(cfg).__name__}")
    raw = cfg
    cfg = _unwrap(cfg)
    mt = str(_first(cfg, "model_type", default="") or "").lower()
    arch = " ".join(_first(raw, "architectures", default=[]) or [])
    if not mt and "Mamba" in arch:
        mt = "mamba"
    if not mt and "ssm_cfg" in cfg:
        mt = "mamba2"
    if not mt and "Grok" in arch:
        mt = "grok"
    where = f"{model_id} ({mt or 'unknown model_type'})"

    if mt in ("mamba", "falcon_mamba", "mamba2"):
        return _parse_mamba(cfg, mt, model_id, where, meta)

    hidden = _req(cfg, where, "hidden_size", "n_embd", "d_model", "n_embed")
    n_layers = _req(cfg, where, "num_hidden_layers", "n_layer", "n_layers", "num_layers")
    vocab = _req(cfg, where, "vocab_size", "padded_vocab_size")
    attn_cfg = cfg.get("attn_config") if isinstance(cfg.get("attn_config"), dict) else {}
    ffn_cfg = cfg.get("ffn_config") if isinstance(cfg.get("ffn_config"), dict) else {}
    heads = _req(cfg, where, "num_attention_heads", "n_head", "n_heads", "num_heads")
    if cfg.get("multi_query") and not cfg.get("new_decoder_architecture"):
        kv = 1
    else:
        kv = int(_first(cfg, "num_key_value_heads", "num_kv_heads", "n_head_kv", default=0) or 0)
        kv = kv or int(attn_cfg.get("kv_n_heads", 0) or 0) or heads
    head_dim = int(_first(cfg, "head_dim", default=0) or 0) or hidden // heads

    gated = mt in _GATED or (mt not in _PLAIN and str(cfg.get("hidden_act", "silu")).lower()
                             in ("silu", "swish", "swiglu", "geglu"))
    if mt == "falcon" or mt.startswith("refinedweb"):
        gated = False
    bias_all = mt in ("bloom", "opt", "gpt_neox", "starcoder2", "gpt2", "gpt_bigcode", "phi")
    qkv_bias = bool(_first(cfg, "attention_bias", "qkv_bias", "use_qkv_bias", default=False)) or bias_all
    if mt in ("qwen2", "qwen2_moe", "qwen") and "attention_bias" not in cfg:
        qkv_bias = True  # Qwen2 has bias on q/k/v (not on o_proj)
    if mt == "falcon":
        qkv_bias = bool(cfg.get("bias", False))
    o_bias = bias_all or (bool(cfg.get("attention_bias")) and mt not in ("qwen2", "qwen2_moe"))
    mlp_bias = bool(_first(cfg, "mlp_bias", default=False)) or bias_all or mt in ("gpt_j", "gptj")
    if mt == "falcon":
        mlp_bias = bool(cfg.get("bias", False))

    d_ff = int(_first(cfg, "intermediate_size", "ffn_dim", "n_inner", "ffn_hidden_size",
                      default=0) or 0) or int(ffn_cfg.get("ffn_hidden_size", 0) or 0) or 4 * hidden
    if mt == "falcon" and "ffn_hidden_size" not in cfg:
        d_ff = 4 * hidden
    norms = 4 if mt in ("gemma2", "gemma3", "gemma3_text") else 2
    if mt == "falcon" and (cfg.get("parallel_attn", True) and not cfg.get("new_decoder_architecture")):
        norms = 1
    if mt in ("gpt_j", "gptj", "phi"):
        norms = 1  # parallel attention+MLP share one LayerNorm

    # --- attention per layer -----------------------------------------------------------------
    window_all = _first(cfg, "sliding_window", default=None)
    if cfg.get("use_sliding_window") is False:
        window_all = None
    layer_types = cfg.get("layer_types")
    kv_per_layer = cfg.get("num_key_value_heads_per_layer")

    mla = mt in ("deepseek_v2", "deepseek_v3", "kimi_k2") or cfg.get("kv_lora_rank")

    def attention_for(i: int) -> Attention:
        if mla:
            nope = int(cfg.get("qk_nope_head_dim", 128))
            rope = int(cfg.get("qk_rope_head_dim", 64))
            return Attention(
                kind="mla", n_heads=heads, n_kv_heads=heads, head_dim=nope + rope,
                v_head_dim=int(cfg.get("v_head_dim", nope)), q_lora_rank=cfg.get("q_lora_rank"),
                kv_lora_rank=int(cfg["kv_lora_rank"]), qk_rope_head_dim=rope, qk_nope_head_dim=nope,
            )
        nkv = int(kv_per_layer[i]) if isinstance(kv_per_layer, list) else kv
        window = None
        if isinstance(layer_types, list) and i < len(layer_types):
            if "sliding" in str(layer_types[i]) or "local" in str(layer_types[i]):
                window = int(window_all) if window_all else None
        elif mt == "gemma2":
            window = int(window_all) if window_all and i % 2 == 0 else None
        elif mt in ("gemma3", "gemma3_text"):
            pattern = int(cfg.get("sliding_window_pattern", 6) or 6)
            window = int(window_all) if window_all and (i + 1) % pattern != 0 else None
        elif mt in ("llama4", "llama4_text"):
            chunk = cfg.get("attention_chunk_size")
            nope = cfg.get("no_rope_layers")
            # RoPE layers use chunked-local attention (modelled as a window of chunk size);
            # NoPE layers (no_rope_layers[i] == 0, every 4th) attend globally.
            uses_rope = (nope[i] if isinstance(nope, list) and i < len(nope) else (i + 1) % 4 != 0)
            window = int(chunk) if chunk and uses_rope else None
        elif window_all and not isinstance(window_all, list):
            window = int(window_all)
        return Attention(
            kind="mha", n_heads=heads, n_kv_heads=nkv, head_dim=head_dim, v_head_dim=head_dim,
            window=window, qkv_bias=qkv_bias, o_bias=o_bias,
        )

    # --- FFN per layer -------------------------------------------------------------------------
    n_exp = int(_first(cfg, "num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts",
                       default=0) or 0) or int(ffn_cfg.get("moe_num_experts", 0) or 0)
    top_k = int(_first(cfg, "num_experts_per_tok", "moe_top_k", "experts_per_token", default=0) or 0) \
        or int(ffn_cfg.get("moe_top_k", 0) or 0)
    d_exp = int(_first(cfg, "moe_intermediate_size", default=0) or 0) or d_ff
    d_dense = d_ff
    if mt in ("llama4", "llama4_text"):
        d_exp = int(cfg.get("intermediate_size", d_ff))
        d_dense = int(cfg.get("intermediate_size_mlp", d_ff))
    n_shared = int(_first(cfg, "n_shared_experts", "num_shared_experts", default=0) or 0)
    d_shared = int(_first(cfg, "shared_expert_intermediate_size", default=0) or 0)
    shared_gate = bool(d_shared) and mt in ("qwen2_moe",)
    if n_shared and not d_shared:
        d_shared = n_shared * d_exp
    if mt in ("llama4", "llama4_text") and n_exp:
        d_shared = d_exp  # one shared expert of the routed expert's size
    first_dense = int(_first(cfg, "first_k_dense_replace", default=0) or 0)
    moe_freq = int(_first(cfg, "moe_layer_freq", "decoder_sparse_step", "interleave_moe_layer_step",
                          default=1) or 1)
    mlp_only = set(cfg.get("mlp_only_layers") or [])
    moe_layers_list = cfg.get("moe_layers")
    expert_period = cfg.get("expert_layer_period")
    expert_offset = int(cfg.get("expert_layer_offset", 0) or 0)

    def is_moe_layer(i: int) -> bool:
        if not n_exp or not top_k:
            return False
        if isinstance(moe_layers_list, list):
            return i in moe_layers_list
        if expert_period:
            return i % int(expert_period) == expert_offset
        if i < first_dense or i in mlp_only:
            return False
        if mt in ("llama4", "llama4_text"):
            return (i + 1) % moe_freq == 0
        # Qwen-MoE: sparse when (i+1) % decoder_sparse_step == 0; DeepSeek: i % moe_layer_freq == 0
        return (i + 1) % moe_freq == 0 if mt in ("qwen2_moe", "qwen3_moe") else i % moe_freq == 0

    dense_ffn = FFN(d_ff=d_dense, gated=gated, bias=mlp_bias)
    moe_ffn = FFN(d_ff=d_exp, gated=gated, bias=False, n_experts=n_exp, top_k=top_k,
                  d_shared=d_shared, shared_gate=shared_gate) if n_exp else None

    # --- hybrids: which layers are attention vs Mamba -----------------------------------------
    mamba_for: Mamba | None = None
    attn_period = cfg.get("attn_layer_period")
    hybrid_pattern = cfg.get("layers_block_type") or cfg.get("hybrid_override_pattern")
    if mt in ("jamba", "bamba", "nemotron_h") or attn_period or hybrid_pattern:
        mamba_for = _mamba_from_hybrid(cfg, hidden)

    def is_attention_layer(i: int) -> bool:
        if mamba_for is None:
            return True
        if isinstance(hybrid_pattern, list):
            return "attention" in str(hybrid_pattern[i])
        if isinstance(hybrid_pattern, str):
            return hybrid_pattern[i] == "*"
        if attn_period:
            return i % int(attn_period) == int(cfg.get("attn_layer_offset", 0) or 0)
        attn_ids = cfg.get("attn_layer_indices") or []
        return i in attn_ids

    per_layer: list[LayerClass] = []
    for i in range(n_layers):
        mixer: Attention | Mamba = attention_for(i) if is_attention_layer(i) else mamba_for  # type: ignore[assignment]
        ffn = moe_ffn if is_moe_layer(i) else dense_ffn
        if isinstance(hybrid_pattern, str) and hybrid_pattern[i] in ("M", "-"):
            ffn = None if hybrid_pattern[i] == "M" else ffn  # nemotron-h: M = mamba-only block
        per_layer.append(LayerClass(count=1, mixer=mixer, ffn=ffn, norms=norms))

    tied_default = mt in _TIED_DEFAULT
    tied = cfg.get("tie_word_embeddings")
    if tied is None:
        tied = raw.get("tie_word_embeddings", tied_default)
    if tied is None:
        tied = tied_default
    pos = 0
    if mt == "opt":
        pos = int(cfg.get("max_position_embeddings", 2048)) + 2
    elif mt in ("gpt2", "gpt_bigcode"):
        pos = int(_first(cfg, "n_positions", "max_position_embeddings", default=1024))
    embed_proj = 0
    if mt == "opt" and int(cfg.get("word_embed_proj_dim", hidden)) != hidden:
        embed_proj = int(cfg["word_embed_proj_dim"])
    max_ctx = int(_first(cfg, "max_position_embeddings", "n_positions", "max_seq_len", "seq_length",
                         default=0) or 0)
    return ModelSpec(
        id=model_id, model_type=mt or "unknown", hidden=hidden, vocab=vocab, layers=_group(per_layer),
        tied_embeddings=bool(tied), pos_embeddings=pos, max_context=max_ctx, embed_proj=embed_proj,
        lm_head_bias=mt in ("gpt_j", "gptj"),
        mtp_layers=int(cfg.get("num_nextn_predict_layers", 0) or 0), **meta,
    )


def _mamba_from_hybrid(cfg: dict, hidden: int) -> Mamba:
    """Mamba mixer of a hybrid (Jamba uses mamba_* keys, Bamba/Nemotron-H mamba2 keys)."""
    expand = int(_first(cfg, "mamba_expand", default=2))
    if cfg.get("mamba_n_heads") or cfg.get("mamba_d_head"):
        d_head = int(_first(cfg, "mamba_d_head", "mamba_head_dim", default=64))
        n_heads = int(_first(cfg, "mamba_n_heads", default=expand * hidden // d_head))
        return Mamba(version=2, d_inner=n_heads * d_head, d_state=int(_first(cfg, "mamba_d_state", "ssm_state_size", default=128)),
                     d_conv=int(_first(cfg, "mamba_d_conv", "conv_kernel", default=4)),
                     n_groups=int(_first(cfg, "mamba_n_groups", "n_groups", default=1)), n_heads=n_heads,
                     bias=bool(cfg.get("mamba_proj_bias", False)), conv_bias=bool(cfg.get("mamba_conv_bias", True)))
    d_inner = expand * hidden
    dt_rank = cfg.get("mamba_dt_rank", "auto")
    dt_rank = math.ceil(hidden / 16) if dt_rank in (None, "auto") else int(dt_rank)
    return Mamba(version=1, d_inner=d_inner, d_state=int(cfg.get("mamba_d_state", 16)),
                 d_conv=int(cfg.get("mamba_d_conv", 4)), dt_rank=dt_rank,
                 bias=bool(cfg.get("mamba_proj_bias", False)), conv_bias=bool(cfg.get("mamba_conv_bias", True)))


def _parse_mamba(cfg: dict, mt: str, model_id: str, where: str, meta: dict) -> ModelSpec:
    """Pure SSM models: Mamba (HF ``mamba``/``falcon_mamba``) and Mamba-2 (HF or original keys)."""
    hidden = _req(cfg, where, "hidden_size", "d_model")
    n_layers = _req(cfg, where, "num_hidden_layers", "n_layer")
    vocab = _req(cfg, where, "vocab_size")
    ssm_cfg = cfg.get("ssm_cfg") or {}
    if mt == "mamba2" or ssm_cfg.get("layer") == "Mamba2":
        expand = int(_first(cfg, "expand", default=ssm_cfg.get("expand", 2)))
        d_head = int(_first(cfg, "head_dim", default=ssm_cfg.get("headdim", 64)))
        d_inner = expand * hidden
        n_heads = int(_first(cfg, "num_heads", default=d_inner // d_head))
        mixer = Mamba(version=2, d_inner=n_heads * d_head,
                      d_state=int(_first(cfg, "state_size", default=ssm_cfg.get("d_state", 128))),
                      d_conv=int(_first(cfg, "conv_kernel", default=ssm_cfg.get("d_conv", 4))),
                      n_groups=int(_first(cfg, "n_groups", default=ssm_cfg.get("ngroups", 1))),
                      n_heads=n_heads, bias=bool(cfg.get("use_bias", False)),
                      conv_bias=bool(cfg.get("use_conv_bias", True)))
        mt = "mamba2"
    else:
        d_inner = int(_first(cfg, "intermediate_size", default=0) or 0) or int(cfg.get("expand", 2)) * hidden
        dt_rank = cfg.get("time_step_rank", "auto")
        dt_rank = math.ceil(hidden / 16) if dt_rank in (None, "auto") else int(dt_rank)
        mixer = Mamba(version=1, d_inner=d_inner, d_state=int(cfg.get("state_size", 16)),
                      d_conv=int(cfg.get("conv_kernel", 4)), dt_rank=dt_rank,
                      bias=bool(cfg.get("use_bias", False)), conv_bias=bool(cfg.get("use_conv_bias", True)))
    pad = int(cfg.get("pad_vocab_size_multiple", 1) or 1)
    if pad > 1 and vocab % pad:
        vocab += pad - vocab % pad
    tied = cfg.get("tie_word_embeddings", cfg.get("tie_embeddings", True))
    layers = (LayerClass(count=n_layers, mixer=mixer, ffn=None, norms=1),)
    return ModelSpec(id=model_id, model_type=mt, hidden=hidden, vocab=vocab, layers=layers,
                     tied_embeddings=bool(tied), max_context=0, **meta)
