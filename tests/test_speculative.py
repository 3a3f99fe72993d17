"""Speculative decoding: the gain model against hand-computed values and its limits, the verify
step against roofline.mixed_step and the ridge, the sampler's exactness within a stated bound,
and bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from snippets import hardware, kv_cache, models, roofline, speculative

LLAMA = models.get("Llama-3.1-8B")
H100 = hardware.get("H100 SXM")

# ---- the gain model -------------------------------------------------------------------------


def test_expected_tokens_by_hand():
    assert speculative.expected_tokens(0.5, 1) == pytest.approx(1.5)  # 1 + 0.5
    assert speculative.expected_tokens(0.5, 3) == pytest.approx(1.875)  # 1 + .5 + .25 + .125
    assert speculative.expected_tokens(0.8, 4) == pytest.approx((1 - 0.8**5) / 0.2)  # 3.3616
    assert speculative.expected_tokens(0.8, 4) == pytest.approx(3.3616)


def test_expected_tokens_limits():
    assert speculative.expected_tokens(0.0, 7) == 1  # every guess rejected: the target's own token
    assert speculative.expected_tokens(1 - 1e-12, 7) == pytest.approx(8)  # alpha -> 1: gamma + 1


def test_speedup_by_hand():
    assert speculative.speedup(0.8, 4, 0.1) == pytest.approx(3.3616 / 1.4)
    assert speculative.speedup(0.5, 2, 0.0) == pytest.approx(1.75)
    assert speculative.speedup(0.0, 3, 0.2) == pytest.approx(1 / 1.6)  # all rejected: slower than plain


@given(st.floats(0, 0.999), st.integers(1, 30), st.floats(0, 2))
def test_gain_model_bounds(alpha, gamma, cost):
    e = speculative.expected_tokens(alpha, gamma)
    assert 1 <= e <= gamma + 1
    assert e <= 1 / (1 - alpha) + 1e-9  # the ceiling of unlimited guesses
    assert speculative.speedup(alpha, gamma, cost) <= e + 1e-12
    probs = speculative.accepted_length_probabilities(alpha, gamma)
    assert sum(probs) == pytest.approx(1)
    assert sum((n + 1) * p for n, p in enumerate(probs)) == pytest.approx(e)


def test_best_gamma():
    # by hand at alpha 0.8, c 0.1: gamma 6 gives 3.6893 / 1.6 = 2.306, gamma 5 2.306 / ..., the peak
    gains = {g: speculative.speedup(0.8, g, 0.1) for g in range(1, 17)}
    assert speculative.best_gamma(0.8, 0.1) == max(gains, key=gains.get)
    assert speculative.best_gamma(0.3, 0.25) == 1
    assert speculative.best_gamma(0.9, 0.0, max_gamma=12) == 12  # a free drafter: more never hurts
    assert speculative.best_gamma(0.6, 0.05) <= speculative.best_gamma(0.8, 0.05)


def test_alpha_from_tokens_per_step_inverts_expected_tokens():
    for alpha in (0.1, 0.5, 0.74, 0.95):
        e = speculative.expected_tokens(alpha, 5)
        assert speculative.alpha_from_tokens_per_step(e, 5) == pytest.approx(alpha, abs=1e-9)
    assert speculative.alpha_from_tokens_per_step(1.0, 3) == 0


def test_acceptance_rate_is_one_minus_total_variation():
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
    assert speculative.acceptance_rate(p, q) == pytest.approx(0.2 + 0.3 + 0.2)
    assert speculative.acceptance_rate(p, p) == pytest.approx(1)


# ---- the verify step on the roofline ---------------------------------------------------------------


@pytest.mark.parametrize("batch,context,tokens", [(1, 1024, 1), (1, 1024, 5), (3, 256, 4), (7, 0, 2)])
def test_verify_step_is_mixed_step_with_the_head_at_every_position(batch, context, tokens):
    fast = speculative.verify_step(LLAMA, batch, context, tokens, "bf16", "bf16")
    slow = roofline.mixed_step(LLAMA, 0, 0, ((context, tokens),) * batch, "bf16", "bf16")
    for field in ("attention_flops", "weight_bytes", "kv_bytes", "tokens"):
        assert getattr(fast, field) == pytest.approx(getattr(slow, field), rel=1e-12), field
    head = models.lm_head_matmul_weights(LLAMA)  # mixed_step runs it for one row per chunk
    extra_rows = batch * (tokens - 1)
    assert fast.weight_flops == pytest.approx(slow.weight_flops + 2 * extra_rows * head, rel=1e-12)
    logits = LLAMA.d_model + LLAMA.vocab_size  # the head's input and output elements per row
    assert fast.activation_bytes == pytest.approx(slow.activation_bytes + extra_rows * logits * 2, rel=1e-12)


@pytest.mark.parametrize("tokens", [1, 2, 5, 9, 64])
def test_verify_flops_scale_the_head_with_k(tokens):
    """Sampling needs the target's distribution at every position: matmul FLOPs are exactly k
    times one token's, the LM head included."""
    one = speculative.verify_step(LLAMA, 1, 1024, 1, "bf16", "bf16")
    many = speculative.verify_step(LLAMA, 1, 1024, tokens, "bf16", "bf16")
    assert many.weight_flops == pytest.approx(tokens * one.weight_flops, rel=1e-12)
    assert one.weight_flops == pytest.approx(2 * models.matmul_weights_per_token(LLAMA), rel=1e-12)


