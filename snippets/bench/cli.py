"""`python -m snippets bench`: measure this machine and draw its roofline.

Exit status: 0 on success, 2 on bad options (with a message saying what is allowed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

from snippets import models
from snippets.bench import bandwidth, decode, matmul
from snippets.bench import results as res
from snippets.bench.device import detect
from snippets.report import markdown_table, slug


#: Defaults, used by the run and quoted by --help (and so by the site's options table).
GPU_CONTEXT, CPU_CONTEXT = 1024, 256
GPU_BATCHES_QUICK = [1, 8, 32, 64, 128, 256]
GPU_BATCHES_FULL = [1, 2, 4, 8, 16, 32, 64, 128, 256]
CPU_BATCHES = [1, 4, 16]
CPU_LAYERS = 2


def _csv(values: list[int]) -> str:
    return ",".join(map(str, values))


def int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected integers >= 1, got {text!r}")
    return values


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m snippets bench", description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"],
                   help="which device (default: CUDA, then MPS, then the CPU)")
    speed = p.add_mutually_exclusive_group()
    speed.add_argument("--quick", dest="quick", action="store_true", default=True, help="a few minutes (default)")
    speed.add_argument("--full", dest="quick", action="store_false", help="larger buffers, more shapes and batches")
    p.add_argument("--model", default="Llama-3.1-8B", help="model shape for the decode step (default %(default)s)")
    p.add_argument("--layers", type=int, default=None, help=f"build only this many layers (default: all on GPUs, {CPU_LAYERS} on CPUs)")
    p.add_argument("--dtype", default=None, choices=sorted(decode.DTYPES), help="decode dtype (default bf16; fp16 on MPS)")
    p.add_argument("--batches", type=int_list, default=None, help=f"decode batch sizes (default {_csv(GPU_BATCHES_QUICK)} on GPUs, "
                        f"{_csv(GPU_BATCHES_FULL)} with --full, {_csv(CPU_BATCHES)} on CPUs)")
    p.add_argument("--context", type=int, default=None, help=f"cached tokens per sequence (default {GPU_CONTEXT:,} on GPUs, {CPU_CONTEXT} on CPUs)")
    p.add_argument("--modes", default=None, help="decode modes: eager,graph,compile (default: all on CUDA, eager elsewhere; "
                        "graph and compile need CUDA)")
    p.add_argument("--skip", default="", help="sections to skip: bandwidth,matmul,decode")
    p.add_argument("--out", type=Path, default=Path("bench-results"), help="folder for the JSON and SVG (default %(default)s)")
    return p


def options_table() -> str:
    """The command's options as a markdown table, from the parser itself (for the site)."""
    rows = []
    for action in parser()._actions:  # argparse has no public accessor for its options
        if action.help is None or action.dest == "help":
            continue
        flags = " / ".join(f"`{o}`" for o in action.option_strings)
        choices = f" ({', '.join(map(str, action.choices))})" if action.choices else ""
        rows.append([flags, action.help.replace("%(default)s", str(action.default)) + choices])
    return markdown_table(["option", "meaning"], rows, align="ll")


def progress_printer(total: int):
    """Progress on stderr: '[3/12 0:42] what is running'."""
    state = {"i": 0, "start": time.perf_counter()}

    def step(label: str) -> None:
        state["i"] += 1
        elapsed = int(time.perf_counter() - state["start"])
        print(f"[{state['i']}/{total} {elapsed // 60}:{elapsed % 60:02d}] {label}", file=sys.stderr, flush=True)

    return step


def summary(doc: dict) -> str:
    lines = [f"Device: {doc['device']['name']} ({doc['device']['spec_name'] or 'unknown device: no % of spec'})"]
    if doc["bandwidth"]:
        lines.append(markdown_table(["kernel", "GB/s", "% of spec"], [
            [r["kernel"], f"{r['GBps']:,.1f}", f"{r['pct_of_spec']:.1f}" if r["pct_of_spec"] else "-"]
            for r in doc["bandwidth"]]))
    if doc["stream_triad_GBps"]:
        triad = res.best(doc, "bandwidth", "GBps", kernel="triad")
        ratio = f" (torch triad = {100 * triad['GBps'] / doc['stream_triad_GBps']:.0f} % of it)" if triad else ""
        lines.append(f"STREAM-style C triad: {doc['stream_triad_GBps']:,.1f} GB/s{ratio}")
    if doc["matmul"]:
        lines.append(markdown_table(["m x n x k", "dtype", "best TFLOP/s", "median", "% of dense spec"], [
            [f"{r['m']}x{r['n']}x{r['k']}", r["dtype"], f"{r['best_TFLOPS']:,.1f}", f"{r['TFLOPS']:,.1f}",
             f"{r['pct_of_spec']:.1f}" if r["pct_of_spec"] else "-"] for r in doc["matmul"]]))
    if doc["decode"]:
        lines.append(markdown_table(
            ["mode", "batch", "ms/step", "tokens/s", "GB/s", "MBU %", "% of copy", "bound ms"], [
                [r["mode"], r["batch"], f"{r['median_s'] * 1e3:.3f}", f"{r['tokens_per_s']:,.0f}", f"{r['GBps']:,.0f}",
                 f"{r['mbu_pct']:.1f}" if r["mbu_pct"] else "-", f"{r['pct_of_copy']:.1f}" if r["pct_of_copy"] else "-",
                 f"{r['predicted_s'] * 1e3:.3f}" if r["predicted_s"] else "-"] for r in doc["decode"]]))
    lines += [f"note: {n}" for n in doc["notes"]]
    return "\n\n".join(lines)


