"""Values, claims, tables and figures of docs/05_speculative.md (chapter 5)."""

from __future__ import annotations

from functools import cache

import numpy as np

from pages import recorded
from pages.claims import claim
from pages.store import cached
from snippets import hardware, kv_cache, models, roofline, speculative
from snippets.bench import verify as verify_bench
from snippets.report import markdown_table
from snippets.units import GB, MiB
from vis import chapter5

PAGE = "05_speculative.md"

# ---- the page's parameters: prose, tables and figures all read these ---------------------
GPU = "H100 SXM"
MODEL = "Llama-3.1-8B"
DTYPE = "bf16"  # weights, cache and math
CONTEXT = 1024  # tokens already cached when a step verifies
VERIFY_TOKENS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
FLAT_TOKENS = 64  # "nearly free" is checked up to here, with and without activations
# The drafter: the target's own small sibling, same tokenizer, priced on the same roofline.
DRAFTER = "Llama-3.2-1B"
ALPHAS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
GAMMAS = tuple(range(1, 11))  # the expected-tokens table and the heatmap
GAMMA_SEARCH = 64  # the best-gamma table searches this far; a cell that reaches it is marked
COSTS = (0.0, 0.02, 0.05, 0.25)  # draft costs c for the best-gamma table, besides the drafter's
ALPHA, GAMMA = 0.8, 4  # the worked example
# Exactness: two seeded distributions over a small vocabulary, many independent sequences.
SEED, VOCAB, DEMO_GAMMA, SEQUENCES, FAILURE = 5, 8, 4, 4000, 1e-6
BONUS_SAMPLES = 4000  # steps that kept every draft, for the free token's own check
# Batch: a short and a long context, each cut at the largest batch that fits with the drafter.
SHORT_CONTEXT, LONG_CONTEXT = 256, 2048
BATCH_GAMMAS = (1, 2, 4, 8)
TREE_SIZES = (16, 64)  # tokens of a draft tree verified in one pass (examples)

gpu = hardware.get(GPU)
model = models.get(MODEL)
drafter = models.get(DRAFTER)
deepseek_total_B = models.param_count(models.get("DeepSeek-V3")) / 1e9  # the MTP note cites it
drafter_shares_vocab = claim("the drafter shares the target's vocabulary", drafter.vocab_size == model.vocab_size)

# ---- Verification is nearly free ---------------------------------------------------------
ridge = gpu.ridge_point(DTYPE)


def verify(tokens: int, batch: int = 1, context: int = CONTEXT) -> roofline.StepCost:
    return speculative.verify_step(model, batch, context, tokens, DTYPE, DTYPE)


def _ratio(tokens: int, activations: bool = True) -> float:
    """Whole-step bound of a k-token verify over one decode step, counted the same way."""
    if activations:
        return verify(tokens).time_s(gpu) / verify(1).time_s(gpu)
    bare = speculative.without_activations
    return bare(verify(tokens)).time_s(gpu) / bare(verify(1)).time_s(gpu)


_one = verify(1)
decode_ms = _one.time_s(gpu) * 1e3
weights_GB = _one.weight_bytes / GB
cache_MiB = _one.kv_bytes / MiB
activation_MiB = _one.activation_bytes / MiB
step_GB = _one.bytes / GB
decode_step_ms = roofline.decode_step(model, 1, CONTEXT + 1, DTYPE, DTYPE).time_s(gpu) * 1e3
activation_share = decode_ms / decode_step_ms - 1  # what counting the activations adds to chapter 1's step
activations_barely_count = claim("counting one token's activations changes the decode step by less than 0.1 %", activation_share < 1e-3)
one_GFLOP = _one.flops / 1e9
one_compute_us = _one.compute_time_s(gpu) * 1e6
head_weights_M = models.lm_head_matmul_weights(model) / 1e6
head_share = models.lm_head_matmul_weights(model) / models.matmul_weights_per_token(model)
head_row_MiB = (model.d_model + model.vocab_size) * 2 / MiB  # one row's logits in and out, bf16
verify_ms = verify(GAMMA + 1).time_s(gpu) * 1e3
verify_extra = verify_ms / decode_ms - 1
verify_compute_us = verify(GAMMA + 1).compute_time_s(gpu) * 1e6
verify_head_GFLOP = 2 * GAMMA * models.lm_head_matmul_weights(model) / 1e9  # the head's extra rows
verify_gamma_nearly_free = claim(
    "verifying gamma + 1 tokens costs less than 1 % more than one decode step, its compute hidden under the memory time",
    verify_extra < 0.01 and verify(GAMMA + 1).is_memory_bound(gpu))
verify_flops_count_head = claim(
    "the verify FLOPs grow with k, 2 per weight per token, the LM head's included, at every k of the table",
    abs(_one.weight_flops - 2 * models.matmul_weights_per_token(model)) < 1e-6 * _one.weight_flops
    and all(abs(verify(k).weight_flops - k * _one.weight_flops) < 1e-6 * k * _one.weight_flops for k in VERIFY_TOKENS))
knee_tokens = speculative.verify_knee_tokens(model, gpu, CONTEXT, 1, DTYPE, DTYPE)
knee_bare = speculative.verify_knee_tokens(model, gpu, CONTEXT, 1, DTYPE, DTYPE, activations=False)
knee_ms = verify(knee_tokens).time_s(gpu) * 1e3
knee_off = max(abs(knee_tokens / ridge - 1), abs(knee_bare / ridge - 1))
knee_near_ridge = claim("with or without activations the knee lies within 10 % of the ridge point", knee_off < 0.10)
activations_move_knee = claim("counted, the knee lies just above the ridge; left out, just below it",
                              knee_bare < ridge < knee_tokens)
