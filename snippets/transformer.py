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

from snippets.bench.timing import synchronize
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

    def attention(self, x, positions, cos, sin, cache: KVCache | None, layer: int):
        B, T, _ = x.shape
        cfg = self.cfg
        q, k, v = self.wqkv(x).split([self.q_size, self.kv_size, self.kv_size], dim=-1)
        q = q.view(B, T, cfg.n_heads, cfg.head_dim).transpose(1, 2)
        k = k.view(B, T, cfg.n_kv_heads, cfg.head_dim).transpose(1, 2)
        v = v.view(B, T, cfg.n_kv_heads, cfg.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is None:  # attend to the T tokens given, causally
            keys, values, key_positions = k, v, positions
        else:  # store the new K and V, then attend to everything cached so far
            cache.k[layer].index_copy_(2, positions, k)
            cache.v[layer].index_copy_(2, positions, v)
            keys, values = cache.k[layer], cache.v[layer]
            key_positions = torch.arange(cache.max_len, device=x.device)
        mask = key_positions[None, :] <= positions[:, None]  # [T, S]: no peeking ahead
        out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, enable_gqa=True)
        return self.wo(out.transpose(1, 2).reshape(B, T, -1))

    def forward(self, x, positions, cos, sin, cache=None, layer=0):
        x = x + self.attention(self.attn_norm(x), positions, cos, sin, cache, layer)
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

    def forward(self, tokens: torch.Tensor, positions: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """tokens [B, T] at `positions` [T] (a device tensor, so a captured graph can replay it)."""
        x = self.embed(tokens)
        cos, sin = self.cos[positions], self.sin[positions]
        for i, layer in enumerate(self.layers):
            x = layer(x, positions, cos, sin, cache, i)
        return self.lm_head(self.norm(x))


def last_token_logits(model: Decoder, tokens: torch.Tensor, positions: torch.Tensor, cache: KVCache) -> torch.Tensor:
    """Decoder.forward, with the LM head run for the last position only: a prompt (or a prompt
    chunk) needs the logits of its last token, not of every token, and serving engines compute
    only those."""
    x = model.embed(tokens)
    cos, sin = model.cos[positions], model.sin[positions]
    for i, layer in enumerate(model.layers):
        x = layer(x, positions, cos, sin, cache, i)
    return model.lm_head(model.norm(x[:, -1:]))


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
