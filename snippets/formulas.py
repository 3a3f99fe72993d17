"""The course's closed-form formulas, in the standard library only.

One definition, two runtimes: the `snippets` modules call these (roofline, kv_cache, models,
speculative, units), and the editable cells in the pages import this very file in the reader's
browser (Pyodide, without numpy or pydantic). Inputs are checked where the `snippets` modules
take them; here a formula is only its arithmetic.

Units: FLOPs (a multiply-add is 2), bytes, seconds, FLOP/s, bytes/s.
"""

from __future__ import annotations

#: Bytes per element of each storage dtype, by canonical (lower-case) name: the one list of
#: dtypes the package knows (snippets.units re-exports it). int4 ignores per-group scale overhead.
BYTES_PER_ELEMENT: dict[str, float] = {
    "fp32": 4,
    "bf16": 2,
    "fp16": 2,
    "fp8": 1,
    "int8": 1,
    "int4": 0.5,
}


# ---- the roofline (chapter 1) ----------------------------------------------------------------


def ridge_point(peak_flops: float, bandwidth_Bps: float) -> float:
    """Intensity (FLOP/byte) where the memory roof meets the compute roof."""
    return peak_flops / bandwidth_Bps


def attainable_flops(intensity: float, peak_flops: float, bandwidth_Bps: float) -> float:
    """Roofline: min(peak FLOP/s, intensity x bandwidth)."""
    return min(peak_flops, intensity * bandwidth_Bps)


def time_lower_bound_s(flops: float, bytes_moved: float, peak_flops: float, bandwidth_Bps: float) -> float:
    """No kernel beats max(compute time, memory time)."""
    return max(flops / peak_flops, bytes_moved / bandwidth_Bps)


def decode_tokens_per_s_bound(bytes_per_step: float, bandwidth_Bps: float, batch: int = 1) -> float:
    """Memory-bound decode: every step reads `bytes_per_step` and yields one token per sequence."""
    return batch * bandwidth_Bps / bytes_per_step


# ---- the KV cache (chapter 2) ----------------------------------------------------------------


def mha_elements_per_token(n_layers: int, n_kv_heads: int, head_dim: int) -> int:
    """2 (K and V) x layers x KV heads x head_dim: the MHA/GQA/MQA cache of one token."""
    return 2 * n_layers * n_kv_heads * head_dim


def mla_elements_per_token(n_layers: int, kv_lora_rank: int, qk_rope_head_dim: int) -> int:
    """MLA caches one compressed latent and one shared RoPE key per layer."""
    return n_layers * (kv_lora_rank + qk_rope_head_dim)


def kv_bytes_per_token(elements_per_token: float, dtype: str = "fp16") -> float:
    """Cache bytes of one token of context, every layer."""
    return elements_per_token * BYTES_PER_ELEMENT[dtype]


def kv_bytes_for_batch(bytes_per_token: float, context: int, batch: int) -> float:
    """The cache of `batch` sequences of `context` tokens each."""
    return bytes_per_token * context * batch


# ---- mixture of experts (chapters 3 and 5) ---------------------------------------------------


def expected_experts_touched(n_experts: int, experts_per_token: int, tokens: int) -> float:
    """Expected distinct routed experts of one layer that `tokens` tokens select, each token
    choosing `experts_per_token` of `n_experts` uniformly: E x (1 - (1 - k/E)^B)."""
    return n_experts * (1 - (1 - experts_per_token / n_experts) ** tokens)


# ---- speculative decoding (chapter 5; Leviathan et al. 2023) ---------------------------------


def expected_tokens(alpha: float, gamma: int) -> float:
    """Expected tokens a verification step yields: the sum of alpha^i for i = 0..gamma."""
    return sum(alpha**i for i in range(gamma + 1))


def speculative_speedup(alpha: float, gamma: int, draft_cost: float) -> float:
    """Expected speedup in time per token over plain decoding: E / (gamma x c + 1)."""
    return expected_tokens(alpha, gamma) / (gamma * draft_cost + 1)


# ---- quantization (chapter 4) ----------------------------------------------------------------


def weight_bytes(params: float, dtype: str = "fp16") -> float:
    """Bytes of `params` weights stored as `dtype` (no scales)."""
    return params * BYTES_PER_ELEMENT[dtype]


# ---- several GPUs (chapter 7) ----------------------------------------------------------------


def bus_factor(collective: str, ranks: int) -> float:
    """busbw / algbw over `ranks` GPUs: 2(n - 1)/n for all-reduce, (n - 1)/n for all-gather,
    reduce-scatter and all-to-all (nccl-tests doc/PERFORMANCE.md)."""
    share = (ranks - 1) / ranks
    return 2 * share if collective == "all_reduce" else share


def collective_time_s(alpha_s: float, beta_s_per_byte: float, collective: str, ranks: int, size_bytes: float) -> float:
    """The alpha-beta model: alpha + bus factor x size x beta, beta = 1 / busbw (0 on one rank:
    nothing to send)."""
    if ranks == 1:
        return 0.0
    return alpha_s + bus_factor(collective, ranks) * size_bytes * beta_s_per_byte


def latency_steps(collective: str, ranks: int, algorithm: str = "ring", nodes: int = 1) -> tuple[int, int]:
    """(hops inside a node, hops between nodes) that one call's latency crosses in turn, as
    NCCL's tuning model counts them (src/graph/tuning.cc). A ring all-reduce over n ranks makes
    2(n - 1) hops, a ring all-gather, reduce-scatter or all-to-all n - 1; over several nodes
    2(nodes - 1) of an all-reduce's hops (nodes - 1 of the others') cross the network. NCCL's
    tree all-reduce is a chain inside each node, 2(n / nodes - 1) hops, and a binary tree across
    nodes, 2 ceil(log2 nodes) hops."""
    if ranks == 1:
        return 0, 0
    if algorithm == "tree":
        return 2 * (ranks // nodes - 1), 2 * (nodes - 1).bit_length()
    factor = 2 if collective == "all_reduce" else 1
    inter = factor * (nodes - 1)
    return factor * (ranks - 1) - inter, inter


def collective_latency_s(base_s: float, step_s: float, collective: str, ranks: int, algorithm: str = "ring",
                         nodes: int = 1, inter_step_s: float = 0.0) -> float:
    """alpha(n), NCCL's model of a call's latency: a fixed cost per call plus one step latency
    per hop, `step_s` inside a node and `inter_step_s` between nodes. One rank: 0."""
    if ranks == 1:
        return 0.0
    intra, inter = latency_steps(collective, ranks, algorithm, nodes)
    return base_s + intra * step_s + inter * inter_step_s


def pipeline_bubble(stages: int, microbatches: int) -> float:
    """Share of a pipeline pass its stages sit idle (GPipe's fill and drain): (p - 1) / (m + p - 1)."""
    return (stages - 1) / (microbatches + stages - 1)
