"""Verification steps for chapter 5: the course decoder's time T(k) to score k new tokens per
sequence in one forward pass against a cache of `context` tokens (what a speculative step's
target pass does with k = gamma + 1), a small draft model's decode step at the same batch and
context, and both combined with a synthetic acceptance rate into tokens per second per gamma.

How a verify pass is timed: Decoder.forward over k new tokens per sequence at positions
context..context+k-1, each sequence with its own cache of context + k positions (the first
`context` random, the k new ones written by the pass), logits for all k positions (the target
must score every draft). k = 1 is a plain decode step. The k new tokens end their cache, so
attention needs no mask (causal, aligned to the bottom right: FlashAttention-2 on CUDA). Modes
(snippets.bench.steps): eager everywhere; "graph" and "compile" on CUDA. On CPUs the run builds a few layers of the model
(the decode rows' truncation) at a short context: times are for that shape, not the model.

Bytes and FLOPs per row: `verify_cost`, counted the way chapter 5 counts them (every weight
once for batch x k rows, each sequence's cache read once and its k new K/V entries written,
the activations of every row, causal attention over context + k, and the LM head for **all k
positions**): snippets.speculative.verify_step, the one definition chapter 5 uses.

The draft: a decode step of a smaller decoder shape (DRAFT_MODELS: the first one in the data)
at the same batch and context, c = T_draft / T_target(k = 1) per batch and mode. On CPUs the
draft is truncated to the same fraction of its layers as the target (at least one), so c is
the ratio of two truncated models (their embedding and LM head weigh more than in the whole).

Acceptance is **synthetic**: each draft token accepted independently with probability alpha
(ALPHAS), as in the gain model. With random weights a measured alpha would mean nothing. A
speculative step yields E(alpha, gamma) tokens per sequence in gamma draft steps plus one
verify of gamma + 1 tokens; T(gamma + 1) between measured k is interpolated linearly.

No torch at import time (the lab and the site can use the cost and combination functions).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

from snippets import kv_cache, models, roofline, speculative

if TYPE_CHECKING:  # pragma: no cover
    from snippets.bench.device import DeviceInfo
    from snippets.transformer import Decoder

#: Tokens per sequence scored in one pass (k = gamma + 1), and batches, by default.
GPU_TOKENS = [1, 2, 4, 8, 16, 32, 64, 128]
CPU_TOKENS = [1, 2, 4, 8, 16]
GPU_BATCHES = [1, 32]
CPU_BATCHES = [1, 4]
#: Cached tokens per sequence before the pass: the run's --context on GPUs (1,024 by default);
#: on CPUs at most this many (the truncated decoder's time would otherwise be mostly attention).
CPU_CONTEXT = 64
MODES = ("eager", "graph", "compile")
#: Draft shapes, the first one in the data is used: a Llama-3.2-1B-shaped decoder when the data
#: has it, else OPT-1.3B's shape (built as the course's Llama-style decoder: gated MLP, RoPE).
DRAFT_MODELS = ("Llama-3.2-1B", "OPT-1.3B")
#: Synthetic acceptance rates (per draft token, independent) and the largest gamma considered.
ALPHAS = (0.6, 0.8, 0.9)
MAX_GAMMA = 16


def default_draft() -> str:
    known = set(models.names())
    return next(name for name in DRAFT_MODELS if name in known)


def default_grid(kind: str) -> tuple[list[int], list[int]]:
    """(batches, tokens per sequence) timed by default on a device of `kind`."""
    return (GPU_BATCHES, GPU_TOKENS) if kind == "cuda" else (CPU_BATCHES, CPU_TOKENS)


def modes_for(kind: str) -> list[str]:
    """graph and compile on CUDA, eager elsewhere (snippets.bench.steps)."""
    from snippets.bench.steps import modes_for as default

    return default(kind, ("graph", "compile"))


# ---- what a verify pass costs ---------------------------------------------------------------


def verify_cost(m: models.ModelConfig, batch: int, context: int, tokens: int, weight_dtype: str = "fp16",
                kv_dtype: str = "fp16") -> roofline.StepCost:
    """One target pass scoring `tokens` new tokens of each of `batch` sequences after `context`
    cached ones, with logits for every position: chapter 5's speculative.verify_step, the one
    definition the page, the bench and the lab share."""
    return speculative.verify_step(m, batch, context, tokens, weight_dtype, kv_dtype)


def shape(model_name: str, layers: int) -> models.ModelConfig:
    """`model_name`'s shape cut to the `layers` layers the bench built."""
    return replace(models.get(model_name), n_layers=layers)


