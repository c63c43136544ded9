"""Calibration profiles: fitted efficiency factors and uncertainty bands per platform × framework.

A profile file is JSON produced by the calibration rule (``genz calibrate``); no number in it is
typed by hand. Lookup order for a scenario on hardware ``H`` with serving stack ``F``:

1. ``H / F``  — fitted on measurements of that platform and framework;
2. ``H / generic`` — fitted on that platform, any framework;
3. ``* / F``  — the framework's cross-platform fit (platform uncalibrated);
4. ``* / generic`` — the global fit; 5. the built-in defaults (uncalibrated).

Where profiles come from (first that exists): an explicit path, ``$GENZ_PROFILES``,
``results/calibration/profiles.json`` under the working directory (written by the pipeline), the
snapshot shipped in ``genz/data/calibration/profiles.json``.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .efficiency import DEFAULT, Efficiency
from .errors import GenzError

PACKAGED = Path(__file__).parent / "data" / "calibration" / "profiles.json"
PIPELINE = Path("results") / "calibration" / "profiles.json"

#: band (multiplicative, 80 % central interval of measured/predicted) for uncalibrated predictions
UNCALIBRATED_BAND = (0.5, 2.0)




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

    @property
    def id(self) -> str:
        return f"{self.platform}/{self.framework}@{self.version}"

    def to_json(self) -> dict:
        return {"platform": self.platform, "framework": self.framework, "version": self.version,
                "calibrated": self.calibrated, "n_rows": self.n_rows,
                "factors": self.efficiency.as_dict(), "bands": self.bands, "ranges": self.ranges}

    @classmethod
    def from_json(cls, d: dict, origin: str = "profiles") -> Profile:
        try:
            names = set(Efficiency.names())
            factors = {k: float(v) for k, v in (d.get("factors") or {}).items() if k in names}
            return cls(platform=str(d["platform"]), framework=str(d["framework"]),
                       efficiency=Efficiency(**factors), version=str(d.get("version", "")),
                       calibrated=bool(d.get("calibrated", True)), n_rows=int(d.get("n_rows", 0)),
                       bands=dict(d.get("bands") or {}), ranges=dict(d.get("ranges") or {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise GenzError(f"{origin}: malformed profile entry ({exc})") from None


DEFAULT_PROFILE = Profile(platform="*", framework="generic", efficiency=DEFAULT, version="defaults",
                          calibrated=False)


class ProfileSet:
    """A set of profiles with the lookup chain described in the module docstring."""

    def __init__(self, profiles: list[Profile] | None = None, source: str = "built-in defaults"):
        self.profiles = list(profiles or [])
        self.source = source
        self._by_key = {(p.platform.lower(), p.framework): p for p in self.profiles}
        self._all = [*self.profiles, DEFAULT_PROFILE]

    def __len__(self) -> int:
        return len(self.profiles)

    def get(self, platform: str, framework: str) -> tuple[Profile, str]:
        """The profile for a platform id and framework key, and how it was matched.

        Order: the platform × framework fit; the platform's fit over all its frameworks; the
        family prior from kernel timings (uncalibrated platform); the built-in defaults.
        """
        k = self._by_key
        pl_ = platform.lower()
        if (pl_, framework) in k:
            return k[(pl_, framework)], "calibrated"
        if (pl_, "generic") in k:
            p = k[(pl_, "generic")]
            if not p.calibrated:
                return p, f"uncalibrated ({p.ranges.get('note', 'priors')})"
            return p, "calibrated (platform, other framework)" if framework != "generic" else "calibrated"
        return DEFAULT_PROFILE, "uncalibrated"

    def lookup_rows(self, hw_names, hw_ids, fw_keys):
        """Per-row efficiency arrays, a calibration label per row, and profile indices."""
        import polars as pl

        n = len(hw_ids)
        keys = pl.select(pl.format("{}\x1f{}", pl.Series(list(hw_ids), dtype=pl.String),
                                   pl.Series(list(fw_keys), dtype=pl.String)).alias("k")).get_column("k") \
            if n else pl.Series("k", [], dtype=pl.String)
        uniq = keys.unique().sort().to_list()
        inv = keys.replace_strict({u: i for i, u in enumerate(uniq)}, return_dtype=pl.Int64).to_numpy()
        u_idx = np.zeros(len(uniq), dtype=int)
        u_lab = np.empty(len(uniq), dtype=object)
        for i, key in enumerate(uniq):
            h, f = str(key).split("\x1f")
            prof, how = self.get(h, f)
            u_idx[i] = next(j for j, p in enumerate(self._all) if p is prof)
            u_lab[i] = f"{how}: {prof.id}" if prof is not DEFAULT_PROFILE else how
        idx = u_idx[inv] if n else np.zeros(0, dtype=int)
        labels = u_lab[inv] if n else np.empty(0, dtype=object)
        effs = {name: np.array([getattr(p.efficiency, name) for p in self._all], dtype=float)[idx]
                for name in Efficiency.names()}
        return effs, labels, idx

    def band_rows(self, idx: np.ndarray, metrics: np.ndarray, inp, spec) -> tuple[np.ndarray, np.ndarray]:
        """Multiplicative (low, high) band factors per row: predicted·lo .. predicted·hi.

        The band of a calibrated profile comes from its out-of-fold residuals per metric; scenarios
        beyond the measured range (batch, lengths) get the band widened.
        """
        n = len(idx)
        lo = np.full(n, UNCALIBRATED_BAND[0])
        hi = np.full(n, UNCALIBRATED_BAND[1])
        for j in np.unique(idx):
            prof = self._all[j]
            if not prof.bands:
                continue
            sel = idx == j
            for m in set(metrics[sel].tolist()):
                b = prof.bands.get(m if m is not None else "e2e_latency_ms") or prof.bands.get("all")
                if not b:
                    continue
                s2 = sel & (metrics == m) if m is not None else sel & np.array([x is None for x in metrics])
                lo[s2], hi[s2] = float(b[0]), float(b[1])
            # outside the measured range: widen by the log-ratio of extrapolation
            r = prof.ranges
            if r:
                widen = np.ones(n)
                for key, arr in (("batch_max", inp.B), ("input_max", inp.L), ("output_max", inp.O)):
                    mx = r.get(key)
                    if mx:
                        widen = widen * np.maximum(1.0, arr / float(mx)) ** 0.15
                lo[sel] = lo[sel] / widen[sel]
                hi[sel] = hi[sel] * widen[sel]
        return lo, hi

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
    return ProfileSet([Profile.from_json(e, str(p)) for e in entries], source=str(p))


@functools.lru_cache(maxsize=8)
def _cached(path: str, mtime: float) -> ProfileSet:
    del mtime
    return load_profiles(path)


def default_profiles(path: str | os.PathLike | None = None) -> ProfileSet:
    """The profiles a prediction uses when none are given (see module docstring)."""
    candidates = [path, os.environ.get("GENZ_PROFILES"), PIPELINE, PACKAGED]
    for c in candidates:
        if c and Path(c).is_file():
            return _cached(str(Path(c).resolve()), Path(c).stat().st_mtime)
        if c is path and path is not None:
            raise GenzError(f"profiles: file not found: {path}")
    return ProfileSet([])


def uncalibrated() -> ProfileSet:
    """A profile set with only the built-in defaults."""
    return ProfileSet([])
