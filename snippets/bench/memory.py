"""Allocating benchmark buffers, shrinking them (and saying so) when memory is short, and
checking that a model or a cache fits before building it."""

from __future__ import annotations

from typing import Callable

import torch

MIN_BYTES = 16 * 2**20
#: Messages of allocation failures: CUDA/MPS ("out of memory"), the CPU allocator
#: ("DefaultCPUAllocator: not enough memory", "can't allocate memory").
OOM_MESSAGES = ("out of memory", "not enough memory", "can't allocate memory", "cannot allocate memory")
#: Share of the free memory a run lets its weights and caches take (activations need the rest).
USABLE_FRACTION = 0.85


def is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(error).lower()
    return any(m in text for m in OOM_MESSAGES)


def free_bytes(kind: str) -> int | None:
    """Memory free for new tensors on the device, in bytes (None when unknown)."""
    if kind == "cuda":
        return torch.cuda.mem_get_info()[0]
    try:
        for line in open("/proc/meminfo", encoding="ascii"):
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil

        return psutil.virtual_memory().available
    except ImportError:
        return None


def fits(nbytes: float, free: int | None, fraction: float = USABLE_FRACTION) -> bool:
    """True when `nbytes` fits in `fraction` of `free` bytes (always True when `free` is unknown)."""
    return free is None or nbytes <= fraction * free


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
