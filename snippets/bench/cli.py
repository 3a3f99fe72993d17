"""`python -m snippets bench`: measure this machine and draw its roofline.

Exit status: 0 on success; 1 when a section raised (its traceback is printed, a note names it, and
the other sections are measured and saved); 2 on bad options (one message saying what is allowed,
before anything is measured); 130 on Ctrl-C (what was measured so far is saved, marked incomplete).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from snippets import models, result_checks
from snippets.bench import attention, bandwidth, decode, matmul, mixed, prefill, quant, verify
from snippets.bench import results as res
from snippets.bench.device import ClockSampler, DeviceInfo, detect, environment
from snippets.bench.memory import is_out_of_memory
from snippets.bench.prog import bench_prog
from snippets.bench.steps import attention_check
from snippets.bench.steps import modes_for as step_modes
from snippets.report import Markdown, markdown_table, slug
from snippets.transformer import TransformerConfig

#: Defaults, used by the run and quoted by --help (and so by the site's options table).
GPU_CONTEXT, CPU_CONTEXT = 1024, 256
GPU_BATCHES_QUICK = [1, 8, 32, 64, 128, 256]
GPU_BATCHES_FULL = [1, 2, 4, 8, 16, 32, 64, 128, 256]
CPU_BATCHES = [1, 4, 16]
CPU_LAYERS = 2
SECTIONS = ("bandwidth", "matmul", "decode", "attention", "prefill", "quant", "mixed", "verify")
#: Estimated seconds per step, for the time left: (CPU, GPU).
STEP_SECONDS = {"bandwidth": (6, 3), "matmul": (4, 3), "eager": (6, 3), "graph": (6, 3), "compile": (6, 4),
                "first compile": (6, 25), "prefill": (6, 5), "profile": (5, 10), "quant": (8, 3),
                "mixed": (5, 4), "verify": (5, 3), "draft": (5, 3), "attention": (1, 1)}
#: Independent timings of every point (each one settled, many samples), their spread flagged.
REPEATS = 3
#: Batches of the quant section (one layer's weight matmuls per format).
QUANT_BATCHES = [1, 16, 64, 256]


def _csv(values: list[int]) -> str:
    return ",".join(map(str, values))


def int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected integers >= 1, got {text!r}")
    return sorted(set(values))


def default_prog(argv0: str | None = None) -> str:
    """'llm-course bench' under the console script, 'python -m snippets bench' otherwise."""
    return bench_prog(argv0)


def parser(prog: str | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog or default_prog(), description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"],
                   help="which device (default: CUDA, then MPS, then the CPU)")
    speed = p.add_mutually_exclusive_group()
    speed.add_argument("--quick", dest="quick", action="store_true", default=True, help="about five minutes (default)")
    speed.add_argument("--full", dest="quick", action="store_false", help="larger buffers, more shapes and batches")
    p.add_argument("--model", default="Llama-3.1-8B", help="model shape for the decode step (default %(default)s)")
    p.add_argument("--layers", type=int, default=None, help=f"build only this many layers (default: all on GPUs, {CPU_LAYERS} on CPUs)")
    p.add_argument("--dtype", default=None, choices=sorted(decode.DTYPES), help="decode dtype (default bf16; fp16 on MPS)")
    p.add_argument("--batches", type=int_list, default=None, help=f"decode batch sizes (default {_csv(GPU_BATCHES_QUICK)} on GPUs, "
                        f"{_csv(GPU_BATCHES_FULL)} with --full, {_csv(CPU_BATCHES)} on CPUs)")
    p.add_argument("--context", type=int, default=None, help=f"cached tokens per sequence (default {GPU_CONTEXT:,} on GPUs, {CPU_CONTEXT} on CPUs)")
    p.add_argument("--prompts", type=int_list, default=None, help=f"prefill prompt lengths at batch 1 (default {_csv(prefill.GPU_PROMPTS)} "
                        f"on GPUs, {_csv(prefill.CPU_PROMPTS)} on CPUs)")
    p.add_argument("--modes", default=None, help="step modes of the model sections: eager,graph,compile (default: all "
                        "on CUDA for decode and prefill, graph,compile for mixed and verify; eager elsewhere; graph and "
                        "compile need CUDA)")
    p.add_argument("--repeats", type=int, default=REPEATS,
                   help="independent timings of every point, their spread flagged (default %(default)s)")
    p.add_argument("--profile", type=int, default=None, metavar="BATCH",
                   help="profile the decode step at this batch (its fastest mode): top kernels by time, saved in the results")
    p.add_argument("--attention-contexts", type=int_list, default=None,
                   help=f"decode attention at batches {_csv(attention.CONTEXT_BATCHES)} over these contexts (default "
                        f"{_csv(attention.GPU_CONTEXTS)} on CUDA GPUs, up to the model's maximum; none elsewhere)")
    p.add_argument("--skip", default="", help="sections to skip: " + ",".join(SECTIONS))
    p.add_argument("--quant", action="store_true",
                   help="run the quant section on a CPU or MPS too (it runs by default on CUDA GPUs only: it is slow elsewhere)")
    p.add_argument("--mixed", action="store_true",
                   help="run the mixed section (a decode batch plus a prefill chunk per step, for chapter 3's "
                        "simulator) on a CPU or MPS too (it runs by default on CUDA GPUs only: it is slow elsewhere)")
    p.add_argument("--verify", action="store_true",
                   help="run the verify section (chapter 5: time to score k tokens per sequence in one pass, a draft "
                        "model's step, speedup at synthetic acceptance rates) on a CPU or MPS too (it runs by default "
                        "on CUDA GPUs only: it is slow elsewhere)")
    p.add_argument("--draft", default=None, help=f"draft model shape for the verify section (default: the first of "
                        f"{', '.join(verify.DRAFT_MODELS)} in the data)")
    p.add_argument("--out", type=Path, default=Path("bench-results"), help="folder for the JSON and SVG (default %(default)s)")
    return p


def options_table() -> str:
    """The command's options as a markdown table, from the parser itself (for the site)."""
    rows = []
    for action in parser("llm-course bench")._actions:  # argparse has no public accessor for its options
        if action.help is None or action.dest == "help":
            continue
        flags = Markdown(" / ".join(f"`{o}`" for o in action.option_strings))  # the parser's own names
        choices = f" ({', '.join(map(str, action.choices))})" if action.choices else ""
        rows.append([flags, action.help.replace("%(default)s", str(action.default)) + choices])
    return markdown_table(["option", "meaning"], rows, align="ll")


