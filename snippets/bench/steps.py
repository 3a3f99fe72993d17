"""One way to turn a model step into something timed, shared by every section that runs the
course decoder (decode, prefill, mixed, verify, draft): the step modes and their capture.

Modes: "eager" (the Python forward as written), "graph" (that forward captured in one CUDA graph,
so the host's launch cost is gone), "compile" (each layer through torch.compile, regional
compilation, then the whole step captured in one CUDA graph). Graph and compile need CUDA.
"""

from __future__ import annotations

from typing import Callable

import torch

MODES = ("eager", "graph", "compile")


def validate_modes(modes, kind: str, allowed: tuple[str, ...] = MODES, section: str = "decode") -> list[str]:
    """The one check of a section's step modes: known names, and every mode but eager only on CUDA."""
    modes = [m.strip() for m in modes if m.strip()]
    unknown = sorted(set(modes) - set(allowed))
    if unknown or not modes:
        raise ValueError(f"{section} modes take {', '.join(allowed)}; got {', '.join(unknown) or 'none'}")
    if kind != "cuda" and set(modes) - {"eager"}:
        cuda_only = " and ".join(m for m in allowed if m != "eager")
        raise ValueError(f"{section} modes {cuda_only} need a CUDA GPU; this run is on {kind}")
    return modes


def modes_for(kind: str, allowed: tuple[str, ...] = MODES) -> list[str]:
    """The modes a section times by default: all on CUDA, eager elsewhere."""
    return list(allowed) if kind == "cuda" else ["eager"]


def graphed(fn: Callable[[], object]) -> Callable[[], object]:
    """`fn` captured in a CUDA graph, warmed up on a side stream first (where a compiled step
    compiles and autotunes, outside the capture). Returns the graph's replay."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


def prepared(step: Callable[[bool], object], mode: str, kind: str) -> Callable[[], object]:
    """A zero-argument callable running `step(compiled)` in `mode` (graphs captured here)."""
    validate_modes([mode], kind)
    fn = lambda: step(mode == "compile")  # noqa: E731
    return fn if mode == "eager" else graphed(fn)


def attention_check(device, dtype: torch.dtype) -> dict[str, float]:
    """The largest difference between snippets.transformer.attend in each mask-free case (one
    decode token; k verify tokens; a prompt) and SDPA with the mask materialised, on small random
    tensors on `device`: the run's proof that the fast path computes the same attention."""
    import torch.nn.functional as F

    from snippets.transformer import attend

    gen = torch.Generator().manual_seed(0)
    out = {}
    for name, T, S in (("decode", 1, 300), ("verify", 5, 300), ("prefill", 64, 64)):
        q = torch.randn(2, 8, T, 64, generator=gen).to(device, dtype)
        k, v = (torch.randn(2, 2, S, 64, generator=gen).to(device, dtype) for _ in range(2))
        mask = torch.ones(T, S, dtype=torch.bool, device=device).tril(S - T)
        ref = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask, enable_gqa=True)
        got = attend(q, k, v, "tail" if T < S else "causal")
        out[name] = float((got.float() - ref).abs().max())
    return out
