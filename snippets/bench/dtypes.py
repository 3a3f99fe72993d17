"""The bench's torch dtypes, keyed by the names of the course's one dtype table
(`snippets.units.BYTES_PER_ELEMENT`): one dict, so a name means the same everywhere."""

from __future__ import annotations

import torch

#: name (as in snippets.units.BYTES_PER_ELEMENT) -> torch dtype. int4 has no torch tensor dtype.
TORCH_DTYPES: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
    "fp8": torch.float8_e4m3fn,
    "int8": torch.int8,
}

#: Dtypes a matmul sweep and the demo decoder can run in (floating point, with matmul kernels).
COMPUTE_DTYPES = ("bf16", "fp16", "fp32")


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype for a course dtype name ('bf16' -> torch.bfloat16)."""
    try:
        return TORCH_DTYPES[name]
    except KeyError:
        raise ValueError(f"unknown dtype {name!r}; choose from {', '.join(TORCH_DTYPES)}") from None
