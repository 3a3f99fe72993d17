"""KV-cache sizes and the attention work of a decode step.

bytes per token = 2 (K and V) x layers x KV heads x head_dim x bytes per element   (MHA/GQA/MQA)
bytes per token = layers x (kv_lora_rank + qk_rope_head_dim) x bytes per element    (MLA)
"""

from __future__ import annotations

from functools import cache

from snippets import formulas
from snippets.hardware import Accelerator
from snippets.models import ModelConfig, weight_bytes
from snippets.units import bytes_per_element, require_int, require_positive_int


def _check_context(m: ModelConfig, context: int, minimum: int = 1) -> None:
    context = require_int("context", context, minimum)
    if context > m.max_position_embeddings:
        raise ValueError(
            f"context {context:,} is beyond {m.name}'s maximum of {m.max_position_embeddings:,} tokens"
        )


@cache  # pure, and asked for at every prefill chunk the serving simulator costs
def kv_elements_per_token(m: ModelConfig) -> int:
    """Cached elements per token across all layers."""
    if m.attention_kind == "MLA":
        return formulas.mla_elements_per_token(m.n_layers, m.kv_lora_rank, m.qk_rope_head_dim)
    return mha_elements_per_token(m.n_layers, m.n_kv_heads, m.head_dim)


def mha_elements_per_token(n_layers: int, n_kv_heads: int, head_dim: int) -> int:
    """2 (K and V) x layers x KV heads x head_dim: the MHA/GQA/MQA cache of one token."""
    for name, value in (("n_layers", n_layers), ("n_kv_heads", n_kv_heads), ("head_dim", head_dim)):
        require_positive_int(name, value)
    return formulas.mha_elements_per_token(n_layers, n_kv_heads, head_dim)


def bytes_per_token(m: ModelConfig, dtype: str = "fp16") -> float:
    """KV-cache bytes for one token of context, every layer (before any sliding window)."""
    return kv_elements_per_token(m) * bytes_per_element(dtype)


def windowed_layers(m: ModelConfig) -> int:
    """Layers that attend within a sliding window: every other layer of Gemma-2 (local and
    global layers alternate), every layer of the other models that set `sliding_window`."""
    if not m.sliding_window:
        return 0
    return m.n_layers // 2 if m.architecture == "gemma2" else m.n_layers


def cached_positions(m: ModelConfig, context: int) -> int:
    """Layer-positions a sequence of `context` tokens keeps: `context` in every full-attention
    layer, at most `sliding_window` in each windowed layer."""
    _check_context(m, context, minimum=0)
    windowed = windowed_layers(m)
    held = min(context, m.sliding_window) if windowed else context
    return (m.n_layers - windowed) * context + windowed * held


