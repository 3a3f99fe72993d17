"""KV-cache formulas against known values, and the demo transformer against its own formula."""

import pytest
import torch

from snippets import hardware, kv_cache, models, roofline
from snippets.transformer import Decoder, KVCache, TransformerConfig, cache_demo, forward_flops, generate
from snippets.units import GiB, KiB


@pytest.mark.parametrize(("name", "per_token"), [
    ("Llama-2-7B", 524_288),  # 2 x 32 x 32 x 128 x 2 B = 512 KiB
    ("Llama-3.1-8B", 131_072),  # 2 x 32 x 8 x 128 x 2 B = 128 KiB
    ("Llama-3.1-70B", 327_680),  # 320 KiB
    ("DeepSeek-V3", 70_272),  # MLA: 61 x (512 + 64) x 2 B
    ("Gemma-2-9B", 344_064),  # head_dim 256, not 3584 / 16
])
def test_bytes_per_token(name, per_token):
    assert kv_cache.bytes_per_token(models.get(name), "fp16") == per_token


def test_every_model_matches_the_reference_column():
    import csv
    from importlib import resources

    text = resources.files("snippets").joinpath("data", "models.csv").read_text()
    for row in csv.DictReader(text.splitlines()):
        assert kv_cache.bytes_per_token(models.get(row["name"])) == int(row["kv_cache_bytes_per_token_fp16"])


def test_totals_and_dtypes():
    m = models.get("Llama-2-7B")
    assert kv_cache.bytes_per_sequence(m, 4096) == 2 * GiB
    assert kv_cache.bytes_for_batch(m, 4096, 3) == 6 * GiB
    assert kv_cache.bytes_per_token(m, "fp8") == 256 * KiB