below_knee_ratio = _ratio(knee_tokens - 1)
below_knee_bare_ratio = _ratio(knee_bare - 1, activations=False)
below_knee_cheap = claim("just below its knee the step is memory-bound and costs under 1.15 decode steps with "
                         "activations counted, within 1 % of one without",
                         verify(knee_tokens - 1).is_memory_bound(gpu) and below_knee_ratio < 1.15
                         and below_knee_bare_ratio < 1.01)
flat_ratio = _ratio(FLAT_TOKENS)
flat_bare_ratio = _ratio(FLAT_TOKENS, activations=False)
flat_up_to_64 = claim(f"at every k up to {FLAT_TOKENS} a verify step costs at most its cost at {FLAT_TOKENS} tokens with "
                      "activations counted, under 1.03 decode steps, either count",
                      flat_ratio < 1.03 and FLAT_TOKENS < knee_bare
                      and all(_ratio(k, counted) <= flat_ratio for k in range(1, FLAT_TOKENS + 1) for counted in (True, False)))
flat_per_operator = speculative.per_operator_time_s(verify(FLAT_TOKENS), gpu) / _one.time_s(gpu)
bounds_agree_at_batch_1 = claim(
    f"at batch 1 the per-operator bound agrees with the whole-step bound within 0.1 % at every k up to {FLAT_TOKENS}",
    all(abs(speculative.per_operator_time_s(verify(k), gpu) / verify(k).time_s(gpu) - 1) < 1e-3
        for k in range(1, FLAT_TOKENS + 1)))
_past_knee = [k for k in VERIFY_TOKENS if k >= knee_tokens]
verify_grows_past_knee = claim(
    "the verify bound grows with the tokens verified, and beyond the knee in proportion to k (within 5 %)",
    all(verify(a).time_s(gpu) <= verify(b).time_s(gpu) for a, b in zip(VERIFY_TOKENS, VERIFY_TOKENS[1:]))
    and all(abs(verify(b).time_s(gpu) / verify(a).time_s(gpu) / (b / a) - 1) < 0.05
            for a, b in zip(_past_knee, _past_knee[1:])))


def verify_table() -> str:
    rows = []
    for k in VERIFY_TOKENS:
        c = verify(k)
        rows.append([f"{k:,}", f"{c.flops / 1e9:,.0f}", f"{c.bytes / GB:.2f}", f"{c.intensity:,.0f}",
                     f"{c.time_s(gpu) * 1e3:.2f} ms", f"{_ratio(k):.2f}x", f"{_ratio(k, False):.2f}x",
                     "memory" if c.is_memory_bound(gpu) else "compute"])
    return markdown_table(["tokens k", "GFLOP", "GB moved", "FLOP/byte", "bound",
                           "× one decode step", "× without activations", "bound by"], rows)


# ---- The gain model (Leviathan et al. 2023) --------------------------------------------------
# c: the drafter's one-token step over the target's, both on the roofline, same batch and context.
draft_cost = speculative.draft_cost(drafter, model, gpu, 1, CONTEXT, DTYPE, DTYPE)
draft_ms = speculative.verify_time_s(drafter, gpu, 1, CONTEXT, 1, DTYPE, DTYPE) * 1e3
draft_params_B = models.param_count(drafter) / 1e9
draft_weights_GB = models.weight_bytes(drafter, DTYPE) / GB
draft_head_share = models.lm_head_matmul_weights(drafter) / models.matmul_weights_per_token(drafter)
draft_cache_KiB = kv_cache.bytes_per_token(drafter, DTYPE) / 1024
target_cache_KiB = kv_cache.bytes_per_token(model, DTYPE) / 1024
size_ratio = models.param_count(drafter) / models.param_count(model)
c_above_size_share = claim("c is a little above (less than 15 % above) the drafter's share of the parameters",
                           size_ratio < draft_cost < 1.15 * size_ratio)
drafter_head_large = claim("the drafter's LM head is more than a fifth of its matmul weights, twice the target's share",
                           draft_head_share > 0.2 and draft_head_share > 2 * head_share)
example_tokens = speculative.expected_tokens(ALPHA, GAMMA)
example_denominator = GAMMA * draft_cost + 1
example_speedup = speculative.speedup(ALPHA, GAMMA, draft_cost)
example_best = speculative.best_gamma(ALPHA, draft_cost, GAMMA_SEARCH)
example_best_speedup = speculative.speedup(ALPHA, example_best, draft_cost)
example_ceiling = 1 / (1 - ALPHA)  # expected tokens with unlimited drafts
example_gain_below_tokens = claim("the worked example's gain is less than its tokens per step", example_speedup < example_tokens)
low_alpha, max_gamma = ALPHAS[0], GAMMAS[-1]
low_alpha_loss = speculative.speedup(low_alpha, max_gamma, draft_cost)
low_alpha_loses = claim("at the lowest acceptance rate and the most drafts, speculation is slower than plain decoding",
                        low_alpha_loss < 1)
