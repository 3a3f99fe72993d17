"""snippets.attention: attention's share of a decode step, naive and tiled traffic, the split-KV
rule, paged waste, and the data files of SMs and published kernels."""

import pytest

from snippets import attention, hardware, kv_cache, models


def test_data_files_validate_and_name_known_gpus():
    for row in attention.sm_rows():
        hardware.get(row.name)
    for row in attention.published_kernels():
        hardware.get(row.spec_name)
    assert attention.sms("H100 SXM").sms == 132


def test_tiled_traffic_follows_the_io_bound():
    """K and V traffic scales as N^2 d^2 / M: doubling the SRAM halves it (rows divide evenly)."""
    n, d = 4096, 128
    small = attention.tiled_bytes_per_head(n, n, d, 2, 64 * 1024, False) - 4 * n * d
    big = attention.tiled_bytes_per_head(n, n, d, 2, 128 * 1024, False) - 4 * n * d
    assert small == pytest.approx(2 * big)
    assert attention.tiled_bytes_per_head(n, n, d, 2, 128 * 1024) < attention.naive_bytes_per_head(n, n, d, 2)


def test_causal_tiles_read_about_half():
    n, d = 8192, 128
    full = attention.tiled_bytes_per_head(n, n, d, 2, 64 * 1024, False)
    causal = attention.tiled_bytes_per_head(n, n, d, 2, 64 * 1024, True)
    assert 0.45 < causal / full < 0.6


def test_one_query_block_reads_kv_once():
    n, d = 64, 64  # B_r = min(ceil(M / 4d), d) = d: one query block holds all 64 rows
    assert attention.tiled_bytes_per_head(n, n, d, 2, 10**9) == 4 * n * d * 2
    # however large the SRAM, query blocks stop growing at d rows: 300 rows take 5 blocks
    assert attention.tiled_bytes_per_head(300, 300, d, 2, 10**9) == (2 * 300 * d + 2 * 300 * d * 5) * 2


def test_block_rows_follow_flashattention_algorithm_1():
    """B_c = ceil(M / 4d), B_r = min(ceil(M / 4d), d), M the SRAM in elements (Dao et al. 2022,
    Algorithm 1, line 1), against values worked by hand."""
    # H100: 228 KiB = 116,736 bf16 elements; / (4 x 128) = 228 exactly; B_r capped at d = 128
    assert attention.kv_block_rows(128, 228 * 1024, 2) == 228
    assert attention.q_block_rows(128, 228 * 1024, 2) == 128
    # A100: 164 KiB = 83,968 elements; / 512 = 164; B_r is 128 again
    assert attention.kv_block_rows(128, 164 * 1024, 2) == 164
    assert attention.q_block_rows(128, 164 * 1024, 2) == 128
    # 100 KiB = 51,200 elements: 100 rows, under the cap
    assert attention.q_block_rows(128, 100 * 1024, 2) == 100
    # a ceiling, not a floor: 51,200 / (4 x 96) = 133.3 -> B_c 134, B_r = d = 96
    assert attention.kv_block_rows(96, 100 * 1024, 2) == 134
    assert attention.q_block_rows(96, 100 * 1024, 2) == 96


def test_tiled_traffic_at_8k_against_a_hand_count():
    """Llama-3.1-8B's head (d = 128), 8,192 tokens, causal, on the H100's 228 KiB: 64 query blocks of
    128 rows; block i reads the first 128 i rows of K and of V. Q read and O written once:
    2 x 8192 x 128 x 2 B = 4,194,304 B; K and V: 2 x 128 x 128 x 2 B x (1 + ... + 64 = 2,080)
    = 136,314,880 B. One head: 140,509,184 B; 32 heads: 4.496 GB."""
    assert attention.tiled_bytes_per_head(8192, 8192, 128, 2, 228 * 1024, True) == 140_509_184


def test_splits_fill_the_gpu_at_batch_1_and_stop_once_it_is_full():
    s = attention.splits_for(1, 8, 32768, 128, 132)
    assert attention.wave_efficiency(attention.blocks_in_flight(1, 8, s), 264) > 0.8
    assert attention.splits_for(32, 8, 32768, 128, 132) == 1
    assert attention.splits_for(1, 8, 128, 128, 132) == 1  # one KV block: nothing to split


def test_paged_waste_reuses_chapter_3s_blocks():
    assert attention.paged_waste_tokens(17, 16) == 15
    assert attention.paged_waste_tokens(32, 16) == 0
    assert attention.mean_paged_waste(16) == 7.5


def test_decode_share_and_crossover_agree():
    m = models.get("Llama-3.1-8B")
    c = attention.crossover_context(m, 1)
    assert attention.decode_share(m, 1, c).byte_share > 0.5 > attention.decode_share(m, 1, c - 1).byte_share
    assert attention.group_size(m) == 4 == round(kv_cache.attention_intensity(m, "bf16"))


def test_causal_tiles_with_earlier_keys_by_hand():
    """100 queries, the last of 300 keys, d = 64, a huge SRAM: query blocks of 64 rows (B_r = d).
    Block 0 (queries 0-63) needs keys up to 200 + 64 = 264, block 1 up to 300: 564 key rows, each
    read for K and for V."""
    assert attention.tiled_bytes_per_head(100, 300, 64, 2, 10**9, True) == (2 * 100 * 64 + 2 * 564 * 64) * 2


def test_compute_bound_lengths_against_a_closed_form():
    """Llama-3.1-8B's head on the H100 (228 KiB: 128-row query blocks), a group of 4 sharing each
    tile. Per head, N tokens in k = ceil(N / 128) blocks: bytes (2 N d + 2 (64 k (k - 1) + N) d / 4) x 2,
    FLOPs 2 d N (N + 1). Memory-bound where bytes / bandwidth > FLOPs / peak."""
    import numpy as np

    gpu, d = hardware.get("H100 SXM"), 128
    n = np.arange(1, 131073, dtype=np.float64)
    k = np.ceil(n / 128)
    traffic = (2 * n * d + 2 * (64 * k * (k - 1) + n) * d / 4) * 2
    compute_bound = traffic / gpu.bandwidth_Bps < 2 * d * n * (n + 1) / gpu.peak_flops("bf16")
    first = int(n[compute_bound][0])
    last_memory = int(n[~compute_bound][-1])
    found = attention.compute_bound_lengths(d, 2, 228 * 1024, gpu.peak_flops("bf16"), gpu.bandwidth_Bps, 131072, 4)
    assert (found.first_tokens, found.from_tokens) == (first, last_memory + 1) == (1638, 1825)
    # never compute-bound within the lengths checked: None; compute-bound at once: from 1
    none = attention.compute_bound_lengths(d, 2, 228 * 1024, gpu.peak_flops("bf16"), gpu.bandwidth_Bps, 1000, 1)
    assert (none.first_tokens, none.from_tokens) == (None, None)
    fast = attention.compute_bound_lengths(d, 2, 228 * 1024, 1.0, gpu.bandwidth_Bps, 10, 1)
    assert (fast.first_tokens, fast.from_tokens) == (1, 1)
