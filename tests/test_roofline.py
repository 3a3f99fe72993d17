"""Roofline arithmetic: the seed's numbers from its rounded inputs, the exact ones from data,
and properties that hold for any hardware."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snippets import hardware, models, roofline
from snippets.units import GB, TB, bytes_per_element

A100 = hardware.get("A100 80GB SXM")
LLAMA = models.get("Llama-2-7B")


def test_seed_arithmetic_from_seed_inputs():
    weights = 7e9 * bytes_per_element("fp16")  # "7B x 2 bytes = 14 GB"
    assert weights == 14 * GB
    t = roofline.time_lower_bound_s(flops=0, bytes_moved=weights, peak_flops=312e12, bandwidth_Bps=2 * TB)
    assert t == pytest.approx(7e-3)  # "7 ms per token"
    assert round(1 / t) == 143  # "~143 tokens/s"
    assert roofline.ridge_point(312e12, 2 * TB) == 156  # "~156 FLOPs per byte"


def test_llama2_7b_on_a100_bound():
    every_weight = models.weight_bytes(LLAMA, "fp16")  # the simple story: every parameter
    assert round(every_weight / A100.bandwidth_Bps * 1e3, 2) == 6.61  # reference audit: 6.61 ms
    assert round(A100.bandwidth_Bps / every_weight, 1) == 151.3
    step = roofline.decode_step(LLAMA, 1, 0, "fp16")  # what a step physically reads
    assert round(step.time_s(A100) * 1e3, 2) == 6.48  # audit: 6.48 ms excluding the input table
    assert round(step.tokens_per_s(A100), 1) == 154.3
    assert step.is_memory_bound(A100)


def test_other_gpus_match_the_audit():
    every_weight = models.weight_bytes(LLAMA, "fp16")
    for name, ms in (("A100 80GB PCIe", 6.96), ("A100 40GB SXM", 8.67)):
        assert round(every_weight / hardware.get(name).bandwidth_Bps * 1e3, 2) == ms
    assert round(hardware.get("H100 SXM").bandwidth_Bps / every_weight, 1) == 248.6


def test_prefill_counts_activations_and_turns_compute_bound_at_its_knee():
    pre = roofline.prefill(LLAMA, 4096, "fp16")
    per_token = models.activation_elements_per_token(LLAMA)
    # per layer: qkv (4096 in, 12288 out), o (4096, 4096), gate/up (4096, 22016), down (11008, 4096)
    assert per_token == 32 * (16384 + 8192 + 26112 + 15104) + 4096 + 32_000
    head = 4096 + 32_000  # the LM head's input and output, for the last prompt token only
    assert pre.activation_bytes == (4096 * (per_token - head) + head) * 2
    lm_head = 32_000 * 4096
    assert pre.weight_flops == 2 * (4096 * (models.matmul_weights_per_token(LLAMA) - lm_head) + lm_head)
    knee = roofline.prefill_knee_tokens(LLAMA, A100, "fp16")
    assert roofline.prefill(LLAMA, knee - 1, "fp16").is_memory_bound(A100)
    assert not roofline.prefill(LLAMA, knee, "fp16").is_memory_bound(A100)


def test_cache_outweighs_weights_exactly_at_the_crossover():
    m = models.get("Llama-3.1-8B")
    for batch in (1, 32):
        c = roofline.cache_outweighs_weights_context(m, batch, "bf16", "bf16")
        step, before = roofline.decode_step(m, batch, c, "bf16", "bf16"), roofline.decode_step(m, batch, c - 1, "bf16", "bf16")
        assert step.kv_bytes > step.weight_bytes >= before.kv_bytes


def test_critical_batch_size_is_ridge_for_fp16():
    assert round(roofline.critical_batch_size(A100, "fp16")) == 153


def test_matmul_counts():
    assert roofline.matmul_flops(2, 3, 4) == 48
    assert roofline.matmul_bytes(2, 3, 4, "fp16") == (8 + 12 + 6) * 2
    # one token through a square weight: intensity -> 2 FLOP per 2-byte weight = 1
    assert roofline.weight_matmul_intensity(1, 4096, 4096, "fp16") == pytest.approx(1, rel=1e-3)
    # batch << d: about B; batch >> d: saturates near d/3 for a square fp16 matrix
    assert roofline.weight_matmul_intensity(8, 4096, 4096, "fp16") == pytest.approx(8, rel=0.01)
    assert roofline.weight_matmul_intensity(10**6, 4096, 4096, "fp16") < 4096 / 2


def test_kv_reads_keep_long_context_decode_memory_bound():
    for batch in (1, 64, 4096, 10**6):
        assert roofline.decode_step(LLAMA, batch, 4096, "fp16").is_memory_bound(A100)
    assert not roofline.decode_step(LLAMA, 1024, 0, "fp16").is_memory_bound(A100)


def test_prefill_of_long_prompt_is_compute_bound():
    assert not roofline.prefill(LLAMA, 4096).is_memory_bound(A100)
    assert roofline.prefill(LLAMA, 16).is_memory_bound(A100)


@pytest.mark.parametrize("bad", [0, -1, 1.5, None, True])
def test_bad_sizes(bad):
    with pytest.raises(ValueError):
        roofline.matmul_flops(bad, 1, 1)
    with pytest.raises(ValueError):
        roofline.decode_step(LLAMA, batch=bad)


def test_bad_rates():
    with pytest.raises(ValueError, match="positive"):
        roofline.attainable_flops(1.0, 0, 1)
    with pytest.raises(ValueError, match="positive"):
        roofline.ridge_point(-1, 1)
    with pytest.raises(ValueError, match="maximum"):
        roofline.decode_step(LLAMA, 1, 10**6)


rates = st.floats(min_value=1e6, max_value=1e18, allow_nan=False, allow_infinity=False)
intensities = st.floats(min_value=1e-4, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(intensities, rates, rates)
def test_attainable_never_above_either_roof(i, peak, bw):
    y = roofline.attainable_flops(i, peak, bw)
    assert y <= peak
    assert y <= i * bw * (1 + 1e-12)


@given(intensities, intensities, rates, rates)
def test_attainable_is_monotone_in_intensity(a, b, peak, bw):
    lo, hi = sorted((a, b))
    assert roofline.attainable_flops(lo, peak, bw) <= roofline.attainable_flops(hi, peak, bw)


@given(rates, rates)
def test_attainable_is_continuous_at_the_ridge(peak, bw):
    ridge = roofline.ridge_point(peak, bw)
    below = roofline.attainable_flops(ridge * (1 - 1e-9), peak, bw)
    above = roofline.attainable_flops(ridge * (1 + 1e-9), peak, bw)
    assert math.isclose(below, peak, rel_tol=1e-8)
    assert math.isclose(above, peak, rel_tol=1e-12)


def test_first_int_where_finds_the_smallest_and_says_when_there_is_none():
    assert roofline.first_int_where(lambda n: n >= 37, 1, 1000) == 37
    assert roofline.first_int_where(lambda n: n >= 1, 1, 1000) == 1
    assert roofline.first_int_where(lambda n: n >= 1000, 1, 1000) == 1000
    assert roofline.first_int_where(lambda n: False, 1, 1000) is None


def test_first_compute_bound_batch_by_bisection_matches_a_linear_scan():
    gpu, m = hardware.get("H100 SXM"), models.get("Llama-3.1-8B")
    for context in (0, 128, 4096):  # at 4,096 tokens the cache's reads keep every batch memory-bound
        def step(batch, context=context):
            return roofline.decode_step(m, batch, context, "bf16")

        linear = next((b for b in range(1, 2049) if not step(b).is_memory_bound(gpu)), None)
        assert roofline.first_compute_bound_batch(step, gpu, limit=2048) == linear
    assert roofline.first_compute_bound_batch(lambda b: roofline.decode_step(m, b, 0, "bf16"), gpu, limit=8) is None
