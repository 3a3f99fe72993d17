"""Units, data types and number formatting.

Conventions used everywhere in the course:
GB = 1e9 bytes, GiB = 2**30 bytes, TFLOPS = 1e12 FLOP/s, one multiply-add = 2 FLOPs.
"""

from __future__ import annotations

GB = 1e9
TB = 1e12
KiB = 2**10
MiB = 2**20
GiB = 2**30
TERA = 1e12

#: Bytes per element of each storage dtype. int4 ignores per-group scale overhead.
BYTES_PER_ELEMENT: dict[str, float] = {
    "fp32": 4,
    "bf16": 2,
    "fp16": 2,
    "fp8": 1,
    "int8": 1,
    "int4": 0.5,
}


def bytes_per_element(dtype: str) -> float:
    """Bytes one element of `dtype` occupies (e.g. 'bf16' -> 2)."""
    try:
        return BYTES_PER_ELEMENT[dtype.lower()]
    except (KeyError, AttributeError):
        allowed = ", ".join(BYTES_PER_ELEMENT)
        raise ValueError(f"unknown dtype {dtype!r}; allowed: {allowed}") from None


def require_positive(name: str, value: float) -> None:
    """Raise ValueError unless `value` is a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def require_positive_int(name: str, value: int) -> None:
    """Raise ValueError unless `value` is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