# ---- checking every option before measuring ---------------------------------------------------


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


@dataclass(frozen=True)
class Plan:
    """Every choice of a run, checked: nothing here can fail once measuring starts."""

    info: DeviceInfo
    why: str
    quick: bool
    model: str  # the canonical name from the data, never the user's spelling
    layers: int | None
    dtype: str
    context: int
    batches: list[int]
    prompts: list[int]
    modes: list[str]
    skip: set[str]
    profile_batch: int | None
    out: Path
    mixed_batches: list[int] = field(default_factory=list)
    mixed_chunks: list[int] = field(default_factory=list)
    verify_batches: list[int] = field(default_factory=list)
    verify_tokens: list[int] = field(default_factory=list)
    verify_context: int | None = None
    draft: str | None = None
    repeats: int = REPEATS
    prefill_modes: list[str] = field(default_factory=list)
    mixed_modes: list[str] = field(default_factory=list)
    verify_modes: list[str] = field(default_factory=list)
    attention_contexts: list[int] = field(default_factory=list)

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


def _check_model_options(args: argparse.Namespace, skip: set[str]) -> models.ModelConfig:
    """The model and the options bounded by it (layers, context, prompts); the model's row."""
    named = models.get(args.model)  # unknown names: ValueError listing close matches
    if {"decode", "attention", "prefill", "mixed", "verify"} - skip:
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


def _skipped(args: argparse.Namespace, kind: str) -> set[str]:
    """--skip, checked, plus the sections that run only on CUDA unless asked for."""
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if skip - set(SECTIONS):
        raise ValueError(f"--skip takes {', '.join(SECTIONS)}; got {', '.join(sorted(skip - set(SECTIONS)))}")
    if kind != "cuda":
        skip |= {name for name, asked in (("quant", args.quant), ("mixed", args.mixed), ("verify", args.verify))
                 if not asked}
    return skip


