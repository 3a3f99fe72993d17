"""Weight formats (bytes per parameter, bounds), the quantizers (error bounds that hold by
construction, reversible packing), the sourced measurements and the bench's quant section."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets import hardware, kv_cache, models, quant_formats, quant_measurements, quantization, roofline
from snippets.errors import UnknownName
from snippets.quant_formats import WeightFormat
from snippets.schema import DataFileError, QuantMeasurementRow

H100 = hardware.get("H100 SXM")
LLAMA = models.get("Llama-3.1-8B")


@pytest.mark.parametrize("name, expected", [
    ("bf16", 2.0),
    ("int8-channel", 1 + 2 / 4096),  # one bf16 scale per row of 4,096
    ("fp8-tensor", 1 + 4 / 4096**2),  # one fp32 scale per tensor
    ("int4-g128", 0.5 + 4 / 128),  # bf16 scale + bf16 zero per 128 weights
    ("int4-g64", 0.5 + 4 / 64),
    ("int4-g32", 0.5 + 4 / 32),
])
def test_bytes_per_param_by_hand(name, expected):
    assert quant_formats.get(name).bytes_per_param(4096, 4096) == pytest.approx(expected, rel=1e-12)


def test_layer_matrices_are_the_models_own_counts():
    for m in models.all_models():
        if m.is_moe or m.attention_kind == "MLA":
            with pytest.raises(ValueError, match="dense"):
                quant_formats.layer_matrices(m)
            continue
        assert quant_formats.quantized_params(m) == m.n_layers * (
            models._attention_matrices(m) + models._mlp_matrices(m, m.d_ff))


def test_bf16_format_is_chapter_1s_decode_step():
    for batch, context in ((1, 0), (8, 1024)):
        ours = quant_formats.decode_step(LLAMA, "bf16", batch, context, "bf16")
        theirs = roofline.decode_step(LLAMA, batch, context, "bf16", "bf16")
        assert ours == theirs


def test_bound_tables_against_known_values():
    # Llama-3.1-8B, batch 1: (matrices x bytes + 16-bit remainder) / 3,350 GB/s
    rest = models.step_param_count(LLAMA, 1) - quant_formats.quantized_params(LLAMA)
    for name, per in (("bf16", 2), ("int8-channel", None), ("int4-g128", 0.53125)):
        if per is not None:
            expected = (quant_formats.quantized_params(LLAMA) * per + rest * 2) / 3350e9
            assert quant_formats.step_time_s(LLAMA, name, H100) == pytest.approx(expected, rel=1e-12)
    assert quant_formats.step_time_s(LLAMA, "bf16", H100) * 1e3 == pytest.approx(4.48, abs=0.01)
    # critical batch: ridge x bytes / 2
    ridge = 989.4e12 / 3350e9
    assert quant_formats.critical_batch(H100, "bf16", 4096, 4096) == pytest.approx(ridge)
    assert quant_formats.critical_batch(H100, "int4-g128", 4096, 4096) == pytest.approx(ridge * 0.53125 / 2)
    assert quant_formats.critical_batch(H100, "fp8-tensor", 4096, 4096) == pytest.approx(
        1978.9e12 / 3350e9 * (1 + 4 / 4096**2) / 2)


def test_compute_bound_batch_is_the_first_compute_bound_one():
    b = quant_formats.compute_bound_batch(LLAMA, "int4-g128", H100)
    assert not quant_formats.decode_step(LLAMA, "int4-g128", b).is_memory_bound(H100)
    assert quant_formats.decode_step(LLAMA, "int4-g128", b - 1).is_memory_bound(H100)


def test_unknown_formats_and_bad_specs_say_what_exists():
    with pytest.raises(UnknownName, match="supported: bf16, int8-channel"):
        quant_formats.get("int3")
    with pytest.raises(UnknownName, match="allowed: fp32, bf16"):
        WeightFormat("x", "int2", "none")
    with pytest.raises(ValueError, match="group_size"):
        WeightFormat("x", "int4", "group", None, "bf16")
    with pytest.raises(ValueError, match="supported: int8-channel, fp8-tensor"):
        quantization.quantize(torch.zeros(4, 4), "bf16")
    with pytest.raises(ValueError, match="2-D floating-point"):
        quantization.quantize(torch.zeros(4, dtype=torch.int32), "int8-channel")
    with pytest.raises(ValueError, match="multiple of the group size"):
        quantization.quantize(torch.zeros(4, 100), "int4-g32")


matrices = st.tuples(st.integers(1, 6), st.sampled_from([32, 64, 128, 256]), st.integers(0, 2**31 - 1),
                     st.floats(1e-3, 1e3), st.integers(0, 3))


def _matrix(rows, cols, seed, spread, outliers):
    w = torch.randn(rows, cols, generator=torch.Generator().manual_seed(seed)) * spread
    w[:, :outliers] *= 50
    return w


@settings(max_examples=40, deadline=None)
@given(matrices, st.sampled_from(["int8-channel", "int4-g32", "int4-g128"]))
def test_integer_formats_err_by_at_most_half_a_step(m, name):
    w = _matrix(*m)
    if name == "int4-g128" and w.shape[1] % 128:
        return
    q = quantization.quantize(w, name)
    error = (w - quantization.dequantize(q)).abs()
    assert (error <= quantization.step_size(q) / 2 * (1 + 1e-6)).all()


@settings(max_examples=25, deadline=None)
@given(matrices)
def test_fp8_errs_by_at_most_one_sixteenth_relative(m):
    w = _matrix(*m)
    q = quantization.quantize(w, "fp8-tensor")
    s = q.scales.float()
    error = (w - quantization.dequantize(q)).abs()
    assert (error <= torch.maximum(w.abs() / 16, s * 2.0**-10) * (1 + 1e-6)).all()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 15), min_size=0, max_size=64).filter(lambda v: len(v) % 2 == 0))
def test_packing_is_reversible(values):
    codes = torch.tensor(values, dtype=torch.uint8).reshape(1, -1)
    packed = quantization.pack_int4(codes)
    assert packed.numel() == codes.numel() // 2
    assert torch.equal(quantization.unpack_int4(packed), codes)


def test_packing_rejects_what_it_cannot_hold():
    with pytest.raises(ValueError, match="even"):
        quantization.pack_int4(torch.zeros(1, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match="0..15"):
        quantization.pack_int4(torch.tensor([[16, 0]]))


@pytest.mark.parametrize("name", ["int8-channel", "int4-g32", "int4-g128", "fp8-tensor"])
def test_stored_bytes_match_the_formula(name):
    q = quantization.quantize(torch.randn(64, 256), name)
    assert q.nbytes == quant_formats.get(name).matrix_bytes(64, 256)


def test_torchs_packed_int4_matmul_agrees_with_dequantize():
    from snippets.bench.quant import _int4_operands

    w, x = torch.randn(64, 256) * 0.02, torch.randn(3, 256).to(torch.bfloat16)
    packed, sz = _int4_operands(w, 128, torch.device("cpu"))
    y = torch.ops.aten._weight_int4pack_mm_for_cpu(x, packed, 128, sz).float()
    ref = x.float() @ quantization.dequantize(quantization.quantize(w, "int4-g128")).T
    assert torch.allclose(y, ref, atol=0.02 * ref.abs().max().item())


def test_smaller_groups_err_less_with_outliers():
    w = quantization.outlier_matrix(64, 256, outlier_channels=2)
    x = torch.randn(4, 256)
    errs = [quantization.error(w, x, f"int4-g{g}").weight_rms for g in (32, 128)]
    assert errs[0] < errs[1]


def test_measurements_file_validates_and_fractions_are_sane():
    rows = quant_measurements.all_measurements()
    assert all(r.source for r in rows)
    for r in rows:
        f = quant_measurements.fraction_of_bound(r)
        assert f is None or 0 < f < 1
    gpt_fast = [r for r in rows if r.name.startswith("gpt-fast")]
    # 1397.31 GB/s / 104.9 tokens/s = 13.3 GB a token as gpt-fast counts it; ours: 13.5 GB
    assert quant_measurements.bound_tokens_per_s(gpt_fast[0]) == pytest.approx(2039e9 / quant_formats.weights_read_bytes(
        models.get("Llama-2-7B"), "bf16"))


def _csv(**cells) -> str:
    header = list(QuantMeasurementRow.model_fields)
    return ",".join(header) + "\n" + ",".join(str(cells.get(c, "")) for c in header) + "\n"


def test_measurements_file_rejects_a_row_that_measures_nothing():
    row = dict(name="x", source="src", model="m", spec_model="Llama-2-7B", technique="t")
    with pytest.raises(DataFileError, match="measures nothing"):
        quant_measurements.load(_csv(**row))
    with pytest.raises(DataFileError, match="needs the batch"):
        quant_measurements.load(_csv(**row, tokens_per_s=5.0))
    with pytest.raises(DataFileError, match=r"line 2 \(x\), column format: unknown weight format 'int3'; supported"):
        quant_measurements.load(_csv(**row, tokens_per_s=5.0, batch=1, gpu="g", format="int3"))


def test_bench_quant_section_runs_tiny_on_the_cpu():
    from snippets.bench import quant
    from snippets.bench.device import detect

    info, _ = detect("cpu")
    rows, notes = quant.measure(info, "Llama-3.1-8B", [1, 2], scale=16, copy_GBps=10.0, reps=3, settle_rounds=1)
    assert {r.format for r in rows} >= {"bf16", "int8-channel", "int4-g128"}
    assert any("fp8-tensor" in n and "skipped" in n for n in notes)
    assert all(r.median_s > 0 and r.bound_from == "copy" and math.isfinite(r.GBps) for r in rows)


def test_old_results_files_load_without_a_quant_section():
    import json
    from pathlib import Path

    from snippets.results import validate

    path = next(Path(__file__).parents[1].joinpath("docs", "results").glob("*.json"))
    doc = json.loads(path.read_text())
    doc.pop("quant", None)
    assert validate(doc)["quant"] == []


# ---- what the chapter 4 review changed --------------------------------------------------------


def test_lm_head_quantized_counts_the_head_in_the_format():
    l2 = models.get("Llama-2-7B")
    head = models.lm_head_params(l2)
    plain = quant_formats.weights_read_bytes(l2, "int8-channel")
    quantized = quant_formats.weights_read_bytes(l2, "int8-channel", quantize_head=True)
    assert plain - quantized == pytest.approx(head * 2 - quant_formats.get("int8-channel").matrix_bytes(
        l2.vocab_size, l2.d_model), rel=1e-12)
    # gpt-fast's reported GB/s over tokens/s: 1069.20 / 155.58 = 6.872 GB, the head quantized
    assert quant_formats.stored_bytes(l2, "int8-channel", quantize_head=True) / 1e9 == pytest.approx(
        1069.20 / 155.58, rel=1e-3)


def test_measurement_rows_carry_the_head_flag_and_use_it():
    rows = {r.name: r for r in quant_measurements.all_measurements()}
    for r in rows.values():
        if r.tokens_per_s and r.format not in ("", "bf16"):
            assert r.lm_head_quantized, r.name
    int4 = rows["gpt-fast Llama-2-7B int4 g32"]
    assert quant_measurements.ideal_speedup(int4) == pytest.approx(3.20, abs=0.005)  # 3.07 with a bf16 head
    assert quant_measurements.fraction_range(rows["torchao Llama-3-8B bf16"]) == pytest.approx((0.704, 0.742), abs=0.001)


def test_fp8_head_runs_at_bf16_speed():
    # 2B x (layer weights / fp8 peak + head / bf16 peak), review item 2
    b = 1024
    layers, head = quant_formats.quantized_params(LLAMA), models.lm_head_matmul_weights(LLAMA)
    expected = 2 * b * (layers / 1978.9e12 + head / 989.4e12)
    assert quant_formats.compute_time_s(LLAMA, "fp8-tensor", H100, b) == pytest.approx(expected, rel=1e-12)
    assert quant_formats.step_time_s(LLAMA, "fp8-tensor", H100, b) == pytest.approx(expected, rel=1e-12)
    assert quant_formats.tokens_per_s(LLAMA, "fp8-tensor", H100, b) == pytest.approx(123218, rel=1e-4)
    assert quant_formats.compute_bound_batch(LLAMA, "fp8-tensor", H100) == 296
    # weight-only formats compute in bf16 throughout: chapter 1's compute time
    step = roofline.decode_step(LLAMA, b, 0, "bf16", "bf16")
    assert quant_formats.compute_time_s(LLAMA, "int4-g128", H100, b) == pytest.approx(step.compute_time_s(H100))


def test_critical_batch_with_activations_by_hand():
    ridge, k = 989.4e12 / 3350e9, 4096
    for name, per in (("bf16", 2), ("int4-g128", 0.53125)):
        expected = ridge * per / 2 / (1 - ridge * 2 * (k + k) / (2 * k * k))
        assert quant_formats.critical_batch(H100, name, k, k, 2) == pytest.approx(expected)
    assert quant_formats.critical_batch(H100, "bf16", 4096, 4096, 2) == pytest.approx(345, abs=0.5)
    assert quant_formats.critical_batch(H100, "bf16", 64, 64, 2) == math.inf  # activations alone under the ridge


def test_int4_layouts_bits():
    bits = {k: 8 * f.bytes_per_param(4096, 4096) for k, f in quant_formats.INT4_LAYOUTS.items()}
    assert sorted(bits.values()) == pytest.approx([4.125, 4 + 16 / 128 + 4 / 128, 4.25])
    with pytest.raises(ValueError, match="zero-point dtype"):
        WeightFormat("x", "int4", "group", 128, "fp16", zero_point=False, zero_dtype="int4")


def test_fp8_formats_match_torch():
    assert quant_formats.FP8_FORMATS["e4m3"][2] == torch.finfo(torch.float8_e4m3fn).max
    assert quant_formats.FP8_FORMATS["e5m2"][2] == torch.finfo(torch.float8_e5m2).max
    assert quant_formats.fp8_relative_error("e4m3") == 1 / 16


def test_max_batch_per_format_and_headroom():
    assert quant_formats.max_batch(LLAMA, "bf16", H100, 32768) == kv_cache.max_batch(LLAMA, H100, 32768, "bf16", "bf16")
    assert [quant_formats.max_batch(LLAMA, w, H100, 32768, c) for w, c in
            (("int4-g128", "bf16"), ("bf16", "fp8"), ("int4-g128", "fp8"))] == [18, 32, 36]
    left = quant_formats.headroom_bytes(LLAMA, "bf16", H100, 32768, 16)
    assert 0 < left < kv_cache.bytes_per_sequence(LLAMA, 32768, "bf16")


def test_int8_per_tensor_and_ordinary_error():
    w = quantization.outlier_matrix(32, 64, outlier_channels=2, where="output")
    mask = quantization.outlier_mask(32, 64, 2, "output")
    q = quantization.quantize(w, "int8-tensor")
    assert q.scales.numel() == 1
    assert ((w - quantization.dequantize(q)).abs() <= quantization.step_size(q) / 2 * (1 + 1e-6)).all()
    x = torch.randn(4, 64)
    per_row = quantization.error(w, x, "int8-channel", mask)
    per_tensor = quantization.error(w, x, "int8-tensor", mask)
    assert per_row.ordinary_rms < per_tensor.ordinary_rms / 3  # rows isolate row outliers
    with pytest.raises(ValueError, match="input' or 'output"):
        quantization.outlier_mask(4, 4, 1, "diagonal")


def test_smoothing_preserves_the_product_and_helps_w8a8():
    w = quantization.outlier_matrix(64, 128, outlier_channels=0)
    x = torch.randn(8, 128, generator=torch.Generator().manual_seed(3))
    x[:, :2] *= 30
    plain = quantization.w8a8_output_error(w, x, "int8-w8a8")
    smooth = quantization.w8a8_output_error(w, x, "int8-w8a8", 0.5)
    assert smooth < plain


def test_bench_bound_is_the_larger_of_memory_and_compute():
    from types import SimpleNamespace

    from snippets.bench import quant

    info = SimpleNamespace(spec=H100)
    flops, nbytes = 2.0 * 512 * 4096 * 4096, 4096 * 4096 * 2.0  # batch 512: past the bf16 ridge
    bound, roof, src = quant.bound_s(info, "bf16", nbytes, flops)
    assert (bound, roof, src) == (pytest.approx(flops / 989.4e12), "compute", "datasheet")
    bound, roof, _ = quant.bound_s(info, "bf16", nbytes, flops / 512)
    assert (bound, roof) == (pytest.approx(nbytes / 3350e9), "memory")
    assert quant.bound_s(SimpleNamespace(spec=None), "bf16", nbytes, flops, copy_GBps=10.0)[1:] == ("memory", "copy")
    assert quant.bound_s(SimpleNamespace(spec=None), "bf16", nbytes, flops) == (None, None, None)


def test_bench_skips_a_path_whose_setup_raises_runtime_error(monkeypatch):
    from snippets.bench import quant
    from snippets.bench.device import detect

    def broken(fmt, weights, info):
        raise RuntimeError("no kernel image is available")

    monkeypatch.setattr(quant, "kernel", broken)
    info, _ = detect("cpu")
    rows, notes = quant.measure(info, "Llama-3.1-8B", [1], formats=("int4-g128",), scale=16, copy_GBps=10.0,
                                reps=3, settle_rounds=1)
    assert rows == [] and notes == ["skipped quant int4-g128: no kernel image is available"]
