"""Values, claims, tables and figures of docs/05_speculative.md (chapter 5)."""

from __future__ import annotations

from functools import cache

import numpy as np

from pages.claims import claim
from snippets import hardware, kv_cache, models, roofline, speculative
from snippets.report import markdown_table
from snippets.units import GB, MiB
from vis import chapter5
from vis.cache import cached

PAGE = "05_speculative.md"

# ---- the page's parameters: prose, tables and figures all read these ---------------------
GPU = "H100 SXM"
MODEL = "Llama-3.1-8B"
DTYPE = "bf16"  # weights, cache and math
CONTEXT = 1024  # tokens already cached when a step verifies
VERIFY_TOKENS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
# The draft's cost: a real pair that shares a tokenizer, on the same GPU (fp16 weights).
DRAFT, DRAFT_TARGET, DRAFT_DTYPE = "OPT-1.3B", "OPT-13B", "fp16"
ALPHAS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
GAMMAS = tuple(range(1, 11))
COSTS = (0.0, 0.02, 0.05, 0.25)  # draft costs c for the best-gamma table, besides the pair's
ALPHA, GAMMA = 0.8, 4  # the worked example
# Exactness: two seeded distributions over a small vocabulary, many independent sequences.
SEED, VOCAB, DEMO_GAMMA, SEQUENCES, FAILURE = 5, 8, 4, 4000, 1e-6
# Batch: a short and a long context, each cut at the largest batch that fits.
SHORT_CONTEXT, LONG_CONTEXT = 256, 2048
BATCH_GAMMAS = (2, 4, 8)

gpu = hardware.get(GPU)
model = models.get(MODEL)

# ---- Verification is nearly free ---------------------------------------------------------
ridge = gpu.ridge_point(DTYPE)


def verify(tokens: int, batch: int = 1, context: int = CONTEXT) -> roofline.StepCost:
    return speculative.verify_step(model, batch, context, tokens, DTYPE, DTYPE)


_one = verify(1)
decode_ms = _one.time_s(gpu) * 1e3
weights_GB = _one.weight_bytes / GB
cache_MiB = _one.kv_bytes / MiB
activation_MiB = _one.activation_bytes / MiB
step_GB = _one.bytes / GB
decode_step_ms = roofline.decode_step(model, 1, CONTEXT + 1, DTYPE, DTYPE).time_s(gpu) * 1e3
activation_share = decode_ms / decode_step_ms - 1  # what counting the activations adds to chapter 1's step
claim("counting one token's activations changes the decode step by less than 0.1 %", activation_share < 1e-3)
one_GFLOP = _one.flops / 1e9
one_compute_us = _one.compute_time_s(gpu) * 1e6
verify_ms = verify(GAMMA + 1).time_s(gpu) * 1e3
verify_extra = verify_ms / decode_ms - 1
verify_compute_us = verify(GAMMA + 1).compute_time_s(gpu) * 1e6
knee_tokens = speculative.verify_knee_tokens(model, gpu, CONTEXT, 1, DTYPE, DTYPE)
knee_ms = verify(knee_tokens).time_s(gpu) * 1e3
knee_ratio = knee_ms / decode_ms
claim("verifying gamma + 1 tokens costs less than 1 % more than one decode step", verify_extra < 0.01)
claim("the verify step turns compute-bound near chapter 1's ridge point", ridge <= knee_tokens < 1.5 * ridge)
below_knee_ratio = verify(knee_tokens - 1).time_s(gpu) * 1e3 / decode_ms
below_knee_activation_MiB = verify(knee_tokens - 1).activation_bytes / MiB
claim("just below the knee the step is memory-bound and costs less than 1.25 decode steps",
      verify(knee_tokens - 1).is_memory_bound(gpu) and below_knee_ratio < 1.25)
claim("the verify bound grows with the tokens verified",
      all(verify(a).time_s(gpu) <= verify(b).time_s(gpu) for a, b in zip(VERIFY_TOKENS, VERIFY_TOKENS[1:])))


def verify_table() -> str:
    rows = []
    for k in VERIFY_TOKENS:
        c = verify(k)
        rows.append([f"{k:,}", f"{c.flops / 1e9:,.0f}", f"{c.bytes / GB:.2f}", f"{c.intensity:,.0f}",
                     f"{c.time_s(gpu) * 1e3:.2f} ms", f"{c.time_s(gpu) / _one.time_s(gpu):.2f}x",
                     "memory" if c.is_memory_bound(gpu) else "compute"])
    return markdown_table(["tokens k", "GFLOP", "GB moved", "FLOP/byte", "bound", "× one decode step", "bound by"],
                          rows)


