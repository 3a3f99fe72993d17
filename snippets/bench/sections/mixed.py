"""The mixed section: a decode batch plus a prefill chunk in one forward pass, per (batch, chunk,
mode), on the shared decoder (snippets.bench.mixed): chapter 3's simulator's step times."""

from __future__ import annotations

import argparse
from typing import NamedTuple

from snippets.bench import mixed
from snippets.bench.plan import Plan, csv, section_modes
from snippets.bench.section import Run, Section, axis, each, schema


class Point(NamedTuple):
    batch: int
    chunk: int
    mode: str


def options(args: argparse.Namespace, p: Plan) -> dict:
    """The device's default grid (chunks up to the model's maximum) and modes."""
    if "mixed" in p.skip:
        return {}
    batches, chunks = mixed.default_grid(p.info.kind)
    return {"mixed_batches": batches, "mixed_chunks": [c for c in chunks if c <= p.max_positions],
            "mixed_modes": section_modes(args.modes, mixed.modes_for(p.info.kind))}


def plan(p: Plan) -> list[Point]:
    return [Point(b, c, mode) for b in p.mixed_batches for c in p.mixed_chunks for mode in p.mixed_modes]


def measure(r: Run, points: list[Point]) -> None:
    p, m = r.p, r.m
    batches, chunks = axis(points, "batch"), axis(points, "chunk")
    m.notes.append(f"mixed steps: a decode of batches {csv(batches)} at context {p.context:,} plus a "
                   f"prefill chunk of {csv(chunks)} tokens, in one forward pass (one read of the "
                   f"weights, as servers run it), on the same {r.cfg.n_layers}-layer decoder as decode")
    mixed.measure(p.info, r.model, p.model, p.dtype, p.context, batches, chunks, modes=axis(points, "mode"),
                  rows=m.mixed, notes=m.notes, progress=r.progress("mixed"), reps=5 if r.few else 20,
                  settle_rounds=2 if r.few else 10, repeats=p.repeats)


SECTION = Section("mixed", plan, measure, lambda m: m.mixed, schema("mixed"), each(5, 4), options, decoder="runs")
