"""Memory capacity: the datasheet's "80 GB" is 80 GiB of DRAM, checked against figures known
independently of the data file (nvidia-smi and PyTorch on real devices)."""

import pytest

from snippets import hardware
from snippets.units import GiB


def test_a100_80gb_is_80_gib_as_nvidia_smi_shows():
    a100 = hardware.get("A100 80GB SXM")
    assert a100.memory_GB == 80  # the datasheet label is kept
    assert a100.memory_bytes == 85_899_345_920 == 81_920 * 2**20  # nvidia-smi: 81,920 MiB


def test_usable_memory_is_close_to_what_pytorch_reports():
    # torch.cuda.get_device_properties(0).total_memory: about 85.1e9 B on an A100 80GB, 150.1e9 B on an H200
    assert hardware.get("A100 80GB SXM").usable_memory_bytes() == pytest.approx(85.1e9, rel=0.005)
    h200 = hardware.get("H200")
    assert h200.memory_GB == 141
    assert h200.usable_memory_bytes() == pytest.approx(150.1e9, rel=0.005)
    assert h200.memory_bytes > 150.1e9 > 141e9  # the decimal reading would understate it
    assert h200.usable_memory_bytes(reserve_fraction=0) == h200.memory_bytes


def test_gddr_capacity_is_binary_too():
    # an RTX 4090 shows 24,564 MiB of 24,576 MiB in nvidia-smi
    assert hardware.get("RTX 4090").memory_bytes == 24 * GiB
    assert hardware.get("RTX 4090").usable_memory_bytes() == pytest.approx(24_564 * 2**20, rel=0.01)


@pytest.mark.parametrize(("name", "nvidia_smi_MiB"), [
    # nvidia-smi's memory.total with ECC on (the default), known independently of the data file:
    # modal-labs/modal-client PR 2797 (L4, L40S, A10, T4), NVIDIA/DCGM issue 232 (A10G)
    ("L4", 23_034), ("L40S", 46_068), ("A10", 23_028), ("A10G", 23_028), ("T4", 15_360),
])
def test_ecc_gddr_parts_show_fifteen_sixteenths(name, nvidia_smi_MiB):
    gpu = hardware.get(name)
    assert gpu.ecc_on and gpu.ecc_source
    assert gpu.visible_memory_bytes == pytest.approx(nvidia_smi_MiB * 2**20, rel=0.001)
    assert gpu.usable_memory_bytes() == pytest.approx(nvidia_smi_MiB * 2**20 * (1 - hardware.DRIVER_RESERVE_FRACTION),
                                                      rel=0.001)


def test_hbm_and_geforce_parts_lose_nothing_to_ecc():
    for name in ("A100 80GB SXM", "H100 SXM", "H200", "MI300X", "RTX 4090", "RTX 3090"):
        gpu = hardware.get(name)
        assert not gpu.ecc_on and gpu.visible_memory_bytes == gpu.memory_bytes, name


def test_every_fits_computation_uses_the_ecc_share():
    from snippets import kv_cache, models
    l4, m = hardware.get("L4"), models.get("Llama-3.1-8B")
    free = 24 * GiB * 15 / 16 * (1 - hardware.DRIVER_RESERVE_FRACTION) - models.weight_bytes(m, "bf16")
    assert kv_cache.max_batch(m, l4, 4096, "bf16", "bf16") == int(free // kv_cache.bytes_per_sequence(m, 4096, "bf16"))


def test_every_row_is_dram_read_as_gib():
    for acc in hardware.all_accelerators():
        assert acc.memory_type.upper().startswith(("HBM", "GDDR", "LPDDR")), acc.name
        assert acc.memory_bytes == acc.memory_GB * 2**30


@pytest.mark.parametrize("bad", [-0.1, 1, 1.5, float("nan"), "0.01"])
def test_reserve_fraction_is_checked(bad):
    with pytest.raises(ValueError):
        hardware.get("H100 SXM").usable_memory_bytes(bad)
