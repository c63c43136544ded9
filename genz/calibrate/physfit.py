"""Physics-first joint calibration: hardware factors per chip, software factors per serving stack.

What is fitted
    Every measured row ``i`` runs on a platform ``p(i)`` of architecture family ``f(i)`` under a
    serving stack ``s(i)``. Its efficiencies are (log space, see :func:`genz.perf.efficiency.compose`)::

        compute   = exp(C[f] + SWc[s])           attention = exp(A[f] + SWa[s])
        memory    = exp(M[f] + dM[p] + SWm[s])   network   = exp(N[link(p)])
        gemm_m_half, kernel_overhead_s = exp(G[f]), exp(K[f])
        step/seq/comm/request overheads = exp(O[s, ·])

    The die factors (``C, A, G, K``) are shared by every platform of a family (H100, H200 and GH200
    are one GH100 die), the memory-system factor gets a per-platform deviation shrunk towards the
    family (``dM``), the collective efficiency belongs to the link class (a family's own fabric, or
    PCIe), and the software factors are shared by every platform a stack
    runs on. So a stack's slowness (an early ROCm build, eager PyTorch) is carried by that stack's
    ``SWc, SWa, SWm``, never by the chip, and two chips compared under one stack differ only by their
    datasheets and hardware factors.

Priors, bounds, identifiability
    MAP with a soft-L1 data term on ``log(predicted/measured)`` and Gaussian priors in log space:
    family factors around the kernel-timing fit of the family (:mod:`genz.calibrate.opcal`, tight) or the
    defaults (wide), the reference production stacks' multipliers around 1 (tight), any other
    stack's around 1 (wide), overheads around the defaults (wide). Every factor stays inside
    :data:`genz.perf.efficiency.FIT_BOUNDS`. After the fit, the posterior width of each parameter
    (Gauss-Newton, ``(JᵀJ + Σ⁻¹)⁻¹``) against its prior width says how much the rows identified it
    (:func:`identification`): a parameter the rows hardly depend on keeps its prior mean and the
    others are refitted; a platform is labelled ``calibrated`` only where its own rows identified
    one of its hardware factors (not merely a product with its stack's). Each entry records the
    factors its data identified.

Everything is deterministic: sorted indices, no random numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares, lsq_linear

from ..catalog.frameworks import frameworks
from ..catalog.hardware import get_hardware, hardware_ids
from ..errors import GenzError
from ..perf.efficiency import (
    DEFAULT,
    DEFAULT_STACK,
    FAMILY_FACTORS,
    FIT_BOUNDS,
    STACK_FACTORS,
    StackFactors,
)
from ..perf.profiles import HardwareEntry, Profile, ProfileSet, StackEntry, round_sig
from .prepared import _as_time, _log_err, evaluate
from .stats import geomean_from_log_ratio

#: family-level parameters (the die's factors plus the family mean of the memory-system factor)
FAM_K = FAMILY_FACTORS + ("memory",)
#: per-platform deviations from the family: the memory system (HBM2e vs HBM3 vs HBM3e controllers).
#: Collective efficiency has none: it belongs to the link class (:func:`link_class`), so two
#: platforms on the same fabric (A100-40GB and A100-80GB) never differ in it
PLAT_K = ("memory",)


def link_class(hw) -> str:
    """The class of a platform's scale-up link, which sets its collective efficiency: ``pcie`` for
    cards without a GPU fabric (traffic through PCIe switches or the host), else the family's own
    fabric (NVLink, xGMI, Xe Link, ICI)."""
    name = str((hw.raw.get("scale_up") or {}).get("name", "")).strip().lower()
    return "pcie" if name.startswith("pcie") else hw.family
#: prior widths (log space) of family factors anchored by the family's kernel timings / not anchored
SIGMA_KERNEL = {"compute": 0.05, "attention": 0.35, "gemm_m_half": 0.5, "kernel_overhead_s": 0.5,
                "memory": 0.05, "network": 0.05}
SIGMA_FAMILY = {"compute": 0.15, "attention": 0.40, "gemm_m_half": 0.8, "kernel_overhead_s": 0.6,
                "memory": 0.10, "network": 0.25}
#: prior widths of a platform's deviation from its family (memory system, links)
SIGMA_PLATFORM = {"memory": 0.08}
PLATFORM_DEV_BOUND = 0.35
#: prior widths of stack factors: reference production stacks / any other stack
SIGMA_STACK_REF = {"sw_compute": 0.08, "sw_attention": 0.08, "sw_memory": 0.08, "launch_overhead_s": 1.5, "step_overhead_s": 1.5, "seq_overhead_s": 1.5,
                   "comm_overhead_s": 1.0, "request_overhead_s": 3.0}
SIGMA_STACK = {**SIGMA_STACK_REF, "sw_compute": 0.7, "sw_attention": 0.7, "sw_memory": 0.7}
#: bounds of the stack multipliers of a reference production stack (a production stack's GEMMs
#: reach ≥ 30 % of peak: with hardware compute ≥ 0.3 it is within a factor of 2 of the reference)
REF_SW_BOUNDS = (0.5, 1.3)
#: a parameter is identified when the data cut its prior variance by at least this fraction
IDENTIFIED = 0.5
#: scatter of one measured row around the model (log units): run-to-run noise, unrecorded settings
#: and model error together; data residuals are divided by it, so priors and data weigh in the
#: same units, and it sets the posterior widths behind identification
DATA_SIGMA = 0.15
#: the fit's soft-L1 scale (in DATA_SIGMA units): rows more than ~15 % off count less than quadratically
F_SCALE = 1.0


def family_prior(key: str, op_priors: dict | None) -> tuple[dict[str, float], set[str]]:
    """Prior values of a family's (or link class's) hardware factors, and which of them kernel timings
    of that family anchor.

    A family with kernel timings (:mod:`genz.calibrate.opcal`) takes them. Any other takes, per factor, the
    geometric mean over the families that have kernel timings (a measured reference point, so an
    unmeasured chip is never flattered by an optimistic default), else the defaults.
    """
    ops = op_priors or {}
    own = ops.get(key) or {}
    vals: dict[str, float] = {}
    for k in (*FAM_K, "network"):
        if k in own:
            vals[k] = float(own[k])
        else:
            pool = [float(d[k]) for d in ops.values() if k in d]
            vals[k] = float(math.exp(np.mean(np.log(pool)))) if pool else float(getattr(DEFAULT, k))
    return vals, set(own)


def _floor(name: str) -> float:
    return FIT_BOUNDS[name][0]


# ----------------------------------------------------------------------------------------------
# stacks: the reference pool, and what a variant stack is a variant of (which stack a measured row
# ran is :func:`genz.calibrate.prepared.stack_of`)
# ----------------------------------------------------------------------------------------------


def reference_stacks() -> list[str]:
    """Framework keys pooled into the reference (``generic``) stack."""
    return sorted(k for k, d in frameworks().items() if isinstance(d, dict) and d.get("reference"))


def _base_of(stack: str) -> str:
    return str((frameworks().get(stack.split("@", maxsplit=1)[0]) or {}).get("variant_of", ""))


# ----------------------------------------------------------------------------------------------
# the joint problem
# ----------------------------------------------------------------------------------------------


@dataclass
class Layout:
    """Index structures of the joint fit (all sorted: deterministic)."""

    families: list[str]
    links: list[str]
    platforms: list[str]
    stacks: list[str]
    fam_row: np.ndarray
    link_row: np.ndarray
    plat_row: np.ndarray
    stack_row: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    names: list[tuple[str, str, str]]  # (block, owner, factor) per parameter
    kernel_families: set

    @property
    def nf(self) -> int:
        return len(self.families) * len(FAM_K)

    @property
    def nl(self) -> int:
        return len(self.links)

    @property
    def np_(self) -> int:
        return len(self.platforms) * len(PLAT_K)

    @property
    def stack0(self) -> int:
        """Index of the first stack parameter."""
        return self.nf + self.nl + self.np_

    def split(self, x: np.ndarray):
        """(family F×|FAM_K|, link L, platform P×|PLAT_K|, stack S×|STACK_FACTORS|) views of ``x``."""
        nf, nl, npl = self.nf, self.nl, self.np_
        return (x[:nf].reshape(len(self.families), len(FAM_K)), x[nf:nf + nl],
                x[nf + nl:nf + nl + npl].reshape(len(self.platforms), len(PLAT_K)),
                x[nf + nl + npl:].reshape(len(self.stacks), len(STACK_FACTORS)))


def build_layout(platform: np.ndarray, stack: np.ndarray, op_priors: dict | None) -> Layout:
    """Parameters, priors and bounds for the platforms and stacks present in the rows."""
    platforms = sorted(set(platform.tolist()))
    fam_of = {p: get_hardware(p).family for p in platforms}
    link_of = {p: link_class(get_hardware(p)) for p in platforms}
    families = sorted(set(fam_of.values()))
    links = sorted(set(link_of.values()))
    stacks = sorted(set(stack.tolist()))
    refs = set(reference_stacks())
    mu, sig, lo, hi, names = [], [], [], [], []
    kernel_fams = {f for f in families if (op_priors or {}).get(f)}
    for f in families:
        pv, anchored = family_prior(f, op_priors)
        for k in FAM_K:
            v = pv[k]
            b = FIT_BOUNDS[k]
            mu.append(math.log(min(max(v, b[0] * 1.01), b[1] / 1.01)))
            sig.append((SIGMA_KERNEL if k in anchored else SIGMA_FAMILY)[k])
            lo.append(math.log(b[0]))
            hi.append(math.log(b[1]))
            names.append(("family", f, k))
    for lk in links:
        pv, anchored = family_prior(lk, op_priors)
        b = FIT_BOUNDS["network"]
        v = pv["network"]
        mu.append(math.log(min(max(v, b[0] * 1.01), b[1] / 1.01)))
        sig.append((SIGMA_KERNEL if "network" in anchored else SIGMA_FAMILY)["network"])
        lo.append(math.log(b[0]))
        hi.append(math.log(b[1]))
        names.append(("link", lk, "network"))
    for p in platforms:
        for k in PLAT_K:
            mu.append(0.0)
            sig.append(SIGMA_PLATFORM[k])
            lo.append(-PLATFORM_DEV_BOUND)
            hi.append(PLATFORM_DEV_BOUND)
            names.append(("platform", p, k))
    for s in stacks:
        ref = s in refs
        for k in STACK_FACTORS:
            b = REF_SW_BOUNDS if (ref and k.startswith("sw_")) else FIT_BOUNDS[k]
            v = getattr(DEFAULT_STACK, k)
            mu.append(math.log(min(max(v, b[0] * 1.01), b[1] / 1.01)))
            sig.append((SIGMA_STACK_REF if ref else SIGMA_STACK)[k])
            lo.append(math.log(b[0]))
            hi.append(math.log(b[1]))
            names.append(("stack", s, k))
    fpos = {f: i for i, f in enumerate(families)}
    lpos = {lk: i for i, lk in enumerate(links)}
    ppos = {p: i for i, p in enumerate(platforms)}
    spos = {s: i for i, s in enumerate(stacks)}
    return Layout(families=families, links=links, platforms=platforms, stacks=stacks,
                  fam_row=np.array([fpos[fam_of[p]] for p in platform], dtype=int),
                  link_row=np.array([lpos[link_of[p]] for p in platform], dtype=int),
                  plat_row=np.array([ppos[p] for p in platform], dtype=int),
                  stack_row=np.array([spos[s] for s in stack], dtype=int),
                  mu=np.array(mu), sigma=np.array(sig), lo=np.array(lo), hi=np.array(hi), names=names,
                  kernel_families=kernel_fams)


def _hw_clip(name: str, v: np.ndarray) -> np.ndarray:
    lo, hi = FIT_BOUNDS[name]
    return np.clip(v, lo, hi)


def row_effs(lay: Layout, x: np.ndarray, fam_row=None, plat_row=None, stack_row=None,
             link_row=None) -> dict[str, np.ndarray]:
    """Per-row efficiency arrays (the engine's names) for parameter vector ``x``."""
    fr = lay.fam_row if fam_row is None else fam_row
    pr = lay.plat_row if plat_row is None else plat_row
    sr = lay.stack_row if stack_row is None else stack_row
    lr = lay.link_row if link_row is None else link_row
    F, Lk, P, S = lay.split(x)
    fi = {k: j for j, k in enumerate(FAM_K)}
    si = {k: j for j, k in enumerate(STACK_FACTORS)}
    mem_hw = _hw_clip("memory", np.exp(F[fr, fi["memory"]] + P[pr, 0]))
    net_hw = _hw_clip("network", np.exp(Lk[lr]))
    n = len(fr)
    return {
        "compute": np.minimum(1.0, np.exp(F[fr, fi["compute"]] + S[sr, si["sw_compute"]])),
        "attention": np.minimum(1.0, np.exp(F[fr, fi["attention"]] + S[sr, si["sw_attention"]])),
        "memory": np.minimum(1.0, mem_hw * np.exp(S[sr, si["sw_memory"]])),
        "network": net_hw,
        "vector": np.full(n, DEFAULT.vector),
        "gemm_m_half": np.exp(F[fr, fi["gemm_m_half"]]),
        "kernel_overhead_s": np.exp(F[fr, fi["kernel_overhead_s"]]) + np.exp(S[sr, si["launch_overhead_s"]]),
        "step_overhead_s": np.exp(S[sr, si["step_overhead_s"]]),
        "seq_overhead_s": np.exp(S[sr, si["seq_overhead_s"]]),
        "comm_overhead_s": np.exp(S[sr, si["comm_overhead_s"]]),
        "request_overhead_s": np.exp(S[sr, si["request_overhead_s"]]),
    }


def _groups(lay: Layout) -> list[tuple[np.ndarray, np.ndarray]]:
    """Jacobian colouring: parameters that no row shares, perturbed together.

    Every row depends on one family, one platform and one stack, so all families' ``compute`` (for
    example) can be perturbed in one engine pass; the row's column is its own family's. Returns
    (parameter indices of the group, column index per row) for each group.
    """
    out = []
    nf, nl = lay.nf, lay.nl
    for j, _ in enumerate(FAM_K):
        params = np.arange(len(lay.families)) * len(FAM_K) + j
        out.append((params, params[lay.fam_row]))
    params = nf + np.arange(nl)
    out.append((params, params[lay.link_row]))
    for j, _ in enumerate(PLAT_K):
        params = nf + nl + np.arange(len(lay.platforms)) * len(PLAT_K) + j
        out.append((params, params[lay.plat_row]))
    for j, _ in enumerate(STACK_FACTORS):
        params = lay.stack0 + np.arange(len(lay.stacks)) * len(STACK_FACTORS) + j
        out.append((params, params[lay.stack_row]))
    return out


@dataclass
class JointFit:
    layout: Layout
    x: np.ndarray
    identified: np.ndarray  # marginal: fraction of prior variance the data removed, per parameter
    sensitive: np.ndarray  # conditional: the same with every other parameter held fixed
    free: np.ndarray  # parameters left free in the final fit
    info: dict


def components(lay: Layout, frozen_stacks: frozenset[str] | set[str] = frozenset()) -> list[np.ndarray]:
    """Rows that share no parameter, as separate row masks (sorted by first row).

    A row depends on its family's, its link class's, its platform's and its stack's parameters
    only, and the MAP objective is a sum of per-row terms and per-parameter priors: rows linked by
    no chain of shared parameters form independent problems with independent optima. Solving each
    on its own is exact, and keeps a change to one group of rows (a new MI300X file under the ROCm
    stack) from moving a single factor of another (every NVIDIA platform).

    A stack in ``frozen_stacks`` has its factors held (:func:`fit_staged`): it links no rows.
    """
    n = len(lay.fam_row)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    held = {j for j, s in enumerate(lay.stacks) if s in frozen_stacks}
    for keys in (lay.fam_row, lay.link_row, lay.plat_row, lay.stack_row):
        first: dict[int, int] = {}
        for i, k in enumerate(keys.tolist()):
            if keys is lay.stack_row and k in held:
                continue
            j = first.setdefault(k, i)
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)
    roots = np.array([find(i) for i in range(n)])
    return [roots == r for r in sorted(set(roots.tolist()))]


