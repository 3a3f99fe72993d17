"""Disaggregated prefill and decode on chapter 3's simulator (snippets.serving): one pool of GPUs
runs only prefills, another only decodes, and each request's KV cache crosses a link between
them.

- The prefill pool serves every request as a one-token answer: its first token ends its prefill.
- The request's cache (its prompt's K and V) then crosses the link: alpha + bytes / bandwidth.
- The decode pool admits it when the cache has arrived. Its prompt is already cached, so its
  "prefill" there costs nothing (`PrefillArrives`); that admission step re-emits the first
  token, which is dropped, and the pool's decode steps produce the others.

The colocated baseline serves the same requests on the same number of GPUs, each GPU a whole
server (prefill and decode mixed under its policy), requests dealt out in turn.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

from snippets import kv_cache
from snippets.models import ModelConfig
from snippets.serving import Policy, Request, Served, Simulation, StepTime, simulate


def kv_transfer_s(m: ModelConfig, prompt_tokens: int, kv_dtype: str, link_GBps: float, alpha_s: float) -> float:
    """Time to move one request's prompt cache over a link of `link_GBps` per direction."""
    return alpha_s + kv_cache.bytes_per_sequence(m, prompt_tokens, kv_dtype) / (link_GBps * 1e9)


@dataclass(frozen=True)
class PrefillArrives:
    """A decode pool's step time: its prompts arrive cached, so prefill chunks cost nothing and a
    step costs its decode batch alone (a step of nothing but arrivals takes no time)."""

    step_time: StepTime

    def __call__(self, batch: int, context: int, chunks: tuple[tuple[int, int], ...] = ()) -> float:
        return self.step_time(batch, context, ()) if batch else 0.0


@dataclass(frozen=True)
class Pool:
    """`gpus` independent servers, each with its own cache; requests dealt out in turn."""

    sims: tuple[Simulation, ...]

    @property
    def served(self) -> tuple[Served, ...]:
        return tuple(sorted((s for sim in self.sims for s in sim.served), key=lambda s: s.request.id))

    @property
    def busy_s(self) -> float:
        """Seconds its GPUs spent in steps, added up (the pool's work)."""
        return sum(step.duration_s for sim in self.sims for step in sim.steps)


def serve_pool(requests: Sequence[Request], policy: Policy, step_time: StepTime, capacity_tokens: int,
               gpus: int) -> Pool:
    """The requests on `gpus` independent servers, dealt out in turn (by id)."""
    ordered = sorted(requests, key=lambda r: r.id)
    return Pool(tuple(simulate(ordered[i::gpus], policy, step_time, capacity_tokens) for i in range(gpus)
                      if ordered[i::gpus]))


@dataclass(frozen=True)
class Disaggregated:
    """Both pools' runs, and every request as its user saw it."""

    prefill: Pool
    decode: Pool
    transfer_s: tuple[float, ...]  # per request, in request order
    served: tuple[Served, ...]  # the first token from the prefill pool, the others from the decode pool


def simulate_disaggregated(requests: Sequence[Request], prefill_policy: Policy, decode_policy: Policy,
                           step_time: StepTime, capacity_tokens: int, prefill_gpus: int, decode_gpus: int,
                           transfer_s) -> Disaggregated:
    """Serve `requests` on a prefill pool and a decode pool; `transfer_s(request)` is the seconds
    its cache takes to cross between them."""
    ordered = sorted(requests, key=lambda r: r.id)
    first = serve_pool([replace(r, output_tokens=1) for r in ordered], prefill_policy, step_time, capacity_tokens,
                       prefill_gpus)
    moved = tuple(transfer_s(r) for r in ordered)
    handed = [replace(r, arrival_s=s.token_times_s[0] + t) for r, s, t in zip(ordered, first.served, moved)]
    second = serve_pool(handed, decode_policy, PrefillArrives(step_time), capacity_tokens, decode_gpus)
    served = tuple(Served(r, (p.token_times_s[0],) + d.token_times_s[1:])
                   for r, p, d in zip(ordered, first.served, second.served))
    return Disaggregated(first, second, moved, served)