def bytes_per_sequence(m: ModelConfig, context: int, dtype: str = "fp16") -> float:
    """KV-cache bytes for one sequence of `context` tokens (sliding windows honoured)."""
    _check_context(m, context)
    return bytes_per_token(m, dtype) / m.n_layers * cached_positions(m, context)


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

    Memory is what the device makes usable (Accelerator.usable_memory_bytes()); activations
    and allocator slack are not counted, so this is an upper bound. Returns 0 when even the
    weights do not fit.
    """
    free = accelerator.usable_memory_bytes() - weight_bytes(m, weight_dtype)
    if free <= 0:
        return 0
    return int(free // bytes_per_sequence(m, context, kv_dtype))


def max_tokens(m: ModelConfig, accelerator: Accelerator, weight_dtype: str = "fp16", kv_dtype: str = "fp16") -> int:
    """Tokens of cache that fit beside the weights, across all sequences: (usable memory -
    weights) / bytes per token (full attention; sliding windows not credited). The capacity a
    server shares among the sequences in flight; 0 when even the weights do not fit."""
    free = accelerator.usable_memory_bytes() - weight_bytes(m, weight_dtype)
    if free <= 0:
        return 0
    return int(free // bytes_per_token(m, kv_dtype))


def max_context(m: ModelConfig, accelerator: Accelerator, batch: int, weight_dtype: str = "fp16",
                kv_dtype: str = "fp16") -> int:
    """Longest context (up to the model's maximum) at which `batch` sequences fit beside the
    weights by max_batch's rule; 0 when not even one token each fits."""
    if max_batch(m, accelerator, 1, weight_dtype, kv_dtype) < batch:
        return 0
    low, high = 1, m.max_position_embeddings  # max_batch never grows with the context: bisect
    while low < high:
        mid = (low + high + 1) // 2
        if max_batch(m, accelerator, mid, weight_dtype, kv_dtype) >= batch:
            low = mid
        else:
            high = mid - 1
    return low


def attention_flops_per_position(m: ModelConfig) -> float:
    """FLOPs one new token spends on one cached position of one layer.

    MHA/GQA: QK^T and AV, 2 x 2 x n_heads x head_dim (query heads: GQA saves bytes, not
    FLOPs). MLA, absorbed form (the latent is never re-expanded): scores against the
    (kv_lora_rank + qk_rope_head_dim)-wide latent and values in the kv_lora_rank-wide latent,
    for every query head.
    """
    if m.attention_kind == "MLA":
        return 2 * m.n_heads * (m.kv_lora_rank + m.qk_rope_head_dim) + 2 * m.n_heads * m.kv_lora_rank
    return 2 * 2 * m.d_attn


def attention_flops_per_token(m: ModelConfig, context: int) -> float:
    """FLOPs one new token spends attending to `context` cached tokens, all layers."""
    return attention_flops_per_position(m) * cached_positions(m, context)


def prefill_attention_flops(m: ModelConfig, prompt_tokens: int) -> float:
    """Causal attention of a whole prompt: token t attends to itself and the t before it
    (within the window on windowed layers)."""
    _check_context(m, prompt_tokens)
    full = prompt_tokens * (prompt_tokens + 1) / 2
    windowed = windowed_layers(m)
    if windowed:
        w = min(m.sliding_window, prompt_tokens)
        local = w * (w + 1) / 2 + (prompt_tokens - w) * w
    else:
        local = 0
    return attention_flops_per_position(m) * ((m.n_layers - windowed) * full + windowed * local)


def chunk_attention_flops(m: ModelConfig, prefix_tokens: int, chunk_tokens: int) -> float:
    """Causal attention of a prefill chunk: `chunk_tokens` prompt tokens that attend to the
    `prefix_tokens` already cached and to each other. The prefill of the whole prompt less the
    prefill of its prefix, so chunks of a prompt add up to its prefill exactly."""
    require_positive_int("chunk_tokens", chunk_tokens)
    _check_context(m, prefix_tokens + chunk_tokens)
    done = prefill_attention_flops(m, prefix_tokens) if prefix_tokens else 0.0
    return prefill_attention_flops(m, prefix_tokens + chunk_tokens) - done


def chunk_kv_bytes(m: ModelConfig, prefix_tokens: int, chunk_tokens: int, dtype: str = "fp16") -> float:
    """Cache bytes a prefill chunk moves: the prefix's cache read once, and the chunk's own K
    and V written once (sliding windows honoured). With no prefix it is the prefill's."""
    require_positive_int("chunk_tokens", chunk_tokens)
    _check_context(m, prefix_tokens + chunk_tokens)
    per_position = bytes_per_token(m, dtype) / m.n_layers
    read = per_position * cached_positions(m, prefix_tokens)
    written = per_position * (cached_positions(m, prefix_tokens + chunk_tokens) - cached_positions(m, prefix_tokens))
    return read + written


def decode_step_kv_bytes(m: ModelConfig, batch: int, context: int, dtype: str = "fp16") -> float:
    """Cache bytes one decode step reads: every cached position of every sequence once."""
    require_positive_int("batch", batch)
    return batch * bytes_per_token(m, dtype) / m.n_layers * cached_positions(m, context)


def decode_step_attention_flops(m: ModelConfig, batch: int, context: int) -> float:
    """Attention FLOPs of one decode step for `batch` sequences at `context` tokens."""
    require_positive_int("batch", batch)
    return batch * attention_flops_per_token(m, context)


def attention_intensity(m: ModelConfig, dtype: str = "fp16") -> float:
    """FLOP/byte of decode attention: independent of batch and context.

    About 2 / bytes_per_element x (n_heads / n_kv_heads): 1 for fp16 MHA, the group size for
    GQA; for MLA (absorbed form) every query head reads the one shared latent, so far more.
    """
    return attention_flops_per_position(m) * m.n_layers / bytes_per_token(m, dtype)


def reexpanded_bytes_per_token(m: ModelConfig, dtype: str = "fp16") -> float:
    """MLA only: bytes per token if the latent were re-expanded into per-head K (nope + rope)
    and V and cached that way, as naive implementations do."""
    if m.attention_kind != "MLA":
        raise ValueError(f"{m.name} is {m.attention_kind}, not MLA")
    return m.n_layers * m.n_heads * (m.head_dim + m.v_head_dim) * bytes_per_element(dtype)
