"""Values, claims, tables and figures of docs/06_attention.md (chapter 6)."""

from __future__ import annotations

import math

from pages import recorded
from pages.claims import claim
from pages.store import cached
from snippets import attention, hardware, kv_cache, models, roofline
from snippets.report import markdown_table
from snippets.serving import Policy
from snippets.units import GB, GiB, KiB, MiB
from vis import chapter6

PAGE = "06_attention.md"

# ---- the page's parameters: prose, tables and figures all read these ---------------------
GPU = "H100 SXM"
MODEL = "Llama-3.1-8B"
DTYPE = "bf16"  # weights, cache and math
BATCHES = (1, 32)
CONTEXTS = (1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)
SHORT, LONG = 8192, 131072  # the prefill lengths the prose quotes
SPLIT_CONTEXT = 32768  # the split-KV passage's context
MLA_MODEL = "DeepSeek-V3"
WINDOW_MODELS = ("Mistral-7B-v0.1", "Gemma-2-9B")
BLOCK_SIZES = (1, 8, 16, 32, 128, 256)
PAGED_TOKENS = 2048  # a sequence's length in the paging table
MEASURED_GPU = "H200 SXM"  # the recorded run that timed attention alone

gpu = hardware.get(GPU)
model = models.get(MODEL)
element = 2  # bytes of a bf16 element
heads, kv_heads, head_dim, layers = model.n_heads, model.n_kv_heads, model.head_dim, model.n_layers
sm = attention.sms(gpu)
sram_KiB = sm.smem_per_sm_KiB
a100 = hardware.get("A100 80GB SXM")
a100_sram_KiB = attention.sms(a100).smem_per_sm_KiB

# ---- 1. attention's share of a decode step ----------------------------------------------
group = attention.group_size(model)
intensity = kv_cache.attention_intensity(model, DTYPE)
ridge = gpu.ridge_point(DTYPE)
kv_KiB = kv_cache.bytes_per_token(model, DTYPE) / KiB
weights_GB = roofline.decode_step(model, 1, 0, DTYPE, DTYPE).weight_bytes / GB
intensity_is_group = claim("decode attention's intensity is the GQA group size, in bf16, to within 1 %",
                           abs(intensity / group - 1) < 0.01)
attention_memory_bound = claim(
    "decode attention sits far below the ridge (under a fiftieth of it) at every batch and context: its intensity "
    "does not depend on either", intensity < ridge / 50)
cross = {b: attention.crossover_context(model, b, DTYPE) for b in BATCHES}
cross_1, cross_32 = cross[1], cross[32]
crossover_within_context = claim(
    "at batch 1 the cache outweighs the weights only near the end of the model's context window (past 80 % of it)",
    cross_1 is not None and 0.8 * model.max_position_embeddings < cross_1 <= model.max_position_embeddings)
crossover_scales_with_batch = claim(
    "the crossover context falls in proportion to the batch (batch 32: within 1 % of the batch-1 context / 32)",
    abs(cross_32 / (cross_1 / 32) - 1) < 0.01)


def fits(batch: int, context: int) -> bool:
    """Whether `batch` sequences of `context` tokens fit beside the weights (kv_cache.max_batch)."""
    return kv_cache.max_batch(model, gpu, context, DTYPE, DTYPE) >= batch


def share(batch: int, context: int) -> float:
    """Attention's share of the decode step's time bound, each part at its own roof."""
    return attention.decode_share(model, batch, context, DTYPE).time_share(gpu, DTYPE)


share_1_short, share_1_long = share(1, SHORT), share(1, LONG)
longest_32 = max(c for c in CONTEXTS if fits(32, c))  # the longest context of the table at which 32 sequences fit
max_batch_long = kv_cache.max_batch(model, gpu, LONG, DTYPE, DTYPE)
share_32_short, share_32_longest = share(32, SHORT), share(32, longest_32)
batch_32_stops_fitting = claim("32 sequences fit on the H100 up to 16k tokens of the table and not beyond: the batch-32 "
                               "column stops there", all(fits(32, c) == (c <= longest_32) for c in CONTEXTS)
                               and SHORT < longest_32 < LONG and max_batch_long < 32)