_paid_costs = sorted(c for c in {*COSTS, draft_cost} if c)  # the best-gamma table's paid columns
_best_gamma = {(a, c): speculative.best_gamma(a, c, GAMMA_SEARCH) for a in ALPHAS for c in _paid_costs}
best_gamma_trends = claim(
    "in every paid column of the table the best gamma grows with alpha, and in every row it shrinks as c grows",
    all(_best_gamma[a, c] <= _best_gamma[b, c] for c in _paid_costs for a, b in zip(ALPHAS, ALPHAS[1:]))
    and all(_best_gamma[a, c] >= _best_gamma[a, d] for a in ALPHAS for c, d in zip(_paid_costs, _paid_costs[1:])))
best_gamma_in_heatmap = claim("at the drafter's c every best gamma lies inside the heatmap's range",
                              all(speculative.best_gamma(a, draft_cost, GAMMA_SEARCH) <= GAMMAS[-1] for a in ALPHAS))
free_best = speculative.best_gamma(ALPHA, 0.0, GAMMA_SEARCH)
free_drafter_never_hurts = claim(
    "with a free drafter more guesses never hurt: the gain never falls as gamma grows, at every alpha of the table "
    "(to rounding)", free_best == GAMMA_SEARCH and all(
        speculative.speedup(a, g + 1, 0.0) >= speculative.speedup(a, g, 0.0) * (1 - 1e-12)
        for a in ALPHAS for g in range(1, GAMMA_SEARCH)))
paid_best_gamma_found = claim("only a free drafter's cells reach the search limit: with a paid drafter the best gamma "
                              "is found before it", all(best < GAMMA_SEARCH for best in _best_gamma.values()))
# Convexity of E in alpha (item: which way the independence error goes), at the example's gamma.
VARY = 0.1  # alternating alpha +- VARY around the example's
vary_low, vary_high = ALPHA - VARY, ALPHA + VARY
vary_tokens = (speculative.expected_tokens(vary_low, GAMMA) + speculative.expected_tokens(vary_high, GAMMA)) / 2
_alpha_grid = [i / 100 for i in range(100)]  # 0 to 0.99
varying_alpha_more_tokens = claim(
    "E is convex in alpha at every gamma of the table, so alternating rates yield more tokens than their average rate",
    vary_tokens > example_tokens and all(
        speculative.expected_tokens(a, g) + speculative.expected_tokens(c, g) >= 2 * speculative.expected_tokens(b, g) - 1e-12
        for g in GAMMAS for a, b, c in zip(_alpha_grid, _alpha_grid[1:], _alpha_grid[2:])))
# Published setups (Leviathan et al. 2023; Chen et al. 2023), as the papers state them.
CHEN_DRAFT_B, CHEN_TARGET_B, CHEN_CHIPS = 4, 70, 16
# DeepSeek-V3's MTP module as a drafter (DeepSeek-V3 Technical Report, 2024): gamma = 1.
MTP_ALPHA_LOW, MTP_ALPHA_HIGH, MTP_TPS = 0.85, 0.90, 1.8
# A verify pass of an MoE target is not one step's weights: its tokens route to more experts.
_deepseek, _mixtral = models.get("DeepSeek-V3"), models.get("Mixtral-8x7B-v0.1")
mixtral_verify_tokens = GAMMA + 1
mixtral_verify_weights = models.step_param_count(_mixtral, mixtral_verify_tokens) / models.step_param_count(_mixtral, 1)
mixtral_verify_not_free = claim("a Mixtral verify pass of gamma + 1 tokens at batch 1 reads well over twice a decode step's weights",
                                2.5 < mixtral_verify_weights < 3.2)
MOE_BATCH = 128  # a serving batch: the batch's tokens already touch nearly every expert
mixtral_verify_weights_batch = (models.step_param_count(_mixtral, mixtral_verify_tokens * MOE_BATCH)
                                / models.step_param_count(_mixtral, MOE_BATCH))
mixtral_batch_reads_same = claim(
    f"at a serving batch of {MOE_BATCH} a Mixtral verify pass reads within 2 % of a decode step's weights",
    mixtral_verify_weights_batch < 1.02)
mtp_verify_weights_1 = models.step_param_count(_deepseek, 2) / models.step_param_count(_deepseek, 1)
mtp_gain_bound_low, mtp_gain_bound_high = ((1 + a) / mtp_verify_weights_1 for a in (MTP_ALPHA_LOW, MTP_ALPHA_HIGH))
MTP_BATCH = MOE_BATCH
mtp_verify_weights_batch = (models.step_param_count(_deepseek, 2 * MTP_BATCH)
                            / models.step_param_count(_deepseek, MTP_BATCH))
mtp_verify_reads_more = claim("at batch 1 DeepSeek-V3's two-token verify pass reads about 1.5x a decode step's weights",
                              1.4 < mtp_verify_weights_1 < 1.7)
mtp_bound_below_reported = claim("so the batch-1 roofline allows at most about 1.2x even with a free drafter, below the reported 1.8x",
                                 mtp_gain_bound_high < 1.3 < MTP_TPS)
mtp_batch_reads_same = claim("at batch 128 the verify pass reads within 2 % of a plain step's weights", mtp_verify_weights_batch < 1.02)


def expected_tokens_table() -> str:
    rows = [[f"{a:.1f}", *(f"{speculative.expected_tokens(a, g):.2f}" for g in GAMMAS)] for a in ALPHAS]
    return markdown_table(["α \\ γ", *map(str, GAMMAS)], rows)


