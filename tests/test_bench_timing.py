"""Timing helpers: settling, flags, batch order, one synchronize, decode-mode checks, progress."""

import io

import pytest
import torch

from snippets.bench import decode, progress, timing
from snippets.bench.timing import Timing


def test_settles_when_two_medians_agree():
    medians = iter([2.0, 1.5, 1.2, 1.01, 1.0, 1.0])
    rounds, settled = timing.settle(lambda: next(medians))
    assert (rounds, settled) == (5, True)
    rounds, settled = timing.settle(lambda: 1.0 + rounds_counter.pop(), max_rounds=3) if (
        rounds_counter := [0.5, 0.0, 0.5]) else None
    assert settled is False and rounds == 3


def test_flags_noise_and_unsettled_warm_up():
    assert Timing((1.0, 1.01, 1.02)).flags() == []
    noisy = Timing((1.0, 1.2, 1.3))
    assert noisy.flags() and "noisy" in noisy.flags()[0]
    assert "unsettled" in Timing((1.0,), warmup_rounds=10, settled=False).flags()[0]


def test_larger_batch_measured_faster_is_flagged():
    flags = timing.slower_at_smaller_batch({1: 0.010, 8: 0.009, 32: 0.012})
    assert list(flags) == [8] and "faster than batch 1" in flags[8]
    rows = [decode.DecodeResult("m", 1, "fp32", "eager", b, 8, t, t, b / t, 1.0, 1.0, 1.0, None, None, None)
            for b, t in ((1, 0.010), (8, 0.009))]
    flagged = decode.with_batch_flags(rows)
    assert flagged[0].flags == () and "faster than batch 1" in flagged[1].flags[0]


def test_one_synchronize_for_every_device():
    timing.synchronize("cpu")
    with pytest.raises(ValueError):
        timing.synchronize("tpu")


def test_time_fn_with_settling_runs_extra_rounds():
    calls = []
    t = timing.time_fn(lambda: calls.append(1), "cpu", reps=8, warmup=1, settle_rounds=3)
    assert len(t.samples_s) == 8 and 1 <= t.warmup_rounds <= 3 and len(calls) >= 1 + 2 + 8


def test_decode_modes_are_checked_in_one_place():
    assert decode.validate_modes(["eager", " graph"], "cuda") == ["eager", "graph"]
    with pytest.raises(ValueError, match="need a CUDA GPU"):
        decode.validate_modes(["compile"], "cpu")
    with pytest.raises(ValueError, match="decode modes take"):
        decode.validate_modes(["turbo"], "cuda")


def test_weight_bytes_from_the_shape_match_the_built_model():
    model, cfg = decode.build("GPT-2 small (gpt2)", "fp32", 8, 2, "cpu")
    per_layer, outside = decode.decoder_weight_bytes(cfg, 4)
    assert outside + 2 * per_layer == sum(p.numel() * 4 for p in model.parameters())
    assert decode.layers_that_fit(cfg, 4, outside + 1.5 * per_layer) == 1
    assert decode.layers_that_fit(cfg, 4, outside / 2) == 0
    cache = decode.KVCache(cfg, 3, 8, torch.float32, "cpu")
    assert decode.cache_bytes(cfg, 3, 8, 4) == cache.nbytes


def test_time_left_and_plain_progress_lines():
    assert progress.time_left_s(0, 10, 5) is None
    assert progress.time_left_s(2, 10, 4) == pytest.approx(16)
    out = io.StringIO()
    p = progress.Progress(10, 3, stream=out, live=False)
    p("first", 2)
    p("second", 8)
    p.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[1/3 0:00] first") and "left] second" in lines[1]


def test_repeats_pool_their_samples_and_flag_disagreement():
    calls = iter([1.0] * 200)
    steady = timing.time_repeats(lambda: next(calls), "cpu", repeats=3, reps=4, warmup=0, settle_rounds=0)
    assert len(steady.repeat_medians_s) == 3 and len(steady.samples_s) >= 12
    disagreeing = timing.Timing((1.0, 1.0, 1.2), repeat_medians_s=(1.0, 1.0, 1.2))
    assert any("repeats disagree" in f for f in disagreeing.flags())
    agreeing = timing.Timing((1.0, 1.01, 1.02), repeat_medians_s=(1.0, 1.01, 1.02))
    assert not any("repeats disagree" in f for f in agreeing.flags())
    with pytest.raises(ValueError, match="repeats"):
        timing.time_repeats(lambda: None, "cpu", repeats=0)


def test_clock_samples_summarise_per_reading():
    from snippets.bench.device import ClockSampler, summarize_samples

    summary = summarize_samples([{"sm_clock_MHz": 1980, "power_W": 300.0}, {"sm_clock_MHz": 1755, "power_W": 500.0},
                                 {"sm_clock_MHz": 1980, "power_W": 420.0}])
    assert summary == {"samples": 3, "power_W_min": 300.0, "power_W_median": 420.0, "power_W_max": 500.0,
                       "sm_clock_MHz_min": 1755, "sm_clock_MHz_median": 1980, "sm_clock_MHz_max": 1980}
    sampler = ClockSampler("cpu")  # no NVML on a CPU: no samples, no thread, no error
    sampler.section("decode")
    assert sampler.stop() == {}
