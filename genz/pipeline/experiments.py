"""Experiment grids: YAML specs → validated → expanded scenario tables → deterministic shards.

An experiment file (``experiments/<name>.yaml``) declares axes; the grid is their Cartesian
product::

    description: Llama-3 family on current GPUs, chat and RAG
    grid:
      model: [meta-llama/Llama-3.1-8B, meta-llama/Llama-3.1-70B]
      hardware: [H100-SXM-80GB, MI300X]
      use_case: [chat, rag]                 # from the use-case library (genz/data/usecases.yaml): lengths + SLOs
      parallel: [{tp: 1}, {tp: 8}]          # a list of mappings sets several columns at once
      precision: [{weight_dtype: bf16}, {weight_dtype: fp8, kv_dtype: fp8}]
      batch_size: [1, 16, 64]
    exclude:                                # drop combinations matching every key given
      - {model: meta-llama/Llama-3.1-70B, parallel: {tp: 1}}

Specs are checked against ``genz/data/schemas/experiment.schema.yaml`` (JSON schema) with a
one-line error naming the file, the key and what is allowed; so are the ``exclude`` keys (an axis,
or a column an axis sets) and values (each entry must match some scenario). Every expanded row
gets a stable ``scenario_id``: a hash of its scenario columns, so the same scenario has the same id
in every run and every experiment. Shards are the grid's rows for one hardware, cut into parts of
at most ``shard_size`` rows, in expansion order.

The grid is never expanded to plan the shards or to cut one: row ``i`` of the Cartesian product
(first axis slowest, like a cross join in file order) is the mixed-radix number
``i = sum_a pos_a * prod_{b > a} n_b`` over the axis lengths ``n_a``, so the axis positions of any
block of rows are ``pos_a = (i // prod_{b > a} n_b) mod n_a`` (:func:`_positions`). An exclude
entry is a box (per axis, the set of values it matches), so a row is kept unless its positions
fall inside every axis set of some entry: a vectorized lookup per block. Counting per hardware
only needs the axes the excludes touch (the others multiply the count by their lengths), and a
shard scans its own hardware's rows in blocks, keeping ``O(block + shard_size)`` memory.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import numpy as np
import polars as pl

from ..catalog.files import DATA_DIR, load_yaml
from ..catalog.hardware import get_hardware
from ..catalog.usecases import PACKAGED as USECASES_PACKAGED
from ..catalog.usecases import load_usecases
from ..catalog.zoo import get_model
from ..errors import GenzError
from ..perf.scenarios import FLOAT_COLUMNS, INT_COLUMNS, STR_COLUMNS

SCHEMA_PATH = DATA_DIR / "schemas" / "experiment.schema.yaml"
SCENARIO_COLUMNS = tuple(dict.fromkeys([*STR_COLUMNS, *INT_COLUMNS, *FLOAT_COLUMNS]))
SLO_COLUMNS = ("slo_ttft_ms", "slo_tpot_ms", "slo_e2e_ms")
SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
#: the grid's size ceiling when none is configured (config key ``max_scenarios``)
MAX_SCENARIOS = 20_000_000
#: rows per block when scanning a grid's flat index (memory ``O(BLOCK)`` per scan)
BLOCK = 1 << 20


@dataclass(frozen=True)
class Experiment:
    """A validated experiment spec."""

    name: str
    path: Path
    description: str
    axes: tuple[tuple[str, tuple], ...]  # axis name -> values (scalars or mappings), in file order
    exclude: tuple[dict, ...] = ()
    requirements: dict = field(default_factory=dict, hash=False, compare=False)
    frontier: dict = field(default_factory=dict, hash=False, compare=False)  # a frontier sweep (not estimated)
    operators: str = "sample"
    usecases_path: Path | None = None


def slug(text: str) -> str:
    """File-system/wildcard-safe lowercase name."""
    s = re.sub(r"[^a-z0-9._-]+", "-", str(text).lower()).strip("-")
    return s or "x"


@functools.lru_cache(maxsize=1)
def _schema() -> dict:
    return load_yaml(SCHEMA_PATH)  # type: ignore[return-value]


def schema_message(e: BaseException) -> str:
    """One line for a JSON-schema validation error: ``where: what; what is allowed`` (any other
    exception: its first line)."""
    if not isinstance(e, jsonschema.ValidationError):
        return (str(e).splitlines() or [type(e).__name__])[0]
    where = ".".join(str(p) for p in e.absolute_path) or "(top level)"
    msg = e.message
    if e.validator == "additionalProperties":
        allowed = ", ".join(sorted((e.schema.get("properties") or {}).keys())) or "see the schema"
        msg = f"{msg}; allowed keys: {allowed}"
    elif e.validator == "enum":
        msg = f"{e.instance!r} not allowed; allowed: {', '.join(map(str, e.validator_value))}"
    return f"{where}: {msg}"


def load(path: str | Path, usecases: str | Path | None = None) -> Experiment:
    """Read and validate an experiment file."""
    path = Path(path)
    spec = load_yaml(path)
    if not isinstance(spec, dict):
        raise GenzError(f"{path}: an experiment file must be a mapping with a 'grid'")
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(spec), key=lambda e: list(e.absolute_path))
    if errors:
        raise GenzError(f"{path}: {schema_message(errors[0])}")
    name = str(spec.get("name") or path.stem)
    if not SLUG.match(name):
        if "name" in spec:
            raise GenzError(f"{path}: name '{name}' must match {SLUG.pattern} (lowercase, digits, . _ -)")
        raise GenzError(f"{path}: the file name '{path.stem}' is not a valid experiment name (lowercase, digits, "
                        f". _ -: {SLUG.pattern}); rename the file or give the experiment a `name:`")
    # the library: given, named by the spec, next to the experiment file, else the shipped one
    uc_path = Path(usecases) if usecases else path.parent / str(spec.get("usecases", "usecases.yaml"))
    if not usecases and "usecases" not in spec and not uc_path.is_file():
        uc_path = USECASES_PACKAGED
    axes = tuple((str(k), tuple(v)) for k, v in spec["grid"].items())
    for axis, values in axes:
        if axis in SCENARIO_COLUMNS or axis == "use_case":
            if any(isinstance(v, dict) for v in values):
                raise GenzError(f"{path}: grid.{axis}: a scenario column takes plain values, not mappings")
        elif not all(isinstance(v, dict) for v in values):
            raise GenzError(f"{path}: grid.{axis}: '{axis}' is not a scenario column, so its values must be "
                            f"mappings of scenario columns (e.g. {{tp: 8, pp: 1}}); columns: "
                            f"{', '.join(SCENARIO_COLUMNS)}")
        for v in values:
            if isinstance(v, dict):
                bad = [k for k in v if k not in SCENARIO_COLUMNS]
                if bad:
                    raise GenzError(f"{path}: grid.{axis}: unknown column '{bad[0]}'; allowed: "
                                    f"{', '.join(SCENARIO_COLUMNS)}")
    if "use_case" in spec["grid"]:
        lib = load_usecases(uc_path)
        for u in spec["grid"]["use_case"]:
            if u not in lib:
                raise GenzError(f"{path}: grid.use_case: '{u}' not in {uc_path}; allowed: {', '.join(lib)}")
    elif "input_tokens" not in spec["grid"] or "output_tokens" not in spec["grid"]:
        raise GenzError(f"{path}: grid needs use_case, or both input_tokens and output_tokens")
    # every model and platform resolves (a typo would fill the warehouse with error rows)
    for axis, resolve in (("model", get_model), ("hardware", get_hardware)):
        for v in spec["grid"].get(axis, []):
            try:
                resolve(str(v))
            except GenzError as exc:
                msg = str(exc).removeprefix(f"{axis}: ")
                raise GenzError(f"{path}: grid.{axis}: {msg}") from None
    owners = _column_owners(path, axes)
    exclude = tuple(spec.get("exclude") or ())
    for i, ex in enumerate(exclude):
        for k, v in ex.items():
            _exclude_key(path, i, k, v, axes, owners)
    requirements = dict(spec.get("requirements") or {})
    if requirements.get("enabled") and "use_case" not in spec["grid"]:
        raise GenzError(f"{path}: requirements.enabled: the requirement search needs a use_case axis "
                        "(its SLOs come from the use-case library)")
    return Experiment(name=name, path=path, description=str(spec.get("description", "")), axes=axes,
                      exclude=exclude, requirements=requirements,
                      frontier=dict(spec.get("frontier") or {}), operators=str(spec.get("operators", "sample")),
                      usecases_path=uc_path if "use_case" in spec["grid"] else None)


def _axis_columns(axis: str, values: tuple) -> tuple[str, ...]:
    """The scenario-table columns one axis sets (what :func:`_axis_frame` builds)."""
    if axis == "use_case":
        return ("use_case", "input_tokens", "output_tokens", *SLO_COLUMNS)
    if values and isinstance(values[0], dict):
        return (f"axis_{axis}", *dict.fromkeys(k for v in values for k in v))
    return (axis,)


def _column_owners(path: Path, axes: tuple[tuple[str, tuple], ...]) -> dict[str, str]:
    """Column -> the axis that sets it; two axes setting one column is an error."""
    owners: dict[str, str] = {}
    for axis, values in axes:
        dup = [c for c in _axis_columns(axis, values) if c in owners]
        if dup:
            raise GenzError(f"{path}: grid.{axis} sets {', '.join(dup)}, which another axis already sets")
        owners.update(dict.fromkeys(_axis_columns(axis, values), axis))
    return owners


def _exclude_key(path: Path, i: int, key: str, value, axes: tuple, owners: dict[str, str]) -> None:
    """One key of ``exclude[i]``: an axis name (a group axis takes a mapping), or a column one axis sets."""
    groups = {a for a, vals in axes if vals and isinstance(vals[0], dict)}
    where = f"{path}: exclude[{i}].{key}"
    if key in groups:
        if not isinstance(value, dict):
            raise GenzError(f"{where}: '{key}' is a group axis: give one of its mappings (e.g. {{tp: 8}}), "
                            f"not {value!r}")
        return
    if key in owners and not key.startswith("axis_"):
        if isinstance(value, dict):
            raise GenzError(f"{where}: '{key}' takes a plain value, not a mapping")
        return
    allowed = list(dict.fromkeys([a for a, _ in axes] + [c for c in owners if not c.startswith("axis_")]))
    raise GenzError(f"{where}: unknown key '{key}'; allowed: the axes and the columns they set: "
                    f"{', '.join(allowed)}")


def _axis_frame(axis: str, values: tuple, usecases: dict[str, dict] | None) -> pl.DataFrame:
    if axis == "use_case":
        rows = []
        for u in values:
            uc = usecases[u]  # type: ignore[index]
            slo = uc.get("slo") or {}
            rows.append({"use_case": u, "input_tokens": int(uc["input_tokens"]),
                         "output_tokens": int(uc["output_tokens"]),
                         "slo_ttft_ms": float(slo["ttft_ms"]) if slo.get("ttft_ms") is not None else None,
                         "slo_tpot_ms": float(slo["tpot_ms"]) if slo.get("tpot_ms") is not None else None,
                         "slo_e2e_ms": float(slo["e2e_ms"]) if slo.get("e2e_ms") is not None else None})
        return pl.DataFrame(rows, schema={"use_case": pl.String, "input_tokens": pl.Int64, "output_tokens": pl.Int64,
                                          "slo_ttft_ms": pl.Float64, "slo_tpot_ms": pl.Float64,
                                          "slo_e2e_ms": pl.Float64})
    if values and isinstance(values[0], dict):
        keys = list(dict.fromkeys(k for v in values for k in v))
        label = [json.dumps(v, sort_keys=True, separators=(",", ":")) for v in values]
        data = {k: [None if v.get(k) is None else str(v.get(k)) for v in values] for k in keys}
        return pl.DataFrame({f"axis_{axis}": label, **data}, schema={f"axis_{axis}": pl.String,
                                                                     **dict.fromkeys(keys, pl.String)})
    return pl.DataFrame({axis: [str(v) for v in values]}, schema={axis: pl.String})


class _Grid:
    """An experiment's grid as index arithmetic: one small frame per axis (a row per value) and the
    exclude entries as boxes (per axis, a boolean mask over its values)."""

    def __init__(self, exp: Experiment):
        usecases = load_usecases(exp.usecases_path) if exp.usecases_path else None
        self.exp = exp
        self.names = [axis for axis, _ in exp.axes]
        self.frames = [_axis_frame(axis, values, usecases) for axis, values in exp.axes]
        owner = {c: a for a, f in enumerate(self.frames) for c in f.columns}
        self.boxes: list[dict[int, np.ndarray]] = []
        for i, ex in enumerate(exp.exclude):
            box: dict[int, np.ndarray] = {}
            for k, v in ex.items():
                if isinstance(v, dict):
                    col, want = f"axis_{k}", json.dumps(v, sort_keys=True, separators=(",", ":"))
                else:
                    col, want = k, str(v)
                a = owner[col]
                hit = (self.frames[a].get_column(col).cast(pl.String) == want).fill_null(False).to_numpy()
                if not hit.any():
                    raise GenzError(f"{exp.path}: exclude[{i}].{k}: {v!r} matches no value of grid."
                                    f"{self.names[a]}, so the entry excludes nothing")
                box[a] = box[a] & hit if a in box else hit
            if not all(m.any() for m in box.values()):
                raise GenzError(f"{exp.path}: exclude[{i}]: {json.dumps(ex, sort_keys=True)} matches no scenario "
                                "(its keys on one axis contradict each other)")
            self.boxes.append(box)

    def choices(self, hardware: str | None = None) -> list[np.ndarray]:
        """Value indices per axis: all of them, or only the hardware values whose slug is ``hardware``."""
        out = [np.arange(f.height) for f in self.frames]
        if hardware is not None:
            a = self.names.index("hardware")
            hws = self.frames[a].get_column("hardware").to_list()
            out[a] = np.array([j for j, h in enumerate(hws) if hardware_slug(h) == hardware], dtype=np.int64)
        return out

    def _kept(self, flat: np.ndarray, choices: list[np.ndarray], axes: list[int]) -> np.ndarray:
        """Mask of the rows (flat indices into the product of ``choices`` over ``axes``) no entry excludes."""
        pos = dict(zip(axes, _positions(flat, [len(choices[a]) for a in axes]), strict=True))
        out = np.ones(flat.size, dtype=bool)
        for box in self.boxes:
            out &= ~np.logical_and.reduce([m[choices[a][pos[a]]] for a, m in box.items()])
        return out

    def count(self, choices: list[np.ndarray]) -> int:
        """Rows of the product of ``choices`` no entry excludes: the excluded axes are scanned, the
        others multiply (an exclude decides on its own axes only)."""
        touched = sorted({a for box in self.boxes for a in box})
        free = math.prod(len(c) for a, c in enumerate(choices) if a not in touched)
        sub = math.prod(len(choices[a]) for a in touched)
        kept = sum(int(self._kept(np.arange(s, min(s + BLOCK, sub)), choices, touched).sum())
                   for s in range(0, sub, BLOCK))
        return free * kept

    def rows(self, choices: list[np.ndarray], start: int = 0, n: int | None = None) -> pl.DataFrame:
        """Kept rows ``start .. start + n`` (in expansion order) of the product of ``choices``."""
        axes = list(range(len(choices)))
        total = math.prod(len(c) for c in choices)
        stop = total if n is None else start + n
        if not self.boxes:
            flat = np.arange(min(start, total), min(stop, total))
        else:  # scan blocks of the product, counting kept rows until the wanted ranks are passed
            got, seen = [], 0
            for s in range(0, total, BLOCK):
                block = np.arange(s, min(s + BLOCK, total))
                kept = block[self._kept(block, choices, axes)]
                lo, hi = max(start - seen, 0), min(stop - seen, kept.size)
                if lo < hi:
                    got.append(kept[lo:hi])
                seen += kept.size
                if seen >= stop:
                    break
            flat = np.concatenate(got) if got else np.arange(0)
        pos = _positions(flat, [len(c) for c in choices])
        cols = [f[choices[a][pos[a]]] for a, f in enumerate(self.frames)]
        return pl.concat(cols, how="horizontal").with_columns(experiment=pl.lit(self.exp.name))


def _positions(flat: np.ndarray, lengths: list[int]) -> list[np.ndarray]:
    """Per axis, the value position of each flat index of a Cartesian product (last axis fastest)."""
    out = []
    rest = flat.astype(np.int64)
    for n in reversed(lengths):
        out.append(rest % n)
        rest = rest // n
    return out[::-1]


def size(exp: Experiment) -> int:
    """Rows of the grid before excludes: the product of the axis lengths (nothing is expanded)."""
    return math.prod(len(values) for _, values in exp.axes)


def check_size(exp: Experiment, max_scenarios: int = MAX_SCENARIOS) -> int:
    """The grid's size before excludes, or a one-line error when it exceeds ``max_scenarios``."""
    n = size(exp)
    if n > max_scenarios:
        dims = " x ".join(f"{axis} {len(values)}" for axis, values in exp.axes)
        raise GenzError(f"{exp.path}: the grid has {n:,} scenarios ({dims}), more than max_scenarios = "
                        f"{max_scenarios:,}; split the experiment or raise max_scenarios in the config")
    return n


