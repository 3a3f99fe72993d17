"""Where a decode step's time goes: torch.profiler's top kernels (or CPU operators) by total time."""

from __future__ import annotations

from typing import Callable

from torch.profiler import ProfilerActivity, profile


def top_kernels(fn: Callable[[], object], kind: str, steps: int = 10, top: int = 12) -> list[dict]:
    """Profile `steps` calls of `fn`; the `top` kernels (CUDA) or operators (CPU, MPS) by self time.

    Each row: name, calls, total_ms and per_step_ms (self time, summed over the steps) and pct
    (share of all self time recorded).
    """
    from snippets.bench.timing import synchronize

    cuda = kind == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    fn()
    synchronize(kind)
    with profile(activities=activities) as prof:
        for _ in range(steps):
            fn()
        synchronize(kind)
    attr = "self_device_time_total" if cuda else "self_cpu_time_total"
    events = [e for e in prof.key_averages() if getattr(e, attr, 0) > 0]
    total_us = sum(getattr(e, attr) for e in events) or 1.0
    events.sort(key=lambda e: getattr(e, attr), reverse=True)
    return [{"name": e.key[:200], "calls": int(e.count), "total_ms": getattr(e, attr) / 1e3,
             "per_step_ms": getattr(e, attr) / 1e3 / steps, "pct": 100 * getattr(e, attr) / total_us}
            for e in events[:top]]
