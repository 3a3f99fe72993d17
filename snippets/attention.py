"""Attention at long context: its share of a decode step, the HBM traffic of naive and tiled
(FlashAttention) attention, how many KV splits fill a GPU at decode (Flash-Decoding), and what a
paged cache's block size costs. Pure arithmetic, no torch; the runnable online softmax and the
merge of split results are in snippets.flash.

Units: FLOPs (a multiply-add is 2), bytes, elements, tokens. "Per head" counts are for one query
head of one sequence; a layer multiplies by heads and batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from math import ceil

from snippets import kv_cache, roofline
from snippets._data import find_by_name, read_text
from snippets.hardware import Accelerator
from snippets.models import ModelConfig
from snippets.schema import AttentionKernelRow, SMRow, parse_rows
from snippets.serving import Policy
from snippets.units import require_int, require_positive_int

# ---- data: SMs and on-chip SRAM; published kernel throughput -------------------------------


@cache
def sm_rows() -> tuple[SMRow, ...]:
    """Streaming multiprocessors and shared memory per SM (snippets/data/gpu_sms.csv), validated."""
    text, file = read_text("gpu_sms.csv")
    return tuple(parse_rows(text, file, SMRow))


def sms(accelerator: Accelerator | str) -> SMRow:
    """The SM row of an accelerator (by its hardware.csv name, or the Accelerator)."""
    name = accelerator if isinstance(accelerator, str) else accelerator.name
    found = find_by_name(name, [r.name for r in sm_rows()], "accelerator with an SM count")
    return next(r for r in sm_rows() if r.name == found)


@cache
def published_kernels() -> tuple[AttentionKernelRow, ...]:
    """Published attention-kernel throughput (snippets/data/attention_kernels.csv), validated."""
    text, file = read_text("attention_kernels.csv")
    return tuple(parse_rows(text, file, AttentionKernelRow))


def published(name: str) -> AttentionKernelRow:
    found = find_by_name(name, [r.name for r in published_kernels()], "published attention measurement")
    return next(r for r in published_kernels() if r.name == found)


# ---- 1. attention's share of a decode step --------------------------------------------------


def group_size(m: ModelConfig) -> int:
    """Query heads per KV head: 1 for MHA, n_heads for MQA, in between for GQA."""
    return m.n_heads // m.n_kv_heads


@dataclass(frozen=True)
class DecodeShare:
    """A decode step split into its weight part and its attention part (roofline.decode_step)."""

    step: roofline.StepCost

    @property
    def byte_share(self) -> float:
        """Attention's (cache reads') share of the bytes the step moves."""
        return self.step.kv_bytes / self.step.bytes

    @property
    def flop_share(self) -> float:
        return self.step.attention_flops / self.step.flops

    def attention_time_s(self, accelerator: Accelerator, dtype: str = "bf16") -> float:
        """Attention on its own roofline: the cache read, or its FLOPs, whichever is slower."""
        return roofline.time_lower_bound_s(self.step.attention_flops, self.step.kv_bytes,
                                           accelerator.peak_flops(dtype), accelerator.bandwidth_Bps)

    def weights_time_s(self, accelerator: Accelerator, dtype: str = "bf16") -> float:
        return roofline.time_lower_bound_s(self.step.weight_flops, self.step.weight_bytes,
                                           accelerator.peak_flops(dtype), accelerator.bandwidth_Bps)

    def time_share(self, accelerator: Accelerator, dtype: str = "bf16") -> float:
        """Attention's share of the step when each part runs at its own roof, one after the other."""
        a, w = self.attention_time_s(accelerator, dtype), self.weights_time_s(accelerator, dtype)
        return a / (a + w)


def decode_share(m: ModelConfig, batch: int, context: int, dtype: str = "bf16") -> DecodeShare:
    return DecodeShare(roofline.decode_step(m, batch, context, dtype, dtype))


def crossover_context(m: ModelConfig, batch: int, dtype: str = "bf16") -> int | None:
    """Shortest context at which a decode step reads more cache than weights (None: never, within
    the model's maximum context)."""
    return roofline.cache_outweighs_weights_context(m, batch, dtype, dtype)


# ---- 2. naive attention against tiled attention (FlashAttention) ---------------------------


def naive_bytes_per_head(queries: int, keys: int, head_dim: int, element_bytes: int) -> float:
    """HBM traffic of attention that materialises the score matrix (FlashAttention paper,
    Algorithm 0): read Q and K, write S; read S, write P = softmax(S); read P and V, write O.
    (2 x queries + 2 x keys) x head_dim + 4 x queries x keys elements; a causal mask does not
    shrink the matrix a naive kernel writes."""
    for name, value in (("queries", queries), ("keys", keys), ("head_dim", head_dim), ("element_bytes", element_bytes)):
        require_positive_int(name, value)
    return float(((2 * queries + 2 * keys) * head_dim + 4 * queries * keys) * element_bytes)


