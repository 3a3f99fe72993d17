"""Chapter 7's arithmetic and its two process-spawning paths: the alpha-beta model against
nccl-tests' definitions and hand-computed values, the fit keeping fitted and predicted sizes
apart, the tensor-parallel step and MoE functions, the interconnect data file's schema, the
split MLP's exactness over gloo processes, and the bench-comm path (gloo, tiny sizes)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from snippets import comm, comm_results, hardware, models, parallel
from snippets.schema import DataFileError

ROOT = Path(__file__).resolve().parents[1]
LLAMA70 = models.get("Llama-3.1-70B")
H100 = hardware.get("H100 SXM")

# ---- the alpha-beta model --------------------------------------------------------------------


def test_bus_factors_are_nccl_tests_definitions():
    assert comm.bus_factor("all_reduce", 8) == pytest.approx(2 * 7 / 8)
    assert comm.bus_factor("all_to_all", 8) == pytest.approx(7 / 8)
    assert comm.bus_factor("all_gather", 2) == pytest.approx(0.5)
    assert comm.bus_factor("all_reduce", 1) == 0
    with pytest.raises(ValueError, match="unknown collective"):
        comm.bus_factor("broadcast_all", 4)


def test_algbw_and_busbw_by_hand():
    # nccl-tests' worked example: 1 GiB in 3.9 ms over 8 ranks
    assert comm.algbw_GBps(2**30, 3.9e-3) == pytest.approx(2**30 / 3.9e-3 / 1e9)
    assert comm.busbw_GBps("all_reduce", 8, 2**30, 3.9e-3) == pytest.approx(2**30 / 3.9e-3 / 1e9 * 1.75)


def test_model_time_and_half_bandwidth_point():
    link = comm.link_model(100.0, 10e-6)
    assert link.busbw_GBps == pytest.approx(100.0)
    size = 1e6
    assert link.time_s("all_reduce", 4, size) == pytest.approx(10e-6 + 1.5 * size / 100e9)
    half = link.half_bandwidth_bytes("all_reduce", 4)
    assert link.time_s("all_reduce", 4, half) == pytest.approx(2 * 10e-6)
    assert link.time_s("all_reduce", 1, size) == 0.0


def test_ring_latency_grows_with_the_ranks_by_hand():
    # NCCL's tuner (src/graph/tuning.cc), ring, LL: 6.6 us per call + 0.6 us per NVLink hop;
    # a ring all-reduce makes 2(n - 1) hops, so 8 ranks: 6.6 + 14 x 0.6 = 15.0 us
    lat = comm.Latency(6.6e-6, 0.6e-6, 2.7e-6)
    assert [lat.alpha_s("all_reduce", n) for n in (2, 4, 8)] == pytest.approx([7.8e-6, 10.2e-6, 15.0e-6])
    assert lat.alpha_s("all_gather", 8) == pytest.approx(6.6e-6 + 7 * 0.6e-6)
    assert lat.alpha_s("all_reduce", 1) == 0.0
    # 16 ranks on 2 servers, no net overhead given: 6.6 + 28 x 0.6 + 2 x 2.7 = 28.8 us
    assert lat.alpha_s("all_reduce", 16, nodes=2) == pytest.approx(28.8e-6)
    # the tree (its own figures, tuning.cc Tree/LL: 6.8 us a call, 5.0 us a network hop): a chain of
    # 2 x 7 hops inside each of 4 nodes, 2 log2(4) = 4 hops between them
    tree = comm.Latency(6.6e-6, 0.6e-6, 2.7e-6, 6.8e-6, 0.6e-6, 5.0e-6, 1.0e-6)
    assert tree.alpha_s("all_reduce", 32, "tree", 4) == pytest.approx((6.8 + 14 * 0.6 + 4 * 5.0) * 1e-6)
    # a ring across 2 nodes: each in-node hop raised to the 1.0 us net overhead: 6.6 + 28 + 2 x 2.7 = 40.0
    assert tree.alpha_s("all_reduce", 16, nodes=2) == pytest.approx(40.0e-6)
    # one GPU per node: every hop at the tree's network latency, 6.6 + 14 x 5.0 = 76.6 us
    assert tree.alpha_s("all_reduce", 8, nodes=8) == pytest.approx(76.6e-6)
    with pytest.raises(ValueError, match="tree needs"):
        lat.alpha_s("all_reduce", 32, "tree", 4)
    assert comm.latency_steps("all_reduce", 64, "tree", 8) == (14, 6)
    with pytest.raises(ValueError, match="across nodes needs"):
        comm.Latency(6.6e-6, 0.6e-6).alpha_s("all_reduce", 16, nodes=2)
    with pytest.raises(ValueError, match="unknown algorithm"):
        lat.alpha_s("all_reduce", 8, "butterfly")


def test_the_data_files_ring_models():
    nvlink = comm.ring_model("NVLink 4")
    assert nvlink.busbw_GBps == pytest.approx(370)
    assert nvlink.alpha_s("all_reduce", 8) == pytest.approx(15.0e-6)
    size = 16384
    assert nvlink.time_s("all_reduce", 8, size) == pytest.approx(15.0e-6 + 1.75 * size / 370e9)
    half = nvlink.half_bandwidth_bytes("all_reduce", 8)
    assert nvlink.time_s("all_reduce", 8, half) == pytest.approx(2 * 15.0e-6)
    # across two servers the ring runs at InfiniBand's 50 GB/s and pays two network hops
    across = comm.ring_model("NVLink 4", nodes=2, network="InfiniBand NDR")
    assert across.busbw_GBps == pytest.approx(50)
    assert across.alpha_s("all_reduce", 16) == pytest.approx(40.0e-6)
    tree = comm.ring_model("NVLink 4", nodes=2, network="InfiniBand NDR", algorithm="tree")
    assert tree.alpha_s("all_reduce", 16) == pytest.approx((6.8 + 2 * (7 * 0.6 + 5.0)) * 1e-6)  # 25.2 us
    alone = comm.ring_model("InfiniBand NDR", one_gpu_per_node=True)
    assert alone.alpha_s("all_reduce", 8) == pytest.approx(76.6e-6)
    assert alone.half_bandwidth_bytes("all_reduce", 8) / 2**20 == pytest.approx(76.6e-6 * 50e9 / 1.75 / 2**20)
    assert comm.ring_model("PCIe Gen5").busbw_GBps == pytest.approx(28)


def test_fit_recovers_alpha_and_beta_from_exact_points():
    truth = comm.AlphaBeta(25e-6, 1 / 40e9)
    pts = [comm.Point(s, truth.time_s("all_to_all", 4, s)) for s in (2**k for k in range(10, 28, 2))]
    fitted, held = comm.split_ends(pts, 2)
    assert len(fitted) == 4 and not {p.size_bytes for p in fitted} & {p.size_bytes for p in held}
    fit = comm.fit_alpha_beta(fitted, "all_to_all", 4)
    assert fit.alpha_s == pytest.approx(25e-6, rel=1e-6)
    assert fit.busbw_GBps == pytest.approx(40, rel=1e-6)
    assert all(abs(comm.residual(fit, p, "all_to_all", 4)) < 1e-6 for p in held)


def test_fit_never_returns_a_negative_latency():
    pts = [comm.Point(1e3, 1e-9), comm.Point(1e6, 1e-4), comm.Point(1e7, 1e-3)]
    assert comm.fit_alpha_beta(pts, "all_reduce", 2).alpha_s >= 0


def test_split_ends_needs_points_between():
    with pytest.raises(ValueError, match="need more than 4 points"):
        comm.split_ends([comm.Point(s, 1.0) for s in (1, 2, 3, 4)], 2)


# ---- interconnects.csv -----------------------------------------------------------------------


def test_every_link_has_a_source_and_consistent_directions():
    for link in comm.all_interconnects():
        assert link.source.strip()
        assert link.bidirectional_GBps == pytest.approx(2 * link.per_direction_GBps)
    nvlink = comm.get_link("NVLink 4")
    assert (nvlink.per_direction_GBps, nvlink.bidirectional_GBps) == (450, 900)
    assert "NVLS" in nvlink.in_network_reduction
    assert comm.get_link("InfiniBand NDR").per_direction_GBps == 50


def test_latency_figures_are_nccls_and_come_in_pairs():
    for name, step in (("NVLink 4", 0.6), ("PCIe Gen5", 1.0), ("InfiniBand NDR", 2.7)):
        link = comm.get_link(name)
        assert (link.base_latency_us, link.step_latency_us) == (6.6, step)
        assert "src/graph/tuning.cc" in link.source
    text = (ROOT / "snippets" / "data" / "interconnects.csv").read_text(encoding="utf-8")
    with pytest.raises(DataFileError, match="come together"):
        comm.load_interconnects(text.replace(",6.6,0.6,", ",,0.6,", 1))


def test_a_bad_interconnect_row_is_named():
    text = (ROOT / "snippets" / "data" / "interconnects.csv").read_text(encoding="utf-8")
    bad = text.replace("NVLink 4 (H100 SXM),scale-up,450,900", "NVLink 4 (H100 SXM),scale-up,450,800")
    with pytest.raises(DataFileError, match=r"line 2 \(NVLink 4 \(H100 SXM\)\), column bidirectional_GBps"):
        comm.load_interconnects(bad)
    with pytest.raises(DataFileError, match="column kind"):
        comm.load_interconnects(text.replace(",scale-out,", ",scale-sideways,"))


# ---- tensor parallelism, pipelines, experts -----------------------------------------------------


def test_tp_splits_weights_and_adds_two_all_reduces_per_layer():
    link = comm.link_model(370, 10e-6)
    one, eight = (parallel.tp_decode_step(LLAMA70, H100, link, tp, 1, 4096) for tp in (1, 8))
    assert one.comm_s == 0 and one.all_reduces == 0
    assert eight.all_reduces == 2 * LLAMA70.n_layers
    assert eight.weight_bytes == pytest.approx(one.weight_bytes / 8, rel=1e-3)
    assert eight.message_bytes == LLAMA70.d_model * 2
    assert eight.comm_s == pytest.approx(160 * link.time_s("all_reduce", 8, 16384))
    assert eight.time_s == pytest.approx(eight.compute_memory_s + eight.comm_s)


def test_tp_fit_and_batch():
    assert not parallel.tp_fits(LLAMA70, H100, 1) and parallel.tp_fits(LLAMA70, H100, 2)
    assert parallel.tp_max_batch(LLAMA70, H100, 1, 4096) == 0
    assert 0 < parallel.tp_max_batch(LLAMA70, H100, 2, 4096) < parallel.tp_max_batch(LLAMA70, H100, 8, 4096)
    assert parallel.tp_kv_shards(LLAMA70, 16) == LLAMA70.n_kv_heads


def test_pipeline_bubble_by_hand():
    assert parallel.pipeline_bubble(1, 5) == 0
    assert parallel.pipeline_bubble(4, 1) == pytest.approx(3 / 4)
    assert parallel.pipeline_bubble(4, 16) == pytest.approx(3 / 19)


def test_experts_touched_reuses_the_course_function():
    ds = models.get("DeepSeek-V3")
    assert parallel.experts_touched(ds, 1) == pytest.approx(8)
    assert parallel.experts_touched(ds, 64) == models.expected_experts_touched(256, 8, 64)
    with pytest.raises(ValueError, match="not a mixture-of-experts"):
        parallel.experts_touched(LLAMA70, 4)


def test_ep_volume_and_deepseek_arithmetic():
    ds = models.get("DeepSeek-V3")
    assert parallel.ep_bytes_per_token(ds) == pytest.approx(9 * 7168 * 3 * 58)
    assert parallel.ep_bytes_per_token(ds, count_shared=False) == pytest.approx(8 * 7168 * 3 * 58)
    # the token's GPU sends the fp8 dispatch (1 byte an element) and receives the bf16 combine (2)
    assert parallel.ep_bytes_by_direction(ds) == pytest.approx((9 * 7168 * 58, 9 * 7168 * 2 * 58))
    # like for like with a TP=8 ring for one Llama-3.1-70B sequence: 160 all-reduces of 8192 x 2 B,
    # each GPU sending 1.75 x that and receiving as much: 4.59 MB each way
    ring_each_way = 160 * 1.75 * 8192 * 2
    assert parallel.ep_bytes_per_token(ds) / (2 * ring_each_way) == pytest.approx(11_225_088 / 9_175_040)
    assert parallel.ep_bytes_by_direction(ds)[0] / ring_each_way == pytest.approx(3_741_696 / 4_587_520)
    # arXiv 2505.09343 section 2.3.2: (1 + 2) bytes x 32 x 9 x 7K / 50 GB/s = 120.96 us
    assert parallel.ep_round_time_s(32, 9, 7000, 50) == pytest.approx(120.96e-6)


def test_busiest_gpu_load_is_seeded_and_bounded():
    a = parallel.busiest_gpu_load(256, 8, 32, 64, 5, seed=3)
    assert a == parallel.busiest_gpu_load(256, 8, 32, 64, 5, seed=3)
    assert a >= 1
    assert parallel.busiest_gpu_load(8, 2, 1, 10, 3, seed=0) == 1.0  # one GPU holds every expert
    with pytest.raises(ValueError, match="do not divide"):
        parallel.busiest_gpu_load(256, 8, 3, 64, 5, seed=0)


# ---- exactness over gloo processes ----------------------------------------------------------------


def test_split_mlp_equals_the_unsplit_one_over_2_and_4_processes():
    from snippets import tensor_parallel

    results = tensor_parallel.run_exactness((2, 4), tokens=3, d_model=32, hidden=128, seed=7)
    assert [r.world for r in results] == [2, 4]
    for result in results:
        assert result.exact, result
        assert result.max_abs_output > 0.1  # the comparison is not of zeros


def test_a_world_that_does_not_divide_the_hidden_units_is_refused():
    from snippets import tensor_parallel

    with pytest.raises(ValueError, match="divide hidden = 128"):
        tensor_parallel.run_exactness((2, 3), hidden=128)


def test_the_same_split_asked_again_in_any_form_launches_no_processes(monkeypatch):
    """Chapter 7's page and its listing ask for the same split; a cold compute launches it once."""
    from snippets import tensor_parallel

    launches = []

    def fake_launch(args, world, timeout_s):
        launches.append(args)
        found = [{"max_abs_error": 0.0, "max_abs_output": 1.0}] * (len(args) - 5)
        return [subprocess.CompletedProcess(args, 0, stdout=json.dumps(found) + "\n")]

    monkeypatch.setattr(tensor_parallel, "launch", fake_launch)
    first = tensor_parallel.run_exactness((2, 4), 4, 64, 128, 99)
    again = tensor_parallel.run_exactness([2, 4], tokens=4, d_model=64, hidden=128, seed=99)
    assert again == first and len(launches) == 1
    tensor_parallel.run_exactness((2, 4), 4, 64, 128, seed=100)  # another seed: launched
    assert len(launches) == 2
    tensor_parallel._launched_exactness.cache_clear()  # no made-up result outlives the test


