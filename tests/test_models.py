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


def test_a_step_reads_one_embedding_row_per_token():
    m = models.get("Llama-2-7B")
    table = 32_000 * 4096
    assert models.step_param_count(m, 1) == 6_738_415_616 - table + 4096
    assert models.step_param_count(m, 8) == 6_738_415_616 - table + 8 * 4096
    assert models.step_weight_bytes(m, "fp16", 1) == 2 * (6_738_415_616 - table + 4096)  # 13.215 GB (notes.md)
    gpt2 = models.get("GPT-2 small (gpt2)")  # tied: the table is read in full as the LM head
    assert models.step_param_count(gpt2, 1) == 124_439_808 - 1024 * 768 + 768  # one learned position row


def test_moe_step_reads_the_experts_the_batch_selects():
    mixtral = models.get("Mixtral-8x7B-v0.1")
    assert models.expected_experts_touched(8, 2, 1) == 2
    assert models.expected_experts_touched(8, 2, 32) == 8 * (1 - 0.75**32)
    assert models.step_param_count(mixtral, 1) == pytest.approx(12.88e9 - 32_000 * 4096, rel=1e-3)
    # a batch of 32 touches nearly every expert: close to the whole 46.7 B (93.4 GB in bf16)
    assert models.step_weight_bytes(mixtral, "bf16", 32) / GB == pytest.approx(93.1, abs=0.05)
    assert models.step_param_count(mixtral, 10**6) == pytest.approx(models.param_count(mixtral), rel=1e-12)


def test_matmul_weights_leave_out_embeddings_norms_and_biases():
    m = models.get("Llama-2-7B")  # 65 RMSNorm weights of 4096, no biases, untied 32,000-row table
    assert models.matmul_weights_per_token(m) == 6_738_415_616 - 32_000 * 4096 - 65 * 4096
    qwen = models.get("Qwen2.5-7B")  # biases on q, k and v are not matmul weights
    biases = qwen.n_layers * (qwen.n_heads + 2 * qwen.n_kv_heads) * qwen.head_dim
    norms = (2 * qwen.n_layers + 1) * qwen.d_model
    assert models.matmul_weights_per_token(qwen) == models.param_count(qwen) - qwen.vocab_size * qwen.d_model \
        - biases - norms


def test_gemma2_head_dim_is_not_d_model_over_heads():
    m = models.get("Gemma-2-9B")
    assert m.head_dim == 256 and m.d_model // m.n_heads != 256


def test_unknown_model_and_dtype():
    with pytest.raises(ValueError, match="Llama-2-7B"):
        models.get("Llama-2-7")
    with pytest.raises(ValueError, match="allowed: fp32"):
        models.weight_bytes(models.get("Llama-2-7B"), "fp12")
