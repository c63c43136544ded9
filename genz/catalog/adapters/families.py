"""One adapter per model family: what each family does differently from the llama conventions.

Every adapter starts from :meth:`Decoder.read` (llama conventions plus key-announced features:
MLA, hybrids, per-layer KV heads, experts) and changes only its family's differences.
"""

from __future__ import annotations

import math
from dataclasses import replace

from ..modelspec import LayerClass, Mamba, ModelSpec
from .config import HFConfig
from .decoder import Decoder, Hybrid
from .registry import fallback, register

#: gated-MLP decoders with nothing family-specific beyond their keys: dense, GQA, uniform sliding
#: window (Mistral), per-layer KV heads (DeciLM), experts in every layer (Mixtral, DBRX, Grok, gpt-oss)
LLAMA_LIKE = (
    "llama", "mistral", "mixtral", "qwen3", "phi3", "dbrx", "grok-1", "grok", "deci", "aquila", "internlm",
    "internlm2", "granite", "olmo", "olmo2", "cohere", "yi", "baichuan", "exaone", "gpt_oss", "minicpm",
    "stablelm", "phimoe", "arctic", "qwen2_vl", "mistral3", "ernie4_5", "ernie4_5_moe", "glm", "glm4",
    "glm4_moe", "hunyuan", "seed_oss", "smollm3",
)

_GATED_ACTIVATIONS = ("silu", "swish", "swiglu", "geglu")


def _gated_by_activation(c: HFConfig) -> bool:
    """For types without a known MLP: gated when ``hidden_act`` is SiLU/swish/SwiGLU/GeGLU (default silu)."""
    return str(c.get("hidden_act", "silu")).lower() in _GATED_ACTIVATIONS


# --- llama-like ---------------------------------------------------------------------------------


@register(*LLAMA_LIKE)
def llama_like(c: HFConfig) -> ModelSpec:
    """Gated MLP; everything else from the keys."""
    return Decoder.read(c, gated=True).spec()


@fallback
def unknown_type(c: HFConfig) -> ModelSpec:
    """A type no adapter claims: llama-like from its keys, MLP kind from ``hidden_act``.

    (Falcon's early ``RefinedWeb*`` types, which land here, have a plain MLP.)
    """
    gated = _gated_by_activation(c) and not c.model_type.startswith("refinedweb")
    return Decoder.read(c, gated=gated).spec()


@register("qwen")
def qwen(c: HFConfig) -> ModelSpec:
    """Qwen-1: bias on q/k/v unless ``attention_bias`` says otherwise."""
    d = Decoder.read(c, gated=True)
    return replace(d, qkv_bias=d.qkv_bias if "attention_bias" in c else True).spec()


def _qwen2(c: HFConfig) -> Decoder:
    """Qwen2 / Qwen1.5: bias on q/k/v unless ``attention_bias`` says otherwise, never on o_proj."""
    d = Decoder.read(c, gated=True, o_bias=False)
    return replace(d, qkv_bias=d.qkv_bias if "attention_bias" in c else True)


@register("qwen2")
def qwen2(c: HFConfig) -> ModelSpec:
    return _qwen2(c).spec()


@register("qwen2_moe")
def qwen2_moe(c: HFConfig) -> ModelSpec:
    """Qwen2-MoE: Qwen2 attention; a sigmoid-gated shared expert (when its size is given); the MoE
    layer is the last of each ``decoder_sparse_step``."""
    d = _qwen2(c)
    gate = bool(c.num("shared_expert_intermediate_size"))
    return replace(d, experts=replace(d.experts, shared_gate=gate, last_in_step=True)).spec()


@register("qwen3_moe")
def qwen3_moe(c: HFConfig) -> ModelSpec:
    """Qwen3-MoE: the MoE layer is the last of each ``decoder_sparse_step``."""
    d = Decoder.read(c, gated=True)
    return replace(d, experts=replace(d.experts, last_in_step=True)).spec()


# --- sliding-window and chunked attention -------------------------------------------------------


@register("gemma")
def gemma(c: HFConfig) -> ModelSpec:
    """Gemma: GeGLU MLP, LM head tied to the embedding."""
    return Decoder.read(c, gated=True, tied_default=True).spec()


@register("gemma2")
def gemma2(c: HFConfig) -> ModelSpec:
    """Gemma-2: four norms per layer; even layers slide over ``sliding_window`` tokens, odd ones are global."""
    d = Decoder.read(c, gated=True, tied_default=True, norms=4)
    return replace(d, windows=d.local_windows(lambda i: i % 2 == 0)).spec()


