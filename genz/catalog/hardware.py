"""Hardware presets: one YAML file per accelerator under ``genz/data/hardware``.

A :class:`Hardware` holds a device's datasheet numbers in SI units (FLOP/s, bytes, bytes/s,
seconds, watts) plus its two-level network: the scale-up domain (NVLink/NVSwitch, Infinity
Fabric, ICI; ``domain_size`` devices) and the scale-out network between domains.
The efficiency with which software reaches these peaks is not part of the hardware: it lives
in calibration profiles (:mod:`genz.perf.efficiency`).
"""

from __future__ import annotations

import functools
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


def _num(d: dict, key: str, where: str, default: float | None = None, positive: bool = True) -> float:
    v = d.get(key, default) if isinstance(d, dict) else default
    if v is None:
        raise GenzError(f"{where}.{key}: missing; a number is required")
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise GenzError(f"{where}.{key}: '{v}' is not a number") from None
    if positive and x <= 0:
        raise GenzError(f"{where}.{key}: {v} must be > 0")
    if x < 0:
        raise GenzError(f"{where}.{key}: {v} must be >= 0")
    return x


def from_dict(d: dict, origin: str = "hardware") -> Hardware:
    """Build a :class:`Hardware` from a preset-format mapping (see the folder's README)."""
    if not isinstance(d, dict):
        raise GenzError(f"{origin}: a hardware file must be a mapping")
    hid = str(d.get("id") or Path(origin).stem)
    where = f"{origin}"
    ct = d.get("compute_tflops")
    if not isinstance(ct, dict) or not ct:
        raise GenzError(f"{where}.compute_tflops: missing; give dense TFLOP/s per dtype, e.g. bf16: 989")
    peak: dict[str, float] = {}
    for k, v in ct.items():
        key = str(k).lower()
        if key not in COMPUTE_KEYS:
            raise GenzError(f"{where}.compute_tflops.{k}: unknown dtype; allowed: {', '.join(COMPUTE_KEYS)}")
        if v is None:
            continue
        peak[key] = _num(ct, k, f"{where}.compute_tflops") * TFLOPS
    if not any(k in peak for k in ("bf16", "fp16", "fp32")):
        raise GenzError(f"{where}.compute_tflops: needs at least one of bf16, fp16, fp32")
    mem = d.get("memory") or {}
    up = d.get("scale_up") or {}
    out = d.get("scale_out") or {}
    host = d.get("host") or {}
    power = d.get("power") or {}
    cost = d.get("cost") or {}
    vec = d.get("vector_tflops_fp32")
    vector = float(vec) * TFLOPS if vec else peak.get("fp32", peak.get("bf16", 0) / 8)
    return Hardware(
        id=hid,
        name=str(d.get("name", hid)),
        vendor=str(d.get("vendor", "")),
        family=str(d.get("family", "") or "unknown"),
        peak_flops=peak,
        vector_flops=vector,
        hbm_bytes=_num(mem, "hbm_gb", f"{where}.memory") * 1e9,
        hbm_bw=_num(mem, "hbm_gb_per_s", f"{where}.memory") * 1e9,
        sram_bytes=_num(mem, "sram_mb", f"{where}.memory", default=0, positive=False) * MB,
        scaleup_bw=_num(up, "gb_per_s", f"{where}.scale_up", default=32) * 1e9,
        scaleup_latency=_num(up, "latency_us", f"{where}.scale_up", default=2.0) * US,
        scaleup_domain=int(_num(up, "domain_size", f"{where}.scale_up", default=8)),
        scaleout_bw=_num(out, "gb_per_s", f"{where}.scale_out", default=25) * 1e9,
        scaleout_latency=_num(out, "latency_us", f"{where}.scale_out", default=5.0) * US,
        host_bw=_num(host, "link_gb_per_s", f"{where}.host", default=32) * 1e9,
        host_bytes=_num(host, "memory_gb", f"{where}.host", default=1024) * 1e9,
        tdp_w=_num(power, "tdp_w", f"{where}.power", default=700),
        usd_per_hour=_num(cost, "usd_per_hour", f"{where}.cost", default=0, positive=False),
        aliases=tuple(str(a) for a in d.get("aliases") or ()),
        sources=tuple(str(s) for s in d.get("sources") or ()),
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
