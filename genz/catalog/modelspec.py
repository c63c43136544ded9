"""Model architecture specs, and :func:`from_hf_config`, the entry to the ``config.json`` adapters.

A model is a stack of decoder layers. Layers that are identical in cost are grouped into
:class:`LayerClass` entries with a count, so a hybrid like Jamba (attention/Mamba × dense/MoE)
or Gemma-2 (alternating local/global attention) is a handful of classes, and the engine's cost
of a model is a sum over classes of ``count × per-layer cost``.

Each layer has a token mixer (:class:`Attention` for MHA/GQA/MQA/sliding-window/MLA, or
:class:`Mamba` for Mamba-1/2 SSM layers) and a feed-forward block (:class:`FFN`, dense or MoE).

:func:`from_hf_config` turns a ``config.json`` dict into a :class:`ModelSpec` through one adapter
per model family (:mod:`genz.catalog.adapters`); the model zoo files in ``genz/data/models`` are
such configs plus their citation.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import GenzError

#: most decoder layers a model may have (the largest published models have ~130)
MAX_LAYERS = 10_000


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
    #: the checkpoint's published weight format (config.json ``quantization_config``, see
    #: :func:`genz.catalog.adapters.served_weights`): ``fp4`` (MXFP4/NVFP4), ``fp8``, ``int4``; "" = 16-bit
    served_weights: str = ""
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

    def validate(self, where: str | None = None) -> None:
        """Check the built architecture (after a config's keys passed :meth:`HFConfig.check`, derived
        sizes can still be 0): every size a positive whole number, at most
        :data:`MAX_LAYERS` layers, GQA query heads a multiple of the KV heads, MoE top-k within
        ``[1, experts]``. Raises a one-line :class:`GenzError` naming ``where`` (default: the id)."""
        where = where or self.id

        def need(ok: bool, what: str) -> None:
            if not ok:
                raise GenzError(f"{where}: {what}")

        need(self.hidden >= 1, f"hidden size {self.hidden} must be >= 1")
        need(self.vocab >= 1, f"vocab size {self.vocab} must be >= 1")
        need(1 <= self.n_layers <= MAX_LAYERS, f"{self.n_layers} layers; allowed: 1 to {MAX_LAYERS:,}")
        for lc in self.layers:
            m, f = lc.mixer, lc.ffn
            need(lc.count >= 1, f"a layer group has {lc.count} layers")
            if isinstance(m, Attention):
                need(m.n_heads >= 1 and m.n_kv_heads >= 1, f"attention heads {m.n_heads}, KV heads {m.n_kv_heads}: "
                     "both must be >= 1")
                need(m.head_dim >= 1 and m.v_head_dim >= 1, f"attention head dim {m.head_dim} (hidden size "
                     f"{self.hidden} / {m.n_heads} heads) must be >= 1")
                need(m.window is None or m.window >= 1, f"sliding window {m.window} must be >= 1")
                if m.kind == "mha":
                    need(m.n_heads % m.n_kv_heads == 0, f"{m.n_heads} attention heads are not a multiple of "
                         f"{m.n_kv_heads} KV heads (grouped-query attention shares each KV head among equally "
                         "many query heads)")
                else:
                    need(m.kv_lora_rank >= 1, f"MLA kv_lora_rank {m.kv_lora_rank} must be >= 1")
            elif isinstance(m, Mamba):
                need(min(m.d_inner, m.d_state, m.d_conv) >= 1, f"Mamba inner size {m.d_inner}, state {m.d_state}, "
                     f"conv {m.d_conv}: all must be >= 1")
                need(m.version == 1 or (m.n_heads >= 1 and m.n_groups >= 1),
                     f"Mamba-2 heads {m.n_heads}, groups {m.n_groups}: both must be >= 1")
                need(m.version == 2 or m.dt_rank >= 1, f"Mamba dt_rank {m.dt_rank} must be >= 1")
            if f is not None:
                need(f.d_ff >= 1, f"FFN intermediate size {f.d_ff} must be >= 1")
                if f.is_moe:
                    need(1 <= f.top_k <= f.n_experts, f"MoE top-k {f.top_k} must be in [1, {f.n_experts}] "
                         f"(the number of experts)")

    def with_layers(self, n_layers: int) -> ModelSpec:
        """A copy scaled to ``n_layers`` decoder layers (single-class models only; for tests)."""
        if len(self.layers) != 1:
            raise GenzError("with_layers: only models with one layer class can be rescaled")
        return replace(self, layers=(replace(self.layers[0], count=n_layers),))


# --------------------------------------------------------------------------------------------
# Hugging Face config.json
# --------------------------------------------------------------------------------------------


def from_hf_config(cfg: dict, model_id: str = "custom", origin: str = "", **meta: Any) -> ModelSpec:
    """Build a :class:`ModelSpec` from a Hugging Face ``config.json`` dictionary.

    Dispatches on ``model_type`` to one adapter per family (:mod:`genz.catalog.adapters`):
    llama, mistral, mixtral, qwen2/2-moe/3/3-moe, gemma/2/3, phi3, deepseek_v2/v3, llama4, dbrx,
    grok, deci, mamba, mamba2, falcon_mamba, jamba, falcon, gpt_j, gpt_neox, bloom, opt,
    starcoder2, gpt_oss and llama-like configs of other types. An unknown ``model_type`` is read
    as a llama-like decoder when it has the usual keys. ``meta`` (aliases, source, notes) is
    attached to the spec. Shapes are checked (positive whole numbers in range, heads that split
    evenly, top-k within the experts); a bad one is a one-line :class:`GenzError` naming ``origin``
    (the file, when the config came from one), the key and the allowed range.
    """
    if not isinstance(cfg, dict):
        raise GenzError(f"{origin or model_id}: config must be a mapping, got {type(cfg).__name__}")
    from .adapters import parse  # the adapters build the classes above

    return parse(cfg, model_id, origin, **meta)


def __getattr__(name: str) -> Any:
    if name == "SUPPORTED_MODEL_TYPES":  # model types with an adapter of their own
        from .adapters import SUPPORTED_MODEL_TYPES

        return SUPPORTED_MODEL_TYPES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
