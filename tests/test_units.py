import pytest

from snippets.report import markdown_table
from snippets.units import bytes_per_element, fmt_bytes


def test_bytes_per_element():
    assert [bytes_per_element(d) for d in ("fp32", "bf16", "fp16", "fp8", "int8", "int4")] == [4, 2, 2, 1, 1, 0.5]
    with pytest.raises(ValueError, match="allowed: fp32, bf16"):
        bytes_per_element("fp64")


def test_formatting():
    assert fmt_bytes(13.476e9, "GB") == "13.48 GB"
    assert fmt_bytes(2**30, "GiB", 1) == "1.0 GiB"
    with pytest.raises(ValueError):
        fmt_bytes(1, "XB")


def test_markdown_table():
    assert markdown_table(["a", "b"], [[1, 2]]) == "| a | b |\n| :-- | --: |\n| 1 | 2 |"
    with pytest.raises(ValueError):
        markdown_table(["a", "b"], [[1]])
