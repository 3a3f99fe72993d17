"""Mixed steps: what a continuous-batching server runs every step, a decode of B sequences at S
cached tokens each plus a prefill chunk of C prompt tokens of one more sequence, timed as one
step T(B, C, S). Chapter 3's simulator takes its step times from a model of exactly this.

How it is measured: the demo decoder (snippets.transformer) takes one position vector for the
whole batch, so it cannot pack sequences at different positions into one forward. A mixed step
is therefore **two forwards inside one timed step**: the decode forward of the B sequences
(positions S-1, each with its own cache of S tokens) and a forward over the C-token chunk of a
single sequence (a first chunk: positions 0..C-1 into its own cache), its LM head run for the
chunk's last token only (as serving engines do, and as roofline.mixed_step counts). The weights
are therefore streamed twice, once per forward; real servers (vLLM, SGLang) pack both into one
forward, one kernel launch sequence that reads the weights once, so these times are an upper
bound on a fused step at large B and small C, where the weights dominate. C = 0 rows are the
decode forward alone.

Bytes and FLOPs per row are roofline.mixed_step's for the model shape actually built: the whole
model on GPUs, or the same truncated layers as the decode rows on CPUs (the row's `layers` says
which). The chunk's attention runs over its whole cache with a causal mask (SDPA computes the
masked half too); the FLOPs counted are the causal ones.

Modes: eager everywhere; on CUDA also "graph" (both forwards captured in one CUDA graph).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch

from snippets import kv_cache, models, roofline
from snippets.bench.decode import validate_modes
from snippets.bench.device import DeviceInfo
from snippets.bench.memory import fits, free_bytes, is_out_of_memory
from snippets.bench.timing import time_until_steady
from snippets.transformer import Decoder, KVCache, last_token_logits

#: The grid timed by default: decode batches, chunk sizes (0: no chunk, a decode-only step).
GPU_BATCHES, GPU_CHUNKS = [1, 16, 64], [0, 256, 1024]
CPU_BATCHES, CPU_CHUNKS = [1, 4], [0, 16, 64]
#: Context of the decoding sequences: the run's --context (1,024 on GPUs, 256 on CPUs).
MODES = ("eager", "graph")


@dataclass(frozen=True)
class MixedResult:
    model: str
    layers: int  # layers built (the decode rows' truncation on CPUs)
    dtype: str
    mode: str  # "eager" or "graph" (CUDA graph of both forwards)
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

    @property
    def bytes(self) -> float:
        return self.weight_bytes + self.cache_bytes + self.activation_bytes

    def as_dict(self) -> dict:
        return asdict(self)


def default_grid(kind: str) -> tuple[list[int], list[int]]:
    """(decode batches, chunk sizes) timed by default on a device of `kind`."""
    return (GPU_BATCHES, GPU_CHUNKS) if kind == "cuda" else (CPU_BATCHES, CPU_CHUNKS)


def modes_for(kind: str) -> list[str]:
    return list(MODES) if kind == "cuda" else ["eager"]


def step_cost(model_name: str, layers: int, batch: int, context: int, chunk: int, prefix: int,
              dtype: str) -> roofline.StepCost:
    """roofline.mixed_step for `model_name` cut to `layers` layers (the shape the bench built)."""
    shape = replace(models.get(model_name), n_layers=layers)
    return roofline.mixed_step(shape, batch, context, ((prefix, chunk),) if chunk else (), dtype, dtype)


def _graphed(fn):
    """`fn` captured in a CUDA graph (warmed up on a side stream first, as decode.runner does)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


def _random_cache(cfg, batch: int, length: int, dtype, device) -> KVCache:
    cache = KVCache(cfg, batch, length, dtype, device)
    for t in cache.k + cache.v:
        t.normal_()
    return cache


