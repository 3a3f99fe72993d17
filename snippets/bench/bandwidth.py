"""Memory bandwidth: read, write, copy and triad on buffers that defeat the caches.

Bytes are counted honestly: read N, write N, copy 2N (read + write), triad a = b + s*c 3N.
Write-allocate traffic is not counted (as in STREAM).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from importlib import resources

import torch

from snippets.bench.device import DeviceInfo
from snippets.bench.memory import allocate
from snippets.bench.timing import time_until_steady

#: kernel -> (bytes moved per element of one array, arrays it needs)
KERNELS = {"read": (1, 1), "write": (1, 1), "copy": (2, 2), "triad": (3, 3)}


@dataclass(frozen=True)
class BandwidthResult:
    kernel: str
    buffer_bytes: int  # bytes of each array
    bytes_moved: int  # per call, counted as above
    median_s: float
    best_s: float
    GBps: float  # bytes_moved / median, in 1e9 B/s
    best_GBps: float
    pct_of_spec: float | None  # vs the datasheet bandwidth, when the device is known
    flags: tuple[str, ...] = ()  # reasons to doubt this row (noise, warm-up)

    def as_dict(self) -> dict:
        return asdict(self)


def default_buffer_bytes(info: DeviceInfo, quick: bool) -> int:
    """>= 1 GiB per array on GPUs; >= 4x the last-level cache (and >= 512 MiB) on CPUs."""
    if info.kind in ("cuda", "mps"):
        return (1 if quick else 4) * 2**30
    llc = info.cache_bytes or 64 * 2**20
    return max(4 * llc, (512 if quick else 1536) * 2**20)


def bytes_moved(kernel: str, buffer_bytes: int) -> int:
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose from {', '.join(KERNELS)}")
    return KERNELS[kernel][0] * buffer_bytes


def measure(info: DeviceInfo, buffer_bytes: int, reps: int = 20, kernels=tuple(KERNELS),
            progress=None, settle_rounds: int = 4, rows: list | None = None) -> tuple[list[BandwidthResult], list[str]]:
    """Run each kernel on arrays of `buffer_bytes`; returns results and notes (e.g. shrinking)."""
    dtype = torch.float32 if info.kind != "cpu" else torch.float64
    (a, b, c), each, notes = allocate(3, buffer_bytes, dtype, info.torch_device)
    b.normal_()
    c.normal_()
    a.normal_()
    ops = {
        "read": lambda a=a: a.sum(),  # arrays bound now: they are deleted once measured
        "write": lambda a=a: a.fill_(1.5),
        "copy": lambda a=a, b=b: b.copy_(a),
        "triad": lambda a=a, b=b, c=c: torch.add(b, c, alpha=3.0, out=a),
    }
    spec = info.spec.bandwidth_Bps if info.spec else None
    results = [] if rows is None else rows  # appended as measured: an interrupted run keeps them
    for kernel in kernels:
        if progress:
            progress(f"bandwidth: {kernel} on {each / 2**30:.2f} GiB arrays")
        timing = time_until_steady(ops[kernel], info.kind, reps=reps, warmup=3, settle_rounds=settle_rounds)
        moved = bytes_moved(kernel, each)
        gbps = moved / timing.median_s / 1e9
        results.append(BandwidthResult(kernel, each, moved, timing.median_s, timing.best_s, gbps,
                                       moved / timing.best_s / 1e9,
                                       100 * gbps * 1e9 / spec if spec else None, tuple(timing.flags())))
    del a, b, c
    return results, notes


def stream_triad_GBps(buffer_bytes: int, threads: int | None = None, reps: int = 10) -> float | None:
    """Best triad rate of a STREAM-style C program (gcc -O3 -fopenmp), for comparison on CPUs.

    Returns None when no C compiler is available.
    """
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return None
    source = resources.files("snippets.bench").joinpath("stream_triad.c").read_text()
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = os.path.join(tmp, "triad.c"), os.path.join(tmp, "triad")
        with open(src, "w") as f:
            f.write(source)
        subprocess.run([cc, "-O3", "-march=native", "-fopenmp", src, "-o", exe], check=True,
                       capture_output=True)
        env = {**os.environ, "OMP_NUM_THREADS": str(threads or os.cpu_count() or 1)}
        n = buffer_bytes // 8
        out = subprocess.run([exe, str(n), str(reps)], check=True, capture_output=True, text=True, env=env)
    match = re.search(r"triad_GBps=([\d.]+)", out.stdout)
    return float(match.group(1)) if match else None
