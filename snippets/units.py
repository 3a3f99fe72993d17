"""Units, data types, number formatting and the checks every public function uses on its inputs.

Conventions used everywhere in the course:
GB = 1e9 bytes, GiB = 2**30 bytes, TFLOPS = 1e12 FLOP/s, one multiply-add = 2 FLOPs.

Numbers: Python and NumPy ints and floats are accepted (np.int64 counts as an integer);
booleans, strings and None are not numbers; NaN and infinity are never valid.
"""

from __future__ import annotations

import math
import numbers

from snippets import formulas
from snippets.errors import UnknownName, WrongType

GB = 1e9
TB = 1e12
KiB = 2**10
MiB = 2**20
GiB = 2**30
TERA = 1e12

#: Bytes per element of each storage dtype (defined in snippets.formulas, which the in-page
#: cells import too): the one list of dtypes the package knows.
BYTES_PER_ELEMENT: dict[str, float] = formulas.BYTES_PER_ELEMENT


def dtype_name(dtype: str) -> str:
    """The canonical name of `dtype`, case and surrounding spaces ignored: 'BF16' -> 'bf16'.

    Raises UnknownName (a KeyError and a ValueError) listing the allowed names.
    """
    if type(dtype) is str and dtype in BYTES_PER_ELEMENT:  # canonical already: the common case
        return dtype
    if not isinstance(dtype, str):
        raise WrongType(f"dtype must be a string such as 'bf16', got {dtype!r}")
    name = dtype.strip().lower()
    if name not in BYTES_PER_ELEMENT:
        raise UnknownName(f"unknown dtype {dtype!r}; allowed: {', '.join(BYTES_PER_ELEMENT)}")
    return name


def bytes_per_element(dtype: str) -> float:
    """Bytes one element of `dtype` occupies (e.g. 'bf16' -> 2)."""
    found = BYTES_PER_ELEMENT.get(dtype) if isinstance(dtype, str) else None
    return found if found is not None else BYTES_PER_ELEMENT[dtype_name(dtype)]


def _is_real(value: object) -> bool:
    if type(value) is float or type(value) is int:  # the common case, without the slower ABC check
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_integer(value: object) -> bool:
    if type(value) is int:  # the common case (a bool's type is bool), without the slower ABC check
        return True
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def require_number(name: str, value: float) -> float:
    """`value` as a float if it is a finite real number; else WrongType or ValueError."""
    if not _is_real(value):
        raise WrongType(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def require_positive(name: str, value: float) -> float:
    """`value` as a float if it is a finite number > 0; else WrongType or ValueError."""
    number = require_number(name, value)
    if not number > 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return number


def require_non_negative(name: str, value: float) -> float:
    """`value` as a float if it is a finite number >= 0 (FLOPs or bytes that may be zero)."""
    number = require_number(name, value)
    if not number >= 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return number


def require_int(name: str, value: int, minimum: int) -> int:
    """`value` as an int if it is an integer (Python or NumPy) >= `minimum`.

    A float, even 2.0, is rejected: sizes and counts are integers.
    """
    if type(value) is int and value >= minimum:  # the common case, checked first (hot in the simulator)
        return value
    if not _is_integer(value):
        raise WrongType(f"{name} must be an integer >= {minimum}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def require_positive_int(name: str, value: int) -> int:
    """`value` as an int if it is an integer >= 1 (sizes, counts, batch)."""
    return require_int(name, value, 1)


def require_non_negative_int(name: str, value: int) -> int:
    """`value` as an int if it is an integer >= 0 (a context that may be empty)."""
    return require_int(name, value, 0)
