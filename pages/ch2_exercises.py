"""Values and claims of chapter 2's exercises (the end of docs/02_kv_cache.md).

Every number a question or an answer prints is computed here from the data files, and every
verdict is asserted: if the data change so that an answer flips, the build fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from pages.claims import claim
from pages.exercises import Exercise
from snippets import hardware, kv_cache, models, roofline
from snippets.units import GB, GiB, KiB, bytes_per_element

PAGE = "02_kv_cache.md"
CHAPTER_TITLE = "Chapter 2: The KV cache"

EXERCISES = (
    Exercise("2.1", 2, "Seventy billion parameters and 32k tokens on one H200", "memory budget, fp8 cache",
             "number", ("NVIDIA H200 SXM",), ("Llama-3.1-70B",)),
    Exercise("2.2", 2, "Quantize the weights or the cache?", "which halving fits more sequences", "judgement",
             ("NVIDIA H200 SXM", "NVIDIA L4"), ("Llama-3.1-70B", "Llama-2-7B")),
    Exercise("2.3", 2, "What a sliding window saves", "sliding-window attention", "number",
             ("NVIDIA GeForce RTX 4090",), ("Mistral-7B-v0.1",)),
    Exercise("2.4", 2, "Which GPU serves more users within 25 ms?", "capacity against bandwidth", "judgement",
             ("NVIDIA L40S", "NVIDIA A100 40GB PCIe"), ("Llama-3.1-8B",)),
    Exercise("2.5", 2, "Measure what a longer context costs", "bench: decode section", "practical",
             ("NVIDIA GeForce RTX 4090",), ("Llama-2-7B",)),
)


def sequences_that_fit(m: models.ModelConfig, gpu: hardware.Accelerator, context: int,
                       weight_dtype: str, kv_dtype: str) -> int:
    """Largest batch of `context`-token sequences whose cache fits beside the weights (chapter 2)."""
    return kv_cache.max_batch(m, gpu, context, weight_dtype, kv_dtype)


def free_GiB(m: models.ModelConfig, gpu: hardware.Accelerator, weight_dtype: str) -> float:
    """Usable memory left for the cache once the weights are in, in GiB."""
    return (gpu.usable_memory_bytes() - models.weight_bytes(m, weight_dtype)) / GiB


def users_within_target(m: models.ModelConfig, gpu: hardware.Accelerator, context: int, target_s: float,
                        weight_dtype: str = "bf16", kv_dtype: str = "bf16") -> int:
    """Largest batch that fits in memory and whose decode step's lower bound is at most
    `target_s`: the users one GPU can serve at `context` tokens each, every one of them
    getting a token at least every `target_s` seconds (0 if not even one)."""
    users = 0
    for batch in range(1, sequences_that_fit(m, gpu, context, weight_dtype, kv_dtype) + 1):
        if roofline.decode_step(m, batch, context, weight_dtype, kv_dtype).time_s(gpu) > target_s:
            break
        users = batch
    return users


# ---- 2.1 Seventy billion parameters and 32k tokens on one H200 -------------------------------
ex1_model = models.get("Llama-3.1-70B")
ex1_gpu = hardware.get("NVIDIA H200 SXM")
ex1_context = 32768
ex1_weight_dtype, ex1_kv_dtype = "bf16", "fp8"
ex1_weights_GB = models.weight_bytes(ex1_model, ex1_weight_dtype) / GB
ex1_weights_GiB = models.weight_bytes(ex1_model, ex1_weight_dtype) / GiB
ex1_usable_GiB = ex1_gpu.usable_memory_bytes() / GiB
ex1_free_GiB = free_GiB(ex1_model, ex1_gpu, ex1_weight_dtype)
ex1_fp8_bytes = bytes_per_element(ex1_kv_dtype)
ex1_per_token_KiB = kv_cache.bytes_per_token(ex1_model, ex1_kv_dtype) / KiB
ex1_per_sequence_GiB = kv_cache.bytes_per_sequence(ex1_model, ex1_context, ex1_kv_dtype) / GiB
ex1_bf16_per_sequence_GiB = kv_cache.bytes_per_sequence(ex1_model, ex1_context, "bf16") / GiB
ex1_fits = sequences_that_fit(ex1_model, ex1_gpu, ex1_context, ex1_weight_dtype, ex1_kv_dtype)
ex1_fits_bf16_cache = sequences_that_fit(ex1_model, ex1_gpu, ex1_context, ex1_weight_dtype, "bf16")
ex1_title_70b_32k = claim("the title's 70B model at 32k tokens", ex1_model.name.endswith("70B") and ex1_context == 32 * 1024)
ex1_one_fits = claim("one 32k sequence of Llama-3.1-70B fits on an H200 with bf16 weights and an fp8 cache", ex1_fits == 1)
ex1_bf16_none = claim("with a bf16 cache not even one does", ex1_fits_bf16_cache == 0)

# ---- 2.2 Quantize the weights or the cache? ----------------------------------------------------
_big = (ex1_model, ex1_gpu, ex1_context)
_small = (models.get("Llama-2-7B"), hardware.get("NVIDIA L4"), 4096)


@dataclass(frozen=True)
class Halving:
    """What each single change to fp8 buys, from bf16 weights and a bf16 cache."""

    weights_GiB: float
    half_weights_GiB: float  # what fp8 weights free
    free_GiB: float  # what is left for the cache with bf16 weights
    per_sequence_GiB: float  # one sequence's bf16 cache
    base: int  # sequences that fit, bf16 weights and cache
    fp8_cache: int
    fp8_weights: int


def halving(m: models.ModelConfig, gpu: hardware.Accelerator, context: int) -> Halving:
    return Halving(
        weights_GiB=models.weight_bytes(m, "bf16") / GiB,
        half_weights_GiB=models.weight_bytes(m, "bf16") / 2 / GiB,
        free_GiB=free_GiB(m, gpu, "bf16"),
        per_sequence_GiB=kv_cache.bytes_per_sequence(m, context, "bf16") / GiB,
        base=sequences_that_fit(m, gpu, context, "bf16", "bf16"),
        fp8_cache=sequences_that_fit(m, gpu, context, "bf16", "fp8"),
        fp8_weights=sequences_that_fit(m, gpu, context, "fp8", "bf16"),
    )


ex2_big_model, ex2_big_gpu, ex2_big_context = _big
ex2_small_model, ex2_small_gpu, ex2_small_context = _small
ex2_big = halving(*_big)
ex2_small = halving(*_small)
ex2_big_weights_win = claim("for Llama-3.1-70B on the H200 at 32k, fp8 weights fit more sequences than an fp8 cache",
                            ex2_big.fp8_weights > ex2_big.fp8_cache)
ex2_small_cache_wins = claim("for Llama-2-7B on the L4 at 4k, an fp8 cache fits more sequences than fp8 weights",
                             ex2_small.fp8_cache > ex2_small.fp8_weights)
ex2_rule = claim("the rule: quantize the weights when half the weights exceed the free memory",
                 all((h.half_weights_GiB > h.free_GiB) == (h.fp8_weights > h.fp8_cache) for h in (ex2_big, ex2_small)))

# ---- 2.3 What a sliding window saves ----------------------------------------------------------
ex3_model = models.get("Mistral-7B-v0.1")
ex3_gpu = hardware.get("NVIDIA GeForce RTX 4090")
ex3_context = 32768
ex3_dtype = "fp16"
ex3_bytes = bytes_per_element(ex3_dtype)
ex3_window = ex3_model.sliding_window
ex3_per_token_KiB = kv_cache.bytes_per_token(ex3_model, ex3_dtype) / KiB
ex3_windowed_GiB = kv_cache.bytes_per_sequence(ex3_model, ex3_context, ex3_dtype) / GiB
ex3_full_GiB = kv_cache.bytes_per_token(ex3_model, ex3_dtype) * ex3_context / GiB
ex3_saving = ex3_full_GiB / ex3_windowed_GiB
ex3_free_GiB = free_GiB(ex3_model, ex3_gpu, ex3_dtype)
ex3_weights_GiB = models.weight_bytes(ex3_model, ex3_dtype) / GiB
ex3_fits_windowed = sequences_that_fit(ex3_model, ex3_gpu, ex3_context, ex3_dtype, ex3_dtype)
ex3_fits_full = int(ex3_free_GiB // ex3_full_GiB)
ex3_every_layer_windowed = claim("Mistral-7B's window caps every layer's cache", kv_cache.windowed_layers(ex3_model) == ex3_model.n_layers)
ex3_window_fits_more = claim("the window fits far more (four times or more) 32k sequences on the RTX 4090",
                             ex3_fits_windowed >= 4 * max(ex3_fits_full, 1))

# ---- 2.4 Which GPU serves more users within 25 ms? --------------------------------------------
ex4_model = models.get("Llama-3.1-8B")
ex4_roomy = hardware.get("NVIDIA L40S")
ex4_fast = hardware.get("NVIDIA A100 40GB PCIe")
ex4_context = 8192
ex4_dtype = "bf16"
ex4_target_ms = 25
ex4_tokens_per_s_per_user = 1e3 / ex4_target_ms
ex4_weights_GB = roofline.decode_step(ex4_model, 1, 0, ex4_dtype).weight_bytes / GB
ex4_per_sequence_GB = kv_cache.bytes_per_sequence(ex4_model, ex4_context, ex4_dtype) / GB
ex4_per_sequence_GiB = kv_cache.bytes_per_sequence(ex4_model, ex4_context, ex4_dtype) / GiB


@dataclass(frozen=True)
class Serving:
    """One GPU serving `users` sequences of ex4_context tokens within ex4_target_ms."""

    GBps: float
    free_GiB: float  # left for the cache beside the weights
    fit: int  # sequences that fit in memory
    budget_GB: float  # bytes one step may read within the target
    users: int  # the largest batch within the target (and in memory)
    step_ms: float  # the step time bound at that batch
    next_ms: float  # and at one more user


def serving(gpu: hardware.Accelerator) -> Serving:
    users = users_within_target(ex4_model, gpu, ex4_context, ex4_target_ms / 1e3, ex4_dtype, ex4_dtype)

    def step_ms(batch: int) -> float:
        return roofline.decode_step(ex4_model, batch, ex4_context, ex4_dtype, ex4_dtype).time_s(gpu) * 1e3

    return Serving(
        GBps=gpu.memory_bandwidth_GBps,
        free_GiB=free_GiB(ex4_model, gpu, ex4_dtype),
        fit=sequences_that_fit(ex4_model, gpu, ex4_context, ex4_dtype, ex4_dtype),
        budget_GB=gpu.memory_bandwidth_GBps * ex4_target_ms / 1e3,
        users=users,
        step_ms=step_ms(users),
        next_ms=step_ms(users + 1),
    )


ex4_on_roomy = serving(ex4_roomy)
ex4_on_fast = serving(ex4_fast)
ex4_title_target = claim("the title's 25 ms is the target", "25 ms" in EXERCISES[3].title and ex4_target_ms == 25)
ex4_memory_bound = claim(
    "on both GPUs a step of any batch that fits is memory-bound",
    all(roofline.decode_step(ex4_model, b, ex4_context, ex4_dtype, ex4_dtype).is_memory_bound(gpu)
        for gpu, s in ((ex4_roomy, ex4_on_roomy), (ex4_fast, ex4_on_fast)) for b in range(1, s.fit + 1)))
ex4_roomy_holds_more = claim("the L40S holds more 8k sequences of Llama-3.1-8B", ex4_on_roomy.fit > ex4_on_fast.fit)
ex4_fast_serves_more = claim("but the A100 40GB PCIe serves more users within 25 ms per token",
                             ex4_on_fast.users > ex4_on_roomy.users)
ex4_latency_binds = claim("on both, the latency target binds before memory does",
                          all(s.users < s.fit for s in (ex4_on_roomy, ex4_on_fast)))

# ---- 2.5 Measure what a longer context costs (bench: decode section) -----------------------------
ex5_model = models.get("Llama-2-7B")
ex5_gpu = hardware.get("NVIDIA GeForce RTX 4090")
ex5_dtype = "bf16"  # the bench's default decode dtype
ex5_batch = 4
ex5_short, ex5_long = 1024, 4096
TOLERANCE = 0.15  # "close": the measured ratio within 15 % of the predicted one
_ex5_steps = {c: roofline.decode_step(ex5_model, ex5_batch, c, ex5_dtype, ex5_dtype) for c in (ex5_short, ex5_long)}
ex5_weights_GB = _ex5_steps[ex5_short].weight_bytes / GB
ex5_short_kv_GB = _ex5_steps[ex5_short].kv_bytes / GB
ex5_long_kv_GB = _ex5_steps[ex5_long].kv_bytes / GB
ex5_short_GB = _ex5_steps[ex5_short].bytes / GB
ex5_long_GB = _ex5_steps[ex5_long].bytes / GB
ex5_short_ms = _ex5_steps[ex5_short].time_s(ex5_gpu) * 1e3
ex5_long_ms = _ex5_steps[ex5_long].time_s(ex5_gpu) * 1e3
ex5_ratio = ex5_long_ms / ex5_short_ms
ex5_low = ex5_ratio * (1 - TOLERANCE)
ex5_high = ex5_ratio * (1 + TOLERANCE)
ex5_fits = sequences_that_fit(ex5_model, ex5_gpu, ex5_long, ex5_dtype, ex5_dtype)
ex5_both_memory_bound = claim("both steps are memory-bound on the RTX 4090",
                              all(s.is_memory_bound(ex5_gpu) for s in _ex5_steps.values()))
ex5_ratio_is_bytes = claim("so the time ratio is the bytes ratio", abs(ex5_ratio - ex5_long_GB / ex5_short_GB) < 1e-9)
ex5_four_fit = claim("four 4,096-token sequences fit on the RTX 4090", ex5_fits >= ex5_batch)
ex5_can_tell = claim("the predicted growth is larger than the tolerance, so the measurement can tell",
                     ex5_ratio - 1 > 2 * TOLERANCE and ex5_low > 1)


def commands() -> str:
    """The two bench runs of exercise 2.5, as a shell block."""
    def run(context: int) -> str:
        return (f"python -m snippets bench --skip bandwidth,matmul --model {ex5_model.name} "
                f"--dtype {ex5_dtype} --batches {ex5_batch} --modes graph --context {context}")

    return "```bash\n" + run(ex5_short) + "\n" + run(ex5_long) + "\n```"
