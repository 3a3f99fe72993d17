"""Serving many users: request metrics, a seeded workload, and a step-synchronous simulator of
a server's scheduler (static or continuous batching, chunked prefill, prefix caching, reserved
or paged KV cache).

Units: seconds, tokens, requests per second. A request's times are absolute (the simulation
clock starts at 0); its metrics are differences of them.

The simulator advances one model step at a time. Each step decodes one token for every
running sequence past its prefill and processes some prompt tokens; its duration comes from a
step-time function (`StepTime`), the roofline bound of `roofline.mixed_step` by default
(`RooflineStepTime`), so a measured model of step time can be plugged in instead.
"""

from __future__ import annotations

import bisect
import gc
import heapq
import math
import operator
import random
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Callable, Iterable, Iterator, Sequence

from snippets import hardware, kv_cache, models, roofline
from snippets.hardware import Accelerator
from snippets.models import ModelConfig
from snippets.units import (
    bytes_per_element,
    require_int,
    require_non_negative,
    require_number,
    require_positive,
    require_positive_int,
)

# ---- requests and their metrics ------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request: when it arrives, its prompt, and how many tokens it will generate (the
    server does not know that number in advance; the simulator uses it to end the request).
    `shared_prefix_tokens` leading prompt tokens are the same in every request that has them
    (a system prompt), which a prefix cache computes once."""

    id: int
    arrival_s: float
    prompt_tokens: int
    output_tokens: int
    shared_prefix_tokens: int = 0

    def __post_init__(self) -> None:
        require_non_negative("arrival_s", self.arrival_s)
        require_positive_int("prompt_tokens", self.prompt_tokens)
        require_positive_int("output_tokens", self.output_tokens)
        require_int("shared_prefix_tokens", self.shared_prefix_tokens, 0)
        if self.shared_prefix_tokens > self.prompt_tokens:
            raise ValueError(f"request {self.id}: shared_prefix_tokens {self.shared_prefix_tokens} exceeds "
                             f"its prompt of {self.prompt_tokens} tokens")


@dataclass(frozen=True)
class Served:
    """A finished request: the time each of its output tokens appeared (the first ends its
    prefill), and the batch slot it held."""

    request: Request
    token_times_s: tuple[float, ...]
    slot: int = 0
    first_step: int = 0  # the step that admitted it
    last_step: int = 0  # the step that produced its last token

    def __post_init__(self) -> None:
        if len(self.token_times_s) != self.request.output_tokens:
            raise ValueError(f"request {self.request.id}: {len(self.token_times_s)} token times for "
                             f"{self.request.output_tokens} output tokens")
        if list(self.token_times_s) != sorted(self.token_times_s) or self.token_times_s[0] < self.request.arrival_s:
            raise ValueError(f"request {self.request.id}: token times must not decrease or precede its arrival")

    @property
    def ttft_s(self) -> float:
        """Time to first token: queueing plus prefill."""
        return self.token_times_s[0] - self.request.arrival_s

    @property
    def e2e_s(self) -> float:
        """End-to-end latency: arrival to last token."""
        return self.token_times_s[-1] - self.request.arrival_s

    @property
    def itl_s(self) -> tuple[float, ...]:
        """Inter-token latencies: the gaps between consecutive output tokens."""
        t = self.token_times_s
        return tuple(map(operator.sub, t[1:], t))  # t[i + 1] - t[i]

    @property
    def tpot_s(self) -> float:
        """Time per output token after the first: (last - first) / (tokens - 1), the mean of
        this request's inter-token latencies; 0 for a one-token answer."""
        n = len(self.token_times_s)
        return (self.token_times_s[-1] - self.token_times_s[0]) / (n - 1) if n > 1 else 0.0


def mean_itl_token_weighted_s(served: Iterable[Served]) -> float:
    """Every gap of every request counted once: a long answer weighs as much as its tokens."""
    total_s, gaps = 0.0, 0
    for s in served:
        t = s.token_times_s
        total_s = sum(map(operator.sub, t[1:], t), total_s)  # its gaps, added on as one long sum of all would
        gaps += len(t) - 1
    if not gaps:
        raise ValueError("no request produced two tokens: no inter-token latency to average")
    return total_s / gaps