step_1_long_ms = roofline.decode_step(model, 1, LONG, DTYPE, DTYPE).time_s(gpu) * 1e3
step_1_zero_ms = roofline.decode_step(model, 1, 1, DTYPE, DTYPE).time_s(gpu) * 1e3
share_grows = claim("attention's share grows with the context at both batches, over the contexts at which the batch fits",
                    all(share(b, a) < share(b, c) for b in BATCHES for a, c in zip(CONTEXTS, CONTEXTS[1:]) if fits(b, c)))
share_small_at_8k_batch_1 = claim("at batch 1 and 8k tokens attention is under a tenth of the step",
                                  share_1_short < 0.1)
share_dominates_at_batch_32 = claim("at batch 32 attention is most of the step from 8k tokens on, at every context "
                                    "at which 32 sequences fit",
                                    all(share(32, c) > 0.5 for c in CONTEXTS if c >= SHORT and fits(32, c)))
share_equals_bytes = claim("both parts are memory-bound at every point of the table (every batch and context that fits), "
                           "so time shares equal byte shares",
                           all(abs(share(b, c) - attention.decode_share(model, b, c, DTYPE).byte_share) < 1e-9
                               for b in BATCHES for c in CONTEXTS if fits(b, c)))


def share_table() -> str:
    rows = []
    for c in CONTEXTS:
        cells = [f"{c:,}"]
        for b in BATCHES:
            s = attention.decode_share(model, b, c, DTYPE)
            if fits(b, c):
                cells += [f"{s.step.kv_bytes / GB:.2f}", f"{s.time_share(gpu, DTYPE):.0%}"]
            else:
                cells += [f"{s.step.kv_bytes / GB:.2f}, does not fit",
                          f"does not fit (at most {kv_cache.max_batch(model, gpu, c, DTYPE, DTYPE)})"]
        rows.append(cells)
    return markdown_table(["context", "cache GB, batch 1", "attention share, batch 1", "cache GB, batch 32",
                           "attention share, batch 32"], rows)


# MLA (DeepSeek-V3, absorbed form) and sliding windows (Mistral, Gemma-2) beside it.
mla = models.get(MLA_MODEL)
mla_intensity = kv_cache.attention_intensity(mla, DTYPE)
mla_KiB = kv_cache.bytes_per_token(mla, DTYPE) / KiB
mla_share_of_ridge = mla_intensity / ridge
mla_near_ridge = claim("MLA's absorbed decode attention comes within a factor of 2 of the H100's ridge, over 50 times "
                       "Llama's intensity", ridge / 2 < mla_intensity < ridge and mla_intensity > 50 * intensity)
windows = {name: models.get(name) for name in WINDOW_MODELS}


def window_row(m: models.ModelConfig) -> list[str]:
    full = kv_cache.bytes_per_token(m, DTYPE) * m.max_position_embeddings
    held = kv_cache.bytes_per_sequence(m, m.max_position_embeddings, DTYPE)
    return [m.name, f"{m.sliding_window:,}", f"{kv_cache.windowed_layers(m)} of {m.n_layers}",
            f"{m.max_position_embeddings:,}", f"{full / GiB:.2f}", f"{held / GiB:.2f}", f"{held / full:.0%}"]


def window_table() -> str:
    return markdown_table(["model", "window", "windowed layers", "context", "full cache GiB", "held GiB", "read"],
                          [window_row(m) for m in windows.values()])


mistral, gemma = windows["Mistral-7B-v0.1"], windows["Gemma-2-9B"]
mistral_read = kv_cache.bytes_per_sequence(mistral, mistral.max_position_embeddings, DTYPE) / (
    kv_cache.bytes_per_token(mistral, DTYPE) * mistral.max_position_embeddings)
gemma_read = kv_cache.bytes_per_sequence(gemma, gemma.max_position_embeddings, DTYPE) / (
    kv_cache.bytes_per_token(gemma, DTYPE) * gemma.max_position_embeddings)
MISTRAL_PAPER_CONTEXT = 8192  # Jiang et al. 2023, 'Mistral 7B', arXiv:2310.06825, Table 1 (context_len 8192)
mistral_read_paper = kv_cache.bytes_per_sequence(mistral, MISTRAL_PAPER_CONTEXT, DTYPE) / (
    kv_cache.bytes_per_token(mistral, DTYPE) * MISTRAL_PAPER_CONTEXT)
