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
    return replace(spec, **meta) if meta else spec


__all__ = ["ADAPTERS", "SUPPORTED_MODEL_TYPES", "HFConfig", "adapter_for", "parse", "register"]
