"""The quant section: one layer's weight matmuls per weight format and batch, through torch's own
kernels (snippets.bench.quant); on by default on CUDA GPUs only."""

from __future__ import annotations

from typing import NamedTuple

from snippets.bench import quant
from snippets.bench.plan import Plan
from snippets.bench.section import Run, Section, axis, each, schema

#: Batches of the quant section (one layer's weight matmuls per format).
BATCHES = [1, 16, 64, 256]


class Point(NamedTuple):
    format: str
    batch: int


def plan(p: Plan) -> list[Point]:
    return [Point(fmt, batch) for fmt in quant.FORMATS for batch in BATCHES]


def measure(r: Run, points: list[Point]) -> None:
    p, m = r.p, r.m
    quant.measure(p.info, p.model, axis(points, "batch"), formats=tuple(axis(points, "format")),
                  copy_GBps=r.copy_GBps(), rows=m.quant, notes=m.notes, progress=r.progress("quant"),
                  repeats=p.repeats)


SECTION = Section("quant", plan, measure, lambda m: m.quant, schema("quant"), each(8, 3))
