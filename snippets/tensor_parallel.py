"""Tensor parallelism, shown exact: a gated MLP (Llama's) split column-then-row over several
processes with torch.distributed equals the unsplit MLP, to float32 rounding.

Each rank holds a slice of the hidden units: columns of the gate and up projections, the
matching rows of the down projection. It computes its slice from the full input, multiplies
by its rows of the down projection, and holds a partial sum of the output; one all-reduce
adds the partial sums. No rank ever holds the whole hidden layer. On GPUs the backend is NCCL;
here, on CPUs, gloo.

`run_exactness` launches the ranks itself (one process each) so that tests and the page can
call it; under `torchrun` a program would call `parallel_mlp` directly.
"""

from __future__ import annotations

import multiprocessing
import socket
from dataclasses import dataclass

#: How close the split MLP must come to the unsplit one: the sums are the same numbers added in
#: another order, so float32 rounding (about 1e-7 of each term) is all that may differ.
RELATIVE_TOLERANCE = 1e-5


# --8<-- [start:split]
def mlp(x, w_gate, w_up, w_down):
    """Llama's MLP: down(silu(gate(x)) * up(x)). Weights are (in, out) matrices."""
    import torch

    return (torch.nn.functional.silu(x @ w_gate) * (x @ w_up)) @ w_down


def shard(w_gate, w_up, w_down, rank: int, world: int):
    """This rank's slice: hidden units [rank * h / world, (rank + 1) * h / world), which are
    columns of gate and up and the same rows of down."""
    hidden = w_gate.shape[1]
    lo, hi = rank * hidden // world, (rank + 1) * hidden // world
    return w_gate[:, lo:hi], w_up[:, lo:hi], w_down[lo:hi, :]


def parallel_mlp(x, gate_slice, up_slice, down_slice):
    """Column-parallel gate and up, row-parallel down, then one all-reduce of the output."""
    import torch.distributed as dist

    partial = mlp(x, gate_slice, up_slice, down_slice)  # this rank's share of every output
    dist.all_reduce(partial)  # sum the shares: every rank now holds the full output
    return partial
# --8<-- [end:split]


@dataclass(frozen=True)
class Exactness:
    """What one split run found: ranks, shapes, and the largest gap to the unsplit MLP."""

    world: int
    tokens: int
    d_model: int
    hidden: int
    max_abs_error: float
    max_abs_output: float

    @property
    def relative_error(self) -> float:
        return self.max_abs_error / self.max_abs_output

    @property
    def exact(self) -> bool:
        return self.relative_error <= RELATIVE_TOLERANCE


def _weights(seed: int, tokens: int, d_model: int, hidden: int):
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(tokens, d_model, generator=g)
    scale = d_model ** -0.5
    return (x, torch.randn(d_model, hidden, generator=g) * scale, torch.randn(d_model, hidden, generator=g) * scale,
            torch.randn(hidden, d_model, generator=g) * hidden ** -0.5)


def _rank(rank: int, world: int, port: int, seed: int, tokens: int, d_model: int, hidden: int, results) -> None:
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        x, w_gate, w_up, w_down = _weights(seed, tokens, d_model, hidden)  # every rank draws the same
        y = parallel_mlp(x, *shard(w_gate, w_up, w_down, rank, world))
        if rank == 0:
            reference = mlp(x, w_gate, w_up, w_down)
            results.put((float((y - reference).abs().max()), float(reference.abs().max())))
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_exactness(world: int = 2, tokens: int = 4, d_model: int = 64, hidden: int = 256, seed: int = 0,
                  timeout_s: float = 120.0) -> Exactness:
    """Split the MLP over `world` CPU processes (gloo) and compare with the unsplit one."""
    if world < 1 or hidden % world:
        raise ValueError(f"world must be >= 1 and divide hidden = {hidden}, got {world}")
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    port = free_port()
    ranks = [context.Process(target=_rank, args=(r, world, port, seed, tokens, d_model, hidden, results))
             for r in range(world)]
    for p in ranks:
        p.start()
    try:
        error, largest = results.get(timeout=timeout_s)
    finally:
        for p in ranks:
            p.join(timeout=timeout_s)
            if p.is_alive():
                p.kill()
    failed = [p.exitcode for p in ranks if p.exitcode]
    if failed:
        raise RuntimeError(f"a rank exited with status {failed[0]}")
    return Exactness(world, tokens, d_model, hidden, error, largest)
