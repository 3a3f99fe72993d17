"""The one sweep every model section runs (decode, prefill, mixed, verify, draft): for each point
of its plan, check that it fits, build its inputs, time its step in each mode, keep a row. Out of
memory stops the sweep (or skips that mode) with a note; a failed graph or compile loses only its
own mode; rows are appended as they are measured, so an interrupted run keeps them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from snippets.bench.memory import is_out_of_memory
from snippets.bench.steps import prepared
from snippets.bench.timing import Timing, time_repeats

#: A step of the course decoder: called with `compiled` (compile mode's layers or not).
Step = Callable[[bool], object]


@dataclass(frozen=True)
class SweepPoint:
    """One point of a section's plan, measured by `sweep`."""

    label: str  # for notes and progress, e.g. "batch 8"
    setup: Callable[[], Step]  # allocates the point's inputs and returns its step
    row: Callable[[str, Timing], object]  # the result row of one mode's timing
    too_big: Callable[[], str | None] = lambda: None  # why it cannot fit (checked before setup), or None
    modes: tuple[str, ...] | None = None  # the modes of this point, where not the section's


@dataclass(frozen=True)
class Reps:
    """How each step is timed (the section's repetitions)."""

    repeats: int = 3
    reps: int = 20
    warmup: int = 2
    settle_rounds: int = 10


def sweep(section: str, points, modes, kind: str, rows: list, notes: list, progress=None,
          reps: Reps | None = None, title: str | None = None) -> None:
    """Measure every point in every mode, appending rows and notes (see the module). `title`
    heads each progress line (default: the section)."""
    reps = reps or Reps()
    for point in points:
        reason = point.too_big()
        if reason:
            notes.append(f"stopped the {section} sweep at {point.label}: {reason}")
            return
        try:
            step = point.setup()
        except (RuntimeError, MemoryError) as error:
            if not is_out_of_memory(error):
                raise
            notes.append(f"stopped the {section} sweep at {point.label}: out of memory")
            return
        for mode in point.modes or modes:
            if progress:
                progress(f"{title or section} {mode}, {point.label}")
            measured = _time(section, point, step, mode, kind, notes, reps)
            if measured is not None:
                rows.append(point.row(mode, measured))
        del step
        if kind == "cuda":
            torch.cuda.empty_cache()


def _time(section: str, point: SweepPoint, step: Step, mode: str, kind: str, notes: list, reps: Reps) -> Timing | None:
    """One mode's timing of one point; None (with a note) where it ran out of memory, or where a
    graph or a compile failed (eager failures are real errors and raise)."""
    try:
        return time_repeats(prepared(step, mode, kind), kind, reps.repeats, reps=reps.reps, warmup=reps.warmup,
                            settle_rounds=reps.settle_rounds)
    except Exception as error:  # noqa: BLE001 - a failed graph or compile must not lose the other modes' rows
        if is_out_of_memory(error):
            notes.append(f"skipped {section} {mode} at {point.label}: out of memory")
            return None
        if mode == "eager":
            raise
        notes.append(f"{section} {mode} at {point.label} failed: {type(error).__name__}: {str(error)[:300]}")
    return None