#: held parameters of a staged fit: (block, owner, factor) -> value (log space)
Frozen = dict[tuple[str, str, str], float]


def fit_joint(prep, stack: np.ndarray, op_priors: dict | None = None, max_nfev: int = 40,
              cache=None, frozen: Frozen | None = None) -> JointFit:
    """MAP fit of hardware and stack factors to the prepared rows (see the module docstring), one
    independent problem (:func:`components`) at a time; ``cache`` (a
    :class:`genz.calibrate.fitcache.FitCache`) returns a problem's fit when its rows were fitted before.

    ``frozen``: parameters held at the given values (a staged fit's shared stacks, :func:`fit_staged`);
    a stack all of whose factors are held links no rows into one problem."""
    lay = build_layout(prep.platform, stack, op_priors)
    held = _held_stacks(lay, frozen)
    parts = components(lay, held)
    if len(parts) == 1:
        return _fit_cached(prep, stack, op_priors, max_nfev, cache, frozen)
    fits = [_fit_cached(prep.subset(m), stack[m], op_priors, max_nfev, cache, frozen) for m in parts]
    x, ident, sens, free = _place(lay, fits)
    return _composed(prep, lay, x, ident, sens, free, int(sum(f.info["nfev"] for f in fits)), len(fits))


def _held_stacks(lay: Layout, frozen: Frozen | None) -> frozenset[str]:
    """Stacks of ``lay`` all of whose factors ``frozen`` holds."""
    if not frozen:
        return frozenset()
    return frozenset(s for s in lay.stacks if all(("stack", s, k) in frozen for k in STACK_FACTORS))


