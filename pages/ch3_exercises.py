"""Values and claims of chapter 3's exercises (the end of docs/03_serving.md).

Every number a question or an answer prints is computed here from the data files (and, for the
practical exercise, from the recorded results in docs/results/), and every verdict is
asserted: if the data change so that an answer flips, the build fails. No simulation runs
here: each answer is a few roofline steps, so the module costs milliseconds at build time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from pages import recorded
from pages.claims import ClaimFailed, claim
from pages.exercises import Exercise
from pages.store import cached
from snippets import calibration, hardware, kv_cache, models, roofline, serving
from snippets.units import GB, GiB, KiB, bytes_per_element

PAGE = "03_serving.md"
CHAPTER_TITLE = "Chapter 3: Serving many users"

EXERCISES = (
    Exercise("3.1", 3, "Two speeds on an L40S", "per-user and total throughput, a TPOT target", "number",
             ("NVIDIA L40S",), ("Mistral-7B-v0.1",)),
    Exercise("3.2", 3, "Little's law on an MI300X", "requests in flight against cache capacity", "yes/no",
             ("AMD Instinct MI300X",), ("Llama-3.1-70B",)),
    Exercise("3.3", 3, "Paging or an fp8 cache?", "which admits more requests", "judgement",
             ("NVIDIA A100 40GB SXM",), ("Llama-2-13B",)),
    Exercise("3.4", 3, "A prefill chunk for a 30 ms ITL", "chunked prefill against an ITL target", "number",
             ("NVIDIA A100 80GB SXM",), ("Qwen2.5-7B",)),
    Exercise("3.5", 3, "Is a prefix cache optional?", "prefix caching, prefill load", "yes/no",
             ("AMD Instinct MI325X",), ("Qwen2.5-72B",)),
    Exercise("3.6", 3, "Measure the two speeds", "bench: decode section, calibrated model", "practical",
             ("NVIDIA H200 SXM",), ("Llama-3.1-8B",)),
)


def decode_ms(m: models.ModelConfig, gpu: hardware.Accelerator, batch: int, context: int,
              weight_dtype: str = "bf16", kv_dtype: str = "bf16") -> float:
    """Roofline bound on one decode step of `batch` sequences at `context` tokens, in ms."""
    return roofline.decode_step(m, batch, context, weight_dtype, kv_dtype).time_s(gpu) * 1e3


# ---- 3.1 Two speeds on an L40S ------------------------------------------------------------------
ex1_model = models.get("Mistral-7B-v0.1")
ex1_gpu = hardware.get("NVIDIA L40S")
ex1_dtype = "bf16"
ex1_context = 4096
ex1_target_ms = 30
ex1_target_tokens_per_s = 1e3 / ex1_target_ms
_ex1_one = roofline.decode_step(ex1_model, 1, ex1_context, ex1_dtype, ex1_dtype)
ex1_weights_GB = _ex1_one.weight_bytes / GB
ex1_per_sequence_GB = _ex1_one.kv_bytes / GB
ex1_GBps = ex1_gpu.memory_bandwidth_GBps
ex1_fits = kv_cache.max_batch(ex1_model, ex1_gpu, ex1_context, ex1_dtype, ex1_dtype)
ex1_one_ms = decode_ms(ex1_model, ex1_gpu, 1, ex1_context, ex1_dtype, ex1_dtype)
ex1_one_per_user = 1e3 / ex1_one_ms
ex1_full_ms = decode_ms(ex1_model, ex1_gpu, ex1_fits, ex1_context, ex1_dtype, ex1_dtype)
ex1_full_GB = roofline.decode_step(ex1_model, ex1_fits, ex1_context, ex1_dtype, ex1_dtype).bytes / GB
ex1_full_per_user = 1e3 / ex1_full_ms
ex1_full_total = ex1_fits * ex1_full_per_user
ex1_per_user_loss = ex1_one_per_user / ex1_full_per_user
ex1_throughput_gain = ex1_full_total / ex1_one_per_user
ex1_users = max(b for b in range(1, ex1_fits + 1)
                if decode_ms(ex1_model, ex1_gpu, b, ex1_context, ex1_dtype, ex1_dtype) <= ex1_target_ms)
ex1_users_ms = decode_ms(ex1_model, ex1_gpu, ex1_users, ex1_context, ex1_dtype, ex1_dtype)
ex1_next_ms = decode_ms(ex1_model, ex1_gpu, ex1_users + 1, ex1_context, ex1_dtype, ex1_dtype)
ex1_users_total = ex1_users / ex1_users_ms * 1e3
ex1_users_share = ex1_users_total / ex1_full_total
ex1_memory_bound = claim("every step up to the memory limit is memory-bound on the L40S", all(
    roofline.decode_step(ex1_model, b, ex1_context, ex1_dtype, ex1_dtype).is_memory_bound(ex1_gpu)
    for b in range(1, ex1_fits + 1)))
ex1_window_cuts_nothing = claim("Mistral-7B's sliding window does not shorten a 4,096-token cache",
      kv_cache.cached_positions(ex1_model, ex1_context) == ex1_model.n_layers * ex1_context)
ex1_gain_exceeds_loss = claim(
    "batching to the memory limit multiplies total throughput far more (over 5x) than it divides each user's speed",
    ex1_throughput_gain > 5 * ex1_per_user_loss)
ex1_users_of_fits = ex1_users / ex1_fits
ex1_target_limits_batch = claim("the 30 ms target, not memory, limits the batch on the L40S, to about a third of what fits",
      1 <= ex1_users < ex1_fits and 0.25 < ex1_users_of_fits < 0.4)

# ---- 3.2 Little's law on an MI300X ------------------------------------------------------------
ex2_model = models.get("Llama-3.1-70B")
ex2_gpu = hardware.get("AMD Instinct MI300X")
ex2_dtype = "bf16"
ex2_rate = 3.0  # requests per second
ex2_ttft_s = 0.8  # mean time to first token
ex2_tpot_ms = 40  # mean time per output token
ex2_prompt, ex2_answer = 2000, 400
ex2_request_tokens = ex2_prompt + ex2_answer
ex2_e2e_s = ex2_ttft_s + ex2_tpot_ms / 1e3 * (ex2_answer - 1)
ex2_in_flight = serving.littles_law_in_flight(ex2_rate, ex2_e2e_s)
ex2_tokens_needed = ex2_in_flight * ex2_request_tokens
ex2_weights_GB = models.weight_bytes(ex2_model, ex2_dtype) / GB
ex2_weights_GiB = models.weight_bytes(ex2_model, ex2_dtype) / GiB
ex2_usable_GiB = ex2_gpu.usable_memory_bytes() / GiB
ex2_free_GiB = ex2_usable_GiB - ex2_weights_GiB
ex2_per_token_KiB = kv_cache.bytes_per_token(ex2_model, ex2_dtype) / KiB
ex2_capacity = kv_cache.max_tokens(ex2_model, ex2_gpu, ex2_dtype, ex2_dtype)
ex2_fits = ex2_tokens_needed <= ex2_capacity
ex2_max_rate = ex2_capacity / (ex2_e2e_s * ex2_request_tokens)
ex2_batch = math.ceil(ex2_in_flight)  # whole requests, rounded up
ex2_step_ms = decode_ms(ex2_model, ex2_gpu, ex2_batch, ex2_request_tokens, ex2_dtype, ex2_dtype)
ex2_request_TFLOP = serving.request_flops(ex2_model, ex2_prompt, ex2_answer, ex2_dtype, ex2_dtype) / 1e12
ex2_prefill_TFLOP = roofline.prefill(ex2_model, ex2_prompt, ex2_dtype, ex2_dtype).flops / 1e12
ex2_peak_TFLOPS = ex2_gpu.peak_flops(ex2_dtype) / 1e12
ex2_ceiling = serving.compute_ceiling_rps(ex2_model, ex2_gpu, ex2_prompt, ex2_answer, ex2_dtype)


def ex2_peak_share(rate_per_s: float) -> float:
    """Share of the MI300X's dense bf16 peak that `rate_per_s` of the exercise's requests need,
    asserted to be possible: a premise above the compute ceiling raises ClaimFailed (4 requests/s
    needs 103 % of the peak)."""
    if rate_per_s > ex2_ceiling:
        raise ClaimFailed(f"no longer true: {_within_ceiling(rate_per_s)}")
    return rate_per_s / ex2_ceiling


def _within_ceiling(rate_per_s: float) -> str:
    return f"{rate_per_s:g} requests/s of 2,000-token prompts is within the MI300X's compute ceiling"


ex2_rate_within_ceiling = claim(_within_ceiling(ex2_rate), ex2_rate <= ex2_ceiling)
ex2_peak_pct = 100 * ex2_peak_share(ex2_rate)
ex2_one_more_pct = 100 * (ex2_rate + 1) / ex2_ceiling
ex2_one_more_over_peak = claim("one more request a second would need more than the whole dense peak",
                               ex2_one_more_pct > 100)
ex2_cache_holds = claim(f"at {ex2_rate:g} requests/s the cache holds every request in flight on one MI300X", ex2_fits)
ex2_cache_runs_out = claim(f"the cache would run out above {ex2_rate:g} requests/s, and below 5",
                           ex2_rate < ex2_max_rate < 5)
ex2_ceiling_before_cache = claim("the compute ceiling comes before the cache runs out", ex2_ceiling < ex2_max_rate)
ex2_step_within_tpot = claim("a decode step of every request in flight, each at its longest, is within the 40 ms TPOT",
      ex2_step_ms <= ex2_tpot_ms)

# ---- 3.3 Paging or an fp8 cache? ----------------------------------------------------------------
ex3_model = models.get("Llama-2-13B")
ex3_gpu = hardware.get("NVIDIA A100 40GB SXM")
ex3_dtype = "fp16"  # weights, and the cache unless it is fp8
ex3_reserve = ex3_model.max_position_embeddings  # a reservation of the model's maximum context
ex3_block = 16
ex3_weights_GiB = models.weight_bytes(ex3_model, ex3_dtype) / GiB
ex3_free_GiB = (ex3_gpu.usable_memory_bytes() - models.weight_bytes(ex3_model, ex3_dtype)) / GiB
ex3_per_token_KiB = kv_cache.bytes_per_token(ex3_model, ex3_dtype) / KiB
ex3_capacity = kv_cache.max_tokens(ex3_model, ex3_gpu, ex3_dtype, ex3_dtype)
ex3_capacity_fp8 = kv_cache.max_tokens(ex3_model, ex3_gpu, ex3_dtype, "fp8")
ex3_paged = serving.Policy("paged", kv="paged", block_tokens=ex3_block)
ex3_reserved = serving.Policy("reserved", kv="reserved", reserve_tokens=ex3_reserve)


@dataclass(frozen=True)
class Admission:
    """Requests of `tokens` tokens (prompt and answer) admitted at once, each way."""

    prompt: int
    answer: int
    tokens: int
    held: int  # cache a paged request holds at its full length
    reserved: int  # fp16 cache, reserved
    fp8_reserved: int  # fp8 cache, reserved
    paged: int  # fp16 cache, paged
    fp8_paged: int  # both
    paging_gain: float  # what paging multiplies the admitted count by: reservation / held


def admission(prompt: int, answer: int) -> Admission:
    tokens = prompt + answer
    held = ex3_paged.held_tokens(tokens)
    reserved = ex3_reserved.held_tokens(tokens)
    return Admission(prompt, answer, tokens, held, ex3_capacity // reserved, ex3_capacity_fp8 // reserved,
                     ex3_capacity // held, ex3_capacity_fp8 // held, reserved / held)


ex3_chat = admission(500, 200)
ex3_docs = admission(3300, 300)
ex3_fp8_gain = bytes_per_element(ex3_dtype) / bytes_per_element("fp8")
ex3_fp8_doubles = claim("an fp8 cache doubles the tokens that fit (to within a token)",
                        abs(ex3_capacity_fp8 - 2 * ex3_capacity) <= 1)
ex3_chat_page = claim("for chat requests paging admits more than an fp8 cache", ex3_chat.paged > ex3_chat.fp8_reserved)
ex3_docs_fp8 = claim("for document requests an fp8 cache admits more than paging", ex3_docs.fp8_reserved > ex3_docs.paged)
_ex3_lengths = [admission(tokens, 0) for tokens in range(1, ex3_reserve + 1)]
ex3_rule = claim(
    "at every request length up to the reservation, paging admits at least as many as an fp8 cache when the "
    "reservation is more than twice the request, and the fp8 cache at least as many when it is less; for the chat "
    "and document requests the winner admits more", all(a.paged >= a.fp8_reserved if a.paging_gain > ex3_fp8_gain else a.fp8_reserved >= a.paged
                                  for a in _ex3_lengths)
    and all((a.paging_gain > ex3_fp8_gain) == (a.paged > a.fp8_reserved) for a in (ex3_chat, ex3_docs)))
ex3_requests_fit = claim("both requests fit in the reservation", max(ex3_chat.tokens, ex3_docs.tokens) <= ex3_reserve)

# ---- 3.4 A prefill chunk for a 30 ms ITL --------------------------------------------------------
ex4_model = models.get("Qwen2.5-7B")
ex4_gpu = hardware.get("NVIDIA A100 80GB SXM")
ex4_dtype = "bf16"
ex4_batch, ex4_context = 48, 4096  # sequences decoding, tokens of context each
ex4_prompt = 16384  # the long prompt that arrives
ex4_target_ms = 30


def chunk_steps(chunk: int) -> list[roofline.StepCost]:
    """The decode steps that carry the long prompt in chunks of `chunk` tokens: each chunk
    attends to the chunks before it (its prefix), the last one may be shorter."""
    return [roofline.mixed_step(ex4_model, ex4_batch, ex4_context, ((p, min(chunk, ex4_prompt - p)),), ex4_dtype,
                                ex4_dtype) for p in range(0, ex4_prompt, chunk)]


def worst_ms(chunk: int) -> float:
    """The longest step, the longest gap a decoding user sees, while the prompt is prefilled."""
    return max(s.time_s(ex4_gpu) for s in chunk_steps(chunk)) * 1e3


def largest_chunk(target_ms: float) -> int:
    """Largest chunk whose every step is within `target_ms` (bisection: the worst step grows
    with the chunk; claimed below at the answer)."""
    low, high = 1, ex4_prompt
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if worst_ms(middle) <= target_ms else (low, middle - 1)
    return low


ex4_decode_ms = decode_ms(ex4_model, ex4_gpu, ex4_batch, ex4_context, ex4_dtype, ex4_dtype)
_ex4_whole = roofline.mixed_step(ex4_model, ex4_batch, ex4_context, ((0, ex4_prompt),), ex4_dtype, ex4_dtype)
ex4_whole_ms = _ex4_whole.time_s(ex4_gpu) * 1e3
ex4_whole_TFLOP = _ex4_whole.flops / 1e12
ex4_tflops = ex4_gpu.peak_flops(ex4_dtype) / 1e12
ex4_chunk = largest_chunk(ex4_target_ms)
_ex4_steps = chunk_steps(ex4_chunk)
ex4_steps = len(_ex4_steps)
ex4_first_ms = _ex4_steps[0].time_s(ex4_gpu) * 1e3
_ex4_worst = max(range(ex4_steps), key=lambda i: _ex4_steps[i].time_s(ex4_gpu))
ex4_worst_step = _ex4_worst + 1
ex4_worst_prefix = _ex4_worst * ex4_chunk
ex4_worst_ms = worst_ms(ex4_chunk)
ex4_next_ms = worst_ms(ex4_chunk + 1)
# The first step alone with one more token: within the target, so only the later chunks bind.
ex4_first_next_ms = roofline.mixed_step(ex4_model, ex4_batch, ex4_context, ((0, ex4_chunk + 1),), ex4_dtype,
                                        ex4_dtype).time_s(ex4_gpu) * 1e3
ex4_chunked_ms = sum(s.time_s(ex4_gpu) for s in _ex4_steps) * 1e3
ex4_chunked_extra = ex4_chunked_ms / ex4_whole_ms - 1
ex4_last_chunk = ex4_prompt - (ex4_steps - 1) * ex4_chunk
ex4_answer_is_largest = claim("the answer is the largest chunk within 30 ms", ex4_worst_ms <= ex4_target_ms < ex4_next_ms)
# widened: every chunk that is a whole number of 16-token blocks below the answer, and the 64 just below it
_ex4_smaller = tuple(sorted({*range(16, ex4_chunk + 1, 16), *range(max(1, ex4_chunk - 64), ex4_chunk + 1)}))
_ex4_smaller_worst_s = cached(serving.worst_chunked_step_s, ex4_model, ex4_gpu, ex4_batch, ex4_context, ex4_prompt,
                              _ex4_smaller, ex4_dtype)
ex4_smaller_chunks_keep_target = claim(
    "no smaller chunk breaks the target: every multiple of 16 tokens below the answer, and the 64 chunks just below it",
    all(seconds * 1e3 <= ex4_target_ms for seconds in _ex4_smaller_worst_s.values()))
ex4_whole_stalls = claim("the whole prompt's step is compute-bound and stalls every user far beyond (over 20x) the target",
                         not _ex4_whole.is_memory_bound(ex4_gpu) and ex4_whole_ms > 20 * ex4_target_ms)
ex4_late_chunk_slowest = claim("the slowest step carries a late chunk, not the first",
                               _ex4_worst > 0 and ex4_first_ms < ex4_worst_ms)
ex4_first_chunk_allows_more = claim("the first chunk alone would allow a larger chunk", ex4_first_next_ms <= ex4_target_ms)
ex4_little_ttft = claim("chunking costs the long prompt little TTFT (under 20 %)", 0 < ex4_chunked_extra < 0.2)
ex4_title_target = claim("the exercise's title names its 30 ms target",
                         f"a {ex4_target_ms} ms ITL" in EXERCISES[3].title and ex4_target_ms == 30)
# narrowed: the last step, a short remainder, is memory-bound; the full chunks' steps are compute-bound
ex4_full_chunks_compute_bound = claim(
    "every full chunk's step is compute-bound; the last, a shorter remainder, is not",
    ex4_last_chunk < ex4_chunk and not any(s.is_memory_bound(ex4_gpu) for s in _ex4_steps[:-1])
    and _ex4_steps[-1].is_memory_bound(ex4_gpu))

# ---- 3.5 Is a prefix cache optional? ----------------------------------------------------------
ex5_model = models.get("Qwen2.5-72B")
ex5_gpu = hardware.get("AMD Instinct MI325X")
ex5_dtype = "bf16"
ex5_system, ex5_user = 6000, 300
ex5_rate = 2.0  # requests per second, every one with the same system prompt
ex5_prompt = ex5_system + ex5_user
_ex5_full = roofline.prefill(ex5_model, ex5_prompt, ex5_dtype, ex5_dtype)
_ex5_hit = roofline.mixed_step(ex5_model, 0, 0, ((ex5_system, ex5_user),), ex5_dtype, ex5_dtype)
ex5_full_TFLOP = _ex5_full.flops / 1e12
ex5_hit_TFLOP = _ex5_hit.flops / 1e12
ex5_tflops = ex5_gpu.peak_flops(ex5_dtype) / 1e12
ex5_full_s = _ex5_full.time_s(ex5_gpu)
ex5_hit_ms = _ex5_hit.time_s(ex5_gpu) * 1e3
ex5_saved_s = ex5_full_s - ex5_hit_ms / 1e3
ex5_busy_full = ex5_rate * ex5_full_s  # GPU-seconds of prefill per second
ex5_busy_hit = ex5_rate * ex5_hit_ms / 1e3
ex5_max_rate_full = 1 / ex5_full_s
ex5_weights_GiB = models.weight_bytes(ex5_model, ex5_dtype) / GiB
ex5_full_compute_bound = claim("the full prefill is compute-bound on the MI325X", not _ex5_full.is_memory_bound(ex5_gpu))
ex5_hit_compute_bound = claim("the prefill after a prefix hit is still compute-bound on the MI325X",
                              not _ex5_hit.is_memory_bound(ex5_gpu))
ex5_prompts_exceed_gpu = claim("without a prefix cache the prompts alone need more than the whole GPU at 2 requests/s",
                               ex5_busy_full > 1)
ex5_hit_under_tenth = claim("with it they need under a tenth of it", ex5_busy_hit < 0.1)
ex5_weights_fit = claim("Qwen2.5-72B's bf16 weights fit on the MI325X", ex5_weights_GiB < ex5_gpu.usable_memory_bytes() / GiB)

# ---- 3.6 Measure the two speeds (bench: decode section) -----------------------------------------
TOLERANCE = 0.15  # "close": the calibrated model's held-out residual within 15 %
_record = recorded.run_for(hardware.get("H200 SXM").name, "Llama-3.1-8B", "bf16", "decode")  # recorded.py's rule
ex6_gpu = hardware.get(_record["device"]["spec_name"])
ex6_model = models.get(_record["settings"]["model"])
ex6_dtype = _record["settings"]["dtype"]
ex6_context = _record["settings"]["context"]
ex6_tolerance_pct = TOLERANCE * 100
_ex6_run = next(c for c in calibration.calibrate_document(_record)[0]
                if c.sweep == f"decode, {calibration.best_decode_mode(_record)}")
ex6_mode = _ex6_run.sweep.removeprefix("decode, ")
_ex6_by_batch = {int(p.point.label.removeprefix("decode, batch ")): p for p in _ex6_run.predictions}
ex6_batches = tuple(sorted(_ex6_by_batch))
ex6_small, ex6_large = ex6_batches[0], ex6_batches[-1]
ex6_fit_batches = tuple(b for b in ex6_batches if _ex6_by_batch[b].fitted)
ex6_copy_GBps = _ex6_run.calibration.bandwidth_Bps / GB
ex6_matmul_TFLOPS = _ex6_run.calibration.flops_per_s / 1e12
ex6_fixed_ms = _ex6_run.calibration.fixed_s * 1e3


@dataclass(frozen=True)
class Measured:
    """One batch of the recorded decode sweep, measured and predicted."""

    batch: int
    GB: float  # weights and cache read by the step
    bound_ms: float  # the chapter's datasheet bound
    memory_ms: float  # the weights (or, with no attention timed, all bytes) / measured copy bandwidth
    attention_ms: float  # the step's attention, timed alone (0 where the run timed none)
    predicted_ms: float  # fixed cost + max(memory, compute) at the measured rates + attention
    measured_ms: float
    per_user: float  # measured tokens/s for each user
    total: float  # measured tokens/s for the batch
    residual_pct: float
    fitted: bool

    @property
    def close(self) -> bool:
        return abs(self.residual_pct) <= TOLERANCE * 100


def measured(batch: int) -> Measured:
    p = _ex6_by_batch[batch]
    return Measured(batch, p.point.bytes / GB,
                    decode_ms(ex6_model, ex6_gpu, batch, ex6_context, ex6_dtype, ex6_dtype),
                    p.memory_s * 1e3, p.attention_s * 1e3, p.predicted_s * 1e3, p.point.measured_s * 1e3,
                    1 / p.point.measured_s, batch / p.point.measured_s, p.residual_pct, p.fitted)


ex6 = {b: measured(b) for b in ex6_batches}
ex6_one, ex6_mid, ex6_big = ex6[ex6_small], ex6[64], ex6[ex6_large]
ex6_per_user_loss = ex6_one.per_user / ex6_big.per_user
ex6_throughput_gain = ex6_big.total / ex6_one.total
ex6_bound_per_user_loss = ex6_big.bound_ms / ex6_one.bound_ms
ex6_bound_throughput_gain = ex6_large * ex6_one.bound_ms / ex6_big.bound_ms
ex6_held_out_close = tuple(b for b in ex6_batches if not ex6[b].fitted and ex6[b].close)
ex6_close_first, ex6_close_last = ex6_held_out_close[0], ex6_held_out_close[-1]
ex6_fit_small, ex6_fit_large = ex6_fit_batches
ex6_low_ms = ex6_mid.predicted_ms * (1 - TOLERANCE)
ex6_high_ms = ex6_mid.predicted_ms * (1 + TOLERANCE)
ex6_run_is_h200 = claim("the recorded run is the H200's", ex6_gpu.name == "NVIDIA H200 SXM")
ex6_fit_on_smallest = claim("the fixed cost is fitted on the two smallest batches", ex6_fit_batches == ex6_batches[:2])
ex6_gain_exceeds_loss = claim(
    "batching to the largest recorded batch multiplies total throughput far more (over 10x) than it slows each user",
      ex6_throughput_gain > 10 * ex6_per_user_loss)
ex6_worse_than_bound = claim("measured, batching pays less than the datasheet bound says: each user slows more and "
                             "the total grows less", ex6_per_user_loss > ex6_bound_per_user_loss
                             and ex6_throughput_gain < ex6_bound_throughput_gain)
ex6_big_compute_bound = claim("at the largest batch the weight matmuls are compute-bound at the measured rates",
                              _ex6_by_batch[ex6_large].bound == "compute")
ex6_all_close = claim("the calibrated model predicts every held-out batch within 15 %",
                      ex6_held_out_close == tuple(b for b in ex6_batches if not ex6[b].fitted))
# Attention read the cache, timed alone: GB/s at each batch, against the copy bandwidth.
_ex6_attention_GBps = {b: p.point.cache_bytes / p.point.attention_s / GB if p.point.attention_s else 0.0
                       for b, p in _ex6_by_batch.items()}
ex6_big_attention_GBps = _ex6_attention_GBps[ex6_large]
ex6_attention_below_copy = claim(
    "the run timed attention alone at every batch, and at every batch it read the cache below the copy bandwidth",
    all(p.point.attention_s is not None for p in _ex6_by_batch.values())
    and all(0 < r < ex6_copy_GBps for r in _ex6_attention_GBps.values()))
# The same run calibrated as a run with no attention section is: the cache charged at the copy rate.
_ex6_copy_rate = calibration.calibrate(
    [replace(p.point, attention_s=None) for p in _ex6_run.predictions], _ex6_run.calibration.bandwidth_Bps,
    _ex6_run.calibration.flops_per_s, layer_rates=_ex6_run.calibration.layer_rates)[1]
_ex6_copy_rate_held = [p for p in _ex6_copy_rate if not p.fitted]
ex6_copy_rate_big_residual = _ex6_copy_rate[-1].residual_pct
ex6_copy_rate_residual_grows = claim(
    "with the cache charged at the copy rate, the held-out residual grows with the batch, to more than 15 % at the largest",
    all(a.residual_pct < b.residual_pct for a, b in zip(_ex6_copy_rate_held, _ex6_copy_rate_held[1:]))
    and _ex6_copy_rate[-1].point.tokens == ex6_large and ex6_copy_rate_big_residual > TOLERANCE * 100)
ex6_mid_memory_bound = claim("the batch-64 step is memory-bound at the measured rates",
      ex6_mid.batch == 64 and _ex6_by_batch[64].bound == "memory")
ex6_cache_outweighs_weights = claim("the cache bytes outweigh the weights at the largest batch",
      _ex6_by_batch[ex6_large].point.cache_bytes > _ex6_by_batch[ex6_large].point.weight_bytes)
ex6_big_cache_GB = _ex6_by_batch[ex6_large].point.cache_bytes / GB
ex6_weights_GB = _ex6_by_batch[ex6_large].point.weight_bytes / GB