@torch.inference_mode()
def measure(info: DeviceInfo, model: Decoder, model_name: str, dtype: str, context: int, batches, chunks,
            modes=None, reps: int = 20, progress=None, rows: list | None = None, notes: list | None = None,
            settle_rounds: int = 10) -> tuple[list[MixedResult], list[str]]:
    """Time one mixed step per (batch, chunk, mode) at `context` tokens per decoding sequence,
    appending rows and notes as they come (an interrupted run keeps them)."""
    rows = [] if rows is None else rows
    notes = [] if notes is None else notes
    modes = validate_modes(modes or modes_for(info.kind), info.kind, MODES, "mixed")
    cfg, device = model.cfg, info.torch_device
    torch_dtype = model.lm_head.weight.dtype
    if max([context, *chunks]) > cfg.max_seq_len:
        raise ValueError(f"context {context} or chunk {max(chunks)} is beyond the decoder's {cfg.max_seq_len} positions")
    named = models.get(model_name)
    element = torch.empty((), dtype=torch_dtype).element_size()
    per_token = kv_cache.mha_elements_per_token(cfg.n_layers, cfg.n_kv_heads, cfg.head_dim) * element
    stop = False
    for batch in batches:
        if stop:
            break
        for chunk in chunks:
            need, free = per_token * (batch * context + chunk), free_bytes(info.kind)
            if not fits(need, free):
                notes.append(f"skipped mixed steps from batch {batch}, chunk {chunk}: their caches "
                             f"({need / 1e9:.1f} GB) do not fit in {free / 1e9:.1f} GB free")
                stop = True
                break
            try:
                dec_cache = _random_cache(cfg, batch, context, torch_dtype, device)
                torch.manual_seed(batch * 10_007 + chunk)
                tokens = torch.randint(0, cfg.vocab_size, (batch, 1), device=device)
                pos = torch.tensor([context - 1], device=device)
                if chunk:
                    chunk_cache = KVCache(cfg, 1, chunk, torch_dtype, device)
                    chunk_tokens = torch.randint(0, cfg.vocab_size, (1, chunk), device=device)
                    chunk_pos = torch.arange(chunk, device=device)

                    def step(t=tokens, p=pos, kv=dec_cache, ct=chunk_tokens, cp=chunk_pos, ckv=chunk_cache):
                        model(t, p, kv)
                        last_token_logits(model, ct, cp, ckv)
                else:
                    def step(t=tokens, p=pos, kv=dec_cache):
                        model(t, p, kv)
            except (RuntimeError, MemoryError) as error:
                if not is_out_of_memory(error):
                    raise
                notes.append(f"skipped mixed steps from batch {batch}, chunk {chunk}: out of memory")
                stop = True
                break
            cost = step_cost(model_name, cfg.n_layers, batch, context, chunk, 0, dtype)
            predicted = None
            if info.spec and cfg.n_layers == named.n_layers:
                full = roofline.mixed_step(named, batch, context, ((0, chunk),) if chunk else (), dtype, dtype)
                predicted = full.time_s(info.spec, "bf16" if dtype != "fp32" else "fp32")
            for mode in modes:
                if progress:
                    progress(f"mixed: {model_name} ({cfg.n_layers} layers, {dtype}) {mode}, decode batch {batch} "
                             f"at context {context:,} + a {chunk:,}-token chunk")
                try:
                    fn = step if mode == "eager" else _graphed(step)
                    timing = time_until_steady(fn, info.kind, reps=reps, warmup=2, settle_rounds=settle_rounds)
                except (RuntimeError, MemoryError) as error:
                    if not is_out_of_memory(error):
                        raise
                    notes.append(f"skipped mixed {mode} at batch {batch}, chunk {chunk}: out of memory")
                    continue
                rows.append(MixedResult(model_name, cfg.n_layers, dtype, mode, batch, context, chunk, 0,
                                        timing.median_s, timing.best_s, cost.weight_bytes, cost.kv_bytes,
                                        cost.activation_bytes, cost.flops, predicted, tuple(timing.flags())))
            del dec_cache, step
            if info.kind == "cuda":
                torch.cuda.empty_cache()
    return rows, notes
