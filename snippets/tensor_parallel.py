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

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

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


def parallel_mlp(x, gate_slice, up_slice, down_slice, group=None):
    """Column-parallel gate and up, row-parallel down, then one all-reduce of the output over
    `group`, the ranks that split this MLP (None: every rank)."""
    import torch.distributed as dist

    partial = mlp(x, gate_slice, up_slice, down_slice)  # this rank's share of every output
    dist.all_reduce(partial, group=group)  # sum the shares: every rank now holds the full output
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


def _rank(seed: int, tokens: int, d_model: int, hidden: int, worlds: list[int]) -> None:
    """One rank, started by run_exactness with torchrun's environment (RANK, WORLD_SIZE,
    MASTER_ADDR, MASTER_PORT): for each of `worlds`, ranks 0 to world - 1 split the MLP; rank 0
    prints the comparisons as JSON."""
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    try:
        rank, found = dist.get_rank(), []
        x, w_gate, w_up, w_down = _weights(seed, tokens, d_model, hidden)  # every rank draws the same
        reference = mlp(x, w_gate, w_up, w_down)
        for world in worlds:
            group = dist.new_group(list(range(world)))  # every rank takes part in making each group
            if rank < world:
                y = parallel_mlp(x, *shard(w_gate, w_up, w_down, rank, world), group=group)
                found.append({"max_abs_error": float((y - reference).abs().max()),
                              "max_abs_output": float(reference.abs().max())})
        if rank == 0:
            print(json.dumps(found))
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(module_args: list[str], world: int, timeout_s: float) -> list[subprocess.CompletedProcess]:
    """Run `python -m <module_args>` as `world` local ranks with torchrun's environment, as
    separate interpreters (no multiprocessing: nothing depends on how the caller was started)."""
    root = str(Path(__file__).resolve().parents[1])
    port = free_port()
    procs = []
    for rank in range(world):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
               "LOCAL_WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
               "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        procs.append(subprocess.Popen([sys.executable, "-m", *module_args], env=env, cwd=root,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    done = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=timeout_s)
            done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    failed = next((d for d in done if d.returncode), None)
    if failed:
        raise RuntimeError(f"a rank exited with status {failed.returncode}: {failed.stderr[-2000:]}")
    return done


def run_exactness(worlds: tuple[int, ...] = (2,), tokens: int = 4, d_model: int = 64, hidden: int = 256,
                  seed: int = 0, timeout_s: float = 120.0) -> tuple[Exactness, ...]:
    """Split the MLP over each of `worlds` CPU processes (gloo) and compare with the unsplit one;
    one launch of max(worlds) processes does them all. Seeded: the same call gives the same
    results, so a second one in the process (chapter 7's listing after its page) launches nothing."""
    if not worlds or any(w < 1 or hidden % w for w in worlds):
        raise ValueError(f"each world must be >= 1 and divide hidden = {hidden}, got {worlds}")
    return _launched_exactness(tuple(worlds), tokens, d_model, hidden, seed, timeout_s)


@cache
def _launched_exactness(worlds: tuple[int, ...], tokens: int, d_model: int, hidden: int, seed: int,
                        timeout_s: float) -> tuple[Exactness, ...]:
    args = ["snippets.tensor_parallel", str(seed), str(tokens), str(d_model), str(hidden), *map(str, worlds)]
    done = launch(args, max(worlds), timeout_s)
    found = json.loads(done[0].stdout.strip().splitlines()[-1])
    return tuple(Exactness(w, tokens, d_model, hidden, f["max_abs_error"], f["max_abs_output"])
                 for w, f in zip(worlds, found))


if __name__ == "__main__":
    _rank(*(int(a) for a in sys.argv[1:5]), [int(a) for a in sys.argv[5:]])
