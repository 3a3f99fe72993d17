"""Serving: metrics on hand-made traces, the simulator against closed forms, determinism, bad
input, and the mixed step against decode_step and prefill exactly."""

import gc
import math
import random
from collections import deque
from dataclasses import dataclass, field

import pytest

from snippets import hardware, kv_cache, models, roofline, serving
from snippets.serving import SLO, Policy, Request, Served

LLAMA = models.get("Llama-3.1-8B")
H100 = hardware.get("H100 SXM")


def constant_step(seconds: float = 0.01):
    """A step-time function that ignores the step's shape."""
    return lambda batch, context, chunks: seconds


# ---- metrics on traces with known answers -------------------------------------------------------


def test_metrics_of_one_request():
    s = Served(Request(0, 1.0, 10, 4), (1.5, 1.6, 1.8, 2.1))
    assert s.ttft_s == pytest.approx(0.5)
    assert s.e2e_s == pytest.approx(1.1)
    assert s.itl_s == pytest.approx((0.1, 0.2, 0.3))
    assert s.tpot_s == pytest.approx(0.2)  # (2.1 - 1.5) / 3
    assert Served(Request(1, 0.0, 10, 1), (0.3,)).tpot_s == 0.0


def test_token_and_request_weighted_itl_differ_by_weighting():
    short = Served(Request(0, 0.0, 10, 2), (1.0, 2.0))  # one gap of 1 s
    long = Served(Request(1, 0.0, 10, 5), (1.0, 1.1, 1.2, 1.3, 1.4))  # four gaps of 0.1 s
    assert serving.mean_itl_token_weighted_s([short, long]) == pytest.approx((1.0 + 4 * 0.1) / 5)
    assert serving.mean_itl_request_weighted_s([short, long]) == pytest.approx((1.0 + 0.1) / 2)


def test_the_token_weighted_itl_is_one_long_sum_of_every_gap():
    """Added request by request, the gaps give the very float a single sum over all of them gives."""
    rng = random.Random(2)
    served = []
    for i in range(200):
        t = [rng.uniform(0, 50)]
        for _ in range(rng.randint(0, 40)):
            t.append(t[-1] + rng.expovariate(50.0))
        served.append(Served(Request(i, 0.0, 10, len(t)), tuple(t)))
    gaps = [b - a for s in served for a, b in zip(s.token_times_s, s.token_times_s[1:])]
    assert serving.mean_itl_token_weighted_s(served) == sum(gaps) / len(gaps)
    assert serving.mean_itl_token_weighted_s(iter(served)) == sum(gaps) / len(gaps)
    with pytest.raises(ValueError, match="no request produced two tokens"):
        serving.mean_itl_token_weighted_s([Served(Request(0, 0.0, 10, 1), (1.0,))])


def test_summary_counts_the_tokens_after_the_last_arrival():
    a = Served(Request(0, 0.0, 10, 3), (0.5, 1.0, 2.0))
    b = Served(Request(1, 1.0, 10, 2), (1.5, 3.0))  # the last arrival, at 1.0
    assert serving._count_after(a.token_times_s, 1.0) == 1  # a token at 1.0 itself is not after it
    assert serving._count_after(b.token_times_s, 1.0) == 2
    sim = serving.Simulation(Policy("p"), 1000, (a, b), (serving.Step(0.0, 3.0, 2, 0, 2, 2, 20, 32),), 0)
    assert serving.summarize(sim, SLO(1.0, 1.0)).drain_token_share == 3 / 5


def test_percentile_matches_linear_interpolation():
    assert serving.percentile([4, 1, 3, 2], 50) == 2.5
    assert serving.percentile([1, 2, 3, 4, 5], 90) == pytest.approx(4.6)
    assert serving.percentile([7], 99) == 7
    assert serving.percentile([1, 2], 0) == 1 and serving.percentile([1, 2], 100) == 2