def _draft_name(args: argparse.Namespace, named: models.ModelConfig, skip: set[str], kind: str) -> str | None:
    """The draft model's name (None with verify off); refuses a --draft with nothing to draft for,
    an unsupported shape, or a draft larger than the target."""
    if args.draft and "verify" in skip:
        raise ValueError("--draft needs the verify section: it is skipped"
                         + ("" if kind == "cuda" else f" (add --verify on a {kind})"))
    if "verify" in skip:
        return None
    drafted = models.get(args.draft or verify.default_draft())
    TransformerConfig.from_model(drafted)  # MLA and MoE drafts: ValueError saying so
    if models.param_count(drafted) > models.param_count(named):
        raise ValueError(f"--draft {drafted.name}{'' if args.draft else ' (the default)'} is larger than the "
                         f"target {named.name}: a draft must be the cheaper model"
                         + ("" if args.draft else "; name one with --draft"))
    return drafted.name


def plan(args: argparse.Namespace) -> Plan:
    """Check every option (ValueError with one message on the first problem) and fill in defaults."""
    _skipped(args, "cuda")  # --skip's names, before anything is detected
    named = _check_model_options(args, {s.strip() for s in args.skip.split(",")})
    info, why = detect(args.device)
    gpu, limit, skip = info.kind == "cuda", named.max_position_embeddings, _skipped(args, info.kind)
    modes = decode.validate_modes(args.modes.split(",") if args.modes else step_modes(info.kind), info.kind)
    batches = args.batches or ((GPU_BATCHES_QUICK if args.quick else GPU_BATCHES_FULL) if gpu else CPU_BATCHES)
    if args.profile is not None and args.profile not in batches:
        raise ValueError(f"--profile takes one of the batches measured ({_csv(batches)}); got {args.profile}")
    draft = _draft_name(args, named, skip, info.kind)
    if set(SECTIONS) <= skip:
        raise ValueError("nothing left to run: every section is skipped"
                         + ("" if gpu else f" (quant, mixed and verify are off on a {info.kind} unless asked for)"))
    context = args.context or min(GPU_CONTEXT if gpu else CPU_CONTEXT, limit)
    mixed_batches, mixed_chunks = mixed.default_grid(info.kind) if "mixed" not in skip else ([], [])
    verify_batches, verify_tokens = verify.default_grid(info.kind) if draft else ([], [])
    verify_context = (context if gpu else min(context, verify.CPU_CONTEXT)) if draft else None
    return Plan(info, why, args.quick, named.name,
                args.layers if args.layers is not None else (None if gpu else min(CPU_LAYERS, named.n_layers)),
                args.dtype or ("bf16" if info.kind != "mps" else "fp16"), context, batches,
                [p for p in (args.prompts or (prefill.GPU_PROMPTS if gpu else prefill.CPU_PROMPTS)) if p <= limit],
                modes, skip, args.profile, check_out_dir(args.out), mixed_batches,
                [c for c in mixed_chunks if c <= limit], verify_batches,
                [k for k in verify_tokens if verify_context + k <= limit], verify_context, draft, args.repeats,
                section_modes(args.modes, step_modes(info.kind)) if "prefill" not in skip else [],
                section_modes(args.modes, mixed.modes_for(info.kind)) if "mixed" not in skip else [],
                section_modes(args.modes, verify.modes_for(info.kind)) if draft else [],
                [c for c in (args.attention_contexts if args.attention_contexts is not None
                             else (attention.GPU_CONTEXTS if gpu else [])) if c <= limit]
                if "attention" not in skip else [])


# ---- running ---------------------------------------------------------------------------------


@dataclass
class Measured:
    """What a run has measured so far (filled in as it goes, so Ctrl-C can save it)."""

    bandwidth: list = field(default_factory=list)
    stream_triad_GBps: float | None = None
    matmul: list = field(default_factory=list)
    decode: list = field(default_factory=list)
    prefill: list = field(default_factory=list)
    profile: dict | None = None
    quant: list = field(default_factory=list)
    mixed: list = field(default_factory=list)
    verify: list = field(default_factory=list)
    drafts: list = field(default_factory=list)
    attention: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # sections that raised (each also has a note)
    section: str = "start"
    environment: dict = field(default_factory=dict)
    #: Called with a section's name as it starts, and with None when it ends (clock samples,
    #: saving the rows so far): set by main, None in tests.
    boundary: Callable[[str | None], None] | None = None


