"""Operator-level calibration: kernel timings sharpen the hardware-side efficiency factors.

End-to-end latencies mix everything; single-kernel timings isolate one effect at a time:

* GEMM timings over ``M`` (tokens) × ``N`` × ``K`` pin the large-GEMM compute efficiency, the
  row count at which GEMM efficiency halves (``gemm_m_half``), the weight-streaming memory
  efficiency (small ``M``) and the fixed per-kernel time;
* NCCL all-reduce timings over message sizes and GPU counts pin the collective bandwidth
  efficiency and the software latency per call.

Each table is fitted with the engine's own formulas (:mod:`genz.perf.ops`, :mod:`genz.perf.collectives`)
on the matching hardware preset, and the result becomes the prior of every platform of that
architecture family in the end-to-end fit (:mod:`genz.calibrate.calibration`). The data are the
ai-dynamo/aiconfigurator tables copied under ``calibration/operators/`` (see its README).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from scipy.optimize import least_squares

from ..catalog.files import atomic_write_text
from ..catalog.hardware import get_hardware
from ..errors import GenzError
from ..perf import collectives as coll

#: aiconfigurator system folder -> (hardware preset, architecture family)
SYSTEMS = {"h100_sxm": ("H100-SXM-80GB", "hopper"), "a100_sxm": ("A100-SXM-80GB", "ampere")}


@dataclass
class OpFit:
    family: str
    system: str
    factors: dict[str, float]
    diagnostics: dict[str, float]


def _robust(fun, x0, lo, hi):
    return least_squares(fun, x0, bounds=(lo, hi), loss="soft_l1", f_scale=0.1, max_nfev=200)


def fit_gemm(df: pl.DataFrame, hw_id: str) -> tuple[dict, dict]:
    """Fit (compute, gemm_m_half, memory, kernel_overhead_s) to bf16 GEMM timings.

    Model (per GEMM): ``t = max(2MNK / (peak·c·M/(M+m½)), bytes / (bw·e_m)) + k`` with
    bytes = 2·(NK + MK + MN) for 16-bit operands.
    """
    hw = get_hardware(hw_id)
    d = df.filter(pl.col("gemm_dtype").is_in(["bfloat16", "float16"]))
    M = d.get_column("m").to_numpy().astype(float)
    N = d.get_column("n").to_numpy().astype(float)
    K = d.get_column("k").to_numpy().astype(float)
    t = d.get_column("latency").to_numpy() * 1e-3  # ms -> s
    peak, bw = hw.peak_flops["bf16"], hw.hbm_bw
    flops = 2 * M * N * K
    byts = 2.0 * (N * K + M * K + M * N)

    def model(x):
        c, mh, em, k = np.exp(x)
        return np.maximum(flops / (peak * c * M / (M + mh)), byts / (bw * em)) + k

    x0 = np.log([0.8, 32.0, 0.8, 5e-6])
    lo = np.log([0.05, 1.0, 0.05, 1e-7])
    hi = np.log([1.0, 2048.0, 1.0, 1e-4])
    res = _robust(lambda x: np.log(model(x) / t), x0, lo, hi)
    c, mh, em, k = np.exp(res.x)
    r = np.log(model(res.x) / t)
    return ({"compute": float(c), "gemm_m_half": float(mh), "memory": float(em), "kernel_overhead_s": float(k)},
            {"gemm_rows": len(t), "gemm_geomean_err": float(np.exp(np.mean(np.log(np.abs(np.expm1(r)) + 1e-12))))})


def fit_nccl(df: pl.DataFrame, hw_id: str) -> tuple[dict, dict]:
    """Fit (network, comm_overhead_s) to NCCL all-reduce timings inside one node.

    Model: NCCL ring/tree cost of :func:`genz.perf.collectives.allreduce` at link bandwidth × e_n,
    plus a fixed software time per call.
    """
    hw = get_hardware(hw_id)
    d = df.filter((pl.col("op_name") == "all_reduce") & (pl.col("nccl_dtype") == "half"))
    n = d.get_column("num_gpus").to_numpy().astype(float)
    S = d.get_column("message_size").to_numpy().astype(float) * 2.0  # elements -> bytes (fp16)
    t = d.get_column("latency").to_numpy() * 1e-3

    def model(x):
        e, c = np.exp(x)
        net = coll.Net(up_bw=np.array(hw.scaleup_bw * e), up_lat=np.array(hw.scaleup_latency),
                       domain=np.array(hw.scaleup_domain), out_bw=np.array(hw.scaleout_bw * e),
                       out_lat=np.array(hw.scaleout_latency), custom=False)
        return coll.allreduce(S, n, net) + c

    res = _robust(lambda x: np.log(model(x) / t), np.log([0.7, 5e-6]), np.log([0.05, 1e-8]), np.log([1.0, 1e-3]))
    e, c = np.exp(res.x)
    r = np.log(model(res.x) / t)
    return ({"network": float(e), "comm_overhead_s": float(c)},
            {"nccl_rows": len(t), "nccl_geomean_err": float(np.exp(np.mean(np.log(np.abs(np.expm1(r)) + 1e-12))))})


def operator_files(root: str | Path) -> list[Path]:
    """The kernel-timing tables :func:`fit_operator_priors` reads under ``root``: per known system,
    the newest ``gemm/vllm/*/gemm_perf.parquet`` and ``comm/nccl/*/nccl_perf.parquet`` (the pipeline's
    ``fit_operator_priors`` rule declares exactly these as its inputs)."""
    root = Path(root)
    files = []
    for system in sorted(SYSTEMS):
        base = root / system
        if not base.is_dir():
            continue
        for pattern in ("gemm/vllm/*/gemm_perf.parquet", "comm/nccl/*/nccl_perf.parquet"):
            found = sorted(base.glob(pattern))
            if found:
                files.append(found[-1])
    return files


def fit_operator_files(files: Sequence[str | Path]) -> list[OpFit]:
    """Fit the systems of the given tables (as listed by :func:`operator_files`: one GEMM and/or one
    NCCL table per system folder ``<system>/{gemm/vllm,comm/nccl}/<version>/<table>.parquet``)."""
    by_system: dict[str, dict[str, Path]] = {}
    for f in map(Path, files):
        system = f.parents[3].name
        if system not in SYSTEMS:
            raise GenzError(f"{f}: unknown aiconfigurator system {system!r} (known: {', '.join(sorted(SYSTEMS))})")
        kind = "gemm" if f.name == "gemm_perf.parquet" else "nccl" if f.name == "nccl_perf.parquet" else None
        if kind is None:
            raise GenzError(f"{f}: not a gemm_perf.parquet or nccl_perf.parquet table")
        by_system.setdefault(system, {})[kind] = f
    fits = []
    for system, tables in sorted(by_system.items()):
        hw_id, family = SYSTEMS[system]
        factors: dict[str, float] = {}
        diag: dict[str, float] = {}
        for kind, fit in (("gemm", fit_gemm), ("nccl", fit_nccl)):
            if kind in tables:
                try:  # a damaged or foreign table is the user's file: one line naming it
                    fitted, dg = fit(pl.read_parquet(tables[kind]), hw_id)
                except (pl.exceptions.PolarsError, OSError) as exc:
                    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    raise GenzError(f"{tables[kind]}: cannot use this kernel-timing table ({first})") from None
                factors.update(fitted)
                diag.update(dg)
        if factors:
            fits.append(OpFit(family=family, system=system, factors=factors, diagnostics=diag))
    return fits


def fit_operator_priors(root: str | Path) -> list[OpFit]:
    """Fit every system found under ``root`` (an aiconfigurator-layout folder)."""
    return fit_operator_files(operator_files(root))


def family_priors(fits: list[OpFit]) -> dict[str, dict[str, float]]:
    """Factor values per architecture family (geometric mean if several systems share one)."""
    out: dict[str, dict[str, list[float]]] = {}
    for f in fits:
        fam = out.setdefault(f.family, {})
        for k, v in f.factors.items():
            fam.setdefault(k, []).append(v)
    return {fam: {k: float(math.exp(np.mean(np.log(v)))) for k, v in d.items()} for fam, d in out.items()}


def write_priors(path: str | Path, priors: dict[str, dict[str, float]], sources: list[str | Path] | None = None) -> Path:
    """Write family priors (:func:`family_priors`) as JSON, atomically; ``sources`` (the tables they
    were fitted from) are recorded alongside. Floats survive the round trip exactly."""
    payload = {"priors": {fam: dict(sorted(d.items())) for fam, d in sorted(priors.items())},
               "sources": [str(s) for s in (sources or [])]}
    return atomic_write_text(path, json.dumps(payload, indent=1, sort_keys=True) + "\n")


def read_priors(path: str | Path) -> dict[str, dict[str, float]]:
    """Family priors written by :func:`write_priors`."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {fam: {k: float(v) for k, v in d.items()} for fam, d in data["priors"].items()}
