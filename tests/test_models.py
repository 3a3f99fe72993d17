"""Parameter counts computed from the architecture against the published counts."""

import pytest

from snippets import models
from snippets.units import GB

# Published or well-known exact counts, independent of this code.
KNOWN = {
    "GPT-2 small (gpt2)": 124_439_808,  # nanoGPT / HF
    "Llama-2-7B": 6_738_415_616,  # HF model card 6.74B; the safetensors total
    "Llama-3.1-8B": 8_030_261_248,
    "DeepSeek-V3": 671_026_419_200,  # 671B total (README)
}


@pytest.mark.parametrize(("name", "count"), KNOWN.items())
def test_exact_counts(name, count):
    assert models.param_count(models.get(name)) == count


@pytest.mark.parametrize("name", models.names())
def test_every_model_matches_its_published_total(name):
    m = models.get(name)
    assert round(models.param_count(m) / 1e9, 3) == models.published_total_B(name)
    assert m.source.strip()


def test_moe_active_parameters():
    assert round(models.param_count(models.get("Mixtral-8x7B-v0.1"), active_only=True) / 1e9, 2) == 12.88
    assert round(models.param_count(models.get("DeepSeek-V3"), active_only=True) / 1e9, 1) == 37.6


def test_llama2_7b_weight_bytes_by_dtype():
    m = models.get("Llama-2-7B")
    assert round(models.weight_bytes(m, "fp16") / GB, 2) == 13.48
    assert models.weight_bytes(m, "fp32") == 2 * models.weight_bytes(m, "bf16")
    assert models.weight_bytes(m, "int8") == models.weight_bytes(m, "fp8") == models.weight_bytes(m, "fp16") / 2
    assert models.weight_bytes(m, "int4") == models.weight_bytes(m, "fp16") / 4


def test_decode_reads_one_embedding_row_when_exact():
    m = models.get("Llama-2-7B")
    assert round(models.decode_weight_bytes(m, "fp16", exact=True) / GB, 3) == 13.215


def test_gemma2_head_dim_is_not_d_model_over_heads():
    m = models.get("Gemma-2-9B")
    assert m.head_dim == 256 and m.d_model // m.n_heads != 256


def test_unknown_model_and_dtype():
    with pytest.raises(ValueError, match="Llama-2-7B"):
        models.get("Llama-2-7")
    with pytest.raises(ValueError, match="allowed: fp32"):
        models.weight_bytes(models.get("Llama-2-7B"), "fp12")