def matmul_shapes(p: Plan) -> list[tuple]:
    """The matmul sweep's shapes, and on GPUs the model's own layer matmuls at prefill sizes."""
    shapes = list(matmul.default_shapes(p.info, p.quick))
    if p.info.kind == "cuda" and {"prefill", "mixed"} - p.skip:
        shapes += matmul.model_layer_shapes(p.model)
    return shapes


def attention_cases(p: Plan) -> list:
    """The attention section's shapes: decode at every decode (and mixed) batch, prefill at every
    prompt (and mixed chunk) length the run times."""
    prompts = [t for t in (*(p.prompts if "prefill" not in p.skip else []), *p.mixed_chunks) if t]
    return attention.plan([*p.batches, *p.mixed_batches], p.context, prompts, p.attention_contexts)


def step_plan(p: Plan) -> list[tuple[str, float]]:
    """(section, estimated seconds) of every progress step the run will take."""
    gpu = int(p.info.kind == "cuda")
    shapes, dtypes = matmul_shapes(p), matmul.default_dtypes(p.info)
    steps: list[tuple[str, float]] = []
    if "bandwidth" not in p.skip:
        steps += [("bandwidth", STEP_SECONDS["bandwidth"][gpu])] * len(bandwidth.KERNELS)
    if "matmul" not in p.skip:
        steps += [("matmul", STEP_SECONDS["matmul"][gpu])] * (len(shapes) * len(dtypes))
    if "decode" not in p.skip:
        for i, _ in enumerate(p.batches):
            for mode in p.modes:
                key = "first compile" if mode == "compile" and i < 2 else mode
                steps.append(("decode", STEP_SECONDS[key][gpu]))
        if p.profile_batch:
            steps.append(("profile", STEP_SECONDS["profile"][gpu]))
    if "attention" not in p.skip:
        steps += [("attention", STEP_SECONDS["attention"][gpu])] * (len(attention_cases(p))
                                                                   * len(attention.kernels_for(p.info.kind)))
    if "prefill" not in p.skip:
        steps += [("prefill", STEP_SECONDS["prefill"][gpu])] * (len(p.prompts) * len(p.prefill_modes))
    if "quant" not in p.skip:
        steps += [("quant", STEP_SECONDS["quant"][gpu])] * (len(quant.FORMATS) * len(QUANT_BATCHES))
    if "mixed" not in p.skip:
        steps += [("mixed", STEP_SECONDS["mixed"][gpu])] * (len(p.mixed_batches) * len(p.mixed_chunks)
                                                           * len(p.mixed_modes))
    if "verify" not in p.skip:
        n_modes = len(p.verify_modes)
        steps += [("verify", STEP_SECONDS["verify"][gpu])] * (len(p.verify_batches) * len(p.verify_tokens) * n_modes)
        steps += [("draft", STEP_SECONDS["draft"][gpu])] * (len(p.verify_batches) * n_modes)
    return steps


def attempt(m: Measured, section: str, measure) -> bool:
    """Run one section's `measure()`. An exception other than Ctrl-C does not end the run: its
    traceback goes to stderr, a note says which section failed and why, and the next section runs
    (what the other sections measured is kept). True if the section finished."""
    m.section = section
    if m.boundary:
        m.boundary(section)
    try:
        measure()
    except Exception as error:  # noqa: BLE001 - one broken path must not lose the other sections
        traceback.print_exc(file=sys.stderr)
        m.failed.append(section)
        m.notes.append(f"{section} failed and was skipped: {type(error).__name__}: {error}")
        return False
    finally:
        if m.boundary:
            m.boundary(None)
    return True


@dataclass
class ModelRun:
    """What the model sections share: the plan, what is measured so far, the progress callback,
    the run's copy bandwidth (once measured), and the decoder built once for all of them."""

    p: Plan
    m: Measured
    step: Callable[[str, str], None]
    copy_GBps: Callable[[], float | None]
    model: object = None
    cfg: TransformerConfig | None = None

    @property
    def cuda(self) -> bool:
        return self.p.info.kind == "cuda"

    @property
    def few(self) -> bool:
        """Fewer repetitions off CUDA (a CPU step of hundreds of tokens takes seconds)."""
        return self.p.info.kind != "cuda"

    def progress(self, section: str):
        return lambda label: self.step(label, section)


