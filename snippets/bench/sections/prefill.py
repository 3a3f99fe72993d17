"""The prefill section: time to first token per prompt length and mode at batch 1, on the shared
decoder, with MFU against the run's best matmul (snippets.bench.prefill)."""

from __future__ import annotations

import argparse
from typing import NamedTuple

from snippets.bench import prefill
from snippets.bench.plan import Plan, csv, section_modes
from snippets.bench.section import Run, Section, axis, each, schema
from snippets.bench.steps import modes_for


class Point(NamedTuple):
    prompt: int
    mode: str


def options(args: argparse.Namespace, p: Plan) -> dict:
    """--prompts (or the defaults up to the model's maximum) and the modes."""
    prompts = [t for t in (args.prompts or (prefill.GPU_PROMPTS if p.gpu else prefill.CPU_PROMPTS))
               if t <= p.max_positions]
    return {"prompts": prompts,
            "prefill_modes": section_modes(args.modes, modes_for(p.info.kind)) if "prefill" not in p.skip else []}


def plan(p: Plan) -> list[Point]:
    return [Point(prompt, mode) for prompt in p.prompts for mode in p.prefill_modes]


def measure(r: Run, points: list[Point]) -> None:
    p, m = r.p, r.m
    prompts = axis(points, "prompt")
    if not r.cuda:
        m.notes.append(f"prefill on {p.info.kind}: prompts of {csv(prompts)} tokens (GPUs default to "
                       f"{csv(prefill.GPU_PROMPTS)}) with the same {r.cfg.n_layers} layers as decode")
    mm = [row for row in m.matmul if row.dtype == p.dtype] or m.matmul
    best_tflops = max((row.best_TFLOPS for row in mm), default=None)
    prefill.measure(p.info, r.model, p.model, p.dtype, prompts, best_TFLOPS=best_tflops, rows=m.prefill,
                    notes=m.notes, progress=r.progress("prefill"), reps=5 if r.few else 10,
                    settle_rounds=2 if r.few else 5, modes=axis(points, "mode"), repeats=p.repeats)


SECTION = Section("prefill", plan, measure, lambda m: m.prefill, schema("prefill"), each(6, 5), options,
                  decoder="runs")
