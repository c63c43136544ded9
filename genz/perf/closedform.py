"""Closed-form sums over a phase's iterations (the engine never loops over iterations).

Iteration ``j`` of a phase has ``s_j = s0 + j·Δ`` tokens cached. Per-operator FLOPs and bytes are
affine in ``s`` up to a sliding window, constant beyond it and quadratic in the (at most one)
iteration whose block straddles its edge (:class:`WindowSplit`); so the roofline sum
``Σ_j max(FLOPs_j/rate, bytes_j/bandwidth)`` and the query-key pairs of a whole phase are
computed exactly in closed form (:func:`sum_max_affine`, :func:`sum_block_keys`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ops import INF


def _sum_pos_affine(n, A, B):
    """Σ_{j=0}^{n-1} max(A + B·j, 0) for integer n >= 0 (arrays broadcast)."""
    n = np.asarray(n, dtype=float)
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.where(B != 0, -A / np.where(B != 0, B, 1.0), 0.0)
    # increasing: positive for j > root
    j0 = np.clip(np.floor(root) + 1.0, 0.0, n)
    k_inc = n - j0
    s_inc = k_inc * A + B * (j0 + n - 1.0) * k_inc / 2.0
    # decreasing: positive for j < root
    j1 = np.clip(np.ceil(root), 0.0, n)
    s_dec = j1 * A + B * j1 * (j1 - 1.0) / 2.0
    s_flat = n * np.maximum(A, 0.0)
    out = np.where(B > 0, s_inc, np.where(B < 0, s_dec, s_flat))
    return np.maximum(out, 0.0)


def sum_max_affine(n, a1, b1, a2, b2):
    """Σ_{j=0}^{n-1} max(a1 + b1·j, a2 + b2·j), exactly, for integer n >= 0."""
    n = np.asarray(n, dtype=float)
    sum_g = n * a2 + b2 * n * (n - 1.0) / 2.0
    return sum_g + _sum_pos_affine(n, np.asarray(a1) - a2, np.asarray(b1) - b2)


def _count_le(s0, delta, n, x):
    """How many of ``s_j = s0 + j·Δ`` (j = 0..n-1, Δ >= 0) are <= x."""
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(delta > 0, np.floor((x - s0) / np.where(delta > 0, delta, 1.0)) + 1.0,
                     np.where(s0 <= x, n, 0.0))
    return np.clip(k, 0.0, n)


def _count_lt(s0, delta, n, x):
    """How many of ``s_j = s0 + j·Δ`` (j = 0..n-1, Δ >= 0) are < x."""
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(delta > 0, np.ceil((x - s0) / np.where(delta > 0, delta, 1.0)),
                     np.where(s0 < x, n, 0.0))
    return np.clip(k, 0.0, n)


def _power_sums(s0, delta, lo, hi):
    """(Σ s_j, Σ s_j²) over j = lo..hi-1 of ``s_j = s0 + j·Δ`` (empty when hi <= lo)."""
    cnt = np.maximum(hi - lo, 0.0)
    hi = lo + cnt
    sj = (lo + hi - 1.0) * cnt / 2.0  # Σ j
    sj2 = ((hi - 1.0) * hi * (2.0 * hi - 1.0) - (lo - 1.0) * lo * (2.0 * lo - 1.0)) / 6.0  # Σ j²
    return cnt * s0 + delta * sj, cnt * s0 * s0 + 2.0 * s0 * delta * sj + delta * delta * sj2


@dataclass
class WindowSplit:
    """A phase's iterations split by how a block of ``t`` queries meets a sliding window ``W``.

    Iteration ``j`` has ``s_j = s0 + j·Δ`` cached tokens; its query-key pairs are
    ``K(s, t) = G(s+t) - G(s)`` (:func:`genz.perf.ops.block_keys`) and it reads ``min(s, W-1)`` cached
    tokens. With ``B = W-1``:

    * ``j < n1`` (``s + t <= B``): nothing reaches the window, ``K = t·s + t(t+1)/2`` (affine);
    * ``n1 <= j < n12`` (``B-t < s < B``): the block straddles the window edge,
      ``K = W·(s+t) - W(W-1)/2 - s(s+1)/2`` (quadratic), ``min(s, B) = s``;
    * ``j >= n12`` (``s >= B``): every query sees ``W`` keys, ``K = t·W``, ``min(s, B) = B``.

    The middle range is an open interval of length ``t``, so it holds at most one iteration when
    ``Δ >= t`` (prefill, chunked prefill, decode), and :func:`genz.perf.engine.run_phase` times it
    exactly. Only speculative verification (``t = γ+1`` tokens, advancing ``E < t``) can put a few iterations
    there; they are timed by the roofline of their totals (exact when one resource dominates
    there, a slight underestimate otherwise). Without a window ``n1 = n12 = n``.
    """

    n1: np.ndarray
    n12: np.ndarray
    B: np.ndarray  # W-1 (0 where there is no window)
    Wf: np.ndarray  # W (0 where there is no window)
    sum_s1: np.ndarray  # Σ s_j over the affine range
    sum_s2: np.ndarray  # Σ s_j over the straddling range
    sum_s2sq: np.ndarray  # Σ s_j² over the straddling range

    def keys(self, t):
        """(Σ K over the affine range, Σ K over the straddling range, K per iteration beyond)."""
        n2 = self.n12 - self.n1
        k1 = t * self.sum_s1 + self.n1 * t * (t + 1.0) / 2.0
        W = self.Wf
        k2 = W * (self.sum_s2 + n2 * t) - n2 * W * (W - 1.0) / 2.0 - (self.sum_s2sq + self.sum_s2) / 2.0
        return k1, k2, t * W


def window_split(s0, delta, n, t, window) -> WindowSplit:
    """Split a phase's iterations into the three ranges of :class:`WindowSplit` (closed form)."""
    W = np.asarray(window, dtype=float)
    finite = np.isfinite(W)
    Wf = np.where(finite, W, 0.0)
    B = np.where(finite, Wf - 1.0, 0.0)
    n1 = np.where(finite, _count_le(s0, delta, n, B - t), n)
    n12 = np.maximum(np.where(finite, _count_lt(s0, delta, n, B), n), n1)
    sum_s1, _ = _power_sums(s0, delta, 0.0, n1)
    sum_s2, sum_s2sq = _power_sums(s0, delta, n1, n12)
    return WindowSplit(n1=n1, n12=n12, B=B, Wf=Wf, sum_s1=sum_s1, sum_s2=sum_s2, sum_s2sq=sum_s2sq)


def sum_block_keys(s0, delta, n, t, window=INF):
    """Σ_{j=0}^{n-1} K(s0 + j·Δ, t): query-key pairs of a whole phase, exactly, in closed form.

    ``K(s, t) = Σ_{p=s}^{s+t-1} min(p+1, W)`` (:func:`genz.perf.ops.block_keys`). A prompt of ``L``
    tokens in one block gives ``L(L+1)/2`` (``L <= W``) or ``W(W+1)/2 + (L-W)·W``; ``k`` chunks of
    ``c = L/k`` (``s0 = 0, Δ = c``) telescope to the same total.
    """
    s0, delta, n, t = (np.asarray(x, dtype=float) for x in (s0, delta, n, t))
    ws = window_split(s0, delta, n, t, window)
    k1, k2, k3 = ws.keys(t)
    return k1 + k2 + (n - ws.n12) * k3