def test_shard_covers_every_hidden_unit_once():
    import torch

    from snippets import tensor_parallel

    g, u, d = torch.randn(8, 12), torch.randn(8, 12), torch.randn(12, 8)
    shards = [tensor_parallel.shard(g, u, d, r, 3) for r in range(3)]
    assert torch.equal(torch.cat([s[0] for s in shards], dim=1), g)
    assert torch.equal(torch.cat([s[2] for s in shards], dim=0), d)
    x = torch.randn(2, 8)
    total = sum(tensor_parallel.mlp(x, *s) for s in shards)
    assert torch.allclose(total, tensor_parallel.mlp(x, g, u, d), atol=1e-5)


# ---- bench-comm on gloo ---------------------------------------------------------------------------


def test_bench_comm_local_path_writes_a_valid_file(tmp_path):
    from snippets.bench import comm as bench

    doc = bench.run_local(2, ["--max-bytes", "64K", "--iterations", "3", "--warmup", "1", "--fit-per-end", "1"])
    assert comm_results.validate(doc)["settings"]["ranks"] == 2
    assert {r["collective"] for r in doc["rows"]} == {"all_reduce", "all_to_all"}
    assert doc["prediction"]["all_reduces"] == 160
    for fit in doc["fits"]:
        assert fit["checked"] and not set(fit["fitted_sizes_bytes"]) & {c["size_bytes"] for c in fit["checked"]}
    path = bench.write(doc, tmp_path)
    assert comm_results.load(path)["device"]["backend"] == "gloo"