def best_gamma_table() -> str:
    costs = sorted({*COSTS, draft_cost})
    rows = []
    for a in ALPHAS:
        cells = []
        for c in costs:
            # with a free drafter the gain never falls with gamma: the best is unbounded (cells that
            # stop short of the limit are floating-point ties), so the cell names the limit
            best = GAMMA_SEARCH if c == 0 else speculative.best_gamma(a, c, GAMMA_SEARCH)
            capped = "+" if best == GAMMA_SEARCH else ""
            cells.append(f"{best}{capped} ({speculative.speedup(a, best, c):.2f}x)")
        rows.append([f"{a:.1f}", *cells])
    headers = ["α", *(f"c = {c:.3f}" + (f" ({DRAFTER})" if c == draft_cost else "") for c in costs)]
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
demo_within_bound = claim("the sampled tokens are within the bound of the target distribution", demo_tv <= demo_bound)
draft_far_outside = claim("keeping every draft would sample the draft's distribution, far outside the bound", draft_tv > 5 * demo_bound)
demo_mean_matches_e = claim("the mean tokens per step matches E within its bound", abs(demo_mean_tokens - demo_expected_tokens) <= demo_mean_bound)
# Each count of kept drafts is a share of SEQUENCES first steps: Hoeffding, union over the gamma + 1 counts.
_share_bound = float(np.sqrt(np.log(2 * (DEMO_GAMMA + 1) / FAILURE) / (2 * SEQUENCES)))
demo_acceptance_independent = claim(
    "alpha = sum of min(p, q) lies strictly between 0 and 1, and the first steps' kept drafts follow the independent "
    "model alpha^n (1 - alpha) within Hoeffding's bound",
    abs(demo_alpha - sum(min(p, q) for p, q in zip(demo_target, demo_draft))) < 1e-12 and 0 < demo_alpha < 1
    and all(abs(c / SEQUENCES - p) <= _share_bound for c, p in
            zip(_demo.accepted_counts, speculative.accepted_length_probabilities(demo_alpha, DEMO_GAMMA))))
demo_all_kept = demo_alpha**DEMO_GAMMA  # the chance a step reaches the free token
# The free token's branch on its own: its conditional distribution must be p.


@cache
def bonus() -> speculative.BonusRun:
    return cached(speculative.run_bonus_check, demo_target, demo_draft, DEMO_GAMMA, BONUS_SAMPLES, SEED + 1)


_bonus = bonus()
bonus_tv = _bonus.total_variation
bonus_steps = _bonus.steps
bonus_bound = speculative.total_variation_bound(VOCAB, BONUS_SAMPLES, FAILURE)
bonus_within_bound = claim("the free token follows the target within the bound", bonus_tv <= bonus_bound)
bonus_draft_outside = claim("a free token drawn from the draft instead would be far outside that bound", draft_tv > 3 * bonus_bound)
wrong_free_shift = demo_all_kept * draft_tv  # TV from p of the last token if the free token came from q
free_token_rare = claim(
    "the first run alone reaches the free token too rarely to test it: a free token drawn from q would move the last "
    "token's distribution by alpha^gamma x TV(p, q), within the bound", demo_all_kept < 0.1
    and wrong_free_shift < demo_bound)


def exactness_tokens_table() -> str:
    rows = [[str(i), f"{p:.3f}", f"{q:.3f}", f"{c / SEQUENCES:.3f}"]
            for i, (p, q, c) in enumerate(zip(demo_target, demo_draft, _demo.token_counts))]
    rows = [[*r, f"{b / BONUS_SAMPLES:.3f}"] for r, b in zip(rows, _bonus.token_counts)]
    rows.append(["TV to the target", "0", f"{draft_tv:.3f}", f"{demo_tv:.3f}", f"{bonus_tv:.3f}"])
    return markdown_table(["token", "target p", "draft q", f"position γ ({SEQUENCES:,} sequences)",
                           f"free token ({BONUS_SAMPLES:,} steps that kept all γ)"], rows)


def accepted_length_table() -> str:
    predicted = speculative.accepted_length_probabilities(demo_alpha, DEMO_GAMMA)
    rows = [[str(n), str(n + 1), f"{c / SEQUENCES:.3f}", f"{p:.3f}"]
            for n, (c, p) in enumerate(zip(_demo.accepted_counts, predicted))]
    rows.append(["mean tokens per step", "", f"{demo_mean_tokens:.3f}", f"{demo_expected_tokens:.3f}"])
    return markdown_table(["drafts kept", "tokens emitted", "observed share", "predicted"], rows)


# ---- Why it stops helping at large batch --------------------------------------------------------
# Which bound for which claim: the whole-step max(bytes / bandwidth, FLOPs / peak) lets the
# weight matmuls and attention overlap, an optimistic bound; per_operator_time_s bounds each
# phase separately and adds them. They agree at batch 1 (above); at large batch they part, so
# a claim about large batches is asserted under both.
BOUNDS = (False, True)  # per_operator: the whole-step bound, then the per-operator one
fits_short_alone = kv_cache.max_batch(model, gpu, SHORT_CONTEXT + GAMMA + 1, DTYPE, DTYPE)
fits_long_alone = kv_cache.max_batch(model, gpu, LONG_CONTEXT + GAMMA + 1, DTYPE, DTYPE)
fits_short = speculative.max_batch_with_drafter(model, drafter, gpu, SHORT_CONTEXT + GAMMA + 1, DTYPE, DTYPE)
fits_long = speculative.max_batch_with_drafter(model, drafter, gpu, LONG_CONTEXT + GAMMA + 1, DTYPE, DTYPE)
drafter_costs_batch = claim("the drafter's weights and cache cost the batch at both contexts",
                            fits_short < fits_short_alone and fits_long < fits_long_alone)


