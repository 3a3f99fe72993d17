"""A small, readable decoder-only transformer (Llama-style: RMSNorm, RoPE, SwiGLU, GQA) with
an optional KV cache. Weights are random: it exists to show what a cache stores and what it
saves, and to give the decode benchmark a model of a real shape, not to produce text.

Shapes: B batch, T new tokens, S cached positions, H query heads, G KV heads, D head_dim.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from snippets.device_sync import synchronize
from snippets.transformer_data import (  # noqa: F401 - re-exported
    CacheDemo,
    StepModel,
    TransformerConfig,
    fit_step_model,
)
from snippets.units import require_positive_int


class KVCache:
    """Pre-allocated K and V for every layer: [B, G, max_len, D] each, filled as tokens arrive."""

    def __init__(self, cfg: TransformerConfig, batch: int, max_len: int, dtype: torch.dtype, device):
        require_positive_int("batch", batch)
        require_positive_int("max_len", max_len)
        shape = (batch, cfg.n_kv_heads, max_len, cfg.head_dim)
        self.k = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(cfg.n_layers)]
        self.v = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(cfg.n_layers)]
        self.max_len = max_len

    @property
    def nbytes(self) -> int:
        """Bytes the cache tensors occupy (all layers, K and V)."""
        return sum(t.numel() * t.element_size() for t in self.k + self.v)


def rope_tables(cfg: TransformerConfig, device, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotary angles, [max_seq_len, D/2], in fp32."""
    inv_freq = 1.0 / base ** (torch.arange(0, cfg.head_dim, 2, device=device, dtype=torch.float32) / cfg.head_dim)
    angles = torch.outer(torch.arange(cfg.max_seq_len, device=device, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs of channels of x [B, heads, T, D] by the angles of each position [T, D/2]."""
    x1, x2 = x.float().unflatten(-1, (-1, 2)).unbind(-1)
    rotated = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)
    return rotated.type_as(x)


#: How the new tokens of a forward see the keys. The caller says which, from what it knows of the
#: cache, so attention needs no materialised mask where the shapes say enough:
#:   "causal": no cache, or the new tokens fill the cache from position 0 (T = S): causal;
#:   "tail":   the new tokens are the last T positions of the cache (decode, verify, a later chunk):
#:             T = 1 attends to every key, no mask at all; T > 1 is causal aligned to the bottom right;
#:   "mask":   anything else (a cache longer than what is written so far): a boolean mask built
#:             from the positions (the general case, as `generate` needs).
PATTERNS = ("causal", "tail", "mask")


def flash_usable(q: torch.Tensor) -> bool:
    """True where FlashAttention-2 (torch's aten._scaled_dot_product_flash_attention) takes `q`:
    a CUDA tensor in fp16 or bf16 with a head dimension that is a multiple of 8, at most 256."""
    return q.is_cuda and q.dtype in (torch.float16, torch.bfloat16) and q.shape[-1] % 8 == 0 and q.shape[-1] <= 256


def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
    """Attention without a mask (causal: aligned to the bottom right when T < S). On CUDA in half
    precision, FlashAttention-2 itself, which takes grouped KV heads natively and aligns its causal
    mask to the bottom right; elsewhere SDPA (whose is_causal aligns to the top left, so a T < S
    causal case gets its mask built here: the CPU path, for tests)."""
    T, S = q.shape[-2], k.shape[-2]
    if flash_usable(q):
        return torch.ops.aten._scaled_dot_product_flash_attention(q, k, v, 0.0, causal, False)[0]
    if causal and T != S:
        mask = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(S - T)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, pattern: str,
           positions: torch.Tensor | None = None) -> torch.Tensor:
    """Attention of q [B, H, T, D] over k, v [B, G, S, D] (H a multiple of G) in `pattern`
    (PATTERNS); `positions` [T] only for "mask". Returns [B, H, T, D]."""
    B, H, T, D = q.shape
    G, S = k.shape[1], k.shape[2]
    if pattern == "mask":
        mask = torch.arange(S, device=q.device)[None, :] <= positions[:, None]  # [T, S]: no peeking ahead
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    if pattern == "tail" and T == 1:
        # one query per sequence seeing every key: the H / G query heads that share a KV head
        # become G heads of H / G query rows each, plain attention with no mask and no grouping
        out = _sdpa(q.reshape(B, G, H // G, D), k, v, causal=False)
        return out.reshape(B, H, 1, D)
    if pattern not in PATTERNS:
        raise ValueError(f"unknown attention pattern {pattern!r}; choose {', '.join(PATTERNS)}")
    return _sdpa(q, k, v, causal=True)


class Block(nn.Module):
    def __init__(self, cfg: TransformerConfig, dtype, device):
        super().__init__()
        kw = {"bias": False, "dtype": dtype, "device": device}
        self.cfg = cfg
        self.attn_norm = nn.RMSNorm(cfg.d_model, dtype=dtype, device=device)
        # Q, K and V share one matrix, as do the gate and up projections: one large matmul
        # streams its weights faster than two or three small ones (same parameters).
        self.q_size, self.kv_size = cfg.n_heads * cfg.head_dim, cfg.n_kv_heads * cfg.head_dim
        self.wqkv = nn.Linear(cfg.d_model, self.q_size + 2 * self.kv_size, **kw)
        self.wo = nn.Linear(self.q_size, cfg.d_model, **kw)
        self.mlp_norm = nn.RMSNorm(cfg.d_model, dtype=dtype, device=device)
        self.gate_up = nn.Linear(cfg.d_model, 2 * cfg.d_ff, **kw)
        self.down = nn.Linear(cfg.d_ff, cfg.d_model, **kw)

    def attention(self, qkv, tokens, positions, cos, sin, k_cache, v_cache, pattern):
        """One part's attention: qkv [B*T, q+2kv] of its B sequences of T new tokens -> [B*T, q]."""
        B, T = tokens.shape
        cfg = self.cfg
        q, k, v = qkv.view(B, T, -1).split([self.q_size, self.kv_size, self.kv_size], dim=-1)
        q = q.view(B, T, cfg.n_heads, cfg.head_dim).transpose(1, 2)
        k = k.view(B, T, cfg.n_kv_heads, cfg.head_dim).transpose(1, 2)
        v = v.view(B, T, cfg.n_kv_heads, cfg.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if k_cache is not None:  # store the new K and V, then attend to everything cached
            k_cache.index_copy_(2, positions, k)
            v_cache.index_copy_(2, positions, v)
            k, v = k_cache, v_cache
        out = attend(q, k, v, pattern, positions)
        return out.transpose(1, 2).reshape(B * T, self.q_size)

    def forward(self, x, parts):
        """x [N, d_model]: the rows of every part, packed one after another; `parts`: per part
        (tokens [B, T], positions [T], cos, sin [T, D/2], this layer's K and V cache or None,
        pattern). The matmuls run once over all N rows (one read of the weights); attention runs
        per part, each over its own cache."""
        qkv = self.wqkv(self.attn_norm(x))
        outs, start = [], 0
        for tokens, positions, cos, sin, k_cache, v_cache, pattern in parts:
            rows = tokens.shape[0] * tokens.shape[1]
            outs.append(self.attention(qkv[start:start + rows], tokens, positions, cos, sin, k_cache, v_cache, pattern))
            start += rows
        x = x + self.wo(outs[0] if len(outs) == 1 else torch.cat(outs))
        gate, up = self.gate_up(self.mlp_norm(x)).chunk(2, dim=-1)
        return x + self.down(F.silu(gate) * up)


class Decoder(nn.Module):
    """Token ids in, next-token logits out. Random weights from `seed`."""

    def __init__(self, cfg: TransformerConfig, dtype=torch.float32, device="cpu", seed: int = 0):
        super().__init__()
        self.cfg = cfg
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model, dtype=dtype, device=device)
            self.layers = nn.ModuleList(Block(cfg, dtype, device) for _ in range(cfg.n_layers))
            self.norm = nn.RMSNorm(cfg.d_model, dtype=dtype, device=device)
            self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False, dtype=dtype, device=device)
        cos, sin = rope_tables(cfg, device)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        self._compiled = None  # compiled_layers(), made on first use

    def hidden(self, parts, compiled: bool = False) -> torch.Tensor:
        """The last layer's output [N, d_model] for `parts`, each (tokens [B, T], positions [T]
        (a device tensor, so a captured graph can replay it), KVCache or None, pattern), their
        rows packed in order: one pass over the weights for all of them. `compiled`: each layer
        through compiled_layers()."""
        xs = [self.embed(tokens).reshape(-1, self.cfg.d_model) for tokens, *_ in parts]
        x = xs[0] if len(xs) == 1 else torch.cat(xs)
        rope = [(self.cos[positions], self.sin[positions]) for _, positions, *_ in parts]
        call = self.compiled_layers() if compiled else run_layer
        for i, layer in enumerate(self.layers):
            x = call(layer, x, tuple((tokens, positions, cos, sin, cache.k[i] if cache is not None else None,
                                cache.v[i] if cache is not None else None, pattern)
                               for (tokens, positions, cache, pattern), (cos, sin) in zip(parts, rope)))
        return x

    def forward(self, tokens: torch.Tensor, positions: torch.Tensor, cache: KVCache | None = None,
                tail: bool = False, compiled: bool = False) -> torch.Tensor:
        """tokens [B, T] at `positions` [T]; logits [B, T, vocab]. `tail`: the T new tokens are the
        last T positions of `cache` (decode and verify steps), so attention needs no mask."""
        B, T = tokens.shape
        x = self.hidden(((tokens, positions, cache, pattern_for(cache, tail)),), compiled)
        return self.lm_head(self.norm(x)).view(B, T, -1)

    def compiled_layers(self):
        """A layer runner for `hidden`: torch.compile of one function that runs a layer (regional
        compilation). The layers share its compiled code (their weights are its inputs), so a shape
        compiles once, not once per layer: seconds, not a minute. The embedding, final norm and LM
        head stay eager (capture the step in a CUDA graph to drop their launch cost). Made once
        per model, on first use."""
        if self._compiled is None:
            self._compiled = torch.compile(run_layer, fullgraph=True)
        return self._compiled


def run_layer(layer: Block, x: torch.Tensor, parts) -> torch.Tensor:
    """One layer's forward: what `Decoder.compiled_layers` compiles."""
    return layer(x, parts)


def pattern_for(cache: KVCache | None, tail: bool) -> str:
    """The attention pattern of a forward: "causal" without a cache, "tail" when the caller says
    the new tokens end the cache, else "mask"."""
    return "causal" if cache is None else "tail" if tail else "mask"


def last_token_logits(model: Decoder, tokens: torch.Tensor, positions: torch.Tensor, cache: KVCache,
                      tail: bool = False, compiled: bool = False) -> torch.Tensor:
    """Decoder.forward, with the LM head run for the last position only: a prompt (or a prompt
    chunk) needs the logits of its last token, not of every token, and serving engines compute
    only those. [B, 1, vocab]."""
    B, T = tokens.shape
    x = model.hidden(((tokens, positions, cache, pattern_for(cache, tail)),), compiled)
    return model.lm_head(model.norm(x.view(B, T, -1)[:, -1:]))


def mixed_logits(model: Decoder, decode: tuple, chunk: tuple, compiled: bool = False) -> torch.Tensor:
    """One forward over a decode batch and a prefill chunk together, as a continuous-batching
    server runs it: `decode` = (tokens [B, 1], positions [1], cache whose last position is that
    one), `chunk` = (tokens [1, C], positions [C], cache ending at the chunk's last position).
    Every matmul reads its weights once for all B + C rows; attention runs per part. Logits of
    the B decode tokens and of the chunk's last token: [B + 1, vocab]."""
    (dt, dp, dc), (ct, cp, cc) = decode, chunk
    x = model.hidden(((dt, dp, dc, "tail"), (ct, cp, cc, "tail")), compiled)
    B = dt.shape[0]
    return model.lm_head(model.norm(torch.cat([x[:B], x[-1:]])))


def matmul_parameters(model: Decoder) -> int:
    """Weights used in matmuls: every matrix except the embedding table (a lookup)."""
    return sum(p.numel() for p in model.parameters() if p.dim() == 2) - model.embed.weight.numel()


def forward_flops(model: Decoder, new_tokens: int, cached_tokens: int = 0, logits_tokens: int | None = None) -> float:
    """FLOPs of one forward pass over `new_tokens` for one sequence that already has
    `cached_tokens` in its cache: 2 per matmul weight per token, plus QK^T and AV, where
    new token i attends to the cached tokens and to new tokens 0..i. The LM head runs for
    `logits_tokens` positions (default: every new token; 1 for last_token_logits)."""
    cfg = model.cfg
    keys = new_tokens * cached_tokens + new_tokens * (new_tokens + 1) / 2
    head = model.lm_head.weight.numel()
    logits = new_tokens if logits_tokens is None else logits_tokens
    return (2.0 * new_tokens * (matmul_parameters(model) - head) + 2.0 * logits * head
            + 4.0 * cfg.n_layers * cfg.n_heads * cfg.head_dim * keys)


@dataclass
class Generation:
    tokens: list[list[int]]  # [B][n_new] greedily chosen ids
    logits: list[torch.Tensor]  # per step, [B, vocab] in the model's dtype
    seconds_per_step: list[float]  # wall clock of each generated token
    cache_bytes: int = 0  # bytes of the KV cache tensors (0 without a cache)


@torch.inference_mode()
def generate(model: Decoder, prompt: torch.Tensor, n_new: int, use_cache: bool) -> Generation:
    """Greedy generation of `n_new` tokens after `prompt` [B, P].

    Without a cache every step runs the whole sequence again; with one, the prompt fills the
    cache once (prefill) and each step runs one token against it (decode).
    """
    require_positive_int("n_new", n_new)
    B, P = prompt.shape
    if P + n_new > model.cfg.max_seq_len:
        raise ValueError(f"prompt ({P}) + new tokens ({n_new}) exceed max_seq_len {model.cfg.max_seq_len}")
    device = prompt.device
    cache = KVCache(model.cfg, B, P + n_new, model.lm_head.weight.dtype, device) if use_cache else None
    sequence, out = prompt, Generation([[] for _ in range(B)], [], [])
    for step in range(n_new):
        start = time.perf_counter()
        if cache is None:
            logits = model(sequence, torch.arange(sequence.shape[1], device=device))[:, -1]
        elif step == 0:
            logits = model(prompt, torch.arange(P, device=device), cache)[:, -1]
        else:
            pos = torch.tensor([P + step - 1], device=device)
            logits = model(sequence[:, -1:], pos, cache)[:, -1]
        logits = logits.clone()  # drop the view that would keep every position's logits alive
        next_token = logits.argmax(dim=-1, keepdim=True)
        synchronize(device.type)
        out.seconds_per_step.append(time.perf_counter() - start)
        out.logits.append(logits)
        for b in range(B):
            out.tokens[b].append(int(next_token[b]))
        sequence = torch.cat([sequence, next_token], dim=1)
    out.cache_bytes = cache.nbytes if cache is not None else 0
    return out


def _median_per_step(runs: list[Generation]) -> list[float]:
    return [statistics.median(step) for step in zip(*(run.seconds_per_step for run in runs))]


@contextlib.contextmanager
def torch_threads(n: int):
    """Run torch's CPU operators on `n` threads inside the block, then restore the setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def cache_demo(cfg: TransformerConfig, prompt_tokens: int, new_tokens: int, batch: int = 1,
               seed: int = 0, device="cpu", dtype=torch.float32, repeats: int = 3) -> CacheDemo:
    """Run both generations `repeats` times (interleaved, so a noisy moment hits both alike) and
    compare tokens, logits, time per step (the median of the repeats) and cache bytes. It runs on
    torch's thread settings as the caller left them (see torch_threads)."""
    from snippets.kv_cache import mha_elements_per_token

    require_positive_int("repeats", repeats)
    model = Decoder(cfg, dtype=dtype, device=device, seed=seed)
    prompt = torch.randint(0, cfg.vocab_size, (batch, prompt_tokens),
                           generator=torch.Generator().manual_seed(seed)).to(device)
    generate(model, prompt, 2, use_cache=True)  # warm-up: first calls allocate and pick kernels
    cached, uncached = [], []
    for _ in range(repeats):
        cached.append(generate(model, prompt, new_tokens, use_cache=True))
        uncached.append(generate(model, prompt, new_tokens, use_cache=False))
    difference = max(float((a - b).abs().max()) for a, b in zip(cached[0].logits, uncached[0].logits))
    length = prompt_tokens + new_tokens
    return CacheDemo(
        cfg, batch, prompt_tokens, new_tokens, repeats, torch.device(device).type, str(dtype).removeprefix("torch."),
        cached[0].tokens == uncached[0].tokens, difference,
        _median_per_step(cached), _median_per_step(uncached),
        [batch * forward_flops(model, prompt_tokens if t == 0 else 1, 0 if t == 0 else prompt_tokens + t - 1)
         for t in range(new_tokens)],
        [batch * forward_flops(model, prompt_tokens + t) for t in range(new_tokens)],
        cached[0].cache_bytes,
        mha_elements_per_token(cfg.n_layers, cfg.n_kv_heads, cfg.head_dim) * model.lm_head.weight.element_size()
        * length * batch,
    )