def test_max_batch_on_a100():
    a100 = hardware.get("A100 80GB SXM")
    m = models.get("Llama-2-7B")
    free = 80 * GiB * 0.99 - 6_738_415_616 * 2  # 80 GiB of HBM less the driver's 1 %
    assert kv_cache.max_batch(m, a100, 4096) == int(free // (2 * GiB)) == 33
    assert kv_cache.max_batch(m, a100, 4096, kv_dtype="fp8") == int(free // GiB)
    assert kv_cache.max_batch(models.get("Llama-3.1-70B"), a100, 4096) == 0  # weights alone do not fit


def test_sliding_windows_cap_the_cache():
    gemma = models.get("Gemma-2-9B")  # 42 layers, 21 of them local with a 4,096-token window
    per_layer_token = 344_064 // 42
    assert kv_cache.bytes_per_sequence(gemma, 8192) == per_layer_token * (21 * 8192 + 21 * 4096)
    assert kv_cache.bytes_per_sequence(gemma, 4096) == 344_064 * 4096
    mistral = models.get("Mistral-7B-v0.1")  # every layer windowed at 4,096
    assert kv_cache.bytes_per_sequence(mistral, 32768) == kv_cache.bytes_per_sequence(mistral, 4096)


def test_mla_reexpanded_cache_is_71x_larger():
    ds = models.get("DeepSeek-V3")
    assert kv_cache.reexpanded_bytes_per_token(ds) == 4_997_120  # 61 x 128 x (192 + 128) x 2 B (notes.md)
    assert round(kv_cache.reexpanded_bytes_per_token(ds) / kv_cache.bytes_per_token(ds)) == 71


def test_attention_intensity_is_group_size_for_fp16():
    assert kv_cache.attention_intensity(models.get("Llama-2-7B")) == 1
    assert kv_cache.attention_intensity(models.get("Llama-3.1-8B")) == 4
    assert kv_cache.attention_intensity(models.get("Llama-3.1-70B")) == 8


def test_generation_flops_grow_quadratically_without_cache():
    m = models.get("Llama-3.1-8B")
    short = roofline.generation_flops(m, 1, 128, use_cache=False)
    long = roofline.generation_flops(m, 1, 1024, use_cache=False)
    assert long / short == pytest.approx(8**2, rel=0.02)  # 8x the tokens, 64x the work
    cached = roofline.generation_flops(m, 1, 1024, True) / roofline.generation_flops(m, 1, 128, True)
    assert cached == pytest.approx(8, rel=0.1)  # with a cache: nearly linear
    assert roofline.generation_flops(m, 128, 1024, True) < roofline.generation_flops(m, 128, 1024, False) / 100


@pytest.mark.parametrize("bad", [{"context": 0}, {"context": 10**7}, {"batch": 0}, {"dtype": "fp12"}])
def test_bad_input(bad):
    m = models.get("Llama-2-7B")
    args = {"context": 1024, "batch": 1, "dtype": "fp16", **bad}
    with pytest.raises(ValueError):
        kv_cache.bytes_for_batch(m, args["context"], args["batch"], args["dtype"])


def test_context_error_names_the_maximum():
    with pytest.raises(ValueError, match="4,096"):
        kv_cache.bytes_per_sequence(models.get("Llama-2-7B"), 8192)


@pytest.mark.parametrize(("heads", "kv_heads"), [(4, 4), (4, 2), (4, 1)])  # MHA, GQA, MQA
def test_cached_and_uncached_generation_agree(heads, kv_heads):
    cfg = TransformerConfig(n_layers=2, d_model=64, n_heads=heads, n_kv_heads=kv_heads, head_dim=16,
                            d_ff=128, vocab_size=97, max_seq_len=64)
    model = Decoder(cfg, seed=1)
    prompt = torch.randint(0, cfg.vocab_size, (2, 7), generator=torch.Generator().manual_seed(2))
    cached, uncached = generate(model, prompt, 12, use_cache=True), generate(model, prompt, 12, use_cache=False)
    assert cached.tokens == uncached.tokens
    for a, b in zip(cached.logits, uncached.logits):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    per_token = kv_cache.mha_elements_per_token(cfg.n_layers, cfg.n_kv_heads, cfg.head_dim) * 4
    assert cached.cache_bytes == per_token * (7 + 12) * 2


def test_demo_reports_matching_bytes_and_tokens():
    cfg = TransformerConfig(2, 32, 4, 2, 8, 64, 50, 64)
    demo = cache_demo(cfg, prompt_tokens=4, new_tokens=6)
    assert demo.same_tokens and demo.cache_bytes_measured == demo.cache_bytes_formula
    assert demo.uncached_flops[-1] > demo.cached_flops[-1]


def test_forward_flops_matches_the_model_data_formula():
    # A decoder built with Llama-2-7B's shape has its published parameter count (tied = False).
    m = models.get("Llama-2-7B")
    cfg = TransformerConfig.from_model(m, max_seq_len=8)
    with torch.device("meta"):
        model = Decoder(cfg, device="meta")
    assert sum(p.numel() for p in model.parameters()) == models.param_count(m)
    # one new token attending to itself is a decode step with one position in the cache
    assert forward_flops(model, 1, 0) == roofline.decode_step(m, 1, 1).flops
    assert forward_flops(model, 1, 99) == roofline.decode_step(m, 1, 100).flops
    # a prompt with the LM head for its last token only is chapter 1's prefill
    assert forward_flops(model, 512, 0, logits_tokens=1) == pytest.approx(roofline.prefill(m, 512).flops)
    head = 2 * 511 * model.lm_head.weight.numel()  # the head's FLOPs for every other position
    assert forward_flops(model, 512) - forward_flops(model, 512, 0, logits_tokens=1) == head


def test_bad_transformer_configs():
    with pytest.raises(ValueError, match="multiple"):
        TransformerConfig(1, 8, 3, 2, 4, 8, 10, 8)
    with pytest.raises(ValueError, match="dense MHA/GQA"):
        TransformerConfig.from_model(models.get("DeepSeek-V3"))
    model = Decoder(TransformerConfig(1, 8, 2, 1, 4, 8, 10, 8))
    with pytest.raises(ValueError, match="exceed"):
        generate(model, torch.zeros(1, 6, dtype=torch.long), 5, use_cache=True)
    with pytest.raises(ValueError):
        KVCache(model.cfg, 0, 4, torch.float32, "cpu")


def test_step_model_recovers_known_constants_and_refuses_nonsense():
    from snippets.transformer import fit_step_model

    fixed, rate = 2e-3, 5e10  # 2 ms per step, 50 GFLOP/s
    small = ([1e6, 2e6, 3e6], [fixed + f / rate for f in (1e6, 2e6, 3e6)])
    large = ([1e8, 2e8, 3e8], [fixed + f / rate for f in (1e8, 2e8, 3e8)])
    model = fit_step_model(small, large)
    assert model.fixed_s == pytest.approx(fixed, rel=1e-9) and model.FLOP_per_s == pytest.approx(rate, rel=1e-9)
    assert model.predict_s(1e9) == pytest.approx(fixed + 1e9 / rate, rel=1e-9)  # beyond the fitted sizes
    with pytest.raises(ValueError, match="nonsensical"):
        fit_step_model(large and ([1e6], [5e-3]), ([1e8], [4e-3]))  # larger steps faster: noise
    with pytest.raises(ValueError, match="negative fixed cost"):
        fit_step_model(([1e6], [1e-4]), ([1e8], [1e-1]))


def test_max_context_is_the_last_context_that_fits():
    m, gpu = models.get("Llama-3.1-8B"), hardware.get("H100 SXM")
    c = kv_cache.max_context(m, gpu, 32, "bf16", "bf16")
    # by hand: (usable bytes - weight bytes) / 32 sequences / 131,072 B a token (bf16, 32 layers x 8 x 128 x 2 x 2)
    free = gpu.usable_memory_bytes() - kv_cache.weight_bytes(m, "bf16")
    assert c == int(free / 32 // 131072)
    assert kv_cache.max_batch(m, gpu, c, "bf16", "bf16") >= 32 > kv_cache.max_batch(m, gpu, c + 1, "bf16", "bf16")
    assert kv_cache.max_context(m, gpu, 1, "bf16", "bf16") == m.max_position_embeddings
    assert kv_cache.max_context(models.get("Llama-3.1-70B"), hardware.get("A100 80GB SXM"), 1, "bf16", "bf16") == 0
