"""Engine numbers worked out by hand, and invariants that must hold for any scenario."""

from __future__ import annotations

import numpy as np
import pytest

from genz.api import scenario_inputs
from genz.perf import engine
from genz.perf.collectives import Net, allreduce
from genz.perf.engine import sum_max_affine


def test_sum_max_affine_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(0, 50))
        a1, b1, a2, b2 = rng.normal(size=4) * [5, 1, 5, 1]
        brute = sum(max(a1 + b1 * j, a2 + b2 * j) for j in range(n))
        assert sum_max_affine(n, a1, b1, a2, b2) == pytest.approx(brute, abs=1e-9)


def _matmul_flops(phase, exclude=()) -> float:
    return sum(float(np.asarray(d["flops"])[0]) for d in phase.ops
               if d["kind"] in ("gemm", "attention") and d["name"] not in exclude)


def test_prefill_flops_of_a_tiny_model_by_hand(tiny_config_path):
    spec, inp = scenario_inputs(str(tiny_config_path), "H100-SXM-80GB", input_tokens=8, output_tokens=1)
    pf = engine.prefill(spec, inp, want_ops=True)
    # per layer, T = 8 tokens, hidden 64, 4 heads × 16 dims, gated MLP of 128:
    qkv = 2 * 8 * 64 * (3 * 64)          # 196,608
    attn = 2 * 4 * (16 + 16) * (8 * 9 // 2)  # causal: 36 query-key pairs per head -> 9,216
    o = 2 * 8 * 64 * 64                  # 65,536
    up = 2 * 8 * 64 * 256                # gate+up: 262,144
    down = 2 * 8 * 128 * 64              # 131,072
    lm_head = 2 * 1 * 64 * 100           # last token only: 12,800
    assert _matmul_flops(pf) == pytest.approx(2 * (qkv + attn + o + up + down) + lm_head)


def test_decode_attention_flops_grow_with_context(tiny_config_path):
    spec, inp = scenario_inputs(str(tiny_config_path), "H100-SXM-80GB", input_tokens=8, output_tokens=4)
    dc = engine.decode(spec, inp, want_ops=True)
    att = next(d for d in dc.ops if d["name"] == "attention")
    # 3 decode steps attending to 9, 10, 11 keys; 2·4 heads·32 FLOPs per key; 2 layers
    assert float(att["flops"][0]) == pytest.approx(2 * 4 * 32 * (9 + 10 + 11) * 2)


def test_allreduce_time_at_known_size():
    net = Net(up_bw=np.array(100e9), up_lat=np.array(1e-6), domain=np.array(8), out_bw=np.array(10e9),
              out_lat=np.array(5e-6))
    # two-shot inside the domain: 2 steps × 1 µs + 2·(7/8)·1 MB / 100 GB/s = 19.5 µs
    assert float(allreduce(1e6, 8, net)) == pytest.approx(19.5e-6)
    # NCCL only (no custom kernels): tree, 2·log2(8) = 6 steps + 2 MB / 100 GB/s = 26 µs (ring: 31.5 µs)
    nccl = Net(up_bw=np.array(100e9), up_lat=np.array(1e-6), domain=np.array(8), out_bw=np.array(10e9),
               out_lat=np.array(5e-6), custom=False)
    assert float(allreduce(1e6, 8, nccl)) == pytest.approx(26e-6)
    # 16 devices cross domains: intra RS + AG (2 × (1 µs + 7/8 MB/100 GB/s)) + an NCCL all-reduce of
    # 1/8 MB between 2 nodes: ring, 2 steps of 5 µs + 2·(1/2)·125 kB / 10 GB/s = 22.5 µs
    inter = 2 * 5e-6 + 2 * 0.5 * (1e6 / 8) / 10e9
    intra = 2 * (1e-6 + 7 / 8 * 1e6 / 100e9)
    assert float(allreduce(1e6, 16, net)) == pytest.approx(intra + inter)
    assert float(allreduce(1e6, 1, net)) == 0.0


def test_more_hbm_bandwidth_never_slows_decode():
    spec, inp = scenario_inputs("meta-llama/Llama-2-7b-hf", "A100-SXM-80GB", input_tokens=512, output_tokens=128,
                                batch_size=8)
    last = np.inf
    for scale in (0.5, 1.0, 1.5, 2.0, 4.0, 8.0):
        inp2 = inp.take(np.arange(1))
        inp2.hbm_bw = inp.hbm_bw * scale
        t = float(engine.decode(spec, inp2).time[0])
        assert t <= last + 1e-15
        last = t


@pytest.mark.parametrize("model", ["meta-llama/Llama-2-70b-hf", "mistralai/Mixtral-8x7B-v0.1"])
def test_flops_are_conserved_across_tp(model):
    totals = []
    for tp in (1, 2, 4, 8):
        spec, inp = scenario_inputs(model, "H100-SXM-80GB", input_tokens=256, output_tokens=8, batch_size=4, tp=tp)
        pf = engine.prefill(spec, inp, want_ops=True)
        # per-device FLOPs × devices; norms and the MoE router are replicated on every rank (as in
        # vLLM/TRT-LLM), so count the split matrix work only
        totals.append(_matmul_flops(pf, exclude=("router",)) * tp)
    lm = totals[0]
    for t in totals[1:]:
        assert t == pytest.approx(lm, rel=1e-9)


def test_fp8_kv_halves_kv_bytes():
    spec, a = scenario_inputs("meta-llama/Meta-Llama-3-70B", "H100-SXM-80GB", tp=4, batch_size=8)
    _, b = scenario_inputs("meta-llama/Meta-Llama-3-70B", "H100-SXM-80GB", tp=4, batch_size=8, kv_dtype="fp8")
    ma, mb = engine.memory(spec, a), engine.memory(spec, b)
    assert float(mb.kv[0]) == pytest.approx(float(ma.kv[0]) / 2)
    assert float(mb.weights[0]) == float(ma.weights[0])


def test_e2e_at_least_ttft_plus_steps():
    for model, L, O, B in [("meta-llama/Llama-2-7b-hf", 128, 128, 1), ("mistralai/Mistral-7B-v0.1", 6000, 500, 4),
                           ("deepseek-ai/DeepSeek-V2-Lite", 1024, 64, 16), ("state-spaces/mamba-2.8b-hf", 64, 32, 2)]:
        spec, inp = scenario_inputs(model, "H100-SXM-80GB", input_tokens=L, output_tokens=O, batch_size=B)
        est = engine.estimate(spec, inp)
        one = inp.take(np.arange(1))
        one.O = np.array([2.0])
        first_step = float(engine.decode(spec, one).time[0])  # the cheapest step (shortest context)
        assert float(est.e2e_s[0]) >= float(est.ttft_s[0]) + (O - 1) * first_step * (1 - 1e-9)


def test_linear_in_layers(tiny_config_path):
    from genz import get_model

    base = get_model(str(tiny_config_path))
    _, inp = scenario_inputs(str(tiny_config_path), "H100-SXM-80GB", input_tokens=64, output_tokens=16)
    f = []
    for n in (2, 4, 8):
        m = base.with_layers(n)
        f.append(float(engine.prefill(m, inp).flops[0]))
    # FLOPs = layers·per_layer + head: differences are linear in the layer count
    assert (f[2] - f[1]) == pytest.approx(2 * (f[1] - f[0]))


def test_sliding_window_caps_kv_read_and_memory():
    spec, inp = scenario_inputs("mistralai/Mistral-7B-v0.1", "H100-SXM-80GB", input_tokens=16000, output_tokens=100)
    mem = engine.memory(spec, inp)
    # 32 layers × 8 KV heads × 256 (K+V) × 2 bytes × 4096-token window
    assert float(mem.kv_per_seq[0]) == pytest.approx(32 * 8 * 256 * 2 * 4096)
    a = engine.decode(spec, inp).time[0]
    inp2 = inp.take(np.arange(1))
    inp2.L = np.array([32000.0])
    b = engine.decode(spec, inp2).time[0]
    assert a == pytest.approx(b)  # decode cost no longer grows past the window


def test_mamba_decode_step_is_constant_in_context():
    spec, inp = scenario_inputs("state-spaces/mamba-2.8b-hf", "A100-SXM-80GB", input_tokens=100, output_tokens=50)
    short = engine.decode(spec, inp).time[0]
    inp.L = np.array([50000.0])
    assert engine.decode(spec, inp).time[0] == pytest.approx(short)


def test_moe_touches_more_experts_with_more_tokens():
    spec, one = scenario_inputs("mistralai/Mixtral-8x7B-v0.1", "H100-SXM-80GB", tp=2, batch_size=1)
    _, many = scenario_inputs("mistralai/Mixtral-8x7B-v0.1", "H100-SXM-80GB", tp=2, batch_size=64)
    b1 = engine.decode(spec, one, want_ops=True)
    b64 = engine.decode(spec, many, want_ops=True)

    def expert_w(r):
        return sum(float(np.asarray(d["bytes"])[0]) for d in r.ops if d["name"].startswith("experts"))
    # batch 1 decode reads 2 of 8 experts; batch 64 reads nearly all 8 (×4 the weights)
    steps = float(b1.iterations[0])
    assert expert_w(b64) / expert_w(b1) == pytest.approx(8 * (1 - (6 / 8) ** 64) / 2, rel=0.05)
    assert steps > 0


def test_pipeline_parallel_latency_vs_throughput():
    spec, a = scenario_inputs("meta-llama/Llama-2-7b-hf", "A100-SXM-80GB", batch_size=1, input_tokens=128, output_tokens=128)
    _, b = scenario_inputs("meta-llama/Llama-2-7b-hf", "A100-SXM-80GB", batch_size=1, pp=2, input_tokens=128,
                           output_tokens=128)
    ea, eb = engine.estimate(spec, a), engine.estimate(spec, b)
    # batch 1: no pipelining possible, PP never lowers latency
    assert eb.e2e_s[0] >= ea.e2e_s[0] * 0.99
    _, c = scenario_inputs("meta-llama/Llama-2-7b-hf", "A100-SXM-80GB", batch_size=64, pp=2, input_tokens=128,
                           output_tokens=128)
    _, d = scenario_inputs("meta-llama/Llama-2-7b-hf", "A100-SXM-80GB", batch_size=64, pp=1, dp=1,
                           input_tokens=128, output_tokens=128)
    # with micro-batches, 2 pipeline stages decode a big batch faster than one device
    assert engine.estimate(spec, c).tpot_s[0] < engine.estimate(spec, d).tpot_s[0]


# --- typed pieces: Inputs parts, OpTiming, the split run_phase ----------------------------------


def test_inputs_parts_flat_access_take_and_replace():
    import pickle

    spec, inp = scenario_inputs("meta-llama/Llama-3.1-8B", "H100-SXM-80GB", tp=2, batch_size=4)
    assert inp.tp is inp.layout.tp and inp.hbm_bw is inp.device.hbm_bw and inp.B is inp.workload.B
    assert inp.wb is inp.precision.wb and inp.no_window is inp.stack.no_window
    # replace shares the parts it does not change; setting an array swaps in a new part
    dp = inp.replace(tp=np.array([4.0]))
    assert float(dp.tp[0]) == 4.0 and float(inp.tp[0]) == 2.0
    assert dp.workload is inp.workload and dp.device is inp.device and dp.layout is not inp.layout
    dp.B = np.array([8.0])
    assert float(inp.B[0]) == 4.0 and dp.workload is not inp.workload
    # take copies every array and the efficiencies
    t = inp.take(np.array([0, 0]))
    assert len(t) == 2 and np.all(t.hbm_bw == inp.hbm_bw[0]) and len(t.eff["memory"]) == 2
    # spawn-based workers receive inputs by pickle
    back = pickle.loads(pickle.dumps(inp))
    assert float(back.hbm_bw[0]) == float(inp.hbm_bw[0]) and back.eff.keys() == inp.eff.keys()
    assert engine.estimate(spec, back).ttft_s[0] == engine.estimate(spec, inp).ttft_s[0]


def test_inputs_flat_constructor_fills_optional_arrays_and_rejects_unknown_ones():
    _, inp = scenario_inputs("meta-llama/Llama-3.1-8B", "H100-SXM-80GB")
    flat = {name: getattr(inp, name) for part in engine.Inputs.__slots__ if part != "eff"
            for name in type(getattr(inp, part)).names()}
    for optional in ("offload_w", "spec_tokens", "decode_tp"):
        del flat[optional]
    rebuilt = engine.Inputs(eff=inp.eff, **flat)
    assert rebuilt.offload_w.dtype == bool and not rebuilt.offload_w[0] and rebuilt.spec_tokens[0] == 0
    with pytest.raises(TypeError):
        engine.Inputs(eff=inp.eff, bogus=np.zeros(1), **flat)


def test_op_timing_reads_like_the_dict_it_replaced(tiny_config_path):
    spec, inp = scenario_inputs(str(tiny_config_path), "H100-SXM-80GB", input_tokens=8, output_tokens=4)
    dc = engine.decode(spec, inp, want_ops=True)
    keys = ("name", "group", "kind", "count", "flops", "bytes", "net_bytes", "time", "t_compute", "t_memory", "bound")
    for op in dc.ops:
        assert tuple(op.keys()) == keys and set(dict(op)) == set(keys) and op.as_dict().keys() == dict(op).keys()
        assert op["time"] is op.time and op.get("group", "model") == op.group and op.get("nope", 1) == 1
        with pytest.raises(KeyError):
            op["as_dict"]
    # scaling touches the extensive fields only
    op = dc.ops[0]
    twice = op.scaled(2.0)
    assert np.all(twice.flops == op.flops * 2.0) and twice.name == op.name and twice.count == op.count


def test_phase_time_is_the_sum_of_its_parts():
    spec, inp = scenario_inputs("mistralai/Mixtral-8x7B-v0.1", "H100-SXM-80GB", tp=2, pp=2, batch_size=8,
                                num_devices=4)
    for r in (engine.prefill(spec, inp, want_ops=True), engine.decode(spec, inp, want_ops=True)):
        parts = r.t_compute + r.t_memory + r.t_network + r.t_overhead
        assert float(parts[0]) == pytest.approx(float(r.time[0]), rel=1e-12)
        # per-operator FLOPs add up to the phase's
        assert sum(float(d.flops[0]) for d in r.ops) == pytest.approx(float(r.flops[0]), rel=1e-12)