# ---- combining T(k), the draft's step and a synthetic alpha ---------------------------------


def interpolate(times_by_tokens: dict[int, float], tokens: int) -> float:
    """T(tokens) from measured {k: seconds}: exact at a measured k, linear between two."""
    ks = sorted(times_by_tokens)
    if not ks[0] <= tokens <= ks[-1]:
        raise ValueError(f"{tokens} tokens lies outside the measured {ks[0]}..{ks[-1]}")
    if tokens in times_by_tokens:
        return times_by_tokens[tokens]
    high = next(k for k in ks if k > tokens)
    low = max(k for k in ks if k < tokens)
    share = (tokens - low) / (high - low)
    return times_by_tokens[low] + share * (times_by_tokens[high] - times_by_tokens[low])


def tokens_per_s(alpha: float, gamma: int, batch: int, draft_s: float, verify_s: float) -> float:
    """Tokens per second of `batch` sequences speculating: each step yields E(alpha, gamma)
    tokens per sequence in gamma draft steps of `draft_s` and one verify of `verify_s`."""
    return batch * speculative.expected_tokens(alpha, gamma) / (gamma * draft_s + verify_s)


def curve(times_by_tokens: dict[int, float], draft_s: float, batch: int, alpha: float,
          max_gamma: int = MAX_GAMMA) -> list[tuple[int, float]]:
    """(gamma, tokens/s) for gamma = 1.. min(max_gamma, largest measured k - 1)."""
    top = min(max_gamma, max(times_by_tokens) - 1)
    return [(g, tokens_per_s(alpha, g, batch, draft_s, interpolate(times_by_tokens, g + 1)))
            for g in range(1, top + 1)]


def summarize(verify_rows: list[dict], draft_rows: list[dict], alphas=ALPHAS,
              max_gamma: int = MAX_GAMMA) -> list[dict]:
    """Best gamma per (mode, batch, alpha), from rows as dicts (a results file's), for every
    (mode, batch) with a draft row and verify rows at k = 1 and k >= 2."""
    out = []
    for d in sorted(draft_rows, key=lambda r: (r["mode"], r["batch"])):
        times = {r["tokens"]: r["median_s"] for r in verify_rows if (r["mode"], r["batch"]) == (d["mode"], d["batch"])}
        if 1 not in times or max(times) < 2:
            continue
        plain = d["batch"] / times[1]
        for alpha in alphas:
            gamma, rate = max(curve(times, d["median_s"], d["batch"], alpha, max_gamma), key=lambda p: (p[1], -p[0]))
            out.append({"mode": d["mode"], "batch": d["batch"], "alpha": alpha, "gamma": gamma,
                        "expected_tokens": speculative.expected_tokens(alpha, gamma), "tokens_per_s": rate,
                        "plain_tokens_per_s": plain, "speedup": rate / plain, "draft_cost": d["median_s"] / times[1]})
    return out


# ---- measuring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    model: str
    layers: int  # layers built (truncated on CPUs)
    dtype: str
    mode: str  # "eager", "graph" or "compile"
    batch: int
    context: int  # tokens cached per sequence before the pass
    tokens: int  # k: new tokens per sequence scored (logits for all k)
    median_s: float
    best_s: float
    weight_bytes: float  # verify_cost for the shape built
    cache_bytes: float  # cache read + k new K/V written, every sequence
    activation_bytes: float
    flops: float  # matmuls (LM head for all k) + causal attention
    predicted_s: float | None  # datasheet roofline bound (whole model on a known device only)
    flags: tuple[str, ...] = ()
    repeat_medians_s: tuple[float, ...] = ()

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DraftResult:
    model: str
    layers: int
    dtype: str
    mode: str
    batch: int
    context: int  # the same as the verify rows': the draft decodes at position `context`
    median_s: float
    best_s: float
    weight_bytes: float  # the built draft's parameters less its embedding table, plus `batch` rows
    draft_cost: float | None  # c: median / the target's k = 1 verify median (same mode, batch)
    flags: tuple[str, ...] = ()
    repeat_medians_s: tuple[float, ...] = ()

    def as_dict(self) -> dict:
        return asdict(self)