def kv_block_rows(head_dim: int, sram_bytes: int, element_bytes: int) -> int:
    """Rows of a K (and of a V) block: B_c = ceil(M / 4d), M the on-chip SRAM in elements
    (Dao et al. 2022, 'FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness',
    arXiv:2205.14135, Algorithm 1, line 1)."""
    require_positive_int("head_dim", head_dim)
    require_positive_int("element_bytes", element_bytes)
    require_positive_int("sram_bytes", sram_bytes)
    return max(1, ceil(sram_bytes // element_bytes / (4 * head_dim)))


def q_block_rows(head_dim: int, sram_bytes: int, element_bytes: int) -> int:
    """Rows of a Q (and output) block: B_r = min(ceil(M / 4d), d) (FlashAttention, Algorithm 1,
    line 1). The cap at d leaves room for the B_r x B_c score block beside the Q, K, V and output
    blocks. At d = 128 in bf16 every SRAM of 128 KiB or more gives 128 query rows: the A100's
    164 KiB and the H100's 228 KiB alike (FlashAttention-2 and -3 also use 128-row query blocks
    at d = 128)."""
    return min(kv_block_rows(head_dim, sram_bytes, element_bytes), head_dim)


def tiled_bytes_per_head(queries: int, keys: int, head_dim: int, element_bytes: int, sram_bytes: int,
                         causal: bool = False, sharing: int = 1) -> float:
    """HBM traffic of tiled attention with an online softmax: Q read and O written once, K and V
    read once per block of B_r query rows (q_block_rows; FlashAttention-2's loop order, query
    blocks outside; the blocks each query block needs when causal; queries are the last `queries`
    of the `keys` positions). The score matrix never leaves the chip. Keys and values are
    2 x keys x head_dim x (queries / B_r): the paper's Theta(N^2 d^2 / M) while B_r = M / 4d.
    `sharing`: query heads that share each K and V tile read (a GQA group packed into one block,
    or hits in L2); 1 is the paper's bound, every query head reading its own."""
    for name, value in (("queries", queries), ("keys", keys), ("head_dim", head_dim)):
        require_positive_int(name, value)
    if causal and queries > keys:
        raise ValueError(f"causal attention has at most as many queries as keys, got {queries} > {keys}")
    rows = q_block_rows(head_dim, sram_bytes, element_bytes)
    blocks = ceil(queries / rows)
    # Causal: query block i (0-based) ends at min(queries, (i + 1) rows) and needs the keys up to
    # offset + that end (never beyond `keys`, as queries <= keys): summed over the blocks,
    # blocks x offset + rows x blocks (blocks - 1) / 2 + queries.
    offset = keys - queries
    kv_rows = blocks * offset + rows * blocks * (blocks - 1) // 2 + queries if causal else blocks * keys
    require_positive_int("sharing", sharing)
    return float((2 * queries * head_dim + 2 * kv_rows * head_dim / sharing) * element_bytes)


def prefill_memory_over_compute(tokens: int, head_dim: int, element_bytes: int, sram_bytes: int, peak_flops: float,
                                bandwidth_Bps: float, sharing: int = 1) -> float:
    """Tiled causal prefill attention's HBM time over its FLOPs' time at peak (tiled_bytes_per_head
    over prefill_flops_per_head; a layer's heads cancel): over 1 it is memory-bound, under 1
    compute-bound."""
    traffic = tiled_bytes_per_head(tokens, tokens, head_dim, element_bytes, sram_bytes, True, sharing)
    return (traffic / bandwidth_Bps) / (prefill_flops_per_head(tokens, head_dim) / peak_flops)


@dataclass(frozen=True)
class ComputeBoundLengths:
    """Where tiled causal prefill turns compute-bound, over the prompt lengths 1 to `max_tokens`.
    The ratio is not monotonic: it falls while a query block fills and jumps up when a new block
    starts (its K and V passes), so the first compute-bound length and the length from which every
    longer one stays compute-bound differ."""

    first_tokens: int | None  # the shortest compute-bound prompt (None: none up to max_tokens)
    from_tokens: int | None  # the shortest from which every prompt up to max_tokens is compute-bound
    max_tokens: int


def compute_bound_lengths(head_dim: int, element_bytes: int, sram_bytes: int, peak_flops: float, bandwidth_Bps: float,
                          max_tokens: int, sharing: int = 1) -> ComputeBoundLengths:
    """Every prompt length from 1 to `max_tokens` checked with prefill_memory_over_compute."""
    require_positive_int("max_tokens", max_tokens)
    bound = [prefill_memory_over_compute(n, head_dim, element_bytes, sram_bytes, peak_flops, bandwidth_Bps, sharing) < 1
             for n in range(1, max_tokens + 1)]
    first = next((n for n, b in enumerate(bound, 1) if b), None)
    last_memory = next((max_tokens - i for i, b in enumerate(reversed(bound)) if not b), 0)
    return ComputeBoundLengths(first, last_memory + 1 if last_memory < max_tokens else None, max_tokens)


def score_matrix_bytes(queries: int, keys: int, element_bytes: int) -> float:
    """One head's scores, queries x keys: what naive attention writes and reads back, twice."""
    return float(queries * keys * element_bytes)


def prefill_flops_per_head(tokens: int, head_dim: int, causal: bool = True) -> float:
    """QK^T and PV of a prompt, one head: 4 x head_dim per query-key pair; causal: the lower
    triangle, diagonal included, T(T+1)/2 pairs (about half the square)."""
    require_positive_int("tokens", tokens)
    pairs = tokens * (tokens + 1) / 2 if causal else tokens * tokens
    return 4.0 * head_dim * pairs


# ---- 3. split-KV (Flash-Decoding) ----------------------------------------------------------

#: Keys per block of FlashAttention-2's split-KV decode kernel by head dimension (flash_api.cpp,
#: set_params_splitkv: 256 up to 64, 128 up to 128, else 64).
def kv_block_tokens(head_dim: int) -> int:
    return 256 if head_dim <= 64 else 128 if head_dim <= 128 else 64


def blocks_in_flight(batch: int, kv_heads: int, splits: int = 1) -> int:
    """Thread blocks a decode attention launch has: one per sequence, KV head and split (a GQA
    decode kernel packs a KV head's query heads into one block)."""
    for name, value in (("batch", batch), ("kv_heads", kv_heads), ("splits", splits)):
        require_positive_int(name, value)
    return batch * kv_heads * splits


def wave_efficiency(blocks: int, slots: int) -> float:
    """Share of the GPU's block slots busy, averaged over the launch's waves: blocks / (waves x slots)."""
    require_positive_int("blocks", blocks)
    require_positive_int("slots", slots)
    return blocks / (ceil(blocks / slots) * slots)


def splits_for(batch: int, kv_heads: int, context: int, head_dim: int, sm_count: int, blocks_per_sm: int = 2,
               max_splits: int = 128) -> int:
    """The split count FlashAttention-2's decode picks (num_splits_heuristic, restated): one split
    once the launch has 80 % of the slots (SMs x blocks_per_sm) in blocks; otherwise, of the split
    counts up to the smallest of max_splits, the slots and the KV blocks, each of which changes the
    blocks per split, the smallest whose wave efficiency is within 85 % of the best."""
    base = blocks_in_flight(batch, kv_heads)
    slots = sm_count * blocks_per_sm
    if base >= 0.8 * slots:
        return 1
    kv_blocks = ceil(require_int("context", context, 1) / kv_block_tokens(head_dim))
    limit = min(max_splits, slots, kv_blocks)
    eligible = [s for s in range(1, limit + 1) if s == 1 or ceil(kv_blocks / s) != ceil(kv_blocks / (s - 1))]
    efficiency = {s: wave_efficiency(base * s, slots) for s in eligible}
    best = max(efficiency.values())
    return next(s for s in eligible if efficiency[s] >= 0.85 * best)


def merge_bytes(batch: int, heads: int, head_dim: int, splits: int) -> float:
    """Extra HBM traffic of splitting: each split writes its partial output (fp32, head_dim) and its
    log-sum-exp (fp32) per query head, and the merge reads them back. Zero for one split."""
    if splits == 1:
        return 0.0
    return 2.0 * splits * batch * heads * (head_dim + 1) * 4


# ---- 4. paged attention ----------------------------------------------------------------------


def paged_waste_tokens(tokens: int, block_tokens: int) -> int:
    """Slots a sequence of `tokens` leaves empty in its last block (chapter 3's Policy.held_tokens)."""
    return Policy("paged", block_tokens=block_tokens).held_tokens(tokens) - tokens


def mean_paged_waste(block_tokens: int) -> float:
    """Empty slots per sequence averaged over lengths spread evenly across a block: (block - 1) / 2."""
    return sum(paged_waste_tokens(t, block_tokens) for t in range(1, block_tokens + 1)) / block_tokens


def block_table_bytes(tokens: int, block_tokens: int, entry_bytes: int = 4) -> float:
    """The block table one sequence's attention reads: one int32 entry per block, per layer call."""
    return float(ceil(tokens / block_tokens) * entry_bytes)


def paged_overhead(m: ModelConfig, tokens: int, block_tokens: int, dtype: str = "bf16") -> float:
    """Extra reads of paging over a contiguous cache for one sequence's attention, one layer: the
    block table over the layer's cache bytes. (The empty slots of the last block are not read.)"""
    per_layer = kv_cache.bytes_per_token(m, dtype) / m.n_layers * tokens
    return block_table_bytes(tokens, block_tokens) / per_layer

