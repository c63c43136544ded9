"""The adapter registry: ``model_type`` → a function that turns the config into a ModelSpec."""

from __future__ import annotations

from collections.abc import Callable

from ..modelspec import ModelSpec
from .config import HFConfig

Adapter = Callable[[HFConfig], ModelSpec]

#: adapter by (lower-case) Hugging Face ``model_type``
ADAPTERS: dict[str, Adapter] = {}
_FALLBACK: list[Adapter] = []


def register(*model_types: str) -> Callable[[Adapter], Adapter]:
    """Decorator: the adapter for these model types."""
    def deco(fn: Adapter) -> Adapter:
        for mt in model_types:
            if mt in ADAPTERS:
                raise ValueError(f"model_type {mt!r} has two adapters: {ADAPTERS[mt].__name__}, {fn.__name__}")
            ADAPTERS[mt] = fn
        return fn
    return deco


def fallback(fn: Adapter) -> Adapter:
    """Decorator: the adapter for model types no other adapter claims."""
    _FALLBACK[:] = [fn]
    return fn


def adapter_for(model_type: str) -> Adapter:
    """The adapter registered for ``model_type``, else the fallback."""
    return ADAPTERS.get(model_type) or _FALLBACK[0]
