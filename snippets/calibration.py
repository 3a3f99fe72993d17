"""A calibrated model of one run: chapter 1's bound with the run's own measured rates and a
fixed cost per step, fitted on a few points and tested on the others.

    predicted time = fixed cost + max((weight bytes + cache bytes) / measured bandwidth,
                                      FLOPs / measured matmul FLOP/s)

The max, not a sum: chapter 1's roofline says a step is limited by whichever of memory and
compute takes longer, because the two overlap inside the kernels; adding them would charge the
ridge twice. What does not overlap with either (kernel launches, synchronisation, the small
element-wise kernels that neither stream weights nor multiply matrices) is the fixed cost,
fitted as the mean gap between the measurement and the bound on the fitting points only.

Measured bandwidth is the run's copy (what the labs compare with); measured FLOP/s the run's
best matmul. No torch here: pure functions of numbers and results documents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

#: Points of each sweep (the smallest batches, the shortest prompts) the fixed cost is fitted on.
FIT_POINTS = 2


@dataclass(frozen=True)
class Point:
    """One measured step, in chapter 1's terms."""

    label: str  # e.g. "decode, batch 8" or "prefill, 512 tokens"
    weight_bytes: float  # weights read once per step
    cache_bytes: float  # KV cache read (decode) or written (prefill)
    flops: float  # matmul weights and attention
    measured_s: float

    @property
    def bytes(self) -> float:
        return self.weight_bytes + self.cache_bytes


@dataclass(frozen=True)
class Calibration:
    bandwidth_Bps: float  # measured copy bandwidth
    flops_per_s: float  # measured best matmul FLOP/s
    fixed_s: float  # fitted: time per step that neither bytes nor FLOPs explain
    fitted_on: tuple[str, ...]  # labels of the points the fixed cost was fitted on


@dataclass(frozen=True)
class Prediction:
    point: Point
    memory_s: float  # bytes / measured bandwidth
    compute_s: float  # FLOPs / measured FLOP/s
    predicted_s: float
    fitted: bool  # True for the points the fit used (their residuals are not a test)

    @property
    def bound(self) -> str:
        return "memory" if self.memory_s >= self.compute_s else "compute"

    @property
    def residual_pct(self) -> float:
        """(measured - predicted) / predicted, in %."""
        return 100 * (self.point.measured_s / self.predicted_s - 1)


def _require_rate(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"nonsensical calibration: {name} must be a positive finite rate, got {value!r}")


def roofline_s(point: Point, bandwidth_Bps: float, flops_per_s: float) -> tuple[float, float]:
    """(memory time, compute time) of `point` at the given rates, in seconds."""
    return point.bytes / bandwidth_Bps, point.flops / flops_per_s


def fit_fixed_cost(points: Sequence[Point], bandwidth_Bps: float, flops_per_s: float) -> float:
    """The fixed cost per step in seconds: the mean of measured - max(memory, compute) over
    `points`. Raises ValueError when a rate is not positive or the fit comes out negative
    (measured faster than the measured rates allow: a counting or timing error)."""
    _require_rate("bandwidth", bandwidth_Bps)
    _require_rate("matmul FLOP/s", flops_per_s)
    if not points:
        raise ValueError("nonsensical calibration: no points to fit the fixed cost on")
    gaps = [p.measured_s - max(roofline_s(p, bandwidth_Bps, flops_per_s)) for p in points]
    fixed = sum(gaps) / len(gaps)
    if not math.isfinite(fixed) or fixed < 0:
        raise ValueError(f"nonsensical calibration: fixed cost {fixed * 1e3:+.3f} ms is negative; "
                         f"{', '.join(p.label for p in points)} measured faster than the measured "
                         "bandwidth and FLOP/s allow")
    return fixed


def calibrate(points: Sequence[Point], bandwidth_Bps: float, flops_per_s: float,
              fit_points: int = FIT_POINTS) -> tuple[Calibration, list[Prediction]]:
    """Fit the fixed cost on the first `fit_points` points (give them smallest first) and
    predict every point; the others are held out: the fit never sees them."""
    if len(points) <= fit_points:
        raise ValueError(f"calibration needs more than {fit_points} points (some held out), got {len(points)}")
    fit = list(points[:fit_points])
    fixed = fit_fixed_cost(fit, bandwidth_Bps, flops_per_s)
    cal = Calibration(bandwidth_Bps, flops_per_s, fixed, tuple(p.label for p in fit))
    return cal, [predict(cal, p, fitted=i < fit_points) for i, p in enumerate(points)]


