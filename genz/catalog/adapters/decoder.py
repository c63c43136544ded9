"""The decoder blueprint the family adapters fill in, and its parts.

:meth:`Decoder.read` reads a config with the llama conventions (the keys every family shares,
plus features that configs announce by key whatever their type: MLA by ``kv_lora_rank``, Mamba
layers by ``attn_layer_period``/``layers_block_type``/``hybrid_override_pattern``, per-layer KV
heads by ``num_key_value_heads_per_layer``, MoE by expert counts, DBRX's ``attn_config``/
``ffn_config``). A family adapter changes what its family does differently (``dataclasses.replace``
on the frozen blueprint) and calls :meth:`Decoder.spec`, which builds one layer at a time and
groups identical layers into :class:`~genz.catalog.modelspec.LayerClass` entries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from ..modelspec import FFN, Attention, LayerClass, Mamba, ModelSpec
from .config import HFConfig, first


def group(per_layer: list[LayerClass]) -> tuple[LayerClass, ...]:
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


@dataclass(frozen=True)
class Experts:
    """A decoder's mixture-of-experts FFN and which layers use it (dense MLP elsewhere).

    Placement, first rule that applies: an explicit ``moe_layers`` list; Jamba's
    ``expert_layer_period``/``offset``; DeepSeek's first ``first_k_dense_replace`` layers and
    Qwen's ``mlp_only_layers`` are dense; then one MoE layer every ``step`` layers, the first of
    each step (DeepSeek ``moe_layer_freq``: ``i % step == 0``) or the last (Qwen
    ``decoder_sparse_step``, Llama-4 ``interleave_moe_layer_step``: ``(i+1) % step == 0``).
    """

    n_experts: int = 0
    top_k: int = 0
    d_expert: int | None = None  # intermediate size of one routed expert; None: the dense d_ff
    n_shared: int = 0
    d_shared: int | None = None  # total shared-expert intermediate size; None: n_shared × expert size
    shared_gate: bool = False  # Qwen2-MoE: sigmoid gate on the shared expert
    listed: tuple | None = None
    period: Any = None
    offset: int = 0
    first_dense: int = 0
    dense_layers: frozenset = frozenset()
    step: int = 1
    last_in_step: bool = False

    @classmethod
    def read(cls, c: HFConfig) -> Experts:
        ffn_cfg = c.section("ffn_config")  # DBRX
        listed = c.get("moe_layers")
        return cls(
            n_experts=c.num("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
            or int(ffn_cfg.get("moe_num_experts", 0) or 0),
            top_k=c.num("num_experts_per_tok", "moe_top_k", "experts_per_token") or int(ffn_cfg.get("moe_top_k", 0) or 0),
            d_expert=c.num("moe_intermediate_size") or None,
            n_shared=c.num("n_shared_experts", "num_shared_experts"),
            d_shared=c.num("shared_expert_intermediate_size") or None,
            listed=tuple(listed) if isinstance(listed, list) else None,
            period=c.get("expert_layer_period"),
            offset=c.num("expert_layer_offset"),
            first_dense=c.num("first_k_dense_replace"),
            dense_layers=frozenset(c.get("mlp_only_layers") or []),
            step=int(c.first("moe_layer_freq", "decoder_sparse_step", "interleave_moe_layer_step", default=1) or 1),
        )

    def at(self, i: int) -> bool:
        """Whether layer ``i`` is a MoE layer."""
        if not self.n_experts or not self.top_k:
            return False
        if self.listed is not None:
            return i in self.listed
        if self.period:
            return i % int(self.period) == self.offset
        if i < self.first_dense or i in self.dense_layers:
            return False
        return (i + 1) % self.step == 0 if self.last_in_step else i % self.step == 0

    def ffn(self, d_ff: int, gated: bool) -> FFN | None:
        """The MoE block (None without experts); expert sizes default to the dense ``d_ff``."""
        if not self.n_experts:
            return None
        d_exp = d_ff if self.d_expert is None else self.d_expert
        d_shared = self.n_shared * d_exp if self.d_shared is None else self.d_shared
        return FFN(d_ff=d_exp, gated=gated, bias=False, n_experts=self.n_experts, top_k=self.top_k,
                   d_shared=d_shared, shared_gate=self.shared_gate)


def hybrid_mamba(c: HFConfig, hidden: int) -> Mamba:
    """Mamba mixer of a hybrid (Jamba uses mamba_* keys, Bamba/Nemotron-H mamba2 keys)."""
    cfg = c.cfg
    expand = int(first(cfg, "mamba_expand", default=2))
    if cfg.get("mamba_n_heads") or cfg.get("mamba_d_head"):
        d_head = int(first(cfg, "mamba_d_head", "mamba_head_dim", default=64))
        n_heads = int(first(cfg, "mamba_n_heads", default=expand * hidden // d_head))
        return Mamba(version=2, d_inner=n_heads * d_head,
                     d_state=int(first(cfg, "mamba_d_state", "ssm_state_size", default=128)),
                     d_conv=int(first(cfg, "mamba_d_conv", "conv_kernel", default=4)),
                     n_groups=int(first(cfg, "mamba_n_groups", "n_groups", default=1)), n_heads=n_heads,
                     bias=bool(cfg.get("mamba_proj_bias", False)), conv_bias=bool(cfg.get("mamba_conv_bias", True)))
    dt_rank = cfg.get("mamba_dt_rank", "auto")
    dt_rank = math.ceil(hidden / 16) if dt_rank in (None, "auto") else int(dt_rank)
    return Mamba(version=1, d_inner=expand * hidden, d_state=int(cfg.get("mamba_d_state", 16)),
                 d_conv=int(cfg.get("mamba_d_conv", 4)), dt_rank=dt_rank,
                 bias=bool(cfg.get("mamba_proj_bias", False)), conv_bias=bool(cfg.get("mamba_conv_bias", True)))


@dataclass(frozen=True)
class Hybrid:
    """Which layers of an attention/Mamba hybrid are attention, first rule that applies.

    ``pattern``: Jamba-style ``layers_block_type`` list (``'attention'``/``'mamba'``) or a
    Nemotron-H ``hybrid_override_pattern`` string (``'*'`` attention, ``'M'`` Mamba without FFN,
    ``'-'`` MLP-only); else attention every ``period`` layers at ``offset``; else the listed
    ``attn_layer_indices``.
    """

    mamba: Mamba
    pattern: Any = None
    period: Any = None
    offset: int = 0
    indices: Any = ()

    @classmethod
    def read(cls, c: HFConfig, hidden: int, always: bool = False) -> Hybrid | None:
        """The hybrid layout when the config has one (``always``: the family is a hybrid)."""
        period = c.get("attn_layer_period")
        pattern = c.get("layers_block_type") or c.get("hybrid_override_pattern")
        if not (always or period or pattern):
            return None
        return cls(mamba=hybrid_mamba(c, hidden), pattern=pattern, period=period,
                   offset=c.num("attn_layer_offset"), indices=c.get("attn_layer_indices") or [])

    def attention_at(self, i: int) -> bool:
        if isinstance(self.pattern, list):
            return "attention" in str(self.pattern[i])
        if isinstance(self.pattern, str):
            return self.pattern[i] == "*"
        if self.period:
            return i % int(self.period) == self.offset
        return i in self.indices

    def has_ffn(self, i: int) -> bool:
        """Nemotron-H ``'M'`` blocks are a Mamba mixer alone."""
        return not (isinstance(self.pattern, str) and self.pattern[i] == "M")


@dataclass(frozen=True)
class Decoder:
    """Everything :meth:`spec` needs to build a decoder-only :class:`ModelSpec`.

    ``windows`` is the family's sliding-window rule per layer (``None`` = global attention); a
    config's ``layer_types`` list, where it covers a layer, overrides it (:meth:`window`).
    """

    c: HFConfig
    hidden: int
    n_layers: int
    vocab: int
    heads: int
    kv_heads: int
    kv_heads_per_layer: list | None  # DeciLM num_key_value_heads_per_layer
    head_dim: int
    gated: bool  # gated MLP (SwiGLU/GeGLU: gate, up, down) or plain (up, down)
    qkv_bias: bool
    o_bias: bool
    mlp_bias: bool
    d_ff: int  # dense MLP intermediate size
    sliding_window: Any  # the config's window size (None when off)
    windows: tuple  # per layer: window size or None
    mla: bool  # DeepSeek multi-head latent attention
    experts: Experts
    hybrid: Hybrid | None
    norms: int = 2  # normalization layers per decoder layer
    tied_default: bool = False  # LM head tied to the embedding when the config does not say
    pos_embeddings: int = 0  # learned position table rows
    embed_proj: int = 0  # OPT-350m embedding projection width
    lm_head_bias: bool = False

    @classmethod
    def read(cls, c: HFConfig, *, gated: bool, **family: Any) -> Decoder:
        """The blueprint with the llama conventions; ``family`` sets fields directly."""
        hidden = c.require("hidden_size", "n_embd", "d_model", "n_embed")
        n_layers = c.require("num_hidden_layers", "n_layer", "n_layers", "num_layers")
        vocab = c.require("vocab_size", "padded_vocab_size")
        heads = c.require("num_attention_heads", "n_head", "n_heads", "num_heads")
        if c.get("multi_query") and not c.get("new_decoder_architecture"):
            kv = 1  # Falcon-7B
        else:
            kv = c.num("num_key_value_heads", "num_kv_heads", "n_head_kv") \
                or int(c.section("attn_config").get("kv_n_heads", 0) or 0) or heads
        per_layer = c.get("num_key_value_heads_per_layer")
        window = c.first("sliding_window")
        if c.get("use_sliding_window") is False:
            window = None
        uniform = int(window) if window and not isinstance(window, list) else None
        blueprint = cls(
            c=c, hidden=hidden, n_layers=n_layers, vocab=vocab, heads=heads, kv_heads=kv,
            kv_heads_per_layer=per_layer if isinstance(per_layer, list) else None,
            head_dim=c.num("head_dim") or hidden // heads, gated=gated,
            qkv_bias=bool(c.first("attention_bias", "qkv_bias", "use_qkv_bias", default=False)),
            o_bias=bool(c.get("attention_bias")), mlp_bias=bool(c.first("mlp_bias", default=False)),
            d_ff=c.num("intermediate_size", "ffn_dim", "n_inner", "ffn_hidden_size")
            or int(c.section("ffn_config").get("ffn_hidden_size", 0) or 0) or 4 * hidden,
            sliding_window=window, windows=(uniform,) * n_layers, mla=bool(c.get("kv_lora_rank")),
            experts=Experts.read(c), hybrid=Hybrid.read(c, hidden),
        )
        return replace(blueprint, **family) if family else blueprint

    def local_windows(self, is_local) -> tuple:
        """Per-layer windows: the config's window on layers where ``is_local(i)``, global elsewhere."""
        w = self.sliding_window
        return tuple(int(w) if w and is_local(i) else None for i in range(self.n_layers))

    # --- one layer ------------------------------------------------------------------------------

    def window(self, i: int) -> int | None:
        """Layer ``i``'s window: from ``layer_types`` where it lists the layer, else the family rule."""
        types = self.c.get("layer_types")
        if isinstance(types, list) and i < len(types):
            local = "sliding" in str(types[i]) or "local" in str(types[i])
            return int(self.sliding_window) if local and self.sliding_window else None
        return self.windows[i]

    def attention(self, i: int) -> Attention:
        """Attention mixer of layer ``i`` (MLA, or MHA/GQA/MQA with its window)."""
        cfg = self.c.cfg
        if self.mla:
            nope = int(cfg.get("qk_nope_head_dim", 128))
            rope = int(cfg.get("qk_rope_head_dim", 64))
            return Attention(
                kind="mla", n_heads=self.heads, n_kv_heads=self.heads, head_dim=nope + rope,
                v_head_dim=int(cfg.get("v_head_dim", nope)), q_lora_rank=cfg.get("q_lora_rank"),
                kv_lora_rank=int(cfg["kv_lora_rank"]), qk_rope_head_dim=rope, qk_nope_head_dim=nope,
            )
        nkv = self.kv_heads if self.kv_heads_per_layer is None else int(self.kv_heads_per_layer[i])
        return Attention(kind="mha", n_heads=self.heads, n_kv_heads=nkv, head_dim=self.head_dim,
                         v_head_dim=self.head_dim, window=self.window(i), qkv_bias=self.qkv_bias,
                         o_bias=self.o_bias)

    def layer(self, i: int, dense: FFN, moe: FFN | None) -> LayerClass:
        """Layer ``i``: attention or Mamba mixer, dense or MoE FFN (or none)."""
        hyb = self.hybrid
        mixer = self.attention(i) if hyb is None or hyb.attention_at(i) else hyb.mamba
        ffn = moe if self.experts.at(i) else dense
        if hyb is not None and not hyb.has_ffn(i):
            ffn = None
        return LayerClass(count=1, mixer=mixer, ffn=ffn, norms=self.norms)

    # --- the model ------------------------------------------------------------------------------

    def tied(self) -> bool:
        """LM head tied to the embedding: the config's flag (or its wrapper's), else the family default."""
        tied = self.c.get("tie_word_embeddings")
        if tied is None:
            tied = self.c.raw.get("tie_word_embeddings", self.tied_default)
        return bool(self.tied_default if tied is None else tied)

    def spec(self) -> ModelSpec:
        """The :class:`ModelSpec` (identical layers grouped into classes)."""
        c = self.c
        dense = FFN(d_ff=self.d_ff, gated=self.gated, bias=self.mlp_bias)
        moe = self.experts.ffn(self.d_ff, self.gated)
        layers = group([self.layer(i, dense, moe) for i in range(self.n_layers)])
        return ModelSpec(
            id=c.model_id, model_type=c.model_type or "unknown", hidden=self.hidden, vocab=self.vocab,
            layers=layers, tied_embeddings=self.tied(), pos_embeddings=self.pos_embeddings,
            max_context=c.num("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"),
            embed_proj=self.embed_proj, lm_head_bias=self.lm_head_bias,
            mtp_layers=int(c.get("num_nextn_predict_layers", 0) or 0),
        )
