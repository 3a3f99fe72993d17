"""The decode section: one decode step per (batch, mode) at the run's context on the shared
decoder (snippets.bench.decode); and the profile section, the top kernels of one of its batches."""

from __future__ import annotations

import argparse
from typing import NamedTuple

from snippets.bench import decode
from snippets.bench.plan import Plan, csv
from snippets.bench.section import Run, Section, axis, each, schema
from snippets.bench.steps import modes_for, validate_modes

GPU_BATCHES_QUICK = [1, 8, 32, 64, 128, 256]
GPU_BATCHES_FULL = [1, 2, 4, 8, 16, 32, 64, 128, 256]
CPU_BATCHES = [1, 4, 16]
#: Estimated seconds of a step by mode (CPU, GPU): a compile's first two batches compile.
SECONDS = {"eager": (6, 3), "graph": (6, 3), "compile": (6, 4), "first compile": (6, 25)}


class Point(NamedTuple):
    batch: int
    mode: str


def options(args: argparse.Namespace, p: Plan) -> dict:
    """--modes (checked for every section here) and --batches, or their defaults."""
    modes = validate_modes(args.modes.split(",") if args.modes else modes_for(p.info.kind), p.info.kind)
    batches = args.batches or ((GPU_BATCHES_QUICK if args.quick else GPU_BATCHES_FULL) if p.gpu else CPU_BATCHES)
    return {"modes": modes, "batches": batches}


def plan(p: Plan) -> list[Point]:
    return [Point(batch, mode) for batch in p.batches for mode in p.modes]


def seconds(p: Plan, points: list[Point]) -> list[float]:
    first = axis(points, "batch")[:2]
    return [SECONDS["first compile" if pt.mode == "compile" and pt.batch in first else pt.mode][p.gpu]
            for pt in points]


def measure(r: Run, points: list[Point]) -> None:
    p, m = r.p, r.m
    decode.measure(p.info, p.model, p.dtype, p.context, axis(points, "batch"), axis(points, "mode"),
                   copy_GBps=r.copy_GBps(), model=r.model, rows=m.decode, notes=m.notes,
                   progress=r.progress("decode"), repeats=p.repeats)


SECTION = Section("decode", plan, measure, lambda m: decode.with_batch_flags(m.decode), schema("decode"), seconds,
                  options, decoder="runs")


def profile_options(args: argparse.Namespace, p: Plan) -> dict:
    if args.profile is not None and args.profile not in p.batches:
        raise ValueError(f"--profile takes one of the batches measured ({csv(p.batches)}); got {args.profile}")
    return {"profile_batch": args.profile}


def profile_plan(p: Plan) -> list[int]:
    """The one batch profiled, if any."""
    return [p.profile_batch] if p.profile_batch else []


def profile(r: Run, batches: list[int]) -> None:
    p, m = r.p, r.m
    (batch,) = batches
    r.step(f"profile: decode at batch {batch}", "profile")
    m.profile = decode.profile(p.info, r.model, p.context, batch, m.decode)


PROFILE = Section("profile", profile_plan, profile, lambda m: m.profile, schema("profile"), each(5, 10),
                  profile_options, skip_name="decode", decoder="runs")
