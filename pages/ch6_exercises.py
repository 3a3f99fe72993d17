"""Values and claims of chapter 6's exercises (the end of docs/06_attention.md).

Every number a question or an answer prints is computed here from the data files, and every
verdict is asserted: if the data change so that an answer flips, the build fails.
"""

from __future__ import annotations

import math

from pages import recorded
from pages.claims import ClaimFailed, claim
from pages.exercises import Exercise
from snippets import attention, hardware, kv_cache, models, parallel, roofline
from snippets.units import GB, GiB, KiB

PAGE = "06_attention.md"
CHAPTER_TITLE = "Chapter 6: Attention at long context"

EXERCISES = (
    Exercise("6.1", 6, "When does Qwen2.5-7B's cache outweigh its weights?", "the crossover context", "yes/no",
             ("NVIDIA H200 SXM",), ("Qwen2.5-7B",)),
    Exercise("6.2", 6, "Naive or tiled attention on an A100?", "score-matrix traffic against the FLOPs", "number",
             ("NVIDIA A100 80GB SXM",), ("Llama-3.1-8B",)),
    Exercise("6.3", 6, "How many splits for Llama-3.1-70B at batch 2?", "split-KV and SM occupancy", "number",
             ("NVIDIA A100 80GB SXM",), ("Llama-3.1-70B",)),
    Exercise("6.4", 6, "Blocks of 16 tokens or of 256?", "paged waste against the cache", "judgement",
             ("NVIDIA H100 SXM",), ("Llama-3.1-8B",)),
    Exercise("6.5", 6, "Merge two partial results by hand", "the log-sum-exp merge", "number",
             ("NVIDIA H100 SXM",), ("Llama-3.1-8B",)),
    Exercise("6.6", 6, "Time attention against its bound on your GPU", "bench: attention per backend", "practical",
             ("NVIDIA H200 SXM",), ("Llama-3.1-8B",)),
)

# ---- 6.1 When does Qwen2.5-7B's cache outweigh its weights? ----------------------------------
ex1_model = models.get("Qwen2.5-7B")
ex1_gpu = hardware.get("H200 SXM")
ex1_dtype = "bf16"
ex1_batch = 16
ex1_group = attention.group_size(ex1_model)
ex1_kv_KiB = kv_cache.bytes_per_token(ex1_model, ex1_dtype) / KiB
ex1_weights_GB = roofline.decode_step(ex1_model, 1, 0, ex1_dtype, ex1_dtype).weight_bytes / GB
ex1_ratio_tokens = ex1_weights_GB * GB / kv_cache.bytes_per_token(ex1_model, ex1_dtype)
ex1_max = ex1_model.max_position_embeddings
ex1_cross_1 = attention.crossover_context(ex1_model, 1, ex1_dtype)
ex1_cross_b = attention.crossover_context(ex1_model, ex1_batch, ex1_dtype)
ex1_never_at_1 = claim("at batch 1 the cache never outweighs the weights within Qwen2.5-7B's context",
                       ex1_cross_1 is None and ex1_ratio_tokens > ex1_max)
ex1_yes_at_16 = claim("at batch 16 it does, well inside the context", ex1_cross_b is not None and ex1_cross_b < ex1_max / 4)
ex1_fits = claim("16 sequences at the crossover context fit on the H200 beside the weights",
                 kv_cache.max_batch(ex1_model, ex1_gpu, ex1_cross_b, ex1_dtype, ex1_dtype) >= ex1_batch)

# ---- 6.2 Naive or tiled attention on an A100? --------------------------------------------------
ex2_model = models.get("Llama-3.1-8B")
ex2_gpu = hardware.get("A100 80GB SXM")
ex2_tokens = 4096
ex2_sram_KiB = attention.sms(ex2_gpu).smem_per_sm_KiB
ex2_heads, ex2_d = ex2_model.n_heads, ex2_model.head_dim
ex2_tile = attention.q_block_rows(ex2_d, ex2_sram_KiB * KiB, 2)  # B_r = min(ceil(M / 4d), d), Algorithm 1
ex2_flops = ex2_heads * attention.prefill_flops_per_head(ex2_tokens, ex2_d)
ex2_naive_GB = ex2_heads * attention.naive_bytes_per_head(ex2_tokens, ex2_tokens, ex2_d, 2) / GB
ex2_group = attention.group_size(ex2_model)
ex2_own_GB = ex2_heads * attention.tiled_bytes_per_head(ex2_tokens, ex2_tokens, ex2_d, 2, ex2_sram_KiB * KiB, True) / GB
ex2_tiled_GB = ex2_heads * attention.tiled_bytes_per_head(ex2_tokens, ex2_tokens, ex2_d, 2, ex2_sram_KiB * KiB, True,
                                                          ex2_group) / GB