# ---- The gain model (Leviathan et al. 2023) --------------------------------------------------
_draft, _draft_target = models.get(DRAFT), models.get(DRAFT_TARGET)
claim("the OPT models share a vocabulary", _draft.vocab_size == _draft_target.vocab_size)
draft_ms = roofline.decode_step(_draft, 1, 0, DRAFT_DTYPE).time_s(gpu) * 1e3
draft_target_ms = roofline.decode_step(_draft_target, 1, 0, DRAFT_DTYPE).time_s(gpu) * 1e3
draft_cost = draft_ms / draft_target_ms  # c: the draft's step over the target's, batch 1, weights only
draft_params_B = models.param_count(_draft) / 1e9
draft_target_params_B = models.param_count(_draft_target) / 1e9
example_tokens = speculative.expected_tokens(ALPHA, GAMMA)
example_denominator = GAMMA * draft_cost + 1
example_speedup = speculative.speedup(ALPHA, GAMMA, draft_cost)
example_best = speculative.best_gamma(ALPHA, draft_cost)
example_best_speedup = speculative.speedup(ALPHA, example_best, draft_cost)
example_ceiling = 1 / (1 - ALPHA)  # expected tokens with unlimited drafts
claim("the worked example's gain is less than its tokens per step", example_speedup < example_tokens)
low_alpha, max_gamma = ALPHAS[0], GAMMAS[-1]
low_alpha_loss = speculative.speedup(low_alpha, max_gamma, draft_cost)
claim("at the lowest acceptance rate and the most drafts, speculation is slower than plain decoding",
      low_alpha_loss < 1)
claim("the best gamma grows with the acceptance rate",
      all(speculative.best_gamma(a, draft_cost) <= speculative.best_gamma(b, draft_cost)
          for a, b in zip(ALPHAS, ALPHAS[1:])))
free_best = speculative.best_gamma(ALPHA, 0.0, GAMMAS[-1])
claim("with a free drafter more drafts never hurt", free_best == GAMMAS[-1])


def expected_tokens_table() -> str:
    rows = [[f"{a:.1f}", *(f"{speculative.expected_tokens(a, g):.2f}" for g in GAMMAS)] for a in ALPHAS]
    return markdown_table(["α \\ γ", *map(str, GAMMAS)], rows)


def best_gamma_table() -> str:
    costs = sorted({*COSTS, draft_cost})
    rows = []
    for a in ALPHAS:
        cells = []
        for c in costs:
            best = speculative.best_gamma(a, c, GAMMAS[-1])
            cells.append(f"{best}{'+' if c == 0 else ''} ({speculative.speedup(a, best, c):.2f}x)")
        rows.append([f"{a:.1f}", *cells])
    headers = ["α", *(f"c = {c:.3f}" + (f" ({DRAFT})" if c == draft_cost else "") for c in costs)]
    return markdown_table(headers, rows)


# ---- Exactness -------------------------------------------------------------------------------
_rng = np.random.default_rng(SEED)
demo_target = tuple(float(x) for x in _rng.dirichlet(np.ones(VOCAB)))
demo_draft = tuple(float(x) for x in _rng.dirichlet(np.ones(VOCAB)))


@cache
def demo() -> speculative.ExactnessRun:
    return cached(speculative.run_exactness, demo_target, demo_draft, DEMO_GAMMA, SEQUENCES, SEED)


_demo = demo()
demo_alpha = _demo.alpha
demo_tv = _demo.total_variation
failure_in = 1 / FAILURE
demo_bound = speculative.total_variation_bound(VOCAB, SEQUENCES, FAILURE)
draft_tv = 0.5 * sum(abs(p - q) for p, q in zip(demo_target, demo_draft))  # drafts kept without the test
demo_mean_tokens = _demo.mean_tokens_per_step
demo_expected_tokens = speculative.expected_tokens(demo_alpha, DEMO_GAMMA)
# Each first step yields 1..gamma+1 tokens: Hoeffding bounds the mean's error at this failure rate.
demo_mean_bound = DEMO_GAMMA * float(np.sqrt(np.log(2 / FAILURE) / (2 * SEQUENCES)))
claim("the sampled tokens are within the bound of the target distribution", demo_tv <= demo_bound)
claim("keeping every draft would sample the draft's distribution, far outside the bound", draft_tv > 5 * demo_bound)
claim("the mean tokens per step matches E within its bound", abs(demo_mean_tokens - demo_expected_tokens) <= demo_mean_bound)
claim("acceptance is i.i.d. in the demo, so alpha is sum of min(p, q)", 0 < demo_alpha < 1)


def exactness_tokens_table() -> str:
    rows = [[str(i), f"{p:.3f}", f"{q:.3f}", f"{c / SEQUENCES:.3f}"]
            for i, (p, q, c) in enumerate(zip(demo_target, demo_draft, _demo.token_counts))]
    rows.append(["TV to the target", "0", f"{draft_tv:.3f}", f"{demo_tv:.3f}"])
    return markdown_table(["token", "target p", "draft q", f"sampled ({SEQUENCES:,} sequences)"], rows)