def mean_itl_request_weighted_s(served: Iterable[Served]) -> float:
    """Each request's mean gap (its TPOT) counted once: every request weighs the same."""
    tpots = [s.tpot_s for s in served if len(s.token_times_s) > 1]
    if not tpots:
        raise ValueError("no request produced two tokens: no inter-token latency to average")
    return sum(tpots) / len(tpots)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) of `values`, interpolating linearly between ranks
    (numpy's default method)."""
    p = require_number("p", p)
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {p!r}")
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class SLO:
    """Latency targets a request must meet to count: time to first token and time per
    output token, each at most its target."""

    ttft_s: float
    tpot_s: float

    def __post_init__(self) -> None:
        require_positive("ttft_s", self.ttft_s)
        require_positive("tpot_s", self.tpot_s)

    def met(self, s: Served) -> bool:
        return s.ttft_s <= self.ttft_s and s.tpot_s <= self.tpot_s


def slo_attainment(served: Sequence[Served], slo: SLO) -> float:
    """Fraction of requests that meet both targets."""
    if not served:
        raise ValueError("SLO attainment of no requests")
    return sum(slo.met(s) for s in served) / len(served)


def goodput_rps(served: Sequence[Served], slo: SLO) -> float:
    """Requests per second that meet both targets, over the run (first arrival to last token)."""
    if not served:
        raise ValueError("goodput of no requests")
    start = min(s.request.arrival_s for s in served)
    end = max(s.token_times_s[-1] for s in served)
    return sum(slo.met(s) for s in served) / (end - start)


def highest_rate_meeting(rates_per_s: Sequence[float], attainments: Sequence[float], percentile_target: float) -> float:
    """The highest arrival rate at which at least `percentile_target` % of requests meet the
    SLO, scanning the rates in increasing order and stopping at the first that fails: the
    goodput of a server at that percentile. 0 if the lowest rate already fails."""
    require_positive("percentile_target", percentile_target)
    if len(rates_per_s) != len(attainments):
        raise ValueError("one attainment per rate")
    best = 0.0
    for rate, attained in sorted(zip(rates_per_s, attainments)):
        if attained * 100 < percentile_target:
            break
        best = rate
    return best


def bisect_rate(attainment_at: Callable[[float], float], passing_rate: float, failing_rate: float,
                percentile_target: float, steps: int) -> float:
    """Refine a max sustainable rate between a rate that meets `percentile_target` % and a higher
    one that does not: `steps` halvings, each one run at the midpoint; the highest passing rate
    found, within (failing_rate - passing_rate) / 2**steps of the true crossing if attainment
    falls with the rate."""
    require_positive("percentile_target", percentile_target)
    require_int("steps", steps, 0)
    if not passing_rate < failing_rate:
        raise ValueError(f"passing_rate {passing_rate!r} must be below failing_rate {failing_rate!r}")
    low, high = passing_rate, failing_rate
    for _ in range(steps):
        mid = (low + high) / 2
        if attainment_at(mid) * 100 >= percentile_target:
            low = mid
        else:
            high = mid
    return low


def littles_law_in_flight(arrival_rate_per_s: float, mean_latency_s: float) -> float:
    """Little's law: requests in the system on average = arrival rate x mean time in it."""
    return require_positive("arrival_rate_per_s", arrival_rate_per_s) * require_non_negative(
        "mean_latency_s", mean_latency_s)


def request_flops(m: ModelConfig, prompt_tokens: int, output_tokens: int, weight_dtype: str = "bf16",
                  kv_dtype: str = "bf16") -> float:
    """FLOPs of one request: its prefill (roofline.prefill) and a decode step for every output
    token after the first, token t attending to prompt + t positions."""
    require_positive_int("prompt_tokens", prompt_tokens)
    require_positive_int("output_tokens", output_tokens)
    return roofline.prefill(m, prompt_tokens, weight_dtype, kv_dtype).flops + sum(
        roofline.decode_step(m, 1, prompt_tokens + t, weight_dtype, kv_dtype).flops for t in range(1, output_tokens))


@lru_cache(maxsize=64)
def _decode_flops_line(m: ModelConfig, weight_dtype: str, kv_dtype: str) -> tuple[float, float]:
    """A one-token decode step's FLOPs at no context, and per position of context."""
    base = roofline.decode_step(m, 1, 0, weight_dtype, kv_dtype).flops
    return base, roofline.decode_step(m, 1, 1, weight_dtype, kv_dtype).flops - base


def request_flops_parts(m: ModelConfig, prompt_tokens: int, output_tokens: int, weight_dtype: str = "bf16",
                        kv_dtype: str = "bf16") -> tuple[float, float]:
    """(prefill, decode) FLOPs of one request in closed form: a decode step's FLOPs are linear in
    its context, so the decode tokens t = 1 .. n-1 attending to prompt + t positions add up to
    (n-1) x FLOPs at no context + per-position FLOPs x sum of contexts. Equals request_flops."""
    require_positive_int("prompt_tokens", prompt_tokens)
    require_positive_int("output_tokens", output_tokens)
    base, per_position = _decode_flops_line(m, weight_dtype, kv_dtype)
    decodes = output_tokens - 1
    contexts = decodes * prompt_tokens + decodes * (decodes + 1) / 2
    return roofline.prefill(m, prompt_tokens, weight_dtype, kv_dtype).flops, decodes * base + per_position * contexts


def workload_ceiling(workload: Workload, model: str, accelerator: str, dtype: str = "bf16") -> tuple[float, float]:
    """(requests/s the accelerator's dense peak allows on the workload's requests, prefill's share of
    their FLOPs): the compute ceiling of a whole workload, whatever the scheduler."""
    m, gpu = models.get(model), hardware.get(accelerator)
    flops = [request_flops_parts(m, r.prompt_tokens, r.output_tokens, dtype, dtype) for r in workload.requests()]
    prefill, decode = sum(f for f, _ in flops), sum(d for _, d in flops)
    return gpu.peak_flops(dtype) / ((prefill + decode) / len(flops)), prefill / (prefill + decode)


def worst_chunked_step_s(m: ModelConfig, accelerator: Accelerator, batch: int, context: int, prompt: int,
                         chunks: tuple[int, ...], dtype: str = "bf16") -> dict[int, float]:
    """chunk -> the longest of the decode steps that carry a `prompt`-token prefill in chunks of that
    many tokens beside `batch` sequences at `context` (each chunk attends to the chunks before it):
    the longest gap a decoding user sees while the prompt is prefilled."""
    return {chunk: max(roofline.mixed_step(m, batch, context, ((start, min(chunk, prompt - start)),), dtype,
                                           dtype).time_s(accelerator) for start in range(0, prompt, chunk))
            for chunk in chunks}


def compute_ceiling_rps(m: ModelConfig, accelerator: Accelerator, prompt_tokens: int, output_tokens: int,
                        dtype: str = "bf16") -> float:
    """The most requests a second the accelerator's dense peak in `dtype` can serve, whatever the
    scheduler: peak FLOP/s over one request's FLOPs. A sustained rate above it is impossible."""
    return accelerator.peak_flops(dtype) / request_flops(m, prompt_tokens, output_tokens, dtype, dtype)


def reading_speed_tpot_s(words_per_minute: float, tokens_per_word: float) -> float:
    """The time per output token that streams text as fast as a person reads it."""
    require_positive("words_per_minute", words_per_minute)
    require_positive("tokens_per_word", tokens_per_word)
    return 60 / (words_per_minute * tokens_per_word)


def time_average_in_system(steps: tuple[Step, ...] | list[Step], start_s: float, end_s: float) -> float:
    """Requests in the system averaged over [start_s, end_s) from a step log: each step counts its
    in_system for the part of it inside the window; idle gaps between steps count zero."""
    if not end_s > start_s:
        raise ValueError(f"the window must have a positive length, got [{start_s}, {end_s})")
    total = 0.0
    for step in steps:
        overlap = min(step.start_s + step.duration_s, end_s) - max(step.start_s, start_s)
        if overlap > 0:
            total += step.in_system * overlap
    return total / (end_s - start_s)


# ---- workloads -------------------------------------------------------------------------------


def poisson_arrivals_s(rate_per_s: float, n: int, seed: int) -> tuple[float, ...]:
    """`n` arrival times of a Poisson process: exponential gaps of mean 1 / rate, seeded."""
    require_positive("rate_per_s", rate_per_s)
    require_positive_int("n", n)
    rng = random.Random(seed)
    t, times = 0.0, []
    for _ in range(n):
        t += rng.expovariate(rate_per_s)
        times.append(t)
    return tuple(times)


@dataclass(frozen=True)
class Workload:
    """A seeded synthetic workload: Poisson arrivals; prompt lengths uniform in
    [prompt_min, prompt_max]; output lengths exponential with mean `output_mean`, rounded up
    and capped at `output_max` (most answers short, a few long)."""

    n_requests: int
    rate_per_s: float
    seed: int
    prompt_min: int = 256
    prompt_max: int = 2048
    output_mean: int = 256
    output_max: int = 2048
    shared_prefix_tokens: int = 0

    def __post_init__(self) -> None:
        require_positive_int("n_requests", self.n_requests)
        require_positive("rate_per_s", self.rate_per_s)
        for name in ("prompt_min", "prompt_max", "output_mean", "output_max"):
            require_positive_int(name, getattr(self, name))
        if self.prompt_min > self.prompt_max:
            raise ValueError(f"prompt_min {self.prompt_min} exceeds prompt_max {self.prompt_max}")
        if self.shared_prefix_tokens > self.prompt_min:
            raise ValueError("shared_prefix_tokens must fit in the shortest prompt")

    def requests(self) -> tuple[Request, ...]:
        arrivals = poisson_arrivals_s(self.rate_per_s, self.n_requests, self.seed)
        rng = random.Random(self.seed + 1)  # lengths independent of the arrival stream
        return tuple(
            Request(i, t, rng.randint(self.prompt_min, self.prompt_max),
                    min(self.output_max, max(1, math.ceil(rng.expovariate(1 / self.output_mean)))),
                    self.shared_prefix_tokens)
            for i, t in enumerate(arrivals))


# ---- step time -------------------------------------------------------------------------------

#: (decode batch, context per decoding sequence, prefill chunks as (prefix, tokens)) -> seconds
StepTime = Callable[[int, int, tuple[tuple[int, int], ...]], float]


@dataclass
class RooflineStepTime:
    """The roofline bound on a step's time (roofline.mixed_step), remembered per step shape
    for this instance. The decode batch is costed at its mean context, rounded up to a whole
    16-token block: exact but for that rounding for full-attention models, whose cache reads
    and attention grow linearly with each sequence's context.

    A simulation asks for hundreds of thousands of step shapes, most of them a new combination
    of pieces it has seen: a decode batch and prefill chunks. So the pieces mixed_step adds up
    are remembered one by one (the decode batch's and each chunk's attention FLOPs and cache
    bytes, the weight bytes of so many tokens) and added up as mixed_step adds them, in the same
    order: the same seconds to the last bit (tests/test_serving.py checks)."""

    model: ModelConfig
    accelerator: Accelerator
    weight_dtype: str = "bf16"
    kv_dtype: str = "bf16"
    compute_dtype: str = "bf16"
    round_context_tokens: int = 16  # contexts rounded up to this many tokens (a KV block)
    _seen: dict = field(default_factory=dict, repr=False, compare=False)  # (batch, context, chunks) -> seconds
    _decodes: dict = field(default_factory=dict, repr=False, compare=False)  # (batch, context) -> (FLOPs, bytes)
    _chunks: dict = field(default_factory=dict, repr=False, compare=False)  # (prefix, tokens) -> (FLOPs, bytes)
    _prompt_pieces: dict = field(default_factory=dict, repr=False, compare=False)  # (tokens, chunks) -> (FLOPs, bytes)
    _weights: dict = field(default_factory=dict, repr=False, compare=False)  # tokens -> weight bytes
    _weights_per_token: int = field(init=False, repr=False, compare=False)  # matmul weights (2 FLOPs each)
    _peak_flops: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._weights_per_token = models.matmul_weights_per_token(self.model)
        self._peak_flops = self.accelerator.peak_flops(self.compute_dtype)

    def __call__(self, batch: int, context: int, chunks: tuple[tuple[int, int], ...] = ()) -> float:
        context = -(-context // self.round_context_tokens) * self.round_context_tokens
        seconds = self._seen.get((batch, context, chunks))
        if seconds is None:
            seconds = self._seen[batch, context, chunks] = self._time_s(batch, context, chunks)
        return seconds

    def _time_s(self, batch: int, context: int, chunks: tuple[tuple[int, int], ...]) -> float:
        """roofline.mixed_step(...).time_s(...) from remembered pieces, added up as it adds them."""
        batch = require_int("batch", batch, 0)
        chunk_total, chunk_flops, chunk_bytes = 0, 0, 0  # sum()s, as mixed_step's
        for prefix, tokens in chunks:
            chunk_total += tokens
            flops, kv_bytes = self._chunk(prefix, tokens)  # (checks the sizes when it first sees them)
            chunk_flops += flops
            chunk_bytes += kv_bytes
        if batch + chunk_total == 0:
            raise ValueError("a step needs a decode batch >= 1 or at least one prefill chunk")
        decode_flops, decode_bytes = self._decode(batch, context) if batch else (0.0, 0.0)
        prompt_flops, activation_bytes = self._prompts(chunk_total, len(chunks))
        flops = (2.0 * batch * self._weights_per_token + prompt_flops) + (decode_flops + chunk_flops)
        bytes_moved = self._weight_bytes(batch + chunk_total) + (decode_bytes + chunk_bytes) + activation_bytes
        return max(flops / self._peak_flops, bytes_moved / self.accelerator.bandwidth_Bps)  # time_lower_bound_s

    def _decode(self, batch: int, context: int) -> tuple[float, float]:
        """Attention FLOPs and cache bytes of the decode batch (roofline.decode_step)."""
        piece = self._decodes.get((batch, context))
        if piece is None:
            step = roofline.decode_step(self.model, batch, context, self.weight_dtype, self.kv_dtype)
            piece = self._decodes[batch, context] = step.attention_flops, step.kv_bytes
        return piece

    def _chunk(self, prefix: int, tokens: int) -> tuple[float, float]:
        """Attention FLOPs and cache bytes of one prefill chunk."""
        piece = self._chunks.get((prefix, tokens))
        if piece is None:
            piece = self._chunks[prefix, tokens] = (kv_cache.chunk_attention_flops(self.model, prefix, tokens),
                                                    kv_cache.chunk_kv_bytes(self.model, prefix, tokens, self.kv_dtype))
        return piece

    def _prompts(self, tokens: int, chunks: int) -> tuple[float, float]:
        """Matmul FLOPs and activation bytes of `tokens` prompt tokens in `chunks` chunks."""
        piece = self._prompt_pieces.get((tokens, chunks))
        if piece is None:
            activations = roofline.prompt_activation_elements(self.model, tokens, chunks) if chunks else 0.0
            piece = self._prompt_pieces[tokens, chunks] = (roofline.prompt_matmul_flops(self.model, tokens, chunks),
                                                           activations * bytes_per_element(self.weight_dtype))
        return piece

    def _weight_bytes(self, tokens: int) -> float:
        """Weight bytes a step over `tokens` tokens reads (models.step_weight_bytes)."""
        weight_bytes = self._weights.get(tokens)
        if weight_bytes is None:
            weight_bytes = self._weights[tokens] = models.step_weight_bytes(self.model, self.weight_dtype, tokens)
        return weight_bytes


# ---- the scheduler ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """How the server schedules.

    batching: "static" admits a new batch only when the last one has finished; "continuous"
    admits into any free slot before every step. chunk_tokens: prompt tokens mixed into one
    step (None: whole prompts). prefix_cache: a shared prefix computed once is reused. kv:
    "reserved" sets aside `reserve_tokens` of cache per request at admission; "paged" holds
    blocks of `block_tokens` as a sequence grows, and preempts the newest sequence (to
    recompute it later) when a block cannot be had."""

    name: str
    batching: str = "continuous"
    chunk_tokens: int | None = None
    prefix_cache: bool = False
    kv: str = "paged"
    max_batch: int = 256
    block_tokens: int = 16
    reserve_tokens: int = 8192
    reserve_output_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.batching not in ("static", "continuous"):
            raise ValueError(f"batching must be 'static' or 'continuous', got {self.batching!r}")
        if self.kv not in ("reserved", "paged"):
            raise ValueError(f"kv must be 'reserved' or 'paged', got {self.kv!r}")
        for name in ("max_batch", "block_tokens", "reserve_tokens"):
            require_positive_int(name, getattr(self, name))
        if self.reserve_output_tokens is not None:
            require_positive_int("reserve_output_tokens", self.reserve_output_tokens)
        if self.chunk_tokens is not None:
            require_positive_int("chunk_tokens", self.chunk_tokens)
            if self.chunk_tokens < self.max_batch:
                raise ValueError(f"chunk_tokens {self.chunk_tokens} (the step's budget, decodes included) must be "
                                 f"at least max_batch {self.max_batch}")

    def held_tokens(self, cached_tokens: int, prompt_tokens: int = 0) -> int:
        """Cache a sequence holding `cached_tokens` (of a `prompt_tokens` prompt) occupies: its
        reservation, or whole blocks."""
        if self.kv == "reserved":
            if self.reserve_output_tokens is not None:
                return prompt_tokens + self.reserve_output_tokens
            return self.reserve_tokens
        return -(-cached_tokens // self.block_tokens) * self.block_tokens


@dataclass(slots=True)  # not frozen: chapter 3 logs a million steps, and a frozen __init__ costs 4x as much
class Step:
    """What one step did: when, how long, and what the cache held after it (in tokens)."""

    start_s: float
    duration_s: float
    decode_batch: int
    prefill_tokens: int
    in_system: int  # requests arrived and not finished, at the step's start
    slots_busy: int
    cache_used_tokens: int  # tokens actually cached
    cache_held_tokens: int  # tokens set aside (reserved, or whole blocks)


@dataclass(frozen=True)
class Simulation:
    policy: Policy
    capacity_tokens: int
    served: tuple[Served, ...]  # in request order
    steps: tuple[Step, ...]
    preemptions: int
    recomputed_tokens: int = 0  # cached tokens preemption threw away, to be prefilled again

    @property
    def duration_s(self) -> float:
        """First arrival to last token."""
        return max(s.token_times_s[-1] for s in self.served) - min(s.request.arrival_s for s in self.served)

    @property
    def slot_utilisation(self) -> float:
        """Busy slots over all slots, averaged over steps."""
        return sum(s.slots_busy for s in self.steps) / (len(self.steps) * self.policy.max_batch)


@dataclass(eq=False, slots=True)  # two sequences are never the same one, however alike
class _Sequence:
    """A request inside the server.

    While it decodes it gains one token a step, which no step writes down: `cached` and `times`
    stay as they were at `decode_from`, the step its current run of decoding began, and are
    brought up to date from the steps since when it stops (preempted or finished)."""

    request: Request
    slot: int = -1
    first_step: int = 0
    cached: int = 0  # tokens whose K and V are in the cache (decoding: at step decode_from)
    target: int = 0  # tokens to prefill before the next token can be produced
    times: list = field(default_factory=list)  # when each output token appeared (decoding: before decode_from)
    decode_from: int = -1  # the step its current run of decoding began; -1 while it waits or prefills

    @property
    def prefilled(self) -> bool:
        return self.cached >= self.target

    def holding(self, policy: Policy) -> int:
        """Cache this sequence holds once its next token is cached: its reservation, or blocks
        for that many tokens (and for its whole prompt from admission on). Decoding: as of
        decode_from."""
        return policy.held_tokens(max(self.cached + 1, self.target), self.request.prompt_tokens)

    def last_step(self) -> int:
        """The step that produces its last token, decoding one a step from decode_from."""
        return self.decode_from + self.request.output_tokens - len(self.times) - 1


@dataclass(slots=True)
class _Batch:
    """The admitted sequences, oldest first, and the totals a step needs, kept up to date as
    sequences join, decode and leave instead of summed over every sequence at every step.

    Each step, every decoding sequence gains a token: the step adds their number to the tokens
    cached and to the decode context and, paged, a block for each one whose next token starts
    a block. Which ones do is known in advance (one in block_tokens steps each), so decoding
    sequences are counted by that step modulo block_tokens (`_new_block`), and listed by the
    step of their last token (`_last_tokens`)."""

    policy: Policy
    running: dict = field(default_factory=dict)  # slot -> sequence, oldest first
    prefilling: dict = field(default_factory=dict)  # slot -> sequence, the running ones still prefilling
    decoding: int = 0  # running sequences past their prefill: this step decodes one token for each
    decode_context: int = 0  # their cached tokens + 1 each (the new token attends to itself)
    cached: int = 0  # tokens in the cache, all running sequences
    held: int = 0  # cache held once this step's tokens are cached: reservations, or whole blocks
    _free_slots: list = field(default_factory=list)  # a heap: the smallest free slot first
    _new_block: list = field(default_factory=list)  # paged: decoding sequences by (step % block_tokens)
    _last_tokens: dict = field(default_factory=dict)  # step -> decoding sequences that step finishes

    def __post_init__(self) -> None:
        self._free_slots = list(range(self.policy.max_batch))  # sorted: already a heap
        self._new_block = [0] * self.policy.block_tokens

    def admit(self, s: _Sequence, step: int) -> None:
        """`s` joins at `step`, in the smallest free slot."""
        s.slot, s.first_step = heapq.heappop(self._free_slots), step
        self.running[s.slot] = s
        self.cached += s.cached
        self.held += s.holding(self.policy)
        if s.prefilled:  # a cached prefix that is its whole prompt: it decodes at once
            self._start_decoding(s, step)
        else:
            self.prefilling[s.slot] = s

    def remove_newest(self, step: int, ends_s: list[float]) -> _Sequence:
        """Take out the sequence admitted last (to preempt it), brought up to `step`."""
        _, s = self.running.popitem()
        if s.decode_from >= 0:
            self._last_tokens[s.last_step()].remove(s)
        self._leave(s, step, ends_s)
        return s

    def end_step(self, step: int, chunks: list[tuple[_Sequence, int]], ends_s: list[float]) -> list[_Sequence]:
        """The step's tokens are cached and appear at its end, ends_s[step]: one for each decoding
        sequence, and the first of each prompt the step's chunk finished. Returns the sequences
        that produced their last token, taken out."""
        policy = self.policy
        self._decoded(step)
        finished = self._last_tokens.pop(step, [])
        for s, n in chunks:
            s.cached += n
            self.cached += n
            if s.prefilled:  # the last chunk of a prompt yields the first token
                del self.prefilling[s.slot]
                s.times.append(ends_s[step])
                # it held blocks for its prompt, now for the token too (a reservation does not change)
                self.held += s.holding(policy) - policy.held_tokens(s.target, s.request.prompt_tokens)
                if len(s.times) == s.request.output_tokens:
                    finished.append(s)
                else:
                    self._start_decoding(s, step + 1)
        for s in finished:
            del self.running[s.slot]
            self._leave(s, step + 1, ends_s)
        return finished

    def decode_only(self, step_time: StepTime, now: float, steps: list[Step], ends_s: list[float], waiting: int,
                    next_arrival_s: float, capacity_tokens: int) -> float:
        """The steps from `now` on that only decode, up to the first that would change something:
        one an arrival is due at, one with no block left for a token (it preempts), one that
        finishes a sequence. Until then the batch and the queue stay as they are and every step
        decodes the same sequences, each a token longer than in the step before, so those steps
        are costed and logged here without the scheduler's checks. Returns the clock after them."""
        if self.prefilling or not self.decoding:  # prompt tokens to process: not a decode-only step
            return now
        n, busy, step = self.decoding, len(self.running), len(steps)
        while now < next_arrival_s and self.held <= capacity_tokens and step not in self._last_tokens:
            duration = step_time(n, -(-self.decode_context // n), ())
            steps.append(Step(now, duration, n, 0, busy + waiting, busy, self.cached + n, self.held))
            now += duration
            ends_s.append(now)
            self._decoded(step)
            step += 1
        return now

    def _decoded(self, step: int) -> None:
        """Every decoding sequence has a token more in the cache after `step`."""
        self.cached += self.decoding
        self.decode_context += self.decoding
        if self.policy.kv == "paged":  # and those whose next token starts a block hold one more
            self.held += self.policy.block_tokens * self._new_block[(step + 1) % self.policy.block_tokens]

    def _start_decoding(self, s: _Sequence, step: int) -> None:
        s.decode_from = step
        self.decoding += 1
        self.decode_context += s.cached + 1
        if self.policy.kv == "paged":  # its cache reaches a multiple of block_tokens every block_tokens steps
            self._new_block[(step - s.cached) % self.policy.block_tokens] += 1
        self._last_tokens.setdefault(s.last_step(), []).append(s)

    def _leave(self, s: _Sequence, step: int, ends_s: list[float]) -> None:
        """Take `s` out of the totals at `step`, its cache and token times brought up to it."""
        if s.decode_from >= 0:
            decode_cached = s.cached
            s.times += ends_s[s.decode_from:step]  # a token at the end of every step since decode_from
            s.cached += step - s.decode_from
            self.decoding -= 1
            self.decode_context -= s.cached + 1
            if self.policy.kv == "paged":
                self._new_block[(s.decode_from - decode_cached) % self.policy.block_tokens] -= 1
            s.decode_from = -1
        else:
            self.prefilling.pop(s.slot, None)
        self.cached -= s.cached
        self.held -= s.holding(self.policy)
        heapq.heappush(self._free_slots, s.slot)


# --8<-- [start:scheduler]
def simulate(requests: Sequence[Request], policy: Policy, step_time: StepTime, capacity_tokens: int) -> Simulation:
    """Serve `requests` under `policy` on a cache of `capacity_tokens` tokens, one step at a time."""
    _check_fits(requests, policy, capacity_tokens)
    arriving = deque(sorted(requests, key=lambda r: (r.arrival_s, r.id)))
    queue: deque[_Sequence] = deque()  # arrived, waiting for a slot
    batch = _Batch(policy)  # admitted, oldest first, and their totals: tokens cached and held, decode context
    done: list[Served] = []
    steps: list[Step] = []
    ends_s: list[float] = []  # when each step ended: decoding sequences' token times
    prefix_cached = False
    preemptions, recomputed, now = 0, 0, 0.0
    while arriving or queue or batch.running:
        while arriving and arriving[0].arrival_s <= now:  # 1. arrivals join the queue
            r = arriving.popleft()
            queue.append(_Sequence(r, target=r.prompt_tokens))
        if not queue and not batch.running:  # idle: jump to the next arrival
            now = arriving[0].arrival_s
            continue
        step = len(steps)
        held = batch.held  # cache held after this step's tokens
        while held > capacity_tokens:  # 2. paged: no block for a token: preempt the newest
            victim = batch.remove_newest(step, ends_s)
            held -= victim.holding(policy)
            recomputed += victim.cached
            victim.cached, victim.target = 0, victim.request.prompt_tokens + len(victim.times)
            queue.appendleft(victim)  # it recomputes its prompt and the tokens it produced
            preemptions += 1
        if policy.batching == "continuous" or not batch.running:  # 3. admit into free slots
            while queue and len(batch.running) < policy.max_batch:
                s = queue[0]
                need = s.holding(policy)  # a reservation, or blocks for its prompt
                if held + need > capacity_tokens:
                    break
                queue.popleft()
                held += need
                if policy.prefix_cache and prefix_cached and s.cached == 0:
                    s.cached = s.request.shared_prefix_tokens  # reuse the shared prefix's K and V
                batch.admit(s, step)
        chunks, shape, prefill = [], [], 0  # 4. a token for each decoding one, and prompt tokens for the
        budget = (policy.chunk_tokens or math.inf) - batch.decoding  # others, oldest first, in what the decodes left
        for s in batch.prefilling.values():
            if budget <= 0:
                break
            take = int(min(s.target - s.cached, budget))
            chunks.append((s, take))
            shape.append((s.cached, take))
            prefill += take
            budget -= take
        duration = step_time(batch.decoding, -(-batch.decode_context // max(batch.decoding, 1)), tuple(shape))
        steps.append(Step(now, duration, batch.decoding, prefill, len(batch.running) + len(queue), len(batch.running),
                          batch.cached + batch.decoding + prefill, held))
        now += duration
        ends_s.append(now)
        finished = batch.end_step(step, chunks, ends_s)  # 5. the step's tokens appear at its end
        for s in finished:  # 6. finished ones leave
            done.append(Served(s.request, tuple(s.times), s.slot, s.first_step, step))
        for s, _ in chunks:  # a prompt prefilled leaves its shared prefix's K and V in the cache
            prefix_cached = prefix_cached or (s.prefilled and s.request.shared_prefix_tokens > 0)
        if not finished:  # 7. no one left: until an arrival, a finish or a full cache the steps only
            # decode, so run that stretch at once
            now = batch.decode_only(step_time, now, steps, ends_s, len(queue),
                                    arriving[0].arrival_s if arriving else math.inf, capacity_tokens)
    done.sort(key=lambda s: s.request.id)
    return Simulation(policy, capacity_tokens, tuple(done), tuple(steps), preemptions, recomputed)
# --8<-- [end:scheduler]


def _check_fits(requests: Sequence[Request], policy: Policy, capacity_tokens: int) -> None:
    require_positive_int("capacity_tokens", capacity_tokens)
    if not requests:
        raise ValueError("no requests to serve")
    longest = max(r.prompt_tokens + r.output_tokens for r in requests)
    if policy.kv == "paged" and policy.held_tokens(longest) > capacity_tokens:
        raise ValueError(f"a request of {longest:,} tokens needs more than the cache's {capacity_tokens:,}")
    if policy.kv == "reserved":
        if policy.reserve_output_tokens is not None:
            if max(r.output_tokens for r in requests) > policy.reserve_output_tokens:
                raise ValueError(f"an answer exceeds the {policy.reserve_output_tokens:,} tokens reserved for it")
            if max(policy.held_tokens(0, r.prompt_tokens) for r in requests) > capacity_tokens:
                raise ValueError(f"a reservation needs more than the cache's {capacity_tokens:,} tokens")
        elif longest > policy.reserve_tokens:
            raise ValueError(f"a request of {longest:,} tokens exceeds the {policy.reserve_tokens:,} reserved per request")
        elif policy.reserve_tokens > capacity_tokens:
            raise ValueError(f"a reservation of {policy.reserve_tokens:,} tokens needs more than the cache's "
                             f"{capacity_tokens:,}")


# ---- runs by name, for a disk cache ---------------------------------------------------------------


def simulate_workload(workload: Workload, policy: Policy, model: str, accelerator: str,
                      dtype: str = "bf16") -> Simulation:
    """simulate() of a workload on the roofline of a named model and accelerator (weights, cache
    and math in `dtype`), with the cache the weights leave free in usable memory: every argument
    a value, so the store (pages/store.py) can key the run on them."""
    m, gpu = models.get(model), hardware.get(accelerator)
    with _collector_paused():
        return simulate(_shared_requests(workload), policy, _shared_step_time(model, accelerator, dtype),
                        kv_cache.max_tokens(m, gpu, dtype, dtype))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused: a run makes a million objects that live until it
    ends (its steps above all) and no reference cycles, and the collector would walk them again
    and again (a third of the run's time). Reference counting still frees them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@lru_cache(maxsize=64)
def _shared_requests(workload: Workload) -> tuple[Request, ...]:
    """A workload's requests, made once for the policies a sweep serves them under (they are frozen)."""
    return workload.requests()


@cache
def _shared_step_time(model: str, accelerator: str, dtype: str) -> RooflineStepTime:
    """One step-time memo per setting, shared by the runs of a process (steps repeat across runs)."""
    return RooflineStepTime(models.get(model), hardware.get(accelerator), dtype, dtype, dtype)


@dataclass(frozen=True)
class RunSummary:
    """What a sweep keeps of one run: attainment (share of requests meeting both targets),
    goodput (requests/s meeting both), misses by target, TTFT and TPOT at the `percentile`-th
    percentile, and the cache's peak."""

    requests: int
    attainment: float
    goodput_rps: float
    ttft_misses: int
    tpot_misses: int
    percentile: float
    ttft_pct_s: float
    tpot_pct_s: float
    peak_running: int
    peak_used_share: float
    preemptions: int
    recomputed_tokens: int
    itl_token_weighted_s: float
    itl_request_weighted_s: float
    drain_token_share: float  # output tokens that appear after the last arrival, of all


def summarize(sim: Simulation, slo: SLO, pct: float = 90) -> RunSummary:
    served = sim.served
    last_arrival = max(s.request.arrival_s for s in served)
    tokens = sum(len(s.token_times_s) for s in served)
    return RunSummary(len(served), slo_attainment(served, slo), goodput_rps(served, slo),
                      sum(s.ttft_s > slo.ttft_s for s in served), sum(s.tpot_s > slo.tpot_s for s in served),
                      pct, percentile([s.ttft_s for s in served], pct), percentile([s.tpot_s for s in served], pct),
                      max(s.slots_busy for s in sim.steps),
                      max(s.cache_used_tokens for s in sim.steps) / sim.capacity_tokens, sim.preemptions,
                      sim.recomputed_tokens, mean_itl_token_weighted_s(served), mean_itl_request_weighted_s(served),
                      sum(_count_after(s.token_times_s, last_arrival) for s in served) / tokens)


def _count_after(times_s: tuple[float, ...], t_s: float) -> int:
    """How many of the ordered `times_s` come after `t_s`."""
    return len(times_s) - bisect.bisect_right(times_s, t_s)


def simulate_summary(workload: Workload, policy: Policy, model: str, accelerator: str, slo: SLO,
                     dtype: str = "bf16", pct: float = 90) -> RunSummary:
    """summarize(simulate_workload(...)): a few numbers instead of every token's time."""
    with _collector_paused():  # until the run's objects are gone again
        return summarize(simulate_workload(workload, policy, model, accelerator, dtype), slo, pct)
