"""Values and claims of chapter 5's exercises (the end of docs/05_speculative.md).

Every number a question or an answer prints is computed here from the data files, and every
verdict is asserted: if the data change so that an answer flips, the build fails. Acceptance
rates and log counts are the exercises' givens (assumptions), stated as such on the page.
"""

from __future__ import annotations

import bisect

from pages.claims import claim
from pages.exercises import Exercise
from snippets import hardware, kv_cache, models, roofline, speculative
from snippets.report import markdown_table

PAGE = "05_speculative.md"
CHAPTER_TITLE = "Chapter 5: Speculative decoding"

EXERCISES = (
    Exercise("5.1", 5, "How many guesses does an RTX 4090 check for free?", "verify cost against the ridge",
             "number", ("NVIDIA GeForce RTX 4090",), ("Qwen2.5-7B",)),
    Exercise("5.2", 5, "What acceptance rate did the server see?", "alpha from engine counters", "number",
             ("NVIDIA H100 SXM",), ("Llama-3.1-8B",)),
    Exercise("5.3", 5, "A bigger drafter or a smaller one?", "acceptance rate against draft cost", "judgement",
             ("NVIDIA H100 SXM",), ("OPT-13B", "OPT-1.3B", "OPT-6.7B")),
    Exercise("5.4", 5, "Speculate at batch 128 on an A100?", "the gain at large batch", "yes/no",
             ("NVIDIA A100 80GB SXM",), ("Llama-3.1-8B",)),
    Exercise("5.5", 5, "Measure what verifying k tokens costs", "bench: prefill of short prompts", "practical",
             ("NVIDIA H100 SXM",), ("Llama-3.1-8B",)),
)

# ---- 5.1 How many guesses does an RTX 4090 check for free? -----------------------------------
ex1_gpu = hardware.get("NVIDIA GeForce RTX 4090")
ex1_model = models.get("Qwen2.5-7B")
ex1_dtype = "bf16"
ex1_context = 2048
ex1_allowance = 0.05  # "for free": at most 5 % more than one decode step


def _ex1_ms(tokens: int) -> float:
    return speculative.verify_time_s(ex1_model, ex1_gpu, 1, ex1_context, tokens, ex1_dtype, ex1_dtype) * 1e3


ex1_one_ms = _ex1_ms(1)
ex1_GB = speculative.verify_step(ex1_model, 1, ex1_context, 1, ex1_dtype, ex1_dtype).bytes / 1e9
ex1_GBps = ex1_gpu.memory_bandwidth_GBps
ex1_tflops = ex1_gpu.peak_flops(ex1_dtype) / 1e12
ex1_ridge = ex1_gpu.ridge_point(ex1_dtype)
ex1_knee = speculative.verify_knee_tokens(ex1_model, ex1_gpu, ex1_context, 1, ex1_dtype, ex1_dtype)
ex1_free = max(k for k in range(1, ex1_knee + 1) if _ex1_ms(k) <= (1 + ex1_allowance) * ex1_one_ms)
ex1_free_ms = _ex1_ms(ex1_free)
ex1_knee_ms = _ex1_ms(ex1_knee)
ex1_gamma = 8
ex1_gamma_extra = _ex1_ms(ex1_gamma + 1) / ex1_one_ms - 1
ex1_fits = claim(f"{ex1_model.name}'s weights and one sequence's cache of {ex1_context:,} tokens fit on the {ex1_gpu.name}",
                 kv_cache.max_batch(ex1_model, ex1_gpu, ex1_context, ex1_dtype, ex1_dtype) >= 1)
ex1_knee_near_ridge = claim("on the RTX 4090 the knee is near the ridge point", ex1_ridge <= ex1_knee < 1.5 * ex1_ridge)
ex1_guesses_cheap = claim("a speculative step needs far fewer tokens than the allowance (under a tenth): eight guesses "
                          "cost under 1 % more than one step", ex1_gamma_extra < 0.01 and 10 * (ex1_gamma + 1) < ex1_free)
ex1_allowance_before_knee = claim("the 5 % allowance is used up before the knee", ex1_free < ex1_knee)