def _model_length(p: Plan) -> int:
    """Positions the shared decoder needs: the longest context, prompt, chunk or verify pass."""
    return max([p.context] + (p.prompts if "prefill" not in p.skip else [])
               + (p.mixed_chunks if "mixed" not in p.skip else [])
               + ([p.verify_context + max(p.verify_tokens)] if "verify" not in p.skip else []))


def _build(r: ModelRun) -> bool:
    """Build the decoder (fewer layers where the weights do not fit, said); False if none fits."""
    p, m = r.p, r.m
    m.section = "building the model"
    try:
        r.model, r.cfg, built = decode.build_fitting(p.info, p.model, p.dtype, _model_length(p), p.layers)
    except (MemoryError, RuntimeError) as error:  # the fit check's refusal, or an allocation that failed anyway
        if not is_out_of_memory(error):
            raise
        also = " and ".join(s for s in ("mixed", "verify") if s not in p.skip)
        m.notes.append(f"skipped decode and prefill{f' (and {also})' if also else ''}: {error}")
        return False
    m.notes += built
    try:
        check = attention_check(p.info.torch_device, r.model.lm_head.weight.dtype)
        kernel = "FlashAttention-2, aten._scaled_dot_product_flash_attention" if r.cuda and p.dtype != "fp32" else "SDPA"
        m.notes.append(f"attention without a mask ({kernel}): largest difference from SDPA with the mask built, "
                       "on small random tensors: " + ", ".join(f"{k} {v:.2g}" for k, v in check.items()))
    except Exception as error:  # noqa: BLE001 - a check, not a section
        m.notes.append(f"attention check failed: {type(error).__name__}: {str(error)[:200]}")
    whole = models.get(p.model).n_layers
    if r.cfg.n_layers < whole:
        m.notes.append(f"decode, prefill, mixed and verify steps ran {r.cfg.n_layers} of {p.model}'s {whole} "
                       "layers: their times are for that many layers, not the whole model")
    return True


def _decode(r: ModelRun) -> None:
    p, m = r.p, r.m
    attempt(m, "decode", lambda: decode.measure(
        p.info, p.model, p.dtype, p.context, p.batches, p.modes, copy_GBps=r.copy_GBps(), model=r.model,
        rows=m.decode, notes=m.notes, progress=r.progress("decode"), repeats=p.repeats))
    if p.profile_batch:
        def measure_profile():
            r.step(f"profile: decode at batch {p.profile_batch}", "profile")
            m.profile = decode.profile(p.info, r.model, p.context, p.profile_batch, m.decode)
        attempt(m, "profile", measure_profile)


def _attention(r: ModelRun) -> None:
    p, m = r.p, r.m
    attempt(m, "attention", lambda: attention.measure(
        p.info, r.cfg, r.model.lm_head.weight.dtype, attention_cases(p), rows=m.attention, notes=m.notes,
        progress=r.progress("attention"), reps=5 if r.few else 20, settle_rounds=2 if r.few else 5,
        repeats=p.repeats))


def _prefill(r: ModelRun) -> None:
    p, m = r.p, r.m
    if not r.cuda:
        m.notes.append(f"prefill on {p.info.kind}: prompts of {_csv(p.prompts)} tokens (GPUs default to "
                       f"{_csv(prefill.GPU_PROMPTS)}) with the same {r.cfg.n_layers} layers as decode")
    mm = [row for row in m.matmul if row.dtype == p.dtype] or m.matmul
    best_tflops = max((row.best_TFLOPS for row in mm), default=None)
    attempt(m, "prefill", lambda: prefill.measure(
        p.info, r.model, p.model, p.dtype, p.prompts, best_TFLOPS=best_tflops, rows=m.prefill, notes=m.notes,
        progress=r.progress("prefill"), reps=5 if r.few else 10, settle_rounds=2 if r.few else 5,
        modes=p.prefill_modes, repeats=p.repeats))


def _mixed(r: ModelRun) -> None:
    p, m = r.p, r.m
    m.notes.append(f"mixed steps: a decode of batches {_csv(p.mixed_batches)} at context {p.context:,} plus a "
                   f"prefill chunk of {_csv(p.mixed_chunks)} tokens, in one forward pass (one read of the "
                   f"weights, as servers run it), on the same {r.cfg.n_layers}-layer decoder as decode")
    attempt(m, "mixed", lambda: mixed.measure(
        p.info, r.model, p.model, p.dtype, p.context, p.mixed_batches, p.mixed_chunks, modes=p.mixed_modes,
        rows=m.mixed, notes=m.notes, progress=r.progress("mixed"), reps=5 if r.few else 20,
        settle_rounds=2 if r.few else 10, repeats=p.repeats))


