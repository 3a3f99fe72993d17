"""A calibrated model of one run: chapter 1's bound with the run's own measured rates and a
fixed cost per step, fitted on a few points and tested on the others.

    predicted time = fixed cost + max((weight bytes + cache bytes) / measured bandwidth,
                                      FLOPs / measured matmul FLOP/s)

and, where the run also timed attention alone at the step's shapes (snippets.bench.attention),
attention as the phase of its own that it is (separate kernels, run after the matmuls that
produce their inputs, not overlapped with them):

    predicted time = fixed cost + max(weight bytes / measured bandwidth,
                                      matmul FLOPs / measured matmul FLOP/s)
                                + layers x one layer's attention, measured

The max, not a sum: chapter 1's roofline says a step is limited by whichever of memory and
compute takes longer, because the two overlap inside the kernels; adding them would charge the
ridge twice. What does not overlap with either (kernel launches, synchronisation, the small
element-wise kernels that neither stream weights nor multiply matrices) is the fixed cost,
fitted as the mean gap between the measurement and the bound on the fitting points only.

Measured bandwidth is the run's copy (what the labs compare with); measured FLOP/s the run's
best matmul, or, where the run also timed the model's own layer matmuls at several token counts
(snippets.bench.matmul.model_layer_shapes), the rate those reached at the step's token count: a
2,048-token prefill's matmuls do not run at the rate of an 8192-cubed one, and that difference is
measured, not fitted. No torch here: pure functions of numbers and results documents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
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
    tokens: int = 0  # rows through the step's matmuls (batch, prompt, batch + chunk); 0: unknown
    attention_s: float | None = None  # the step's attention, timed alone (all layers); None: not timed
    attention_flops: float = 0.0  # its FLOPs (part of `flops`)

    @property
    def bytes(self) -> float:
        return self.weight_bytes + self.cache_bytes


@dataclass(frozen=True)
class Calibration:
    bandwidth_Bps: float  # measured copy bandwidth
    flops_per_s: float  # measured best matmul FLOP/s
    fixed_s: float  # fitted: time per step that neither bytes nor FLOPs explain
    fitted_on: tuple[str, ...]  # labels of the points the fixed cost was fitted on
    layer_rates: tuple[tuple[int, float], ...] = ()  # (tokens, FLOP/s) of the model's layer matmuls, measured


@dataclass(frozen=True)
class Prediction:
    point: Point
    memory_s: float  # bytes / measured bandwidth
    compute_s: float  # FLOPs / measured FLOP/s
    predicted_s: float
    fitted: bool  # True for the points the fit used (their residuals are not a test)
    attention_s: float = 0.0  # the measured attention phase added (0 where none was timed)

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


def rate_at(layer_rates: Sequence[tuple[int, float]], tokens: int, fallback: float) -> float:
    """The matmul rate at `tokens` rows: `fallback` without measured layer rates (or an unknown
    token count); else interpolated linearly in log(tokens) between the measured counts, the
    nearest one's rate outside them."""
    if not layer_rates or tokens <= 0:
        return fallback
    pts = sorted(layer_rates)
    if tokens <= pts[0][0]:
        return pts[0][1]
    if tokens >= pts[-1][0]:
        return pts[-1][1]
    (t0, r0), (t1, r1) = next((a, b) for a, b in zip(pts, pts[1:]) if a[0] <= tokens <= b[0])
    share = (math.log(tokens) - math.log(t0)) / (math.log(t1) - math.log(t0))
    return r0 + share * (r1 - r0)


def roofline_s(point: Point, bandwidth_Bps: float, flops_per_s: float,
               layer_rates: Sequence[tuple[int, float]] = ()) -> tuple[float, float]:
    """(memory time, compute time) of `point` at the given rates, in seconds: all bytes and FLOPs,
    or, where its attention was timed alone, the matmul phase's (weights, matmul FLOPs)."""
    rate = rate_at(layer_rates, point.tokens, flops_per_s)
    if point.attention_s is not None:
        return point.weight_bytes / bandwidth_Bps, (point.flops - point.attention_flops) / rate
    return point.bytes / bandwidth_Bps, point.flops / rate


