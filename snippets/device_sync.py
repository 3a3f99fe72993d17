"""Waiting for a device's queued work: the one primitive both the demo decoder (snippets.transformer)
and the benchmark's timers (snippets.bench.timing) need, kept below both so neither imports the other."""

from __future__ import annotations

import torch


def synchronize(kind: str) -> None:
    """Wait for the device `kind` ("cuda", "mps" or "cpu") to finish its queued work."""
    if kind == "cuda":
        torch.cuda.synchronize()
    elif kind == "mps":
        torch.mps.synchronize()
    elif kind != "cpu":
        raise ValueError(f"unknown device kind {kind!r}; choose cuda, mps or cpu")
