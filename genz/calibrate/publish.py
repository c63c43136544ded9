"""Content-addressed profile files: what each estimate shard reads, rewritten only when it changes.

The pipeline's joint fit (:mod:`genz.calibrate.physfit`) is one problem: new rows for one platform
can move a shared stack's factors and with them every platform's profiles. Which estimates that
really changes is decided by content, not by file times: for every (experiment, platform) of the
grids, :func:`publish` writes the part of the fitted profile set that the shard's rows look up (the
platform's hardware entry, the stacks its frameworks resolve to, the materialized profiles), and
rewrites the file only when those bytes differ. Snakemake re-estimates a shard only when its file's
time changed, so a refit that leaves a platform's profiles as they were (at the stored precision,
:data:`genz.perf.profiles.SIG_DIGITS`) re-estimates none of its shards, and a refit that moves only
the ``vllm-rocm`` stack re-estimates only the shards that use it.

Every profile's version is the hash of its content (:meth:`genz.perf.profiles.Profile.content_version`),
so an estimate's ``profile`` column names exactly the factors and bands it was made with.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..catalog.files import atomic_write_text
from ..catalog.frameworks import framework_key
from ..catalog.hardware import get_hardware
from ..perf.profiles import ProfileSet, content_hash, load_profiles


def grid_frameworks(axes: Iterable[tuple[str, tuple]]) -> list[str]:
    """Framework keys the rows of a grid can name (``generic`` where a row names none).

    From the ``framework`` axis, or mapping axes that set ``framework``; a grid whose mapping axis
    sets it for some entries only has rows without one too. A superset is harmless (a shard then
    depends on one more stack than it uses); a missing key is not, so this errs on the wide side.
    """
    keys: set[str] = set()
    named_everywhere = False
    for axis, values in axes:
        if axis == "framework":
            keys |= {framework_key(None if v is None else str(v)) for v in values}
            named_everywhere = True
        elif values and all(isinstance(v, dict) for v in values) and any("framework" in v for v in values):
            keys |= {framework_key(None if v.get("framework") is None else str(v["framework"])) for v in values}
            named_everywhere = named_everywhere or all(v.get("framework") for v in values)
    if not named_everywhere:
        keys.add("generic")
    return sorted(keys)


def shard_profile_set(pset: ProfileSet, hardware: str, frameworks: Iterable[str]) -> ProfileSet:
    """The profiles a shard of ``hardware`` (preset id, alias or YAML path) with these framework keys
    looks up, and nothing else: predictions with it equal predictions with the whole set.

    The hardware entry (a platform the fit does not know, e.g. a user's YAML, gets one from its
    family or the priors: :func:`genz.calibrate.calibration.platform_profiles`), the stack each
    framework resolves to (:meth:`ProfileSet.stack_for`: itself, its family split, its base, the
    reference), and the materialized platform × framework profiles among them.
    """
    from .calibration import platform_profiles

    hw = get_hardware(hardware)
    sub = platform_profiles(pset, hardware)
    entry = next(iter(sub.hardware.values()))
    stacks = {}
    profiles = []
    for fw in sorted(set(frameworks)):
        st, _ = sub.stack_for(fw, entry.family)
        stacks[st.stack] = st
        prof = sub._by_key.get((hw.id.lower(), fw))
        if prof is not None:
            profiles.append(prof)
    return ProfileSet(profiles, source=pset.source, hardware=[entry], stacks=[stacks[k] for k in sorted(stacks)],
                      version="")


def shard_payload(pset: ProfileSet) -> dict:
    """A shard's profile file: the set's payload with its version = hash of the rest."""
    body = pset.payload()
    body.pop("version", None)
    return {**body, "version": content_hash(body)}


def write_if_changed(path: str | Path, text: str) -> bool:
    """Write ``text`` to ``path`` (atomically) unless the file already holds exactly it; True if written.

    An unchanged file keeps its modification time, which is what keeps Snakemake from re-running
    the jobs that read it."""
    p = Path(path)
    if p.is_file() and p.read_text(encoding="utf-8") == text:
        return False
    atomic_write_text(p, text)
    return True


def publish(profiles_json: str | Path, wanted: Mapping[str, tuple[str, Iterable[str]]],
            folder: str | Path) -> dict[str, list[str]]:
    """Write every shard profile file ``wanted`` names (path relative to ``folder`` -> (hardware,
    framework keys)) whose content changed; remove files under ``folder`` that no grid wants.

    Returns the relative paths written, left unchanged and removed.
    """
    pset = load_profiles(profiles_json)
    folder = Path(folder)
    out: dict[str, list[str]] = {"written": [], "unchanged": [], "removed": []}
    for rel in sorted(wanted):
        hardware, fws = wanted[rel]
        text = json.dumps(shard_payload(shard_profile_set(pset, hardware, fws)), indent=1, sort_keys=True) + "\n"
        out["written" if write_if_changed(folder / rel, text) else "unchanged"].append(rel)
    keep = {str(Path(r)) for r in wanted}
    for p in sorted(folder.rglob("*.json")) if folder.is_dir() else []:
        rel = str(p.relative_to(folder))
        if rel not in keep:
            p.unlink()
            out["removed"].append(rel)
    return out


def write_keys(path: str | Path, keys: Mapping[str, str]) -> None:
    """Record the input key every profile file is published with (:mod:`genz.calibrate.propagation`),
    atomically: the next run compares its keys with these to know which files cannot change."""
    atomic_write_text(path, json.dumps(dict(sorted(keys.items())), indent=1) + "\n")