def step_s(point: Point, bandwidth_Bps: float, flops_per_s: float,
           layer_rates: Sequence[tuple[int, float]] = ()) -> float:
    """The bound without the fixed cost: max(memory, compute), plus the measured attention phase."""
    return max(roofline_s(point, bandwidth_Bps, flops_per_s, layer_rates)) + (point.attention_s or 0.0)


def fit_fixed_cost(points: Sequence[Point], bandwidth_Bps: float, flops_per_s: float,
                   layer_rates: Sequence[tuple[int, float]] = ()) -> float:
    """The fixed cost per step in seconds: the mean of measured - max(memory, compute) over
    `points`. Raises ValueError when a rate is not positive or the fit comes out negative
    (measured faster than the measured rates allow: a counting or timing error)."""
    _require_rate("bandwidth", bandwidth_Bps)
    _require_rate("matmul FLOP/s", flops_per_s)
    if not points:
        raise ValueError("nonsensical calibration: no points to fit the fixed cost on")
    gaps = [p.measured_s - step_s(p, bandwidth_Bps, flops_per_s, layer_rates) for p in points]
    fixed = sum(gaps) / len(gaps)
    if not math.isfinite(fixed) or fixed < 0:
        raise ValueError(f"nonsensical calibration: fixed cost {fixed * 1e3:+.3f} ms is negative; "
                         f"{', '.join(p.label for p in points)} measured faster than the measured "
                         "bandwidth and FLOP/s allow")
    return fixed


def calibrate(points: Sequence[Point], bandwidth_Bps: float, flops_per_s: float,
              fit_points: int = FIT_POINTS, layer_rates: Sequence[tuple[int, float]] = ()
              ) -> tuple[Calibration, list[Prediction]]:
    """Fit the fixed cost on the first `fit_points` points (give them smallest first) and
    predict every point; the others are held out: the fit never sees them."""
    if len(points) <= fit_points:
        raise ValueError(f"calibration needs more than {fit_points} points (some held out), got {len(points)}")
    fit = list(points[:fit_points])
    fixed = fit_fixed_cost(fit, bandwidth_Bps, flops_per_s, layer_rates)
    cal = Calibration(bandwidth_Bps, flops_per_s, fixed, tuple(p.label for p in fit), tuple(sorted(layer_rates)))
    return cal, [predict(cal, p, fitted=i < fit_points) for i, p in enumerate(points)]


def predict(cal: Calibration, point: Point, fitted: bool = False) -> Prediction:
    memory, compute = roofline_s(point, cal.bandwidth_Bps, cal.flops_per_s, cal.layer_rates)
    attention = point.attention_s or 0.0
    return Prediction(point, memory, compute, cal.fixed_s + max(memory, compute) + attention, fitted, attention)


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


def layer_rates(doc: dict, dtype: str | None = None) -> list[tuple[int, float]]:
    """(tokens, FLOP/s) of the model's own layer matmuls (matmul rows with a role), per token
    count: their FLOPs over their median times summed; [] where the run did not time them."""
    by_tokens: dict[int, list[dict]] = {}
    for r in doc.get("matmul", []):
        if r.get("role") and (dtype is None or r["dtype"] == dtype):
            by_tokens.setdefault(r["m"], []).append(r)
    return sorted((m, sum(r["flops"] for r in rows) / sum(r["median_s"] for r in rows))
                  for m, rows in by_tokens.items())


#: The attention kernel the decoder itself runs (snippets.transformer.attend), as the attention
#: section names it: the one whose times the calibrated model adds.
MODEL_KERNEL = "flash"


def attention_phase(doc: dict, case: str, batch: int, tokens: int, context: int) -> tuple[float, float] | None:
    """(seconds, FLOPs) of a step's attention, all layers, from the attention section's row of
    the model's own kernel at exactly this shape; None where the run did not time it."""
    row = next((r for r in doc.get("attention", []) if r["kernel"] == MODEL_KERNEL and r["case"] == case
                and (r["batch"], r["tokens"], r["context"]) == (batch, tokens, context)), None)
    return (row["median_s"] * row["layers"], row["flops"] * row["layers"]) if row else None


