"""A decode step of a decoder shaped like a named model (random weights), with a static KV
cache, timed in eager mode, eager + CUDA graph, and torch.compile + CUDA graph."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch

from snippets import models, roofline
from snippets.bench.device import DeviceInfo
from snippets.bench.memory import is_out_of_memory
from snippets.bench.timing import time_fn
from snippets.transformer import Decoder, KVCache, TransformerConfig, forward_flops

MODES = ("eager", "graph", "compile")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


@dataclass(frozen=True)
class DecodeResult:
    model: str
    layers: int  # layers actually built (fewer than the model's when truncated)
    dtype: str
    mode: str
    batch: int
    context: int
    median_s: float
    best_s: float
    tokens_per_s: float
    bytes_per_step: float  # weights (less the embedding table, plus B rows) + the KV cache read
    flops_per_step: float  # 2 x B x matmul weights + attention over the context
    GBps: float
    mbu_pct: float | None  # model bandwidth utilisation: bytes / time / datasheet bandwidth, in %
    pct_of_copy: float | None  # GB/s vs the copy bandwidth measured in the same run, in %
    predicted_s: float | None  # chapter 1's roofline bound for this exact case

    def as_dict(self) -> dict:
        return asdict(self)


def step_bytes(model: Decoder, cache: KVCache, batch: int, context: int) -> float:
    """Bytes one step must read: every weight once, one embedding row per sequence, the cache."""
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    table = model.embed.weight
    weights = params - table.numel() * table.element_size() + batch * table.shape[1] * table.element_size()
    return weights + cache.nbytes * context / cache.max_len


def step_flops(model: Decoder, batch: int, context: int) -> float:
    """FLOPs of one step: `batch` sequences, each one new token attending to `context` positions
    (its own included)."""
    return batch * forward_flops(model, 1, context - 1)


def build(model_name: str, dtype: str, context: int, layers: int | None, device) -> tuple[Decoder, TransformerConfig]:
    cfg = TransformerConfig.from_model(models.get(model_name), max_seq_len=context)
    if layers is not None:
        if not 1 <= layers <= cfg.n_layers:
            raise ValueError(f"layers must be between 1 and {cfg.n_layers} for {model_name}")
        cfg = replace(cfg, n_layers=layers)
    return Decoder(cfg, dtype=DTYPES[dtype], device=device).eval(), cfg


def _runner(mode: str, model: Decoder, tokens, pos, cache, kind: str):
    """A zero-argument callable that performs one decode step in `mode`."""
    step = lambda fn=model: fn(tokens, pos, cache)  # noqa: E731
    if mode == "eager":
        return step
    if kind != "cuda":
        raise ValueError(f"mode {mode!r} needs a CUDA GPU")
    if mode == "compile":
        import torch._inductor.config as inductor

        inductor.coordinate_descent_tuning = True  # tunes the generated kernels; as gpt-fast does
        fn = torch.compile(model, fullgraph=True, dynamic=False)  # max-autotune measured slower on an H200
    else:
        fn = model
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):  # compiles (compile mode) and warms up allocations outside the capture
            fn(tokens, pos, cache)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn(tokens, pos, cache)
    return graph.replay


@torch.inference_mode()
def measure(info: DeviceInfo, model_name: str, dtype: str, context: int, batches, modes,
            layers: int | None = None, compile_batches=None, copy_GBps: float | None = None,
            reps: int = 20, progress=None) -> tuple[list[DecodeResult], list[str]]:
    """Time one decode step per (mode, batch) at `context` cached tokens per sequence."""
    unknown = set(modes) - set(MODES)
    if unknown:
        raise ValueError(f"unknown decode mode(s) {sorted(unknown)}; choose from {', '.join(MODES)}")
    if info.kind != "cuda" and set(modes) - {"eager"}:
        raise ValueError(f"modes graph and compile need a CUDA GPU; this device is {info.kind}")
    device = info.torch_device
    model, cfg = build(model_name, dtype, context, layers, device)
    named = models.get(model_name)
    results, notes = [], []
    for batch in batches:
        try:
            cache = KVCache(cfg, batch, context, DTYPES[dtype], device)
        except (RuntimeError, MemoryError) as error:
            if not is_out_of_memory(error):
                raise
            notes.append(f"stopped the batch sweep at {batch}: its KV cache does not fit")
            break
        for t in cache.k + cache.v:
            t.normal_()  # a full cache of random values: every position is attended
        torch.manual_seed(batch)
        tokens = torch.randint(0, cfg.vocab_size, (batch, 1), device=device)
        pos = torch.tensor([context - 1], device=device)
        nbytes = step_bytes(model, cache, batch, context)
        predicted = None
        if info.spec and cfg.n_layers == named.n_layers:
            cost = roofline.decode_step(named, batch, context, dtype, dtype)
            predicted = cost.time_s(info.spec, "bf16" if dtype != "fp32" else "fp32")
        for mode in modes:
            if mode == "compile" and compile_batches is not None and batch not in compile_batches:
                continue
            if progress:
                hint = " (compiling first: about a minute on a GPU)" if mode == "compile" else ""
                progress(f"decode: {model_name} ({cfg.n_layers} layers, {dtype}) {mode}, batch {batch}, "
                         f"context {context:,}{hint}")
            try:
                timing = time_fn(_runner(mode, model, tokens, pos, cache, info.kind), info.kind, reps=reps, warmup=3)
            except (RuntimeError, MemoryError) as error:
                if not is_out_of_memory(error):
                    raise
                notes.append(f"skipped decode {mode} at batch {batch}: out of memory")
                continue
            except Exception as error:  # noqa: BLE001 - a failed compile must not lose the other results
                if mode == "eager":
                    raise
                notes.append(f"decode {mode} at batch {batch} failed: {type(error).__name__}: {str(error)[:300]}")
                continue
            gbps = nbytes / timing.median_s / 1e9
            results.append(DecodeResult(
                model_name, cfg.n_layers, dtype, mode, batch, context, timing.median_s, timing.best_s,
                batch / timing.median_s, nbytes, step_flops(model, batch, context), gbps,
                100 * gbps * 1e9 / info.spec.bandwidth_Bps if info.spec else None,
                100 * gbps / copy_GBps if copy_GBps else None, predicted))
        del cache
        if info.kind == "cuda":
            torch.cuda.empty_cache()
    return results, notes
