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


def test_markdown_table():
    assert markdown_table(["a", "b"], [[1, 2]]) == "| a | b |\n| :-- | --: |\n| 1 | 2 |"
    with pytest.raises(ValueError):
        markdown_table(["a", "b"], [[1]])
