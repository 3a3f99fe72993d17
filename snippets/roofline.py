"""The roofline model: arithmetic intensity, ridge point, attainable FLOP/s, and lower-bound
times for a matmul, a decode step and a prefill.

Units: FLOPs (a multiply-add is 2), bytes, seconds, FLOP/s, bytes/s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from snippets import formulas, kv_cache
from snippets.hardware import Accelerator
from snippets.models import (
    ModelConfig,
    activation_elements_per_token,
    lm_head_matmul_weights,
    matmul_weights_per_token,
    step_weight_bytes,
)
from snippets.units import (
    bytes_per_element,
    require_int,
    require_non_negative,
    require_positive,
    require_positive_int,
)


def ridge_point(peak_flops: float, bandwidth_Bps: float) -> float:
    """Intensity (FLOP/byte) where the memory roof meets the compute roof."""
    require_positive("peak_flops", peak_flops)
    require_positive("bandwidth_Bps", bandwidth_Bps)
    return formulas.ridge_point(peak_flops, bandwidth_Bps)


def attainable_flops(intensity: float, peak_flops: float, bandwidth_Bps: float) -> float:
    """Roofline: min(peak FLOP/s, intensity x bandwidth)."""
    require_positive("intensity", intensity)
    require_positive("peak_flops", peak_flops)
    require_positive("bandwidth_Bps", bandwidth_Bps)
    return formulas.attainable_flops(intensity, peak_flops, bandwidth_Bps)


def time_lower_bound_s(flops: float, bytes_moved: float, peak_flops: float, bandwidth_Bps: float) -> float:
    """No kernel beats max(compute time, memory time)."""
    require_positive("peak_flops", peak_flops)
    require_positive("bandwidth_Bps", bandwidth_Bps)
    require_non_negative("flops", flops)
    require_non_negative("bytes_moved", bytes_moved)
    return formulas.time_lower_bound_s(flops, bytes_moved, peak_flops, bandwidth_Bps)


def first_int_where(holds: Callable[[int], bool], low: int, high: int) -> int | None:
    """Smallest integer n in [low, high] with holds(n), for a condition that, once true, stays
    true as n grows (a step turning compute-bound, a cache outgrowing the weights); None when
    it does not hold even at `high`. Bisection: about log2(high - low) evaluations."""
    if not holds(high):
        return None
    while low < high:  # invariant: holds(high)
        middle = (low + high) // 2
        low, high = (middle + 1, high) if not holds(middle) else (low, middle)
    return high


def first_compute_bound_batch(step_at: Callable[[int], StepCost], accelerator: Accelerator,
                              limit: int = 1 << 14) -> int | None:
    """Smallest batch whose step, step_at(batch), is compute-bound on the accelerator; None if none
    is up to `limit`. A larger batch shares the same weights among more tokens, so once a step is
    compute-bound every larger batch is (first_int_where's condition)."""
    return first_int_where(lambda batch: not step_at(batch).is_memory_bound(accelerator), 1, limit)


# ---- matmuls -------------------------------------------------------------------------------


def matmul_flops(m: int, n: int, k: int) -> float:
    """FLOPs of an (m x k) @ (k x n) product."""
    for name, value in (("m", m), ("n", n), ("k", k)):
        require_positive_int(name, value)
    return 2.0 * m * n * k


def matmul_bytes(m: int, n: int, k: int, dtype: str = "bf16") -> float:
    """Minimum bytes: read both inputs once, write the output once."""
    matmul_flops(m, n, k)  # validates the sizes
    return (m * k + k * n + m * n) * bytes_per_element(dtype)


def matmul_intensity(m: int, n: int, k: int, dtype: str = "bf16") -> float:
    return matmul_flops(m, n, k) / matmul_bytes(m, n, k, dtype)


def weight_matmul_intensity(batch: int, d_in: int, d_out: int, dtype: str = "fp16") -> float:
    """Intensity of multiplying `batch` token vectors by one (d_in x d_out) weight matrix.

    About 2 x batch / bytes_per_element while batch << d_in, d_out; it saturates as the
    activations' own traffic grows to rival the weights'.
    """
    return matmul_intensity(batch, d_out, d_in, dtype)


# ---- whole-model steps ---------------------------------------------------------------------


@dataclass(frozen=True)
class StepCost:
    """FLOPs and bytes of one forward step, split by where they come from."""

    weight_flops: float
    attention_flops: float
    weight_bytes: float
    kv_bytes: float
    tokens: int  # tokens produced (decode) or processed (prefill)
    activation_bytes: float = 0.0  # matmul inputs and outputs (counted for prefill; see prefill)

    @property
    def flops(self) -> float:
        return self.weight_flops + self.attention_flops

    @property
    def bytes(self) -> float:
        return self.weight_bytes + self.kv_bytes + self.activation_bytes

    @property
    def intensity(self) -> float:
        """FLOP/byte of the whole step."""
        return self.flops / self.bytes

    def memory_time_s(self, accelerator: Accelerator) -> float:
        return self.bytes / accelerator.bandwidth_Bps

    def compute_time_s(self, accelerator: Accelerator, dtype: str = "bf16") -> float:
        return self.flops / accelerator.peak_flops(dtype)

    def time_s(self, accelerator: Accelerator, dtype: str = "bf16") -> float:
        """Roofline lower bound on the step's time."""
        return time_lower_bound_s(self.flops, self.bytes, accelerator.peak_flops(dtype), accelerator.bandwidth_Bps)

    def is_memory_bound(self, accelerator: Accelerator, dtype: str = "bf16") -> bool:
        return self.memory_time_s(accelerator) >= self.compute_time_s(accelerator, dtype)

    def tokens_per_s(self, accelerator: Accelerator, dtype: str = "bf16") -> float:
        """Upper bound on tokens/s across the batch."""
        return self.tokens / self.time_s(accelerator, dtype)


def decode_step(
    m: ModelConfig,
    batch: int = 1,
    context: int = 0,
    weight_dtype: str = "fp16",
    kv_dtype: str = "fp16",
) -> StepCost:
    """One decode step: `batch` sequences, each attending to `context` positions, its own new
    token included (`context` - 1 were cached before the step, so context <= the model's
    maximum; 0 means no attention counted, weights only). The cache traffic is `context`
    positions per sequence: the cached ones read, the new one written.

    Bytes are what the step physically reads (models.step_param_count): every weight once for
    the whole batch, one embedding row per sequence, the routed experts the batch selects,
    and each sequence's own cache. Activations (batch x width per matmul, a few MB) are
    left out: at decode sizes they stay in on-chip caches. FLOPs: 2 per matmul weight per
    sequence, plus attention over the context.
    """
    require_positive_int("batch", batch)
    return StepCost(
        weight_flops=2.0 * batch * matmul_weights_per_token(m),
        attention_flops=kv_cache.decode_step_attention_flops(m, batch, context),
        weight_bytes=step_weight_bytes(m, weight_dtype, batch),
        kv_bytes=kv_cache.decode_step_kv_bytes(m, batch, context, kv_dtype),
        tokens=batch,
    )


def prompt_matmul_flops(m: ModelConfig, tokens: int, logits: int = 1) -> float:
    """Matmul FLOPs of `tokens` prompt tokens through every layer, with the LM head run for
    `logits` of them only: a serving engine needs the logits of a prompt's last token."""
    head = lm_head_matmul_weights(m)
    return 2.0 * (tokens * (matmul_weights_per_token(m) - head) + logits * head)


def prompt_activation_elements(m: ModelConfig, tokens: int, logits: int = 1) -> float:
    """Activation elements `tokens` prompt tokens move through the matmuls (see
    models.activation_elements_per_token), the LM head's for `logits` of them only."""
    head = m.d_model + m.vocab_size
    return tokens * (activation_elements_per_token(m) - head) + logits * head


def prefill(
    m: ModelConfig, prompt_tokens: int, weight_dtype: str = "fp16", kv_dtype: str = "fp16"
) -> StepCost:
    """Prefill of one prompt: every token through every layer and the last one through the LM
    head (its logits give the first new token, as in a serving engine), causal attention,
    weights read once, the prompt's K and V written to the cache once, and every matmul's
    input activations read and outputs written once (in `weight_dtype`): at thousands of
    tokens these rival the weights."""
    require_positive_int("prompt_tokens", prompt_tokens)
    return StepCost(
        weight_flops=prompt_matmul_flops(m, prompt_tokens),
        attention_flops=kv_cache.prefill_attention_flops(m, prompt_tokens),
        weight_bytes=step_weight_bytes(m, weight_dtype, prompt_tokens),
        kv_bytes=kv_cache.bytes_per_sequence(m, prompt_tokens, kv_dtype),
        tokens=prompt_tokens,
        activation_bytes=prompt_activation_elements(m, prompt_tokens) * bytes_per_element(weight_dtype),
    )


def mixed_step(
    m: ModelConfig,
    batch: int,
    context: int,
    chunks: tuple[tuple[int, int], ...] = (),
    weight_dtype: str = "fp16",
    kv_dtype: str = "fp16",
) -> StepCost:
    """One step of a continuous-batching server: a decode of `batch` sequences at `context`
    tokens each, plus prefill chunks, each `(prefix_tokens, chunk_tokens)`: chunk_tokens prompt
    tokens attending to a prefix already cached (0 for a whole prompt or a first chunk).

    The pieces are decode_step's and prefill's, with the weights read once for the whole step
    (batch + every chunk token) instead of once per piece. Each chunk runs the LM head for its
    last token (the last chunk of a prompt yields the first new token; for an earlier chunk
    that one row is a slight overcount). `batch` may be 0 (a prefill-only step). `tokens`
    counts every token the step processes, decoded and prefilled.
    """
    batch = require_int("batch", batch, 0)
    chunk_total = sum(require_positive_int("chunk_tokens", c) for _, c in chunks)
    if batch + chunk_total == 0:
        raise ValueError("a step needs a decode batch >= 1 or at least one prefill chunk")
    decode = decode_step(m, batch, context, weight_dtype, kv_dtype) if batch else None
    return StepCost(
        weight_flops=2.0 * batch * matmul_weights_per_token(m) + prompt_matmul_flops(m, chunk_total, len(chunks)),
        attention_flops=(decode.attention_flops if decode else 0.0)
        + sum(kv_cache.chunk_attention_flops(m, p, c) for p, c in chunks),
        weight_bytes=step_weight_bytes(m, weight_dtype, batch + chunk_total),
        kv_bytes=(decode.kv_bytes if decode else 0.0) + sum(kv_cache.chunk_kv_bytes(m, p, c, kv_dtype) for p, c in chunks),
        tokens=batch + chunk_total,
        activation_bytes=(prompt_activation_elements(m, chunk_total, len(chunks)) if chunks else 0.0)
        * bytes_per_element(weight_dtype),
    )


def generation_flops(m: ModelConfig, prompt_tokens: int, new_tokens: int, use_cache: bool) -> float:
    """FLOPs to generate `new_tokens` after a prompt, one sequence.

    With a cache: one prefill of the prompt, then one decode step per further token.
    Without: every token re-runs the whole sequence so far (a prefill of P, P+1, ... tokens),
    so the work grows with the square of the generated length.
    """
    require_positive_int("new_tokens", new_tokens)
    if use_cache:
        first = prefill(m, prompt_tokens).flops
        return first + sum(decode_step(m, 1, prompt_tokens + t).flops for t in range(new_tokens - 1))
    return sum(prefill(m, prompt_tokens + t).flops for t in range(new_tokens))


def critical_batch_size(accelerator: Accelerator, weight_dtype: str = "fp16", compute_dtype: str = "bf16") -> float:
    """Batch at which 2 x B / bytes_per_weight reaches the ridge point (weights only,
    B << matrix sizes): the simple story's answer to 'when does batching stop helping?'."""
    return accelerator.ridge_point(compute_dtype) * bytes_per_element(weight_dtype) / 2


def prefill_knee_tokens(m: ModelConfig, accelerator: Accelerator, weight_dtype: str = "fp16",
                        compute_dtype: str = "bf16") -> int:
    """Shortest prompt whose prefill is compute-bound (activations counted), by bisection."""
    def compute_bound(tokens: int) -> bool:
        return not prefill(m, tokens, weight_dtype, weight_dtype).is_memory_bound(accelerator, compute_dtype)

    found = first_int_where(compute_bound, 1, m.max_position_embeddings)
    if found is None:
        raise ValueError(f"a prefill of {m.name} stays memory-bound on the {accelerator.name} up to "
                         f"{m.max_position_embeddings:,} tokens")
    return found


def mixed_step_knee_tokens(m: ModelConfig, accelerator: Accelerator, batch: int, context: int,
                           weight_dtype: str = "fp16", compute_dtype: str = "bf16") -> int:
    """Smallest first chunk (prefix 0) that makes a decode step of `batch` sequences at
    `context` tokens compute-bound (mixed_step), by bisection: the chunk must also cover the
    decode's cache reads, so the knee lies above prefill_knee_tokens."""
    def compute_bound(tokens: int) -> bool:
        step = mixed_step(m, batch, context, ((0, tokens),), weight_dtype, weight_dtype)
        return not step.is_memory_bound(accelerator, compute_dtype)

    found = first_int_where(compute_bound, 1, m.max_position_embeddings)
    if found is None:
        raise ValueError(f"a chunk of {m.max_position_embeddings:,} tokens leaves the step memory-bound")
    return found


def generation_time_s(m: ModelConfig, prompt_tokens: int, new_tokens: int, use_cache: bool,
                      accelerator: Accelerator, dtype: str = "fp16") -> float:
    """Roofline lower bound on the time to generate `new_tokens` after a prompt, one sequence
    (the same steps as generation_flops, each at its own bound)."""
    require_positive_int("new_tokens", new_tokens)
    if use_cache:
        first = prefill(m, prompt_tokens, dtype, dtype).time_s(accelerator)
        return first + sum(decode_step(m, 1, prompt_tokens + t, dtype, dtype).time_s(accelerator)
                           for t in range(new_tokens - 1))
    return sum(prefill(m, prompt_tokens + t, dtype, dtype).time_s(accelerator) for t in range(new_tokens))


def cache_outweighs_weights_context(m: ModelConfig, batch: int, weight_dtype: str = "fp16",
                                    kv_dtype: str = "fp16") -> int | None:
    """Shortest context at which a decode step of `batch` sequences reads more cache bytes than
    weight bytes (None if it never does within the model's maximum context)."""
    def cache_wins(context: int) -> bool:
        step = decode_step(m, batch, context, weight_dtype, kv_dtype)
        return step.kv_bytes > step.weight_bytes

    found = first_int_where(cache_wins, 1, m.max_position_embeddings)
    if found is None:
        return None
    return found


def decode_steps_that_fit(m: ModelConfig, accelerator: Accelerator, contexts: tuple[int, ...], weight_dtype: str,
                          kv_dtype: str) -> list[tuple[int, int, bool, float]]:
    """(batch, context, memory-bound?, seconds) of the decode step of every batch whose cache fits
    in the accelerator's usable memory, at each context: the range a verdict "at every batch that
    fits" is checked over."""
    return [(batch, context, step.is_memory_bound(accelerator), step.time_s(accelerator))
            for context in contexts for batch in range(1, kv_cache.max_batch(m, accelerator, context, weight_dtype,
                                                                              kv_dtype) + 1)
            for step in (decode_step(m, batch, context, weight_dtype, kv_dtype),)]


def memory_bound_prefills(m: ModelConfig, accelerator: Accelerator, prompts: range, dtype: str) -> tuple[int, ...]:
    """The prompt lengths in `prompts` whose prefill is memory-bound on the accelerator (a verdict
    "every prompt from the knee on is compute-bound" holds when this is empty)."""
    return tuple(n for n in prompts if prefill(m, n, dtype).is_memory_bound(accelerator))
