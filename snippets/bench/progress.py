"""Progress of a run on stderr, with an estimate of the time left.

In a terminal: a live rich progress bar (its clock keeps moving while a step runs). Elsewhere
(logs, pipes, notebooks): one line per step, and a line every HEARTBEAT_S seconds while a long
step runs, so there are no silent gaps.
"""

from __future__ import annotations

import sys
import threading
import time

HEARTBEAT_S = 10.0


def clock(seconds: float) -> str:
    """'1:05' for 65 seconds."""
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


def time_left_s(done_weight: float, total_weight: float, elapsed_s: float) -> float | None:
    """Seconds left if the remaining work goes at the pace of the work done so far (weights are
    the estimated seconds of each step). None before anything is done."""
    if done_weight <= 0 or elapsed_s <= 0:
        return None
    return (total_weight - done_weight) * elapsed_s / done_weight


class Progress:
    """Call with (label, weight) as each step starts; `close()` at the end. Weights are estimated
    seconds per step, for the time left."""

    def __init__(self, total_weight: float, total_steps: int, stream=None, live: bool | None = None):
        self.stream = stream or sys.stderr
        self.total_weight, self.total_steps = max(total_weight, 1e-9), total_steps
        self.done_weight, self.steps, self.current = 0.0, 0, (None, 0.0)
        self.start = time.perf_counter()
        self._bar = None
        if live is None:
            live = getattr(self.stream, "isatty", lambda: False)()
        if live:
            try:
                from rich.console import Console
                from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
                from rich.progress import Progress as Bar
            except ImportError:
                live = False
            else:
                self._bar = Bar(SpinnerColumn(), TextColumn("[{task.fields[steps]}]"),
                                BarColumn(), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                                TextColumn("{task.description}"), console=Console(file=self.stream),
                                refresh_per_second=4, transient=False)
                self._task = self._bar.add_task("starting", total=self.total_weight, steps=f"0/{total_steps}")
                self._bar.start()
        self._stop = threading.Event()
        self._beat = None
        if self._bar is None:
            self._beat = threading.Thread(target=self._heartbeat, daemon=True)
            self._beat.start()

    def _finish_current(self) -> None:
        if self.current[0] is not None:
            self.done_weight += self.current[1]

    def __call__(self, label: str, weight: float = 1.0) -> None:
        self._finish_current()
        self.steps += 1
        self.current, self.step_start = (label, weight), time.perf_counter()
        elapsed = time.perf_counter() - self.start
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done_weight, description=label,
                             steps=f"{self.steps}/{self.total_steps}")
            return
        left = time_left_s(self.done_weight, self.total_weight, elapsed)
        eta = f", about {clock(left)} left" if left is not None else ""
        print(f"[{self.steps}/{self.total_steps} {clock(elapsed)}{eta}] {label}", file=self.stream, flush=True)

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            if self.current[0] is not None and time.perf_counter() - self.step_start >= HEARTBEAT_S - 0.5:
                print(f"    ... still on it ({clock(time.perf_counter() - self.step_start)} into this step)",
                      file=self.stream, flush=True)

    def close(self) -> None:
        self._stop.set()
        if self._bar is not None:
            self._bar.update(self._task, completed=self.total_weight, description="done")
            self._bar.stop()