def _place(lay: Layout, fits: list[JointFit], arrays: tuple | None = None, skip: frozenset = frozenset()) -> tuple:
    """(x, identified, sensitive, free) of ``lay``: ``arrays`` (default: the clipped prior means, nothing
    identified or free) with each sub-fit's values copied in by parameter name, except names in ``skip``."""
    if arrays is None:
        n = len(lay.names)
        arrays = (np.clip(lay.mu.copy(), lay.lo, lay.hi), np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool))
    x, ident, sens, free = arrays
    pos = {nm: i for i, nm in enumerate(lay.names)}
    for f in fits:
        for i, nm in enumerate(f.layout.names):
            if nm in skip:
                continue
            j = pos[nm]
            x[j], ident[j], sens[j], free[j] = f.x[i], f.identified[i], f.sensitive[i], f.free[i]
    return arrays


def _composed(prep, lay: Layout, x, ident, sens, free, nfev: int, n_parts: int) -> JointFit:
    r = _log_err(evaluate(prep, row_effs(lay, x)), prep.value)
    r = np.where(np.isfinite(r), r, 3.0)
    info = {"n_rows": len(prep), "geomean_abs_err": geomean_from_log_ratio(r), "median_log_err": float(np.median(r)),
            "nfev": nfev, "parameters": len(x), "identified": int(free.sum()), "components": n_parts}
    return JointFit(layout=lay, x=x, identified=ident, sensitive=sens, free=free, info=info)