# ---- 5.2 What acceptance rate did the server see? ------------------------------------------------
ex2_gpu = hardware.get("NVIDIA H100 SXM")
ex2_model = models.get("Llama-3.1-8B")
ex2_gamma = 5
ex2_steps = 10_000  # verify steps in the log (the exercise's givens)
ex2_kept = 22_000  # guesses kept over those steps
ex2_proposed = ex2_gamma * ex2_steps
ex2_kept_share = ex2_kept / ex2_proposed
ex2_tokens_per_step = ex2_kept / ex2_steps + 1
ex2_alpha = speculative.alpha_from_tokens_per_step(ex2_tokens_per_step, ex2_gamma)
ex2_check = speculative.expected_tokens(ex2_alpha, ex2_gamma)
ex2_context = 1024
ex2_dtype = "bf16"
ex2_speedup = speculative.speedup_at_batch(ex2_model, ex2_gpu, 1, ex2_context, ex2_alpha, ex2_gamma, 0.0, ex2_dtype,
                                           ex2_dtype)
ex2_more_gamma = 2 * ex2_gamma  # "twice as many guesses": what the logs cannot answer
# Two ways of guessing that leave the same logs (kept and steps at gamma = 5): independent guesses
# at the effective alpha, or copy-or-nothing (a share of steps copies all gamma guesses, the rest none).
ex2_ten_tokens = speculative.expected_tokens(ex2_alpha, ex2_more_gamma)
ex2_copy_share = ex2_kept / (ex2_gamma * ex2_steps)  # steps that keep every guess
ex2_copy_ten_tokens = 1 + ex2_copy_share * ex2_more_gamma
ex2_kept_share_understates = claim("kept over proposed understates alpha", ex2_kept_share < ex2_alpha)
ex2_alpha_reproduces_logs = claim("the inverted alpha reproduces the logged tokens per step", abs(ex2_check - ex2_tokens_per_step) < 1e-9)
ex2_copy_same_logs = claim("copy-or-nothing reproduces the same logs", abs(1 + ex2_copy_share * ex2_gamma - ex2_tokens_per_step) < 1e-9
                           and abs(ex2_copy_share * ex2_gamma * ex2_steps - ex2_kept) < 1e-6)
ex2_models_disagree = claim("the two models that fit the logs disagree at twice the guesses by more than a token per step",
                            ex2_copy_ten_tokens - ex2_ten_tokens > 1)

# ---- 5.3 A bigger drafter or a smaller one? -------------------------------------------------------
ex3_gpu = ex2_gpu
ex3_target = models.get("OPT-13B")
ex3_dtype = "fp16"
ex3_small, ex3_large = models.get("OPT-1.3B"), models.get("OPT-6.7B")
ex3_small_alpha, ex3_large_alpha = 0.6, 0.8  # measured on your traffic (the exercise's givens)
_ex3_target_ms = roofline.decode_step(ex3_target, 1, 0, ex3_dtype).time_s(ex3_gpu) * 1e3
ex3_target_ms = _ex3_target_ms
ex3_small_ms = roofline.decode_step(ex3_small, 1, 0, ex3_dtype).time_s(ex3_gpu) * 1e3
ex3_large_ms = roofline.decode_step(ex3_large, 1, 0, ex3_dtype).time_s(ex3_gpu) * 1e3
ex3_small_c = ex3_small_ms / ex3_target_ms
ex3_large_c = ex3_large_ms / ex3_target_ms
ex3_small_gamma = speculative.best_gamma(ex3_small_alpha, ex3_small_c)
ex3_large_gamma = speculative.best_gamma(ex3_large_alpha, ex3_large_c)
ex3_small_speedup = speculative.speedup(ex3_small_alpha, ex3_small_gamma, ex3_small_c)
ex3_large_speedup = speculative.speedup(ex3_large_alpha, ex3_large_gamma, ex3_large_c)
ex3_small_tokens = speculative.expected_tokens(ex3_small_alpha, ex3_small_gamma)
ex3_large_tokens = speculative.expected_tokens(ex3_large_alpha, ex3_large_gamma)


def _ex3_large_speedup_at(alpha: float) -> float:
    """The large drafter's speedup at its own best gamma, at acceptance rate `alpha`."""
    return speculative.speedup(alpha, speculative.best_gamma(alpha, ex3_large_c), ex3_large_c)


# The acceptance rate (in steps of 0.001) at which the large drafter would match the small one: its
# speedup at the best gamma rises with alpha, so a bisection finds the first; the claim checks it.
ex3_large_needed = (1 + bisect.bisect_left(range(1, 1000), ex3_small_speedup,
                                           key=lambda a: _ex3_large_speedup_at(a / 1000))) / 1000
