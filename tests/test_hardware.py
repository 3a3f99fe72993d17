"""Accelerator data against datasheet values known independently of the data file."""

import pytest

from snippets import hardware


def test_a100_80gb_sxm_datasheet():
    a100 = hardware.get("A100 80GB SXM")
    assert a100.dense_fp16_bf16_TFLOPS == 312  # datasheet: 312 | 624* (sparse)
    assert a100.memory_bandwidth_GBps == 2039
    assert a100.memory_GB == 80
    assert round(a100.ridge_point("bf16"), 1) == 153.0


@pytest.mark.parametrize(
    ("name", "ridge"),
    [("A100 80GB PCIe", 161.2), ("A100 40GB SXM", 200.6), ("A100 40GB PCIe", 200.6),
     ("H100 SXM", 295.3), ("L4", 403.3)],
)
def test_ridge_points_match_reference_audit(name, ridge):
    assert round(hardware.get(name).ridge_point(), 1) == ridge


def test_h100_sxm_is_dense_not_sparse():
    # whitepaper: 528 tensor cores x 1024 FLOP/clk x 1.83 GHz = 989.4 TFLOPS dense; 1,979 sparse
    assert hardware.get("H100 SXM").peak_flops("bf16") == pytest.approx(528 * 1024 * 1.83e9, rel=1e-3)


@pytest.mark.parametrize("name", ["A100 40GB PCIe", "A100 40GB SXM", "A100 80GB PCIe", "A100 80GB SXM",
                                  "H100 SXM", "H100 PCIe", "H200", "L4", "RTX 4090", "MI300X", "TPU v5e"])
def test_required_accelerators_present(name):
    assert hardware.get(name).source


def test_every_row_has_a_source_and_positive_bandwidth():
    for acc in hardware.all_accelerators():
        assert acc.source.strip(), acc.name
        assert acc.memory_bandwidth_GBps > 0


def test_lookup_is_forgiving_about_vendor_and_case():
    assert hardware.get("nvidia a100 80gb sxm").name == "NVIDIA A100 80GB SXM"
    assert hardware.get("h200").name == "NVIDIA H200 SXM"


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match="A100 80GB SXM"):
        hardware.get("A100 80GB SMX")
    with pytest.raises(ValueError, match="Known:"):
        hardware.get("Voodoo 2")


def test_ambiguous_name_lists_candidates():
    with pytest.raises(ValueError, match="ambiguous.*A100 40GB PCIe"):
        hardware.get("A100")


def test_missing_figure_is_an_error_not_zero():
    with pytest.raises(ValueError, match="no published dense fp8"):
        hardware.get("A100 80GB SXM").peak_flops("fp8")
    with pytest.raises(ValueError, match="allowed"):
        hardware.get("A100 80GB SXM").peak_flops("fp64")


def test_unverified_rows_are_flagged():
    assert hardware.get("H100 NVL").flagged and hardware.get("RTX 5090").flagged
    assert not hardware.get("A100 80GB SXM").flagged and not hardware.get("H100 SXM").flagged