def _verify(r: ModelRun) -> None:
    p, m = r.p, r.m
    m.notes.append(f"verify: the target ({r.cfg.n_layers} layers of {p.model}) scores k = {_csv(p.verify_tokens)} "
                   f"tokens per sequence after {p.verify_context:,} cached ones, logits for all k, at batches "
                   f"{_csv(p.verify_batches)}" + ("" if r.cuda else f" (a short context on {p.info.kind}: GPUs use "
                                                  f"--context, {GPU_CONTEXT:,} by default)"))
    attempt(m, "verify", lambda: verify.measure(
        p.info, r.model, p.model, p.dtype, p.verify_context, p.verify_batches, p.verify_tokens, modes=p.verify_modes,
        rows=m.verify, notes=m.notes, progress=r.progress("verify"), reps=5 if r.few else 20,
        settle_rounds=2 if r.few else 10, repeats=p.repeats))


def _draft(r: ModelRun) -> None:
    """The draft's steps, after the target is freed (chapter 5's c)."""
    p, m = r.p, r.m
    layers = verify.draft_layers(p.draft, p.model, r.cfg.n_layers)
    if layers is not None:
        m.notes.append(f"verify: the draft {p.draft} is cut to {layers} of its {models.get(p.draft).n_layers} "
                       f"layers, as the target to {r.cfg.n_layers}: c is the ratio of two truncated models")
    m.notes.append("verify: acceptance is synthetic (each draft token kept with probability alpha = "
                   f"{', '.join(map(str, verify.ALPHAS))}, independently): random weights make a real alpha "
                   "meaningless; T(gamma + 1) between measured k is interpolated linearly")
    attempt(m, "verify (draft)", lambda: verify.measure_draft(
        p.info, p.draft, p.dtype, p.verify_context, p.verify_batches, layers, m.verify, modes=p.verify_modes,
        rows=m.drafts, notes=m.notes, progress=r.progress("draft"), reps=5 if r.few else 20,
        settle_rounds=2 if r.few else 10, repeats=p.repeats))


#: The sections that run the course decoder, in their order: (name in --skip, how it runs).
MODEL_SECTIONS = (("decode", _decode), ("attention", _attention), ("prefill", _prefill), ("mixed", _mixed),
                  ("verify", _verify))


def measure_model_sections(p: Plan, m: Measured, step, copy_GBps) -> None:
    """The sections that run the course decoder, built once; then the draft, the target freed."""
    r = ModelRun(p, m, step, copy_GBps)
    if not _build(r):
        return
    for name, run_section in MODEL_SECTIONS:
        if name not in p.skip:
            run_section(r)
    r.model = None  # free the target before the draft is built
    if "verify" not in p.skip:
        _draft(r)


def _bandwidth(r: ModelRun) -> None:
    p, m = r.p, r.m

    def measure():
        m.notes.extend(bandwidth.measure(p.info, bandwidth.default_buffer_bytes(p.info, p.quick), rows=m.bandwidth,
                                         progress=r.progress("bandwidth"))[1])
        if p.info.kind == "cpu":
            m.stream_triad_GBps = bandwidth.stream_triad_GBps(m.bandwidth[0].buffer_bytes, threads=p.info.threads)
    attempt(m, "bandwidth", measure)


def _matmul(r: ModelRun) -> None:
    p, m = r.p, r.m
    attempt(m, "matmul", lambda: m.notes.extend(matmul.measure(
        p.info, matmul_shapes(p), matmul.default_dtypes(p.info), rows=m.matmul, progress=r.progress("matmul"))[1]))


def _quant(r: ModelRun) -> None:
    p, m = r.p, r.m
    attempt(m, "quant", lambda: quant.measure(p.info, p.model, QUANT_BATCHES, copy_GBps=r.copy_GBps(), rows=m.quant,
                                              notes=m.notes, progress=r.progress("quant"), repeats=p.repeats))


def _model_sections(r: ModelRun) -> None:
    if {name for name, _ in MODEL_SECTIONS} - r.p.skip:
        measure_model_sections(r.p, r.m, r.step, r.copy_GBps)


