"""Speculative decoding: the expected gain of drafting and verifying, what verification costs
on the roofline, and a reference sampler that keeps the target's distribution exactly.

A cheap drafter proposes `gamma` tokens; the target scores them all in one forward pass over
gamma + 1 tokens (the last accepted token and the drafts) and keeps the longest prefix that
passes an acceptance test, plus one token of its own. The gain model is Leviathan, Kalman and
Matias (2023), "Fast Inference from Transformers via Speculative Decoding": each draft token is
accepted independently with probability `alpha`, and a verification costs one target step.

Units: alpha a probability, gamma tokens, `draft_cost` the draft's step time over the target's
(dimensionless), times in seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from snippets import formulas, kv_cache, roofline
from snippets.hardware import Accelerator
from snippets.models import ModelConfig, step_weight_bytes, weight_bytes
from snippets.units import bytes_per_element, require_int, require_non_negative, require_positive_int


def _check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha < 1:
        raise ValueError(f"alpha, the per-token acceptance rate, must be in [0, 1); got {alpha!r}")
    return float(alpha)


def _check_gamma(gamma: int) -> int:
    return require_int("gamma (draft tokens per step)", gamma, 1)


# ---- the gain model (Leviathan et al. 2023) ------------------------------------------------


def expected_tokens(alpha: float, gamma: int) -> float:
    """Expected tokens a verification step yields: (1 - alpha^(gamma+1)) / (1 - alpha), the
    sum of alpha^i for i = 0..gamma (1 at alpha = 0; gamma + 1 as alpha -> 1). Assumes each
    draft token is accepted independently with probability alpha."""
    alpha, gamma = _check_alpha(alpha), _check_gamma(gamma)
    return formulas.expected_tokens(alpha, gamma)


def speedup(alpha: float, gamma: int, draft_cost: float) -> float:
    """Expected speedup in time per token over plain decoding: E / (gamma x c + 1), with
    c = `draft_cost` the draft's step time over the target's, and one verification costing
    one target step (true while the verify step stays memory-bound: see verify_step)."""
    require_non_negative("draft_cost (c)", draft_cost)
    return formulas.speculative_speedup(_check_alpha(alpha), _check_gamma(gamma), draft_cost)


def best_gamma(alpha: float, draft_cost: float, max_gamma: int = 16) -> int:
    """The gamma in 1..max_gamma with the highest speedup (the smallest on a tie). With a free
    drafter (c = 0) more drafts never hurt, so it returns max_gamma."""
    require_positive_int("max_gamma", max_gamma)
    return max(range(1, max_gamma + 1), key=lambda g: (speedup(alpha, g, draft_cost), -g))


def accepted_length_probabilities(alpha: float, gamma: int) -> tuple[float, ...]:
    """P(n draft tokens accepted) for n = 0..gamma: alpha^n (1 - alpha) below gamma, alpha^gamma
    at gamma. The step yields n + 1 tokens, so sum((n + 1) P(n)) = expected_tokens."""
    alpha, gamma = _check_alpha(alpha), _check_gamma(gamma)
    return tuple(alpha**n * (1 - alpha) for n in range(gamma)) + (alpha**gamma,)


def acceptance_rate(target: Sequence[float], draft: Sequence[float]) -> float:
    """alpha of one position: sum of min(p, q) = 1 - total-variation distance of p and q (the
    chance the acceptance test keeps a draft token sampled from q)."""
    p, q = _distribution("target", target), _distribution("draft", draft)
    if p.shape != q.shape:
        raise ValueError(f"target and draft cover different vocabularies: {p.size} and {q.size} tokens")
    return float(np.minimum(p, q).sum())


# ---- what verification costs on the roofline ---------------------------------------------


def verify_step(m: ModelConfig, batch: int, context: int, tokens: int, weight_dtype: str = "fp16",
                kv_dtype: str = "fp16") -> roofline.StepCost:
    """One target forward pass that scores `tokens` new tokens of each of `batch` sequences,
    each attending to `context` cached tokens and to the new tokens before it.

    It is roofline.mixed_step with one prefill chunk of `tokens` after a `context`-token prefix
    per sequence: every weight read once for batch x tokens rows, each sequence's cache read
    once and its new K and V written, causal attention over context + tokens, and the
    activations of every row (as for a prefill chunk). Unlike a prefill chunk, the LM head runs
    for every one of the `tokens` rows: the acceptance test needs the target's distribution at
    each position (its FLOPs and its logits' activations are counted `tokens` times).
    `tokens` = 1 is a plain decode step counted the same way; `tokens` = gamma + 1 verifies
    gamma drafts.
    """
    require_positive_int("batch", batch)
    require_positive_int("tokens", tokens)
    one = roofline.mixed_step(m, 0, 0, ((context, tokens),), weight_dtype, kv_dtype)  # one sequence
    # mixed_step runs the head for a chunk's last row only: add the other tokens - 1 rows.
    head_flops = roofline.prompt_matmul_flops(m, tokens, tokens) - roofline.prompt_matmul_flops(m, tokens, 1)
    head_elements = (roofline.prompt_activation_elements(m, tokens, tokens)
                     - roofline.prompt_activation_elements(m, tokens, 1))
    return roofline.StepCost(  # mixed_step with `batch` such chunks, without building the tuple
        weight_flops=batch * (one.weight_flops + head_flops),
        attention_flops=batch * one.attention_flops,
        weight_bytes=step_weight_bytes(m, weight_dtype, batch * tokens),
        kv_bytes=batch * one.kv_bytes,
        tokens=batch * tokens,
        activation_bytes=batch * (one.activation_bytes + head_elements * bytes_per_element(weight_dtype)),
    )


def without_activations(step: roofline.StepCost) -> roofline.StepCost:
    """The same step with its activation bytes left out, as chapter 1 counts a decode step
    (they stay on chip at decode sizes): the other end of the range a verify pass lies in."""
    return replace(step, activation_bytes=0.0)


def per_operator_time_s(step: roofline.StepCost, accelerator: Accelerator, dtype: str = "bf16") -> float:
    """A second bound on a step's time that does not let its phases overlap: the weight
    matmuls (weights and activations moved, matmul FLOPs) and attention (cache moved,
    attention FLOPs) each bounded on the roofline, and the two bounds added.

    In every layer the matmuls and the attention run one after the other, so a step whose
    matmuls are compute-bound while its attention is memory-bound cannot hide one under the
    other as the whole-step max(bytes / bandwidth, FLOPs / peak) assumes. Summing each layer's
    two phase bounds over the layers gives this sum of totals (the bound of a sum of
    operators of one kind is the sum of their bounds when all are bound the same way). It is
    never below StepCost.time_s and at most twice it."""
    bandwidth, peak = accelerator.bandwidth_Bps, accelerator.peak_flops(dtype)
    matmuls = max((step.weight_bytes + step.activation_bytes) / bandwidth, step.weight_flops / peak)
    attention = max(step.kv_bytes / bandwidth, step.attention_flops / peak)
    return matmuls + attention


def step_time_s(step: roofline.StepCost, accelerator: Accelerator, per_operator: bool = False,
                dtype: str = "bf16") -> float:
    """The whole-step bound (StepCost.time_s) or, with `per_operator`, per_operator_time_s."""
    return per_operator_time_s(step, accelerator, dtype) if per_operator else step.time_s(accelerator, dtype)


def verify_time_s(m: ModelConfig, accelerator: Accelerator, batch: int, context: int, tokens: int,
                  weight_dtype: str = "fp16", kv_dtype: str = "fp16", per_operator: bool = False) -> float:
    """Roofline lower bound on verify_step's time: max(bytes / bandwidth, FLOPs / FLOP/s), or
    with `per_operator` the sum of its matmul and attention bounds (per_operator_time_s)."""
    return step_time_s(verify_step(m, batch, context, tokens, weight_dtype, kv_dtype), accelerator, per_operator)


def verify_knee_tokens(m: ModelConfig, accelerator: Accelerator, context: int, batch: int = 1,
                       weight_dtype: str = "fp16", kv_dtype: str = "fp16", limit: int = 1 << 16,
                       activations: bool = True) -> int:
    """Fewest tokens per sequence whose verify step is compute-bound (by bisection; the step's
    intensity grows with the tokens). `activations=False` leaves the activation bytes out."""
    def compute_bound(tokens: int) -> bool:
        step = verify_step(m, batch, context, tokens, weight_dtype, kv_dtype)
        return not (step if activations else without_activations(step)).is_memory_bound(accelerator)

    found = roofline.first_int_where(compute_bound, 1, limit)
    if found is None:
        raise ValueError(f"verifying {limit:,} tokens of {m.name} stays memory-bound on the {accelerator.name}")
    return found


def draft_step_time_s(draft: float | ModelConfig, m: ModelConfig, accelerator: Accelerator, batch: int,
                      context: int, weight_dtype: str = "fp16", kv_dtype: str = "fp16",
                      per_operator: bool = False) -> float:
    """One draft step for `batch` sequences at `context` tokens: c x the target's plain step if
    `draft` is a number c, else the drafter's own one-token step (its weights, its cache)."""
    if isinstance(draft, ModelConfig):
        return verify_time_s(draft, accelerator, batch, context, 1, weight_dtype, kv_dtype, per_operator)
    require_non_negative("draft_cost (c)", draft)
    return draft * verify_time_s(m, accelerator, batch, context, 1, weight_dtype, kv_dtype, per_operator)


def draft_cost(drafter: ModelConfig, m: ModelConfig, accelerator: Accelerator, batch: int, context: int,
               weight_dtype: str = "fp16", kv_dtype: str = "fp16", per_operator: bool = False) -> float:
    """c of a real drafter: its one-token step over the target's, same batch and context."""
    return (draft_step_time_s(drafter, m, accelerator, batch, context, weight_dtype, kv_dtype, per_operator)
            / verify_time_s(m, accelerator, batch, context, 1, weight_dtype, kv_dtype, per_operator))


def speedup_at_batch(m: ModelConfig, accelerator: Accelerator, batch: int, context: int, alpha: float,
                     gamma: int, draft: float | ModelConfig, weight_dtype: str = "fp16", kv_dtype: str = "fp16",
                     per_operator: bool = False) -> float:
    """The gain model with verification priced on the roofline: E x T1 / (gamma x D + Tv),
    where T1 is a plain decode step of `batch` sequences (verify_step with 1 token), Tv the
    verify step with gamma + 1 tokens each, and D one draft step (draft_step_time_s: c x T1,
    or a drafter model's own step). Steps are whole-step bounds, or with `per_operator`
    per_operator_time_s. At batch 1, Tv is about T1 and this is speedup(alpha, gamma, c)."""
    draft_s = draft_step_time_s(draft, m, accelerator, batch, context, weight_dtype, kv_dtype, per_operator)
    plain = verify_time_s(m, accelerator, batch, context, 1, weight_dtype, kv_dtype, per_operator)
    verify = verify_time_s(m, accelerator, batch, context, gamma + 1, weight_dtype, kv_dtype, per_operator)
    return expected_tokens(alpha, gamma) * plain / (gamma * draft_s + verify)


def break_even_batch(m: ModelConfig, accelerator: Accelerator, context: int, alpha: float, gamma: int,
                     draft: float | ModelConfig, weight_dtype: str = "fp16", kv_dtype: str = "fp16",
                     limit: int = 4096, per_operator: bool = False) -> int | None:
    """Smallest batch at which speculation no longer pays (speedup_at_batch <= 1), searched
    upward to `limit`; None if it pays at every batch up to there."""
    for batch in range(1, limit + 1):
        if speedup_at_batch(m, accelerator, batch, context, alpha, gamma, draft, weight_dtype, kv_dtype,
                            per_operator) <= 1:
            return batch
    return None


def max_batch_with_drafter(m: ModelConfig, drafter: ModelConfig | None, accelerator: Accelerator, context: int,
                           weight_dtype: str = "fp16", kv_dtype: str = "fp16") -> int:
    """Largest batch of `context`-token sequences whose caches fit beside the weights, the
    drafter's weights and per-sequence cache counted too (kv_cache.max_batch with a second
    model; None: the target alone). An upper bound: activations and slack are not counted."""
    if drafter is None:
        return kv_cache.max_batch(m, accelerator, context, weight_dtype, kv_dtype)
    free = accelerator.usable_memory_bytes() - weight_bytes(m, weight_dtype) - weight_bytes(drafter, weight_dtype)
    if free <= 0:
        return 0
    per_sequence = kv_cache.bytes_per_sequence(m, context, kv_dtype) + kv_cache.bytes_per_sequence(drafter, context,
                                                                                                     kv_dtype)
    return int(free // per_sequence)


# ---- the sampler (Leviathan et al. 2023, Algorithm 1; Chen et al. 2023) --------------------

#: A language model for the sampler: the tokens so far -> next-token probabilities.
Model = Callable[[tuple[int, ...]], np.ndarray]


def _distribution(name: str, probs: Sequence[float]) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    if p.ndim != 1 or p.size == 0 or np.any(p < 0) or not math.isclose(p.sum(), 1.0, abs_tol=1e-9):
        raise ValueError(f"{name} must be a non-empty vector of probabilities summing to 1")
    return p


def sample(probs: np.ndarray, rng: np.random.Generator) -> int:
    """One token from a categorical distribution (inverse CDF of one uniform draw)."""
    cdf = probs.cumsum()
    return min(int(cdf.searchsorted(rng.random() * cdf[-1], side="right")), probs.size - 1)


@dataclass(frozen=True)
class Step:
    """One speculative step: the tokens it emits and how many of the drafts were kept."""

    tokens: tuple[int, ...]  # accepted drafts, then the target's own token
    accepted: int  # drafts kept, 0..gamma


# --8<-- [start:sampler]
def speculative_step(target: Model, draft: Model, prefix: tuple[int, ...], gamma: int,
                     rng: np.random.Generator) -> Step:
    """Draft gamma tokens, verify them with the target, emit the kept ones plus one more.
    The emitted tokens are distributed exactly as sampling from `target` one at a time."""
    gamma = _check_gamma(gamma)
    drafted, q = [], []
    for _ in range(gamma):  # the draft runs gamma times, one token after another
        q.append(draft(prefix + tuple(drafted)))
        drafted.append(sample(q[-1], rng))
    # The target scores every position in one forward pass: gamma + 1 distributions.
    p = [target(prefix + tuple(drafted[:i])) for i in range(gamma + 1)]
    for i, x in enumerate(drafted):
        if rng.random() < min(1.0, p[i][x] / q[i][x]):  # keep x with probability min(1, p/q)
            continue
        residual = np.maximum(p[i] - q[i], 0.0)  # rejected: resample from what q under-covers
        return Step(tuple(drafted[:i]) + (sample(residual / residual.sum(), rng),), i)
    return Step(tuple(drafted) + (sample(p[gamma], rng),), gamma)  # all kept: one more, free
# --8<-- [end:sampler]


# ---- checking exactness -----------------------------------------------------------------


@dataclass(frozen=True)
class ExactnessRun:
    """`sequences` independent generations with context-free target p and draft q: the token at
    position gamma of each (which any path of the sampler can produce) and the drafts kept by
    each sequence's first step."""

    target: tuple[float, ...]
    draft: tuple[float, ...]
    gamma: int
    sequences: int
    token_counts: tuple[int, ...]  # of the token at position gamma, per vocabulary entry
    accepted_counts: tuple[int, ...]  # of the first step's kept drafts, 0..gamma

    @property
    def alpha(self) -> float:
        return acceptance_rate(self.target, self.draft)

    @property
    def total_variation(self) -> float:
        """TV distance between the sampled tokens' frequencies and the target."""
        return 0.5 * float(np.abs(np.array(self.token_counts) / self.sequences - np.array(self.target)).sum())

    @property
    def mean_tokens_per_step(self) -> float:
        return sum((n + 1) * c for n, c in enumerate(self.accepted_counts)) / self.sequences


def run_exactness(target: Sequence[float], draft: Sequence[float], gamma: int, sequences: int,
                  seed: int) -> ExactnessRun:
    """Generate `sequences` independent sequences of gamma + 1 tokens with speculative_step."""
    p, q = _distribution("target", target), _distribution("draft", draft)
    require_positive_int("sequences", sequences)
    rng = np.random.default_rng(seed)
    tokens, accepted = np.zeros(p.size, dtype=int), np.zeros(gamma + 1, dtype=int)
    for _ in range(sequences):
        out: tuple[int, ...] = ()
        while len(out) <= gamma:
            step = speculative_step(lambda _: p, lambda _: q, out, gamma, rng)
            if not out:
                accepted[step.accepted] += 1
            out += step.tokens
        tokens[out[gamma]] += 1
    return ExactnessRun(tuple(map(float, p)), tuple(map(float, q)), gamma, sequences,
                        tuple(map(int, tokens)), tuple(map(int, accepted)))


@dataclass(frozen=True)
class BonusRun:
    """The free token alone: `samples` steps, each one that kept all gamma drafts (context-free
    target p and draft q), and the token the target added after them. That branch is taken with
    probability alpha^gamma only, so run_exactness sees it rarely; this checks its conditional
    distribution, which must be p."""

    target: tuple[float, ...]
    draft: tuple[float, ...]
    gamma: int
    samples: int
    steps: int  # steps run to collect them: about samples / alpha^gamma
    token_counts: tuple[int, ...]

    @property
    def total_variation(self) -> float:
        return 0.5 * float(np.abs(np.array(self.token_counts) / self.samples - np.array(self.target)).sum())


def run_bonus_check(target: Sequence[float], draft: Sequence[float], gamma: int, samples: int,
                    seed: int) -> BonusRun:
    """Run speculative_step until `samples` steps have kept all gamma drafts; count their last token."""
    p, q = _distribution("target", target), _distribution("draft", draft)
    require_positive_int("samples", samples)
    if acceptance_rate(p, q) == 0:
        raise ValueError("the draft never proposes a token the target can emit: no step keeps all drafts")
    rng = np.random.default_rng(seed)
    counts, steps, found = np.zeros(p.size, dtype=int), 0, 0
    while found < samples:
        step = speculative_step(lambda _: p, lambda _: q, (), gamma, rng)
        steps += 1
        if step.accepted == gamma:
            counts[step.tokens[-1]] += 1
            found += 1
    return BonusRun(tuple(map(float, p)), tuple(map(float, q)), gamma, samples, steps, tuple(map(int, counts)))


def total_variation_bound(vocabulary: int, samples: int, failure_probability: float) -> float:
    """A bound the empirical TV distance of `samples` independent draws from a distribution over
    `vocabulary` tokens exceeds with probability at most `failure_probability`.

    E[TV] <= 1/2 sum sqrt(p (1 - p) / n) <= 1/2 sqrt((V - 1) / n) (Cauchy-Schwarz), and one draw
    moves TV by at most 1/n, so by McDiarmid's inequality TV > E[TV] + sqrt(ln(1/delta) / 2n)
    with probability at most delta.
    """
    require_positive_int("vocabulary", vocabulary)
    require_positive_int("samples", samples)
    if not 0 < failure_probability < 1:
        raise ValueError(f"failure_probability must be in (0, 1); got {failure_probability!r}")
    return 0.5 * math.sqrt((vocabulary - 1) / samples) + math.sqrt(math.log(1 / failure_probability) / (2 * samples))


def alpha_from_tokens_per_step(tokens_per_step: float, gamma: int) -> float:
    """The per-token acceptance rate that the gain model needs to yield `tokens_per_step` on
    average at `gamma` drafts: expected_tokens inverted by bisection. Engines log drafts
    proposed and accepted; accepted / steps + 1 is the mean tokens per step."""
    gamma = _check_gamma(gamma)
    if not 1 <= tokens_per_step < gamma + 1:
        raise ValueError(f"tokens per step must be in [1, {gamma + 1}) at gamma = {gamma}; got {tokens_per_step!r}")
    low, high = 0.0, 1.0
    for _ in range(60):  # expected_tokens grows with alpha
        middle = (low + high) / 2
        low, high = (middle, high) if expected_tokens(middle, gamma) < tokens_per_step else (low, middle)
    return low
