"""Allocating benchmark buffers, shrinking them (and saying so) when memory is short."""

from __future__ import annotations

from typing import Callable

import torch

MIN_BYTES = 16 * 2**20


def is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, (torch.OutOfMemoryError, MemoryError)) or "out of memory" in str(error).lower()


def allocate(n_arrays: int, bytes_each: int, dtype: torch.dtype, device: torch.device,
             alloc: Callable[..., torch.Tensor] = torch.empty) -> tuple[list[torch.Tensor], int, list[str]]:
    """`n_arrays` tensors of about `bytes_each` bytes; halves the size on out-of-memory.

    Returns the tensors, the bytes each actually holds, and notes saying what was shrunk.
    """
    notes: list[str] = []
    itemsize = torch.empty((), dtype=dtype).element_size()
    size = bytes_each
    while size >= min(MIN_BYTES, bytes_each):
        try:
            arrays = [alloc(size // itemsize, dtype=dtype, device=device) for _ in range(n_arrays)]
            return arrays, (size // itemsize) * itemsize, notes
        except (RuntimeError, MemoryError) as error:
            if not is_out_of_memory(error):
                raise
            if device.type == "cuda":
                torch.cuda.empty_cache()
            notes.append(f"out of memory at {n_arrays} x {size / 2**30:.2f} GiB; shrinking to half")
            size //= 2
    raise MemoryError(f"could not allocate {n_arrays} buffers of even {MIN_BYTES / 2**20:.0f} MiB")
