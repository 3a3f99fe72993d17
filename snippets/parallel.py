"""Splitting a model across GPUs: tensor parallelism's decode step, the pipeline bubble, and
mixture-of-experts serving (experts touched, bytes per step, expert parallelism's all-to-all
volume and load imbalance).

Tensor parallelism (Megatron-LM's split): each attention block's heads and each MLP's hidden
columns are divided among `tp` GPUs. The first matmul of each block is split by columns
(every GPU computes its own heads or hidden units from the full input), the second by rows
(every GPU holds a partial sum of the full output), so each block ends with one all-reduce of
batch x d_model activations: two per layer. The embedding and LM head are split by
vocabulary; norms are replicated (they are a few KB).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snippets import formulas, kv_cache, models, roofline
from snippets.comm import AlphaBeta
from snippets.hardware import Accelerator
from snippets.models import ModelConfig
from snippets.units import bytes_per_element, require_positive_int

#: All-reduces per transformer layer under tensor parallelism: after attention's output
#: projection and after the MLP's down projection.
ALL_REDUCES_PER_LAYER = 2


def tp_kv_shards(m: ModelConfig, tp: int) -> int:
    """How many ways the KV cache splits: by KV head, at most n_kv_heads ways (beyond that
    each GPU keeps a copy of the heads its query heads need)."""
    require_positive_int("tp", tp)
    return min(tp, m.n_kv_heads)


def tp_weight_bytes_per_gpu(m: ModelConfig, tp: int, dtype: str, batch: int = 1) -> float:
    """Weight bytes one GPU reads in a decode step of `batch` sequences at tensor-parallel
    degree `tp`: the step's weights (models.step_weight_bytes) split tp ways, norms replicated."""
    require_positive_int("tp", tp)
    norms = (2 * m.n_layers + 1) * m.d_model * bytes_per_element(dtype)
    return (models.step_weight_bytes(m, dtype, batch) - norms) / tp + norms


def allreduce_message_bytes(m: ModelConfig, batch: int, activation_dtype: str = "bf16") -> float:
    """One tensor-parallel all-reduce: batch x d_model activations."""
    require_positive_int("batch", batch)
    return batch * m.d_model * bytes_per_element(activation_dtype)


@dataclass(frozen=True)
class TPStep:
    """One decode step at tensor-parallel degree tp, per GPU: the roofline time of its share
    of the work, and the all-reduces between layers (on the critical path: a layer cannot
    start before the previous one's sum arrives)."""

    tp: int
    batch: int
    weight_bytes: float  # per GPU
    kv_bytes: float  # per GPU
    flops: float  # per GPU
    compute_memory_s: float  # the roofline bound of the GPU's share
    all_reduces: int
    message_bytes: float
    comm_s: float

    @property
    def time_s(self) -> float:
        return self.compute_memory_s + self.comm_s

    @property
    def comm_share(self) -> float:
        return self.comm_s / self.time_s

    @property
    def tokens_per_s(self) -> float:
        return self.batch / self.time_s


def tp_decode_step(m: ModelConfig, gpu: Accelerator, link: AlphaBeta, tp: int, batch: int, context: int,
                   dtype: str = "bf16", kv_dtype: str = "bf16") -> TPStep:
    """A decode step of `batch` sequences with `context` tokens each, split tp ways, on `gpu`s
    joined by `link` (an alpha-beta model of one all-reduce)."""
    require_positive_int("tp", tp)
    whole = roofline.decode_step(m, batch, context, dtype, kv_dtype)
    share = roofline.StepCost(
        weight_flops=whole.weight_flops / tp,
        attention_flops=whole.attention_flops / tp,
        weight_bytes=tp_weight_bytes_per_gpu(m, tp, dtype, batch),
        kv_bytes=whole.kv_bytes / tp_kv_shards(m, tp),
        tokens=batch,
    )
    reduces = ALL_REDUCES_PER_LAYER * m.n_layers if tp > 1 else 0
    message = allreduce_message_bytes(m, batch)
    comm = reduces * link.time_s("all_reduce", tp, message) if reduces else 0.0
    return TPStep(tp, batch, share.weight_bytes, share.kv_bytes, share.flops, share.time_s(gpu, dtype), reduces,
                  message, comm)


def tp_fits(m: ModelConfig, gpu: Accelerator, tp: int, dtype: str = "bf16") -> bool:
    """Whether each GPU's share of the weights fits in its usable memory (no room for cache counted)."""
    return models.weight_bytes(m, dtype) / tp < gpu.usable_memory_bytes()