@register("gemma3", "gemma3_text")
def gemma3(c: HFConfig) -> ModelSpec:
    """Gemma-3: four norms per layer; every ``sliding_window_pattern``-th layer (default 6) is global,
    the others local."""
    d = Decoder.read(c, gated=True, tied_default=True, norms=4)
    pattern = int(c.get("sliding_window_pattern", 6) or 6)
    return replace(d, windows=d.local_windows(lambda i: (i + 1) % pattern != 0)).spec()


@register("llama4", "llama4_text")
def llama4(c: HFConfig) -> ModelSpec:
    """Llama-4: RoPE layers attend within chunks of ``attention_chunk_size`` (modelled as a window of
    that size), NoPE layers (``no_rope_layers[i] == 0``, default every 4th) globally. Routed experts
    of ``intermediate_size`` plus one shared expert of that size, dense layers of
    ``intermediate_size_mlp``; the MoE layer is the last of each ``interleave_moe_layer_step``."""
    d = Decoder.read(c, gated=True)
    chunk, nope = c.get("attention_chunk_size"), c.get("no_rope_layers")

    def uses_rope(i: int):
        return nope[i] if isinstance(nope, list) and i < len(nope) else (i + 1) % 4 != 0

    windows = tuple(int(chunk) if chunk and uses_rope(i) else None for i in range(d.n_layers))
    d_exp = int(c.get("intermediate_size", d.d_ff))
    experts = replace(d.experts, d_expert=d_exp, d_shared=d_exp, last_in_step=True)
    return replace(d, windows=windows, d_ff=int(c.get("intermediate_size_mlp", d.d_ff)), experts=experts).spec()


# --- multi-head latent attention ----------------------------------------------------------------


@register("deepseek_v2", "deepseek_v3")
def deepseek(c: HFConfig) -> ModelSpec:
    """DeepSeek-V2/V3: MLA in every layer; the first ``first_k_dense_replace`` layers dense, then MoE
    with shared experts every ``moe_layer_freq`` layers; V3's multi-token-prediction modules."""
    return Decoder.read(c, gated=True, mla=True).spec()


@register("kimi_k2")
def kimi_k2(c: HFConfig) -> ModelSpec:
    """Kimi-K2: DeepSeek-V3's architecture under its own type (MLP kind from ``hidden_act``)."""
    return Decoder.read(c, gated=_gated_by_activation(c), mla=True).spec()


# --- state-space models and hybrids -------------------------------------------------------------


@register("jamba", "bamba", "nemotron_h")
def hybrid(c: HFConfig) -> ModelSpec:
    """Attention/Mamba hybrids (Jamba: Mamba-1 layers and MoE every other layer; Bamba, Nemotron-H:
    Mamba-2 layers); which layer is which comes from the config (:class:`Hybrid`)."""
    d = Decoder.read(c, gated=True)
    return replace(d, hybrid=Hybrid.read(c, d.hidden, always=True)).spec()


