"""Hugging Face ``config.json`` → :class:`~genz.catalog.modelspec.ModelSpec`, one adapter per family.

:func:`parse` reads the config (:class:`~.config.HFConfig`: multimodal wrappers unwrapped, the
model type found) and hands it to the adapter registered for its ``model_type``
(:data:`~.registry.ADAPTERS`); a type no adapter claims is read as a llama-like decoder.

* :mod:`.config` — key lookup, unwrapping, transformers defaults;
* :mod:`.decoder` — the decoder blueprint (:class:`~.decoder.Decoder`) with its experts and hybrid
  layout, which every decoder adapter starts from;
* :mod:`.families` — the adapters: llama-like, Qwen, Gemma, Llama-4, DeepSeek, hybrids, Mamba,
  the GPT-2 lineage, Falcon, GPT-J.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ...errors import GenzError
from .. import dtypes
from ..modelspec import ModelSpec
from . import families  # noqa: F401  (registers the adapters)
from .config import HFConfig
from .decoder import Experts
from .registry import ADAPTERS, adapter_for, register

#: model types with an adapter of their own (others are read as llama-like decoders)
SUPPORTED_MODEL_TYPES = sorted(ADAPTERS)


def parse(raw: dict, model_id: str, origin: str = "", **meta: Any) -> ModelSpec:
    """The spec of a config dict; ``meta`` (aliases, source, notes) is attached as given.

    The config's shape keys are checked before the adapter runs (:meth:`HFConfig.check`) and the
    built spec after (:meth:`ModelSpec.validate`); errors name ``origin`` (the file) when given."""
    c = HFConfig.read(raw, model_id, origin)
    experts = Experts.read(c)  # a MoE config without a usable top-k would silently read as dense
    if experts.n_experts and not 1 <= experts.top_k <= experts.n_experts:
        raise GenzError(f"{c.where}: MoE top-k {experts.top_k} must be in [1, {experts.n_experts}] (the number of "
                        "experts)")
    spec = adapter_for(c.model_type)(c)
    spec.validate(c.where)
    served = served_weights(raw)
    if served:
        spec = replace(spec, served_weights=served)
    return replace(spec, **meta) if meta else spec


#: ``quant_method`` names that are not a dtype spelling of :mod:`genz.catalog.dtypes` (which reads
#: ``mxfp4``, ``nvfp4``, ``fp8``, ``awq``, ``gptq``, ``w4a16`` and the rest itself)
_QUANT_METHODS = {"fbgemm_fp8": "fp8"}


def served_weights(raw: dict) -> str:
    """The weight format a checkpoint is published in, from its config.json ``quantization_config``
    (Hugging Face convention): ``mxfp4`` (gpt-oss: MXFP4 experts) and ModelOpt ``NVFP4`` → ``fp4``,
    ``fp8`` (DeepSeek-V3's 128×128-block FP8) → ``fp8``, AWQ/GPTQ → ``int4``; "" (16-bit) when there
    is none or the method is not one of these. It is what "as served" means for the frontier's default
    precision; ``genz predict`` keeps its own explicit ``weight_dtype`` column (blank = bf16)."""
    q = raw.get("quantization_config")
    if not isinstance(q, dict):
        tc = raw.get("text_config")
        q = tc.get("quantization_config") if isinstance(tc, dict) else None
    if not isinstance(q, dict):
        return ""
    for key in ("quant_algo", "quant_method"):
        v = str(q.get(key, "")).strip().lower()
        canon = _QUANT_METHODS.get(v) or dtypes.ALIASES.get(v, v)
        if canon in dtypes.BITS and dtypes.BITS[canon] < 16:  # a quantized format (16-bit: "")
            return canon
    return ""


__all__ = ["ADAPTERS", "SUPPORTED_MODEL_TYPES", "HFConfig", "adapter_for", "parse", "register", "served_weights"]
