"""The measured step-time model: known constants are recovered exactly from synthetic steps,
the fit never sees its held-out steps, nonsense raises, old files fall back to decode rows, and
the simulator runs with it. No torch."""

import copy
from pathlib import Path

import pytest

from snippets import calibration, results, roofline, serving
from snippets.measured_step import MeasuredStepTime, fit, measured_accelerator, residual_table, roofline_accelerator

H200 = Path(__file__).resolve().parents[1] / "docs" / "results" / "nvidia-h200-2026-11-26.json"
FIXED = 1.5e-3


def synthetic(fixed_s=FIXED, batches=(1, 16, 64), chunks=(0, 256, 1024), context=1024) -> dict:
    """The recorded H200 file with mixed rows whose times follow the model exactly."""
    doc = copy.deepcopy(results.load(H200))
    bw, flops = calibration.measured_rates(doc, "bf16")
    model = MeasuredStepTime.from_document(doc).model  # the whole Llama-3.1-8B
    rows = []
    for b in batches:
        for c in chunks:
            step = roofline.mixed_step(model, b, context, ((0, c),) if c else (), "bf16", "bf16")
            t = fixed_s + max(step.bytes / bw, step.flops / flops)
            rows.append({"model": model.name, "layers": model.n_layers, "dtype": "bf16", "mode": "graph", "batch": b,
                         "context": context, "chunk_tokens": c, "chunk_prefix": 0, "median_s": t, "best_s": t,
                         "weight_bytes": step.weight_bytes, "cache_bytes": step.kv_bytes,
                         "activation_bytes": step.activation_bytes, "flops": step.flops, "predicted_s": None,
                         "flags": [], "one_pass": True})
    doc["mixed"] = rows
    return results.validate(doc, "synthetic")


def test_known_constants_are_recovered_and_held_out_steps_predicted():
    doc = synthetic()
    st = MeasuredStepTime.from_document(doc)
    assert st.source == "mixed, graph" and not st.notes
    assert st.fixed_s == pytest.approx(FIXED, rel=1e-12)
    assert len(st.held_out) == len(doc["mixed"]) - 2
    assert all(abs(p.residual_pct) < 1e-9 for p in st.predictions)
    for r in doc["mixed"]:
        chunks = ((0, r["chunk_tokens"]),) if r["chunk_tokens"] else ()
        assert st(r["batch"], r["context"], chunks) == pytest.approx(r["median_s"], rel=1e-12)
    assert "held out" in residual_table(st) and "fitted" in residual_table(st)


def test_fit_never_uses_held_out_steps():
    doc = synthetic()
    biggest = max(doc["mixed"], key=lambda r: r["flops"])
    biggest["median_s"] *= 3  # a held-out step far off the model
    st = MeasuredStepTime.from_document(doc)
    assert st.fixed_s == pytest.approx(FIXED, rel=1e-12)
    worst = max(st.held_out, key=lambda p: p.residual_pct)
    assert worst.residual_pct == pytest.approx(200, rel=1e-6) and not worst.fitted


def test_the_fit_uses_the_smallest_steps():
    doc = synthetic()
    st = MeasuredStepTime.from_document(doc)
    fitted = [p.point.label for p in st.predictions if p.fitted]
    assert fitted == ["mixed, batch 1 + 0-token chunk", "mixed, batch 16 + 0-token chunk"]


def test_nonsensical_fits_raise():
    fast = synthetic(fixed_s=-1e-3)  # faster than the measured roofs allow
    with pytest.raises(ValueError, match="negative"):
        MeasuredStepTime.from_document(fast)
    few = synthetic(batches=(1,), chunks=(0, 256))
    with pytest.raises(ValueError, match="more than 2 points"):
        fit([p.point for p in MeasuredStepTime.from_document(synthetic()).predictions[:2]], 1e12, 1e15)
    fallback = MeasuredStepTime.from_document(few)  # too few mixed steps: the decode rows, said so
    assert fallback.source.startswith("decode") and any("too few mixed steps (2)" in n for n in fallback.notes)
    no_matmul = {**synthetic(), "matmul": []}
    with pytest.raises(ValueError, match="copy bandwidth and a matmul"):
        MeasuredStepTime.from_document(no_matmul)
    with pytest.raises(ValueError, match="nonsensical"):
        fit([], 0.0, 1e12)


def test_old_files_fall_back_to_decode_rows_and_say_so():
    doc = results.load(H200)
    assert doc["mixed"] == []  # a file written before the mixed section loads
    st = MeasuredStepTime.from_document(doc)
    assert st.source == "decode, graph"
    assert any("no mixed steps" in n for n in st.notes)
    assert st.fixed_s > 0 and st.held_out


def test_simulator_runs_with_the_measured_step_time():
    doc = synthetic()
    st = MeasuredStepTime.from_document(doc)
    accelerator, said = roofline_accelerator(doc)
    assert "datasheet" in said
    bound = serving.RooflineStepTime(st.model, accelerator)
    requests = serving.Workload(n_requests=20, rate_per_s=20.0, seed=1, output_mean=32, output_max=128).requests()
    policy = serving.Policy("chunked", chunk_tokens=512)
    measured = serving.simulate(requests, policy, st, 200_000)
    ideal = serving.simulate(requests, policy, bound, 200_000)
    assert len(measured.served) == len(ideal.served) == 20
    assert sum(s.duration_s for s in measured.steps) > sum(s.duration_s for s in ideal.steps)


def test_measured_accelerator_has_the_runs_roofs():
    doc = results.load(H200)
    acc = measured_accelerator(doc)
    bw, flops = calibration.measured_rates(doc, "bf16")
    assert acc.bandwidth_Bps == pytest.approx(bw) and acc.peak_flops("bf16") == pytest.approx(flops)


def test_two_forward_rows_are_used_only_without_one_pass_rows_and_said_so():
    doc = synthetic()
    two = {**doc, "mixed": [{**r, "one_pass": False} for r in doc["mixed"]]}
    assert any("two forwards" in n for n in MeasuredStepTime.from_document(two).notes)
    both = {**doc, "mixed": [*two["mixed"][:3], *doc["mixed"]]}
    st = MeasuredStepTime.from_document(both)
    assert not st.notes and len(st.predictions) == len(doc["mixed"])