ex2_compute_ms = ex2_flops / ex2_gpu.peak_flops("bf16") * 1e3
ex2_naive_ms = ex2_naive_GB * GB / ex2_gpu.bandwidth_Bps * 1e3
ex2_tiled_ms = ex2_tiled_GB * GB / ex2_gpu.bandwidth_Bps * 1e3
ex2_GFLOP = ex2_flops / 1e9
ex2_naive_slow = claim("naive attention is memory-bound, several times its compute time", ex2_naive_ms > 4 * ex2_compute_ms)
ex2_own_ms = ex2_own_GB * GB / ex2_gpu.bandwidth_Bps * 1e3
ex2_own_memory_bound = claim("tiled with every query head reading its own tiles, the layer is still memory-bound",
                             ex2_own_ms > ex2_compute_ms)
ex2_tiled_bound = claim("tiled with the group sharing each K and V tile, the layer is compute-bound",
                        ex2_tiled_ms < ex2_compute_ms)
ex2_speedup = ex2_naive_ms / max(ex2_tiled_ms, ex2_compute_ms)

# ---- 6.3 How many splits for Llama-3.1-70B at batch 2? ---------------------------------------
# Llama-3.1-70B's bf16 weights do not fit on one A100 (kv_cache.max_batch is 0), so the exercise
# splits the model four ways by tensor parallelism (chapter 7): each GPU holds a quarter of the
# weights and 2 of the 8 KV heads, and its own decode launch has blocks for those heads only.
ex3_model = models.get("Llama-3.1-70B")
ex3_gpu = hardware.get("A100 80GB SXM")
ex3_tp = 4
ex3_batch, ex3_context = 2, 65536
ex3_sms = attention.sms(ex3_gpu).sms
ex3_slots = 2 * ex3_sms
ex3_weights_GB = kv_cache.weight_bytes(ex3_model, "bf16") / GB
ex3_usable_GB = ex3_gpu.usable_memory_bytes() / GB


def ex3_fits(tp: int) -> int:
    """Sequences of the exercise's context that fit on each GPU at tensor-parallel degree `tp`
    (parallel.tp_max_batch: each GPU's share of the weights and of the cache's KV heads)."""
    return parallel.tp_max_batch(ex3_model, ex3_gpu, tp, ex3_context, "bf16", "bf16")


ex3_one_gpu_fits = ex3_fits(1)
ex3_max_batch = ex3_fits(ex3_tp)
ex3_kv_heads = ex3_model.n_kv_heads // parallel.tp_kv_shards(ex3_model, ex3_tp)  # KV heads on each GPU
ex3_weights_per_gpu_GB = ex3_weights_GB / ex3_tp
ex3_premise = claim("the exercise's two 64k sequences fit on each of the four A100s beside its quarter of the weights, "
                    "and do not fit on one", ex3_max_batch >= ex3_batch and ex3_one_gpu_fits == 0)


def ex3_verdict(tp: int) -> int:
    """The batch that fits on each GPU at degree `tp`, with the premise checked: on one A100 (the
    exercise's old premise) the weights alone do not fit and this raises ClaimFailed."""
    if ex3_fits(tp) < ex3_batch:
        raise ClaimFailed(f"no longer true at tensor-parallel degree {tp}: the exercise's two 64k sequences fit on "
                          f"each of the A100s beside its share of the weights")
    return ex3_fits(tp)


ex3_blocks = attention.blocks_in_flight(ex3_batch, ex3_kv_heads)
ex3_busy = attention.wave_efficiency(ex3_blocks, ex3_slots)
ex3_splits = attention.splits_for(ex3_batch, ex3_kv_heads, ex3_context, ex3_model.head_dim, ex3_sms)
ex3_busy_split = attention.wave_efficiency(attention.blocks_in_flight(ex3_batch, ex3_kv_heads, ex3_splits), ex3_slots)
ex3_stop = next(b for b in range(1, 1025)
                if attention.splits_for(b, ex3_kv_heads, ex3_context, ex3_model.head_dim, ex3_sms) == 1)
ex3_split_helps = claim("splitting multiplies the busy share several times (over 4x)", ex3_busy_split > 4 * ex3_busy)
ex3_tp_fewer_blocks = claim("under tensor parallelism each GPU's launch has a fraction of the blocks one GPU with every "
                            "KV head would have", ex3_blocks < attention.blocks_in_flight(ex3_batch, ex3_model.n_kv_heads))
ex3_splits_whenever_it_fits = claim(
    "the rule splits at every batch that fits on each GPU: it would stop only at a batch far beyond the memory",
    ex3_stop > ex3_max_batch and all(attention.splits_for(b, ex3_kv_heads, ex3_context, ex3_model.head_dim, ex3_sms) > 1
                                     for b in range(1, ex3_max_batch + 1)))