#: A run's sections in order: (name in --skip, or "model" for those that share one decoder; how it runs).
RUN_ORDER = (("bandwidth", _bandwidth), ("matmul", _matmul), ("model", _model_sections), ("quant", _quant))


def run(p: Plan, m: Measured, progress=None) -> Measured:
    """Measure every section not skipped, filling `m` as results arrive."""
    m.environment["start"] = environment(p.info)
    m.notes.append(f"device chosen: {p.why}")
    weights = dict(step_plan(p))
    step = (lambda label, section: progress(label, weights.get(section, 1.0))) if progress else (lambda *a: None)
    r = ModelRun(p, m, step, lambda: next((row.GBps for row in m.bandwidth if row.kernel == "copy"), None))
    for name, section in RUN_ORDER:
        if name not in p.skip:
            section(r)
    m.section = "done"
    return m


def document(p: Plan, m: Measured, complete: bool = True, during: str | None = None) -> dict:
    if complete or "end" not in m.environment:
        try:
            m.environment["end"] = environment(p.info)
        except Exception:  # noqa: BLE001 - an interrupted run still saves its rows
            pass
    created = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    sections = {"bandwidth": m.bandwidth, "matmul": m.matmul, "decode": decode.with_batch_flags(m.decode),
                "prefill": m.prefill, "profile": m.profile, "quant": m.quant, "attention": m.attention,
                "mixed": m.mixed, "verify": m.verify, "speculative": verify.speculative_section(m.drafts, m.verify)}
    doc = res.document(p.info, p.why, p.settings(), sections, m.notes, created, stream_triad=m.stream_triad_GBps,
                       environment=m.environment, complete=complete,
                       interrupted_during=None if complete else during or m.section)
    return res.validate(result_checks.flag_beyond_bounds(doc), "this run's results")


