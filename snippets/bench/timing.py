"""One timing helper for every benchmark: warm-up until the clock settles, many repetitions,
median and spread, and the flags a row earns when its numbers should not be trusted blindly.

On CUDA each repetition is bracketed by CUDA events (an optional L2 flush runs before the start
event, outside the timed region); on the CPU and MPS the device is synchronised around a
wall-clock reading.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from snippets.device_sync import synchronize  # noqa: F401 - re-exported

#: Two successive warm-up medians within this fraction of each other count as settled.
SETTLE_TOLERANCE = 0.02
#: Warm-up rounds at most, before measuring anyway (and flagging it).
SETTLE_MAX_ROUNDS = 10
#: (median - best) / median above this flags a row as noisy.
SPREAD_LIMIT = 0.05


@dataclass(frozen=True)
class Timing:
    samples_s: tuple[float, ...]
    warmup_rounds: int = 0  # settling rounds run before the samples
    settled: bool = True  # False when the warm-up hit its cap without two medians agreeing
    repeat_medians_s: tuple[float, ...] = ()  # the median of each independent repeat (time_repeats)

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

    @property
    def median_over_best(self) -> float:
        """(median - best) / best: how far above the best sample the typical one sits."""
        return (self.median_s - self.best_s) / self.best_s

    @property
    def repeat_spread(self) -> float:
        """(slowest - fastest) / fastest of the repeats' medians (0 with fewer than two repeats)."""
        if len(self.repeat_medians_s) < 2:
            return 0.0
        return (max(self.repeat_medians_s) - min(self.repeat_medians_s)) / min(self.repeat_medians_s)

    def flags(self) -> list[str]:
        """Reasons to doubt this timing (empty when it looks sound)."""
        out = []
        if self.repeat_spread > SPREAD_LIMIT:
            out.append(f"repeats disagree: their medians spread {100 * self.repeat_spread:.0f} %")
        if self.median_over_best > SPREAD_LIMIT:
            out.append(f"noisy: median {100 * self.median_over_best:.0f} % above best")
        if not self.settled:
            out.append(f"unsettled: warm-up medians still moving after {self.warmup_rounds} rounds")
        return out


def l2_flusher(kind: str, nbytes: int = 256 * 2**20) -> Callable[[], None] | None:
    """A function that evicts the GPU's L2 by zeroing a buffer larger than it (None on CPU)."""
    if kind != "cuda":
        return None
    scratch = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    return scratch.zero_


def has_settled(medians_s: Sequence[float], tolerance: float = SETTLE_TOLERANCE) -> bool:
    """True when the last two medians agree within `tolerance` (a fraction of the later one)."""
    if len(medians_s) < 2:
        return False
    a, b = medians_s[-2], medians_s[-1]
    return abs(a - b) <= tolerance * b


def settle(round_median_s: Callable[[], float], max_rounds: int = SETTLE_MAX_ROUNDS,
           tolerance: float = SETTLE_TOLERANCE) -> tuple[int, bool]:
    """Run warm-up rounds until two successive round medians agree, at most `max_rounds`.

    `round_median_s` runs one short round and returns its median in seconds. Returns the rounds
    run and whether they settled.
    """
    medians: list[float] = []
    while len(medians) < max_rounds:
        medians.append(round_median_s())
        if has_settled(medians, tolerance):
            return len(medians), True
    return len(medians), False


def _samples(fn: Callable[[], object], kind: str, reps: int, flush: Callable[[], None] | None) -> list[float]:
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
        return [s.elapsed_time(e) / 1e3 for s, e in events]
    samples = []
    for _ in range(reps):
        if flush:
            flush()
        synchronize(kind)
        start = time.perf_counter()
        fn()
        synchronize(kind)
        samples.append(time.perf_counter() - start)
    return samples


def time_fn(fn: Callable[[], object], kind: str, reps: int = 20, warmup: int = 3,
            flush: Callable[[], None] | None = None, settle_rounds: int = 0) -> Timing:
    """Time `fn` `reps` times after `warmup` untimed calls; returns every sample.

    With `settle_rounds` > 0, warm-up continues in rounds of a few timed calls until two
    successive round medians agree within 2 % (at most `settle_rounds` rounds), so clocks
    and the allocator have settled before the samples are taken.
    """
    if reps < 1 or warmup < 0 or settle_rounds < 0:
        raise ValueError("reps must be >= 1, warmup and settle_rounds >= 0")
    for _ in range(warmup):
        fn()
    synchronize(kind)
    rounds, settled = 0, True
    if settle_rounds:
        per_round = max(2, min(5, reps // 4))
        rounds, settled = settle(lambda: statistics.median(_samples(fn, kind, per_round, flush)), settle_rounds)
    return Timing(tuple(_samples(fn, kind, reps, flush)), rounds, settled)


def time_until_steady(fn: Callable[[], object], kind: str, reps: int = 20, warmup: int = 3,
                      flush: Callable[[], None] | None = None, settle_rounds: int = SETTLE_MAX_ROUNDS) -> Timing:
    """`time_fn` with settling; if the median sits more than 5 % above the best, measure once
    more with twice the repetitions and keep the steadier of the two."""
    first = time_fn(fn, kind, reps, warmup, flush, settle_rounds)
    if first.median_over_best <= SPREAD_LIMIT:
        return first
    second = time_fn(fn, kind, 2 * reps, 0, flush, 0)
    second = Timing(second.samples_s, first.warmup_rounds, first.settled)
    return min(first, second, key=lambda t: t.median_over_best)


def time_repeats(fn: Callable[[], object], kind: str, repeats: int = 3, reps: int = 20, warmup: int = 3,
                 flush: Callable[[], None] | None = None, settle_rounds: int = SETTLE_MAX_ROUNDS) -> Timing:
    """`repeats` independent timings of `fn` (the first settles the clocks; each is
    `time_until_steady`), pooled: every sample, and each repeat's median to show the spread
    between repeats (flagged above SPREAD_LIMIT)."""
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    runs = [time_until_steady(fn, kind, reps, warmup if i == 0 else 0, flush, settle_rounds if i == 0 else 0)
            for i in range(repeats)]
    return Timing(tuple(s for r in runs for s in r.samples_s), runs[0].warmup_rounds, runs[0].settled,
                  tuple(r.median_s for r in runs))


def slower_at_smaller_batch(times_by_batch: dict[int, float]) -> dict[int, str]:
    """Flags for batches whose step time is shorter than a smaller batch's (same mode): more work
    finishing sooner is a measurement to look at twice. Returns {batch: flag}."""
    flags = {}
    batches = sorted(times_by_batch)
    for i, b in enumerate(batches):
        smaller = [s for s in batches[:i] if times_by_batch[s] > times_by_batch[b]]
        if smaller:
            s = max(smaller, key=lambda s: times_by_batch[s])
            flags[b] = (f"faster than batch {s} ({times_by_batch[b] * 1e3:.3f} vs {times_by_batch[s] * 1e3:.3f} ms): "
                        "noise, or a different kernel choice")
    return flags