def fit_staged(prep, stack: np.ndarray, base: np.ndarray, op_priors: dict | None = None, max_nfev: int = 40,
               cache=None) -> tuple[JointFit, JointFit]:
    """The calibration's two stages; returns (the fit, stage 1's fit).

    Stage 1 (shared): the joint fit (:func:`fit_joint`) of the baseline rows (``base``,
    :mod:`genz.calibrate.baseline`): the software factors of every stack they ran, shared by every
    platform, and the hardware factors of their platforms.

    Stage 2 (per platform group): with stage 1's stacks held, rows that share no other parameter are
    independent problems (:func:`components`: a family with its platforms and link class). Each one
    that holds a row outside the baseline (a new measurement file) is refitted on all its rows: its
    hardware factors, and the stacks stage 1 did not see. Every other group keeps stage 1's values.

    So a new file for one platform moves the factors of that platform's family (the chips that share
    its die, and the platforms that inherit from them) and nothing else; stage 1, whose rows did not
    change, is read from the cache. When every row is a baseline row, stage 2 is stage 1: one joint
    fit. Rebaselining (``genz baseline``) makes every row a baseline row again.
    """
    base = np.asarray(base, dtype=bool)
    if base.all() or not base.any():
        fit = fit_joint(prep, stack, op_priors, max_nfev, cache)
        return fit, fit
    fit1 = fit_joint(prep.subset(base), stack[base], op_priors, max_nfev, cache)
    frozen: Frozen = {nm: float(fit1.x[i]) for i, nm in enumerate(fit1.layout.names) if nm[0] == "stack"}
    lay = build_layout(prep.platform, stack, op_priors)
    held = _held_stacks(lay, frozen)
    arrays = _place(lay, [fit1])
    nfev, parts = int(fit1.info["nfev"]), components(lay, held)
    # each refit starts from stage 1's values (its own training rows' fit: no held-out row leaks in)
    start = {nm: float(fit1.x[i]) for i, nm in enumerate(fit1.layout.names) if nm[0] != "stack"}
    refit = [_fit_cached(prep.subset(m), stack[m], op_priors, max_nfev, cache, frozen, start)
             for m in parts if (m & ~base).any()]
    x, ident, sens, free = _place(lay, refit, arrays, skip=frozenset(frozen))
    nfev += sum(int(f.info["nfev"]) for f in refit)
    return _composed(prep, lay, x, ident, sens, free, nfev, len(parts)), fit1


