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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from snippets import result_checks
from snippets.bench import attention, decode, prefill, verify
from snippets.bench import results as res
from snippets.bench.device import ClockSampler, environment
from snippets.bench.plan import (  # noqa: F401 - re-exported: the command's defaults, its Plan
    CPU_CONTEXT,
    CPU_LAYERS,
    GPU_CONTEXT,
    REPEATS,
    SECTIONS,
    Plan,
    check_out_dir,
    check_something_left,
    shared,
)
from snippets.bench.plan import csv as _csv
from snippets.bench.prog import bench_prog
from snippets.bench.section import Measured, Run, run_sections
from snippets.bench.section import step_plan as section_steps
from snippets.bench.sections import ORDER, decoder, with_options
from snippets.bench.sections.decode import CPU_BATCHES, GPU_BATCHES_FULL, GPU_BATCHES_QUICK
from snippets.report import Markdown, markdown_table, slug


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


# ---- planning and running ------------------------------------------------------------------


def plan(args: argparse.Namespace) -> Plan:
    """Check every option (ValueError with one message on the first problem) and fill in defaults:
    the run's shared choices, then each section's own (snippets.bench.sections), then the folder."""
    chosen = with_options(args, shared(args))
    check_something_left(chosen)
    return replace(chosen, out=check_out_dir(chosen.out))


def step_plan(p: Plan) -> list[tuple[str, float]]:
    """(section, estimated seconds) of every progress step the run will take."""
    return section_steps(p, ORDER)


def run(p: Plan, m: Measured, progress=None) -> Measured:
    """Measure every section not skipped, in order, filling `m` as results arrive."""
    m.environment["start"] = environment(p.info)
    m.notes.append(f"device chosen: {p.why}")
    weights = dict(step_plan(p))
    step = (lambda label, section: progress(label, weights.get(section, 1.0))) if progress else (lambda *a: None)
    run_sections(Run(p, m, step, build_decoder=decoder.build), ORDER)
    m.section = "done"
    return m


def document(p: Plan, m: Measured, complete: bool = True, during: str | None = None) -> dict:
    if complete or "end" not in m.environment:
        try:
            m.environment["end"] = environment(p.info)
        except Exception:  # noqa: BLE001 - an interrupted run still saves its rows
            pass
    created = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    sections = {s.schema.key: s.result(m) for s in ORDER}
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
