"""Calibration profiles: fitted efficiency factors and uncertainty bands per platform × framework.

A profile file is JSON produced by the calibration rule (``genz calibrate``); no number in it is
typed by hand. It holds two halves that :func:`genz.perf.efficiency.compose` joins:

* ``hardware``: per platform, the chip's factors and an honest label: ``calibrated`` (the
  platform's own rows identified its hardware factors), ``inherited from <platforms>`` (unmeasured;
  its architecture family's fitted die factors), or ``prior`` (kernel-timing priors or defaults);
* ``stacks``: per serving stack, the software factors; ``generic`` is the *reference* stack, the
  pooled production stacks, which a scenario without a framework gets: two platforms compared
  without a framework, or under the same framework, differ only by their specs and hardware factors.

``profiles`` lists every platform × public stack composition (for the warehouse and reports).
Lookup for hardware ``H`` and framework ``F``: ``H``'s hardware factors (or the defaults, labelled
``prior``) composed with stack ``F`` if it was fitted, else its base framework's, else the reference.

Where profiles come from: an explicit path (``--profiles PATH``), else ``$GENZ_PROFILES``, else the
snapshot shipped in ``genz/data/calibration/profiles.json``. Never the working directory: the same
command gives the same numbers from any folder (the pipeline passes its own profiles explicitly).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..catalog.files import DATA_DIR
from ..errors import GenzError
from .efficiency import DEFAULT, DEFAULT_STACK, HARDWARE_FACTORS, Efficiency, StackFactors, compose

PACKAGED = DATA_DIR / "calibration" / "profiles.json"

#: band (multiplicative, 80 % central interval of measured/predicted) for uncalibrated predictions
UNCALIBRATED_BAND = (0.5, 2.0)

#: significant digits of every fitted number a profile stores (factors, overheads, band edges).
#: Rounding moves a value by at most 0.5 % (5·10⁻³ relative, for a leading digit 1); the narrowest
#: posterior of any fitted factor is ~3.5 % wide (1 sd, log units), and one measured row scatters
#: by 15 %: the stored precision is an order below what the data determine. What it buys: a refit
#: whose change to a factor is far inside its uncertainty usually leaves the stored value, the
#: profile's content version, and every estimate made with it unchanged.
SIG_DIGITS = 3


def round_sig(x: float, digits: int = SIG_DIGITS) -> float:
    """``x`` rounded to ``digits`` significant digits (0, inf and nan unchanged)."""
    x = float(x)
    if x == 0.0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def content_hash(payload: object, n: int = 12) -> str:
    """First ``n`` hex digits of sha256 of ``payload`` as canonical JSON (sorted keys)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:n]