def test_bench_comm_under_torchrun(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun is not installed beside this Python")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([str(torchrun), "--nproc-per-node", "2", "-m", "snippets", "bench-comm", "--device", "cpu",
                          "--max-bytes", "16K", "--iterations", "2", "--warmup", "1", "--fit-per-end", "1",
                          "--out", str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    (path,) = tmp_path.glob("comm-*.json")
    assert comm_results.load(path)["complete"]


def test_bench_comm_refuses_to_run_without_a_launcher(capsys):
    from snippets.bench import comm as bench

    env = {k: os.environ.pop(k) for k in ("RANK", "WORLD_SIZE") if k in os.environ}
    try:
        assert bench.main([]) == 2
    finally:
        os.environ.update(env)
    assert "torchrun" in capsys.readouterr().err


def test_a_schema_violation_is_named():
    doc = json.loads(next((ROOT / "docs" / "results" / "comm").glob("*.json")).read_text(encoding="utf-8"))
    comm_results.validate(doc)
    doc["fits"][0]["checked"][0]["size_bytes"] = doc["fits"][0]["fitted_sizes_bytes"][0]
    with pytest.raises(comm_results.CommResultsError, match="both fitted and checked"):
        comm_results.validate(doc)
    with pytest.raises(comm_results.CommResultsError, match="schema"):
        comm_results.validate({**doc, "schema": "llm-course-comm/0"})


# ---- disaggregated prefill and decode --------------------------------------------------------------


def test_kv_transfer_by_hand():
    from snippets import disaggregation, kv_cache

    m = models.get("Llama-3.1-8B")
    assert disaggregation.kv_transfer_s(m, 1000, "bf16", 50, 10e-6) == pytest.approx(
        10e-6 + kv_cache.bytes_per_sequence(m, 1000, "bf16") / 50e9)


def test_prefill_arrives_charges_the_decode_batch_alone():
    from snippets import disaggregation

    seen = []

    def step_time(batch, context, chunks=()):
        seen.append(chunks)
        return 1.0 + len(chunks)

    free = disaggregation.PrefillArrives(step_time)
    assert free(0, 0, ((0, 100),)) == 0.0
    assert free(4, 100, ((0, 100),)) == 1.0 and seen == [()]


def test_disaggregated_run_hands_each_request_over():
    from snippets import disaggregation, kv_cache, serving

    m, gpu = models.get("Llama-3.1-8B"), H100
    step_time = serving.RooflineStepTime(m, gpu)
    capacity = kv_cache.max_tokens(m, gpu, "bf16", "bf16")
    requests = serving.Workload(n_requests=40, rate_per_s=5.0, seed=3, prompt_min=64, prompt_max=512,
                                output_mean=16, output_max=64).requests()
    whole = serving.Policy("whole")
    run = disaggregation.simulate_disaggregated(requests, whole, whole, step_time, capacity, 1, 1, lambda r: 0.01)
    assert [s.request for s in run.served] == sorted(requests, key=lambda r: r.id)
    for s, p, d in zip(run.served, run.prefill.served, run.decode.served):
        assert s.token_times_s[0] == p.token_times_s[0]  # the first token is the prefill pool's
        assert d.request.arrival_s == pytest.approx(p.token_times_s[0] + 0.01)  # the cache's crossing
        if len(s.token_times_s) > 1:
            assert s.token_times_s[1] > d.request.arrival_s  # the decode pool's steps make the rest
    pool = disaggregation.serve_pool(requests, whole, step_time, capacity, 2)
    assert len(pool.sims) == 2 and len(pool.served) == len(requests) and pool.busy_s > 0