@cache  # asked for the same batches by claims, tables and the figure
def batch_speedup(batch: int, context: int = SHORT_CONTEXT, gamma: int = GAMMA, per_operator: bool = True) -> float:
    return speculative.speedup_at_batch(model, gpu, batch, context, ALPHA, gamma, drafter, DTYPE, DTYPE, per_operator)


def first_compute_bound_batch(context: int, tokens: int) -> int | None:
    """Smallest batch whose verify pass of `tokens` per sequence is compute-bound (roofline's bisection)."""
    return roofline.first_compute_bound_batch(lambda batch: verify(tokens, batch, context), gpu)


def break_even(context: int, gamma: int = GAMMA, per_operator: bool = True, limit: int | None = None) -> int | None:
    limit = limit or (fits_short if context == SHORT_CONTEXT else fits_long)
    return speculative.break_even_batch(model, gpu, context, ALPHA, gamma, drafter, DTYPE, DTYPE, limit, per_operator)


short_compute_batch = first_compute_bound_batch(SHORT_CONTEXT, GAMMA + 1)
short_compute_tokens = short_compute_batch * (GAMMA + 1)
short_compute_past_ridge = short_compute_tokens / ridge - 1


def short_context_scan(per_operator: bool) -> tuple[tuple[int | None, ...], bool]:
    """At SHORT_CONTEXT: the break-even batch of each draft length of the table, and whether the gain
    at GAMMA stays at or below 1 at every batch from its break-even to the largest that fits. It
    scans every batch (about half a second for both bounds), so the store keeps it."""
    evens = tuple(break_even(SHORT_CONTEXT, g, per_operator) for g in BATCH_GAMMAS)
    first = evens[BATCH_GAMMAS.index(GAMMA)]
    return evens, first is not None and all(batch_speedup(b, SHORT_CONTEXT, GAMMA, per_operator) <= 1
                                            for b in range(first, fits_short + 1))


_short_scan = {per_operator: cached(short_context_scan, per_operator) for per_operator in BOUNDS}
_short_even = {per_operator: evens for per_operator, (evens, _) in _short_scan.items()}
short_break_even = _short_even[True][BATCH_GAMMAS.index(GAMMA)]  # per-operator
short_break_even_whole = _short_even[False][BATCH_GAMMAS.index(GAMMA)]
short_gain_1 = batch_speedup(1)
MID_BATCH = 64
short_gain_mid = batch_speedup(MID_BATCH)
plain_compute_batch = first_compute_bound_batch(SHORT_CONTEXT, 1)
short_verify_turns_compute = claim("the whole-step verify turns compute-bound once batch x (gamma + 1) passes the ridge, within 35 %",
                                   short_compute_tokens > ridge and (short_compute_batch - 1) * (GAMMA + 1) < 1.35 * ridge)
short_breaks_even = claim(
    "at 256 tokens of context speculation stops paying within the batches that fit, and pays at no larger batch that "
    "fits, under both bounds",
    all(b is not None and b < fits_short for b in (short_break_even, short_break_even_whole))
    and all(stays for _, stays in _short_scan.values()))
plain_still_memory_bound = claim("plain decoding at the break-even batch is still memory-bound (whole step)",
                                 plain_compute_batch > max(short_break_even, short_break_even_whole))
gain_flat_to_mid_batch = claim(
    f"up to batch {MID_BATCH} the gain stays within 10 % of its batch-1 value, under both bounds",
    all(batch_speedup(b, per_operator=per_operator) > 0.9 * batch_speedup(1, per_operator=per_operator)
        for per_operator in BOUNDS for b in range(1, MID_BATCH + 1)))
SHORT_LARGE = 512  # the batch where the table tries every gamma, gamma = 1 included
short_large = {g: batch_speedup(SHORT_LARGE, SHORT_CONTEXT, g) for g in BATCH_GAMMAS}
short_large_whole = {g: batch_speedup(SHORT_LARGE, SHORT_CONTEXT, g, False) for g in BATCH_GAMMAS}
short_large_best = max(short_large, key=short_large.get)
short_large_best_gain = short_large[short_large_best]
short_large_best_whole = max(short_large_whole.values())
short_large_whole_1 = short_large_whole[1]
short_gamma1_even = _short_even[True][BATCH_GAMMAS.index(1)]
short_gamma1_even_whole = _short_even[False][BATCH_GAMMAS.index(1)]

short_large_longer = max(max(v for g, v in d.items() if g > 1) for d in (short_large, short_large_whole))
longer_drafts_lose_at_512 = claim("at batch 512 and 256 tokens every draft length but 1 loses, under either bound", short_large_longer < 1)
gamma1_best_at_break_even = claim(
    "at batch 512 and 256 tokens gamma = 1 is the best draft length of the table and within 5 % of break-even, "
    "under either bound", short_large_best == min(BATCH_GAMMAS)
    and max(short_large_whole, key=short_large_whole.get) == min(BATCH_GAMMAS)
    and abs(short_large[1] - 1) < 0.05 and abs(short_large_whole[1] - 1) < 0.05)
gamma1_breaks_even_later = claim(
    "the shorter the draft, the later it stops paying, for every draft length of the table under either bound "
    "(gamma = 1 later than gamma = 4)",
    all(None not in evens and all(a > b for a, b in zip(evens, evens[1:])) for evens in _short_even.values())
    and short_gamma1_even > short_break_even and short_gamma1_even_whole > short_break_even_whole)