def run(args: argparse.Namespace) -> dict:
    info, why = detect(args.device)
    print(f"Measuring {info.describe()}: {why}.", file=sys.stderr)
    on_gpu = info.kind == "cuda"
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    modes = args.modes.split(",") if args.modes else (list(decode.MODES) if on_gpu else ["eager"])
    if args.batches:
        batches = args.batches
    elif on_gpu:
        batches = GPU_BATCHES_QUICK if args.quick else GPU_BATCHES_FULL
    else:
        batches = CPU_BATCHES
    context = args.context or (GPU_CONTEXT if on_gpu else CPU_CONTEXT)
    if not on_gpu and set(modes) - {"eager"}:
        raise ValueError(f"modes graph and compile need a CUDA GPU; this run is on {info.kind}")
    layers = args.layers if args.layers is not None else (None if on_gpu else CPU_LAYERS)
    dtype = args.dtype or ("bf16" if info.kind != "mps" else "fp16")
    compile_batches = [min(batches)] if args.quick else None  # one compile takes about a minute
    shapes, dtypes = matmul.default_shapes(info, args.quick), matmul.default_dtypes(info)
    compiled = [b for b in batches if compile_batches is None or b in compile_batches] if "compile" in modes else []
    steps = {"bandwidth": len(bandwidth.KERNELS), "matmul": len(shapes) * len(dtypes),
             "decode": len(batches) * len([m for m in modes if m != "compile"]) + len(compiled)}
    total = sum(n for section, n in steps.items() if section not in skip)
    step = progress_printer(total)
    notes: list[str] = [f"device chosen: {why}"]
    bw, stream, mm, dec = [], None, [], []
    if "bandwidth" not in skip:
        bw, n = bandwidth.measure(info, bandwidth.default_buffer_bytes(info, args.quick), progress=step)
        notes += n
        if info.kind == "cpu":
            stream = bandwidth.stream_triad_GBps(bw[0].buffer_bytes, threads=info.threads)
    if "matmul" not in skip:
        mm, n = matmul.measure(info, shapes, dtypes, progress=step)
        notes += n
    if "decode" not in skip:
        copy = next((r.GBps for r in bw if r.kernel == "copy"), None)
        dec, n = decode.measure(info, args.model, dtype, context, batches, modes, layers=layers,
                                compile_batches=compile_batches, copy_GBps=copy, progress=step)
        notes += n
    settings = {"quick": args.quick, "model": args.model, "layers": layers, "dtype": dtype, "context": context,
                "batches": batches, "modes": modes, "skipped": sorted(skip)}
    created = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    return res.document(info, why, settings, bw, stream, mm, dec, notes, created)


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    try:
        models.get(args.model)
        if args.context is not None and args.context < 1:
            raise ValueError("--context must be >= 1")
        unknown = {s.strip() for s in args.skip.split(",") if s.strip()} - {"bandwidth", "matmul", "decode"}
        if unknown:
            raise ValueError(f"--skip takes bandwidth, matmul, decode; got {', '.join(sorted(unknown))}")
        if args.modes and set(args.modes.split(",")) - set(decode.MODES):
            raise ValueError(f"--modes takes {', '.join(decode.MODES)}; got {args.modes}")
        doc = run(args)
    except ValueError as error:
        p.error(str(error))  # exits with status 2
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"{slug(doc['device']['name'])}-{doc['created'][:10]}"
    json_path = args.out / f"{stem}.json"
    json_path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    from vis.measured import measured_roofline

    svg_path = args.out / f"{stem}-roofline.svg"
    svg_path.write_text(measured_roofline(doc) + "\n", encoding="utf-8")
    print(summary(doc))
    print(f"\nwrote {json_path} and {svg_path}")
    return 0
