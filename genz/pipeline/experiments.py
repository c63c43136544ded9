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
one-line error naming the file, the key and what is allowed. Every expanded row gets a stable
``scenario_id``: a hash of its scenario columns, so the same scenario has the same id in every
run and every experiment. Shards are the grid's rows for one hardware, cut into parts of at
most ``shard_size`` rows, in expansion order.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import polars as pl

from ..catalog.files import DATA_DIR, load_yaml
from ..catalog.hardware import get_hardware
from ..catalog.usecases import PACKAGED as USECASES_PACKAGED
from ..catalog.usecases import load_usecases
from ..errors import GenzError
from ..perf.scenarios import FLOAT_COLUMNS, INT_COLUMNS, STR_COLUMNS

SCHEMA_PATH = DATA_DIR / "schemas" / "experiment.schema.yaml"
SCENARIO_COLUMNS = tuple(dict.fromkeys([*STR_COLUMNS, *INT_COLUMNS, *FLOAT_COLUMNS]))
SLO_COLUMNS = ("slo_ttft_ms", "slo_tpot_ms", "slo_e2e_ms")
SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


@dataclass(frozen=True)
class Experiment:
    """A validated experiment spec."""

    name: str
    path: Path
    description: str
    axes: tuple[tuple[str, tuple], ...]  # axis name -> values (scalars or mappings), in file order
    exclude: tuple[dict, ...] = ()
    requirements: dict = field(default_factory=dict, hash=False, compare=False)
    operators: str = "sample"
    usecases_path: Path | None = None


def slug(text: str) -> str:
    """File-system/wildcard-safe lowercase name."""
    s = re.sub(r"[^a-z0-9._-]+", "-", str(text).lower()).strip("-")
    return s or "x"


@functools.lru_cache(maxsize=1)
def _schema() -> dict:
    return load_yaml(SCHEMA_PATH)  # type: ignore[return-value]


def load(path: str | Path, usecases: str | Path | None = None) -> Experiment:
    """Read and validate an experiment file."""
    path = Path(path)
    spec = load_yaml(path)
    if not isinstance(spec, dict):
        raise GenzError(f"{path}: an experiment file must be a mapping with a 'grid'")
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(spec), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        where = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        msg = e.message
        if e.validator == "additionalProperties":
            allowed = ", ".join(sorted((e.schema.get("properties") or {}).keys())) or "see the schema"
            msg = f"{msg}; allowed keys: {allowed}"
        elif e.validator == "enum":
            msg = f"{e.instance!r} not allowed; allowed: {', '.join(map(str, e.validator_value))}"
        raise GenzError(f"{path}: {where}: {msg}")
    name = str(spec.get("name") or path.stem)
    if not SLUG.match(name):
        raise GenzError(f"{path}: name '{name}' must match {SLUG.pattern} (lowercase, digits, . _ -)")
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
    for h in spec["grid"].get("hardware", []):
        get_hardware(str(h))  # raises a one-line error for an unknown preset
    return Experiment(name=name, path=path, description=str(spec.get("description", "")), axes=axes,
                      exclude=tuple(spec.get("exclude") or ()), requirements=dict(spec.get("requirements") or {}),
                      operators=str(spec.get("operators", "sample")),
                      usecases_path=uc_path if "use_case" in spec["grid"] else None)


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


def expand(exp: Experiment) -> pl.DataFrame:
    """The experiment's full grid (every cell text, like a scenario CSV), in deterministic order."""
    usecases = load_usecases(exp.usecases_path) if exp.usecases_path else None
    frame: pl.DataFrame | None = None
    for axis, values in exp.axes:
        f = _axis_frame(axis, values, usecases)
        dup = [c for c in f.columns if frame is not None and c in frame.columns]
        if dup:
            raise GenzError(f"{exp.path}: grid.{axis} sets {', '.join(dup)}, which another axis already sets")
        frame = f if frame is None else frame.join(f, how="cross")
    assert frame is not None
    for ex in exp.exclude:
        cond = pl.lit(True)
        for k, v in ex.items():
            if isinstance(v, dict):
                cond = cond & (pl.col(f"axis_{k}") == json.dumps(v, sort_keys=True, separators=(",", ":")))
            else:
                cond = cond & (pl.col(k).cast(pl.String) == str(v))
        frame = frame.filter(~cond)
    frame = frame.with_columns(experiment=pl.lit(exp.name))
    return frame


def count(exp: Experiment) -> int:
    """Rows in the expanded grid."""
    return expand(exp).height


def hardware_slug(name: str) -> str:
    """Path-safe name of a hardware cell (the preset id, lowercased)."""
    try:
        return slug(get_hardware(name).id)
    except GenzError:
        return slug(Path(name).stem)


def shards(exp: Experiment, shard_size: int) -> list[tuple[str, int]]:
    """(hardware slug, part) pairs of the experiment's shards, sorted."""
    counts = expand(exp).group_by("hardware").len()
    per: dict[str, int] = {}
    for h, n in counts.iter_rows():
        per[hardware_slug(h)] = per.get(hardware_slug(h), 0) + n
    out = []
    for hw in sorted(per):
        out += [(hw, i) for i in range(max(1, -(-per[hw] // shard_size)))]
    return out


def shard_rows(exp: Experiment, hardware: str, part: int, shard_size: int) -> pl.DataFrame:
    """The rows of one shard (with their stable scenario ids)."""
    g = expand(exp)
    slugs = {h: hardware_slug(h) for h in g.get_column("hardware").unique().to_list()}
    g = g.filter(pl.col("hardware").replace_strict(slugs, return_dtype=pl.String) == hardware)
    g = g.slice(part * shard_size, shard_size)
    return with_scenario_ids(g)


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
    """Experiment files in a folder, by experiment name (file stem); library files excluded."""
    out = {}
    for p in sorted(Path(folder).glob("*.yaml")):
        if p.name in exclude or p.name.startswith("_"):
            continue
        out[p.stem] = p
    return out