def _random_cache(cfg, batch: int, length: int, dtype, device):
    from snippets.transformer import KVCache

    cache = KVCache(cfg, batch, length, dtype, device)
    for t in cache.k + cache.v:
        t.normal_()
    return cache


def _verify_point(info: DeviceInfo, model: Decoder, model_name: str, dtype: str, context: int, batch: int, k: int):
    """One (batch, k) of the verify sweep: fit check, inputs, the pass (logits for all k), row."""
    import torch

    from snippets.bench.memory import fits, free_bytes
    from snippets.bench.sweep import SweepPoint

    cfg, device = model.cfg, info.torch_device
    torch_dtype = model.lm_head.weight.dtype
    per_token = kv_cache.mha_elements_per_token(cfg.n_layers, cfg.n_kv_heads, cfg.head_dim) * model.lm_head.weight.element_size()
    need = per_token * batch * (context + k)
    named, cost = models.get(model_name), verify_cost(shape(model_name, cfg.n_layers), batch, context, k, dtype, dtype)
    predicted = None
    if info.spec and cfg.n_layers == named.n_layers:
        predicted = verify_cost(named, batch, context, k, dtype, dtype).time_s(info.spec, "bf16" if dtype != "fp32" else "fp32")

    def too_big() -> str | None:
        free = free_bytes(info.kind)
        return None if fits(need, free) else f"its cache ({need / 1e9:.1f} GB) does not fit in {free / 1e9:.1f} GB free"

    def setup():
        cache = _random_cache(cfg, batch, context + k, torch_dtype, device)
        gen = torch.Generator(device="cpu").manual_seed(batch * 10_007 + k)
        new = torch.randint(0, cfg.vocab_size, (batch, k), generator=gen).to(device)
        pos = torch.arange(context, context + k, device=device)
        return lambda compiled: model(new, pos, cache, tail=True, compiled=compiled)

    def row(mode: str, timing) -> VerifyResult:
        return VerifyResult(model_name, cfg.n_layers, dtype, mode, batch, context, k, timing.median_s, timing.best_s,
                            cost.weight_bytes, cost.kv_bytes, cost.activation_bytes, cost.flops, predicted,
                            tuple(timing.flags()), timing.repeat_medians_s)

    return SweepPoint(f"batch {batch}, k = {k} tokens after {context:,}", setup, row, too_big)


def with_token_flags(rows: list, first: int = 0) -> None:
    """Flag, in place from `first`, a k that ran faster than a smaller k (same mode and batch)."""
    from snippets.bench.timing import slower_at_smaller_batch

    for mode, batch in {(r.mode, r.batch) for r in rows[first:]}:
        mine = [i for i in range(first, len(rows)) if (rows[i].mode, rows[i].batch) == (mode, batch)]
        flags = slower_at_smaller_batch({rows[i].tokens: rows[i].median_s for i in mine})
        for i in mine:
            if rows[i].tokens in flags:
                rows[i] = replace(rows[i], flags=(*rows[i].flags, flags[rows[i].tokens].replace("batch", "k =")))


def measure(info: DeviceInfo, model: Decoder, model_name: str, dtype: str, context: int, batches, tokens,
            modes=None, reps: int = 20, progress=None, rows: list | None = None, notes: list | None = None,
            settle_rounds: int = 10, repeats: int = 3) -> tuple[list[VerifyResult], list[str]]:
    """Time one verify pass per (batch, k, mode), appending rows and notes as they come."""
    import torch

    from snippets.bench.steps import validate_modes
    from snippets.bench.sweep import Reps, sweep

    rows = [] if rows is None else rows
    notes = [] if notes is None else notes
    modes = validate_modes(modes or modes_for(info.kind), info.kind, MODES, "verify")
    if context + max(tokens) > model.cfg.max_seq_len:
        raise ValueError(f"context {context} + {max(tokens)} tokens is beyond the decoder's "
                         f"{model.cfg.max_seq_len} positions")
    first = len(rows)
    with torch.inference_mode():
        points = [_verify_point(info, model, model_name, dtype, context, b, k) for b in batches for k in tokens]
        sweep("verify", points, modes, info.kind, rows, notes, progress, Reps(repeats, reps, 2, settle_rounds),
              title=f"verify: {model_name} ({model.cfg.n_layers} layers, {dtype})")
    with_token_flags(rows, first)
    return rows, notes


