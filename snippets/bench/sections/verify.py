"""The verify section (chapter 5): T(k), k tokens per sequence scored in one pass on the shared
decoder, per (batch, k, mode); and the draft section, a smaller model's decode step once the
target is freed, combined with T(k) into the results' "speculative" summary
(snippets.bench.verify). On by default on CUDA GPUs only."""

from __future__ import annotations

import argparse
from typing import NamedTuple

from snippets import models
from snippets.bench import verify
from snippets.bench.plan import GPU_CONTEXT, Plan, csv, section_modes
from snippets.bench.section import Run, Section, axis, each, schema
from snippets.transformer_data import TransformerConfig


class Point(NamedTuple):
    batch: int
    tokens: int
    mode: str


class DraftPoint(NamedTuple):
    batch: int
    mode: str


def draft_name(args: argparse.Namespace, p: Plan) -> str | None:
    """The draft model's name (None with verify off); refuses a --draft with nothing to draft for,
    an unsupported shape, or a draft larger than the target."""
    kind = p.info.kind
    if args.draft and "verify" in p.skip:
        raise ValueError("--draft needs the verify section: it is skipped"
                         + ("" if kind == "cuda" else f" (add --verify on a {kind})"))
    if "verify" in p.skip:
        return None
    drafted, named = models.get(args.draft or verify.default_draft()), models.get(p.model)
    TransformerConfig.from_model(drafted)  # MLA and MoE drafts: ValueError saying so
    if models.param_count(drafted) > models.param_count(named):
        raise ValueError(f"--draft {drafted.name}{'' if args.draft else ' (the default)'} is larger than the "
                         f"target {named.name}: a draft must be the cheaper model"
                         + ("" if args.draft else "; name one with --draft"))
    return drafted.name


def options(args: argparse.Namespace, p: Plan) -> dict:
    """The draft, the device's default grid at a context that fits, and the modes."""
    draft = draft_name(args, p)
    if not draft:
        return {}
    batches, tokens = verify.default_grid(p.info.kind)
    context = p.context if p.gpu else min(p.context, verify.CPU_CONTEXT)
    return {"draft": draft, "verify_batches": batches, "verify_context": context,
            "verify_tokens": [k for k in tokens if context + k <= p.max_positions],
            "verify_modes": section_modes(args.modes, verify.modes_for(p.info.kind))}


def plan(p: Plan) -> list[Point]:
    return [Point(b, k, mode) for b in p.verify_batches for k in p.verify_tokens for mode in p.verify_modes]


def measure(r: Run, points: list[Point]) -> None:
    p, m = r.p, r.m
    batches, tokens = axis(points, "batch"), axis(points, "tokens")
    m.notes.append(f"verify: the target ({r.cfg.n_layers} layers of {p.model}) scores k = {csv(tokens)} "
                   f"tokens per sequence after {p.verify_context:,} cached ones, logits for all k, at batches "
                   f"{csv(batches)}" + ("" if r.cuda else f" (a short context on {p.info.kind}: GPUs use "
                                        f"--context, {GPU_CONTEXT:,} by default)"))
    verify.measure(p.info, r.model, p.model, p.dtype, p.verify_context, batches, tokens, modes=axis(points, "mode"),
                   rows=m.verify, notes=m.notes, progress=r.progress("verify"), reps=5 if r.few else 20,
                   settle_rounds=2 if r.few else 10, repeats=p.repeats)


SECTION = Section("verify", plan, measure, lambda m: m.verify, schema("verify"), each(5, 3), options,
                  decoder="runs")


def draft_plan(p: Plan) -> list[DraftPoint]:
    return [DraftPoint(b, mode) for b in p.verify_batches for mode in p.verify_modes]


def measure_draft(r: Run, points: list[DraftPoint]) -> None:
    """The draft's steps, after the target is freed (chapter 5's c)."""
    p, m = r.p, r.m
    layers = verify.draft_layers(p.draft, p.model, r.cfg.n_layers)
    if layers is not None:
        m.notes.append(f"verify: the draft {p.draft} is cut to {layers} of its {models.get(p.draft).n_layers} "
                       f"layers, as the target to {r.cfg.n_layers}: c is the ratio of two truncated models")
    m.notes.append("verify: acceptance is synthetic (each draft token kept with probability alpha = "
                   f"{', '.join(map(str, verify.ALPHAS))}, independently): random weights make a real alpha "
                   "meaningless; T(gamma + 1) between measured k is interpolated linearly")
    verify.measure_draft(p.info, p.draft, p.dtype, p.verify_context, axis(points, "batch"), layers, m.verify,
                         modes=axis(points, "mode"), rows=m.drafts, notes=m.notes, progress=r.progress("draft"),
                         reps=5 if r.few else 20, settle_rounds=2 if r.few else 10, repeats=p.repeats)


DRAFT = Section("draft", draft_plan, measure_draft, lambda m: verify.speculative_section(m.drafts, m.verify),
                schema("speculative"), each(5, 3), skip_name="verify", title="verify (draft)", decoder="after")