def test_per_operator_bound_by_hand_and_against_the_whole_step():
    step = roofline.StepCost(weight_flops=4e12, attention_flops=1e9, weight_bytes=1e9, kv_bytes=2e10, tokens=1)
    bw, peak = H100.bandwidth_Bps, H100.peak_flops("bf16")
    assert speculative.per_operator_time_s(step, H100) == pytest.approx(4e12 / peak + 2e10 / bw)
    assert speculative.per_operator_time_s(step, H100) > step.time_s(H100)  # the phases cannot overlap
    for batch, context, tokens in ((1, 1024, 5), (64, 256, 5), (256, 2048, 5), (512, 256, 2)):
        s = speculative.verify_step(LLAMA, batch, context, tokens, "bf16", "bf16")
        whole, split = s.time_s(H100), speculative.per_operator_time_s(s, H100)
        assert whole <= split <= 2 * whole
    small = speculative.verify_step(LLAMA, 1, 1024, 5, "bf16", "bf16")  # all memory-bound: the same
    assert speculative.per_operator_time_s(small, H100) == pytest.approx(small.time_s(H100), rel=1e-12)


def test_a_drafter_is_priced_with_its_own_cache_and_memory():
    small = models.get("Llama-3.2-1B")
    at_one = speculative.draft_step_time_s(small, LLAMA, H100, 1, 1024, "bf16", "bf16")
    assert at_one == pytest.approx(speculative.verify_time_s(small, H100, 1, 1024, 1, "bf16", "bf16"))
    c = speculative.draft_cost(small, LLAMA, H100, 1, 1024, "bf16", "bf16")
    assert 0.1 < c < 0.25  # memory-bound steps: about the ratio of weights + cache read
    assert speculative.draft_step_time_s(c, LLAMA, H100, 1, 1024, "bf16", "bf16") == pytest.approx(at_one)
    alone = speculative.max_batch_with_drafter(LLAMA, None, H100, 2053, "bf16", "bf16")
    paired = speculative.max_batch_with_drafter(LLAMA, small, H100, 2053, "bf16", "bf16")
    assert alone == kv_cache.max_batch(LLAMA, H100, 2053, "bf16", "bf16")
    per_sequence = sum(kv_cache.bytes_per_sequence(m, 2053, "bf16") for m in (LLAMA, small))
    free = H100.usable_memory_bytes() - sum(models.weight_bytes(m, "bf16") for m in (LLAMA, small))
    assert paired == int(free // per_sequence) < alone


def test_one_verified_token_is_a_decode_step_plus_its_activations():
    verify = speculative.verify_step(LLAMA, 4, 1024, 1, "bf16", "bf16")
    decode = roofline.decode_step(LLAMA, 4, 1025, "bf16", "bf16")  # 1,024 cached + the new one
    assert verify.flops == pytest.approx(decode.flops)
    assert verify.weight_bytes + verify.kv_bytes == pytest.approx(decode.bytes)
    assert verify.activation_bytes == 4 * models.activation_elements_per_token(LLAMA) * 2


def test_verify_bound_is_flat_below_the_ridge():
    ridge = H100.ridge_point("bf16")
    one = speculative.verify_time_s(LLAMA, H100, 1, 1024, 1, "bf16", "bf16")
    knee = speculative.verify_knee_tokens(LLAMA, H100, 1024, 1, "bf16", "bf16")
    assert ridge <= knee < 1.5 * ridge  # k tokens through bf16 weights: about k FLOP/byte
    for k in (2, 5, 9, 17):  # memory-bound and within 1 % of one decode step
        step = speculative.verify_step(LLAMA, 1, 1024, k, "bf16", "bf16")
        assert step.is_memory_bound(H100)
        assert step.time_s(H100) < 1.01 * one
    assert speculative.verify_step(LLAMA, 1, 1024, knee - 1, "bf16", "bf16").is_memory_bound(H100)
    assert speculative.verify_time_s(LLAMA, H100, 1, 1024, 2 * knee, "bf16", "bf16") > 1.5 * one


def test_speedup_at_batch_one_is_the_gain_model_and_falls_past_the_ridge():
    small = models.get("Llama-3.2-1B")
    for per_operator in (False, True):
        even = speculative.break_even_batch(LLAMA, H100, 256, 0.8, 4, small, "bf16", "bf16", 4096, per_operator)
        assert even is not None and even * 5 > H100.ridge_point("bf16")
        assert speculative.speedup_at_batch(LLAMA, H100, even, 256, 0.8, 4, small, "bf16", "bf16", per_operator) <= 1
    at_one = speculative.speedup_at_batch(LLAMA, H100, 1, 256, 0.8, 4, 0.1, "bf16", "bf16")
    assert at_one == pytest.approx(speculative.speedup(0.8, 4, 0.1), rel=0.01)
    even = speculative.break_even_batch(LLAMA, H100, 256, 0.8, 4, 0.1, "bf16", "bf16")
    assert even is not None and even * 5 > H100.ridge_point("bf16")
    assert speculative.speedup_at_batch(LLAMA, H100, even, 256, 0.8, 4, 0.1, "bf16", "bf16") <= 1
    assert speculative.speedup_at_batch(LLAMA, H100, even - 1, 256, 0.8, 4, 0.1, "bf16", "bf16") > 1


# ---- the sampler: exact in distribution -----------------------------------------------------------


def test_speculative_step_keeps_identical_guesses_and_rejects_impossible_ones():
    rng = np.random.default_rng(0)
    same = np.array([0.25, 0.75])
    step = speculative.speculative_step(lambda _: same, lambda _: same, (), 3, rng)
    assert step.accepted == 3 and len(step.tokens) == 4  # p = q: every guess passes, one more free
    target, draft = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    step = speculative.speculative_step(lambda _: target, lambda _: draft, (), 3, rng)
    assert step == speculative.Step((0,), 0)  # the guess (token 1) is impossible; the residual is token 0


def test_sampler_matches_the_target_within_the_bound():
    """2,000 independent sequences: the TV distance of the token at position gamma from p exceeds
    the bound with probability below 1e-6, whatever the seed; keeping every guess would not pass."""
    rng = np.random.default_rng(11)
    p, q = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(6))
    run = speculative.run_exactness(p, q, 3, 2000, seed=3)
    bound = speculative.total_variation_bound(6, 2000, 1e-6)
    assert run.total_variation <= bound
    assert 0.5 * np.abs(p - q).sum() > 2 * bound  # the test has the power to see a wrong sampler
    assert run.alpha == pytest.approx(np.minimum(p, q).sum())
    hoeffding = 3 * np.sqrt(np.log(2 / 1e-6) / (2 * 2000))  # first-step tokens lie in [1, 4]
    assert abs(run.mean_tokens_per_step - speculative.expected_tokens(run.alpha, 3)) <= hoeffding


