"""The torch-free part of snippets.transformer: the demo decoder's shape (TransformerConfig),
what the cache demonstration measured (CacheDemo), and the step-time model fitted on it
(StepModel, fit_step_model). snippets.transformer re-exports every name.

Apart from the model so that reading a stored measurement does not import torch: a warm site
build reads chapter 2's demonstration from the store and should not spend a second importing
torch to read it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from snippets.models import ModelConfig
from snippets.units import require_positive_int


@dataclass(frozen=True)
class TransformerConfig:
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    d_ff: int
    vocab_size: int
    max_seq_len: int

    def __post_init__(self):
        for name in ("n_layers", "d_model", "n_heads", "n_kv_heads", "head_dim", "d_ff", "vocab_size", "max_seq_len"):
            require_positive_int(name, getattr(self, name))
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads})")
        if self.head_dim % 2:
            raise ValueError(f"head_dim must be even for rotary embeddings, got {self.head_dim}")

    @classmethod
    def from_model(cls, m: ModelConfig, max_seq_len: int | None = None) -> "TransformerConfig":
        """The shape of a Llama-style model from the data (MLA and MoE models are not supported)."""
        if m.attention_kind not in ("MHA", "GQA") or m.is_moe:
            raise ValueError(f"{m.name} is {m.attention_kind}{' MoE' if m.is_moe else ''}; "
                             "the demo decoder supports dense MHA/GQA models only")
        return cls(m.n_layers, m.d_model, m.n_heads, m.n_kv_heads, m.head_dim, m.d_ff, m.vocab_size,
                   max_seq_len or m.max_position_embeddings)


@dataclass(frozen=True)
class CacheDemo:
    """Greedy generation with and without a KV cache, side by side (per-step medians of repeats)."""

    cfg: TransformerConfig
    batch: int
    prompt_tokens: int
    new_tokens: int
    repeats: int
    device: str
    dtype: str
    same_tokens: bool
    max_logit_difference: float
    cached_s: list[float]  # per generated token, median over the repeats
    uncached_s: list[float]
    cached_flops: list[float]  # per generated token, from forward_flops
    uncached_flops: list[float]
    cache_bytes_measured: int
    cache_bytes_formula: int


@dataclass(frozen=True)
class StepModel:
    """time per step = fixed_s + FLOPs / FLOP_per_s, fitted on some steps of a demo."""

    fixed_s: float
    FLOP_per_s: float

    def predict_s(self, flops: float) -> float:
        return self.fixed_s + flops / self.FLOP_per_s


def fit_step_model(small: tuple[list[float], list[float]], large: tuple[list[float], list[float]]) -> StepModel:
    """The line through two groups of steps, each reduced to its median (FLOPs, seconds): a few
    slow samples on a busy machine move a median far less than a least-squares fit.

    `small` and `large` are (FLOPs, seconds) of steps of clearly different sizes. Raises
    ValueError when the fit makes no physical sense (the larger steps not slower, or a
    negative fixed cost): the timings were too noisy to use.
    """
    (f_small, t_small), (f_large, t_large) = ((statistics.median(f), statistics.median(t)) for f, t in (small, large))
    if not f_large > f_small:
        raise ValueError("the 'large' steps must do more FLOPs than the 'small' ones")
    if not t_large > t_small:
        raise ValueError(f"nonsensical fit: steps of {f_large:.3g} FLOPs took {t_large * 1e3:.3f} ms, no longer than "
                         f"steps of {f_small:.3g} FLOPs ({t_small * 1e3:.3f} ms); the timings are too noisy to use")
    rate = (f_large - f_small) / (t_large - t_small)
    fixed = t_small - f_small / rate
    if fixed < 0:
        raise ValueError(f"nonsensical fit: a negative fixed cost per step ({fixed * 1e3:.3f} ms); the timings "
                         "are too noisy to use")
    return StepModel(fixed, rate)
