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


def test_one_block_tile_reads_kv_once():
    n, d = 300, 64
    assert attention.tiled_bytes_per_head(n, n, d, 2, 10**9) == 4 * n * d * 2


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