long_gain_whole = batch_speedup(fits_long, LONG_CONTEXT, GAMMA, False)
long_gain_full = batch_speedup(fits_long, LONG_CONTEXT)  # per-operator
long_gain_c_whole = speculative.speedup_at_batch(model, gpu, fits_long, LONG_CONTEXT, ALPHA, GAMMA, draft_cost,
                                                 DTYPE, DTYPE)  # the draft as c x T1: the first draft's model
long_gain_1 = batch_speedup(1, LONG_CONTEXT)


def long_gains(per_operator: bool) -> list[float]:
    """The gain at LONG_CONTEXT at every batch that fits (stored: a scan of every batch)."""
    return [batch_speedup(b, LONG_CONTEXT, GAMMA, per_operator) for b in range(1, fits_long + 1)]


_long_gains = [cached(long_gains, per_operator) for per_operator in BOUNDS]
long_pays_at_every_batch = claim(
    "at 2,048 tokens of context the gain shrinks with the batch but still pays at every batch that fits, under both "
    "bounds", all(min(gains) > 1 and all(a >= b for a, b in zip(gains, gains[1:])) for gains in _long_gains))
long_gain_depends_on_bound = claim("at 2,048 tokens and the largest batch, the per-operator bound keeps less than 3/4 of the batch-1 gain",
                                   long_gain_full < 0.75 * long_gain_1 and long_gain_full < long_gain_whole)
draft_cache_lowers_gain = claim("pricing the drafter with its own cache lowers the long-context gain", long_gain_whole < long_gain_c_whole)
_long_T1 = speculative.verify_time_s(model, gpu, fits_long, LONG_CONTEXT, 1, DTYPE, DTYPE, True)
long_draft_ms = speculative.draft_step_time_s(drafter, model, gpu, fits_long, LONG_CONTEXT, DTYPE, DTYPE, True) * 1e3
long_draft_c = long_draft_ms / (_long_T1 * 1e3)
long_draft_dearer = claim("at 2,048 tokens and the largest batch the drafter's step costs more than at batch 1", long_draft_c > draft_cost)
# A drafter whose cache is bounded (MagicDec's StreamingLLM-style drafts keep a fixed window)
DRAFT_WINDOW = 256


def bounded_draft_gain(batch: int, per_operator: bool = True) -> float:
    """The gain at LONG_CONTEXT with the drafter's cache bounded to DRAFT_WINDOW tokens."""
    plain = speculative.verify_time_s(model, gpu, batch, LONG_CONTEXT, 1, DTYPE, DTYPE, per_operator)
    verify = speculative.verify_time_s(model, gpu, batch, LONG_CONTEXT, GAMMA + 1, DTYPE, DTYPE, per_operator)
    draft = speculative.verify_time_s(drafter, gpu, batch, min(LONG_CONTEXT, DRAFT_WINDOW), 1, DTYPE, DTYPE,
                                      per_operator)
    return speculative.expected_tokens(ALPHA, GAMMA) * plain / (GAMMA * draft + verify)


def bounded_gains(per_operator: bool) -> list[float]:
    """bounded_draft_gain at every batch that fits (stored: a scan of every batch)."""
    return [bounded_draft_gain(b, per_operator) for b in range(1, fits_long + 1)]


_bounded_whole = cached(bounded_gains, False)
bounded_gain_1, bounded_gain_full_whole = _bounded_whole[0], _bounded_whole[-1]
bounded_whole_grows = claim("with a bounded draft cache the whole-step gain grows with the batch at every batch that fits",
                            all(a < b for a, b in zip(_bounded_whole, _bounded_whole[1:])))
_bounded_op = cached(bounded_gains, True)
bounded_peak_batch = max(range(1, fits_long + 1), key=lambda b: _bounded_op[b - 1])
bounded_peak_op = _bounded_op[bounded_peak_batch - 1]
bounded_full_op = _bounded_op[-1]
bounded_op_peaks = claim(
    "per operator it rises up to its peak batch, then falls to the largest batch, staying well above the "
    "growing-cache gain", 1 < bounded_peak_batch < fits_long
    and all(a < b for a, b in zip(_bounded_op[:bounded_peak_batch], _bounded_op[1:bounded_peak_batch]))
    and all(a > b for a, b in zip(_bounded_op[bounded_peak_batch - 1:], _bounded_op[bounded_peak_batch:]))
    and bounded_full_op > long_gain_full + 0.3)
# Throughput at equal memory: the target alone at its largest batch, against speculation at the
# largest batch that fits beside the drafter (per-operator bound, tokens per second per GPU).


def throughput(context: int, speculate: bool, per_operator: bool = True) -> float:
    if not speculate:
        batch = fits_long_alone if context == LONG_CONTEXT else fits_short_alone
        return batch / speculative.verify_time_s(model, gpu, batch, context, 1, DTYPE, DTYPE, per_operator)
    batch = fits_long if context == LONG_CONTEXT else fits_short
    plain = batch / speculative.verify_time_s(model, gpu, batch, context, 1, DTYPE, DTYPE, per_operator)
    return plain * speculative.speedup_at_batch(model, gpu, batch, context, ALPHA, GAMMA, drafter, DTYPE, DTYPE,
                                                per_operator)


long_tput_plain, long_tput_spec = throughput(LONG_CONTEXT, False), throughput(LONG_CONTEXT, True)
long_tput_ratio = long_tput_spec / long_tput_plain
long_tput_ratio_whole = throughput(LONG_CONTEXT, True, False) / throughput(LONG_CONTEXT, False, False)
long_throughput_wins = claim("at 2,048 tokens speculation also serves more tokens per second at equal memory, under both bounds",
                             min(long_tput_ratio, long_tput_ratio_whole) > 1)
