"""Values, claims, tables and figures of docs/03_serving.md (chapter 3)."""

from __future__ import annotations

from functools import cache

from pages.claims import claim
from snippets import hardware, kv_cache, models, roofline, serving
from snippets.report import markdown_table
from snippets.units import GB, GiB, KiB
from vis import chapter3
from vis.cache import cached

PAGE = "03_serving.md"

# ---- the page's parameters: prose, tables, simulations and figures all read these -----------
GPU = "H100 SXM"
MODEL = "Llama-3.1-8B"
DTYPE = "bf16"  # weights, cache and math
CONTEXT = 2048  # tokens of context per sequence in "two speeds"
LONG_CONTEXT = 8192
BATCHES = (1, 8, 32, 64, 128, 256)
# Silent reading of English: 238 words a minute for non-fiction, 260 for fiction (Brysbaert 2019,
# "How many words do we read per minute? A review and meta-analysis of reading rate").
reading_wpm_low, reading_wpm_high = 238, 260
READING_WPM = 250
words_per_token = 0.75  # OpenAI's rule of thumb for English text: 1 token ~ 3/4 of a word
TOKENS_PER_WORD = 1 / words_per_token
ITL_PERCENTILE = 99
SLO = serving.SLO(ttft_s=1.0, tpot_s=0.020)  # the targets of the goodput section (an assumption)
SLO_PERCENTILE = 90
# The simulated workload: 200 requests, Poisson arrivals, prompts 256-2,048 tokens, answers
# exponential with mean 128 tokens (capped at 1,024): most short, a few long.
WORKLOAD = dict(n_requests=200, seed=1, prompt_min=256, prompt_max=2048, output_mean=128, output_max=1024)
RATE = 40.0  # requests per second in the metrics section
metrics_workload = serving.Workload(rate_per_s=RATE, **WORKLOAD)
RATES = (10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 80.0)
RESERVE_TOKENS = 8192  # the per-request reservation of the "reserved" policies
CHUNK_TOKENS = 512  # prefill tokens mixed into one step
BLOCK_TOKENS = 16
MAX_BATCH = 256  # slots the scheduler runs at most (the simulator's setting)
# Static vs continuous: a small seeded workload on 8 slots, everyone there almost at once.
SLOTS = 8
SLOTS_WORKLOAD = dict(n_requests=24, rate_per_s=500.0, seed=4, prompt_min=128, prompt_max=512, output_mean=48,
                      output_max=192)
# Chunked prefill: a long prompt arrives while a batch decodes.
CHUNK_BATCH, CHUNK_CONTEXT, LONG_PROMPT = 64, 2048, 8192
CHUNKS = (256, 512, 1024, 2048, 4096, 8192)
# Prefix caching: a shared system prompt before each user's own text.
SYSTEM_PROMPT, USER_PROMPT = 2000, 200

gpu = hardware.get(GPU)
model = models.get(MODEL)

POLICIES = (
    serving.Policy("continuous, reserved", kv="reserved", reserve_tokens=RESERVE_TOKENS, max_batch=MAX_BATCH),
    serving.Policy("continuous, paged", block_tokens=BLOCK_TOKENS, max_batch=MAX_BATCH),
    serving.Policy("paged + chunked prefill", chunk_tokens=CHUNK_TOKENS, block_tokens=BLOCK_TOKENS,
                   max_batch=MAX_BATCH),
)

# ---- Two speeds ---------------------------------------------------------------------------


def step_s(batch: int, context: int = CONTEXT) -> float:
    return roofline.decode_step(model, batch, context, DTYPE, DTYPE).time_s(gpu)


