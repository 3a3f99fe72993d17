"""Attention alone, one layer's call at the shapes the model sections run, through each kernel
torch offers on the device: what a step's attention costs, measured, for the calibrated model
(snippets.calibration) and to say which kernel is fastest.

Cases: "decode" (one new token per sequence over a cache of `context` tokens, no mask) at each
decode batch, and at batch 1 and 32 over each context of the context sweep (chapter 6: attention's
time against context; `--attention-contexts`, on by default on CUDA GPUs); "prefill" (a prompt of T
tokens, causal, batch 1) at each prompt and chunk length.
Kernels: "flash" (snippets.transformer.attend, what the decoder runs: FlashAttention-2 on CUDA in
half precision), and on CUDA torch's SDPA backends, each with grouped KV heads: "cudnn",
"efficient" (memory-efficient attention), "math" (the unfused reference, which materialises the
scores) and "sdpa" (whichever backend torch picks). A kernel that
refuses a shape is skipped with its reason. Each call is captured in a CUDA graph on CUDA, the L2
flushed before every timed call; bytes are K and V read plus Q and the output; FLOPs 4 x heads x
head_dim x query-key pairs (causal: half the square).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from snippets.bench.device import DeviceInfo
from snippets.bench.memory import is_out_of_memory
from snippets.bench.steps import graphed
from snippets.bench.timing import l2_flusher, time_repeats
from snippets.transformer import TransformerConfig, attend

KERNELS = ("flash", "cudnn", "efficient", "math", "sdpa")
#: The context sweep: decode attention at these batches over each context (chapter 6).
CONTEXT_BATCHES = (1, 32)
GPU_CONTEXTS = (1024, 4096, 16384, 65536, 131072)


@dataclass(frozen=True)
class AttentionCase:
    case: str  # "decode" or "prefill"
    batch: int
    tokens: int  # new tokens per sequence (1 for decode)
    context: int  # keys per sequence

    @property
    def causal(self) -> bool:
        return self.tokens > 1


def plan(batches, context: int, prompts, contexts=()) -> list[AttentionCase]:
    """The cases one run times: decode at each batch over `context` keys, decode at batch 1 and 32
    over each of `contexts` (the sweep; a shape already planned is not repeated), prefill at each
    prompt length (its own keys). Pure: no torch, nothing measured."""
    decode = [AttentionCase("decode", b, 1, context) for b in sorted(set(batches))]
    sweep = [AttentionCase("decode", b, 1, c) for c in sorted(set(contexts)) for b in CONTEXT_BATCHES]
    return (decode + [c for c in dict.fromkeys(sweep) if c not in decode]
            + [AttentionCase("prefill", 1, t, t) for t in sorted(set(prompts))])


def case_flops(cfg: TransformerConfig, c: AttentionCase) -> float:
    """QK^T and AV of one layer: 4 x heads x head_dim per query-key pair (causal: T(T+1)/2 pairs)."""
    pairs = c.tokens * (c.tokens + 1) / 2 if c.causal else c.tokens * c.context
    return 4.0 * cfg.n_heads * cfg.head_dim * c.batch * pairs


def case_bytes(cfg: TransformerConfig, c: AttentionCase, element_bytes: int) -> float:
    """K and V read, Q read and the output written, one layer."""
    kv = 2 * c.batch * cfg.n_kv_heads * c.context * cfg.head_dim
    q_out = 2 * c.batch * cfg.n_heads * c.tokens * cfg.head_dim
    return float((kv + q_out) * element_bytes)


@dataclass(frozen=True)
class AttentionResult:
    kernel: str
    case: str
    batch: int
    tokens: int
    context: int
    layers: int  # the model's layers: a step's attention is this many calls
    median_s: float  # one layer's call
    best_s: float
    bytes: float
    flops: float
    GBps: float
    TFLOPS: float
    flags: tuple[str, ...] = ()
    repeat_medians_s: tuple[float, ...] = ()

    def as_dict(self) -> dict:
        return asdict(self)


def _call(kernel: str, q, k, v, causal: bool):
    """One attention call through `kernel` (q [B, H, T, D]; k, v [B, G, S, D])."""
    if kernel == "flash":
        return attend(q, k, v, "tail" if q.shape[-2] < k.shape[-2] or not causal else "causal")
    from torch.nn.attention import SDPBackend, sdpa_kernel

    backends = {"cudnn": [SDPBackend.CUDNN_ATTENTION], "efficient": [SDPBackend.EFFICIENT_ATTENTION],
                "math": [SDPBackend.MATH]}
    if kernel == "sdpa":
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
    with sdpa_kernel(backends[kernel]):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)


def _inputs(cfg: TransformerConfig, c: AttentionCase, dtype, device, gen):
    """Random q [B, H, T, D] and k, v [B, G, S, D] for one case."""
    q = torch.randn(c.batch, cfg.n_heads, c.tokens, cfg.head_dim, generator=gen).to(device, dtype)
    k, v = (torch.randn(c.batch, cfg.n_kv_heads, c.context, cfg.head_dim, generator=gen).to(device, dtype)
            for _ in range(2))
    return q, k, v


def kernels_for(kind: str) -> tuple[str, ...]:
    return KERNELS if kind == "cuda" else ("flash",)


@torch.inference_mode()
def _note_failure(info: DeviceInfo, kernel: str, c, error: Exception, notes: list) -> None:
    """Say why a kernel gave no row: out of memory (math's K and V copies did not fit), or a
    refusal of the shape (said once per kernel and case)."""
    if info.kind == "cuda":
        torch.cuda.synchronize()
    if is_out_of_memory(error):
        if info.kind == "cuda":
            torch.cuda.empty_cache()
        notes.append(f"attention {kernel} ran out of memory: {c.case} at batch {c.batch}, {c.context:,} keys")
        return
    text = f"attention {kernel} refused {c.case} at batch {c.batch}: {type(error).__name__}: {str(error)[:160]}"
    if not any(n.startswith(f"attention {kernel} refused {c.case}") for n in notes):
        notes.append(text)


def measure(info: DeviceInfo, cfg: TransformerConfig, dtype: torch.dtype, cases, rows: list | None = None,
            notes: list | None = None, progress=None, reps: int = 20, settle_rounds: int = 5,
            repeats: int = 3) -> tuple[list[AttentionResult], list[str]]:
    """Time one layer's attention per (case, kernel), appending rows as measured."""
    rows = [] if rows is None else rows
    notes = [] if notes is None else notes
    device, flush = info.torch_device, l2_flusher(info.kind)
    element = torch.empty((), dtype=dtype).element_size()
    gen = torch.Generator().manual_seed(0)
    for c in cases:
        try:
            q, k, v = _inputs(cfg, c, dtype, device, gen)
        except (RuntimeError, MemoryError) as error:
            if not is_out_of_memory(error):
                raise
            notes.append(f"skipped attention {c.case} at batch {c.batch}, {c.context:,} keys: out of memory")
            continue
        for kernel in kernels_for(info.kind):
            if progress:
                progress(f"attention: {kernel}, {c.case} at batch {c.batch}, {c.tokens:,} x {c.context:,} tokens")
            fn = lambda kernel=kernel, q=q, k=k, v=v, causal=c.causal: _call(kernel, q, k, v, causal)  # noqa: E731
            try:
                fn()
                step = graphed(fn) if info.kind == "cuda" else fn
                timing = time_repeats(step, info.kind, repeats, reps=reps, warmup=2, flush=flush,
                                      settle_rounds=settle_rounds)
            except Exception as error:  # noqa: BLE001 - a kernel that refuses a shape is skipped, said once
                _note_failure(info, kernel, c, error, notes)
                continue
            nbytes, flops = case_bytes(cfg, c, element), case_flops(cfg, c)
            rows.append(AttentionResult(kernel, c.case, c.batch, c.tokens, c.context, cfg.n_layers, timing.median_s,
                                        timing.best_s, nbytes, flops, nbytes / timing.median_s / 1e9,
                                        flops / timing.median_s / 1e12, tuple(timing.flags()),
                                        timing.repeat_medians_s))
    return rows, notes
