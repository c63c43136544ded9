"""Prepared measurements: engine inputs built once per model, efficiencies swapped per evaluation.

The fit (:mod:`genz.calibrate.physfit`) and the validation (:mod:`genz.calibrate.calibration`)
both evaluate the engine on the same measured rows many times with different efficiency
factors; :func:`prepare` normalizes the rows and builds their engine inputs once,
:func:`evaluate` predicts every row for one set of per-row efficiencies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ..catalog.frameworks import frameworks
from ..catalog.hardware import Hardware, get_hardware
from ..catalog.modelspec import ModelSpec
from ..catalog.units import MS
from ..catalog.zoo import get_model
from ..errors import GenzError
from ..perf import engine, serving
from ..perf.predict import engine_inputs
from ..perf.profiles import uncalibrated
from ..perf.scenarios import normalize

# ----------------------------------------------------------------------------------------------
# which stack each measured row ran
# ----------------------------------------------------------------------------------------------


def source_group(source: str) -> str:
    """The study a row comes from: the first word of its ``source`` (a repository or document)."""
    s = str(source or "").strip()
    return s.split()[0] if s else "unknown"


def stack_of(framework_key: str, vendor: str, source: str, family: str = "") -> str:
    """The serving stack a measured row ran.

    Its framework key; a variant of that framework declared in ``frameworks.yaml`` whose ``match``
    (vendor, optional source substring) fits the row (``<variant>@<family>`` where the variant is
    ``split_by: family``: a young build whose kernel maturity differed per chip generation); or, for
    a row that states no framework,
    ``unstated:<study>`` (a stack of its own per study: consistent within the study, unknown to
    a user, so never selectable).
    """
    if framework_key == "generic":
        return f"unstated:{source_group(source)}"
    for key, d in sorted(frameworks().items()):
        if not isinstance(d, dict) or d.get("variant_of") != framework_key:
            continue
        m = d.get("match") or {}
        if m.get("vendor") and str(m["vendor"]).lower() != str(vendor).lower():
            continue
        if m.get("source") and str(m["source"]).lower() not in str(source).lower():
            continue
        return f"{key}@{family}" if d.get("split_by") == "family" and family else key
    return framework_key


# ----------------------------------------------------------------------------------------------
# prepared measurements: engine inputs built once, efficiencies swapped per evaluation
# ----------------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """Measured rows with the engine inputs pre-built per model."""

    frame: pl.DataFrame  # normalized measurement rows that can be predicted
    value: np.ndarray
    metric: np.ndarray
    platform: np.ndarray
    framework: np.ndarray
    model: np.ndarray
    groups: list  # (spec, Inputs, row indices, framework keys)
    stack: np.ndarray  # the serving stack each row ran (stack_of)
    source: np.ndarray  # the study each row comes from (source_group)

    def __len__(self) -> int:
        return len(self.value)

    def tile(self, k: int) -> Prepared:
        """The rows repeated ``k`` times (block j = rows j·n .. (j+1)·n - 1): evaluates k parameter
        vectors in one vectorized engine pass."""
        n = len(self)
        groups = []
        for spec, inp, idx, fw in self.groups:
            groups.append((spec, inp.take(np.tile(np.arange(len(inp)), k)),
                           np.concatenate([idx + j * n for j in range(k)]), fw * k))
        return Prepared(frame=self.frame, value=np.tile(self.value, k), metric=np.tile(self.metric, k),
                        platform=np.tile(self.platform, k), framework=np.tile(self.framework, k),
                        model=np.tile(self.model, k), groups=groups, stack=np.tile(self.stack, k),
                        source=np.tile(self.source, k))

    def subset(self, mask: np.ndarray) -> Prepared:
        """Rows where ``mask`` is true (engine inputs sliced once)."""
        pos = np.cumsum(mask) - 1
        groups = []
        for spec, inp, idx, fw in self.groups:
            keep = mask[idx]
            if keep.any():
                groups.append((spec, inp.take(np.nonzero(keep)[0]), pos[idx[keep]],
                               [f for f, k in zip(fw, keep) if k]))
        return Prepared(frame=self.frame.filter(pl.Series(mask)), value=self.value[mask], metric=self.metric[mask],
                        platform=self.platform[mask], framework=self.framework[mask], model=self.model[mask],
                        groups=groups, stack=self.stack[mask], source=self.source[mask])


def prepare(measurements: pl.DataFrame) -> Prepared:
    """Normalize measured rows and pre-build engine inputs; rows that cannot be predicted are dropped."""
    norm = normalize(measurements)
    ok = (norm.get_column("status") == "ok").to_numpy()
    specs: dict[str, ModelSpec] = {}
    hws: dict[str, Hardware] = {}
    for i, (m, h) in enumerate(zip(norm.get_column("_model").to_list(), norm.get_column("_hardware").to_list())):
        if not ok[i]:
            continue
        try:
            specs.setdefault(m, get_model(m))
            hws.setdefault(h, get_hardware(h))
        except GenzError:
            ok[i] = False
    norm = norm.filter(pl.Series(ok))
    norm = norm.with_columns(
        _model_id=pl.col("_model").replace_strict({k: v.id for k, v in specs.items()}, default=None),
        _hw_id=pl.col("_hardware").replace_strict({k: v.id for k, v in hws.items()}, default=None),
    )
    order = np.lexsort((np.arange(norm.height), norm.get_column("_model_id").to_numpy()))
    norm = norm[order]
    hw_ids = sorted({h.id for h in hws.values()})
    hw_list = [get_hardware(h) for h in hw_ids]
    hw_pos = {h: i for i, h in enumerate(hw_ids)}
    groups = []
    model_col = norm.get_column("_model_id").to_numpy()
    for mid in sorted(set(model_col.tolist())):
        idx = np.nonzero(model_col == mid)[0]
        rows = norm[idx]
        fw = rows.get_column("_framework_key").to_list()
        hidx = np.array([hw_pos[h] for h in rows.get_column("_hw_id").to_list()], dtype=int)
        # the efficiencies are swapped per evaluation: build with the defaults
        inp, _, _ = engine_inputs(rows, hw_list, hidx, uncalibrated())
        groups.append((get_model(mid), inp, idx, fw))
    src = norm.get_column("source").cast(pl.String).fill_null("").to_list() if "source" in norm.columns \
        else [""] * norm.height
    fwk = norm.get_column("_framework_key").to_list()
    hw_of = [get_hardware(h) for h in norm.get_column("_hw_id").to_list()]
    return Prepared(
        frame=norm, value=norm.get_column("value").cast(pl.Float64).to_numpy(),
        metric=norm.get_column("_metric").to_numpy().astype(str), platform=norm.get_column("_hw_id").to_numpy(),
        framework=norm.get_column("_framework_key").to_numpy(), model=model_col, groups=groups,
        stack=np.array([stack_of(f, h.vendor, s_, h.family) for f, h, s_ in zip(fwk, hw_of, src)],
                       dtype=object).astype(str),
        source=np.array([source_group(s_) for s_ in src], dtype=object).astype(str),
    )


def evaluate(prep: Prepared, effs: dict[str, np.ndarray]) -> np.ndarray:
    """Predicted value of every prepared row given per-row efficiency arrays."""
    out = np.full(len(prep), np.nan)
    for spec, inp, idx, fw in prep.groups:
        inp.eff = {k: v[idx] for k, v in effs.items()}
        met = prep.metric[idx]
        mt = met == "max_throughput_tok_s"
        fixed = ~mt
        if fixed.any():
            sub = inp if fixed.all() else inp.take(np.nonzero(fixed)[0])
            est = engine.estimate(spec, sub)
            m = met[fixed]
            val = np.select(
                [m == "ttft_ms", m == "tpot_ms", m == "e2e_latency_ms", m == "throughput_tok_s",
                 m == "throughput_tok_s_per_device"],
                [est.ttft_s / MS, est.tpot_s / MS, est.e2e_s / MS, est.throughput_tok_s,
                 est.throughput_tok_s_per_device], default=np.nan)
            out[idx[fixed]] = val
        if mt.any():
            sub = inp if mt.all() else inp.take(np.nonzero(mt)[0])
            r = serving.max_throughput(spec, sub, [f for f, k in zip(fw, mt) if k])
            out[idx[mt]] = r["throughput"]
    return out


def _log_err(pred: np.ndarray, meas: np.ndarray) -> np.ndarray:
    """log(predicted/measured), sign-adjusted so that 'too slow' is positive for every metric."""
    return np.log(pred / meas)


_THROUGHPUT = ("throughput_tok_s", "throughput_tok_s_per_device", "max_throughput_tok_s")


def _as_time(values: np.ndarray, metric: np.ndarray) -> np.ndarray:
    """Time-like view of a metric (throughputs inverted), in which overheads add linearly."""
    return np.where(np.isin(metric, _THROUGHPUT), 1.0 / values, values)