@dataclass(frozen=True)
class Profile:
    """One fitted profile."""

    platform: str  # hardware id or '*'
    framework: str  # framework key or 'generic'
    efficiency: Efficiency
    version: str = "defaults"
    calibrated: bool = False
    n_rows: int = 0
    bands: dict = field(default_factory=dict, hash=False, compare=False)  # metric -> [lo, hi]
    ranges: dict = field(default_factory=dict, hash=False, compare=False)  # batch/input/output max
    label: str = ""  # 'calibrated' | 'inherited from X+Y' | 'prior' (see the module docstring)
    stack: str = ""  # the serving stack whose software factors this profile uses
    stack_label: str = ""  # 'measured (n rows)' | 'reference (pooled a+b)' | 'prior'

    @property
    def id(self) -> str:
        return f"{self.platform}/{self.framework}@{self.version}"

    @property
    def how(self) -> str:
        """The calibration label shown everywhere a prediction is shown."""
        return self.label or ("calibrated" if self.calibrated else "prior")

    def to_json(self) -> dict:
        return {"platform": self.platform, "framework": self.framework, "version": self.version,
                "calibrated": self.calibrated, "n_rows": self.n_rows, "label": self.how,
                "stack": self.stack or self.framework, "stack_label": self.stack_label,
                "factors": self.efficiency.as_dict(), "bands": self.bands, "ranges": self.ranges}

    def content_version(self) -> str:
        """Hash of everything the profile says except its version: the same factors, bands,
        ranges and labels give the same version in every fit and every file."""
        d = self.to_json()
        d.pop("version")
        return content_hash(d)

    def versioned(self) -> Profile:
        """This profile with its version set to its :meth:`content_version`."""
        return replace(self, version=self.content_version())

    @classmethod
    def from_json(cls, d: dict, origin: str = "profiles") -> Profile:
        try:
            names = set(Efficiency.names())
            factors = {k: float(v) for k, v in (d.get("factors") or {}).items() if k in names}
            return cls(platform=str(d["platform"]), framework=str(d["framework"]),
                       efficiency=Efficiency(**factors), version=str(d.get("version", "")),
                       calibrated=bool(d.get("calibrated", True)), n_rows=int(d.get("n_rows", 0)),
                       bands=dict(d.get("bands") or {}), ranges=dict(d.get("ranges") or {}),
                       label=str(d.get("label", "")), stack=str(d.get("stack", "")),
                       stack_label=str(d.get("stack_label", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise GenzError(f"{origin}: malformed profile entry ({exc})") from None


DEFAULT_PROFILE = Profile(platform="*", framework="generic", efficiency=DEFAULT, version="defaults",
                          calibrated=False, label="prior", stack="generic", stack_label="prior")


@dataclass(frozen=True)
class HardwareEntry:
    """A platform's hardware factors, as calibration left them."""

    platform: str
    family: str
    factors: dict  # name -> value, the names of efficiency.HARDWARE_FACTORS
    label: str  # 'calibrated' | 'inherited from ...' | 'prior'
    n_rows: int = 0
    identified: tuple = ()  # hardware factors the data identified (posterior much narrower than prior)
    ranges: dict = field(default_factory=dict, hash=False, compare=False)
    bands: dict = field(default_factory=dict, hash=False, compare=False)

    def to_json(self) -> dict:
        return {"platform": self.platform, "family": self.family, "factors": self.factors, "label": self.label,
                "n_rows": self.n_rows, "identified": list(self.identified), "ranges": self.ranges,
                "bands": self.bands}

    @classmethod
    def from_json(cls, d: dict) -> HardwareEntry:
        return cls(platform=str(d["platform"]), family=str(d.get("family", "")),
                   factors={k: float(v) for k, v in d["factors"].items() if k in HARDWARE_FACTORS},
                   label=str(d.get("label", "prior")), n_rows=int(d.get("n_rows", 0)),
                   identified=tuple(d.get("identified") or ()), ranges=dict(d.get("ranges") or {}),
                   bands=dict(d.get("bands") or {}))


@dataclass(frozen=True)
class StackEntry:
    """A serving stack's software factors, as calibration left them."""

    stack: str
    factors: StackFactors
    label: str  # 'measured (n rows)' | 'reference (pooled a+b)' | 'prior'
    n_rows: int = 0
    identified: tuple = ()
    base: str = ""  # the framework a variant stack belongs to ('' for a framework itself)
    public: bool = True  # selectable by a scenario's framework (False: a source's unstated stack)

    def to_json(self) -> dict:
        return {"stack": self.stack, "factors": self.factors.as_dict(), "label": self.label, "n_rows": self.n_rows,
                "identified": list(self.identified), "base": self.base, "public": self.public}

    @classmethod
    def from_json(cls, d: dict) -> StackEntry:
        names = set(StackFactors.names())
        return cls(stack=str(d["stack"]), factors=StackFactors(**{k: float(v) for k, v in d["factors"].items()
                                                                   if k in names}),
                   label=str(d.get("label", "")), n_rows=int(d.get("n_rows", 0)),
                   identified=tuple(d.get("identified") or ()), base=str(d.get("base", "")),
                   public=bool(d.get("public", True)))


REFERENCE_STACK = StackEntry(stack="generic", factors=DEFAULT_STACK, label="prior")


class ProfileSet:
    """A set of profiles with the lookup chain described in the module docstring."""

    def __init__(self, profiles: list[Profile] | None = None, source: str = "built-in defaults",
                 hardware: list[HardwareEntry] | None = None, stacks: list[StackEntry] | None = None,
                 version: str = "defaults"):
        self.profiles = list(profiles or [])
        self.source = source
        self.version = version
        self.hardware = {h.platform.lower(): h for h in hardware or []}
        self.stacks = {s.stack: s for s in stacks or []}
        self._by_key = {(p.platform.lower(), p.framework): p for p in self.profiles}
        self._all = [*self.profiles, DEFAULT_PROFILE]
        self._composed: dict[tuple[str, str], Profile] = {}

    def stack_for(self, framework: str, family: str = "") -> tuple[StackEntry, str]:
        """The fitted stack behind a framework key (or stack id), and a note when it is not its own.

        Order: the stack itself; its per-family split (``vllm-rocm@cdna3``); the framework it is a
        variant or a generation of (``vllm-0.13`` unfitted: ``vllm``), or the runtime a server
        runs (``dynamo``: ``trtllm-1``), followed until a fitted one; the reference stack."""
        if framework in self.stacks:
            return self.stacks[framework], ""
        if family and f"{framework}@{family}" in self.stacks:
            return self.stacks[f"{framework}@{family}"], ""
        from ..catalog.frameworks import frameworks

        # the chain of stacks it builds on: a variant's or a generation's framework, a server's runtime
        base, seen = framework.split("@", maxsplit=1)[0], set()
        while base and base not in seen:
            seen.add(base)
            entry = frameworks().get(base, {})
            base = str(entry.get("variant_of", "") or entry.get("generation_of", "") or entry.get("runtime", ""))
            if base in self.stacks:
                return self.stacks[base], f"stack {framework} not measured: {base} used"
        ref = self.stacks.get("generic", REFERENCE_STACK)
        note = "" if framework == "generic" else f"stack {framework} not measured: reference stack used"
        return ref, note

    def hardware_entry(self, platform: str, family: str = "") -> HardwareEntry | None:
        """The hardware factors of ``platform``; for a platform the fit does not know (a user's
        hardware YAML) those of its architecture ``family`` (an unmeasured member's: the family's
        fitted die factors and label, ``inherited from ...``), else the defaults (``prior``), with the
        bands of a platform without rows. ``None`` for a set without hardware entries."""
        entry = self.hardware.get(platform.lower())
        if entry is not None or not self.hardware:
            return entry
        unmeasured = next((e for e in self.hardware.values() if e.n_rows == 0), None)
        bands = dict(unmeasured.bands) if unmeasured is not None else {}
        fam = sorted((e for e in self.hardware.values() if family and e.family == family),
                     key=lambda e: (e.n_rows > 0, e.platform))
        if not fam:
            return HardwareEntry(platform=platform, family=family, label="prior", bands=bands,
                                 factors={k: getattr(DEFAULT, k) for k in HARDWARE_FACTORS})
        src = fam[0]
        # an unmeasured member carries the family's label already; a measured one is named
        label = src.label if src.n_rows == 0 else f"inherited from {src.platform}"
        return HardwareEntry(platform=platform, family=family, factors=dict(src.factors), label=label, bands=bands)

    def compose(self, platform: str, framework: str, family: str = "") -> tuple[Profile, str]:
        """Hardware factors of ``platform`` (:meth:`hardware_entry`) composed with the stack of
        ``framework`` (cached)."""
        key = (platform.lower(), framework)
        if key in self._composed:
            p = self._composed[key]
            return p, p.how
        hw = self.hardware_entry(platform, family)
        st, note = self.stack_for(framework, hw.family if hw else "")
        if hw is None:
            factors, label, bands, ranges, name = {}, "prior", {}, {}, platform
        else:
            factors, label, bands, ranges, name = hw.factors, hw.label, hw.bands, hw.ranges, hw.platform
        prof = Profile(platform=name, framework=framework if not note else st.stack,
                       efficiency=compose(factors, st.factors), calibrated=label == "calibrated",
                       n_rows=hw.n_rows if hw else 0, bands=bands, ranges=ranges,
                       label=label + (f"; {note}" if note else ""), stack=st.stack,
                       stack_label=st.label).versioned()
        self._composed[key] = prof
        self._all.append(prof)
        return prof, prof.how

    def __len__(self) -> int:
        return len(self.profiles)

    def get(self, platform: str, framework: str, family: str = "") -> tuple[Profile, str]:
        """The profile for a platform id and framework key, and how it was matched.

        Order: the platform × framework fit; the platform's fit over all its frameworks; the
        family prior from kernel timings (uncalibrated platform); the built-in defaults.
        """
        k = self._by_key
        pl_ = platform.lower()
        if (pl_, framework) in k:
            p = k[(pl_, framework)]
            return p, p.how
        if self.hardware or self.stacks:
            return self.compose(platform, framework, family)
        if (pl_, "generic") in k:
            p = k[(pl_, "generic")]
            if not p.calibrated:
                return p, f"uncalibrated ({p.ranges.get('note', 'priors')})"
            return p, "calibrated (platform, other framework)" if framework != "generic" else "calibrated"
        return DEFAULT_PROFILE, "prior"

    def lookup_rows(self, hw_names, hw_ids, fw_keys, families=None):
        """Per-row efficiency arrays, a calibration label per row, and profile indices (``families``:
        each row's architecture family, for hardware the set has no entry for)."""
        import polars as pl

        n = len(hw_ids)
        fams = pl.Series(list(families) if families is not None else [""] * n, dtype=pl.String)
        keys = pl.select(pl.format("{}\x1f{}\x1f{}", pl.Series(list(hw_ids), dtype=pl.String),
                                   pl.Series(list(fw_keys), dtype=pl.String), fams).alias("k")).get_column("k") \
            if n else pl.Series("k", [], dtype=pl.String)
        uniq = keys.unique().sort().to_list()
        inv = keys.replace_strict({u: i for i, u in enumerate(uniq)}, return_dtype=pl.Int64).to_numpy()
        u_idx = np.zeros(len(uniq), dtype=int)
        u_lab = np.empty(len(uniq), dtype=object)
        for i, key in enumerate(uniq):
            h, f, fam = str(key).split("\x1f")
            prof, how = self.get(h, f, fam)
            u_idx[i] = next(j for j, p in enumerate(self._all) if p is prof)
            u_lab[i] = f"{how}: {prof.id}" if prof is not DEFAULT_PROFILE else how
        idx = u_idx[inv] if n else np.zeros(0, dtype=int)
        labels = u_lab[inv] if n else np.empty(0, dtype=object)
        effs = {name: np.array([getattr(p.efficiency, name) for p in self._all], dtype=float)[idx]
                for name in Efficiency.names()}
        return effs, labels, idx

    def band_rows(self, idx: np.ndarray, metrics: np.ndarray, inp, spec=None) -> tuple[np.ndarray, np.ndarray]:
        """Multiplicative (low, high) band factors per row, for each row's own metric (None: the
        e2e latency's band): predicted·lo .. predicted·hi (see :meth:`metric_bands`)."""
        metrics = np.asarray(metrics, dtype=object)
        names = sorted({m for m in metrics.tolist() if m is not None})
        per = self.metric_bands(idx, [*names, None], inp)
        lo = np.empty(len(idx))
        hi = np.empty(len(idx))
        for m, (l_m, h_m) in per.items():
            sel = (metrics == m) if m is not None else np.array([x is None for x in metrics.tolist()], dtype=bool)
            lo[sel], hi[sel] = l_m[sel], h_m[sel]
        return lo, hi

    def metric_bands(self, idx: np.ndarray, metrics, inp) -> dict:
        """Per metric (None: the e2e latency's band), the (low, high) band factors of every row.

        A calibrated profile's band comes from its out-of-fold residuals per metric (else its
        ``all`` band, else the uncalibrated 0.5-2); a profile without bands gets the uncalibrated one.
        Beyond a profile's measured range (batch, lengths) the band is widened by
        ``Π max(1, x / x_max)^0.15``, computed once per row for every metric.
        """
        n = len(idx)
        widen = np.ones(n)
        for j in np.unique(idx).tolist():
            prof = self._all[j]
            if not (prof.bands and prof.ranges):
                continue
            sel = idx == j
            for key, arr in (("batch_max", inp.B), ("input_max", inp.L), ("output_max", inp.O)):
                mx = prof.ranges.get(key)
                if mx:
                    widen[sel] *= np.maximum(1.0, np.asarray(arr, dtype=float)[sel] / float(mx)) ** 0.15
        out = {}
        for m in metrics:
            key = m if m is not None else "e2e_latency_ms"
            table = [(p.bands.get(key) or p.bands.get("all") or UNCALIBRATED_BAND) if p.bands else UNCALIBRATED_BAND
                     for p in self._all]
            lo_t = np.array([float(b[0]) for b in table])
            hi_t = np.array([float(b[1]) for b in table])
            out[m] = (lo_t[idx] / widen, hi_t[idx] * widen)
        return out

    def extrapolation(self, idx: np.ndarray, inp) -> np.ndarray:
        """'' or a note like 'extrapolated: batch 512 > measured 64' per row (calibrated profiles)."""
        out = np.full(len(idx), "", dtype=object)
        for j in np.unique(idx):
            prof = self._all[j]
            r = prof.ranges
            if not (prof.calibrated and r):
                continue
            sel = np.nonzero(idx == j)[0]
            for key, label, arr in (("batch_max", "batch", inp.B), ("input_max", "input", inp.L),
                                    ("output_max", "output", inp.O)):
                mx = r.get(key)
                if not mx:
                    continue
                over = sel[(arr[sel] > float(mx) * 1.001) & (out[sel] == "")]
                for i in over:
                    out[i] = f"extrapolated: {label} {arr[i]:.0f} > measured {float(mx):.0f}"
        return out

    def profile_ids(self, idx: np.ndarray) -> np.ndarray:
        """Profile id per row ('*/generic@defaults' for the built-in defaults)."""
        ids = np.array([p.id for p in self._all], dtype=object)
        return ids[idx] if len(idx) else np.empty(0, dtype=object)

    def to_json(self) -> list[dict]:
        return [p.to_json() for p in self.profiles]

    def payload(self) -> dict:
        """The JSON payload of the set: profiles plus the hardware and stack halves."""
        return {"profiles": self.to_json(), "hardware": [h.to_json() for h in self.hardware.values()],
                "stacks": [s.to_json() for s in self.stacks.values()], "version": self.version}


def load_profiles(path: str | os.PathLike) -> ProfileSet:
    """Load a profiles JSON file (as written by ``genz calibrate``)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GenzError(f"profiles: file not found: {p}") from None
    except json.JSONDecodeError as exc:
        raise GenzError(f"{p}: malformed JSON at line {exc.lineno}: {exc.msg}") from None
    entries = data.get("profiles") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise GenzError(f"{p}: expected a list of profiles under 'profiles'")
    try:
        hw = [HardwareEntry.from_json(e) for e in data.get("hardware") or []] if isinstance(data, dict) else []
        st = [StackEntry.from_json(e) for e in data.get("stacks") or []] if isinstance(data, dict) else []
    except (KeyError, TypeError, ValueError) as exc:
        raise GenzError(f"{p}: malformed hardware/stack entry ({exc})") from None
    version = str(data.get("version", "")) if isinstance(data, dict) else ""
    return ProfileSet([Profile.from_json(e, str(p)) for e in entries], source=str(p), hardware=hw, stacks=st,
                      version=version or "unversioned")


def load_profile_files(paths) -> ProfileSet:
    """One profile set from several files (a path or a list): their hardware entries, stacks and
    profiles together (the first file's where two name the same one; the pipeline's files of one
    fit agree)."""
    if isinstance(paths, (str, os.PathLike)):
        return load_profiles(paths)
    sets = [load_profiles(p) for p in paths]
    if not sets:
        raise GenzError("profiles: no profile files given")
    if len(sets) == 1:
        return sets[0]
    hardware: dict = {}
    stacks: dict = {}
    profiles: dict = {}
    for ps in sets:
        for k, h in ps.hardware.items():
            hardware.setdefault(k, h)
        for k, st in ps.stacks.items():
            stacks.setdefault(k, st)
        for prof in ps.profiles:
            profiles.setdefault((prof.platform.lower(), prof.framework), prof)
    return ProfileSet(list(profiles.values()), source=", ".join(ps.source for ps in sets),
                      hardware=list(hardware.values()), stacks=list(stacks.values()), version=sets[0].version)


@functools.lru_cache(maxsize=8)
def _cached(path: str, mtime: float) -> ProfileSet:
    del mtime
    return load_profiles(path)


def default_profiles(path: str | os.PathLike | None = None) -> ProfileSet:
    """The profiles a prediction uses: ``path``, else ``$GENZ_PROFILES``, else the shipped snapshot.

    A named file (argument or environment variable) that does not exist is an error, never a silent
    fallback; ``.source`` of the result says which file was used.
    """
    env = os.environ.get("GENZ_PROFILES") or None
    for c, what in ((path, "--profiles"), (env, "GENZ_PROFILES")):
        if c:
            if not Path(c).is_file():
                raise GenzError(f"profiles: {what} names {c}, which is not a file")
            return _cached(str(Path(c).resolve()), Path(c).stat().st_mtime)
    if PACKAGED.is_file():
        return _cached(str(PACKAGED.resolve()), PACKAGED.stat().st_mtime)
    return ProfileSet([])


def uncalibrated() -> ProfileSet:
    """A profile set with only the built-in defaults."""
    return ProfileSet([])