ex3_large_catches_up = claim(
    "the larger drafter matches the smaller one from the printed acceptance rate, and not 0.001 below it",
    _ex3_large_speedup_at(ex3_large_needed) >= ex3_small_speedup > _ex3_large_speedup_at(ex3_large_needed - 0.001))
ex3_drafters_share_vocab = claim("the OPT drafters share the target's vocabulary",
                                 ex3_small.vocab_size == ex3_large.vocab_size == ex3_target.vocab_size)
ex3_smaller_wins = claim("the smaller drafter, with the lower acceptance rate, is faster", ex3_small_speedup > ex3_large_speedup)
ex3_larger_costs_more = claim("the larger drafter yields more tokens per step but costs about half a target step per "
                              "guess", ex3_large_tokens > ex3_small_tokens and 0.4 < ex3_large_c < 0.6)

# ---- 5.4 Speculate at batch 128 on an A100? -----------------------------------------------------
ex4_gpu = hardware.get("NVIDIA A100 80GB SXM")
ex4_model = ex2_model
ex4_dtype = "bf16"
ex4_batch, ex4_context = 128, 256
ex4_alpha, ex4_gamma = 0.7, 4  # prompt lookup: no drafter model, c = 0
ex4_ridge = ex4_gpu.ridge_point(ex4_dtype)
ex4_tokens = ex4_batch * (ex4_gamma + 1)


def _ex4(gamma: int) -> float:
    return speculative.speedup_at_batch(ex4_model, ex4_gpu, ex4_batch, ex4_context, ex4_alpha, gamma, 0.0, ex4_dtype,
                                        ex4_dtype)


_ex4_plain = speculative.verify_step(ex4_model, ex4_batch, ex4_context, 1, ex4_dtype, ex4_dtype)
_ex4_verify = speculative.verify_step(ex4_model, ex4_batch, ex4_context, ex4_gamma + 1, ex4_dtype, ex4_dtype)
ex4_plain_ms = _ex4_plain.time_s(ex4_gpu) * 1e3
ex4_verify_ms = _ex4_verify.time_s(ex4_gpu) * 1e3
ex4_verify_ratio = ex4_verify_ms / ex4_plain_ms
ex4_tokens_per_step = speculative.expected_tokens(ex4_alpha, ex4_gamma)
ex4_speedup = _ex4(ex4_gamma)
ex4_gammas = range(1, 9)  # the draft lengths tried
ex4_best_gamma = max(ex4_gammas, key=_ex4)
ex4_best_speedup = _ex4(ex4_best_gamma)
ex4_batch1_speedup = speculative.speedup_at_batch(ex4_model, ex4_gpu, 1, ex4_context, ex4_alpha, ex4_gamma, 0.0,
                                                  ex4_dtype, ex4_dtype)
ex4_tokens_past_ridge = claim("128 x (gamma + 1) tokens are far past (over three times) the A100's ridge",
                              ex4_tokens > 3 * ex4_ridge)
ex4_plain_memory_bound = claim("the plain step at batch 128 is memory-bound on the A100", _ex4_plain.is_memory_bound(ex4_gpu))
ex4_verify_compute_bound = claim("the verify step at batch 128 with gamma 4 is compute-bound", not _ex4_verify.is_memory_bound(ex4_gpu))
ex4_gamma4_slower = claim("at gamma 4 speculation is slower than plain decoding", ex4_speedup < 1)
# The chapter quotes large-batch gains on the per-operator bound first (matmuls and attention each at
# their own roof, one after the other), then the whole step.
ex4_speedup_op = speculative.speedup_at_batch(ex4_model, ex4_gpu, ex4_batch, ex4_context, ex4_alpha, ex4_gamma, 0.0,
                                              ex4_dtype, ex4_dtype, per_operator=True)
ex4_best_gamma_op = max(ex4_gammas, key=lambda g: speculative.speedup_at_batch(
    ex4_model, ex4_gpu, ex4_batch, ex4_context, ex4_alpha, g, 0.0, ex4_dtype, ex4_dtype, per_operator=True))
ex4_best_speedup_op = speculative.speedup_at_batch(ex4_model, ex4_gpu, ex4_batch, ex4_context, ex4_alpha,
                                                   ex4_best_gamma_op, 0.0, ex4_dtype, ex4_dtype, per_operator=True)