mistral_paper_halves = claim("at the Mistral paper's 8,192-token context the window saves exactly half",
                             abs(mistral_read_paper - 1 / 2) < 1e-9)
window_caps_mistral = claim("Mistral's window caps what a step reads at an eighth of the full cache at its configured 32k "
                            "maximum context",
                            abs(mistral_read - 1 / 8) < 1e-9)
gemma_halves_at_most = claim("Gemma-2 keeps its global layers whole, so at its 8k context the window saves at most half",
                             0.5 <= gemma_read < 1)

# ---- 2. naive attention against tiled attention ------------------------------------------
NAIVE_TOKENS = SHORT


def naive_layer_bytes(tokens: int) -> float:
    return heads * attention.naive_bytes_per_head(tokens, tokens, head_dim, element)


def tiled_layer_bytes(tokens: int, sram_KiB_: int = sram_KiB, causal: bool = True, sharing: int = 1) -> float:
    return heads * attention.tiled_bytes_per_head(tokens, tokens, head_dim, element, sram_KiB_ * KiB, causal, sharing)


def layer_flops(tokens: int, causal: bool = True) -> float:
    return heads * attention.prefill_flops_per_head(tokens, head_dim, causal)


q_rows = attention.q_block_rows(head_dim, sram_KiB * KiB, element)  # B_r, FlashAttention's Algorithm 1
kv_rows = attention.kv_block_rows(head_dim, sram_KiB * KiB, element)  # B_c = ceil(M / 4d)
four_tiles_KiB = 4 * kv_rows * head_dim * element / KiB  # four tiles of B_c rows: all of the SRAM
four_tiles_fill_sram = claim("four tiles of ceil(M / 4d) rows would fill the H100's shared memory, leaving none for the "
                             "score block: the query block is capped at d rows", four_tiles_KiB >= sram_KiB and q_rows == head_dim)
# Counted exactly, not in the paper's big-O: Q and output blocks of B_r rows, K and V blocks of
# B_c rows, and the B_r x B_c score block, all bf16.
q_block_KiB = q_rows * head_dim * element / KiB
kv_block_KiB = kv_rows * head_dim * element / KiB
score_block_KiB = q_rows * kv_rows * element / KiB
blocks_and_scores_KiB = 2 * q_block_KiB + 2 * kv_block_KiB + score_block_KiB
paper_blocks_overflow = claim("counted exactly in bf16, the Q, K, V and output blocks of Algorithm 1 plus its score "
                              "block exceed the H100's shared memory per SM", blocks_and_scores_KiB > sram_KiB)
naive_GB = naive_layer_bytes(NAIVE_TOKENS) / GB
tiled_GB = tiled_layer_bytes(NAIVE_TOKENS) / GB
naive_over_tiled = naive_GB / tiled_GB
scores_GB = heads * attention.score_matrix_bytes(NAIVE_TOKENS, NAIVE_TOKENS, element) / GB
layer_GFLOP = layer_flops(NAIVE_TOKENS) / 1e9
naive_ms = roofline.time_lower_bound_s(layer_flops(NAIVE_TOKENS), naive_layer_bytes(NAIVE_TOKENS), gpu.peak_flops(DTYPE),
                                       gpu.bandwidth_Bps) * 1e3
compute_ms = layer_flops(NAIVE_TOKENS) / gpu.peak_flops(DTYPE) * 1e3
naive_memory_bound = claim("at 8k tokens naive attention is memory-bound, several times (over 5x) slower than its compute",
                           naive_ms > 5 * compute_ms)
tiled_memory_ms = tiled_layer_bytes(NAIVE_TOKENS) / gpu.bandwidth_Bps * 1e3
tiled_over_compute = tiled_memory_ms / compute_ms
shared_GB = tiled_layer_bytes(NAIVE_TOKENS, sharing=group) / GB
shared_memory_ms = shared_GB * GB / gpu.bandwidth_Bps * 1e3
tiled_memory_bound = claim("tiled, with every query head reading its own K and V tiles, the layer's memory time is over "
                           "twice its compute time: still memory-bound", tiled_memory_ms > 2 * compute_ms)