def test_sampler_with_a_context_dependent_target():
    """A target that depends on the previous token: the second token's joint frequencies match."""
    table = {0: np.array([0.7, 0.2, 0.1]), 1: np.array([0.1, 0.1, 0.8]), 2: np.array([0.3, 0.4, 0.3])}
    start = np.array([0.5, 0.3, 0.2])

    def target(prefix):
        return table[prefix[-1]] if prefix else start

    def draft(_):
        return np.array([1 / 3, 1 / 3, 1 / 3])

    rng = np.random.default_rng(2)
    counts = np.zeros((3, 3, 3))
    n, bonus = 6000, 0
    for _ in range(n):  # gamma = 2: the first step's third token is the free one when both drafts pass
        out = ()
        while len(out) < 3:
            step = speculative.speculative_step(target, draft, out, 2, rng)
            bonus += not out and step.accepted == 2
            out += step.tokens
        counts[out[0], out[1], out[2]] += 1
    second = np.array([table[i] for i in range(3)])
    joint = start[:, None, None] * second[:, :, None] * second[None, :, :]
    tv = 0.5 * np.abs(counts / n - joint).sum()
    assert tv <= speculative.total_variation_bound(27, n, 1e-6)
    assert bonus > n / 10  # the free token was drawn in many of them, with a context-dependent target