# Trees: k = the tree's size. At what batch does one pass over the tree turn compute-bound?
tree_batches = {k: first_compute_bound_batch(CONTEXT, k) for k in TREE_SIZES}
tree_ratio = {k: _ratio(k) for k in TREE_SIZES}
tree_small, tree_large = min(TREE_SIZES), max(TREE_SIZES)
tree_small_batch, tree_large_batch, tree_large_ratio = tree_batches[tree_small], tree_batches[tree_large], \
    tree_ratio[tree_large]
tree_compute_bound_early = claim(
    "a 64-token tree turns the verify compute-bound at a single-digit batch, a 16-token tree only at a larger one",
    tree_large_batch < 10 and tree_small_batch > tree_large_batch)
BATCH_ROWS = (1, 16, 64, 128, 256, 512, 1024)


def _cell(batch: int, context: int, fits: int) -> tuple[str, str, str]:
    if batch > fits:
        return ("does not fit",) * 3
    gains = {g: batch_speedup(batch, context, g) for g in BATCH_GAMMAS}
    best = max(gains, key=gains.get)
    return (f"{batch_speedup(batch, context, GAMMA, False):.2f}x", f"{gains[GAMMA]:.2f}x",
            f"γ = {best}: {gains[best]:.2f}x")


def batch_table() -> str:
    rows = [[f"{b:,}", *_cell(b, SHORT_CONTEXT, fits_short), *_cell(b, LONG_CONTEXT, fits_long)]
            for b in (*BATCH_ROWS, fits_long, fits_short) if b <= fits_short]
    rows = [r for i, r in enumerate(rows) if r not in rows[:i]]
    rows.sort(key=lambda r: int(r[0].replace(",", "")))
    heads = []
    for context in (SHORT_CONTEXT, LONG_CONTEXT):
        heads += [f"{context:,} tokens: whole step, γ = {GAMMA}", f"{context:,}: per operator, γ = {GAMMA}",
                  f"{context:,}: best γ of {', '.join(map(str, BATCH_GAMMAS))} (per operator)"]
    return markdown_table(["batch", *heads], rows)


# ---- Measured: the recorded run of this model on this GPU --------------------------------------
_run = recorded.run_for(gpu.name, MODEL, DTYPE, "verify")
measured_device = _run["device"]["name"]
measured_torch = _run["device"]["torch"]
measured_mode = recorded.fastest_mode(_run, "verify", {"batch": 1, "tokens": 1})
_verify = {(r["batch"], r["tokens"]): r for r in _run["verify"] if r["mode"] == measured_mode}
recorded_context_matches = claim("the recorded verify passes cached this page's context", {r["context"] for r in _verify.values()} == {CONTEXT})
measured_large_batch = max(b for b, _ in _verify)
measured_max_k = max(k for b, k in _verify if b == 1)


def measured_ms(batch: int, k: int) -> float:
    """Measured T(k) at `batch`, interpolated linearly between measured k as the bench does."""
    return verify_bench.interpolate({t: r["median_s"] for (b, t), r in _verify.items() if b == batch}, k) * 1e3


def bound_ms(batch: int, k: int) -> float:
    return speculative.verify_time_s(model, gpu, batch, CONTEXT, k, DTYPE, DTYPE) * 1e3


measured_one_ms = measured_ms(1, 1)
measured_one_of_bound = bound_ms(1, 1) / measured_one_ms
measured_verify_ratio = measured_ms(1, GAMMA + 1) / measured_one_ms
measured_max_ratio = measured_ms(1, measured_max_k) / measured_one_ms
bound_max_ratio = bound_ms(1, measured_max_k) / bound_ms(1, 1)
measured_large_ratio = measured_ms(measured_large_batch, GAMMA + 1) / measured_ms(measured_large_batch, 1)
bound_large_ratio = bound_ms(measured_large_batch, GAMMA + 1) / bound_ms(measured_large_batch, 1)
measured_slower_than_bound = claim("every measured verify pass is slower than its bound",
                                   all(measured_ms(b, k) > bound_ms(b, k) for b, k in _verify))
measured_verify_cheap = claim("measured at batch 1, verifying gamma + 1 tokens costs under 1.2x one step and the most tokens under 1.3x",
                              measured_verify_ratio < 1.2 and measured_max_ratio < 1.3)
measured_grows_faster = claim("at batch 1 the measured passes grow faster with k than the bound, at gamma + 1 tokens "
                              "and at the most tokens", measured_max_ratio > bound_max_ratio
                              and measured_verify_ratio > bound_ms(1, GAMMA + 1) / bound_ms(1, 1))
# At the large batch most of the growth is one jump, from one query token to two.
measured_large_jump = measured_ms(measured_large_batch, 2) / measured_ms(measured_large_batch, 1)
measured_large_after_jump = measured_ms(measured_large_batch, 8) / measured_ms(measured_large_batch, 2)
measured_small_jump = measured_ms(1, 2) / measured_ms(1, 1)
measured_small_extra = measured_small_jump - 1  # what the first extra token adds at batch 1
measured_rest_tokens = measured_max_k - 2
measured_rest_extra = measured_ms(1, measured_max_k) / measured_ms(1, 2) - 1  # the other tokens together
measured_jump_one_to_two = claim("at the large batch the step from one query token to two costs more than twice the growth from two to eight",
                                 measured_large_jump - 1 > 2 * (measured_large_after_jump - 1))