def _fit_cached(prep, stack: np.ndarray, op_priors: dict | None, max_nfev: int, cache,
                frozen: Frozen | None = None, start: Frozen | None = None) -> JointFit:
    """:func:`_fit_component`, read from / written to ``cache`` by the content of its rows (and the
    values it holds and starts from)."""
    lay = build_layout(prep.platform, stack, op_priors)
    names = set(lay.names)
    frozen = {nm: v for nm, v in (frozen or {}).items() if nm in names} or None
    start = {nm: v for nm, v in (start or {}).items() if nm in names} or None
    if cache is None:
        return _fit_component(prep, lay, max_nfev, frozen, start)
    key = cache.key(prep.frame, stack, op_priors, max_nfev,
                    held=sorted((list(nm), repr(v)) for nm, v in (frozen or {}).items())
                    + sorted((["start", *nm], repr(v)) for nm, v in (start or {}).items()))
    hit = cache.get(key)
    if hit is not None and [list(n) for n in lay.names] == hit["names"]:
        return JointFit(layout=lay, x=np.array(hit["x"]), identified=np.array(hit["identified"]),
                        sensitive=np.array(hit["sensitive"]), free=np.array(hit["free"], dtype=bool),
                        info=hit["info"])
    fit = _fit_component(prep, lay, max_nfev, frozen, start)
    cache.put(key, {"names": [list(n) for n in fit.layout.names], "x": fit.x.tolist(),
                    "identified": fit.identified.tolist(), "sensitive": fit.sensitive.tolist(),
                    "free": fit.free.tolist(), "info": fit.info})
    return fit


