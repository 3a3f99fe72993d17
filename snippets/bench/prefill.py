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
from snippets.bench.memory import is_out_of_memory
from snippets.bench.steps import modes_for, prepared, validate_modes
from snippets.bench.timing import time_repeats
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


@torch.inference_mode()
def measure(info: DeviceInfo, model: Decoder, model_name: str, dtype: str, prompts, best_TFLOPS: float | None = None,
            reps: int = 10, progress=None, rows: list | None = None, notes: list | None = None,
            settle_rounds: int = 5, modes=None, repeats: int = 3) -> tuple[list[PrefillResult], list[str]]:
    """Time the prefill of each prompt length at batch 1 per mode, appending to `rows` as it goes."""
    rows = [] if rows is None else rows
    notes = [] if notes is None else notes
    modes = validate_modes(modes or modes_for(info.kind), info.kind, section="prefill")
    cfg, device = model.cfg, info.torch_device
    for length in prompts:
        if length > cfg.max_seq_len:
            raise ValueError(f"prompt of {length} tokens is beyond the decoder's {cfg.max_seq_len} positions")
        try:
            cache = KVCache(cfg, 1, length, model.lm_head.weight.dtype, device)
            gen = torch.Generator().manual_seed(length)
            tokens = torch.randint(0, cfg.vocab_size, (1, length), generator=gen).to(device)
            positions = torch.arange(length, device=device)
        except (RuntimeError, MemoryError) as error:
            if not is_out_of_memory(error):
                raise
            notes.append(f"stopped prefill at {length:,} tokens: out of memory")
            break
        for mode in modes:
            if progress:
                progress(f"prefill: {model_name} ({cfg.n_layers} layers, {dtype}) {mode}, {length:,}-token prompt, batch 1")
            try:
                step = prepared(lambda compiled, t=tokens, p=positions, kv=cache: last_token_logits(
                    model, t, p, kv, tail=True, compiled=compiled), mode, info.kind)
                timing = time_repeats(step, info.kind, repeats, reps=reps, warmup=2, settle_rounds=settle_rounds)
            except (RuntimeError, MemoryError) as error:
                if not is_out_of_memory(error):
                    raise
                notes.append(f"skipped prefill {mode} at {length:,} tokens: out of memory")
                continue
            flops = prefill_flops(model, length)
            tflops = flops / timing.median_s / 1e12
            rows.append(PrefillResult(model_name, cfg.n_layers, dtype, 1, length, timing.median_s, timing.best_s,
                                      length / timing.median_s, flops, prefill_weight_bytes(model, length),
                                      float(cache.nbytes), tflops,
                                      100 * tflops / best_TFLOPS if best_TFLOPS else None, tuple(timing.flags()),
                                      mode, timing.repeat_medians_s))
            step = None
        del cache
        if info.kind == "cuda":
            torch.cuda.empty_cache()
    return rows, notes