# ---- 6.4 Blocks of 16 tokens or of 256? -----------------------------------------------------
ex4_model = models.get("Llama-3.1-8B")
ex4_gpu = hardware.get("H100 SXM")
ex4_sequences, ex4_mean_tokens = 200, 1000
ex4_small, ex4_large = 16, 256
ex4_per_token = kv_cache.bytes_per_token(ex4_model, "bf16")
ex4_waste_small_GiB = ex4_sequences * attention.mean_paged_waste(ex4_small) * ex4_per_token / GiB
ex4_waste_large_GiB = ex4_sequences * attention.mean_paged_waste(ex4_large) * ex4_per_token / GiB
ex4_used_GiB = ex4_sequences * ex4_mean_tokens * ex4_per_token / GiB
ex4_large_share = ex4_waste_large_GiB / ex4_used_GiB
ex4_small_share = ex4_waste_small_GiB / ex4_used_GiB
ex4_small_wins = claim("256-token blocks waste over a tenth of the cache in use; 16-token blocks under 1 %",
                       ex4_large_share > 0.1 and ex4_small_share < 0.01)
ex4_table_negligible = claim("the 16-token block table adds under a thousandth to the reads",
                             attention.paged_overhead(ex4_model, ex4_mean_tokens, ex4_small) < 1e-3)

# ---- 6.5 Merge two partial results by hand ---------------------------------------------------
# One query, one value dimension. Keys 1-2: scores 1 and 2, values 10 and 20. Keys 3: score 3, value 30.
ex5_scores = (1.0, 2.0, 3.0)
ex5_values = (10.0, 20.0, 30.0)
_e = [math.exp(s) for s in ex5_scores]

ex5_lse_a = math.log(_e[0] + _e[1])
ex5_o_a = (_e[0] * 10 + _e[1] * 20) / (_e[0] + _e[1])
ex5_lse_b = ex5_scores[2]
ex5_o_b = ex5_values[2]
ex5_lse = math.log(math.exp(ex5_lse_a) + math.exp(ex5_lse_b))
ex5_w_a, ex5_w_b = math.exp(ex5_lse_a - ex5_lse), math.exp(ex5_lse_b - ex5_lse)
ex5_o = ex5_w_a * ex5_o_a + ex5_w_b * ex5_o_b
ex5_exact = sum(e * v for e, v in zip(_e, ex5_values)) / sum(_e)
ex5_lse_b_base2 = ex5_lse_b / math.log(2)
_lse_wrong = math.log(math.exp(ex5_lse_a) + math.exp(ex5_lse_b_base2))
ex5_wrong = math.exp(ex5_lse_a - _lse_wrong) * ex5_o_a + math.exp(ex5_lse_b_base2 - _lse_wrong) * ex5_o_b
ex5_merge_exact = claim("the merge gives the unsplit answer", abs(ex5_o - ex5_exact) < 1e-9)
ex5_mixed_wrong = claim("a base-2 lse merged as base e moves the answer by over 1", abs(ex5_wrong - ex5_exact) > 1)

# ---- 6.6 Time attention against its bound on your GPU -------------------------------------------
ex6_gpu = hardware.get("H200 SXM")
ex6_model = models.get("Llama-3.1-8B")
ex6_dtype = "bf16"
ex6_context = 8192
ex6_batches = (1, 32)


def ex6_bytes(batch: int, context: int = ex6_context) -> float:
    """One layer's decode attention: K and V of every sequence read, Q read and the output written."""
    m = ex6_model
    return float((2 * batch * m.n_kv_heads * context * m.head_dim + 2 * batch * m.n_heads * m.head_dim) * 2)


ex6_bound_1_us = ex6_bytes(1) / ex6_gpu.bandwidth_Bps * 1e6
ex6_bound_32_us = ex6_bytes(32) / ex6_gpu.bandwidth_Bps * 1e6
ex6_MB_1, ex6_MB_32 = ex6_bytes(1) / 1e6, ex6_bytes(32) / 1e6
_run = recorded.run_for(ex6_gpu.name, ex6_model.name, ex6_dtype, "attention")
_decode = [r for r in _run["attention"] if r["case"] == "decode" and r["batch"] == 32]
ex6_recorded_context = _decode[0]["context"]
ex6_recorded_32_pct = max(ex6_bytes(32, ex6_recorded_context) / ex6_gpu.bandwidth_Bps / r["median_s"] for r in _decode)
ex6_recorded_short = claim("the recorded H200 run timed decode attention at a shorter context than the exercise's",
                           ex6_recorded_context < ex6_context)
ex6_memory_bound = claim("both batches are memory-bound on the H200's roofline",
                         all(kv_cache.attention_intensity(ex6_model, ex6_dtype) < ex6_gpu.ridge_point(ex6_dtype)
                             for _ in ex6_batches))


def commands() -> str:
    """The bench run of exercise 6.6, as a shell block."""
    return ("```bash\n" "python -m snippets bench --skip bandwidth,matmul,decode,prefill,quant,mixed,verify "
            f"--model {ex6_model.name} --dtype {ex6_dtype} --context {ex6_context} "
            f"--batches {','.join(map(str, ex6_batches))}\n```")