tiled_compute_bound = claim("with the group's query heads sharing each K and V tile, the traffic takes less time than "
                            "the FLOPs: compute-bound", shared_memory_ms < compute_ms)
scores_dominate_naive = claim("the score matrix's round trips are over 95 % of naive attention's traffic",
                              4 * scores_GB / naive_GB > 0.95)
long_scores_GB = heads * attention.score_matrix_bytes(LONG, LONG, element) / GB
long_head_scores_GB = attention.score_matrix_bytes(LONG, LONG, element) / GB
long_scores_exceed_memory = claim("at 128k tokens one layer's score matrices alone exceed the H100's memory",
                                  long_scores_GB * GB > gpu.memory_bytes)
long_head_scores_fit = claim("one head's 128k score matrix fits beside the weights in the H100's usable memory",
                             long_head_scores_GB * GB < gpu.usable_memory_bytes() - roofline.decode_step(
                                 model, 1, 0, DTYPE, DTYPE).weight_bytes)
a100_q_rows = attention.q_block_rows(head_dim, a100_sram_KiB * KiB, element)
tiled_a100_GB = tiled_layer_bytes(NAIVE_TOKENS, a100_sram_KiB) / GB
a100_same_tiles = claim("the A100's smaller shared memory gives the same 128-row query blocks, so the same traffic",
                        a100_q_rows == q_rows == head_dim and tiled_a100_GB == tiled_GB)
cap_sram_KiB = 4 * head_dim * head_dim * element / KiB  # B_r reaches d once M / 4d >= d: M >= 4 d^2 elements
blocks_shrink_below_cap = claim("only an SRAM under 4 d^2 elements gives Q blocks of fewer than d rows",
                                attention.q_block_rows(head_dim, int(cap_sram_KiB * KiB), element) == head_dim
                                and attention.q_block_rows(head_dim, int(cap_sram_KiB * KiB) - KiB, element) < head_dim)
SRAM_SIZES_KiB = (100, a100_sram_KiB, sram_KiB)
TRAFFIC_TOKENS = (1024, 2048, 4096, SHORT, 16384, 32768, 65536, LONG)


def memory_over_compute(tokens: int, sharing: int = 1) -> float:
    """Tiled attention's memory time over its compute time, one layer, causal: over 1 is memory-bound."""
    return attention.prefill_memory_over_compute(tokens, head_dim, element, sram_KiB * KiB, gpu.peak_flops(DTYPE),
                                                 gpu.bandwidth_Bps, sharing)


own_limit = gpu.peak_flops(DTYPE) / (q_rows * gpu.bandwidth_Bps)  # long prompts: 2 N^2 d / B_r bytes over 2 d N^2 FLOPs
own_memory_bound_everywhere = claim(
    "each query head reading its own tiles, tiled prefill attention is memory-bound at every prompt length of the table, "
    "over twice its compute time", all(memory_over_compute(n) > 2 for n in TRAFFIC_TOKENS) and own_limit > 2)
# Where the group's sharing makes it compute-bound: every prompt length up to the model's context
# checked (attention.compute_bound_lengths), the one definition the prose and the figure cite.
shared_bound = cached(attention.compute_bound_lengths, head_dim, element, sram_KiB * KiB, gpu.peak_flops(DTYPE),
                      gpu.bandwidth_Bps, model.max_position_embeddings, group)
shared_compute_bound_from, shared_first_compute_bound = shared_bound.from_tokens, shared_bound.first_tokens
max_context = model.max_position_embeddings


def shared_ratios(max_tokens: int) -> list[float]:
    """memory_over_compute, the group sharing each tile, at every prompt length 1 to `max_tokens`."""
    return [memory_over_compute(n, group) for n in range(1, max_tokens + 1)]


