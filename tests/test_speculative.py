"""Speculative decoding: the gain model against hand-computed values and its limits, the verify
step against roofline.mixed_step and the ridge, the sampler's exactness within a stated bound,
and bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from snippets import hardware, models, roofline, speculative

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
def test_verify_step_is_mixed_step_with_one_chunk_per_sequence(batch, context, tokens):
    fast = speculative.verify_step(LLAMA, batch, context, tokens, "bf16", "bf16")
    slow = roofline.mixed_step(LLAMA, 0, 0, ((context, tokens),) * batch, "bf16", "bf16")
    for field in ("weight_flops", "attention_flops", "weight_bytes", "kv_bytes", "activation_bytes", "tokens"):
        assert getattr(fast, field) == pytest.approx(getattr(slow, field), rel=1e-12), field


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
    counts = np.zeros((3, 3))
    n = 3000
    for _ in range(n):
        out = ()
        while len(out) < 2:
            out += speculative.speculative_step(target, draft, out, 2, rng).tokens
        counts[out[0], out[1]] += 1
    joint = start[:, None] * np.array([table[i] for i in range(3)])
    tv = 0.5 * np.abs(counts / n - joint).sum()
    assert tv <= speculative.total_variation_bound(9, n, 1e-6)


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
