"""Prefill: the forward pass over a prompt at batch 1 that fills the KV cache and yields the first
token's logits (time to first token), with its FLOPs and MFU against the run's best matmul.

The prompt fills its cache from position 0, so attention is causal with no mask (FlashAttention-2
on CUDA skips the masked half, and the FLOPs counted are the causal ones: as run); the LM head
runs for the last token only. Modes as decode's (snippets.bench.steps): eager, a CUDA graph of
it, and compiled layers in a CUDA graph."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from snippets.bench.device import DeviceInfo
from snippets.bench.steps import modes_for, validate_modes
from snippets.bench.sweep import Reps, SweepPoint, sweep
from snippets.transformer import Decoder, KVCache, forward_flops, last_token_logits

#: Prompt lengths (tokens) timed by default. CPUs get shorter prompts (and truncated layers).
GPU_PROMPTS = [128, 512, 2048, 8192]
CPU_PROMPTS = [16, 64, 256]


@dataclass(frozen=True)
class PrefillResult:
    model: str
    layers: int  # layers built (the same truncated decoder as the decode step)
    dtype: str
    batch: int
    prompt_tokens: int
    median_s: float  # time to first token: the whole forward pass over the prompt
    best_s: float
    tokens_per_s: float  # prompt tokens per second
    flops: float  # 2 x matmul weights x tokens (LM head: last token) + causal attention (forward_flops)
    weight_bytes: float  # every weight once, less the embedding table, plus one row per token
    cache_bytes: float  # the KV cache written: prompt_tokens positions, every layer
    TFLOPS: float  # flops / median
    mfu_pct: float | None  # TFLOPS vs the best matmul TFLOP/s measured in the same run, in %
    flags: tuple[str, ...] = ()
    mode: str = "eager"  # "eager", "graph" or "compile" (snippets.bench.steps)
    repeat_medians_s: tuple[float, ...] = ()

    def as_dict(self) -> dict:
        return asdict(self)


def prefill_flops(model: Decoder, prompt_tokens: int, batch: int = 1) -> float:
    """FLOPs of prefilling `prompt_tokens` into an empty cache for `batch` sequences, the LM
    head for the last token only (as timed, and as roofline.prefill counts)."""
    return batch * forward_flops(model, prompt_tokens, 0, logits_tokens=1)


def prefill_weight_bytes(model: Decoder, prompt_tokens: int, batch: int = 1) -> float:
    """Weight bytes read once by the prefill: all weights but the embedding table, one row per token."""
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    table = model.embed.weight
    return params - table.numel() * table.element_size() + batch * prompt_tokens * table.shape[1] * table.element_size()


def sweep_point(info: DeviceInfo, model: Decoder, model_name: str, dtype: str, length: int,
                best_TFLOPS: float | None) -> SweepPoint:
    """One prompt length of the prefill sweep: its inputs (its own cache, filled from position 0),
    step (causal, LM head for the last token) and row."""
    cfg, device = model.cfg, info.torch_device
    if length > cfg.max_seq_len:
        raise ValueError(f"prompt of {length} tokens is beyond the decoder's {cfg.max_seq_len} positions")
    flops, element = prefill_flops(model, length), model.lm_head.weight.element_size()
    cache_bytes = 2.0 * cfg.n_layers * length * cfg.n_kv_heads * cfg.head_dim * element

    def setup():
        cache = KVCache(cfg, 1, length, model.lm_head.weight.dtype, device)
        tokens = torch.randint(0, cfg.vocab_size, (1, length), generator=torch.Generator().manual_seed(length)).to(device)
        positions = torch.arange(length, device=device)
        return lambda compiled: last_token_logits(model, tokens, positions, cache, tail=True, compiled=compiled)

    def row(mode: str, timing) -> PrefillResult:
        tflops = flops / timing.median_s / 1e12
        return PrefillResult(model_name, cfg.n_layers, dtype, 1, length, timing.median_s, timing.best_s,
                             length / timing.median_s, flops, prefill_weight_bytes(model, length), cache_bytes, tflops,
                             100 * tflops / best_TFLOPS if best_TFLOPS else None, tuple(timing.flags()), mode,
                             timing.repeat_medians_s)

    return SweepPoint(f"{length:,}-token prompt, batch 1", setup, row)


@torch.inference_mode()
def measure(info: DeviceInfo, model: Decoder, model_name: str, dtype: str, prompts, best_TFLOPS: float | None = None,
            reps: int = 10, progress=None, rows: list | None = None, notes: list | None = None,
            settle_rounds: int = 5, modes=None, repeats: int = 3) -> tuple[list[PrefillResult], list[str]]:
    """Time the prefill of each prompt length at batch 1 per mode, appending to `rows` as it goes."""
    rows = [] if rows is None else rows
    notes = [] if notes is None else notes
    modes = validate_modes(modes or modes_for(info.kind), info.kind, section="prefill")
    points = [sweep_point(info, model, model_name, dtype, length, best_TFLOPS) for length in prompts]
    sweep("prefill", points, modes, info.kind, rows, notes, progress, Reps(repeats, reps, 2, settle_rounds),
          title=f"prefill: {model_name} ({model.cfg.n_layers} layers, {dtype})")
    return rows, notes
