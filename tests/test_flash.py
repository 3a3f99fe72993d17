"""The online softmax and the log-sum-exp merge of snippets/flash.py (the code chapter 6 shows)
equal softmax(QK^T / sqrt(d)) V for random shapes, block sizes and split counts: within 1e-12 in
float64 and 1e-5 in float32 (largest absolute difference; inputs are standard normal)."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.flash import blocked, merge, merge_fixed, merge_mixed_bases, reference, split_kv, to_base_2

TOLERANCE = {torch.float64: 1e-12, torch.float32: 1e-5}


def _inputs(queries, keys, d, seed, dtype, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(n, d, generator=gen, dtype=dtype) * s for n, s in ((queries, scale), (keys, 1), (keys, 1)))


shapes = dict(queries=st.integers(1, 9), keys=st.integers(1, 300), d=st.sampled_from([1, 8, 64, 128]),
              seed=st.integers(0, 2**16), dtype=st.sampled_from([torch.float64, torch.float32]))


@settings(max_examples=60, deadline=None)
@given(block=st.integers(1, 400), **shapes)
def test_blocked_equals_the_reference(queries, keys, d, seed, dtype, block):
    q, k, v = _inputs(queries, keys, d, seed, dtype)
    o, lse = blocked(q, k, v, block)
    assert (o - reference(q, k, v)).abs().max().item() < TOLERANCE[dtype]
    exact_lse = torch.logsumexp(q @ k.T / math.sqrt(d), dim=-1)
    assert (lse - exact_lse).abs().max().item() < TOLERANCE[dtype] * 10


@settings(max_examples=60, deadline=None)
@given(splits=st.integers(1, 40), block=st.integers(1, 64), **shapes)
def test_split_kv_merged_equals_the_reference(queries, keys, d, seed, dtype, splits, block):
    q, k, v = _inputs(queries, keys, d, seed, dtype)
    o, _ = split_kv(q, k, v, splits, block)
    assert (o - reference(q, k, v)).abs().max().item() < TOLERANCE[dtype]


def test_large_scores_do_not_overflow():
    """Scores in the hundreds: exp would overflow without the running max."""
    q, k, v = _inputs(3, 200, 64, 1, torch.float32, scale=200.0)
    o, _ = split_kv(q, k, v, 4, 16)
    assert torch.isfinite(o).all()
    assert (o - reference(q, k, v)).abs().max().item() < 1e-5


def test_merge_of_one_part_is_that_part():
    q, k, v = _inputs(2, 10, 8, 3, torch.float64)
    o, lse = blocked(q, k, v, 4)
    assert torch.equal(merge([(o, lse)])[0], o)


@pytest.mark.parametrize("cut", [1, 50, 99])
def test_mixing_log_bases_merges_wrongly_and_converting_fixes_it(cut):
    q, k, v = _inputs(4, 100, 32, 7, torch.float64)
    exact = reference(q, k, v)
    first, second = blocked(q, k[:cut], v[:cut], 16), blocked(q, k[cut:], v[cut:], 16)
    as_base_2 = [(second[0], to_base_2(second[1]))]
    wrong, _ = merge_mixed_bases([first], as_base_2)
    right, _ = merge_fixed([first], as_base_2)
    assert (wrong - exact).abs().max().item() > 1e-3
    assert (right - exact).abs().max().item() < 1e-12
