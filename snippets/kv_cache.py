"""KV-cache sizes and the attention work of a decode step.

bytes per token = 2 (K and V) x layers x KV heads x head_dim x bytes per element   (MHA/GQA/MQA)
bytes per token = layers x (kv_lora_rank + qk_rope_head_dim) x bytes per element    (MLA)
"""

from __future__ import annotations

from snippets.hardware import Accelerator
from snippets.models import ModelConfig, weight_bytes
from snippets.units import bytes_per_element, require_positive_int


def _check_context(m: ModelConfig, context: int, minimum: int = 1) -> None:
    if isinstance(context, bool) or not isinstance(context, int) or context < minimum:
        raise ValueError(f"context must be an integer >= {minimum}, got {context!r}")
    if context > m.max_position_embeddings:
        raise ValueError(
            f"context {context:,} is beyond {m.name}'s maximum of {m.max_position_embeddings:,} tokens"
        )


def kv_elements_per_token(m: ModelConfig) -> int:
    """Cached elements per token across all layers."""
    if m.attention_kind == "MLA":
        return m.n_layers * (m.kv_lora_rank + m.qk_rope_head_dim)
    return mha_elements_per_token(m.n_layers, m.n_kv_heads, m.head_dim)


def mha_elements_per_token(n_layers: int, n_kv_heads: int, head_dim: int) -> int:
    """2 (K and V) x layers x KV heads x head_dim: the MHA/GQA/MQA cache of one token."""
    return 2 * n_layers * n_kv_heads * head_dim


def bytes_per_token(m: ModelConfig, dtype: str = "fp16") -> float:
    """KV-cache bytes for one token of context."""
    return kv_elements_per_token(m) * bytes_per_element(dtype)


def bytes_per_sequence(m: ModelConfig, context: int, dtype: str = "fp16") -> float:
    """KV-cache bytes for one sequence of `context` tokens."""
    _check_context(m, context)
    return bytes_per_token(m, dtype) * context


def bytes_for_batch(m: ModelConfig, context: int, batch: int, dtype: str = "fp16") -> float:
    """KV-cache bytes for `batch` sequences of `context` tokens each."""
    require_positive_int("batch", batch)
    return bytes_per_sequence(m, context, dtype) * batch


def max_batch(
    m: ModelConfig,
    accelerator: Accelerator,
    context: int,
    weight_dtype: str = "fp16",
    kv_dtype: str = "fp16",
) -> int:
    """Largest batch of `context`-token sequences whose cache fits beside the weights.

    Memory is the datasheet capacity (GB = 1e9 B); activations and allocator overhead
    are ignored, so this is an upper bound. Returns 0 when even the weights do not fit.
    """
    free = accelerator.memory_bytes - weight_bytes(m, weight_dtype)
    if free <= 0:
        return 0
    return int(free // bytes_per_sequence(m, context, kv_dtype))


def attention_flops_per_token(m: ModelConfig, context: int) -> float:
    """FLOPs one new token spends attending to `context` cached tokens, all layers.

    MHA/GQA: QK^T and AV, 2 x 2 x context x n_heads x head_dim per layer (query heads:
    GQA saves bytes, not FLOPs). MLA, absorbed form: scores against the 576-wide latent.
    """
    _check_context(m, context, minimum=0)
    if m.attention_kind == "MLA":
        latent = m.kv_lora_rank + m.qk_rope_head_dim
        per_layer = 2 * context * m.n_heads * latent + 2 * context * m.n_heads * m.kv_lora_rank
    else:
        per_layer = 2 * 2 * context * m.d_attn
    return m.n_layers * per_layer


def decode_step_kv_bytes(m: ModelConfig, batch: int, context: int, dtype: str = "fp16") -> float:
    """Cache bytes one decode step reads: every cached token of every sequence once."""
    require_positive_int("batch", batch)
    _check_context(m, context, minimum=0)
    return batch * context * bytes_per_token(m, dtype)


def decode_step_attention_flops(m: ModelConfig, batch: int, context: int) -> float:
    """Attention FLOPs of one decode step for `batch` sequences at `context` tokens."""
    require_positive_int("batch", batch)
    return batch * attention_flops_per_token(m, context)


def attention_intensity(m: ModelConfig, dtype: str = "fp16") -> float:
    """FLOP/byte of decode attention: independent of batch and context.

    About 2 / bytes_per_element x (n_heads / n_kv_heads): 1 for fp16 MHA, the group size for GQA.
    """
    return attention_flops_per_token(m, 1) / bytes_per_token(m, dtype)