def test_the_free_token_follows_the_target():
    """Its branch is taken with probability alpha^gamma only: check it on its own, and show the
    check would see a free token drawn from q instead."""
    rng = np.random.default_rng(4)
    p, q = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(6))
    run = speculative.run_bonus_check(p, q, 3, 3000, seed=9)
    bound = speculative.total_variation_bound(6, 3000, 1e-6)
    assert run.total_variation <= bound
    assert 0.5 * np.abs(p - q).sum() > 2 * bound
    alpha = np.minimum(p, q).sum()
    assert run.steps == pytest.approx(3000 / alpha**3, rel=0.15)
    with pytest.raises(ValueError, match="never proposes"):
        speculative.run_bonus_check([1.0, 0.0], [0.0, 1.0], 2, 10, 0)


def test_a_one_hot_target_is_greedy_decoding():
    """At temperature 0 the target's p is one-hot on its argmax: a guess is kept exactly when it
    is that token, and a rejection emits it, so the output is greedy decoding's."""
    rng = np.random.default_rng(1)
    greedy = {(): 2, (2,): 0, (2, 0): 1, (2, 0, 1): 3}

    def target(prefix):
        return np.eye(4)[greedy.get(prefix, 3)]

    def draft(_):
        return np.array([0.4, 0.3, 0.2, 0.1])

    for _ in range(50):
        out = ()
        while len(out) < 4:
            out += speculative.speculative_step(target, draft, out, 3, rng).tokens
        assert out[:4] == (2, 0, 1, 3)


def test_the_chapter_5_page_imports_and_its_claims_hold():
    """pages.ch5 asserts every claim at import; check its headline values directly."""
    from pages import ch5

    assert ch5.drafter.name == "Llama-3.2-1B" and ch5.drafter.vocab_size == ch5.model.vocab_size
    assert ch5.draft_cost == pytest.approx(
        speculative.draft_cost(ch5.drafter, ch5.model, ch5.gpu, 1, ch5.CONTEXT, ch5.DTYPE, ch5.DTYPE))
    assert ch5.knee_bare < ch5.ridge < ch5.knee_tokens
    assert ch5.fits_long < ch5.fits_long_alone
    assert 1 < ch5.long_gain_full < ch5.long_gain_whole
    assert ch5.short_break_even < ch5.fits_short


def test_sampler_is_deterministic_for_a_seed():
    p, q = [0.6, 0.3, 0.1], [0.2, 0.5, 0.3]
    assert speculative.run_exactness(p, q, 2, 200, 7) == speculative.run_exactness(p, q, 2, 200, 7)


# ---- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [-0.1, 1.0, 1.5, float("nan"), True, "0.5"])
def test_alpha_outside_zero_one_raises(alpha):
    with pytest.raises(ValueError, match="alpha"):
        speculative.expected_tokens(alpha, 4)


@pytest.mark.parametrize("gamma", [0, -1, 2.5])
def test_gamma_below_one_raises(gamma):
    with pytest.raises(ValueError, match="gamma"):
        speculative.speedup(0.5, gamma, 0.1)


def test_negative_draft_cost_raises():
    with pytest.raises(ValueError, match="draft_cost"):
        speculative.speedup(0.5, 4, -0.1)
    with pytest.raises(ValueError, match="draft_cost"):
        speculative.speedup_at_batch(LLAMA, H100, 1, 256, 0.5, 4, -0.1)


def test_bad_distributions_and_counts_raise():
    with pytest.raises(ValueError, match="probabilities"):
        speculative.acceptance_rate([0.5, 0.6], [0.5, 0.5])
    with pytest.raises(ValueError, match="vocabularies"):
        speculative.acceptance_rate([0.5, 0.5], [1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="tokens per step"):
        speculative.alpha_from_tokens_per_step(5.0, 4)
    with pytest.raises(ValueError, match="failure_probability"):
        speculative.total_variation_bound(8, 100, 0)