def expand(exp: Experiment) -> pl.DataFrame:
    """The experiment's full grid (every cell text, like a scenario CSV), in deterministic order."""
    grid = _Grid(exp)
    return grid.rows(grid.choices())


def count(exp: Experiment) -> int:
    """Rows in the expanded grid (counted, not expanded)."""
    grid = _Grid(exp)
    return grid.count(grid.choices())


def hardware_slug(name: str) -> str:
    """Path-safe name of a hardware cell (the preset id, lowercased)."""
    try:
        return slug(get_hardware(name).id)
    except GenzError:
        return slug(Path(name).stem)


def hardware_counts(exp: Experiment) -> dict[str, int]:
    """Rows per hardware slug (counted, not expanded); a grid that keeps no row is an error."""
    grid = _Grid(exp)
    hws = dict(exp.axes)["hardware"]
    per = {h: grid.count(grid.choices(h)) for h in sorted({hardware_slug(str(v)) for v in hws})}
    if not any(per.values()):
        raise GenzError(f"{exp.path}: the grid expands to no scenarios (its exclude entries remove all "
                        f"{size(exp):,}); remove or narrow an exclude entry")
    return {h: n for h, n in per.items() if n}


def shards(exp: Experiment, shard_size: int) -> list[tuple[str, int]]:
    """(hardware slug, part) pairs of the experiment's shards, sorted."""
    return [(hw, i) for hw, n in hardware_counts(exp).items() for i in range(-(-n // shard_size))]


def shard_rows(exp: Experiment, hardware: str, part: int, shard_size: int) -> pl.DataFrame:
    """The rows of one shard (with their stable scenario ids): the ``part``-th run of ``shard_size``
    kept rows of one hardware, in expansion order, computed without expanding the rest of the grid."""
    grid = _Grid(exp)
    return with_scenario_ids(grid.rows(grid.choices(hardware), part * shard_size, shard_size))


KEY_COLUMNS = (*SCENARIO_COLUMNS, "use_case", *SLO_COLUMNS)


def scenario_key(row: dict) -> str:
    """Canonical text of a grid point: its non-blank scenario columns plus its use case and SLO
    (two use cases with the same request shape are different grid points), sorted, numbers
    normalized."""
    items = {}
    for k in KEY_COLUMNS:
        v = row.get(k)
        if v is None or (isinstance(v, str) and v.strip() == ""):
            continue
        sv = str(v).strip()
        try:
            f = float(sv)
            sv = str(int(f)) if f.is_integer() else repr(f)
        except ValueError:
            sv = sv.lower() if k in ("hardware", "weight_dtype", "act_dtype", "kv_dtype", "framework") else sv
        items[k] = sv
    return json.dumps(items, sort_keys=True, separators=(",", ":"))


def with_scenario_ids(df: pl.DataFrame) -> pl.DataFrame:
    """Add ``scenario_id`` (16 hex digits of sha256 of :func:`scenario_key`).

    The key text is assembled column-wise: each column's distinct values are rendered once (as
    :func:`scenario_key` renders them: ``"k":"v"``, or nothing for a blank), then joined per row in
    key order, so a grid of 10⁵ rows with a few distinct values per column costs one hash per row."""
    cols = [c for c in sorted(KEY_COLUMNS) if c in df.columns]
    if df.height == 0:
        return df.with_columns(scenario_id=pl.lit(None, dtype=pl.String))
    parts = []
    for c in cols:
        col = df.get_column(c)
        frag = {v: _key_fragment(c, v) for v in col.unique().to_list()}
        text = {k: v for k, v in frag.items() if k is not None}
        parts.append(col.replace_strict(text, default=None, return_dtype=pl.String).alias(c)
                     if text else pl.Series(c, [None] * df.height, dtype=pl.String))
    body = pl.DataFrame(parts).select(pl.concat_str(pl.all(), separator=",", ignore_nulls=True).alias("k"))
    keys = body.get_column("k").fill_null("").to_list()
    ids = [hashlib.sha256(("{" + k + "}").encode()).hexdigest()[:16] for k in keys]
    return df.with_columns(scenario_id=pl.Series(ids, dtype=pl.String))


def _key_fragment(column: str, value) -> str | None:
    """One column's part of :func:`scenario_key` (``None`` for a blank cell)."""
    text = scenario_key({column: value})
    return text[1:-1] or None


def discover(folder: str | Path, exclude: tuple[str, ...] = ("usecases.yaml",)) -> dict[str, Path]:
    """Experiment files in a folder (``*.yaml``; library files and ``_*`` excluded), by experiment
    name: the file's ``name:``, else its file name. Two files with one name is a one-line error
    naming both (their rows would land in one experiment twice)."""
    out: dict[str, Path] = {}
    for p in sorted(Path(folder).glob("*.yaml")):
        if p.name in exclude or p.name.startswith("_"):
            continue
        try:
            spec = load_yaml(p)
        except GenzError:
            spec = None  # malformed: reported by load() if the experiment is run
        name = str(spec.get("name") or p.stem) if isinstance(spec, dict) else p.stem
        if name in out:
            raise GenzError(f"{p}: experiment name '{name}' is also the name of {out[name]}; experiment "
                            "names must be unique (set a different `name:` in one of them)")
        out[name] = p
    return out


@dataclass(frozen=True)
class Plan:
    """What the pipeline runs: the validated experiments by name and each one's shards."""

    specs: dict[str, Experiment]
    shards: dict[str, list[tuple[str, int]]]


def plan(folder: str | Path, library: tuple[str, ...] = ("usecases.yaml",), include: tuple[str, ...] = (),
         shard_size: int = 250_000, max_scenarios: int = MAX_SCENARIOS) -> Plan:
    """Discover, select (``include``), validate, size-check and shard the experiments of a folder,
    without expanding any grid. Every problem is a one-line :class:`GenzError` naming the file."""
    files = discover(folder, tuple(library))
    if include:
        unknown = sorted(set(include) - set(files))
        if unknown:
            raise GenzError(f"config include: unknown experiment(s) {', '.join(unknown)}; "
                            f"available: {', '.join(files) or '(none in ' + str(folder) + ')'}")
        files = {k: v for k, v in files.items() if k in include}
    specs = {}
    for name, path in files.items():
        exp = load(path)
        if exp.name != name:  # discover and load read the same file: only a race could differ
            raise GenzError(f"{path}: experiment name changed while reading ('{name}' -> '{exp.name}')")
        check_size(exp, max_scenarios)
        specs[name] = exp
    return Plan(specs=specs, shards={name: shards(exp, shard_size) for name, exp in specs.items()})
