"""Alpha-beta cost of collectives on a two-level network, vectorized over scenarios.

A collective over ``n`` devices runs inside one scale-up domain (NVLink/NVSwitch, Infinity
Fabric, ICI) when ``n <= domain``, and hierarchically otherwise: a reduce-scatter inside each
domain, the cross-domain step over the scale-out network on 1/local of the data (every device
has its own NIC), and an all-gather inside each domain.

Costs are ``α·steps + bytes / (bandwidth · efficiency)`` per algorithm; like NCCL, the cheapest
algorithm for the message size is used. Which algorithms exist is a property of the serving
stack: NCCL offers ring and tree; stacks with custom all-reduce kernels (TensorRT-LLM, vLLM with
CUDA graphs) add one-shot and two-shot, which win for the small messages of decode:

* ring all-reduce: ``2(n-1)`` steps, ``2(n-1)/n · S`` bytes per device;
* two-shot (reduce-scatter + all-gather, direct over a switch): 2 steps, ``2(n-1)/n · S`` bytes;
* one-shot (every device reads every peer's buffer; small messages): 1 step, ``(n-1) · S`` bytes;
* tree all-reduce (latency ``2·log2 n`` steps, ``2 · S`` bytes, pipelined).

``S`` is the message size in bytes per device (the tensor being reduced). Bandwidths are per
device per direction in bytes/s, latencies in seconds. All arguments broadcast as numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Net:
    """Per-scenario network parameters (numpy arrays or scalars)."""

    up_bw: np.ndarray  # scale-up bandwidth per device per direction, bytes/s (efficiency applied)
    up_lat: np.ndarray  # scale-up latency, s
    domain: np.ndarray  # devices per scale-up domain
    out_bw: np.ndarray  # scale-out bandwidth per device per direction, bytes/s (efficiency applied)
    out_lat: np.ndarray  # scale-out latency, s
    custom: np.ndarray | bool = True  # custom one/two-shot all-reduce kernels available


def _flat_allreduce(S, n, bw, lat, custom=True):
    """Cheapest single-level all-reduce time (s) of S bytes over n devices."""
    n = np.maximum(n, 1.0)
    frac = (n - 1.0) / n
    ring = 2.0 * (n - 1.0) * lat + 2.0 * frac * S / bw
    tree = 2.0 * np.log2(np.maximum(n, 2.0)) * lat + 2.0 * S / bw
    two_shot = 2.0 * lat + 2.0 * frac * S / bw
    one_shot = lat + (n - 1.0) * S / bw
    nccl = np.minimum(ring, tree)
    t = np.where(custom, np.minimum(nccl, np.minimum(one_shot, two_shot)), nccl)
    return np.where(n > 1, t, 0.0)


def _flat_allgather(S_out, n, bw, lat):
    """All-gather (or reduce-scatter) of an S_out-byte result over n devices, single level."""
    n = np.maximum(n, 1.0)
    frac = (n - 1.0) / n
    ring = (n - 1.0) * lat + frac * S_out / bw
    direct = lat + frac * S_out / bw
    t = np.minimum(ring, direct)
    return np.where(n > 1, t, 0.0)


def allreduce(S, n, net: Net):
    """All-reduce time (s) of an S-byte tensor over n devices on a two-level network."""
    S = np.asarray(S, dtype=float)
    n = np.asarray(n, dtype=float)
    inside = n <= net.domain
    t_flat = _flat_allreduce(S, n, net.up_bw, net.up_lat, net.custom)
    local = np.minimum(n, net.domain)
    nodes = np.ceil(n / np.maximum(local, 1.0))
    t_hier = (
        2.0 * _flat_allgather(S, local, net.up_bw, net.up_lat)  # reduce-scatter + all-gather inside
        + _flat_allreduce(S / np.maximum(local, 1.0), nodes, net.out_bw, net.out_lat, False)
    )
    return np.where(inside, t_flat, t_hier)


def allgather(S_out, n, net: Net):
    """All-gather time (s) producing an S_out-byte tensor on each of n devices."""
    S_out = np.asarray(S_out, dtype=float)
    n = np.asarray(n, dtype=float)
    inside = n <= net.domain
    t_flat = _flat_allgather(S_out, n, net.up_bw, net.up_lat)
    local = np.minimum(n, net.domain)
    nodes = np.ceil(n / np.maximum(local, 1.0))
    t_hier = _flat_allgather(S_out / nodes, local, net.up_bw, net.up_lat) + _flat_allgather(
        S_out, nodes, net.out_bw * local, net.out_lat
    )
    return np.where(inside, t_flat, t_hier)


def alltoall(S, n, net: Net):
    """All-to-all time (s) where each device sends S bytes in total, spread evenly over n devices."""
    S = np.asarray(S, dtype=float)
    n = np.maximum(np.asarray(n, dtype=float), 1.0)
    local = np.minimum(n, net.domain)
    intra = (local - 1.0) / n * S / net.up_bw + net.up_lat
    inter = (n - local) / n * S / net.out_bw + np.where(n > local, net.out_lat, 0.0)
    return np.where(n > 1, np.maximum(intra, inter), 0.0)


def p2p(S, cross_domain, net: Net):
    """Point-to-point send of S bytes to the next pipeline stage (s)."""
    S = np.asarray(S, dtype=float)
    return np.where(cross_domain, net.out_lat + S / net.out_bw, net.up_lat + S / net.up_bw)