_shared_ratio = cached(shared_ratios, max_context)  # [n - 1]: at n tokens
_ratios_from = _shared_ratio[shared_compute_bound_from - 1:]  # every length from the printed one to the context
shared_short_memory_bound = claim(
    "with the group sharing each tile it is compute-bound at every prompt length from the printed 'from' length up to "
    "the model's context, memory-bound at every length below the printed first one, and both in between",
    shared_first_compute_bound < shared_compute_bound_from and all(r < 1 for r in _ratios_from)
    and all(r > 1 for r in _shared_ratio[:shared_first_compute_bound - 1])
    and {r < 1 for r in _shared_ratio[shared_first_compute_bound - 1:shared_compute_bound_from - 1]} == {True, False})
tiling_compute_bound_only_shared = claim(
    "tiled prefill attention is compute-bound at every length from the printed one to the model's context only where "
    "the group shares each tile; with every head reading its own tiles it is memory-bound at every length of the table",
    all(r < 1 for r in _ratios_from) and all(memory_over_compute(t) > 1 for t in TRAFFIC_TOKENS))
table_short, table_next = TRAFFIC_TOKENS[0], TRAFFIC_TOKENS[1]
table_either_side = claim("the table's lengths fall either side: memory-bound at its shortest with sharing, "
                          "compute-bound from its second on", all((_shared_ratio[t - 1] < 1) == (t >= shared_compute_bound_from) for t in TRAFFIC_TOKENS)
                          and TRAFFIC_TOKENS[0] < shared_first_compute_bound
                          and TRAFFIC_TOKENS[1] >= shared_compute_bound_from)


def traffic_table() -> str:
    rows = []
    for n in TRAFFIC_TOKENS:
        flops_GB = layer_flops(n) / gpu.peak_flops(DTYPE) * gpu.bandwidth_Bps / GB
        rows.append([f"{n:,}", f"{naive_layer_bytes(n) / GB:,.1f}", f"{tiled_layer_bytes(n) / GB:,.2f}",
                     f"{tiled_layer_bytes(n, sharing=group) / GB:,.2f}", f"{flops_GB:,.2f}",
                     f"{naive_layer_bytes(n) / tiled_layer_bytes(n):.1f}x"])
    return markdown_table(["prompt tokens", "naive GB", "tiled GB, own tiles", f"tiled GB, {group} heads share a tile",
                           "GB moved in the FLOPs' time", "naive / tiled"], rows)


# ---- 3. split-KV -------------------------------------------------------------------------
slots = sm.sms * 2  # FlashAttention-2's decode kernel: 128 threads a block, two blocks an SM
blocks_1 = attention.blocks_in_flight(1, kv_heads)
busy_1 = attention.wave_efficiency(blocks_1, slots)
sms_busy_1 = min(blocks_1, sm.sms) / sm.sms  # SMs with at least one block (one block an SM while blocks < SMs)
splits_1 = attention.splits_for(1, kv_heads, SPLIT_CONTEXT, head_dim, sm.sms)
busy_1_split = attention.wave_efficiency(attention.blocks_in_flight(1, kv_heads, splits_1), slots)
merge_KiB = attention.merge_bytes(1, heads, head_dim, splits_1) / KiB
cache_layer_MiB = kv_cache.bytes_per_token(model, DTYPE) / layers * SPLIT_CONTEXT / MiB
merge_share = merge_KiB * KiB / (cache_layer_MiB * MiB)
SPLIT_BATCHES = tuple(range(1, 65))
no_split_from = next(b for b in SPLIT_BATCHES if attention.splits_for(b, kv_heads, SPLIT_CONTEXT, head_dim, sm.sms) == 1)
batch_1_idles = claim("unsplit at batch 1, over 95 % of the block slots sit idle", busy_1 < 0.05)
split_fills = claim("split, the launch fills over 80 % of the slots", busy_1_split > 0.8)
merge_cheap = claim("the merge's extra traffic is under 1 % of the cache the layer reads", merge_share < 0.01)
splitting_stops = claim("from this batch on every batch up to 64 runs unsplit",
                        all(attention.splits_for(b, kv_heads, SPLIT_CONTEXT, head_dim, sm.sms) == 1
                            for b in SPLIT_BATCHES if b >= no_split_from))


