"""A decode step of a decoder shaped like a named model (random weights), with a static KV
cache, timed in eager mode, eager + CUDA graph, and torch.compile + CUDA graph (snippets.bench.steps).

Attention runs without a mask: each step's one new token is the last position of its cache
("tail", snippets.transformer.attend), so on CUDA it is FlashAttention-2 with grouped KV heads
folded into the query rows. torch.compile compiles one layer, shared by all of them (batch 1 is
specialised by the compiler, every larger batch shares a second compile); each batch then gets
its own CUDA graph.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Callable

import torch

from snippets import models, roofline
from snippets.bench.device import DeviceInfo
from snippets.bench.dtypes import COMPUTE_DTYPES, TORCH_DTYPES
from snippets.bench.memory import fits, free_bytes
from snippets.bench.steps import MODES, prepared, validate_modes  # noqa: F401 - MODES re-exported
from snippets.bench.sweep import Reps, SweepPoint, sweep
from snippets.bench.timing import slower_at_smaller_batch
from snippets.transformer import Decoder, KVCache, TransformerConfig, forward_flops

#: The decoder's dtypes, named as in snippets.units.BYTES_PER_ELEMENT.
DTYPES = {name: TORCH_DTYPES[name] for name in COMPUTE_DTYPES}


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
    bytes_per_step: float  # weight_bytes + cache_bytes
    flops_per_step: float  # 2 x B x matmul weights + attention over the context
    GBps: float
    mbu_pct: float | None  # model bandwidth utilisation: bytes / time / datasheet bandwidth, in %
    pct_of_copy: float | None  # GB/s vs the copy bandwidth measured in the same run, in %
    predicted_s: float | None  # chapter 1's roofline bound for this exact case
    weight_bytes: float = 0.0  # every weight once, less the embedding table, plus B of its rows
    cache_bytes: float = 0.0  # the KV cache read: B sequences x context tokens
    flags: tuple[str, ...] = ()  # reasons to doubt this row (noise, warm-up, batch order)
    repeat_medians_s: tuple[float, ...] = ()  # each independent repeat's median

    def as_dict(self) -> dict:
        return asdict(self)


def step_weight_bytes(model: Decoder, batch: int) -> float:
    """Weight bytes one step reads: every weight once, except the input embedding table, of which
    one row per sequence (a tied table would be read in full as the LM head)."""
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    table = model.embed.weight
    return params - table.numel() * table.element_size() + batch * table.shape[1] * table.element_size()


def step_cache_bytes(cache: KVCache, context: int) -> float:
    """KV-cache bytes one step reads: `context` positions of every sequence, every layer."""
    return cache.nbytes * context / cache.max_len


def step_bytes(model: Decoder, cache: KVCache, batch: int, context: int) -> float:
    """Bytes one step must read: every weight once, one embedding row per sequence, the cache."""
    return step_weight_bytes(model, batch) + step_cache_bytes(cache, context)


def step_flops(model: Decoder, batch: int, context: int) -> float:
    """FLOPs of one step: `batch` sequences, each one new token attending to `context` positions
    (its own included); matmul weights only (the demo decoder's matmul_parameters) plus attention."""
    return batch * forward_flops(model, 1, context - 1)


def decoder_weight_bytes(cfg: TransformerConfig, element_bytes: float) -> tuple[float, float]:
    """(bytes per layer, bytes outside the layers) of the demo decoder, from its shape alone,
    so a run can tell whether the weights fit before building them."""
    d, q, kv = cfg.d_model, cfg.n_heads * cfg.head_dim, cfg.n_kv_heads * cfg.head_dim
    per_layer = 2 * d + d * (q + 2 * kv) + q * d + d * 2 * cfg.d_ff + cfg.d_ff * d
    outside = 2 * cfg.vocab_size * d + d  # embedding, LM head, final norm
    return per_layer * element_bytes, outside * element_bytes


def cache_bytes(cfg: TransformerConfig, batch: int, max_len: int, element_bytes: float) -> float:
    """Bytes of a KVCache of `batch` sequences x `max_len` positions (K and V, every layer)."""
    return 2 * cfg.n_layers * batch * cfg.n_kv_heads * max_len * cfg.head_dim * element_bytes


def layers_that_fit(cfg: TransformerConfig, element_bytes: float, budget_bytes: float) -> int:
    """The most layers (<= cfg.n_layers) whose weights fit in `budget_bytes`; 0 if none do."""
    per_layer, outside = decoder_weight_bytes(cfg, element_bytes)
    return max(0, min(cfg.n_layers, int((budget_bytes - outside) // per_layer)))


def build(model_name: str, dtype: str, context: int, layers: int | None, device) -> tuple[Decoder, TransformerConfig]:
    cfg = TransformerConfig.from_model(models.get(model_name), max_seq_len=context)
    if layers is not None:
        if not 1 <= layers <= cfg.n_layers:
            raise ValueError(f"layers must be between 1 and {cfg.n_layers} for {model_name}")
        cfg = replace(cfg, n_layers=layers)
    return Decoder(cfg, dtype=DTYPES[dtype], device=device).eval(), cfg


def build_fitting(info: DeviceInfo, model_name: str, dtype: str, max_len: int,
                  layers: int | None) -> tuple[Decoder, TransformerConfig, list[str]]:
    """`build`, with fewer layers (said in the notes) when the weights would not fit in the
    device's free memory. Raises MemoryError with a clear message when not even one layer fits."""
    cfg = TransformerConfig.from_model(models.get(model_name), max_seq_len=max_len)
    wanted = layers if layers is not None else cfg.n_layers
    element = torch.empty((), dtype=DTYPES[dtype]).element_size()
    per_layer, outside = decoder_weight_bytes(cfg, element)
    free = free_bytes(info.kind)
    notes = []
    if not fits(outside + wanted * per_layer, free):
        budget = 0.6 * free  # leave room for the caches and activations of the batch sweep
        fitting = layers_that_fit(replace(cfg, n_layers=wanted), element, budget)
        if fitting < 1:
            raise MemoryError(f"not even one layer of {model_name} in {dtype} fits: "
                              f"{(outside + per_layer) / 1e9:.1f} GB needed, {free / 1e9:.1f} GB free")
        notes.append(f"built {fitting} of {wanted} layers: the weights of {wanted} "
                     f"({(outside + wanted * per_layer) / 1e9:.1f} GB) do not fit in {free / 1e9:.1f} GB free")
        wanted = fitting
    model, cfg = build(model_name, dtype, max_len, wanted, info.torch_device)
    return model, cfg, notes


def runner(mode: str, model: Decoder, tokens, pos, cache, kind: str) -> Callable[[], object]:
    """A zero-argument callable that performs one decode step in `mode` (graphs captured here):
    the B new tokens are the last position of their caches, so attention needs no mask."""
    return prepared(lambda compiled: model(tokens, pos, cache, tail=True, compiled=compiled), mode, kind)


def with_batch_flags(rows: list[DecodeResult]) -> list[DecodeResult]:
    """Rows, each mode's flagged where a larger batch measured faster than a smaller one."""
    out = list(rows)
    for mode in {r.mode for r in rows}:
        flags = slower_at_smaller_batch({r.batch: r.median_s for r in rows if r.mode == mode})
        out = [replace(r, flags=(*r.flags, flags[r.batch])) if r.mode == mode and r.batch in flags
               and flags[r.batch] not in r.flags else r for r in out]
    return out


def sweep_point(info: DeviceInfo, model: Decoder, model_name: str, dtype: str, context: int, batch: int,
                copy_GBps: float | None) -> SweepPoint:
    """One batch of the decode sweep: its fit check, inputs, step and row."""
    cfg, device = model.cfg, info.torch_device
    element = torch.empty((), dtype=DTYPES[dtype]).element_size()
    weights, kv = step_weight_bytes(model, batch), cache_bytes(cfg, batch, context, element)
    named = models.get(model_name)
    predicted = None
    if info.spec and cfg.n_layers == named.n_layers:
        cost = roofline.decode_step(named, batch, context, dtype, dtype)
        predicted = cost.time_s(info.spec, "bf16" if dtype != "fp32" else "fp32")

    def too_big() -> str | None:
        free = free_bytes(info.kind)
        return None if fits(kv, free) else f"its KV cache ({kv / 1e9:.1f} GB) does not fit in {free / 1e9:.1f} GB free"

    def setup():
        cache = KVCache(cfg, batch, context, DTYPES[dtype], device)
        for t in cache.k + cache.v:
            t.normal_()  # a full cache of random values: every position is attended
        tokens = torch.randint(0, cfg.vocab_size, (batch, 1), generator=torch.Generator().manual_seed(batch)).to(device)
        pos = torch.tensor([context - 1], device=device)
        return lambda compiled: model(tokens, pos, cache, tail=True, compiled=compiled)

    def row(mode: str, timing) -> DecodeResult:
        gbps = (weights + kv) / timing.median_s / 1e9
        return DecodeResult(model_name, cfg.n_layers, dtype, mode, batch, context, timing.median_s, timing.best_s,
                            batch / timing.median_s, weights + kv, step_flops(model, batch, context), gbps,
                            100 * gbps * 1e9 / info.spec.bandwidth_Bps if info.spec else None,
                            100 * gbps / copy_GBps if copy_GBps else None, predicted, weights, kv,
                            tuple(timing.flags()), timing.repeat_medians_s)

    return SweepPoint(f"batch {batch}, context {context:,}", setup, row, too_big)


@torch.inference_mode()
def measure(info: DeviceInfo, model_name: str, dtype: str, context: int, batches, modes,
            layers: int | None = None, copy_GBps: float | None = None, reps: int = 20, progress=None,
            model: Decoder | None = None, rows: list | None = None, notes: list | None = None,
            settle_rounds: int = 10, repeats: int = 3) -> tuple[list[DecodeResult], list[str]]:
    """Time one decode step per (mode, batch) at `context` cached tokens per sequence.

    Rows and notes are appended to `rows` and `notes` as they are measured (so an interrupted run
    keeps what it has); both are also returned. `model` reuses a decoder already built.
    """
    modes = validate_modes(modes, info.kind)
    rows = [] if rows is None else rows
    notes = [] if notes is None else notes
    if model is None:
        model, _, built = build_fitting(info, model_name, dtype, context, layers)
        notes += built
    if context > model.cfg.max_seq_len:
        raise ValueError(f"context {context} is beyond the decoder's {model.cfg.max_seq_len} positions")
    points = [sweep_point(info, model, model_name, dtype, context, b, copy_GBps) for b in batches]
    sweep("decode", points, modes, info.kind, rows, notes, progress, Reps(repeats, reps, 3, settle_rounds),
          title=f"decode: {model_name} ({model.cfg.n_layers} layers, {dtype})")
    rows[:] = with_batch_flags(rows)
    return rows, notes


@torch.inference_mode()
def profile(info: DeviceInfo, model: Decoder, context: int, batch: int, rows, steps: int = 10, top: int = 12) -> dict:
    """torch.profiler's top kernels of the decode step at `batch`, in the fastest mode measured
    there (eager when none was): {"mode", "batch", "steps", "kernels": [...]}."""
    from snippets.bench.profile import top_kernels

    measured = [r for r in rows if r.batch == batch]
    mode = min(measured, key=lambda r: r.median_s).mode if measured else "eager"
    cfg, device = model.cfg, info.torch_device
    cache = KVCache(cfg, batch, context, model.lm_head.weight.dtype, device)
    for t in cache.k + cache.v:
        t.normal_()
    tokens = torch.randint(0, cfg.vocab_size, (batch, 1), device=device)
    pos = torch.tensor([context - 1], device=device)
    fn = runner(mode, model, tokens, pos, cache, info.kind)
    return {"mode": mode, "batch": batch, "steps": steps, "kernels": top_kernels(fn, info.kind, steps, top)}
