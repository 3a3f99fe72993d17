"""The calibrated model: known constants are recovered exactly, held-out points are predicted,
the fit never looks at them, and a nonsensical fit raises."""

import math

import pytest

from snippets import calibration as cal

BW, FLOPS, FIXED = 2e12, 5e14, 1.5e-3  # B/s, FLOP/s, s


def synthetic(batches=(1, 2, 8, 32, 128, 512), weights=16e9, cache_per_seq=1e7, flops_per_seq=1.6e10):
    points = []
    for b in batches:
        p = cal.Point(f"decode, batch {b}", weights, b * cache_per_seq, b * flops_per_seq, 0.0)
        t = FIXED + max(p.bytes / BW, p.flops / FLOPS)
        points.append(cal.Point(p.label, p.weight_bytes, p.cache_bytes, p.flops, t))
    return points


def test_known_constants_are_recovered_and_held_out_points_predicted():
    points = synthetic()
    fit, predictions = cal.calibrate(points, BW, FLOPS)
    assert fit.fixed_s == pytest.approx(FIXED, rel=1e-12)
    assert fit.fitted_on == ("decode, batch 1", "decode, batch 2")
    assert [p.fitted for p in predictions] == [True, True, False, False, False, False]
    assert all(abs(p.residual_pct) < 1e-9 for p in predictions)
    assert predictions[-1].bound == "compute" and predictions[0].bound == "memory"


def test_fit_never_uses_held_out_points():
    points = synthetic()
    fit, _ = cal.calibrate(points, BW, FLOPS)
    changed = points[:2] + [cal.Point(p.label, p.weight_bytes, p.cache_bytes, p.flops, p.measured_s * 3)
                            for p in points[2:]]
    refit, predictions = cal.calibrate(changed, BW, FLOPS)
    assert refit == fit
    assert all(p.residual_pct == pytest.approx(200) for p in predictions[2:])


@pytest.mark.parametrize(("bw", "flops"), [(0, FLOPS), (-1.0, FLOPS), (BW, math.nan), (BW, math.inf)])
def test_nonsensical_rates_raise(bw, flops):
    with pytest.raises(ValueError, match="nonsensical"):
        cal.calibrate(synthetic(), bw, flops)


def test_negative_fixed_cost_raises():
    fast = [cal.Point(p.label, p.weight_bytes, p.cache_bytes, p.flops, p.measured_s / 10) for p in synthetic()]
    with pytest.raises(ValueError, match="negative"):
        cal.calibrate(fast, BW, FLOPS)


def test_too_few_points_to_hold_any_out():
    with pytest.raises(ValueError, match="more than 2 points"):
        cal.calibrate(synthetic(batches=(1, 2)), BW, FLOPS)


def test_document_calibration_uses_copy_and_best_matmul():
    doc = {
        "bandwidth": [{"kernel": "copy", "GBps": BW / 1e9}, {"kernel": "triad", "GBps": 9e9}],
        "matmul": [{"dtype": "bf16", "best_TFLOPS": FLOPS / 1e12}, {"dtype": "fp32", "best_TFLOPS": 1e3}],
        "decode": [{"mode": "graph", "dtype": "bf16", "batch": int(p.label.split()[-1]), "weight_bytes": p.weight_bytes,
                    "cache_bytes": p.cache_bytes, "flops_per_step": p.flops, "median_s": p.measured_s}
                   for p in synthetic()],
        "prefill": [],
    }
    runs, notes = cal.calibrate_document(doc)
    assert [r.sweep for r in runs] == ["decode, graph"] and not notes
    assert runs[0].calibration.fixed_s == pytest.approx(FIXED)
    assert cal.calibrate_document({**doc, "matmul": []})[1]