def splits_table() -> str:
    rows = []
    for b in (1, 2, 4, 8, 16, no_split_from - 1, no_split_from, 32):
        s = attention.splits_for(b, kv_heads, SPLIT_CONTEXT, head_dim, sm.sms)
        plain = attention.wave_efficiency(attention.blocks_in_flight(b, kv_heads), slots)
        split = attention.wave_efficiency(attention.blocks_in_flight(b, kv_heads, s), slots)
        rows.append([f"{b}", f"{attention.blocks_in_flight(b, kv_heads)}", f"{plain:.0%}", f"{s}", f"{split:.0%}"])
    return markdown_table(["batch", "blocks unsplit", "slots busy", "splits", "slots busy, split"], rows)


# ---- 4. paged attention -------------------------------------------------------------------
chapter3_block = Policy("chapter 3").block_tokens
waste_16 = attention.mean_paged_waste(chapter3_block)
waste_16_MiB = waste_16 * kv_cache.bytes_per_token(model, DTYPE) / MiB
table_share_16 = attention.paged_overhead(model, PAGED_TOKENS, chapter3_block, DTYPE)
waste_256 = attention.mean_paged_waste(256)
waste_half_block = claim("a sequence wastes half a block less half a token on average, whatever the block size",
                         all(abs(attention.mean_paged_waste(b) - (b - 1) / 2) < 1e-9 for b in BLOCK_SIZES))
table_reads_tiny = claim("the block table adds under a thousandth to a layer's cache reads at every block size of the "
                         "table, one token included",
                         all(attention.paged_overhead(model, PAGED_TOKENS, b, DTYPE) < 1e-3 for b in BLOCK_SIZES)
                         and min(BLOCK_SIZES) == 1)


def paged_table() -> str:
    per_token = kv_cache.bytes_per_token(model, DTYPE)
    rows = [[f"{b}", f"{attention.mean_paged_waste(b):.1f}", f"{attention.mean_paged_waste(b) * per_token / MiB:.2f}",
             f"{attention.mean_paged_waste(b) / PAGED_TOKENS:.2%}", f"{attention.paged_overhead(model, PAGED_TOKENS, b, DTYPE):.4%}"]
            for b in BLOCK_SIZES]
    return markdown_table(["block tokens", "empty slots a sequence", "MiB a sequence", f"of {PAGED_TOKENS:,} tokens",
                           "table reads / cache reads"], rows)


# ---- 5. prefill attention -------------------------------------------------------------------
def prefill_share(tokens: int) -> float:
    p = roofline.prefill(model, tokens, DTYPE, DTYPE)
    return p.attention_flops / p.flops


prefill_share_short, prefill_share_long = prefill_share(SHORT), prefill_share(LONG)
causal_half = attention.prefill_flops_per_head(SHORT, head_dim) / attention.prefill_flops_per_head(SHORT, head_dim, False)
causal_is_half = claim("causal attention is half the square, plus the diagonal's half", abs(causal_half - (SHORT + 1) / (2 * SHORT)) < 1e-12)
prefill_attention_grows = claim("attention is a minority of prefill FLOPs at 8k tokens and most of them at 128k",
                                prefill_share_short < 0.5 < prefill_share_long)
fa2_a100, fa2_h100, fa3_h100, cudnn_h100, fa3_headline = (attention.published(n) for n in (
    "FlashAttention-2 on A100", "FlashAttention-2 on H100", "FlashAttention-3 on H100", "cuDNN on H100",
    "FlashAttention-3 headline"))


def _pct_peak(row) -> float:
    return row.TFLOPS * 1e12 / hardware.get(row.spec_name).peak_flops("bf16")


fa2_a100_pct, fa2_h100_pct, fa3_h100_pct, fa3_headline_pct = map(_pct_peak, (fa2_a100, fa2_h100, fa3_h100, fa3_headline))
a100_peak_TFLOPS = a100.peak_flops("bf16") / 1e12
fa2_a100_paper_pct = math.floor(fa2_a100_pct * 100) / 100  # the FlashAttention-2 paper's "73%": the share rounded down
headline_is_head_dim_256 = claim("the 740 TFLOPS figure is at head dimension 256; at 128 the paper's own figure is lower",
                                 fa3_headline.head_dim == 256 and fa3_h100.head_dim == 128 and fa3_h100.TFLOPS < fa3_headline.TFLOPS)