ex4_op_slower = claim("per operator too, gamma 4 is slower than plain decoding", ex4_speedup_op < 1)
ex4_shorter_draft_pays = claim("a shorter draft still pays, per operator and on the whole step",
                               ex4_best_gamma_op < ex4_gamma and ex4_best_speedup_op > 1
                               and ex4_best_gamma < ex4_gamma and ex4_best_speedup > 1)
ex4_gamma_low, ex4_gamma_high = ex4_gammas[0], ex4_gammas[-1]

# ---- 5.5 Measure what verifying k tokens costs (bench: verify) --------------------------------------
# The benchmark's verify section times one forward pass over k new tokens per sequence with the
# cache at --context tokens, the LM head's logits for every one of the k: a verify step
# (speculative.verify_step). Its prefill section does not: that forward returns the last
# position's logits only (roofline.prefill), so it prices a prefill, not a verification.
ex5_gpu = ex2_gpu
ex5_model = ex2_model
ex5_dtype = "bf16"
ex5_context = 1024  # the bench's default --context on GPUs, given explicitly in the command
ex5_tokens = (1, 8, 64, 128)  # of the verify section's k = 1, 2, 4, ... 128 at batch 1
_, ex5_k_small, ex5_k_mid, ex5_k_big = ex5_tokens
TOLERANCE = 0.15  # "close": within 15 % of the predicted ratio


def _ex5_step(k: int) -> roofline.StepCost:
    return speculative.verify_step(ex5_model, 1, ex5_context, k, ex5_dtype, ex5_dtype)


_ex5 = {k: _ex5_step(k).time_s(ex5_gpu) for k in ex5_tokens}
ex5_one_ms = _ex5[1] * 1e3
ex5_ratio_8 = _ex5[ex5_k_small] / _ex5[1]
ex5_ratio_64 = _ex5[ex5_k_mid] / _ex5[1]
ex5_ratio_big = _ex5[ex5_k_big] / _ex5[1]
ex5_low_64, ex5_high_64 = ex5_ratio_64 * (1 - TOLERANCE), ex5_ratio_64 * (1 + TOLERANCE)
ex5_knee = speculative.verify_knee_tokens(ex5_model, ex5_gpu, ex5_context, 1, ex5_dtype, ex5_dtype)
ex5_prefill_prompt = 512
ex5_prefill_ratio = (roofline.prefill(ex5_model, ex5_prefill_prompt, ex5_dtype, ex5_dtype).time_s(ex5_gpu)
                     / roofline.prefill(ex5_model, 1, ex5_dtype, ex5_dtype).time_s(ex5_gpu))
ex5_verify_ratio_512 = (speculative.verify_step(ex5_model, 1, 0, ex5_prefill_prompt, ex5_dtype, ex5_dtype)
                        .time_s(ex5_gpu) / speculative.verify_step(ex5_model, 1, 0, 1, ex5_dtype, ex5_dtype)
                        .time_s(ex5_gpu))
ex5_all_below_knee = claim("8 tokens cost within 1 % of one, and every pass up to 128 tokens is memory-bound on the "
                           "H100, below the knee", ex5_ratio_8 < 1.01
                           and all(_ex5_step(k).is_memory_bound(ex5_gpu) for k in range(1, ex5_k_big + 1))
                           and ex5_knee > ex5_k_big)
ex5_prefill_differs = claim("the prefill section's pass (head for the last token) predicts less growth than a verify pass",
                            ex5_prefill_ratio < ex5_verify_ratio_512)


def commands() -> str:
    """The bench run of exercise 5.5, as a shell block."""
    return ("```bash\n" f"python -m snippets bench --verify --skip bandwidth,matmul,decode,prefill,quant,mixed "
            f"--model {ex5_model.name} --dtype {ex5_dtype} --context {ex5_context}\n```")


def ratios_table() -> str:
    rows = [[f"{k:,}", f"{_ex5[k] * 1e3:.2f} ms", f"{_ex5[k] / _ex5[1]:.2f}",
             "memory" if _ex5_step(k).is_memory_bound(ex5_gpu) else "compute"]
            for k in ex5_tokens]
    return markdown_table(["tokens verified k", f"bound on the {ex5_gpu.name}", "T(k) / T(1)", "bound by"], rows)