def predict(cal: Calibration, point: Point, fitted: bool = False) -> Prediction:
    memory, compute = roofline_s(point, cal.bandwidth_Bps, cal.flops_per_s)
    return Prediction(point, memory, compute, cal.fixed_s + max(memory, compute), fitted)


# ---- from a results document ---------------------------------------------------------------


@dataclass(frozen=True)
class RunCalibration:
    """One sweep of one results file, calibrated."""

    sweep: str  # "decode, compile" or "prefill"
    calibration: Calibration
    predictions: list[Prediction]


def measured_rates(doc: dict, dtype: str | None = None) -> tuple[float | None, float | None]:
    """(copy bandwidth in B/s, best matmul FLOP/s) of a results document; the matmul in `dtype`
    when it was measured, else the best of any dtype."""
    copies = [r for r in doc.get("bandwidth", []) if r["kernel"] == "copy"]
    matmuls = [r for r in doc.get("matmul", []) if r["dtype"] == dtype] or list(doc.get("matmul", []))
    bandwidth = max(r["GBps"] for r in copies) * 1e9 if copies else None
    flops = max(r["best_TFLOPS"] for r in matmuls) * 1e12 if matmuls else None
    return bandwidth, flops


def decode_points(doc: dict, mode: str) -> list[Point]:
    rows = sorted((r for r in doc.get("decode", []) if r["mode"] == mode), key=lambda r: r["batch"])
    return [Point(f"decode, batch {r['batch']}", r["weight_bytes"], r["cache_bytes"], r["flops_per_step"],
                  r["median_s"]) for r in rows]


def prefill_points(doc: dict) -> list[Point]:
    rows = sorted(doc.get("prefill", []), key=lambda r: r["prompt_tokens"])
    return [Point(f"prefill, {r['prompt_tokens']:,} tokens", r["weight_bytes"], r["cache_bytes"], r["flops"],
                  r["median_s"]) for r in rows]


def best_decode_mode(doc: dict, fit_points: int = FIT_POINTS) -> str | None:
    """The mode whose smallest batch ran fastest, among modes with held-out batches to test."""
    by_mode: dict[str, list[dict]] = {}
    for r in doc.get("decode", []):
        by_mode.setdefault(r["mode"], []).append(r)
    covering = {m: rows for m, rows in by_mode.items() if len(rows) > fit_points}
    if not covering:
        return None
    return min(covering, key=lambda m: min(covering[m], key=lambda r: r["batch"])["median_s"])


def calibrate_document(doc: dict, fit_points: int = FIT_POINTS) -> tuple[list[RunCalibration], list[str]]:
    """Calibrate the best decode mode and the prefill sweep of a results document.

    Returns the calibrations and notes saying what could not be calibrated and why.
    """
    decode = doc.get("decode", [])
    dtype = decode[0]["dtype"] if decode else (doc.get("prefill") or [{}])[0].get("dtype")
    bandwidth, flops = measured_rates(doc, dtype)
    if bandwidth is None or flops is None:
        return [], ["calibration needs both a copy bandwidth and a matmul in the same run"]
    sweeps: list[tuple[str, list[Point]]] = []
    mode = best_decode_mode(doc, fit_points)
    if mode:
        sweeps.append((f"decode, {mode}", decode_points(doc, mode)))
    if len(doc.get("prefill", [])) > fit_points:
        sweeps.append(("prefill", prefill_points(doc)))
    out, notes = [], []
    for sweep, points in sweeps:
        try:
            cal, predictions = calibrate(points, bandwidth, flops, fit_points)
        except ValueError as error:
            notes.append(f"{sweep}: {error}")
            continue
        out.append(RunCalibration(sweep, cal, predictions))
    if not sweeps:
        notes.append(f"calibration needs more than {fit_points} batches (or prompt lengths) of one sweep")
    return out, notes
