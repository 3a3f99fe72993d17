"""A run's plan: every choice of `python -m snippets bench`, checked before anything is measured.

The choices every section shares (device, model, layers, dtype, context, skipped sections,
repeats, output folder) are made here; each section adds its own (snippets.bench.sections:
its batches, prompts, grid and modes) from the plan so far. Nothing here measures or builds a
model: the device is detected, the model's shape looked up, the output folder tried.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from snippets import models
from snippets.bench.device import DeviceInfo, detect
from snippets.transformer_data import TransformerConfig

#: Defaults, used by the run and quoted by --help (and so by the site's options table).
GPU_CONTEXT, CPU_CONTEXT = 1024, 256
CPU_LAYERS = 2
#: The names --skip takes, in the order --help lists them.
SECTIONS = ("bandwidth", "matmul", "decode", "attention", "prefill", "quant", "mixed", "verify")
#: The sections that run the course decoder (a model shape MLA and MoE models do not have).
MODEL_SECTIONS = {"decode", "attention", "prefill", "mixed", "verify"}
#: Independent timings of every point (each one settled, many samples), their spread flagged.
REPEATS = 3


def csv(values: list[int]) -> str:
    return ",".join(map(str, values))


@dataclass(frozen=True)
class Plan:
    """Every choice of a run, checked: nothing here can fail once measuring starts. The first
    fields are the run's; the rest are filled in by the sections (snippets.bench.sections)."""

    info: DeviceInfo
    why: str
    quick: bool
    model: str  # the canonical name from the data, never the user's spelling
    layers: int | None
    dtype: str
    context: int
    skip: set[str]
    out: Path
    repeats: int = REPEATS
    batches: list[int] = field(default_factory=list)
    modes: list[str] = field(default_factory=list)
    profile_batch: int | None = None
    prompts: list[int] = field(default_factory=list)
    prefill_modes: list[str] = field(default_factory=list)
    attention_contexts: list[int] = field(default_factory=list)
    mixed_batches: list[int] = field(default_factory=list)
    mixed_chunks: list[int] = field(default_factory=list)
    mixed_modes: list[str] = field(default_factory=list)
    verify_batches: list[int] = field(default_factory=list)
    verify_tokens: list[int] = field(default_factory=list)
    verify_context: int | None = None
    verify_modes: list[str] = field(default_factory=list)
    draft: str | None = None

    @property
    def gpu(self) -> bool:
        """A CUDA run (the sections' GPU defaults; MPS runs take the CPU's)."""
        return self.info.kind == "cuda"

    @property
    def max_positions(self) -> int:
        """The model's maximum positions: no context, prompt or chunk goes beyond it."""
        return models.get(self.model).max_position_embeddings

    def settings(self) -> dict:
        return {"quick": self.quick, "model": self.model, "layers": self.layers, "dtype": self.dtype,
                "context": self.context, "batches": self.batches, "modes": self.modes,
                "skipped": sorted(self.skip), "prompts": self.prompts, "profile_batch": self.profile_batch,
                "mixed_batches": self.mixed_batches, "mixed_chunks": self.mixed_chunks,
                "verify_batches": self.verify_batches, "verify_tokens": self.verify_tokens,
                "verify_context": self.verify_context, "draft_model": self.draft, "repeats": self.repeats,
                "prefill_modes": self.prefill_modes, "mixed_modes": self.mixed_modes,
                "verify_modes": self.verify_modes, "attention_contexts": self.attention_contexts}


def section_modes(asked: str | None, default: list[str]) -> list[str]:
    """A section's modes: those of --modes (already checked), or its default when none was given."""
    return [m.strip() for m in asked.split(",") if m.strip()] if asked else list(default)


def check_out_dir(path: Path) -> Path:
    """`path` as a folder the results can be written to (created if missing); ValueError if it is a
    file, lies under a file, or cannot be written."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {path} is a file; give a folder")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"--out {path} lies under {parent}, which is a file")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as error:
        raise ValueError(f"--out {path} is not writable: {error.strerror or error}") from None
    return path


def check_model_options(args: argparse.Namespace, skip: set[str]) -> models.ModelConfig:
    """The model and the options bounded by it (layers, context, prompts); the model's row."""
    named = models.get(args.model)  # unknown names: ValueError listing close matches
    if MODEL_SECTIONS - skip:
        TransformerConfig.from_model(named)  # MLA and MoE models: ValueError saying so
    if args.layers is not None and not 1 <= args.layers <= named.n_layers:
        raise ValueError(f"--layers must be between 1 and {named.n_layers} for {named.name}; got {args.layers}")
    limit = named.max_position_embeddings
    if args.context is not None and not 1 <= args.context <= limit:
        raise ValueError(f"--context must be between 1 and {named.name}'s maximum of {limit:,} tokens; got {args.context:,}")
    if args.prompts and max(args.prompts) > limit:
        raise ValueError(f"--prompts must be at most {named.name}'s maximum of {limit:,} tokens; got {max(args.prompts):,}")
    if args.repeats < 1:
        raise ValueError(f"--repeats must be at least 1; got {args.repeats}")
    return named


def skipped(args: argparse.Namespace, kind: str) -> set[str]:
    """--skip, checked, plus the sections that run only on CUDA unless asked for."""
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if skip - set(SECTIONS):
        raise ValueError(f"--skip takes {', '.join(SECTIONS)}; got {', '.join(sorted(skip - set(SECTIONS)))}")
    if kind != "cuda":
        skip |= {name for name, asked in (("quant", args.quant), ("mixed", args.mixed), ("verify", args.verify))
                 if not asked}
    return skip


def shared(args: argparse.Namespace) -> Plan:
    """The choices every section shares, checked (ValueError with one message on the first
    problem); the sections' own fields are left empty."""
    skipped(args, "cuda")  # --skip's names, before anything is detected
    named = check_model_options(args, {s.strip() for s in args.skip.split(",")})
    info, why = detect(args.device)
    gpu, limit = info.kind == "cuda", named.max_position_embeddings
    return Plan(info, why, args.quick, named.name,
                args.layers if args.layers is not None else (None if gpu else min(CPU_LAYERS, named.n_layers)),
                args.dtype or ("bf16" if info.kind != "mps" else "fp16"),
                args.context or min(GPU_CONTEXT if gpu else CPU_CONTEXT, limit), skipped(args, info.kind),
                args.out, args.repeats)


def check_something_left(p: Plan) -> None:
    if set(SECTIONS) <= p.skip:
        raise ValueError("nothing left to run: every section is skipped"
                         + ("" if p.gpu else f" (quant, mixed and verify are off on a {p.info.kind} unless asked for)"))
