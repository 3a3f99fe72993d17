"""The attention section: one layer's attention alone, per case and kernel, at the shapes the
model sections run (snippets.bench.attention)."""

from __future__ import annotations

import argparse
from typing import NamedTuple

from snippets.bench import attention
from snippets.bench.plan import Plan
from snippets.bench.section import Run, Section, axis, each, schema


class Point(NamedTuple):
    case: attention.AttentionCase
    kernel: str


def options(args: argparse.Namespace, p: Plan) -> dict:
    """--attention-contexts, or on CUDA GPUs the default sweep, up to the model's maximum."""
    if "attention" in p.skip:
        return {}
    asked = args.attention_contexts if args.attention_contexts is not None else (
        attention.GPU_CONTEXTS if p.gpu else [])
    return {"attention_contexts": [c for c in asked if c <= p.max_positions]}


def cases(p: Plan) -> list[attention.AttentionCase]:
    """Decode at every decode (and mixed) batch, prefill at every prompt (and mixed chunk)
    length the run times, and the context sweep."""
    prompts = [t for t in (*(p.prompts if "prefill" not in p.skip else []), *p.mixed_chunks) if t]
    return attention.plan([*p.batches, *p.mixed_batches], p.context, prompts, p.attention_contexts)


def plan(p: Plan) -> list[Point]:
    return [Point(case, kernel) for case in cases(p) for kernel in attention.kernels_for(p.info.kind)]


def measure(r: Run, points: list[Point]) -> None:
    p, m = r.p, r.m
    attention.measure(p.info, r.cfg, r.model.lm_head.weight.dtype, axis(points, "case"), rows=m.attention,
                      notes=m.notes, progress=r.progress("attention"), reps=5 if r.few else 20,
                      settle_rounds=2 if r.few else 5, repeats=p.repeats)


SECTION = Section("attention", plan, measure, lambda m: m.attention, schema("attention"), each(1, 1), options,
                  decoder="runs")