def unique_stem(folder: Path, base: str) -> str:
    """`base`, or `base-2`, `base-3`... : the first whose JSON file does not exist yet."""
    stem, n = base, 1
    while (folder / f"{stem}.json").exists() or (folder / f"{stem}-roofline.svg").exists():
        n += 1
        stem = f"{base}-{n}"
    return stem


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`: a reader (or a
    run killed mid-write) sees the old file or the new one, never half of one. OSError first when
    the disk has not room for it twice over."""
    import os
    import shutil

    data = text.encode("utf-8")
    free = shutil.disk_usage(path.parent).free
    if free < 2 * len(data) + 2**20:
        raise OSError(f"only {free:,} bytes free in {path.parent}; {path.name} needs {len(data):,}")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@dataclass
class Writer:
    """Writes a run's JSON under one name for the whole run (checkpoints, then the final file)."""

    out: Path
    stem: str | None = None

    def save(self, doc: dict) -> Path:
        if self.stem is None:
            stamp = doc["created"][:19].replace(":", "").replace("T", "-")  # 2026-11-26-105035
            self.stem = unique_stem(self.out, f"{slug(doc['device']['name']) or 'device'}-{stamp}")
        path = self.out / f"{self.stem}.json"
        write_atomic(path, json.dumps(doc, indent=1, allow_nan=False) + "\n")
        return path


#: Draws a results document's standalone roofline SVG (the figure code lives in `vis`, which
#: snippets never imports: `vis.bench` passes vis's drawer in).
Draw = Callable[[dict], str]


def write(doc: dict, out: Path, writer: Writer | None = None, draw: Draw | None = None) -> tuple[Path, Path | None]:
    """Write the JSON, and the standalone SVG when a drawer is given, under a name no earlier run
    has taken. Returns both paths (the SVG's None without a drawer)."""
    writer = writer or Writer(out)
    json_path = writer.save(doc)
    if draw is None:
        return json_path, None
    svg_path = out / f"{writer.stem}-roofline.svg"
    write_atomic(svg_path, draw(doc) + "\n")
    return json_path, svg_path


# ---- summary ---------------------------------------------------------------------------------


def summary(doc: dict) -> str:
    """The run as text: its tables (the results' own), the calibrated model, flags and notes."""
    from snippets.calibration import calibrate_document

    dev = doc["device"]
    lines = [f"Device: {dev['name']} ({dev['spec_name'] or 'unknown device: no % of spec'})"]
    if not doc.get("complete", True):
        lines.append(f"INCOMPLETE: interrupted during {doc['interrupted_during']}; what was measured is below.")
    for section in res.SECTIONS:
        if doc.get(section.key):
            lines += [section.heading, section.table(doc)] if section.heading else [section.table(doc)]
    if calibrate_document(doc)[0] or doc["decode"]:
        lines.append("Calibrated model: fixed cost + max((weight + cache bytes) / copy bandwidth, FLOPs / matmul "
                     "rate) + attention where timed alone, fixed cost fitted on the two smallest points of each sweep:")
        lines.append(res.calibration_table(doc))
    flagged = sum(bool(r.get("flags")) for s in res.SECTIONS if s.rows for r in doc.get(s.key) or [])
    if flagged:
        lines.append(f"note: {flagged} rows are flagged (see flags): run-to-run spread is large or the order of "
                     "batch times is unexpected; rerun on an idle machine before trusting them")
    return "\n\n".join(lines + [f"note: {n}" for n in doc["notes"]])


def configure_torch() -> None:
    """The process-wide torch settings of a run, made here in the entry point and nowhere else:
    room for every compiled shape (decode, verify, prefill, mixed, draft, quant: more than
    dynamo's default of 8 recompiles), and inductor's coordinate-descent tuning of the kernels it
    generates (as gpt-fast does; max-autotune measured slower on an H200)."""
    import torch._dynamo
    import torch._inductor.config as inductor

    for name in ("recompile_limit", "cache_size_limit"):  # the newer name, and the older one
        if hasattr(torch._dynamo.config, name):
            setattr(torch._dynamo.config, name, 64)
    inductor.coordinate_descent_tuning = True


def interrupt_on_signals() -> None:
    """SIGTERM and SIGHUP end the run as Ctrl-C does: what was measured is saved, marked incomplete."""
    import signal

    def handler(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), handler)


def _run_saving(chosen: Plan, measured: Measured, progress, writer: Writer) -> None:
    """Run every section, the clocks sampled per section and the rows saved (by `writer`) after
    each. Ctrl-C, SIGTERM and SIGHUP propagate as KeyboardInterrupt."""
    sampler = ClockSampler(chosen.info.kind)

    def boundary(section: str | None) -> None:
        sampler.section(section)
        measured.environment.update({f"section:{k}": v for k, v in sampler.summaries.items()})
        if section is None:  # a section ended: save every row so far (marked incomplete until the end)
            writer.save(document(chosen, measured, complete=False,
                                 during=f"the run (saved after {measured.section}; it went on)"))

    measured.boundary = boundary
    try:
        run(chosen, measured, progress)
    finally:
        progress.close()
        measured.environment.update({f"section:{k}": v for k, v in sampler.stop().items()})


def main(argv: list[str] | None = None, prog: str | None = None, draw: Draw | None = None) -> int:
    """The bench command. `draw`: a results document's standalone SVG (vis.bench passes one)."""
    from snippets.bench.progress import Progress

    p = parser(prog)
    args = p.parse_args(argv)
    try:
        chosen = plan(args)
    except ValueError as error:
        p.error(str(error))  # exits with status 2
    print(f"Measuring {chosen.info.describe()}: {chosen.why}.", file=sys.stderr)
    configure_torch()
    interrupt_on_signals()
    steps = step_plan(chosen)
    measured, writer = Measured(), Writer(chosen.out)
    try:
        _run_saving(chosen, measured, Progress(sum(w for _, w in steps), len(steps)), writer)
    except KeyboardInterrupt:
        json_path = writer.save(document(chosen, measured, complete=False))
        print(f"\ninterrupted during {measured.section}: saved what was measured so far to {json_path} "
              "(marked incomplete)", file=sys.stderr)
        return 130
    doc = document(chosen, measured)
    json_path, svg_path = write(doc, chosen.out, writer, draw)
    print(summary(doc))
    print(f"\nwrote {json_path}" + (f" and {svg_path}" if svg_path else
                                    " (its roofline SVG too with `python -m vis.bench` or `llm-course bench`)"))
    if measured.failed:
        print(f"{len(measured.failed)} section(s) failed and were skipped: {', '.join(measured.failed)} "
              "(tracebacks above; the other sections' results are saved)", file=sys.stderr)
        return 1
    return 0
