"""Matmul throughput: a sweep of shapes on random inputs, best and median TFLOP/s."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from snippets.bench.device import DeviceInfo
from snippets.bench.dtypes import COMPUTE_DTYPES, TORCH_DTYPES
from snippets.bench.memory import is_out_of_memory
from snippets.bench.timing import l2_flusher, time_until_steady
from snippets.roofline import matmul_flops

DTYPES = {name: TORCH_DTYPES[name] for name in COMPUTE_DTYPES}


@dataclass(frozen=True)
class MatmulResult:
    m: int
    n: int
    k: int
    dtype: str
    flops: float
    median_s: float
    best_s: float
    TFLOPS: float  # at the median time
    best_TFLOPS: float
    pct_of_spec: float | None  # best vs the dense datasheet figure for this dtype
    flags: tuple[str, ...] = ()  # reasons to doubt this row (noise, warm-up)
    role: str | None = None  # e.g. "Llama-3.1-8B gate_up at 2048 tokens": a model's own layer shape

    def as_dict(self) -> dict:
        return asdict(self)


def default_shapes(info: DeviceInfo, quick: bool) -> list[tuple[int, int, int]]:
    if info.kind == "cpu":
        return [(2048, 2048, 2048)] if quick else [(1024, 1024, 1024), (2048, 2048, 2048), (4096, 4096, 4096)]
    if quick:
        return [(4096, 4096, 4096), (8192, 8192, 8192), (8192, 8192, 4096), (16384, 8192, 8192)]
    sizes = (4096, 6144, 8192, 12288, 16384)
    return [(m, n, k) for m in sizes for n in sizes for k in (4096, 8192, 16384)]


#: Tokens per step at which a model's own layer matmuls are timed (prefill and mixed steps' sizes).
LAYER_TOKENS = (256, 1024, 2048, 8192)


def model_layer_shapes(model_name: str, tokens=LAYER_TOKENS) -> list[tuple[int, int, int, str]]:
    """(m, n, k, role) of one layer's four weight matmuls of `model_name` at each token count:
    the rate a prefill or mixed step's matmuls can reach, measured rather than assumed."""
    from snippets.bench.quant import layer_shapes

    names = ("qkv", "o", "gate_up", "down")
    return [(t, n, k, f"{model_name} {name} at {t} tokens") for t in tokens
            for name, (n, k) in zip(names, layer_shapes(model_name))]


def default_dtypes(info: DeviceInfo) -> list[str]:
    """The device's fast dtype: bf16 on GPUs; bf16 and fp32 on CPUs."""
    return ["bf16", "fp32"] if info.kind == "cpu" else ["bf16"]


def measure(info: DeviceInfo, shapes, dtypes, reps: int = 10, progress=None, settle_rounds: int = 4,
            rows: list | None = None) -> tuple[list[MatmulResult], list[str]]:
    """Time each (m, n, k) or (m, n, k, role) shape in each dtype, appending rows as measured."""
    device = info.torch_device
    flush = l2_flusher(info.kind)
    results, notes = ([] if rows is None else rows), []  # rows appended as measured
    for dtype in dtypes:
        if dtype not in DTYPES:
            raise ValueError(f"unknown matmul dtype {dtype!r}; choose from {', '.join(DTYPES)}")
        peak = None
        if info.spec:
            try:
                peak = info.spec.peak_flops(dtype)
            except ValueError:
                peak = None
        for m, n, k, *role in shapes:
            if progress:
                progress(f"matmul: {m}x{k} @ {k}x{n} in {dtype}")
            try:
                gen = torch.Generator(device=device).manual_seed(0)
                a = torch.randn(m, k, dtype=DTYPES[dtype], device=device, generator=gen)  # random: zeros run faster
                b = torch.randn(k, n, dtype=DTYPES[dtype], device=device, generator=gen)
                c = torch.empty(m, n, dtype=DTYPES[dtype], device=device)
                timing = time_until_steady(lambda a=a, b=b, c=c: torch.mm(a, b, out=c), info.kind, reps=reps, warmup=3, flush=flush,
                                           settle_rounds=settle_rounds)
            except (RuntimeError, MemoryError) as error:
                if not is_out_of_memory(error):
                    raise
                notes.append(f"skipped matmul {m}x{n}x{k} {dtype}: out of memory")
                continue
            flops = matmul_flops(m, n, k)
            best = flops / timing.best_s
            results.append(MatmulResult(m, n, k, dtype, flops, timing.median_s, timing.best_s,
                                        flops / timing.median_s / 1e12, best / 1e12,
                                        100 * best / peak if peak else None, tuple(timing.flags()),
                                        role[0] if role else None))
            del a, b, c
    return results, notes
