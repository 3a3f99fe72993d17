"""The bandwidth section: read, write, copy and triad on buffers that defeat the caches
(snippets.bench.bandwidth), and on CPUs a STREAM-style C triad beside them."""

from __future__ import annotations

from snippets.bench import bandwidth
from snippets.bench.plan import Plan
from snippets.bench.section import Run, Section, each, schema


def plan(p: Plan) -> list[str]:
    """The kernels timed, one progress step each."""
    return list(bandwidth.KERNELS)


def measure(r: Run, kernels: list[str]) -> None:
    p, m = r.p, r.m
    m.notes.extend(bandwidth.measure(p.info, bandwidth.default_buffer_bytes(p.info, p.quick), kernels=tuple(kernels),
                                     rows=m.bandwidth, progress=r.progress("bandwidth"))[1])
    if p.info.kind == "cpu":
        m.stream_triad_GBps = bandwidth.stream_triad_GBps(m.bandwidth[0].buffer_bytes, threads=p.info.threads)


SECTION = Section("bandwidth", plan, measure, lambda m: m.bandwidth, schema("bandwidth"), each(6, 3))