def _with_attention(point: Point, phases: Sequence[tuple[float, float] | None]) -> Point:
    if not phases or any(p is None for p in phases):
        return point
    return replace(point, attention_s=sum(p[0] for p in phases), attention_flops=sum(p[1] for p in phases))


def decode_points(doc: dict, mode: str) -> list[Point]:
    rows = sorted((r for r in doc.get("decode", []) if r["mode"] == mode), key=lambda r: r["batch"])
    return [_with_attention(Point(f"decode, batch {r['batch']}", r["weight_bytes"], r["cache_bytes"],
                                  r["flops_per_step"], r["median_s"], r["batch"]),
                            [attention_phase(doc, "decode", r["batch"], 1, r.get("context", 0))]) for r in rows]


def prefill_points(doc: dict, mode: str | None = None) -> list[Point]:
    """The prefill rows of `mode` (rows of files without modes are eager), shortest first."""
    rows = sorted((r for r in doc.get("prefill", []) if mode is None or r.get("mode", "eager") == mode),
                  key=lambda r: r["prompt_tokens"])
    return [_with_attention(Point(f"prefill, {r['prompt_tokens']:,} tokens", r["weight_bytes"], r["cache_bytes"],
                                  r["flops"], r["median_s"], r["batch"] * r["prompt_tokens"]),
                            [attention_phase(doc, "prefill", r["batch"], r["prompt_tokens"], r["prompt_tokens"])])
            for r in rows]


def mixed_points(doc: dict, mode: str) -> list[Point]:
    """One-pass mixed rows of `mode` (older two-forward rows are left out), fewest FLOPs first."""
    rows = sorted((r for r in doc.get("mixed", []) if r["mode"] == mode and r.get("one_pass")),
                  key=lambda r: r["flops"])
    return [_with_attention(Point(f"mixed, batch {r['batch']} + {r['chunk_tokens']:,}-token chunk", r["weight_bytes"],
                                  r["cache_bytes"] + r["activation_bytes"], r["flops"], r["median_s"],
                                  r["batch"] + r["chunk_tokens"]),
                            [attention_phase(doc, "decode", r["batch"], 1, r["context"])]
                            + ([attention_phase(doc, "prefill", 1, r["chunk_tokens"], r["chunk_tokens"])]
                               if r["chunk_tokens"] else []))
            for r in rows]


def fastest_mode(rows: Sequence[dict], key: str, fit_points: int = FIT_POINTS) -> str | None:
    """The mode with more than `fit_points` rows whose rows, at the `key` values every such mode
    measured, took the least time in total (rows without a mode are eager)."""
    by_mode: dict[str, dict] = {}
    for r in rows:
        by_mode.setdefault(r.get("mode", "eager"), {})[r[key]] = r["median_s"]
    covering = {m: times for m, times in by_mode.items() if len(times) > fit_points}
    if not covering:
        return None
    shared = set.intersection(*(set(t) for t in covering.values()))
    return min(covering, key=lambda m: sum(covering[m][k] for k in shared))


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
    prefill_mode = fastest_mode(doc.get("prefill", []), "prompt_tokens", fit_points)
    if prefill_mode:
        multi = len({r.get("mode", "eager") for r in doc["prefill"]}) > 1
        sweeps.append((f"prefill, {prefill_mode}" if multi else "prefill", prefill_points(doc, prefill_mode)))
    one_pass = [dict(r, key=(r["batch"], r["chunk_tokens"])) for r in doc.get("mixed", []) if r.get("one_pass")]
    mixed_mode = fastest_mode(one_pass, "key", fit_points)
    if mixed_mode:
        sweeps.append((f"mixed, {mixed_mode}", mixed_points(doc, mixed_mode)))
    rates = layer_rates(doc, dtype)
    out, notes = [], []
    for sweep, points in sweeps:
        try:
            cal, predictions = calibrate(points, bandwidth, flops, fit_points, rates)
        except ValueError as error:
            notes.append(f"{sweep}: {error}")
            continue
        out.append(RunCalibration(sweep, cal, predictions))
    if not sweeps:
        notes.append(f"calibration needs more than {fit_points} batches (or prompt lengths) of one sweep")
    return out, notes