def _mamba2_mixer(c: HFConfig, hidden: int, ssm_cfg: dict) -> Mamba:
    """Mamba-2 (SSD) mixer from HF keys, or from the original checkpoints' ``ssm_cfg``."""
    expand = int(c.first("expand", default=ssm_cfg.get("expand", 2)))
    d_head = int(c.first("head_dim", default=ssm_cfg.get("headdim", 64)))
    n_heads = int(c.first("num_heads", default=expand * hidden // d_head))
    return Mamba(version=2, d_inner=n_heads * d_head,
                 d_state=int(c.first("state_size", default=ssm_cfg.get("d_state", 128))),
                 d_conv=int(c.first("conv_kernel", default=ssm_cfg.get("d_conv", 4))),
                 n_groups=int(c.first("n_groups", default=ssm_cfg.get("ngroups", 1))),
                 n_heads=n_heads, bias=bool(c.get("use_bias", False)), conv_bias=bool(c.get("use_conv_bias", True)))


def _mamba1_mixer(c: HFConfig, hidden: int) -> Mamba:
    """Mamba-1 mixer: ``d_inner = intermediate_size`` (or ``expand·hidden``), ``dt_rank = ceil(hidden/16)``
    unless ``time_step_rank`` says otherwise."""
    d_inner = c.num("intermediate_size") or int(c.get("expand", 2)) * hidden
    dt_rank = c.get("time_step_rank", "auto")
    dt_rank = math.ceil(hidden / 16) if dt_rank in (None, "auto") else int(dt_rank)
    return Mamba(version=1, d_inner=d_inner, d_state=int(c.get("state_size", 16)), d_conv=int(c.get("conv_kernel", 4)),
                 dt_rank=dt_rank, bias=bool(c.get("use_bias", False)), conv_bias=bool(c.get("use_conv_bias", True)))


@register("mamba", "falcon_mamba", "mamba2")
def mamba(c: HFConfig) -> ModelSpec:
    """Pure SSM models: Mamba (HF ``mamba``/``falcon_mamba``) and Mamba-2 (HF keys or the original
    ``ssm_cfg``); one norm per layer, no FFN, vocab padded to ``pad_vocab_size_multiple``."""
    hidden = c.require("hidden_size", "d_model")
    n_layers = c.require("num_hidden_layers", "n_layer")
    vocab = c.require("vocab_size")
    ssm_cfg = c.get("ssm_cfg") or {}
    mamba2 = c.model_type == "mamba2" or ssm_cfg.get("layer") == "Mamba2"
    mixer = _mamba2_mixer(c, hidden, ssm_cfg) if mamba2 else _mamba1_mixer(c, hidden)
    pad = int(c.get("pad_vocab_size_multiple", 1) or 1)
    if pad > 1 and vocab % pad:
        vocab += pad - vocab % pad
    tied = c.get("tie_word_embeddings", c.get("tie_embeddings", True))
    return ModelSpec(id=c.model_id, model_type="mamba2" if mamba2 else c.model_type, hidden=hidden, vocab=vocab,
                     layers=(LayerClass(count=n_layers, mixer=mixer, ffn=None, norms=1),),
                     tied_embeddings=bool(tied), max_context=0)


# --- plain (non-gated) MLPs: GPT-2 lineage, Falcon, GPT-J ---------------------------------------


def _biased_plain(c: HFConfig, **family) -> Decoder:
    """Plain MLP with a bias on every projection."""
    return Decoder.read(c, gated=False, qkv_bias=True, o_bias=True, mlp_bias=True, **family)


@register("gpt_neox")
def gpt_neox(c: HFConfig) -> ModelSpec:
    """GPT-NeoX / Pythia: plain MLP, biases everywhere, untied LM head."""
    return _biased_plain(c).spec()


@register("phi")
def phi(c: HFConfig) -> ModelSpec:
    """Phi-1/2: plain MLP, biases everywhere; attention and MLP run in parallel on one LayerNorm."""
    return _biased_plain(c, norms=1).spec()


@register("bloom", "starcoder2")
def bloom(c: HFConfig) -> ModelSpec:
    """Bloom (ALiBi), StarCoder2: plain MLP, biases everywhere, tied LM head."""
    return _biased_plain(c, tied_default=True).spec()


@register("gpt2", "gpt_bigcode")
def gpt2(c: HFConfig) -> ModelSpec:
    """GPT-2, StarCoder (gpt_bigcode, multi-query): plain MLP, biases everywhere, tied LM head, a
    learned table of ``n_positions`` positions."""
    d = _biased_plain(c, tied_default=True)
    return replace(d, pos_embeddings=int(c.first("n_positions", "max_position_embeddings", default=1024))).spec()


@register("opt")
def opt(c: HFConfig) -> ModelSpec:
    """OPT: plain MLP, biases everywhere, tied LM head, learned positions (``max_position_embeddings``
    + 2 offset rows); OPT-350m projects its embeddings from ``word_embed_proj_dim``."""
    d = _biased_plain(c, tied_default=True)
    pos = int(c.get("max_position_embeddings", 2048)) + 2
    proj = int(c.get("word_embed_proj_dim", d.hidden))
    return replace(d, pos_embeddings=pos, embed_proj=proj if proj != d.hidden else 0).spec()


@register("mpt")
def mpt(c: HFConfig) -> ModelSpec:
    """MPT: plain MLP, tied LM head."""
    return Decoder.read(c, gated=False, tied_default=True).spec()


@register("codegen", "nemotron")
def plain(c: HFConfig) -> ModelSpec:
    """CodeGen, Nemotron(-4): plain MLP."""
    return Decoder.read(c, gated=False).spec()


@register("gpt_j", "gptj")
def gptj(c: HFConfig) -> ModelSpec:
    """GPT-J: plain MLP with biases, attention and MLP in parallel on one LayerNorm, LM head with a bias."""
    return Decoder.read(c, gated=False, mlp_bias=True, norms=1, lm_head_bias=True).spec()


@register("falcon")
def falcon(c: HFConfig) -> ModelSpec:
    """Falcon: plain MLP of 4·hidden unless ``ffn_hidden_size``; one ``bias`` flag for q/k/v and the
    MLP; tied LM head. Falcon-7B/40B run attention and MLP in parallel on one LayerNorm
    (``parallel_attn``), Falcon-180B's ``new_decoder_architecture`` has two."""
    d = Decoder.read(c, gated=False, tied_default=True)
    bias = bool(c.get("bias", False))
    parallel = c.get("parallel_attn", True) and not c.get("new_decoder_architecture")
    return replace(d, qkv_bias=bias, mlp_bias=bias, d_ff=d.d_ff if "ffn_hidden_size" in c else 4 * d.hidden,
                   norms=1 if parallel else 2).spec()
