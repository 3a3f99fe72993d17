import pytest

from snippets.report import markdown_table
from snippets.units import bytes_per_element, require_positive, require_positive_int


def test_bytes_per_element():
    assert [bytes_per_element(d) for d in ("fp32", "bf16", "fp16", "fp8", "int8", "int4")] == [4, 2, 2, 1, 1, 0.5]
    with pytest.raises(ValueError, match="allowed: fp32, bf16"):
        bytes_per_element("fp64")


@pytest.mark.parametrize("bad", [0, -1.5, float("nan"), float("inf"), "3", None, True])
def test_require_positive_rejects(bad):
    with pytest.raises(ValueError):
        require_positive("x", bad)


def test_require_positive_int():
    require_positive_int("n", 3)
    for bad in (0, 2.0, True, "1"):
        with pytest.raises(ValueError, match="integer >= 1"):
            require_positive_int("n", bad)


def test_numpy_numbers_pass_like_python_ones():
    """The checks take plain ints and floats by a fast path and anything else by the number ABCs."""
    np = pytest.importorskip("numpy")
    assert require_positive_int("n", np.int64(3)) == 3 and type(require_positive_int("n", np.int32(3))) is int
    assert require_positive("x", np.float32(0.5)) == 0.5
    with pytest.raises(ValueError, match="integer >= 1"):
        require_positive_int("n", np.float64(2.0))
    with pytest.raises(ValueError):
        require_positive("x", np.bool_(True))


def test_markdown_table():
    assert markdown_table(["a", "b"], [[1, 2]]) == "| a | b |\n| :-- | --: |\n| 1 | 2 |"
    with pytest.raises(ValueError):
        markdown_table(["a", "b"], [[1]])
