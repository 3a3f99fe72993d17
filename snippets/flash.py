"""Attention by blocks with an online softmax (FlashAttention's recurrence), and the merge of
partial results computed over separate pieces of the keys (Flash-Decoding's split-KV), in a few
lines of torch on the CPU. Chapter 6 shows this code and the tests run it against
softmax(QK^T / sqrt(d)) V.

Shapes: q [queries, d], k and v [keys, d], one head. A partial result over some keys is
(o, lse): o the softmax-weighted values over those keys alone, lse the natural log of the sum of
exp(score) over them. Two partials combine exactly by their log-sum-exps.
"""

from __future__ import annotations

import math

import torch


def reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v, the score matrix materialised."""
    return torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1) @ v


# --8<-- [start:online]
def blocked(q, k, v, block: int):
    """Attention over key blocks of `block` rows, never holding more than one block's scores.
    Returns (o, lse): the output and the natural log-sum-exp of each query's scores."""
    scale = 1 / math.sqrt(q.shape[-1])
    m = torch.full(q.shape[:-1], -math.inf, dtype=q.dtype)  # running max of the scores
    s = torch.zeros(q.shape[:-1], dtype=q.dtype)  # running sum of exp(score - m)
    acc = torch.zeros_like(q)  # running sum of exp(score - m) x value
    for start in range(0, k.shape[0], block):
        scores = q @ k[start:start + block].T * scale
        m_new = torch.maximum(m, scores.max(dim=-1).values)
        rescale = torch.exp(m - m_new)  # what the old terms are worth under the new max
        p = torch.exp(scores - m_new[:, None])
        s = s * rescale + p.sum(dim=-1)
        acc = acc * rescale[:, None] + p @ v[start:start + block]
        m = m_new
    return acc / s[:, None], m + torch.log(s)
# --8<-- [end:online]


# --8<-- [start:merge]
def merge(parts):
    """Combine partial results (o_i, lse_i), each over its own keys, into attention over all of
    them: weight each o_i by exp(lse_i - lse), lse the log-sum-exp of the lse_i."""
    lse = torch.logsumexp(torch.stack([lse_i for _, lse_i in parts]), dim=0)
    o = sum(torch.exp(lse_i - lse)[:, None] * o_i for o_i, lse_i in parts)
    return o, lse


def split_kv(q, k, v, splits: int, block: int):
    """Flash-Decoding: attention over `splits` pieces of the keys (each could run on its own
    SMs), merged by log-sum-exp."""
    pieces = torch.tensor_split(torch.arange(k.shape[0]), splits)
    return merge([blocked(q, k[i], v[i], block) for i in pieces if len(i)])
# --8<-- [end:merge]


# --8<-- [start:trap]
def merge_mixed_bases(parts_base_e, parts_base_2):
    """The trap: one kernel returns its lse in base e, another (as some kernels do, for exp2's
    speed) in base 2. Merging them as if both were base e weights the base-2 partials wrongly."""
    return merge(list(parts_base_e) + [(o, l2) for o, l2 in parts_base_2])


def to_base_2(lse_e: torch.Tensor) -> torch.Tensor:
    """log2 of the same sum: lse_e / ln 2."""
    return lse_e / math.log(2)


def merge_fixed(parts_base_e, parts_base_2):
    """The fix: convert every lse to one base before merging."""
    return merge(list(parts_base_e) + [(o, l2 * math.log(2)) for o, l2 in parts_base_2])
# --8<-- [end:trap]