def _fit_component(prep, lay: Layout, max_nfev: int,
                   frozen: Frozen | None = None, start: Frozen | None = None) -> JointFit:
    """The MAP fit of rows that form one problem (:func:`fit_joint`; ``lay``, their layout), ``frozen``
    parameters held, starting from ``start`` where given (else the priors)."""
    held = np.array([nm in (frozen or {}) for nm in lay.names], dtype=bool)
    held_x = np.array([(frozen or {}).get(nm, 0.0) for nm in lay.names])
    n, p = len(prep), len(lay.mu)
    # held parameters need no derivative (the fit does not move them, identification drops them)
    groups = [(params, col) for params, col in _groups(lay) if not held[params].all()]
    tiled = prep.tile(len(groups) + 1)
    h = 1e-2

    def pred(x):
        return evaluate(prep, row_effs(lay, x))

    def data_resid(x):
        r = _log_err(pred(x), prep.value)
        return np.where(np.isfinite(r), r, 3.0) / DATA_SIGMA

    def jac_data(x):
        effs = [row_effs(lay, x)]
        for params, _ in groups:
            xp = x.copy()
            xp[params] += h
            effs.append(row_effs(lay, xp))
        allp = evaluate(tiled, {k: np.concatenate([e[k] for e in effs]) for k in effs[0]})
        r = _log_err(allp.reshape(len(groups) + 1, n), prep.value[None, :])
        ok = np.all(np.isfinite(r), axis=0)
        J = np.zeros((n, p))
        rows = np.arange(n)
        for g, (_, col) in enumerate(groups):
            J[rows, col] = np.where(ok, (r[g + 1] - r[0]) / h, 0.0)
        return J / DATA_SIGMA

    def solve(x0, free):
        idx = np.nonzero(free)[0]
        if len(idx) == 0:
            return x0, 0

        def full(z):
            x = x0.copy()
            x[idx] = z
            return x

        def resid(z):
            x = full(z)
            return np.concatenate([data_resid(x), ((x - lay.mu) / lay.sigma)[idx]])

        def jac(z):
            Jd = jac_data(full(z))[:, idx]
            return np.vstack([Jd, np.diag(1.0 / lay.sigma[idx])])

        z0 = np.clip(x0[idx], lay.lo[idx] + 1e-9, lay.hi[idx] - 1e-9)
        res = least_squares(resid, z0, jac=jac, bounds=(lay.lo[idx], lay.hi[idx]), loss="soft_l1",
                            f_scale=F_SCALE, max_nfev=max_nfev, x_scale=1.0)
        return full(res.x), int(res.nfev)

    x = np.clip(lay.mu.copy(), lay.lo + 1e-9, lay.hi - 1e-9)
    if not held[lay.stack0:].all():
        x = _solve_stack_overheads(prep, lay, x, evaluate, _as_time)
    x = np.where(held, held_x, x)
    if start:
        x = np.clip(np.array([start.get(nm, v) for nm, v in zip(lay.names, x)]), lay.lo + 1e-9, lay.hi - 1e-9)
    anchored = anchored_hardware(lay) & ~held
    x, nfev = solve(x, anchored)
    ident, sens = identification(lay, jac_data(x), held)
    free = anchored & (sens >= IDENTIFIED)
    if not (free | held).all():
        # what the rows cannot identify keeps its prior; the rest is refitted around it
        x = np.where(free | held, x, np.clip(lay.mu, lay.lo, lay.hi))
        x, nf2 = solve(x, free)
        nfev += nf2
        ident, sens = identification(lay, jac_data(x), held)
    r = data_resid(x) * DATA_SIGMA
    info = {"n_rows": n, "geomean_abs_err": geomean_from_log_ratio(r),
            "median_log_err": float(np.median(r)), "nfev": nfev, "parameters": p,
            "identified": int(free.sum()), "components": 1}
    return JointFit(layout=lay, x=x, identified=ident, sensitive=sens, free=free, info=info)


def anchored_hardware(lay: Layout) -> np.ndarray:
    """Parameters that may leave their prior at all.

    A family's hardware factors can be told apart from the software only through a stack whose
    factors something else pins: a reference production stack (tight prior around 1) or a stack
    measured on another family too. A family measured only under stacks of its own (an early ROCm
    build on MI300X, vLLM-XPU on Max-1550) keeps its hardware priors, and its rows fit the stack.
    """
    refs = set(reference_stacks())
    fam_of_stack: dict[int, set[int]] = {}
    for f, st in zip(lay.fam_row.tolist(), lay.stack_row.tolist()):
        fam_of_stack.setdefault(st, set()).add(f)
    ok_stack = {st for st, fams in fam_of_stack.items() if lay.stacks[st] in refs or len(fams) > 1}
    ok_fam = {f for f, st in zip(lay.fam_row.tolist(), lay.stack_row.tolist()) if st in ok_stack}
    ok_plat = {p for f, p in zip(lay.fam_row.tolist(), lay.plat_row.tolist()) if f in ok_fam}
    ok_link = {lk for f, lk in zip(lay.fam_row.tolist(), lay.link_row.tolist()) if f in ok_fam}
    free = np.ones(len(lay.mu), dtype=bool)
    for i, (block, owner, _) in enumerate(lay.names):
        if block == "family":
            free[i] = lay.families.index(owner) in ok_fam
        elif block == "platform":
            free[i] = lay.platforms.index(owner) in ok_plat
        elif block == "link":
            free[i] = lay.links.index(owner) in ok_link
    return free