def tp_max_batch(m: ModelConfig, gpu: Accelerator, tp: int, context: int, dtype: str = "bf16",
                 kv_dtype: str = "bf16") -> int:
    """Largest batch whose cache fits beside each GPU's share of the weights."""
    free = gpu.usable_memory_bytes() - models.weight_bytes(m, dtype) / tp
    if free <= 0:
        return 0
    per_sequence = kv_cache.bytes_per_sequence(m, context, kv_dtype) / tp_kv_shards(m, tp)
    return int(free // per_sequence)


def prefill_allreduce_share(m: ModelConfig, gpu: Accelerator, link: AlphaBeta, tp: int, prompt_tokens: int,
                            dtype: str = "bf16") -> float:
    """Communication time over compute time of a prefill of `prompt_tokens` at degree tp: the
    all-reduces carry prompt x d_model each, the matmuls grow with the same tokens."""
    step = roofline.prefill(m, prompt_tokens, dtype, dtype)
    compute = step.time_s(gpu, dtype) / tp
    comm = ALL_REDUCES_PER_LAYER * m.n_layers * link.time_s("all_reduce", tp, allreduce_message_bytes(m, prompt_tokens))
    return comm / compute


# ---- pipeline parallelism ----------------------------------------------------------------------


def pipeline_bubble(stages: int, microbatches: int) -> float:
    """Share of a pipeline's time its stages sit idle in one pass of `microbatches` through
    `stages` (GPipe's fill and drain): (p - 1) / (m + p - 1)."""
    require_positive_int("stages", stages)
    require_positive_int("microbatches", microbatches)
    return formulas.pipeline_bubble(stages, microbatches)


def pipeline_steady_idle(stages: int, microbatches: int) -> float:
    """Share of time the stages of a pipeline that never drains sit idle: decode, where each
    microbatch leaves the last stage with its next token and enters the first again. With m
    microbatches circulating through p stages of equal time, at most m stages work at once:
    max(0, p - m) / p. From m = p on, no stage waits (no fill or drain: nothing flushes)."""
    require_positive_int("stages", stages)
    require_positive_int("microbatches", microbatches)
    return max(0, stages - microbatches) / stages


# ---- mixture of experts ------------------------------------------------------------------------


def experts_touched(m: ModelConfig, tokens: int) -> float:
    """Expected distinct routed experts of one MoE layer a step of `tokens` tokens reads
    (models.expected_experts_touched: uniform routing)."""
    if not m.is_moe:
        raise ValueError(f"{m.name} is not a mixture-of-experts model")
    return models.expected_experts_touched(m.n_routed_experts, m.experts_per_token, tokens)


def moe_layers(m: ModelConfig) -> int:
    return m.n_layers - (m.first_dense_layers or 0) if m.is_moe else 0


def ep_bytes_by_direction(m: ModelConfig, dispatch_dtype: str = "fp8", combine_dtype: str = "bf16",
                          count_shared: bool = True) -> tuple[float, float]:
    """(bytes the token's GPU sends, bytes it receives) for one token through expert parallelism's
    two all-to-alls in one forward pass, every MoE layer: its hidden state out to each of its
    experts (dispatch, in `dispatch_dtype`), and each expert's output back in (combine, in
    `combine_dtype`); experts on the token's own GPU counted as remote. `count_shared`: the shared
    experts are sent to like routed ones (DeepSeek-V3's decode deployment treats them so)."""
    experts = m.experts_per_token + ((m.n_shared_experts or 0) if count_shared else 0)
    per_expert = experts * m.d_model * moe_layers(m)
    return per_expert * bytes_per_element(dispatch_dtype), per_expert * bytes_per_element(combine_dtype)


def ep_bytes_per_token(m: ModelConfig, dispatch_dtype: str = "fp8", combine_dtype: str = "bf16",
                       count_shared: bool = True) -> float:
    """Bytes one token's dispatch and combine move through its GPU's links, both directions: the
    dispatch it sends plus the combine it receives (ep_bytes_by_direction)."""
    return sum(ep_bytes_by_direction(m, dispatch_dtype, combine_dtype, count_shared))


def ep_round_time_s(tokens_per_gpu: int, experts_per_token: int, hidden: float, link_GBps: float,
                    dispatch_bytes: float = 1, combine_bytes: float = 2) -> float:
    """One dispatch plus one combine of `tokens_per_gpu` tokens, each to `experts_per_token`
    experts, over a link of `link_GBps` per direction, latency left out: the arithmetic of
    DeepSeek's 'Insights' paper (arXiv 2505.09343, section 2.3.2)."""
    return (dispatch_bytes + combine_bytes) * tokens_per_gpu * experts_per_token * hidden / (link_GBps * 1e9)


def busiest_gpu_load(n_experts: int, experts_per_token: int, gpus: int, tokens: int, trials: int,
                     seed: int) -> float:
    """Mean over `trials` of (the busiest GPU's token-expert assignments) / (the mean GPU's),
    when `tokens` tokens each pick `experts_per_token` distinct experts uniformly at random and
    the experts are spread evenly over `gpus` GPUs (experts i*E/g .. (i+1)*E/g - 1 on GPU i).
    1.0 is perfect balance; a step waits for the busiest GPU. Seeded: the same arguments give
    the same answer."""
    for name, value in (("n_experts", n_experts), ("experts_per_token", experts_per_token), ("gpus", gpus),
                        ("tokens", tokens), ("trials", trials)):
        require_positive_int(name, value)
    if n_experts % gpus:
        raise ValueError(f"{gpus} GPUs do not divide {n_experts} experts evenly")
    rng = np.random.default_rng(seed)
    per_gpu = n_experts // gpus
    ratios = []
    for _ in range(trials):
        chosen = np.argpartition(rng.random((tokens, n_experts)), experts_per_token, axis=1)[:, :experts_per_token]
        load = np.bincount(chosen.ravel() // per_gpu, minlength=gpus)
        ratios.append(load.max() / load.mean())
    return float(np.mean(ratios))
