"""Measure collectives between processes: `torchrun --nproc-per-node N -m snippets bench-comm`.

All-reduce and all-to-all over message sizes from 1 KiB up (1 GiB on GPUs, 16 MiB on CPUs by
default), with torch.distributed: NCCL on CUDA GPUs, gloo on CPUs. Each size is timed
`--iterations` times after `--warmup` calls, every call between barriers, and an iteration's
time is the slowest rank's (a collective finishes when its last rank does). It reports
algorithm and bus bandwidth as nccl-tests defines them (snippets.comm), fits alpha and beta on
the smallest and largest sizes, checks the fit on the sizes between, and predicts the
all-reduce time of one tensor-parallel decode step (snippets.parallel). Rank 0 writes a JSON
file validated against snippets.comm_results.

Without torchrun, `--local N` starts N processes itself (gloo on the CPU): the path the tests run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

from snippets import comm, comm_results, models, parallel

KiB, MiB, GiB = 2**10, 2**20, 2**30
GPU_MAX_BYTES = GiB
CPU_MAX_BYTES = 16 * MiB
COLLECTIVES = ("all_reduce", "all_to_all")


def parse_size(text: str) -> int:
    """'1K', '16M', '1G', '4096' -> bytes (binary units)."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)(?:i?B)?\s*", text, flags=re.I)
    if not match:
        raise argparse.ArgumentTypeError(f"expected a size such as 4096, 64K, 16M or 1G, got {text!r}")
    value = int(match[1]) * {"": 1, "K": KiB, "M": MiB, "G": GiB}[match[2].upper()]
    if value < 1:
        raise argparse.ArgumentTypeError("a size must be at least 1 byte")
    return value


