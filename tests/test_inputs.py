"""The Python API rejects bad input clearly: NaN, infinity, wrong types, unknown names and dtypes."""

import math

import numpy as np
import pytest

from snippets import hardware, kv_cache, models, roofline
from snippets.errors import UnknownName, WrongType
from snippets.units import (
    BYTES_PER_ELEMENT,
    bytes_per_element,
    dtype_name,
    require_non_negative,
    require_number,
    require_positive,
    require_positive_int,
)

NOT_NUMBERS = ["3", None, True, False, np.bool_(True), [1], 1j]
NOT_FINITE = [math.nan, math.inf, -math.inf, np.float64("nan"), np.float32("inf")]


@pytest.mark.parametrize("bad", NOT_NUMBERS)
def test_wrong_types_are_type_errors_that_are_also_value_errors(bad):
    for check in (require_number, require_positive, require_non_negative, require_positive_int):
        with pytest.raises(WrongType):
            check("x", bad)
        with pytest.raises(ValueError):  # callers that caught ValueError keep working
            check("x", bad)


@pytest.mark.parametrize("bad", NOT_FINITE)
def test_nan_and_infinity_are_rejected(bad):
    for check in (require_number, require_positive, require_non_negative):
        with pytest.raises(ValueError, match="finite"):
            check("x", bad)


def test_zero_and_negative():
    assert require_non_negative("flops", 0) == 0.0
    with pytest.raises(ValueError, match="flops must be a finite number >= 0"):
        require_non_negative("flops", -1)
    for bad in (0, -0.0, -3):
        with pytest.raises(ValueError, match="positive"):
            require_positive("x", bad)
    for bad in (0, -32):
        with pytest.raises(ValueError, match="integer >= 1"):
            require_positive_int("n", bad)


def test_numpy_scalars_are_numbers_and_come_back_as_python_numbers():
    assert require_positive_int("n", np.int64(32)) == 32 and type(require_positive_int("n", np.int64(32))) is int
    assert require_positive("x", np.float32(1.5)) == 1.5 and type(require_positive("x", np.float32(1.5))) is float
    assert require_positive("x", np.int32(2)) == 2.0
    with pytest.raises(WrongType, match="integer"):
        require_positive_int("n", np.float64(2.0))  # a float is not a count, even a whole one


def test_numpy_integers_flow_through_the_roofline():
    assert roofline.matmul_flops(np.int64(2), np.int64(3), np.int64(4)) == 48
    assert roofline.ridge_point(np.float64(312e12), np.int64(2_039_000_000_000)) == pytest.approx(153.0, abs=0.05)


def test_dtype_names_are_case_insensitive_with_one_table():
    assert dtype_name("BF16") == "bf16" and dtype_name(" Fp8 ") == "fp8"
    assert bytes_per_element("BF16") == 2 and bytes_per_element("INT4") == 0.5
    a100 = hardware.get("A100 80GB SXM")
    assert a100.peak_flops("BF16") == a100.peak_flops("bf16") == 312e12
    assert hardware.get("H100 SXM").peak_flops("Fp8") == hardware.get("H100 SXM").peak_flops("fp8")
    assert models.weight_bytes(models.get("Llama-2-7B"), "FP16") == models.weight_bytes(models.get("Llama-2-7B"))
    assert set(hardware.COMPUTE_COLUMNS) <= set(BYTES_PER_ELEMENT)


def test_unknown_dtype_lists_the_allowed_ones():
    with pytest.raises(UnknownName, match="unknown dtype 'fp12'; allowed: fp32, bf16, fp16, fp8, int8, int4"):
        dtype_name("fp12")
    with pytest.raises(ValueError, match="allowed: fp32"):
        bytes_per_element("float64")
    with pytest.raises(WrongType):
        dtype_name(16)
    with pytest.raises(ValueError, match="no compute throughput for dtype 'INT4'; allowed: bf16, fp16, fp8"):
        hardware.get("A100 80GB SXM").peak_flops("INT4")


def test_unknown_name_is_a_key_error_and_a_value_error_with_close_matches():
    with pytest.raises(KeyError, match="Did you mean: .*NVIDIA A100 80GB SXM"):
        hardware.get("A100 80GB SMX")
    with pytest.raises(ValueError, match="Llama-2-7B"):
        models.get("Llama-2-7")
    with pytest.raises(KeyError, match="Known: GPT-2 small"):
        models.published_total_B("nope")  # was a bare StopIteration
    try:
        models.get("Lama-3.1-8B")
    except UnknownName as error:
        assert str(error).startswith("unknown model 'Lama-3.1-8B'. Did you mean: Llama-3.1-8B")  # not quoted
    with pytest.raises(WrongType):
        hardware.get(None)


def test_published_total_is_looked_up_like_get():
    assert models.published_total_B("llama 2 7b") == models.published_total_B("Llama-2-7B") == 6.738


def test_accelerator_rejects_bad_numbers_when_built_in_code():
    from dataclasses import replace

    a100 = hardware.get("A100 80GB SXM")
    for field, bad in (("memory_GB", math.nan), ("memory_bandwidth_GBps", -1), ("TDP_W", math.inf),
                       ("dense_fp8_TFLOPS", "1000")):
        with pytest.raises(ValueError, match=field):
            replace(a100, **{field: bad})


# The cases below need roofline.py and kv_cache.py (not this branch's files) to call the units
# helpers; see the report. They pass once those lines change.


def test_time_lower_bound_rejects_nan():
    with pytest.raises(ValueError):
        roofline.time_lower_bound_s(1, math.nan, 1, 1)


@pytest.mark.parametrize("args", [("32", 8, 128), (-32, 8, 128), (32.0, 8, 128), (True, 8, 128)])
def test_mha_elements_per_token_rejects_bad_sizes(args):
    with pytest.raises(ValueError):
        kv_cache.mha_elements_per_token(*args)


def test_kv_cache_accepts_numpy_integers():
    m = models.get("Llama-2-7B")
    assert kv_cache.bytes_for_batch(m, np.int64(1024), np.int64(2)) == kv_cache.bytes_for_batch(m, 1024, 2)