measured_large_dearer = claim("measured, verifying gamma + 1 tokens costs more at the large batch than at batch 1, "
                              "a ratio above the bound's", measured_large_ratio > measured_verify_ratio
                              and measured_large_ratio > bound_large_ratio)
_best = {(r["batch"], r["alpha"]): r for r in _run["speculative"]["best"] if r["mode"] == measured_mode}
measured_alpha = max(a for _, a in _best)
measured_draft_c = next(d["draft_cost"] for d in _run["speculative"]["drafts"] if d["mode"] == measured_mode
                        and d["batch"] == 1)
measured_gain_1 = _best[(1, measured_alpha)]["speedup"]
measured_gain_large = _best[(measured_large_batch, measured_alpha)]["speedup"]
measured_gamma_1 = _best[(1, measured_alpha)]["gamma"]
measured_gamma_large = _best[(measured_large_batch, measured_alpha)]["gamma"]
measured_low_alpha = min(a for _, a in _best)
measured_gain_low_large = _best[(measured_large_batch, measured_low_alpha)]["speedup"]
measured_gain_shrinks = claim("measured, the synthetic speedup at the highest alpha shrinks from batch 1 to the large batch",
                              measured_gain_large < measured_gain_1)
measured_low_alpha_loses = claim("measured, at the lowest alpha the large batch loses", measured_gain_low_large < 1)
# The same speculative rates against the run's fastest plain decode (compile mode: verify and the
# drafter were measured in eager and graph modes only).
_plain = {r["batch"]: r for r in _run["decode"] if r["mode"] == "compile" and r["context"] == CONTEXT}
plain_compiled_ms = _plain[1]["median_s"] * 1e3


def gain_vs_compiled(batch: int, alpha: float) -> float:
    """Speculative tokens/s (graph-mode verify and drafter) over compiled plain decode's."""
    return _best[(batch, alpha)]["tokens_per_s"] / (batch / _plain[batch]["median_s"])


compiled_gain_1 = gain_vs_compiled(1, measured_alpha)
compiled_gain_large = gain_vs_compiled(measured_large_batch, measured_alpha)
measured_mid_alpha = sorted({a for _, a in _best})[-2]
compiled_gain_mid_large = gain_vs_compiled(measured_large_batch, measured_mid_alpha)
compiled_gains_smaller = claim("against compiled plain decode the gains are smaller, and at the middle alpha the large batch loses",
                               compiled_gain_1 < measured_gain_1 and compiled_gain_large < measured_gain_large and compiled_gain_mid_large < 1)
# The bound's gain for the same setup: the drafter's own step, the best gamma up to the measured one.
bound_gain_1, bound_gain_large = (max(speculative.speedup_at_batch(
    model, gpu, b, CONTEXT, measured_alpha, g, drafter, DTYPE, DTYPE) for g in range(1, measured_max_k))
    for b in (1, measured_large_batch))
bound_promises_more = claim("the bound promises more than either measured gain", bound_gain_1 > measured_gain_1
                            and bound_gain_large > measured_gain_large)


# ---- Figures: the same parameters as the prose -------------------------------------------------
def verify_figure() -> str:
    points = tuple((k, measured_ms(1, k)) for b, k in sorted(_verify) if b == 1)
    return cached(chapter5.verify_time_vs_tokens, GPU, MODEL, DTYPE, CONTEXT, GAMMA + 1, measured=points,
                  measured_label=f"measured: {measured_device}, {measured_mode} mode")


def heatmap_figure() -> str:
    return cached(chapter5.speedup_heatmap, ALPHAS, GAMMAS, draft_cost, f"c = {draft_cost:.3f}: {DRAFTER} drafting "
                  f"for {MODEL}, {DTYPE}, {gpu.name}, {CONTEXT:,} tokens cached")


def batch_figure() -> str:
    return cached(chapter5.speedup_vs_batch, GPU, MODEL, DRAFTER, DTYPE, (SHORT_CONTEXT, LONG_CONTEXT), ALPHA,
                  BATCH_GAMMAS, GAMMA)


#: The committed copies in vis/ (`python -m pages figures --update`), by file name.
FIGURES = {
    "speculative_verify_h100": verify_figure,
    "speculative_speedup_heatmap": heatmap_figure,
    "speculative_batch_h100": batch_figure,
}


# ---- Editable cells (pages/cells.py) -------------------------------------------------------
from pages.cells import cell  # noqa: E402 - the cells read the values above

gain_cell = cell('''
    alpha = 0.8        # chance each drafted token is accepted
    draft_cost = 0.05  # a draft step's time over the target's
    for gamma in range(1, 9):  # tokens drafted per step
        tokens = formulas.expected_tokens(alpha, gamma)
        gain = formulas.speculative_speedup(alpha, gamma, draft_cost)
        print(f"gamma {gamma}: {tokens:.2f} tokens per step, {gain:.2f}x faster")
''')

experts_cell = cell('''
    n_experts, experts_per_token = $experts, $per_token  # $model's routed experts per layer
    for tokens in (1, 2, 4, 8, 16, 32, 64, 128):  # tokens one step verifies (or decodes)
        touched = formulas.expected_experts_touched(n_experts, experts_per_token, tokens)
        print(f"{tokens:>3} tokens read {touched:5.1f} of {n_experts} experts ({touched / n_experts:4.0%})")
''', experts=models.get("DeepSeek-V3").n_routed_experts, per_token=models.get("DeepSeek-V3").experts_per_token,
    model="DeepSeek-V3")
