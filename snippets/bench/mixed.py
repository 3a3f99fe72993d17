"""Mixed steps: what a continuous-batching server runs every step, a decode of B sequences at S
cached tokens each plus a prefill chunk of C prompt tokens of one more sequence, timed as one
step T(B, C, S). Chapter 3's simulator takes its step times from a model of exactly this.

How it is measured: **one forward pass** over the B decode tokens and the C chunk tokens packed
together (snippets.transformer.mixed_logits), as vLLM and SGLang run a mixed batch: every matmul
reads its weights once for all B + C rows; attention runs per part, the decode tokens each over
their own cache of S tokens (no mask: each is its cache's last position), the chunk causally over
its own cache (a first chunk: positions 0..C-1); the LM head runs for the B decode tokens and the
chunk's last token. C = 0 rows are the decode forward alone. (Files before this change timed two
forwards per step, reading the weights twice; their rows say one_pass = false.)

Bytes and FLOPs per row are roofline.mixed_step's for the model shape actually built: the whole
model on GPUs, or the same truncated layers as the decode rows on CPUs (the row's `layers` says
which). The FLOPs are the causal ones, as FlashAttention runs them.

Modes (snippets.bench.steps): eager everywhere; on CUDA "graph" and "compile" (eager is not timed
there by default: its launch cost is not what a server pays).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch

from snippets import kv_cache, models, roofline
from snippets.bench.device import DeviceInfo
from snippets.bench.memory import fits, free_bytes
from snippets.bench.steps import modes_for as _modes_for
from snippets.bench.steps import validate_modes
from snippets.bench.sweep import Reps, SweepPoint, sweep
from snippets.transformer import Decoder, KVCache, mixed_logits

#: The grid timed by default: decode batches, chunk sizes (0: no chunk, a decode-only step).
GPU_BATCHES, GPU_CHUNKS = [1, 16, 64], [0, 256, 1024]
CPU_BATCHES, CPU_CHUNKS = [1, 4], [0, 16, 64]
#: Context of the decoding sequences: the run's --context (1,024 on GPUs, 256 on CPUs).
MODES = ("eager", "graph", "compile")


@dataclass(frozen=True)
class MixedResult:
    model: str
    layers: int  # layers built (the decode rows' truncation on CPUs)
    dtype: str
    mode: str  # "eager", "graph" or "compile" (snippets.bench.steps)
    batch: int  # sequences decoding, one token each
    context: int  # tokens each decoding sequence attends to (its new one included)
    chunk_tokens: int  # prompt tokens of the one prefill chunk (0: decode only)
    chunk_prefix: int  # tokens of that prompt already cached before the chunk (0: a first chunk)
    median_s: float
    best_s: float
    weight_bytes: float  # roofline.mixed_step for the shape built: weights once + embedding rows
    cache_bytes: float  # KV read by the decode + written by the chunk
    activation_bytes: float  # the chunk's matmul inputs and outputs
    flops: float  # matmul weights x tokens + attention (causal)
    predicted_s: float | None  # datasheet roofline bound (whole model on a known device only)
    flags: tuple[str, ...] = ()
    one_pass: bool = True  # decode tokens and chunk in one forward (one read of the weights)
    repeat_medians_s: tuple[float, ...] = ()

    @property
    def bytes(self) -> float:
        return self.weight_bytes + self.cache_bytes + self.activation_bytes

    def as_dict(self) -> dict:
        return asdict(self)


def default_grid(kind: str) -> tuple[list[int], list[int]]:
    """(decode batches, chunk sizes) timed by default on a device of `kind`."""
    return (GPU_BATCHES, GPU_CHUNKS) if kind == "cuda" else (CPU_BATCHES, CPU_CHUNKS)


def modes_for(kind: str) -> list[str]:
    """graph and compile on CUDA, eager elsewhere."""
    return _modes_for(kind, ("graph", "compile"))


def step_cost(model_name: str, layers: int, batch: int, context: int, chunk: int, prefix: int,
              dtype: str) -> roofline.StepCost:
    """roofline.mixed_step for `model_name` cut to `layers` layers (the shape the bench built)."""
    shape = replace(models.get(model_name), n_layers=layers)
    return roofline.mixed_step(shape, batch, context, ((prefix, chunk),) if chunk else (), dtype, dtype)


def _random_cache(cfg, batch: int, length: int, dtype, device) -> KVCache:
    cache = KVCache(cfg, batch, length, dtype, device)
    for t in cache.k + cache.v:
        t.normal_()
    return cache


def sweep_point(info: DeviceInfo, model: Decoder, model_name: str, dtype: str, context: int, batch: int,
                chunk: int) -> SweepPoint:
    """One (decode batch, chunk) of the mixed sweep: fit check, inputs, the one-forward step, row."""
    cfg, device = model.cfg, info.torch_device
    torch_dtype = model.lm_head.weight.dtype
    per_token = kv_cache.mha_elements_per_token(cfg.n_layers, cfg.n_kv_heads, cfg.head_dim) * model.lm_head.weight.element_size()
    need = per_token * (batch * context + chunk)
    cost = step_cost(model_name, cfg.n_layers, batch, context, chunk, 0, dtype)
    named, predicted = models.get(model_name), None
    if info.spec and cfg.n_layers == named.n_layers:
        full = roofline.mixed_step(named, batch, context, ((0, chunk),) if chunk else (), dtype, dtype)
        predicted = full.time_s(info.spec, "bf16" if dtype != "fp32" else "fp32")

    def too_big() -> str | None:
        free = free_bytes(info.kind)
        return None if fits(need, free) else f"their caches ({need / 1e9:.1f} GB) do not fit in {free / 1e9:.1f} GB free"

    def setup():
        gen = torch.Generator().manual_seed(batch * 10_007 + chunk)
        dec_cache = _random_cache(cfg, batch, context, torch_dtype, device)
        tokens = torch.randint(0, cfg.vocab_size, (batch, 1), generator=gen).to(device)
        pos = torch.tensor([context - 1], device=device)
        if not chunk:
            return lambda compiled: model(tokens, pos, dec_cache, tail=True, compiled=compiled)
        chunk_cache = KVCache(cfg, 1, chunk, torch_dtype, device)
        chunk_tokens = torch.randint(0, cfg.vocab_size, (1, chunk), generator=gen).to(device)
        chunk_pos = torch.arange(chunk, device=device)
        return lambda compiled: mixed_logits(model, (tokens, pos, dec_cache), (chunk_tokens, chunk_pos, chunk_cache),
                                             compiled)

    def row(mode: str, timing) -> MixedResult:
        return MixedResult(model_name, cfg.n_layers, dtype, mode, batch, context, chunk, 0, timing.median_s,
                           timing.best_s, cost.weight_bytes, cost.kv_bytes, cost.activation_bytes, cost.flops, predicted,
                           tuple(timing.flags()), True, timing.repeat_medians_s)

    return SweepPoint(f"decode batch {batch} at context {context:,} + a {chunk:,}-token chunk", setup, row, too_big)


@torch.inference_mode()
def measure(info: DeviceInfo, model: Decoder, model_name: str, dtype: str, context: int, batches, chunks,
            modes=None, reps: int = 20, progress=None, rows: list | None = None, notes: list | None = None,
            settle_rounds: int = 10, repeats: int = 3) -> tuple[list[MixedResult], list[str]]:
    """Time one mixed step per (batch, chunk, mode) at `context` tokens per decoding sequence,
    appending rows and notes as they come (an interrupted run keeps them)."""
    rows = [] if rows is None else rows
    notes = [] if notes is None else notes
    modes = validate_modes(modes or modes_for(info.kind), info.kind, MODES, "mixed")
    if max([context, *chunks]) > model.cfg.max_seq_len:
        raise ValueError(f"context {context} or chunk {max(chunks)} is beyond the decoder's "
                         f"{model.cfg.max_seq_len} positions")
    points = [sweep_point(info, model, model_name, dtype, context, b, c) for b in batches for c in chunks]
    sweep("mixed", points, modes, info.kind, rows, notes, progress, Reps(repeats, reps, 2, settle_rounds),
          title=f"mixed: {model_name} ({model.cfg.n_layers} layers, {dtype})")
    return rows, notes