def test_goodput_counts_requests_meeting_both_targets():
    slo = SLO(ttft_s=0.5, tpot_s=0.1)
    ok = Served(Request(0, 0.0, 10, 3), (0.2, 0.3, 0.4))
    slow_first = Served(Request(1, 0.0, 10, 3), (0.9, 1.0, 1.1))
    slow_tokens = Served(Request(2, 1.0, 10, 3), (1.2, 1.7, 2.0))
    assert [slo.met(s) for s in (ok, slow_first, slow_tokens)] == [True, False, False]
    assert serving.slo_attainment([ok, slow_first, slow_tokens], slo) == pytest.approx(1 / 3)
    assert serving.goodput_rps([ok, slow_first, slow_tokens], slo) == pytest.approx(1 / 2.0)  # 0 s to 2 s
    assert serving.highest_rate_meeting([1, 2, 4, 8], [1.0, 0.95, 0.85, 0.99], 90) == 2  # stops at the first miss


def test_reading_speed_and_littles_law():
    assert serving.reading_speed_tpot_s(240, 1.25) == pytest.approx(0.2)  # 300 tokens a minute
    assert serving.littles_law_in_flight(10, 0.5) == 5


# ---- the simulator against closed forms ---------------------------------------------------------


def test_a_single_request_takes_one_prefill_then_one_step_per_token():
    step = serving.RooflineStepTime(LLAMA, H100)
    r = Request(0, 0.25, 1000, 5)
    sim = serving.simulate([r], Policy("continuous"), step, 10**6)
    (s,) = sim.served
    prefill_s = roofline.prefill(LLAMA, 1000, "bf16", "bf16").time_s(H100)
    assert s.ttft_s == pytest.approx(prefill_s)
    # a decode step's context counts its own new token: 1,001 for the first decode after 1,000
    decodes = [roofline.decode_step(LLAMA, 1, -(-c // 16) * 16, "bf16", "bf16").time_s(H100) for c in range(1001, 1005)]
    assert s.itl_s == pytest.approx(tuple(decodes))
    assert len(sim.steps) == 5


def test_a_full_batch_of_equal_requests_takes_prompt_steps_plus_output_steps():
    n, out = 8, 20
    reqs = [Request(i, 0.0, 100, out) for i in range(n)]
    for policy in (Policy("static", batching="static", max_batch=n), Policy("continuous", max_batch=n)):
        sim = serving.simulate(reqs, policy, constant_step(0.01), 10**6)
        assert len(sim.steps) == out  # one step prefills all and yields token 1, then out - 1 decodes
        assert all(s.ttft_s == pytest.approx(0.01) and s.e2e_s == pytest.approx(out * 0.01) for s in sim.served)
        assert sim.slot_utilisation == 1.0


def test_static_waits_for_the_longest_member_continuous_refills():
    reqs = [Request(0, 0.0, 10, 2), Request(1, 0.0, 10, 10), Request(2, 0.0, 10, 2)]
    static = serving.simulate(reqs, Policy("s", batching="static", max_batch=2), constant_step(), 10**6)
    continuous = serving.simulate(reqs, Policy("c", max_batch=2), constant_step(), 10**6)
    assert static.served[2].token_times_s[0] == pytest.approx(0.11)  # after request 1's tenth token
    assert continuous.served[2].token_times_s[0] == pytest.approx(0.03)  # in the slot request 0 freed
    assert len(continuous.steps) < len(static.steps)


def test_chunked_prefill_splits_a_prompt_and_the_chunks_add_up():
    sim = serving.simulate([Request(0, 0.0, 1000, 1)], Policy("c", chunk_tokens=300), constant_step(), 10**6)
    assert [s.prefill_tokens for s in sim.steps] == [300, 300, 300, 100]
    whole = kv_cache.prefill_attention_flops(LLAMA, 1000)
    parts = sum(kv_cache.chunk_attention_flops(LLAMA, p, c) for p, c in ((0, 300), (300, 300), (600, 300), (900, 100)))
    assert parts == pytest.approx(whole, rel=1e-12)


def test_the_chunk_budget_counts_decode_tokens():
    # request 0 (10 prompt tokens, 5 out) decodes while request 1's 100-token prompt is chunked:
    # a budget of 32 leaves 31 prompt tokens a step beside one decode
    reqs = [Request(0, 0.0, 10, 5), Request(1, 0.0, 100, 1)]
    sim = serving.simulate(reqs, Policy("c", chunk_tokens=32, max_batch=2), constant_step(), 10**6)
    assert [(s.decode_batch, s.prefill_tokens) for s in sim.steps] == [(0, 32), (1, 31), (1, 31), (1, 16), (1, 0)]
    with pytest.raises(ValueError, match="must be at least max_batch"):
        Policy("c", chunk_tokens=16, max_batch=32)


def test_fair_reservation_is_prompt_plus_max_tokens():
    fair = Policy("r", kv="reserved", reserve_output_tokens=64)
    assert fair.held_tokens(5, prompt_tokens=100) == 164
    reqs = [Request(i, 0.0, 100, 50) for i in range(4)]
    sim = serving.simulate(reqs, fair, constant_step(), 400)  # room for two reservations of 164
    assert max(s.slots_busy for s in sim.steps) == 2 and sim.preemptions == 0
    with pytest.raises(ValueError, match="exceeds the 32 tokens reserved"):
        serving.simulate(reqs, Policy("r", kv="reserved", reserve_output_tokens=32), constant_step(), 10**6)


def test_prefix_cache_skips_the_shared_prefix_after_its_first_computation():
    reqs = [Request(i, float(i), 1000, 1, shared_prefix_tokens=800) for i in range(3)]
    sim = serving.simulate(reqs, Policy("c", chunk_tokens=100, prefix_cache=True, max_batch=4), constant_step(), 10**6)
    assert [round(s.ttft_s / 0.01) for s in sim.served] == [10, 2, 2]


def test_paged_holds_whole_blocks_and_preempts_when_full():
    assert Policy("p", block_tokens=16).held_tokens(17) == 32
    assert Policy("r", kv="reserved", reserve_tokens=4096).held_tokens(17) == 4096
    reqs = [Request(i, 0.0, 64, 64) for i in range(4)]  # 128 tokens each at the end
    sim = serving.simulate(reqs, Policy("p", max_batch=4), constant_step(), 320)
    assert sim.preemptions > 0 and len(sim.served) == 4 and sim.recomputed_tokens > 0
    assert all(s.cache_held_tokens <= 320 for s in sim.steps)
    reserved = serving.simulate(reqs, Policy("r", kv="reserved", reserve_tokens=128), constant_step(), 320)
    assert max(s.slots_busy for s in reserved.steps) == 2 and reserved.preemptions == 0


def test_littles_law_holds_on_a_long_run():
    rate = 20.0
    reqs = serving.Workload(2000, rate, seed=7, prompt_min=64, prompt_max=256, output_mean=32, output_max=256).requests()
    sim = serving.simulate(reqs, Policy("c", max_batch=64), constant_step(0.005), 10**6)
    busy = sum(s.in_system * s.duration_s for s in sim.steps)
    in_flight = busy / sim.duration_s  # time-average from the step log (idle gaps count as 0)
    mean_e2e = sum(s.e2e_s for s in sim.served) / len(sim.served)
    assert in_flight == pytest.approx(serving.littles_law_in_flight(rate, mean_e2e), rel=0.1)


def test_same_seed_same_run():
    def run():
        reqs = serving.Workload(50, 30.0, seed=11).requests()
        return serving.simulate(reqs, Policy("c", chunk_tokens=512), serving.RooflineStepTime(LLAMA, H100), 10**6)

    assert run() == run()
    assert serving.Workload(50, 30.0, seed=11).requests() != serving.Workload(50, 30.0, seed=12).requests()


def test_runs_by_name_pause_the_collector_and_restore_it():
    w = serving.Workload(30, 20.0, seed=2)
    assert serving._shared_requests(w) == w.requests()
    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        try:
            with serving._collector_paused():
                assert not gc.isenabled()
            assert gc.isenabled() == enabled
            with pytest.raises(KeyError), serving._collector_paused():
                raise KeyError("a run that fails")
            assert gc.isenabled() == enabled
        finally:
            gc.enable()
    sim = serving.simulate_workload(w, Policy("p"), "Llama-3.1-8B", "H100 SXM")
    assert sim == serving.simulate(w.requests(), Policy("p"), serving.RooflineStepTime(LLAMA, H100),
                                   kv_cache.max_tokens(LLAMA, H100, "bf16", "bf16"))
    assert gc.isenabled()


# ---- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "message"), [
    (lambda: serving.poisson_arrivals_s(0, 10, 1), "rate_per_s must be a positive"),
    (lambda: serving.poisson_arrivals_s(-1.0, 10, 1), "rate_per_s must be a positive"),
    (lambda: serving.Workload(10, 0.0, 1), "rate_per_s must be a positive"),
    (lambda: serving.Workload(0, 1.0, 1), "n_requests must be an integer >= 1"),
    (lambda: serving.Workload(10, 1.0, 1, output_mean=0), "output_mean must be an integer >= 1"),
    (lambda: SLO(0, 0.1), "ttft_s must be a positive"),
    (lambda: SLO(1.0, -0.1), "tpot_s must be a positive"),
    (lambda: Request(0, 0.0, 0, 5), "prompt_tokens must be an integer >= 1"),
    (lambda: Request(0, 0.0, 5, -1), "output_tokens must be an integer >= 1"),
    (lambda: Request(0, -1.0, 5, 5), "arrival_s must be a finite number >= 0"),
    (lambda: Request(0, 0.0, 5, 5, shared_prefix_tokens=6), "exceeds its prompt"),
    (lambda: Policy("x", batching="dynamic"), "batching must be"),
    (lambda: Policy("x", chunk_tokens=0), "chunk_tokens must be an integer >= 1"),
    (lambda: serving.percentile([1.0], 101), "percentile must be in"),
    (lambda: serving.reading_speed_tpot_s(0, 1.3), "words_per_minute must be a positive"),
    (lambda: serving.simulate([Request(0, 0.0, 100, 100)], Policy("x"), constant_step(), 150),
     "needs more than the cache"),
    (lambda: serving.simulate([Request(0, 0.0, 100, 100)], Policy("x", kv="reserved", reserve_tokens=150),
                              constant_step(), 10**6), "exceeds the 150 reserved"),
    (lambda: serving.simulate([], Policy("x"), constant_step(), 100), "no requests"),
    (lambda: roofline.mixed_step(LLAMA, 0, 0, ()), "needs a decode batch"),
    (lambda: roofline.mixed_step(LLAMA, 4, 100, ((0, 0),)), "chunk_tokens must be an integer >= 1"),
    (lambda: serving.RooflineStepTime(LLAMA, H100)(0, 0, ()), "needs a decode batch"),
    (lambda: serving.RooflineStepTime(LLAMA, H100)(4, 100, ((0, 0),)), "chunk_tokens must be an integer >= 1"),
    (lambda: serving.RooflineStepTime(LLAMA, H100)(-1, 100, ()), "batch must be an integer >= 0"),
])
def test_bad_input_says_what_is_wrong(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ---- the mixed step ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["Llama-3.1-8B", "Gemma-2-9B", "DeepSeek-V3"])
def test_mixed_step_is_decode_plus_prefill_with_weights_read_once(model):
    m = models.get(model)
    batch, context, chunk = 32, 3000, 512
    decode = roofline.decode_step(m, batch, context, "bf16", "bf16")
    pre = roofline.prefill(m, chunk, "bf16", "bf16")
    mixed = roofline.mixed_step(m, batch, context, ((0, chunk),), "bf16", "bf16")
    assert mixed.weight_flops == decode.weight_flops + pre.weight_flops
    assert mixed.attention_flops == decode.attention_flops + pre.attention_flops
    assert mixed.kv_bytes == decode.kv_bytes + pre.kv_bytes
    assert mixed.activation_bytes == pre.activation_bytes
    assert mixed.weight_bytes == models.step_weight_bytes(m, "bf16", batch + chunk)
    assert mixed.weight_bytes <= decode.weight_bytes + pre.weight_bytes
    assert mixed.tokens == batch + chunk
    alone = roofline.mixed_step(m, batch, context, (), "bf16", "bf16")
    assert (alone.flops, alone.bytes) == (decode.flops, decode.bytes)
    prefill_only = roofline.mixed_step(m, 0, 0, ((0, chunk),), "bf16", "bf16")
    assert (prefill_only.flops, prefill_only.bytes) == (pre.flops, pre.bytes)


def test_a_later_chunk_reads_its_prefix_and_attends_to_it():
    m = LLAMA
    later = roofline.mixed_step(m, 0, 0, ((1000, 24),), "bf16", "bf16")
    assert later.attention_flops == kv_cache.prefill_attention_flops(m, 1024) - kv_cache.prefill_attention_flops(m, 1000)
    assert later.kv_bytes == kv_cache.bytes_per_token(m, "bf16") * 1024  # 1,000 read + 24 written


@pytest.mark.parametrize("model", ["Llama-3.1-8B", "Gemma-2-9B", "DeepSeek-V3"])
def test_roofline_step_time_is_mixed_steps_time_to_the_last_bit(model):
    """RooflineStepTime adds up remembered pieces in mixed_step's order: the same float, not a close one."""
    m = models.get(model)
    step_time = serving.RooflineStepTime(m, H100)
    rng = random.Random(3)
    batches, contexts = [0, 1, 7, 64, 255], [16, 1024, 2048, 3072]
    pieces = [(0, 512), (0, 1800), (512, 512), (1024, 300), (2500, 17)]  # repeated, so most are remembered
    for _ in range(200):
        batch = rng.choice(batches)
        chunks = tuple(rng.choice(pieces) for _ in range(rng.randint(0 if batch else 1, 3)))
        context = rng.choice(contexts) if batch else 0
        expected = roofline.mixed_step(m, batch, context, chunks, "bf16", "bf16").time_s(H100, "bf16")
        assert step_time(batch, context, chunks) == expected
        assert step_time(batch, context - 5, chunks) == expected  # contexts round up to a 16-token block


# ---- the scheduler's bookkeeping against a direct one ----------------------------------------------
# serving.simulate keeps running totals (tokens cached and held, the decode context) and works out a
# decoding sequence's tokens from the step count. The scheduler below recounts everything at every
# step, the loop the chapter describes; the two must agree exactly.


@dataclass(eq=False)
class _DirectSequence:
    request: Request
    slot: int = -1
    first_step: int = 0
    cached: int = 0
    target: int = 0
    times: list = field(default_factory=list)

    def holding(self, policy: Policy) -> int:
        return policy.held_tokens(max(self.cached + 1, self.target), self.request.prompt_tokens)


def direct_simulate(requests, policy, step_time, capacity_tokens) -> serving.Simulation:
    arriving = deque(sorted(requests, key=lambda r: (r.arrival_s, r.id)))
    queue, running, done, steps = deque(), [], [], []
    prefix_cached, preemptions, recomputed, now = False, 0, 0, 0.0
    while arriving or queue or running:
        while arriving and arriving[0].arrival_s <= now:
            r = arriving.popleft()
            queue.append(_DirectSequence(r, target=r.prompt_tokens))
        if not queue and not running:
            now = arriving[0].arrival_s
            continue
        held = sum(s.holding(policy) for s in running)
        while held > capacity_tokens:
            victim = running.pop()
            held -= victim.holding(policy)
            recomputed += victim.cached
            victim.cached, victim.target = 0, victim.request.prompt_tokens + len(victim.times)
            queue.appendleft(victim)
            preemptions += 1
        if policy.batching == "continuous" or not running:
            while queue and len(running) < policy.max_batch:
                s = queue[0]
                need = s.holding(policy)
                if held + need > capacity_tokens:
                    break
                queue.popleft()
                held += need
                s.slot = min(set(range(policy.max_batch)) - {x.slot for x in running})
                s.first_step = len(steps)
                if policy.prefix_cache and prefix_cached and s.cached == 0:
                    s.cached = s.request.shared_prefix_tokens
                running.append(s)
        decoding = [s for s in running if s.cached >= s.target]
        chunks, budget = [], (policy.chunk_tokens or math.inf) - len(decoding)
        for s in running:
            if s.cached < s.target and budget > 0:
                take = int(min(s.target - s.cached, budget))
                chunks.append((s, take))
                budget -= take
        context = sum(s.cached + 1 for s in decoding)
        duration = step_time(len(decoding), -(-context // max(len(decoding), 1)),
                             tuple((s.cached, n) for s, n in chunks))
        steps.append(serving.Step(now, duration, len(decoding), sum(n for _, n in chunks), len(running) + len(queue),
                                  len(running), sum(s.cached for s in running) + len(decoding)
                                  + sum(n for _, n in chunks), held))
        now += duration
        for s in decoding:
            s.cached += 1
            s.times.append(now)
        for s, n in chunks:
            s.cached += n
            if s.cached >= s.target:
                s.times.append(now)
                prefix_cached = prefix_cached or s.request.shared_prefix_tokens > 0
        finished = [s for s in decoding if len(s.times) == s.request.output_tokens] + \
            [s for s, _ in chunks if len(s.times) == s.request.output_tokens]
        for s in finished:
            running.remove(s)
            done.append(Served(s.request, tuple(s.times), s.slot, s.first_step, len(steps) - 1))
    done.sort(key=lambda s: s.request.id)
    return serving.Simulation(policy, capacity_tokens, tuple(done), tuple(steps), preemptions, recomputed)


SHAPE = dict(prompt_min=64, prompt_max=700, output_mean=40, output_max=300)


@pytest.mark.parametrize(("policy", "capacity", "workload"), [
    (Policy("static", batching="static", max_batch=16), 10**6, {}),
    (Policy("continuous", max_batch=32), 10**6, {}),
    (Policy("chunked", chunk_tokens=128, max_batch=32), 10**6, {}),
    (Policy("paged, preempting", max_batch=64, block_tokens=16), 6000, {}),
    (Policy("paged, chunked, preempting", chunk_tokens=256, max_batch=64, block_tokens=8), 5000, {}),
    (Policy("reserved", kv="reserved", reserve_tokens=1024, max_batch=64), 9000, {}),
    (Policy("reserved, prompt + max_tokens", kv="reserved", reserve_output_tokens=300, max_batch=64), 9000, {}),
    (Policy("prefix", prefix_cache=True, chunk_tokens=256, max_batch=32), 10**6, dict(shared_prefix_tokens=64)),
    (Policy("prefix, whole prompts", prefix_cache=True, max_batch=32), 8000, dict(shared_prefix_tokens=64)),
    # a cached prefix that is the whole prompt: such a request decodes from its admission on
    (Policy("prefix = prompt", prefix_cache=True, max_batch=16), 4000,
     dict(prompt_min=64, prompt_max=64, shared_prefix_tokens=64)),
])
@pytest.mark.parametrize("rate", [40.0, 300.0])  # often idle; a queue that preempts where it can
@pytest.mark.parametrize("roofline_steps", [False, True])
def test_the_scheduler_matches_one_that_recounts_every_step(policy, capacity, workload, rate, roofline_steps):
    requests = serving.Workload(150, rate, seed=5, **{**SHAPE, **workload}).requests()
    step_time = serving.RooflineStepTime(LLAMA, H100) if roofline_steps else (
        lambda batch, context, chunks: 0.002 + 1e-6 * batch + 2e-7 * context + 1e-5 * sum(n for _, n in chunks))
    sim = serving.simulate(requests, policy, step_time, capacity)
    assert sim == direct_simulate(requests, policy, step_time, capacity)
    assert len(sim.served) == len(requests)


def test_request_flops_in_closed_form_equal_the_sum_over_decode_steps():
    m = models.get("Llama-3.1-8B")
    for prompt, output in ((1, 1), (1000, 5), (37, 300)):
        prefill, decode = serving.request_flops_parts(m, prompt, output)
        assert prefill + decode == pytest.approx(serving.request_flops(m, prompt, output), rel=1e-12)
    assert serving.request_flops_parts(m, 10, 1)[1] == 0  # one output token: the prefill makes it


def test_time_average_in_system_weights_each_step_by_its_overlap_and_gaps_count_zero():
    def step(start, duration, in_system):
        return serving.Step(start, duration, 1, 0, in_system, 1, 0, 0)

    steps = [step(0.0, 1.0, 2), step(1.0, 1.0, 4), step(3.0, 1.0, 6)]  # idle from 2 to 3
    assert serving.time_average_in_system(steps, 0.0, 4.0) == pytest.approx((2 + 4 + 0 + 6) / 4)
    assert serving.time_average_in_system(steps, 0.5, 1.5) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="positive length"):
        serving.time_average_in_system(steps, 1.0, 1.0)


def test_worst_chunked_step_is_the_longest_step_of_the_chunked_prefill():
    m, gpu = models.get("Llama-3.1-8B"), hardware.get("H100 SXM")
    steps = [roofline.mixed_step(m, 8, 1024, ((start, min(1000, 3000 - start)),), "bf16", "bf16").time_s(gpu)
             for start in range(0, 3000, 1000)]
    assert serving.worst_chunked_step_s(m, gpu, 8, 1024, 3000, (1000,)) == {1000: max(steps)}
