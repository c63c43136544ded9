"""Which published profile files a change of the measurement files can reach, known before any fit.

The pipeline publishes one profile file per (experiment, platform)
(:mod:`genz.calibrate.publish`), rewritten only when its content changes; an estimate shard reads
its own. This module gives each such file an *input key*: the hash of everything its content can
depend on. When a file's key equals the key it was last published with, no fit can change it, so
its shard does not wait for the calibration and a dry run (``snakemake -n``) lists exactly the
shards a change re-estimates.

What a profile file of platform ``h`` depends on (:func:`genz.calibrate.physfit.fit_staged`,
:mod:`genz.calibrate.baseline`):

* everything shared: the code, the kernel-timing tables (family priors), the number of folds, and
  the baseline files' contents (stage 1: every stack's software factors, the pooled bands);
* the rows outside the baseline in the *groups* that reach ``h``: rows linked by a family, a link
  class, a platform or a stack that stage 1 did not fit form one group (the independent problems
  of stage 2, :func:`genz.calibrate.physfit.components`); ``h`` reads its family's and its link
  class's factors, and its bands come from its own rows' held-out predictions;
* rows outside the baseline under a stack stage 1 did not fit (a new stack) reach every file (the
  new stack's entry may be what another platform's rows resolve to);
* a grid that names a stack generation (``generation_of`` in ``frameworks.yaml``) reaches every
  measurement and serving-benchmark file: the generations are fitted on the serving rows with the
  hardware factors of every platform (:mod:`genz.calibrate.stackfit`);
* the hardware file itself when the grid names a user's YAML, and the grid's framework keys.

Over-approximating is safe (a shard waits for the calibration and is re-estimated only if its file
really changed); under-approximating would leave a shard stale, so every rule here errs wide.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from ..catalog.frameworks import framework_key, frameworks
from ..catalog.hardware import get_hardware
from ..errors import GenzError
from . import baseline as B


def _h(*parts: object) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode())
        h.update(b"\x1f")
    return h.hexdigest()[:16]


def _file_rows(path: str) -> list[tuple[str, str, str, str]] | None:
    """(platform id, family, link class, stack) of each distinct row kind of a measurement file; None
    for a file that cannot be read (the calibration names its error in one line; until then it
    counts as reaching every profile)."""
    from .physfit import link_class
    from .prepared import stack_of

    try:
        df = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError, UnicodeDecodeError):
        return None
    cols = {c.strip().lower(): c for c in df.columns}
    get = [cols.get(c) for c in ("hardware", "framework", "source")]
    sel = df.select([pl.col(c).fill_null("") if c else pl.lit("") for c in get]).unique()
    out = []
    for hw_name, fw, src in sel.iter_rows():
        try:
            hw = get_hardware(str(hw_name))
        except GenzError:
            continue  # the fit names it (one-line error); nothing to route
        out.append((hw.id, hw.family, link_class(hw), stack_of(framework_key(fw or None), hw.vendor, src, hw.family)))
    return out


def _uses_generation(fws: Sequence[str]) -> bool:
    fw = frameworks()
    return any(isinstance(fw.get(k), dict) and fw[k].get("generation_of") for k in fws)


def profile_keys(measurements: Sequence[str], baseline: str | None, wanted: Mapping[str, tuple[str, Sequence[str]]],
                 shared: Sequence[object] = (), serving: Sequence[str] = ()) -> dict[str, str]:
    """Input key of every published profile file ``wanted`` names (relative path -> (hardware,
    framework keys)); ``shared``: what every file depends on besides the baseline (code fingerprint,
    kernel-timing digests, folds)."""
    from .physfit import link_class

    bl = B.read(baseline)
    digest = {f: B.file_digest(f) for f in measurements}
    listed = set(bl.files.values())
    is_base = {f: bl.everything or digest[f] in listed for f in measurements}
    read = {f: _file_rows(f) for f in measurements}
    rows = {f: r or [] for f, r in read.items()}
    held = {r[3] for f in measurements if is_base[f] for r in rows[f]}
    # groups: union-find over families, link classes, platforms and the stacks stage 1 did not fit
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for f in measurements:
        for plat, fam, link, st in rows[f]:
            keys = [f"family:{fam}", f"link:{link}", f"platform:{plat}"] + ([f"stack:{st}"] if st not in held else [])
            for k in keys[1:]:
                union(keys[0], k)
    new_files: dict[str, set[str]] = {}  # group root -> digests of the files outside the baseline in it
    everywhere: set[str] = set()
    for f in measurements:
        if is_base[f]:
            continue
        if read[f] is None:
            everywhere.add(digest[f])
        for _plat, fam, _link, st in rows[f]:
            new_files.setdefault(find(f"family:{fam}"), set()).add(digest[f])
            if st not in held:
                everywhere.add(digest[f])
    common = _h(list(shared), sorted(d for f, d in digest.items() if is_base[f]), sorted(everywhere))
    all_inputs = _h(sorted(digest.values()), sorted(B.file_digest(f) for f in serving))
    out = {}
    for rel, (hardware, fws) in sorted(wanted.items()):
        try:
            hw = get_hardware(hardware)
        except GenzError:
            out[rel] = _h(common, rel, "unresolved")  # the publish step names the error
            continue
        reach = sorted({find(f"family:{hw.family}"), find(f"link:{link_class(hw)}")})
        own = Path(hardware)
        out[rel] = _h(common, rel, sorted(fws), [sorted(new_files.get(g, ())) for g in reach],
                      B.file_digest(own) if own.suffix in (".yaml", ".yml") and own.is_file() else "",
                      all_inputs if _uses_generation(fws) else "")
    return out
