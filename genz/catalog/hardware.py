"""Hardware presets: one YAML file per accelerator under ``genz/data/hardware``.

A :class:`Hardware` holds a device's datasheet numbers in SI units (FLOP/s, bytes, bytes/s,
seconds, watts) plus its two-level network: the scale-up domain (NVLink/NVSwitch, Infinity
Fabric, ICI; ``domain_size`` devices) and the scale-out network between domains.
The efficiency with which software reaches these peaks is not part of the hardware: it lives
in calibration profiles (:mod:`genz.perf.efficiency`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GenzError, suggest
from .files import DATA_DIR, load_yaml
from .units import MB, TFLOPS, US

HARDWARE_DIR = DATA_DIR / "hardware"

COMPUTE_KEYS = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8", "fp4", "int4")


@dataclass(frozen=True)
class Hardware:
    """One accelerator (a device as the serving software addresses it).

    All peaks are dense (no structured sparsity). Bandwidths are per device, per direction.
    """

    id: str
    name: str
    vendor: str
    family: str  # architecture family (ampere, hopper, cdna3, ...): platforms that share priors
    peak_flops: dict[str, float]  # FLOP/s by dtype (TOPS for integer formats)
    vector_flops: float  # FLOP/s of non-matrix (elementwise) FP32 work
    hbm_bytes: float  # device memory capacity, bytes
    hbm_bw: float  # device memory bandwidth, bytes/s
    sram_bytes: float  # last-level on-chip memory, bytes
    scaleup_bw: float  # scale-up link bandwidth per device per direction, bytes/s
    scaleup_latency: float  # scale-up one-way small-message latency, s
    scaleup_domain: int  # devices in one scale-up domain
    scaleout_bw: float  # scale-out NIC bandwidth per device per direction, bytes/s
    scaleout_latency: float  # scale-out one-way latency, s
    host_bw: float  # host link per direction, bytes/s (offload)
    host_bytes: float  # host memory per node, bytes
    tdp_w: float  # board power, W
    usd_per_hour: float  # price per device-hour (0 = unknown)
    aliases: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    notes: str = ""
    cost_source: str = ""
    raw: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def peak_tflops_bf16(self) -> float:
        """Dense 16-bit matrix TFLOP/s (bf16, else fp16)."""
        return self.peak_flops.get("bf16", self.peak_flops.get("fp16", 0.0)) / TFLOPS


#: allowed range of every number in a hardware file, in the file's units: section, key ->
#: (low, high, low end included, unit). Ceilings are physical sanity bounds ~100-1000x beyond any
#: shipped device (a typo such as 1e30, a unit slip by 1e9, .nan or .inf is an error, never a number).
RANGES: dict[tuple[str, str], tuple[float, float, bool, str]] = {
    ("compute_tflops", "*"): (0.0, 1e6, False, "TFLOP/s"),
    ("", "vector_tflops_fp32"): (0.0, 1e6, False, "TFLOP/s"),
    ("memory", "hbm_gb"): (0.0, 1e6, False, "GB"),
    ("memory", "hbm_gb_per_s"): (0.0, 1e8, False, "GB/s"),
    ("memory", "sram_mb"): (0.0, 1e7, True, "MB"),
    ("scale_up", "gb_per_s"): (0.0, 1e6, False, "GB/s"),
    ("scale_up", "latency_us"): (0.0, 1e6, True, "us"),
    ("scale_up", "domain_size"): (1, 1_048_576, True, "devices"),
    ("scale_out", "gb_per_s"): (0.0, 1e6, False, "GB/s"),
    ("scale_out", "latency_us"): (0.0, 1e6, True, "us"),
    ("host", "link_gb_per_s"): (0.0, 1e6, False, "GB/s"),
    ("host", "memory_gb"): (0.0, 1e7, False, "GB"),
    ("power", "tdp_w"): (0.0, 1e6, False, "W"),
    ("cost", "usd_per_hour"): (0.0, 1e6, True, "USD per device-hour"),
}
#: whole-number fields (a fraction of a device is an error, never truncated)
INTEGER_FIELDS = {("scale_up", "domain_size")}


def _fmt(x: float) -> str:
    """A range end as people write it: 1,000,000 / 0.5."""
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def allowed_range(section: str, key: str) -> str:
    """The allowed range of one field in words, e.g. ``(0, 100,000,000] GB/s``."""
    lo, hi, closed, unit = RANGES.get((section, key)) or RANGES[(section, "*")]
    return f"{'[' if closed else '('}{_fmt(lo)}, {_fmt(hi)}] {unit}"


def _num(d: dict, section: str, key: str, origin: str, default: float | None = None) -> float:
    """Field ``section.key`` of a hardware file: a finite number in its :data:`RANGES` (an integer
    for :data:`INTEGER_FIELDS`); one-line :class:`GenzError` naming the file, field, value and range."""
    v = d.get(key, default) if isinstance(d, dict) else default
    field_name = f"{section}.{key}" if section else key
    if v is None:
        raise GenzError(f"{origin}: {field_name}: missing; a number in {allowed_range(section, key)} is required")
    lo, hi, closed, _ = RANGES.get((section, key)) or RANGES[(section, "*")]
    integer = (section, key) in INTEGER_FIELDS
    kind = "an integer" if integer else "a number"
    try:
        x = float(v) if not isinstance(v, bool) else float("nan")
    except (TypeError, ValueError, OverflowError):
        x = float("nan")
    ok = math.isfinite(x) and (lo <= x if closed else lo < x) and x <= hi and (not integer or x.is_integer())
    if not ok:
        raise GenzError(f"{origin}: {field_name} '{v}' is not {kind} in {allowed_range(section, key)}")
    return x


def _section(d: dict, key: str, origin: str) -> dict:
    """A sub-mapping of a hardware file (``memory``, ``scale_up``, ...); empty when absent."""
    sub = d.get(key)
    if sub is None:
        return {}
    if not isinstance(sub, dict):
        raise GenzError(f"{origin}: {key} must be a mapping of fields, got '{sub}'")
    return sub


def _names(d: dict, key: str, origin: str) -> tuple[str, ...]:
    """A list of names (aliases, sources); a single string is a list of one."""
    v = d.get(key)
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,)
    if not isinstance(v, list):
        raise GenzError(f"{origin}: {key} must be a list of names, got '{v}'")
    return tuple(str(a) for a in v)


def from_dict(d: dict, origin: str = "hardware") -> Hardware:
    """Build a :class:`Hardware` from a preset-format mapping (see the folder's README).

    Every number is checked here, the one place: finite, inside its physical range
    (:data:`RANGES`), whole where it counts devices; an error names the file, the field, the value
    and the allowed range.
    """
    if not isinstance(d, dict):
        raise GenzError(f"{origin}: a hardware file must be a mapping of fields (id, compute_tflops, memory, ...)")
    hid = str(d.get("id") or Path(origin).stem)
    ct = d.get("compute_tflops")
    if not isinstance(ct, dict) or not ct:
        raise GenzError(f"{origin}: compute_tflops: missing; give dense TFLOP/s per dtype, e.g. bf16: 989")
    peak: dict[str, float] = {}
    for k, v in ct.items():
        key = str(k).lower()
        if key not in COMPUTE_KEYS:
            raise GenzError(f"{origin}: compute_tflops.{k}: unknown dtype; allowed: {', '.join(COMPUTE_KEYS)}")
        if v is None:
            continue
        peak[key] = _num(ct, "compute_tflops", k, origin) * TFLOPS
    if not any(k in peak for k in ("bf16", "fp16", "fp32")):
        raise GenzError(f"{origin}: compute_tflops: needs at least one of bf16, fp16, fp32")
    mem, up, out, host, power, cost = (_section(d, k, origin) for k in
                                       ("memory", "scale_up", "scale_out", "host", "power", "cost"))
    if d.get("vector_tflops_fp32") is not None:
        vector = _num(d, "", "vector_tflops_fp32", origin) * TFLOPS
    else:
        vector = peak.get("fp32", peak.get("bf16", peak.get("fp16", 0.0)) / 8)
    return Hardware(
        id=hid,
        name=str(d.get("name", hid)),
        vendor=str(d.get("vendor", "")),
        family=str(d.get("family", "") or "unknown"),
        peak_flops=peak,
        vector_flops=vector,
        hbm_bytes=_num(mem, "memory", "hbm_gb", origin) * 1e9,
        hbm_bw=_num(mem, "memory", "hbm_gb_per_s", origin) * 1e9,
        sram_bytes=_num(mem, "memory", "sram_mb", origin, default=0) * MB,
        scaleup_bw=_num(up, "scale_up", "gb_per_s", origin, default=32) * 1e9,
        scaleup_latency=_num(up, "scale_up", "latency_us", origin, default=2.0) * US,
        scaleup_domain=int(_num(up, "scale_up", "domain_size", origin, default=8)),
        scaleout_bw=_num(out, "scale_out", "gb_per_s", origin, default=25) * 1e9,
        scaleout_latency=_num(out, "scale_out", "latency_us", origin, default=5.0) * US,
        host_bw=_num(host, "host", "link_gb_per_s", origin, default=32) * 1e9,
        host_bytes=_num(host, "host", "memory_gb", origin, default=1024) * 1e9,
        tdp_w=_num(power, "power", "tdp_w", origin, default=700),
        usd_per_hour=_num(cost, "cost", "usd_per_hour", origin, default=0),
        aliases=_names(d, "aliases", origin),
        sources=_names(d, "sources", origin),
        notes=str(d.get("notes", "") or ""),
        cost_source=str(cost.get("source", "") or "") + (f" ({cost['as_of']})" if cost.get("as_of") else ""),
        raw=d,
    )


@functools.lru_cache(maxsize=1)
def _index() -> dict[str, Path]:
    idx: dict[str, Path] = {}
    for path in sorted(HARDWARE_DIR.glob("*.yaml")):
        d = load_yaml(path)
        if not isinstance(d, dict) or "id" not in d:
            raise GenzError(f"{path}: a hardware file needs an 'id'")
        for n in [d["id"], *(d.get("aliases") or ())]:
            idx.setdefault(str(n).strip().lower(), path)
    return idx


@functools.cache
def _load(path: Path) -> Hardware:
    return from_dict(load_yaml(path), str(path))  # type: ignore[arg-type]


def hardware_ids() -> list[str]:
    """Preset ids, sorted."""
    return sorted({_load(p).id for p in _index().values()}, key=str.lower)


@functools.lru_cache(maxsize=1024)
def get_hardware(name: str) -> Hardware:
    """Resolve a preset id/alias (case-insensitive) or a path to a hardware YAML."""
    if name is None or str(name).strip() == "":
        raise GenzError("hardware: empty; give a preset id (see `genz hardware`) or a YAML path")
    name = str(name).strip()
    if name.endswith((".yaml", ".yml")) or Path(name).is_file():
        p = Path(name)
        if not p.exists():
            raise GenzError(f"hardware: file not found: {p}")
        return from_dict(load_yaml(p), str(p))  # type: ignore[arg-type]
    hit = _index().get(name.lower())
    if hit is None:
        raise GenzError(
            f"hardware: unknown hardware '{name}'; allowed: {', '.join(hardware_ids())}"
            + suggest(name, hardware_ids())
        )
    return _load(hit)


def all_hardware() -> list[Hardware]:
    """Every preset, sorted by id."""
    return [get_hardware(h) for h in hardware_ids()]
