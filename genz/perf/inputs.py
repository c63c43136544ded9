"""The scenario arrays the engine works on, in parts by meaning.

:class:`Inputs` holds, for the scenarios of one model (numpy arrays, one entry per scenario):

* :class:`Workload` — what is asked: batch, prompt and output tokens, beams, chunking, speculation;
* :class:`Layout` — how the model is split over devices: tp, pp, ep, dp, cp, the decode pool;
* :class:`Precision` — bytes per element of weights, activations, KV cache, embeddings;
* :class:`Device` — the hardware: peak FLOP/s, HBM, scale-up/scale-out/host links;
* :class:`Stack` — what the serving stack does: offload, sliding windows, all-reduce kernels;
* ``eff`` — efficiency factors by name (:mod:`genz.perf.efficiency`), a dict of arrays.

Every array is also an attribute of :class:`Inputs` itself (``inp.tp``, ``inp.hbm_bw``), and the
constructor takes them as flat keywords, as :func:`genz.perf.predict.build_inputs` passes them.
The parts are frozen: setting ``inp.tp = ...`` swaps in a new :class:`Layout` for that
:class:`Inputs` only, so parts can be shared between inputs (:meth:`Inputs.replace`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from dataclasses import replace as _replace
from operator import attrgetter
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from . import collectives as coll
from .ops import Par


@dataclass(frozen=True, eq=False)
class _Part:
    """A group of same-length scenario arrays."""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def take(self, idx: np.ndarray) -> Any:
        """The same part for a subset of scenarios."""
        return type(self)(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})


@dataclass(frozen=True, eq=False)
class Workload(_Part):
    """What is asked, per scenario."""

    B: np.ndarray  # requests in the batch (whole system)
    L: np.ndarray  # prompt tokens per request
    O: np.ndarray  # output tokens per request
    beams: np.ndarray  # beam-search width
    chunk: np.ndarray  # chunked-prefill token budget (0 = off)
    budget: np.ndarray  # per-iteration token budget for workspace (0 = default)
    spec_tokens: np.ndarray  # speculative tokens per step (γ, 0 = off)
    acceptance: np.ndarray  # per-token acceptance rate (α)
    conc: np.ndarray  # closed-loop client concurrency, whole deployment (0 = fixed batch; genz.perf.concurrency)
    len_ratio: np.ndarray  # closed loop: lengths uniform in [len_ratio·L, L] (and O)
    prompts: np.ndarray  # closed loop: requests of the run (benchmark_serving --num-prompts)


@dataclass(frozen=True, eq=False)
class Layout(_Part):
    """How the model is split over devices, per scenario."""

    tp: np.ndarray  # tensor parallel
    pp: np.ndarray  # pipeline stages
    ep: np.ndarray  # expert parallel
    dp: np.ndarray  # data-parallel replicas
    cp: np.ndarray  # context parallel
    devices: np.ndarray  # devices of the whole deployment
    decode_tp: np.ndarray  # disaggregated decode pool TP (0 = colocated)
    decode_pp: np.ndarray  # disaggregated decode pool PP
    decode_ep: np.ndarray  # decode pool EP (0 = ep)
    decode_dp: np.ndarray  # decode pool attention ranks, all replicas (0 = dp; genz.perf.layouts)


@dataclass(frozen=True, eq=False)
class Precision(_Part):
    """Bytes per element, per scenario."""

    wb: np.ndarray  # weights
    ab: np.ndarray  # activations
    kvb: np.ndarray  # KV cache
    eb: np.ndarray  # embedding / LM head (kept at 16 bit when weights are quantized)
    wdb: np.ndarray  # weights outside the routed experts (0 = wb; genz.catalog.dtypes.expert_only)


@dataclass(frozen=True, eq=False)
class Device(_Part):
    """One device and its links, per scenario (SI units)."""

    peak_matrix: np.ndarray  # FLOP/s at the compute dtype
    peak_attn: np.ndarray  # FLOP/s for the attention kernel
    peak_16: np.ndarray  # FLOP/s at 16 bit (LM head)
    peak_vector: np.ndarray  # FLOP/s of element-wise work
    hbm_bw: np.ndarray  # bytes/s
    hbm_bytes: np.ndarray  # bytes
    up_bw: np.ndarray  # scale-up bytes/s per direction
    up_lat: np.ndarray  # scale-up latency, s
    domain: np.ndarray  # devices in one scale-up domain
    out_bw: np.ndarray  # scale-out bytes/s
    out_lat: np.ndarray  # scale-out latency, s
    host_bw: np.ndarray  # host link bytes/s
    host_bytes: np.ndarray  # host memory per device for offload, bytes


@dataclass(frozen=True, eq=False)
class Stack(_Part):
    """What the serving stack does, per scenario (bool arrays)."""

    offload_w: np.ndarray  # weights may spill to host memory
    offload_kv: np.ndarray  # KV may spill to host memory
    no_window: np.ndarray  # runs sliding-window layers as global attention
    custom_ar: np.ndarray  # one/two-shot all-reduce kernels


#: the parts of :class:`Inputs`: attribute name and class
PARTS: dict[str, type[_Part]] = {"workload": Workload, "layout": Layout, "precision": Precision,
                                 "device": Device, "stack": Stack}
#: fields a caller may omit: zeros (False for flags) when absent or not one value per scenario
_OPTIONAL = {"offload_w": bool, "offload_kv": bool, "no_window": bool, "custom_ar": bool, "host_bytes": float,
             "spec_tokens": float, "acceptance": float, "decode_tp": float, "decode_pp": float,
             "decode_ep": float, "decode_dp": float, "wdb": float, "conc": float, "len_ratio": float, "prompts": float}


class _Field(property):
    """``Inputs.<name>``: reads ``inp.<part>.<name>``; setting it swaps in a changed copy of the part
    (the parts are frozen, so a part shared with other inputs never changes under them)."""

    def __init__(self, part: str, name: str) -> None:
        def set_(obj: Inputs, value: np.ndarray) -> None:
            setattr(obj, part, _replace(getattr(obj, part), **{name: value}))

        super().__init__(attrgetter(f"{part}.{name}"), set_, doc=f"``{part}.{name}``")
        self.part, self.name = part, name

    def __set_name__(self, owner: type, name: str) -> None:
        if name != self.name:
            raise TypeError(f"{owner.__name__}.{name} would read {self.part}.{self.name}")

    if TYPE_CHECKING:  # what an attribute access gives (property itself is untyped)
        @overload
        def __get__(self, obj: None, owner: type | None = None, /) -> _Field: ...
        @overload
        def __get__(self, obj: object, owner: type | None = None, /) -> np.ndarray: ...
        def __get__(self, obj: object, owner: type | None = None, /) -> Any: ...
        def __set__(self, obj: object, value: np.ndarray, /) -> None: ...


def _fields(part: type[_Part]) -> tuple[_Field, ...]:
    """The :class:`_Field` of every array of ``part``, in field order."""
    attr = next(a for a, p in PARTS.items() if p is part)
    return tuple(_Field(attr, name) for name in part.names())


class Inputs:
    """Scenario arrays for one model (all numpy, same length): five parts and the efficiencies.

    ``Inputs(B=..., L=..., tp=..., hbm_bw=..., ..., eff={...})`` takes every array as a flat
    keyword; ``inp.<name>`` reads and sets it in its part (``inp.tp`` is ``inp.layout.tp``).
    """

    __slots__ = ("device", "eff", "layout", "precision", "stack", "workload")

    workload: Workload
    layout: Layout
    precision: Precision
    device: Device
    stack: Stack
    eff: dict[str, np.ndarray]  # efficiency factors by name (see genz.perf.efficiency)

    # every array, by the part that holds it (names checked against the parts' fields)
    B, L, O, beams, chunk, budget, spec_tokens, acceptance, conc, len_ratio, prompts = _fields(Workload)
    tp, pp, ep, dp, cp, devices, decode_tp, decode_pp, decode_ep, decode_dp = _fields(Layout)
    wb, ab, kvb, eb, wdb = _fields(Precision)
    (peak_matrix, peak_attn, peak_16, peak_vector, hbm_bw, hbm_bytes, up_bw, up_lat, domain, out_bw, out_lat,
     host_bw, host_bytes) = _fields(Device)
    offload_w, offload_kv, no_window, custom_ar = _fields(Stack)

    def __init__(self, *, eff: dict[str, np.ndarray], **arrays: Any) -> None:
        n = len(arrays["B"])
        for name, kind in _OPTIONAL.items():
            a = arrays.get(name)
            if a is None or np.shape(a) != (n,):
                arrays[name] = np.zeros(n, dtype=kind)
        for attr, part in PARTS.items():
            try:
                setattr(self, attr, part(**{k: arrays.pop(k) for k in part.names()}))
            except KeyError as exc:
                raise TypeError(f"Inputs: missing array {exc.args[0]!r}") from None
        if arrays:
            raise TypeError(f"Inputs: unexpected arrays {sorted(arrays)}")
        self.eff = eff

    @classmethod
    def of(cls, eff: dict[str, np.ndarray], **parts: Any) -> Inputs:
        """Inputs made of these parts (shared, not copied)."""
        out = cls.__new__(cls)
        for attr in PARTS:
            setattr(out, attr, parts[attr])
        out.eff = eff
        return out

    def __len__(self) -> int:
        return len(self.workload.B)

    def __repr__(self) -> str:
        return f"Inputs({len(self)} scenarios)"

    def take(self, idx: np.ndarray) -> Inputs:
        """A subset of scenarios (arrays copied)."""
        return Inputs.of({k: a[idx] for k, a in self.eff.items()},
                         **{attr: getattr(self, attr).take(idx) for attr in PARTS})

    def replace(self, **arrays: Any) -> Inputs:
        """The same scenarios with some arrays changed (``inp.replace(tp=..., pp=...)``); the parts
        not changed are shared."""
        out = Inputs.of(dict(self.eff), **{attr: getattr(self, attr) for attr in PARTS})
        for name, value in arrays.items():
            setattr(out, name, value)
        return out

    def net(self) -> coll.Net:
        """The network (scale-up and scale-out links, efficiency applied)."""
        e = self.eff["network"]
        return coll.Net(up_bw=self.up_bw * e, up_lat=self.up_lat, domain=self.domain,
                        out_bw=self.out_bw * e, out_lat=self.out_lat, custom=self.custom_ar)

    def par(self) -> Par:
        """The parallel layout and datatypes as the operators see them."""
        return Par(tp=self.tp, pp=self.pp, ep=self.ep, dp=self.dp, cp=self.cp, wb=self.wb, ab=self.ab,
                   kvb=self.kvb, eb=self.eb, net=self.net(), no_window=self.no_window,
                   wdb=np.where(self.wdb > 0, self.wdb, self.wb) if np.any(self.wdb > 0) else None)