fits_at_context = kv_cache.max_batch(model, gpu, CONTEXT, DTYPE, DTYPE)
fits_at_long_context = kv_cache.max_batch(model, gpu, LONG_CONTEXT, DTYPE, DTYPE)
claim("every batch in the table fits at 2,048 tokens", max(BATCHES) <= fits_at_context)
one_ms = step_s(1) * 1e3
one_per_user = 1 / step_s(1)
full_ms = step_s(fits_at_context) * 1e3
full_per_user = 1 / step_s(fits_at_context)
full_total = fits_at_context / step_s(fits_at_context)
throughput_gain = full_total / one_per_user
per_user_loss = one_per_user / full_per_user
claim("batching to the memory limit multiplies total throughput several times more than it divides each user's speed",
      throughput_gain > 5 * per_user_loss)
memory_read_ms = gpu.usable_memory_bytes() / gpu.bandwidth_Bps * 1e3
claim("at the memory limit a step reads nearly all of memory", 0.9 < full_ms / memory_read_ms <= 1.0)
claim("at 2,048 and 8,192 tokens the largest batch's step is memory-bound and no slower than reading all memory",
      all(roofline.decode_step(model, kv_cache.max_batch(model, gpu, c, DTYPE, DTYPE), c, DTYPE, DTYPE)
          .is_memory_bound(gpu) and step_s(kv_cache.max_batch(model, gpu, c, DTYPE, DTYPE), c) * 1e3 <= memory_read_ms
          for c in (CONTEXT, LONG_CONTEXT)))

reading_tpot_s = serving.reading_speed_tpot_s(READING_WPM, TOKENS_PER_WORD)
reading_tokens_per_s = 1 / reading_tpot_s
reading_tpot_ms = reading_tpot_s * 1e3
claim("every batch that fits streams faster than people read", full_per_user > reading_tokens_per_s)
slo_tpot_ms = SLO.tpot_s * 1e3
slo_tokens_per_s = 1 / SLO.tpot_s
users_within_tpot = max(b for b in range(1, fits_at_context + 1) if step_s(b) <= SLO.tpot_s)
claim("the TPOT target, not memory, limits the batch at 2,048 tokens", users_within_tpot < fits_at_context)


def two_speeds_table() -> str:
    rows = []
    for b in BATCHES:
        t = step_s(b)
        rows.append([f"{b:,}", f"{t * 1e3:.2f} ms", f"{1 / t:,.0f}", f"{b / t:,.0f}",
                     "yes" if t <= SLO.tpot_s else "no"])
    return markdown_table(["batch B", "step time T(B, S)", "per user 1/T (tok/s)", "total B/T (tok/s)",
                           f"within {slo_tpot_ms:.0f} ms"], rows)


