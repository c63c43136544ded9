"""The model zoo: one YAML file per architecture under ``genz/data/models``.

:func:`get_model` resolves what users write in a scenario's ``model`` cell:

* a Hugging Face repo id, case-insensitive (``meta-llama/Llama-2-70b-hf``);
* a chat/instruct/quantized variant of a zoo model (``meta-llama/Llama-2-70b-chat-hf``,
  ``meta-llama/Llama-3.3-70B-Instruct``), matched by stripping such suffixes;
* a short alias (``llama-2-70b``);
* a path to a Hugging Face ``config.json`` or to a zoo-format YAML file.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import replace
from pathlib import Path

from ..errors import GenzError, suggest
from .files import DATA_DIR, load_yaml
from .modelspec import ModelSpec, from_hf_config

MODELS_DIR = DATA_DIR / "models"

_SUFFIXES = (
    "-hf", "-chat", "-instruct", "-it", "-base", "-pt", "-fp8", "-fp8-dynamic", "-awq", "-gptq",
    "-int4", "-int8", "-w8a8", "-w4a16", "-fp4", "-nvfp4", "-bf16", "-fp16",
)

def normalize(name: str) -> list[str]:
    """Lookup keys for a model name, most specific first."""
    full = name.strip().lower()
    keys = [full]
    short = full.split("/")[-1]
    keys.append(short)
    base = short
    changed = True
    while changed:
        changed = False
        for suf in _SUFFIXES:
            if base.endswith(suf) and len(base) > len(suf):
                base = base[: -len(suf)]
                changed = True
    keys.append(base)
    keys.append(re.sub(r"^meta-", "", base))
    out: list[str] = []
    for k in keys:
        if k and k not in out:
            out.append(k)
    return out


def _spec_from_entry(entry: dict, path: Path) -> ModelSpec:
    if not isinstance(entry, dict) or "config" not in entry or "id" not in entry:
        raise GenzError(f"{path}: a model file needs 'id' and 'config' (see genz/data/models/README.md)")
    return from_hf_config(
        entry["config"], model_id=str(entry["id"]), origin=str(path),
        aliases=tuple(str(a) for a in entry.get("aliases") or ()),
        source=str(entry.get("source", "")), notes=str(entry.get("notes", "") or ""),
    )


@functools.lru_cache(maxsize=1)
def _index() -> tuple[dict[str, Path], dict[str, Path], dict[str, str]]:
    """(exact-key index, normalized-key index, canonical id by path) over the zoo files."""
    exact: dict[str, Path] = {}
    loose: dict[str, Path] = {}
    ids: dict[str, str] = {}
    for path in sorted(MODELS_DIR.glob("*.yaml")):
        entry = load_yaml(path)
        if not isinstance(entry, dict) or "id" not in entry:
            raise GenzError(f"{path}: a model file needs 'id' and 'config'")
        names = [str(entry["id"])] + [str(a) for a in entry.get("aliases") or ()]
        ids[str(path)] = str(entry["id"])
        for n in names:
            exact.setdefault(n.strip().lower(), path)
        for n in names:
            for k in normalize(n)[1:]:
                loose.setdefault(k, path)
    return exact, loose, ids


@functools.cache
def _load_path(path: Path) -> ModelSpec:
    return _spec_from_entry(load_yaml(path), path)  # type: ignore[arg-type]


def model_ids() -> list[str]:
    """Canonical ids of every zoo model, sorted."""
    return sorted(_index()[2].values(), key=str.lower)


@functools.lru_cache(maxsize=4096)
def get_model(name: str) -> ModelSpec:
    """Resolve a model name, alias or config path to a :class:`ModelSpec`.

    Raises :class:`GenzError` with close matches when the name is unknown.
    """
    if name is None or str(name).strip() == "":
        raise GenzError("model: empty; give a Hugging Face repo id, an alias or a config.json path")
    name = str(name).strip()
    p = Path(name)
    if name.endswith((".json", ".yaml", ".yml")) or (p.exists() and p.is_file()):
        return load_model_file(p)
    exact, loose, _ = _index()
    hit = exact.get(name.lower())
    if hit is None:
        for key in normalize(name)[1:]:
            hit = loose.get(key)
            if hit is not None:
                break
    if hit is None:
        raise GenzError(
            f"model: unknown model '{name}'; run `genz models` for the zoo or pass a config.json path"
            + suggest(name, list(model_ids()) + [i.split('/')[-1] for i in model_ids()])
        )
    return _load_path(hit)


def load_model_file(path: Path) -> ModelSpec:
    """Load a Hugging Face ``config.json`` or a zoo-format YAML file."""
    if not path.exists():
        raise GenzError(f"model: file not found: {path}")
    if not path.is_file():
        raise GenzError(f"model: {path} is not a regular file; give a config.json or a model YAML")
    if path.suffix == ".json":
        try:
            cfg = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise GenzError(f"{path}: malformed JSON at line {exc.lineno}: {exc.msg}") from None
        except UnicodeDecodeError as exc:
            raise GenzError(f"{path}: not UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
        except OSError as exc:
            raise GenzError(f"{path}: cannot read ({exc.strerror})") from None
        if not isinstance(cfg, dict):
            raise GenzError(f"{path}: a config.json must be a JSON object, got {type(cfg).__name__}")
        model_id = cfg.get("_name_or_path") or path.parent.name or path.stem
        spec = from_hf_config(cfg, model_id=str(model_id), origin=str(path), source=str(path))
        return spec
    entry = load_yaml(path)
    if isinstance(entry, dict) and "config" not in entry and "model_type" in entry:
        return from_hf_config(entry, model_id=path.stem, origin=str(path), source=str(path))
    return _spec_from_entry(entry, path)  # type: ignore[arg-type]


def all_models() -> list[ModelSpec]:
    """Every zoo model, sorted by id."""
    _, _, ids = _index()
    return sorted((_load_path(Path(p)) for p in ids), key=lambda m: m.id.lower())


def renamed(spec: ModelSpec, new_id: str) -> ModelSpec:
    """The same architecture under another id."""
    return replace(spec, id=new_id)
