"""The decoder's attention without a mask computes what the masked attention computes, and a
mixed step in one forward gives the logits of the two forwards it replaces (CPU, tiny shapes)."""

import pytest
import torch

from snippets.bench.steps import attention_check
from snippets.transformer import (
    Decoder,
    KVCache,
    TransformerConfig,
    attend,
    last_token_logits,
    mixed_logits,
    pattern_for,
)

CFG = TransformerConfig(2, 32, 4, 2, 8, 64, 50, 64)


def _cache(batch, length, seed):
    cache = KVCache(CFG, batch, length, torch.float32, "cpu")
    gen = torch.Generator().manual_seed(seed)
    for t in cache.k + cache.v:
        t.copy_(torch.randn(t.shape, generator=gen))
    return cache


@pytest.mark.parametrize("tokens", [1, 3])
def test_tail_pattern_matches_the_masked_forward(tokens):
    model = Decoder(CFG).eval()
    ids = torch.randint(0, CFG.vocab_size, (2, tokens), generator=torch.Generator().manual_seed(1))
    positions = torch.arange(10 - tokens, 10)
    with torch.inference_mode():
        fast = model(ids, positions, _cache(2, 10, 0), tail=True)
        masked = model(ids, positions, _cache(2, 10, 0))
    assert torch.allclose(fast, masked, atol=1e-5)


def test_a_prompt_into_its_own_cache_is_causal_without_a_mask():
    model = Decoder(CFG).eval()
    ids = torch.randint(0, CFG.vocab_size, (1, 7), generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        fast = last_token_logits(model, ids, torch.arange(7), KVCache(CFG, 1, 7, torch.float32, "cpu"), tail=True)
        plain = model(ids, torch.arange(7))[:, -1:]
    assert torch.allclose(fast, plain, atol=1e-5)


def test_mixed_step_in_one_forward_matches_two_forwards():
    model = Decoder(CFG).eval()
    gen = torch.Generator().manual_seed(3)
    dec, chunk = torch.randint(0, 50, (3, 1), generator=gen), torch.randint(0, 50, (1, 5), generator=gen)
    with torch.inference_mode():
        one = mixed_logits(model, (dec, torch.tensor([11]), _cache(3, 12, 4)),
                           (chunk, torch.arange(5), KVCache(CFG, 1, 5, torch.float32, "cpu")))
        two = torch.cat([model(dec, torch.tensor([11]), _cache(3, 12, 4), tail=True)[:, -1],
                         last_token_logits(model, chunk, torch.arange(5), KVCache(CFG, 1, 5, torch.float32, "cpu"))[:, -1]])
    assert one.shape == (4, CFG.vocab_size)
    assert torch.allclose(one, two, atol=1e-5)


def test_the_run_checks_its_attention_against_the_masked_one():
    assert max(attention_check("cpu", torch.float32).values()) < 1e-5


def test_patterns_are_chosen_from_what_the_caller_knows():
    assert pattern_for(None, False) == "causal"
    assert pattern_for(object(), True) == "tail"
    assert pattern_for(object(), False) == "mask"
    with pytest.raises(ValueError, match="unknown attention pattern"):
        attend(torch.zeros(1, 2, 2, 4), torch.zeros(1, 1, 3, 4), torch.zeros(1, 1, 3, 4), "sideways")
