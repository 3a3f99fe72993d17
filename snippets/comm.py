"""Collective communication on the alpha-beta model, and the interconnects it runs over
(data/interconnects.csv, one sourced row per link).

Definitions follow nccl-tests' doc/PERFORMANCE.md, the figures every NCCL user sees:

- algorithm bandwidth, algbw = S / t: the message size over the time, as the caller sees it;
- bus bandwidth, busbw = algbw x a factor per collective, the rate each GPU's link carries in
  the ring algorithm: 2(n - 1)/n for all-reduce (a reduce-scatter then an all-gather, each
  moving (n - 1)/n of the message), (n - 1)/n for all-gather, reduce-scatter and all-to-all.

busbw is what to compare with a link's per-direction bandwidth. It can exceed the line rate
when the switch reduces (NVLS, SHARP): the ring's accounting no longer describes the wire.

The alpha-beta model: a collective of S bytes over n GPUs takes t = alpha + factor(n) x S x beta,
beta the seconds per byte each link carries (1 / busbw). alpha is the latency of one call. A fit
(`AlphaBeta`, what the bench measures) holds it fixed at the rank count it was measured on; the
course's model of a link (`LinkModel`) makes it a function of the rank count and algorithm, as
NCCL's own tuner does (src/graph/tuning.cc): a fixed cost per call plus one step latency per
hop, and a ring all-reduce makes 2(n - 1) hops.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path

import numpy as np

from snippets import formulas
from snippets._data import find_by_name, read_text
from snippets.errors import UnknownName
from snippets.schema import InterconnectRow, parse_rows
from snippets.units import GB, require_positive, require_positive_int

#: Collectives the course times, and the factor from algbw to busbw at n ranks (nccl-tests).
COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all")


def bus_factor(collective: str, ranks: int) -> float:
    """busbw / algbw for `collective` over `ranks` GPUs: 2(n - 1)/n for all-reduce, (n - 1)/n
    for the others (nccl-tests doc/PERFORMANCE.md). One rank moves nothing: 0."""
    require_positive_int("ranks", ranks)
    if collective not in COLLECTIVES:
        raise UnknownName(f"unknown collective {collective!r}; known: {', '.join(COLLECTIVES)}")
    return formulas.bus_factor(collective, ranks)


def algbw_GBps(size_bytes: float, time_s: float) -> float:
    """Algorithm bandwidth: the message size over the time, GB/s."""
    require_positive("size_bytes", size_bytes)
    require_positive("time_s", time_s)
    return size_bytes / time_s / GB


def busbw_GBps(collective: str, ranks: int, size_bytes: float, time_s: float) -> float:
    """Bus bandwidth: algbw x bus_factor, what each link carried, GB/s."""
    return algbw_GBps(size_bytes, time_s) * bus_factor(collective, ranks)


@dataclass(frozen=True)
class AlphaBeta:
    """t = alpha_s + bus_factor(collective, n) x size x beta_s_per_byte."""

    alpha_s: float
    beta_s_per_byte: float

    @property
    def busbw_GBps(self) -> float:
        """The bus bandwidth large messages approach."""
        return 1 / self.beta_s_per_byte / GB

    def time_s(self, collective: str, ranks: int, size_bytes: float) -> float:
        if ranks == 1:
            return 0.0  # nothing to send: frameworks skip the call
        bus_factor(collective, ranks)  # checks the collective and the ranks
        return formulas.collective_time_s(self.alpha_s, self.beta_s_per_byte, collective, ranks, size_bytes)

    def half_bandwidth_bytes(self, collective: str, ranks: int) -> float:
        """The message size at which the latency equals the bandwidth term: below it, alpha
        dominates, and busbw is under half of what large messages reach."""
        return self.alpha_s / (bus_factor(collective, ranks) * self.beta_s_per_byte)


#: Algorithms whose latency the course counts (formulas.latency_steps).
ALGORITHMS = ("ring", "tree")


def latency_steps(collective: str, ranks: int, algorithm: str = "ring", nodes: int = 1) -> tuple[int, int]:
    """(hops inside a node, hops between nodes) one call of `collective` makes over `ranks` GPUs
    spread evenly over `nodes` servers: a ring all-reduce 2(n - 1) in all (formulas.latency_steps)."""
    bus_factor(collective, ranks)  # checks the collective and the ranks
    require_positive_int("nodes", nodes)
    if algorithm not in ALGORITHMS:
        raise UnknownName(f"unknown algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}")
    if algorithm == "tree" and collective != "all_reduce":
        raise ValueError(f"the tree algorithm is an all-reduce's, not {collective}'s")
    if ranks % nodes:
        raise ValueError(f"{ranks} ranks do not spread evenly over {nodes} nodes")
    return formulas.latency_steps(collective, ranks, algorithm, nodes)


@dataclass(frozen=True)
class Latency:
    """A call's latency as NCCL's tuner models it (src/graph/tuning.cc): `base_s` per call, `step_s`
    per hop inside a node, `inter_step_s` per hop between nodes (the ring's figures); the tree's
    own base and hops; and `net_overhead_s`, the least a ring that spans nodes pays per hop inside
    a node. With one GPU per node NCCL counts the tree's network hop for any algorithm."""

    base_s: float
    step_s: float
    inter_step_s: float = 0.0
    tree_base_s: float | None = None
    tree_step_s: float | None = None
    tree_inter_step_s: float | None = None
    net_overhead_s: float = 0.0

    def alpha_s(self, collective: str, ranks: int, algorithm: str = "ring", nodes: int = 1) -> float:
        latency_steps(collective, ranks, algorithm, nodes)  # checks the arguments
        if nodes > 1 and not self.inter_step_s:
            raise ValueError("a call across nodes needs inter_step_s, the network's latency per hop")
        tree, one_per_node = algorithm == "tree", nodes > 1 and ranks == nodes
        if tree and (self.tree_base_s is None or self.tree_step_s is None):
            raise ValueError("the tree needs its own latencies: tree_base_s and tree_step_s")
        if (tree or one_per_node) and nodes > 1 and self.tree_inter_step_s is None:
            raise ValueError("NCCL counts the tree's network hop here: tree_inter_step_s")
        base, step = (self.tree_base_s, self.tree_step_s) if tree else (self.base_s, self.step_s)
        if not tree and nodes > 1:
            step = max(step, self.net_overhead_s)  # tuning.cc: intraLat = max(intraLat, netOverhead)
        inter = self.tree_inter_step_s if tree or one_per_node else self.inter_step_s
        return formulas.collective_latency_s(base, step, collective, ranks, algorithm, nodes, inter or 0.0)


@dataclass(frozen=True)
class LinkModel:
    """The alpha-beta model of a link with alpha a function of the ranks: t(n, S) =
    latency.alpha_s(n) + bus_factor(n) x S x beta, over `nodes` servers with `algorithm`."""

    latency: Latency
    beta_s_per_byte: float
    algorithm: str = "ring"
    nodes: int = 1
    one_gpu_per_node: bool = False  # every rank on its own server: as many nodes as ranks

    @property
    def busbw_GBps(self) -> float:
        return 1 / self.beta_s_per_byte / GB

    def alpha_s(self, collective: str, ranks: int) -> float:
        nodes = ranks if self.one_gpu_per_node else self.nodes
        return self.latency.alpha_s(collective, ranks, self.algorithm, nodes)

    def time_s(self, collective: str, ranks: int, size_bytes: float) -> float:
        if ranks == 1:
            return 0.0
        return formulas.collective_time_s(self.alpha_s(collective, ranks), self.beta_s_per_byte, collective, ranks,
                                          size_bytes)

    def half_bandwidth_bytes(self, collective: str, ranks: int) -> float:
        """The message size at which the latency equals the bandwidth term at `ranks`."""
        return self.alpha_s(collective, ranks) / (bus_factor(collective, ranks) * self.beta_s_per_byte)


def link_model(busbw_GBps: float, alpha_s: float) -> AlphaBeta:
    """The alpha-beta model of a link carrying `busbw_GBps` per direction, with latency `alpha_s`."""
    require_positive("busbw_GBps", busbw_GBps)
    if alpha_s < 0:
        raise ValueError(f"alpha_s must be >= 0, got {alpha_s}")
    return AlphaBeta(alpha_s, 1 / (busbw_GBps * GB))


@dataclass(frozen=True)
class Point:
    """One timed collective: its size in bytes and median time in seconds."""

    size_bytes: float
    time_s: float


def fit_alpha_beta(points: tuple[Point, ...] | list[Point], collective: str, ranks: int) -> AlphaBeta:
    """Least-squares alpha and beta through `points`, weighted so that each point's *relative*
    error counts alike (sizes span six orders of magnitude; unweighted, the largest would
    decide alone). alpha is kept >= 0: a negative fit is refitted through the origin."""
    if len(points) < 2:
        raise ValueError("fitting alpha and beta needs at least two points")
    x = np.array([bus_factor(collective, ranks) * p.size_bytes for p in points], dtype=float)
    t = np.array([p.time_s for p in points], dtype=float)
    w = 1 / t
    design = np.stack([np.ones_like(x), x], axis=1) * w[:, None]
    (alpha, beta), *_ = np.linalg.lstsq(design, t * w, rcond=None)
    if alpha < 0 or beta <= 0:
        alpha = 0.0
        beta = float(np.sum(w * w * x * t) / np.sum(w * w * x * x))
    if beta <= 0:
        raise ValueError("the points do not grow with size: no bandwidth to fit")
    return AlphaBeta(float(alpha), float(beta))


def split_ends(points: tuple[Point, ...] | list[Point], per_end: int) -> tuple[tuple[Point, ...], tuple[Point, ...]]:
    """(the `per_end` smallest and `per_end` largest points, the points between them): the
    ends fix alpha and beta, the middle is predicted and checked."""
    ordered = sorted(points, key=lambda p: p.size_bytes)
    if len(ordered) < 2 * per_end + 1:
        raise ValueError(f"need more than {2 * per_end} points to keep some apart, got {len(ordered)}")
    return tuple(ordered[:per_end] + ordered[-per_end:]), tuple(ordered[per_end:-per_end])


def residual(model: AlphaBeta, point: Point, collective: str, ranks: int) -> float:
    """(predicted - measured) / measured."""
    return model.time_s(collective, ranks, point.size_bytes) / point.time_s - 1


# ---- interconnects (data/interconnects.csv) --------------------------------------------------


@dataclass(frozen=True)
class Interconnect:
    name: str
    kind: str
    per_direction_GBps: float
    bidirectional_GBps: float
    gpus_in_domain: int | None
    effective_busbw_GBps: float | None
    in_network_reduction: str
    base_latency_us: float | None
    step_latency_us: float | None
    tree_base_latency_us: float | None
    tree_step_latency_us: float | None
    net_overhead_us: float | None
    source: str
    notes: str


def load_interconnects(text: str | None = None, path: str | Path | None = None) -> tuple[Interconnect, ...]:
    """Links from CSV `text`, a file at `path`, or the packaged interconnects.csv, validated
    against schema.InterconnectRow; a bad cell raises schema.DataFileError."""
    csv_text, file = read_text("interconnects.csv", text, path)
    rows = parse_rows(csv_text, file, InterconnectRow)
    return tuple(Interconnect(**{f.name: getattr(row, f.name) for f in fields(Interconnect)}) for row in rows)


@cache
def all_interconnects() -> tuple[Interconnect, ...]:
    return load_interconnects()


def get_link(name: str) -> Interconnect:
    """Look a link up by name ('NVLink 4', 'pcie gen5'); unknown names raise UnknownName."""
    found = find_by_name(name, [link.name for link in all_interconnects()], "interconnect")
    return next(link for link in all_interconnects() if link.name == found)


def link_latency(link: Interconnect, network: Interconnect | None = None) -> Latency:
    """NCCL's latency figures for `link` (base per call, step per hop; the tree's, where the data
    have them) from its data row; hops between nodes at `network`'s step latency, and its net
    overhead as the least an in-node hop of a ring across nodes costs."""
    for row in (link, network):
        if row is not None and row.step_latency_us is None:
            raise ValueError(f"{row.name} has no latency figures in interconnects.csv")

    def us(value: float | None) -> float | None:
        return None if value is None else value * 1e-6

    return Latency(link.base_latency_us * 1e-6, link.step_latency_us * 1e-6,
                   network.step_latency_us * 1e-6 if network else 0.0, us(link.tree_base_latency_us),
                   us(link.tree_step_latency_us), us(network.tree_step_latency_us) if network else None,
                   (network.net_overhead_us or 0.0) * 1e-6 if network else 0.0)


def ring_model(name: str, busbw_GBps: float | None = None, nodes: int = 1, network: str | None = None,
               algorithm: str = "ring", one_gpu_per_node: bool = False) -> LinkModel:
    """The course's model of a collective over the link `name`: its measured NCCL bus bandwidth
    where the data have one, else its line rate per direction (or `busbw_GBps` if given), and
    NCCL's latency figures; across `nodes` servers the hops between them run over `network`, and
    the collective runs at the slower of the two links. `algorithm` "tree" takes NCCL's tree
    latency and keeps the ring's bandwidth term. `one_gpu_per_node`: every rank on its own server,
    all hops over `name` itself, a network."""
    link = get_link(name)
    if one_gpu_per_node:
        if network or nodes != 1:
            raise ValueError("one GPU per node: the link is the network, and there are as many nodes as ranks")
        network = name
    net = get_link(network) if network else None
    if nodes > 1 and net is None:
        raise ValueError("a ring across nodes needs the network between them")

    def rate(row: Interconnect) -> float:
        return row.effective_busbw_GBps or row.per_direction_GBps

    bw = busbw_GBps or (min(rate(link), rate(net)) if net else rate(link))  # a ring runs at its slowest link
    require_positive("busbw_GBps", bw)
    return LinkModel(link_latency(link, net), 1 / (bw * GB), algorithm, nodes, one_gpu_per_node)