def draft_layers(draft_name: str, target_name: str, target_layers: int) -> int | None:
    """Layers of the draft to build: all (None) when the target is whole, else the same
    fraction of its depth as the target's, at least one."""
    target, draft = models.get(target_name), models.get(draft_name)
    if target_layers >= target.n_layers:
        return None
    return max(1, round(draft.n_layers * target_layers / target.n_layers))


def _draft_point(info: DeviceInfo, model, draft_name: str, dtype: str, context: int, batch: int, plain: dict):
    """One batch of the draft's sweep: a decode step at position `context`; c against `plain`,
    the target's k = 1 times by (mode, batch)."""
    import torch

    from snippets.bench import decode
    from snippets.bench.sweep import SweepPoint

    cfg = model.cfg

    def setup():
        cache = _random_cache(cfg, batch, context + 1, model.lm_head.weight.dtype, info.torch_device)
        gen = torch.Generator(device="cpu").manual_seed(batch)
        new = torch.randint(0, cfg.vocab_size, (batch, 1), generator=gen).to(info.torch_device)
        pos = torch.tensor([context], device=info.torch_device)
        return lambda compiled: model(new, pos, cache, tail=True, compiled=compiled)

    def row(mode: str, timing) -> DraftResult:
        target = plain.get((mode, batch))
        return DraftResult(draft_name, cfg.n_layers, dtype, mode, batch, context, timing.median_s, timing.best_s,
                           float(decode.step_weight_bytes(model, batch)), timing.median_s / target if target else None,
                           tuple(timing.flags()), timing.repeat_medians_s)

    return SweepPoint(f"batch {batch}, one token after {context:,}", setup, row)


def measure_draft(info: DeviceInfo, draft_name: str, dtype: str, context: int, batches, layers: int | None,
                  verify_rows: list[VerifyResult], modes=None, reps: int = 20, progress=None,
                  rows: list | None = None, notes: list | None = None,
                  settle_rounds: int = 10, repeats: int = 3) -> tuple[list[DraftResult], list[str]]:
    """Build the draft decoder and time its decode step (one token at position `context`) per
    (batch, mode); c against the target's k = 1 verify row of the same batch and mode."""
    import torch

    from snippets.bench import decode
    from snippets.bench.memory import is_out_of_memory
    from snippets.bench.sweep import Reps, sweep

    rows = [] if rows is None else rows
    notes = [] if notes is None else notes
    try:
        model, cfg, built = decode.build_fitting(info, draft_name, dtype, context + 1, layers)
    except (MemoryError, RuntimeError) as error:  # refused by the fit check, or out of memory anyway
        if not is_out_of_memory(error):
            raise
        notes.append(f"skipped the draft: {error}")
        return rows, notes
    notes += built
    plain = {(r.mode, r.batch): r.median_s for r in verify_rows if r.tokens == 1}

    with torch.inference_mode():
        points = [_draft_point(info, model, draft_name, dtype, context, b, plain) for b in batches]
        sweep("draft", points, list(modes or modes_for(info.kind)), info.kind, rows, notes,
              progress, Reps(repeats, reps, 2, settle_rounds), title=f"verify: draft {draft_name} ({cfg.n_layers} "
              f"layers, {dtype})")
    return rows, notes  # the draft's weights go when this returns


def speculative_section(draft_rows: list, verify_rows: list, alphas=ALPHAS, max_gamma: int = MAX_GAMMA) -> dict | None:
    """The results file's "speculative" summary: the draft's step times and the best gamma per
    synthetic alpha (None when there is no draft row)."""
    drafts = [r if isinstance(r, dict) else r.as_dict() for r in draft_rows]
    verifies = [r if isinstance(r, dict) else r.as_dict() for r in verify_rows]
    if not drafts:
        return None
    return {"draft_model": drafts[0]["model"], "draft_layers": drafts[0]["layers"], "alphas": list(alphas),
            "acceptance": "synthetic: independent Bernoulli(alpha) per draft token (random weights)",
            "max_gamma": max_gamma, "drafts": [{**d, "flags": list(d["flags"]), "repeat_medians_s": list(d.get("repeat_medians_s", ()))} for d in drafts],
            "best": summarize(verifies, drafts, alphas, max_gamma)}