fa3_doubles_fa2 = claim("on the H100 FlashAttention-3 is over 1.5 times FlashAttention-2 at head dimension 128",
                        fa3_h100.TFLOPS > 1.5 * fa2_h100.TFLOPS)


def published_table() -> str:
    rows = [[r.kernel, hardware.get(r.spec_name).name, f"{r.head_dim}" if r.head_dim else "not stated",
             f"{r.seq_len:,}" if r.seq_len else "the paper's 'up to'",
             "yes" if r.causal else "no", f"{r.TFLOPS:,.0f}", f"{_pct_peak(r):.1%}", r.source.split(",")[0]
             + (", " + r.source.split("arXiv:")[1].split(",")[0] if "arXiv:" in r.source else "")]
            for r in attention.published_kernels()]
    return markdown_table(["kernel", "GPU", "head dim", "tokens", "causal", "TFLOPS", "of peak", "source"], rows)


# ---- 6. measured: the recorded run that timed attention alone -------------------------------
measured_gpu = hardware.get(MEASURED_GPU)
_run = recorded.run_for(measured_gpu.name, MODEL, DTYPE, "attention")
_rows = _run["attention"]
measured_context = _run["settings"]["context"]
measured_file = _run["file"]
measured_kernels = sorted({r["kernel"] for r in _rows})
measured_refusals = [n for n in _run["notes"] if n.startswith("attention ") and " refused " in n]
refused_kernels = sorted({n.split()[1] for n in measured_refusals})
efficient_refused = claim("the memory-efficient backend refused every shape of the run, with its reason recorded",
                          refused_kernels == ["efficient"] and "efficient" not in measured_kernels
                          and all("No available kernel" in n for n in measured_refusals))
no_h100_attention = claim("no recorded H100 run timed attention alone", not any(
    d.get("attention") for d in recorded.load_all() if d["device"].get("spec_name") == gpu.name))
no_context_sweep = claim("the recorded run timed decode attention at one context only",
                         {r["context"] for r in _rows if r["case"] == "decode"} == {measured_context})


def _best(case: str, batch: int, tokens: int) -> dict:
    return min((r for r in _rows if r["case"] == case and r["batch"] == batch and r["tokens"] == tokens),
               key=lambda r: r["median_s"])


def _decode_bound_s(batch: int) -> float:
    r = _best("decode", batch, 1)
    return roofline.time_lower_bound_s(r["flops"], r["bytes"], measured_gpu.peak_flops(DTYPE), measured_gpu.bandwidth_Bps)


measured_1, measured_32 = _best("decode", 1, 1), _best("decode", 32, 1)
measured_1_us, measured_32_us = measured_1["median_s"] * 1e6, measured_32["median_s"] * 1e6
measured_1_pct = _decode_bound_s(1) / measured_1["median_s"]
measured_32_pct = _decode_bound_s(32) / measured_32["median_s"]
measured_1_kernel, measured_32_kernel = measured_1["kernel"], measured_32["kernel"]
batch_1_far_from_bound = claim("at batch 1 the fastest kernel reaches under a tenth of its bound; at batch 32 over half",
                               measured_1_pct < 0.1 and measured_32_pct > 0.5)
_longest = max(r["tokens"] for r in _rows if r["case"] == "prefill")
prefill_tokens_measured = _longest
prefill_best = _best("prefill", 1, _longest)
prefill_best_TFLOPS = prefill_best["TFLOPS"]
prefill_best_kernel = prefill_best["kernel"]
prefill_best_pct = prefill_best_TFLOPS * 1e12 / measured_gpu.peak_flops(DTYPE)
prefill_flash = next(r for r in _rows if r["case"] == "prefill" and r["tokens"] == _longest and r["kernel"] == "flash")
prefill_flash_TFLOPS = prefill_flash["TFLOPS"]
cudnn_beats_flash = claim("at the longest prompt timed cuDNN's kernel runs well ahead (over 1.5x) of FlashAttention-2",
                          prefill_best_kernel in ("cudnn", "sdpa") and prefill_best_TFLOPS > 1.5 * prefill_flash_TFLOPS)