def identification(lay: Layout, J: np.ndarray, held: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """How much the rows say about each parameter (Gauss-Newton; ``J`` in DATA_SIGMA units).

    * marginal: 1 − posterior variance / prior variance, every other parameter free. Low for a
      parameter confounded with another (a chip measured under one stack only): the rows fix the
      product, the priors split it. This is what the ``calibrated`` label asks of hardware factors.
    * conditional: the same with the others held fixed, ``d/(1+d)`` with ``d = (JᵀJ)_jj σ_j²``.
      Low only when the rows hardly depend on the parameter at all: such a parameter keeps its prior.

    ``held`` parameters (a staged fit's shared stacks) are known, not estimated: the others are
    judged given them, and they get 0 (this fit says nothing about them).
    """
    keep = np.ones(J.shape[1], dtype=bool) if held is None else ~held
    Jk, sig = J[:, keep], lay.sigma[keep]
    prec = Jk.T @ Jk + np.diag(1.0 / sig ** 2)
    try:
        cov = np.linalg.inv(prec)
    except np.linalg.LinAlgError:
        cov = np.linalg.pinv(prec)
    marginal, conditional = np.zeros(J.shape[1]), np.zeros(J.shape[1])
    marginal[keep] = np.clip(1.0 - np.diag(cov) / sig ** 2, 0.0, 1.0)
    d = np.einsum("ij,ij->j", Jk, Jk) * sig ** 2
    conditional[keep] = d / (1.0 + d)
    return marginal, conditional


def _solve_stack_overheads(prep, lay: Layout, x: np.ndarray, evaluate, as_time) -> np.ndarray:
    """Least-squares stack overheads (non-negative, bounded) for fixed efficiencies: a start from
    which the non-linear fit cannot stall at an overhead whose effect is invisible.

    Predicted time is ``t0 + Σ f_j·o_j`` with ``f_j`` the time one unit of overhead ``j`` adds;
    each (stack, overhead) pair is one column, filled on the rows of that stack.
    """
    n = len(prep)
    ovh = [k for k in STACK_FACTORS if not k.startswith("sw_")]
    base = row_effs(lay, x)
    F = lay.split(x)[0]
    hw_kernel = np.exp(F[lay.fam_row, FAM_K.index("kernel_overhead_s")])
    base["kernel_overhead_s"] = hw_kernel  # the chip's per-kernel time; the stack's launch cost is solved
    for k in ovh:
        if k != "launch_overhead_s":
            base[k] = np.zeros(n)
    y = as_time(prep.value, prep.metric)
    t0 = as_time(evaluate(prep, base), prep.metric)
    units = {"launch_overhead_s": 1e-6, "step_overhead_s": 1e-3, "seq_overhead_s": 1e-4, "comm_overhead_s": 1e-5,
             "request_overhead_s": 1.0}
    S = len(lay.stacks)
    A = np.zeros((n, S * len(ovh)))
    for j, k in enumerate(ovh):
        e = dict(base)
        if k == "launch_overhead_s":
            e["kernel_overhead_s"] = hw_kernel + units[k]
        else:
            e[k] = np.full(n, units[k])
        col = (as_time(evaluate(prep, e), prep.metric) - t0) / units[k]
        A[np.arange(n), lay.stack_row * len(ovh) + j] = col / y
    b = (y - t0) / y
    good = np.all(np.isfinite(A), axis=1) & np.isfinite(b)
    if good.sum() < 3:
        return x
    hi = np.tile([FIT_BOUNDS[k][1] for k in ovh], S)
    sol = lsq_linear(A[good], b[good], bounds=(0.0, hi))
    r = np.abs(A[good] @ sol.x - b[good])
    keep = r <= np.quantile(r, 0.9)
    sol = lsq_linear(A[good][keep], b[good][keep], bounds=(0.0, hi))
    x = x.copy()
    for s in range(S):
        for j, k in enumerate(ovh):
            v = max(sol.x[s * len(ovh) + j], _floor(k))
            pos = lay.stack0 + s * len(STACK_FACTORS) + STACK_FACTORS.index(k)
            # only where the rows see the overhead; elsewhere keep the prior
            if np.any(A[lay.stack_row == s, s * len(ovh) + j] != 0):
                x[pos] = np.clip(math.log(v), lay.lo[pos] + 1e-9, lay.hi[pos] - 1e-9)
    return x


# ----------------------------------------------------------------------------------------------
# from the fit to a profile set
# ----------------------------------------------------------------------------------------------


def _ranges(prep, mask: np.ndarray) -> dict:
    import polars as pl

    f = prep.frame.filter(pl.Series(mask))
    if f.height == 0:
        return {}
    b = f.get_column("_batch_size").drop_nulls()
    return {"batch_max": int(b.max()) if b.len() else None, "input_max": int(f.get_column("_input_tokens").max()),
            "output_max": int(f.get_column("_output_tokens").max())}


def _stored(vals: dict[str, float]) -> dict[str, float]:
    """Fitted values at the precision a profile stores them (:data:`genz.perf.profiles.SIG_DIGITS`)."""
    return {k: round_sig(v) for k, v in vals.items()}


def profile_set(fit: JointFit, prep, stack: np.ndarray, version: str, op_priors: dict | None = None,
                platforms: list[str] | None = None, base: np.ndarray | None = None) -> tuple[ProfileSet, list[dict]]:
    """Hardware entries for every platform (measured, inherited, prior), stack entries (fitted plus
    the pooled reference), and the materialized platform × public-stack profiles.

    ``base``: the baseline rows of a staged fit (:func:`fit_staged`): a stack that ran baseline rows
    was fitted on those alone, and its entry counts them."""
    lay, x = fit.layout, fit.x
    F, Lk, P, S = lay.split(x)
    ident_of = {nm: bool(fit.free[i] and fit.identified[i] >= IDENTIFIED) for i, nm in enumerate(lay.names)}
    fi = {k: j for j, k in enumerate(FAM_K)}
    diags: list[dict] = []
    # hardware
    measured_by_family: dict[str, list[str]] = {}
    for p in lay.platforms:
        measured_by_family.setdefault(get_hardware(p).family, []).append(p)
    hw_entries: list[HardwareEntry] = []
    wanted = sorted(set(hardware_ids()) | set(lay.platforms) | set(platforms or []), key=str.lower)
    for pid in wanted:
        try:
            hw = get_hardware(pid)
        except GenzError:
            continue
        fam = hw.family
        lk = link_class(hw)
        if lk in lay.links:
            net_mean, net_ident = Lk[lay.links.index(lk)], ident_of[("link", lk, "network")]
        else:
            pv, _ = family_prior(lk, op_priors)
            net_mean, net_ident = math.log(np.clip(pv["network"], *FIT_BOUNDS["network"])), False
        if fam in lay.families:
            fj = lay.families.index(fam)
            vals = {k: float(math.exp(F[fj, fi[k]])) for k in FAMILY_FACTORS}
            if hw.id in lay.platforms:
                pj = lay.platforms.index(hw.id)
                dev = P[pj]
            else:
                pj, dev = None, np.zeros(len(PLAT_K))
            vals["memory"] = float(np.clip(math.exp(F[fj, fi["memory"]] + dev[0]), *FIT_BOUNDS["memory"]))
            vals["network"] = float(np.clip(math.exp(net_mean), *FIT_BOUNDS["network"]))
            vals["vector"] = DEFAULT.vector
            identified = tuple(k for k in FAM_K if ident_of[("family", fam, k)]) + (("network",) if net_ident else ())
            if pj is not None:
                identified = tuple(sorted(set(identified) | {k for k in PLAT_K
                                                             if ident_of[("platform", hw.id, k)]}))
                mask = prep.platform == hw.id
                n_rows = int(mask.sum())
                label = "calibrated" if identified else "prior"
                ranges = _ranges(prep, mask)
            else:
                n_rows, ranges = 0, {}
                peers = measured_by_family.get(fam, [])
                label = ("inherited from " + "+".join(peers)) if identified else "prior"
                identified = ()
        else:
            pv, _ = family_prior(fam, op_priors)
            vals = {k: pv[k] for k in FAM_K}
            vals = {k: float(np.clip(v, *FIT_BOUNDS[k])) for k, v in vals.items()}
            vals["network"] = float(math.exp(net_mean))
            vals["vector"] = DEFAULT.vector
            identified, n_rows, ranges, label = (), 0, {}, "prior"
        hw_entries.append(HardwareEntry(platform=hw.id, family=fam, factors=_stored(vals), label=label,
                                        n_rows=n_rows, identified=identified, ranges=ranges))
    # stacks
    si = {k: j for j, k in enumerate(STACK_FACTORS)}
    st_entries: list[StackEntry] = []
    for sj, s in enumerate(lay.stacks):
        vals = {k: float(math.exp(S[sj, si[k]])) for k in STACK_FACTORS}
        n_rows = int((stack == s).sum())
        if base is not None and ((stack == s) & base).any():
            n_rows = int(((stack == s) & base).sum())
        identified = tuple(k for k in STACK_FACTORS if ident_of[("stack", s, k)])
        st_entries.append(StackEntry(stack=s, factors=StackFactors(**_stored(vals)), label=f"measured ({n_rows} rows)",
                                     n_rows=n_rows, identified=identified, base=_base_of(s),
                                     public=not s.startswith("unstated:")))
    refs = [e for e in st_entries if e.stack in reference_stacks()]
    if refs:
        pooled = {k: float(math.exp(np.mean([math.log(max(getattr(e.factors, k), _floor(k))) for e in refs])))
                  for k in STACK_FACTORS}
        st_entries.append(StackEntry(stack="generic", factors=StackFactors(**_stored(pooled)),
                                     label="reference (pooled " + "+".join(e.stack for e in refs) + ")",
                                     n_rows=sum(e.n_rows for e in refs)))
    else:
        st_entries.append(StackEntry(stack="generic", factors=DEFAULT_STACK, label="prior"))
    # diagnostics: every parameter with its prior, value, identification and bound status
    for i, (block, owner, k) in enumerate(lay.names):
        at_lo = x[i] <= lay.lo[i] + 1e-6
        at_hi = x[i] >= lay.hi[i] - 1e-6
        diags.append({"block": block, "owner": owner, "factor": k, "value": float(math.exp(x[i])),
                      "prior": float(math.exp(lay.mu[i])), "prior_sigma": float(lay.sigma[i]),
                      "identified": float(fit.identified[i]), "sensitivity": float(fit.sensitive[i]),
                      "free": bool(fit.free[i]),
                      "at_bound": "low" if at_lo else ("high" if at_hi else "")})
    pset = ProfileSet([], source="fit", hardware=hw_entries, stacks=st_entries, version=version)
    public = ["generic"] + [e.stack for e in st_entries if e.public and e.stack != "generic"]
    profiles: list[Profile] = []
    for h in hw_entries:
        for s in public:
            prof, _ = pset.compose(h.platform, s)
            if s != "generic":
                mask = (prep.platform == h.platform) & (stack == s)
                prof = Profile(platform=prof.platform, framework=s, efficiency=prof.efficiency,
                               calibrated=prof.calibrated, n_rows=int(mask.sum()), ranges=prof.ranges,
                               label=prof.label, stack=s, stack_label=prof.stack_label).versioned()
            profiles.append(prof)
    return ProfileSet(profiles, source="fit", hardware=hw_entries, stacks=st_entries, version=version), diags
