"""The shared sweep and the sections' pure plans, without measuring a model: a point that does not
fit stops the sweep with a note, out of memory in a mode skips that mode, a failed eager step
raises; the attention plan covers every shape the run times."""

import pytest
import torch

from snippets.bench import attention
from snippets.bench.sweep import Reps, SweepPoint, sweep

FAST = Reps(repeats=1, reps=2, warmup=0, settle_rounds=0)


def _point(label, step=lambda compiled: None, too_big=lambda: None):
    return SweepPoint(label, lambda: step, lambda mode, timing: (label, mode), too_big)


def test_rows_per_point_and_mode_then_a_point_too_big_stops_the_sweep():
    rows, notes = [], []
    points = [_point("a"), _point("b", too_big=lambda: "its cache does not fit"), _point("c")]
    sweep("demo", points, ["eager"], "cpu", rows, notes, reps=FAST)
    assert rows == [("a", "eager")]
    assert notes == ["stopped the demo sweep at b: its cache does not fit"]


def test_out_of_memory_while_timing_skips_the_mode_and_goes_on():
    def oom(compiled):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    rows, notes = [], []
    sweep("demo", [_point("a", oom), _point("b")], ["eager"], "cpu", rows, notes, reps=FAST)
    assert rows == [("b", "eager")] and notes == ["skipped demo eager at a: out of memory"]


def test_an_allocator_failure_while_building_a_point_stops_the_sweep_with_a_note():
    """A point whose inputs the allocator refuses (the CPU's words for it): the rows so far are
    kept and the sweep stops, said."""
    def refused():
        raise RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 1 bytes")

    rows, notes = [], []
    points = [_point("a"), SweepPoint("b", refused, lambda mode, timing: None), _point("c")]
    sweep("demo", points, ["eager"], "cpu", rows, notes, reps=FAST)
    assert rows == [("a", "eager")] and notes == ["stopped the demo sweep at b: out of memory"]


def test_a_broken_eager_step_is_an_error():
    def broken(compiled):
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        sweep("demo", [_point("a", broken)], ["eager"], "cpu", [], [], reps=FAST)


def test_attention_plan_covers_decode_batches_and_prompt_lengths():
    cases = attention.plan([4, 1, 4], 1024, [512, 128])
    assert [(c.case, c.batch, c.tokens, c.context) for c in cases] == [
        ("decode", 1, 1, 1024), ("decode", 4, 1, 1024), ("prefill", 1, 128, 128), ("prefill", 1, 512, 512)]
    assert not cases[0].causal and cases[-1].causal


def test_attention_plan_adds_the_context_sweep_at_batch_1_and_32_without_repeats():
    cases = attention.plan([1], 1024, [], contexts=[4096, 1024])
    assert [(c.batch, c.context) for c in cases] == [(1, 1024), (32, 1024), (1, 4096), (32, 4096)]


def test_attention_context_sweep_runs_on_the_cpu_at_tiny_shapes(monkeypatch):
    """The section's decode sweep measures on a CPU (each call timed once), a row per case."""
    from conftest import _one_call
    from snippets.bench.device import detect
    from snippets.transformer import TransformerConfig

    monkeypatch.setattr(attention, "time_repeats", _one_call)
    cfg = TransformerConfig(2, 32, 4, 2, 8, 64, 50, 64)
    cases = attention.plan([1], 8, [4], contexts=[16, 32])
    rows, notes = attention.measure(detect("cpu")[0], cfg, torch.float32, cases)
    assert [(r.case, r.batch, r.context) for r in rows] == [(c.case, c.batch, c.context) for c in cases]
    assert all(r.kernel == "flash" and r.median_s > 0 for r in rows) and not notes


def test_attention_out_of_memory_is_not_filed_as_a_refusal(monkeypatch):
    """A kernel that runs out of memory (the math backend's copies of K and V at long contexts) is
    noted as such, apart from a kernel that refuses a shape with its reason."""
    from conftest import _one_call
    from snippets.bench.device import detect
    from snippets.transformer import TransformerConfig

    def call(kernel, q, k, v, causal):
        if kernel == "math":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 64.00 GiB")
        if kernel == "efficient":
            raise RuntimeError("No available kernel. Aborting execution.")
        return q

    monkeypatch.setattr(attention, "time_repeats", _one_call)
    monkeypatch.setattr(attention, "kernels_for", lambda kind: ("math", "efficient", "flash"))
    monkeypatch.setattr(attention, "_call", call)
    cfg = TransformerConfig(2, 32, 4, 2, 8, 64, 50, 64)
    rows, notes = attention.measure(detect("cpu")[0], cfg, torch.float32, attention.plan([1], 8, []))
    assert [r.kernel for r in rows] == ["flash"]
    assert any(n.startswith("attention math ran out of memory: decode at batch 1") for n in notes)
    assert any(n.startswith("attention efficient refused decode") for n in notes)
    assert not any("math refused" in n for n in notes)