measured_near_published = claim("the measured FlashAttention-2 (causal, 8k, H200) sits within 20 % of the FlashAttention-3 "
                                "paper's FlashAttention-2 on the H100 (no mask, 16k): not like for like",
                                abs(prefill_flash_TFLOPS / fa2_h100.TFLOPS - 1) < 0.2 and not fa2_h100.causal
                                and prefill_flash["tokens"] > 1  # the bench's prefill is causal (bench.attention)
                                and fa2_h100.seq_len != prefill_tokens_measured)


def measured_table() -> str:
    rows = []
    for case, batch, tokens in [("decode", b, 1) for b in BATCHES] + [("prefill", 1, t) for t in
                                                                      sorted({r["tokens"] for r in _rows if r["case"] == "prefill"})]:
        for r in sorted((r for r in _rows if (r["case"], r["batch"], r["tokens"]) == (case, batch, tokens)),
                        key=lambda r: r["kernel"]):
            bound = roofline.time_lower_bound_s(r["flops"], r["bytes"], measured_gpu.peak_flops(DTYPE), measured_gpu.bandwidth_Bps)
            rows.append([case, f"{batch}", f"{tokens:,}", f"{r['context']:,}", r["kernel"], f"{r['median_s'] * 1e6:,.1f}",
                         f"{bound * 1e6:,.1f}", f"{bound / r['median_s']:.0%}"])
    return markdown_table(["case", "batch", "new tokens", "keys", "kernel", "µs (median)", "bound µs", "of bound"], rows)


# ---- figures ----------------------------------------------------------------------------------
def share_figure() -> str:
    return cached(chapter6.attention_share, GPU, MODEL, DTYPE, BATCHES, (MLA_MODEL,))


def traffic_figure() -> str:
    return cached(chapter6.naive_vs_tiled, GPU, MODEL, SRAM_SIZES_KiB)


def splits_figure() -> str:
    return cached(chapter6.split_occupancy, GPU, MODEL, SPLIT_CONTEXT)


def measured_figure() -> str:
    points = tuple((r["kernel"], r["case"], r["batch"], r["tokens"], r["median_s"], r["flops"], r["bytes"]) for r in _rows)
    return cached(chapter6.measured_vs_bound, MEASURED_GPU, DTYPE, points, measured_file)


FIGURES = {
    "attention_share_h100": share_figure,
    "attention_traffic_h100": traffic_figure,
    "attention_splits_h100": splits_figure,
}


# ---- Editable cells (pages/cells.py) -------------------------------------------------------
from pages.cells import cell  # noqa: E402 - the cells read the values above

cache_share_cell = cell('''
    weight_bytes = $weights  # $model's weights read per decode step, $dtype
    per_token = formulas.kv_bytes_per_token(formulas.mha_elements_per_token($layers, $kv_heads, $head_dim), "$dtype")
    bandwidth_Bps = $bandwidth  # $gpu
    batch = 1
    for context in (4096, 32768, 131072):
        cache_bytes = formulas.kv_bytes_for_batch(per_token, context, batch)
        step_ms = (weight_bytes + cache_bytes) / bandwidth_Bps * 1e3
        print(f"context {context:>7,}: the cache is {cache_bytes / (weight_bytes + cache_bytes):4.0%} of the bytes,"
              f" {step_ms:5.2f} ms per step at best")
''', weights=roofline.decode_step(model, 1, 0, DTYPE, DTYPE).weight_bytes, model=MODEL, dtype=DTYPE,
    layers=layers, kv_heads=kv_heads, head_dim=head_dim, bandwidth=gpu.bandwidth_Bps, gpu=GPU)

block_waste_cell = cell('''
    per_token = formulas.kv_bytes_per_token(formulas.mha_elements_per_token($layers, $kv_heads, $head_dim), "$dtype")
    tokens = $tokens  # one sequence's length so far
    for block in (1, 16, 256):  # tokens per cache block
        blocks = -(-tokens // block)  # the last block is allocated whole
        wasted = blocks * block - tokens
        print(f"block {block:>3}: {blocks:>4} blocks, {wasted:>3} empty slots, {wasted * per_token / 2**10:6.0f} KiB unused")
''', layers=layers, kv_heads=kv_heads, head_dim=head_dim, dtype=DTYPE, tokens=PAGED_TOKENS + 100)
