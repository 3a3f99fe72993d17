"""The shared sweep and the sections' pure plans, without measuring a model: a point that does not
fit stops the sweep with a note, out of memory in a mode skips that mode, a failed eager step
raises; the attention plan covers every shape the run times."""

import pytest

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