def accepted_length_table() -> str:
    predicted = speculative.accepted_length_probabilities(demo_alpha, DEMO_GAMMA)
    rows = [[str(n), str(n + 1), f"{c / SEQUENCES:.3f}", f"{p:.3f}"]
            for n, (c, p) in enumerate(zip(_demo.accepted_counts, predicted))]
    rows.append(["mean tokens per step", "", f"{demo_mean_tokens:.3f}", f"{demo_expected_tokens:.3f}"])
    return markdown_table(["drafts kept", "tokens emitted", "observed share", "predicted"], rows)


# ---- Why it stops helping at large batch --------------------------------------------------------
fits_short = kv_cache.max_batch(model, gpu, SHORT_CONTEXT + GAMMA + 1, DTYPE, DTYPE)
fits_long = kv_cache.max_batch(model, gpu, LONG_CONTEXT + GAMMA + 1, DTYPE, DTYPE)


def batch_speedup(batch: int, context: int = SHORT_CONTEXT, gamma: int = GAMMA) -> float:
    return speculative.speedup_at_batch(model, gpu, batch, context, ALPHA, gamma, draft_cost, DTYPE, DTYPE)


def first_compute_bound_batch(context: int, tokens: int) -> int:
    return next(b for b in range(1, 1 << 14) if not verify(tokens, b, context).is_memory_bound(gpu))


short_compute_batch = first_compute_bound_batch(SHORT_CONTEXT, GAMMA + 1)
short_compute_tokens = short_compute_batch * (GAMMA + 1)
short_break_even = speculative.break_even_batch(model, gpu, SHORT_CONTEXT, ALPHA, GAMMA, draft_cost, DTYPE, DTYPE,
                                                fits_short)
short_gain_1 = batch_speedup(1)
short_gain_64 = batch_speedup(64)
short_gain_half = batch_speedup(short_break_even // 2)
long_gain_full = batch_speedup(fits_long, LONG_CONTEXT)
long_break_even = speculative.break_even_batch(model, gpu, LONG_CONTEXT, ALPHA, GAMMA, draft_cost, DTYPE, DTYPE,
                                               fits_long)
plain_compute_batch = first_compute_bound_batch(SHORT_CONTEXT, 1)
claim("the verify step turns compute-bound once batch x (gamma + 1) passes the ridge",
      short_compute_tokens > ridge and (short_compute_batch - 1) * (GAMMA + 1) < 1.5 * ridge)
claim("at 256 tokens of context speculation stops paying within the batches that fit",
      short_break_even is not None and short_break_even < fits_short)
claim("plain decoding at the break-even batch is still memory-bound",
      short_break_even is not None and plain_compute_batch > short_break_even)
claim("at 2,048 tokens of context speculation still pays at every batch that fits", long_break_even is None)
claim("the gain falls once the verify step is compute-bound", short_gain_half < 0.75 * short_gain_1)
BATCH_ROWS = (1, 16, 64, 128, 256, 512, 1024)


def batch_table() -> str:
    rows = []
    for b in BATCH_ROWS:
        cells = [f"{b:,}"]
        for context, fits in ((SHORT_CONTEXT, fits_short), (LONG_CONTEXT, fits_long)):
            if b > fits:
                cells.append("does not fit")
                continue
            best = max(BATCH_GAMMAS, key=lambda g: batch_speedup(b, context, g))
            cells.append(f"{batch_speedup(b, context):.2f}x" + (
                "" if best == GAMMA else f" (γ = {best}: {batch_speedup(b, context, best):.2f}x)"))
        rows.append(cells)
    return markdown_table(["batch", f"{SHORT_CONTEXT:,} tokens of context, γ = {GAMMA}",
                           f"{LONG_CONTEXT:,} tokens of context, γ = {GAMMA}"], rows)


short_gain_512 = batch_speedup(512)
short_best_512 = max(BATCH_GAMMAS, key=lambda g: batch_speedup(512, SHORT_CONTEXT, g))
short_best_512_gain = batch_speedup(512, SHORT_CONTEXT, short_best_512)
claim("at batch 512 and 256 tokens no draft length of the table pays", short_best_512_gain < 1)


# ---- Figures: the same parameters as the prose -------------------------------------------------
def verify_figure() -> str:
    # Measured verify steps (recorded results) are a later addition: pass them as `measured`.
    return cached(chapter5.verify_time_vs_tokens, GPU, MODEL, DTYPE, CONTEXT, GAMMA + 1, measured=())


def heatmap_figure() -> str:
    return cached(chapter5.speedup_heatmap, ALPHAS, GAMMAS, draft_cost, f"c = {draft_cost:.3f}: {DRAFT} drafting "
                  f"for {DRAFT_TARGET}, {DRAFT_DTYPE}, {gpu.name}")


def batch_figure() -> str:
    return cached(chapter5.speedup_vs_batch, GPU, MODEL, DTYPE, (SHORT_CONTEXT, LONG_CONTEXT), ALPHA, BATCH_GAMMAS,
                  draft_cost)


#: The committed copies in vis/ (`python -m vis`), by file name.
FIGURES = {
    "speculative_verify_h100": verify_figure,
    "speculative_speedup_heatmap": heatmap_figure,
    "speculative_batch_h100": batch_figure,
}