# ---- Capacity ------------------------------------------------------------------------------
capacity_tokens = kv_cache.max_tokens(model, gpu, DTYPE, DTYPE)
usable_GiB = gpu.usable_memory_bytes() / GiB
weights_GB = models.weight_bytes(model, DTYPE) / GB
weights_GiB = models.weight_bytes(model, DTYPE) / GiB
per_token_KiB = kv_cache.bytes_per_token(model, DTYPE) / KiB
free_GiB = usable_GiB - weights_GiB
claim("capacity is the free memory over the bytes per token",
      capacity_tokens == int((gpu.usable_memory_bytes() - models.weight_bytes(model, DTYPE))
                             // kv_cache.bytes_per_token(model, DTYPE)))

# ---- Simulations (shared by the values, tables and figures) ----------------------------------


@cache
def step_time() -> serving.RooflineStepTime:
    return serving.RooflineStepTime(model, gpu, DTYPE, DTYPE, DTYPE)


@cache
def run(policy_name: str, rate: float) -> serving.Simulation:
    """The page's workload at `rate` under one policy (from vis.cache when nothing changed)."""
    return cached(_simulate, policy_name, rate)


def _simulate(policy_name: str, rate: float) -> serving.Simulation:
    policy = next(p for p in POLICIES if p.name == policy_name)
    requests = serving.Workload(rate_per_s=rate, **WORKLOAD).requests()
    return serving.simulate(requests, policy, step_time(), capacity_tokens)


@cache
def sweep() -> dict[str, list[tuple[float, float, float]]]:
    """Per policy: (arrival rate, SLO attainment, goodput) at each rate."""
    return {p.name: [(r, serving.slo_attainment(run(p.name, r).served, SLO),
                      serving.goodput_rps(run(p.name, r).served, SLO)) for r in RATES] for p in POLICIES}


# ---- Request metrics ---------------------------------------------------------------------------
_metrics_run = run(POLICIES[1].name, RATE)
_served = _metrics_run.served
ttft_p50_ms = serving.percentile([s.ttft_s for s in _served], 50) * 1e3
ttft_p90_ms = serving.percentile([s.ttft_s for s in _served], 90) * 1e3
tpot_p50_ms = serving.percentile([s.tpot_s for s in _served], 50) * 1e3
tpot_p90_ms = serving.percentile([s.tpot_s for s in _served], 90) * 1e3
itl_token_ms = serving.mean_itl_token_weighted_s(_served) * 1e3
itl_request_ms = serving.mean_itl_request_weighted_s(_served) * 1e3
itl_p99_ms = serving.percentile([g for s in _served for g in s.itl_s], ITL_PERCENTILE) * 1e3
itl_max_ms = max(g for s in _served for g in s.itl_s) * 1e3
e2e_mean_s = sum(s.e2e_s for s in _served) / len(_served)
e2e_p90_s = serving.percentile([s.e2e_s for s in _served], 90)
n_requests = len(_served)
claim("the token-weighted ITL is lower than the request-weighted one", itl_token_ms < 0.95 * itl_request_ms)
_long = [s for s in _served if s.request.output_tokens >= serving.percentile([x.request.output_tokens for x in _served], 90)]
_last_arrival = max(s.request.arrival_s for s in _served)
claim("the longest answers go on streaming after the last arrival, in steps with no prefill to slow them",
      sum(s.token_times_s[-1] > _last_arrival for s in _long) > len(_long) / 2
      and sum(x.tpot_s for x in _long) / len(_long) < itl_request_ms / 1e3)
claim("the longest gaps are far longer than the typical one", itl_max_ms > 5 * itl_token_ms)
run_s = _metrics_run.duration_s
observed_rate = n_requests / run_s  # 200 requests over the whole run, draining included
little_in_flight = serving.littles_law_in_flight(observed_rate, e2e_mean_s)
simulated_in_flight = sum(s.in_system * s.duration_s for s in _metrics_run.steps) / run_s
little_error = simulated_in_flight / little_in_flight - 1
claim("Little's law predicts the simulated requests in flight within 5 %", abs(little_error) < 0.05)


def metrics_table() -> str:
    rows = [
        ["time to first token (TTFT)", "queueing + prefill", f"{ttft_p50_ms:,.0f} ms", f"{ttft_p90_ms:,.0f} ms"],
        ["time per output token (TPOT)", "(last − first) / (n − 1), per request", f"{tpot_p50_ms:.1f} ms",
         f"{tpot_p90_ms:.1f} ms"],
        ["end-to-end latency", "arrival to last token", f"{serving.percentile([s.e2e_s for s in _served], 50):.2f} s",
         f"{e2e_p90_s:.2f} s"],
    ]
    return markdown_table(["metric", "what it measures", "median", f"p{SLO_PERCENTILE}"], rows)


# ---- Static vs continuous batching -----------------------------------------------------------------


@cache
def slot_runs() -> tuple[serving.Simulation, serving.Simulation]:
    requests = serving.Workload(**SLOTS_WORKLOAD).requests()
    static = serving.Policy("static", batching="static", kv="paged", max_batch=SLOTS)
    continuous = serving.Policy("continuous", kv="paged", max_batch=SLOTS)
    return tuple(serving.simulate(requests, p, step_time(), capacity_tokens) for p in (static, continuous))


_static, _continuous = slot_runs()
static_steps, continuous_steps = len(_static.steps), len(_continuous.steps)
static_utilisation, continuous_utilisation = _static.slot_utilisation, _continuous.slot_utilisation
static_done_s, continuous_done_s = _static.duration_s, _continuous.duration_s
static_ttft_p90_ms = serving.percentile([s.ttft_s for s in _static.served], 90) * 1e3
continuous_ttft_p90_ms = serving.percentile([s.ttft_s for s in _continuous.served], 90) * 1e3
slots_requests = SLOTS_WORKLOAD["n_requests"]
claim("continuous batching needs fewer steps, keeps more slots busy and finishes sooner on the same workload",
      continuous_steps < static_steps and continuous_utilisation > static_utilisation
      and continuous_done_s < static_done_s)


def batching_table() -> str:
    rows = [[sim.policy.name, f"{len(sim.steps):,}", f"{sim.slot_utilisation:.0%}", f"{sim.duration_s * 1e3:,.0f} ms",
             f"{serving.percentile([s.ttft_s for s in sim.served], 90) * 1e3:,.0f} ms"] for sim in (_static, _continuous)]
    return markdown_table(["policy", "steps", "slots busy", "all done after", f"p{SLO_PERCENTILE} TTFT"], rows)


# ---- Paged KV --------------------------------------------------------------------------------------
typical_tokens = (WORKLOAD["prompt_min"] + WORKLOAD["prompt_max"]) // 2 + WORKLOAD["output_mean"]
reserve_max = model.max_position_embeddings
admitted_reserve_max = capacity_tokens // reserve_max
admitted_reserved = capacity_tokens // RESERVE_TOKENS
admitted_paged = capacity_tokens // serving.Policy("p", block_tokens=BLOCK_TOKENS).held_tokens(typical_tokens)
reserved_waste = 1 - typical_tokens / RESERVE_TOKENS
paged_waste_max = BLOCK_TOKENS - 1
claim("a reservation of 8,192 tokens wastes most of it at a typical length", reserved_waste > 0.5)
claim("paging admits several times the batch of an 8,192-token reservation", admitted_paged > 3 * admitted_reserved)


def admission_table() -> str:
    rows = [
        [f"reserve the model's maximum, {reserve_max:,} tokens", f"{reserve_max:,}", f"{admitted_reserve_max:,}"],
        [f"reserve a server maximum of {RESERVE_TOKENS:,} tokens", f"{RESERVE_TOKENS:,}", f"{admitted_reserved:,}"],
        [f"pages of {BLOCK_TOKENS} tokens, {typical_tokens:,} tokens in use",
         f"{serving.Policy('p', block_tokens=BLOCK_TOKENS).held_tokens(typical_tokens):,}", f"{admitted_paged:,}"],
    ]
    return markdown_table(["how the cache is given out", "tokens held per request", "requests admitted"], rows)


_reserved_run, _paged_run = run(POLICIES[0].name, 60.0), run(POLICIES[1].name, 60.0)
OCCUPANCY_RATE = 60.0
reserved_peak_running = max(s.slots_busy for s in _reserved_run.steps)
paged_peak_running = max(s.slots_busy for s in _paged_run.steps)
reserved_used_share = max(s.cache_used_tokens for s in _reserved_run.steps) / capacity_tokens
claim("under reserved KV the cache is full while most of it holds nothing",
      reserved_peak_running == admitted_reserved and reserved_used_share < 0.5)
paged_preemptions = _paged_run.preemptions

# ---- Chunked prefill ---------------------------------------------------------------------------------


def chunk_step(chunk: int, prefix: int = 0) -> roofline.StepCost:
    return roofline.mixed_step(model, CHUNK_BATCH, CHUNK_CONTEXT, ((prefix, chunk),), DTYPE, DTYPE)


def chunked_prefill_s(chunk: int) -> float:
    """Time to prefill the long prompt in chunks of `chunk`, each mixed into a decode step."""
    return sum(chunk_step(min(chunk, LONG_PROMPT - p), p).time_s(gpu) for p in range(0, LONG_PROMPT, chunk))


decode_alone_ms = step_s(CHUNK_BATCH, CHUNK_CONTEXT) * 1e3
stall_ms = chunk_step(LONG_PROMPT).time_s(gpu) * 1e3
chunk_ms = chunk_step(CHUNK_TOKENS).time_s(gpu) * 1e3
chunk_steps = -(-LONG_PROMPT // CHUNK_TOKENS)
chunked_prefill_ms = chunked_prefill_s(CHUNK_TOKENS) * 1e3
whole_prefill_ms = stall_ms
knee_tokens = roofline.prefill_knee_tokens(model, gpu, DTYPE)
claim("a whole long prompt stalls the batch for many decode steps", stall_ms > 10 * decode_alone_ms)
claim("a 512-token chunk adds little to a decode step", chunk_ms < 1.2 * decode_alone_ms)
claim("a 512-token chunk's step is still memory-bound", chunk_step(CHUNK_TOKENS).is_memory_bound(gpu))
claim("a 1,024-token chunk's step is compute-bound", not chunk_step(1024).is_memory_bound(gpu))
claim("chunking costs the long prompt a little TTFT", whole_prefill_ms < chunked_prefill_ms < 1.5 * whole_prefill_ms)


def chunk_table() -> str:
    rows = [["none (decode only)", f"{decode_alone_ms:.1f} ms", "–", "–"]]
    for c in CHUNKS:
        cost = chunk_step(c)
        rows.append([f"{c:,}", f"{cost.time_s(gpu) * 1e3:.1f} ms", "memory" if cost.is_memory_bound(gpu) else "compute",
                     f"{chunked_prefill_s(c) * 1e3:,.0f} ms in {-(-LONG_PROMPT // c)} "
                     f"step{'s' if c < LONG_PROMPT else ''}"])
    return markdown_table(["prompt tokens per step C", "step time = longest ITL", "bound",
                           f"the {LONG_PROMPT:,}-token prompt's prefill"], rows)


_chunked_metrics = run(POLICIES[2].name, RATE)
chunked_itl_max_ms = max(g for s in _chunked_metrics.served for g in s.itl_s) * 1e3
chunked_tpot_p90_ms = serving.percentile([s.tpot_s for s in _chunked_metrics.served], 90) * 1e3
chunked_ttft_p90_ms = serving.percentile([s.ttft_s for s in _chunked_metrics.served], 90) * 1e3
claim("chunking bounds the longest gap in the simulation", chunked_itl_max_ms < itl_max_ms / 5)

# ---- Goodput -------------------------------------------------------------------------------------------


def highest_rates() -> dict[str, float]:
    return {name: serving.highest_rate_meeting([r for r, _, _ in points], [a for _, a, _ in points], SLO_PERCENTILE)
            for name, points in sweep().items()}


reserved_rate, paged_rate, chunked_rate = (highest_rates()[p.name] for p in POLICIES)
claim("at a 20 ms TPOT target, paging alone serves a lower rate than reserving; paging with chunked "
      "prefill the highest", paged_rate < reserved_rate < chunked_rate)


def _first_miss(policy_name: str) -> serving.Simulation:
    return run(policy_name, min(r for r, a, _ in sweep()[policy_name] if a * 100 < SLO_PERCENTILE))


def _misses(policy_name: str) -> tuple[int, int]:
    """At the lowest rate a policy misses the percentile: requests over the TTFT and the TPOT target."""
    served = _first_miss(policy_name).served
    return sum(s.ttft_s > SLO.ttft_s for s in served), sum(s.tpot_s > SLO.tpot_s for s in served)


claim("at the lowest rate every policy serves every request on target", all(p[0][1] == 1.0 for p in sweep().values()))
reserved_misses, paged_misses, chunked_misses = (_misses(p.name) for p in POLICIES)
claim("reserved memory misses mostly on TTFT (queueing)", reserved_misses[0] > 2 * reserved_misses[1])
claim("paged memory without chunking misses on TPOT first", paged_misses[0] == 0 < paged_misses[1])
claim("chunked prefill finally misses on TTFT, its TPOT still on target", chunked_misses[1] == 0 < chunked_misses[0])


def goodput_table() -> str:
    rows = []
    for name, points in sweep().items():
        rows.append([name, *(f"{a:.0%}" for _, a, _ in points), f"{highest_rates()[name]:g}/s"])
    return markdown_table(["policy", *(f"{r:g}/s" for r in RATES), f"highest rate, p{SLO_PERCENTILE}"], rows)


# ---- Prefix caching --------------------------------------------------------------------------------------
full_prompt = SYSTEM_PROMPT + USER_PROMPT
prefill_ms = roofline.prefill(model, full_prompt, DTYPE, DTYPE).time_s(gpu) * 1e3
prefix_hit_ms = roofline.mixed_step(model, 0, 0, ((SYSTEM_PROMPT, USER_PROMPT),), DTYPE, DTYPE).time_s(gpu) * 1e3
prefix_saved_ms = prefill_ms - prefix_hit_ms
prefix_flops_saved = 1 - (roofline.mixed_step(model, 0, 0, ((SYSTEM_PROMPT, USER_PROMPT),), DTYPE, DTYPE).flops
                          / roofline.prefill(model, full_prompt, DTYPE, DTYPE).flops)
claim("a prefix hit turns a compute-bound prefill into a memory-bound one",
      not roofline.prefill(model, full_prompt, DTYPE, DTYPE).is_memory_bound(gpu)
      and roofline.mixed_step(model, 0, 0, ((SYSTEM_PROMPT, USER_PROMPT),), DTYPE, DTYPE).is_memory_bound(gpu))


# ---- Figures: the same parameters as the prose --------------------------------------------------------------
def pareto_figure() -> str:
    # Measured points (recorded results files) are a later addition: pass them as `measured`.
    return cached(chapter3.pareto, GPU, MODEL, DTYPE, (CONTEXT, LONG_CONTEXT), SLO.tpot_s, reading_tpot_s,
                  measured=())


def _timeline_request() -> serving.Served:
    """Of the requests with 16 to 64 tokens that queued, the one whose longest gap is the
    largest multiple of its mean gap."""
    def queued_s(s: serving.Served) -> float:
        return _metrics_run.steps[s.first_step].start_s - s.request.arrival_s

    candidates = [s for s in _served if 16 <= s.request.output_tokens <= 64 and queued_s(s) > 0.002]
    return max(candidates, key=lambda s: (max(s.itl_s) / s.tpot_s, -s.request.id))


def timeline_figure() -> str:
    s = _timeline_request()
    return cached(chapter3.request_timeline, s, _metrics_run.steps[s.first_step].start_s)


def slots_figure() -> str:
    return cached(chapter3.slot_timelines, chapter3.slot_panel(_static), chapter3.slot_panel(_continuous))


def goodput_figure() -> str:
    return cached(chapter3.goodput_vs_rate, sweep(), SLO.ttft_s, SLO.tpot_s, SLO_PERCENTILE, f"{model.name}, "
                  f"{DTYPE}, {gpu.name}")


def chunk_figure() -> str:
    return cached(chapter3.step_time_vs_chunk, GPU, MODEL, DTYPE, CHUNK_BATCH, CHUNK_CONTEXT, LONG_PROMPT, CHUNKS)


def occupancy_figure() -> str:
    return cached(chapter3.cache_occupancy, chapter3.occupancy_panel(_reserved_run), chapter3.occupancy_panel(_paged_run))


#: The committed copies in vis/ (`python -m vis`), by file name.
FIGURES = {
    "serving_pareto_h100": pareto_figure,
    "serving_request_timeline": timeline_figure,
    "serving_static_vs_continuous": slots_figure,
    "serving_goodput_h100": goodput_figure,
    "serving_chunked_prefill_h100": chunk_figure,
    "serving_cache_occupancy_h100": occupancy_figure,
}
