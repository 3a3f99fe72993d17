"""One timing helper for every benchmark: warm-up, many repetitions, median and spread.

On CUDA each repetition is bracketed by CUDA events (an optional L2 flush runs before the start
event, outside the timed region); on the CPU and MPS the device is synchronised around a
wall-clock reading.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class Timing:
    samples_s: tuple[float, ...]

    @property
    def median_s(self) -> float:
        return statistics.median(self.samples_s)

    @property
    def best_s(self) -> float:
        return min(self.samples_s)

    @property
    def worst_s(self) -> float:
        return max(self.samples_s)

    @property
    def spread(self) -> float:
        """(worst - best) / median: how noisy the samples are."""
        return (self.worst_s - self.best_s) / self.median_s


def synchronize(kind: str) -> None:
    if kind == "cuda":
        torch.cuda.synchronize()
    elif kind == "mps":
        torch.mps.synchronize()


def l2_flusher(kind: str, nbytes: int = 256 * 2**20) -> Callable[[], None] | None:
    """A function that evicts the GPU's L2 by zeroing a buffer larger than it (None on CPU)."""
    if kind != "cuda":
        return None
    scratch = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    return scratch.zero_


def time_fn(fn: Callable[[], object], kind: str, reps: int = 20, warmup: int = 3,
            flush: Callable[[], None] | None = None) -> Timing:
    """Time `fn` `reps` times after `warmup` untimed calls; returns every sample."""
    if reps < 1 or warmup < 0:
        raise ValueError("reps must be >= 1 and warmup >= 0")
    for _ in range(warmup):
        fn()
    synchronize(kind)
    if kind == "cuda":
        events = []
        for _ in range(reps):
            if flush:
                flush()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            events.append((start, end))
        torch.cuda.synchronize()
        return Timing(tuple(s.elapsed_time(e) / 1e3 for s, e in events))
    samples = []
    for _ in range(reps):
        if flush:
            flush()
        synchronize(kind)
        start = time.perf_counter()
        fn()
        synchronize(kind)
        samples.append(time.perf_counter() - start)
    return Timing(tuple(samples))