def sizes(min_bytes: int, max_bytes: int, factor: int, quantum: int) -> list[int]:
    """min, min x factor, ... up to max, each a multiple of `quantum` (element size x ranks)."""
    out, size = [], min_bytes
    while size <= max_bytes:
        out.append(max(quantum, size // quantum * quantum))
        size *= factor
    return sorted(set(out))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="torchrun --nproc-per-node N -m snippets bench-comm",
                                description=__doc__.splitlines()[0])
    p.add_argument("--min-bytes", type=parse_size, default=KiB, help="smallest message (default 1K)")
    p.add_argument("--max-bytes", type=parse_size, default=None, help="largest message (default 1G on GPUs, 16M on CPUs)")
    p.add_argument("--factor", type=int, default=4, help="size step (default 4)")
    p.add_argument("--iterations", type=int, default=20, help="timed calls per size (default 20)")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls per size first (default 5)")
    p.add_argument("--fit-per-end", type=int, default=2, help="sizes at each end the alpha-beta fit uses (default 2)")
    p.add_argument("--model", default="Llama-3.1-70B", help="model whose TP decode step is predicted")
    p.add_argument("--batch", type=int, default=1, help="decode batch of the prediction (default 1)")
    p.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    p.add_argument("--out", type=Path, default=Path("bench-results"), help="folder for the JSON file")
    p.add_argument("--local", type=int, default=None, metavar="N", help="start N CPU processes here, without torchrun")
    return p


def _time_collective(dist, torch, collective: str, size_bytes: int, device, dtype, iterations: int, warmup: int,
                     world: int) -> list[float]:
    elements = size_bytes // torch.tensor([], dtype=dtype).element_size()
    send = torch.ones(elements, dtype=dtype, device=device)
    receive = torch.empty_like(send)

    def call() -> None:
        if collective == "all_reduce":
            dist.all_reduce(send)
        else:
            dist.all_to_all_single(receive, send)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        call()
    sync()
    times = torch.zeros(iterations, dtype=torch.float64, device=device)
    for i in range(iterations):
        dist.barrier()
        sync()
        start = time.perf_counter()
        call()
        sync()
        times[i] = time.perf_counter() - start
    dist.all_reduce(times, op=dist.ReduceOp.MAX)  # an iteration ends when its slowest rank does
    return times.cpu().tolist()


def _rows(dist, torch, args, device, dtype, grid: list[int], world: int) -> list[dict]:
    rows = []
    for collective in COLLECTIVES:
        for size in grid:
            times = _time_collective(dist, torch, collective, size, device, dtype, args.iterations, args.warmup, world)
            median = statistics.median(times)
            rows.append({"collective": collective, "size_bytes": size, "median_s": median, "best_s": min(times),
                         "algbw_GBps": comm.algbw_GBps(size, median),
                         "busbw_GBps": comm.busbw_GBps(collective, world, size, median)})
    return rows


def fits(rows: list[dict], world: int, per_end: int, notes: list[str]) -> list[dict]:
    """Each collective's alpha-beta fit on its `per_end` smallest and largest sizes, and its
    prediction of every size between (kept apart)."""
    out = []
    for collective in COLLECTIVES:
        pts = tuple(comm.Point(r["size_bytes"], r["median_s"]) for r in rows if r["collective"] == collective)
        if len(pts) > 2 * per_end:
            fitted, held = comm.split_ends(pts, per_end)
        else:
            fitted, held = pts, ()
            notes.append(f"{collective}: too few sizes to keep some apart; every size was fitted")
        model = comm.fit_alpha_beta(fitted, collective, world)
        out.append({"collective": collective, "alpha_s": model.alpha_s, "beta_s_per_byte": model.beta_s_per_byte,
                    "busbw_GBps": model.busbw_GBps, "fitted_sizes_bytes": [int(p.size_bytes) for p in fitted],
                    "checked": [{"size_bytes": int(p.size_bytes), "measured_s": p.time_s,
                                 "predicted_s": model.time_s(collective, world, p.size_bytes),
                                 "residual": comm.residual(model, p, collective, world)} for p in held]})
    return out


def prediction(fitted: list[dict], world: int, model_name: str, batch: int) -> dict | None:
    """The all-reduce fit's time for one TP=world decode step of `model_name` at `batch`."""
    if world < 2:
        return None
    m = models.get(model_name)
    reduce_fit = next(f for f in fitted if f["collective"] == "all_reduce")
    model = comm.AlphaBeta(reduce_fit["alpha_s"], reduce_fit["beta_s_per_byte"])
    message = parallel.allreduce_message_bytes(m, batch)
    count = parallel.ALL_REDUCES_PER_LAYER * m.n_layers
    return {"model": m.name, "batch": batch, "tp": world, "all_reduces": count, "message_bytes": int(message),
            "comm_s": count * model.time_s("all_reduce", world, message)}


def sweep(args: argparse.Namespace) -> dict | None:
    """Run in every rank of an initialised process group; rank 0 returns the results document."""
    import torch
    import torch.distributed as dist

    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if dist.get_backend() == "nccl" \
        else torch.device("cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    element = torch.tensor([], dtype=dtype).element_size()
    max_bytes = args.max_bytes or (GPU_MAX_BYTES if device.type == "cuda" else CPU_MAX_BYTES)
    grid = sizes(args.min_bytes, max_bytes, args.factor, element * world)
    rows = _rows(dist, torch, args, device, dtype, grid, world)
    if rank != 0:
        return None
    notes: list[str] = []
    fitted = fits(rows, world, args.fit_per_end, notes)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.machine()} CPU, {os.cpu_count()} threads"
    return comm_results.validate({
        "schema": comm_results.SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "complete": True,
        "device": {"kind": device.type, "name": name, "backend": dist.get_backend(), "torch": torch.__version__,
                   "python": platform.python_version()},
        "settings": {"ranks": world, "sizes_bytes": grid, "iterations": args.iterations, "warmup": args.warmup,
                     "dtype": str(dtype).removeprefix("torch."), "fit_per_end": args.fit_per_end},
        "rows": rows, "fits": fitted, "prediction": prediction(fitted, world, args.model, args.batch), "notes": notes,
    }, "bench-comm")


def write(doc: dict, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", doc["device"]["name"].lower()).strip("-") or "device"
    stamp = doc["created"][:19].replace(":", "").replace("T", "-")
    path = folder / f"comm-{slug}-{doc['settings']['ranks']}ranks-{stamp}.json"
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return path


def summary(doc: dict) -> str:
    lines = [f"{doc['settings']['ranks']} ranks, {doc['device']['backend']} on {doc['device']['name']}"]
    for collective in COLLECTIVES:
        lines.append(f"{collective}:\n" + comm_results.sweep_table(doc, collective))
        fit = next(f for f in doc["fits"] if f["collective"] == collective)
        lines.append(f"{collective}: alpha {fit['alpha_s'] * 1e6:.1f} µs, busbw {fit['busbw_GBps']:.2f} GB/s\n")
    if doc["prediction"]:
        p = doc["prediction"]
        lines.append(f"TP={p['tp']} decode step of {p['model']} at batch {p['batch']}: {p['all_reduces']} all-reduces "
                     f"of {p['message_bytes']:,} B, {p['comm_s'] * 1e3:.2f} ms")
    return "\n".join(lines)


def forwarded(args: argparse.Namespace) -> list[str]:
    """The sweep's options as arguments for the ranks run_local starts."""
    out = ["--min-bytes", str(args.min_bytes), "--factor", str(args.factor), "--iterations", str(args.iterations),
           "--warmup", str(args.warmup), "--fit-per-end", str(args.fit_per_end), "--model", args.model,
           "--batch", str(args.batch)]
    return out + (["--max-bytes", str(args.max_bytes)] if args.max_bytes else [])


def run_local(world: int, argv: list[str], timeout_s: float = 300.0) -> dict:
    """Start `world` gloo processes on this machine, as torchrun would, sweep, and return rank 0's
    document (written to a temporary folder, then read back)."""
    import tempfile

    from snippets.tensor_parallel import launch

    with tempfile.TemporaryDirectory() as folder:
        launch(["snippets", "bench-comm", "--device", "cpu", *argv, "--out", folder], world, timeout_s)
        (path,) = Path(folder).glob("comm-*.json")
        return comm_results.load(path)


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    for name in ("factor", "iterations", "fit_per_end", "batch"):
        if getattr(args, name) < 1 or (name == "factor" and args.factor < 2):
            print(f"bench-comm: --{name.replace('_', '-')} is too small", file=sys.stderr)
            return 2
    if args.local:
        doc = run_local(args.local, forwarded(args))
    elif "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        import torch
        import torch.distributed as dist

        cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group("nccl" if cuda else "gloo")
        try:
            doc = sweep(args)
        finally:
            dist.destroy_process_group()
        if doc is None:
            return 0
    else:
        print("bench-comm: run it under torchrun (torchrun --nproc-per-node N -m snippets bench-comm), "
              "or with --local N", file=sys.stderr)
        return 2
    path = write(doc, args.out)
    print(summary(doc))
    print(f"wrote {path}")
    return 0
