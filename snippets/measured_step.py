"""A step-time model for chapter 3's simulator built from a results file of `python -m snippets
bench`: the calibrated model of snippets.calibration, applied to a server's mixed steps.

    step time = fixed cost + max((weight + cache + activation bytes) / measured copy bandwidth,
                                 FLOPs / best measured matmul FLOP/s)

Bytes and FLOPs of a step are roofline.mixed_step's (the same counts chapter 3's roofline step
time uses); the two rates are the run's own; the fixed cost is fitted, as the mean gap between
measurement and bound, on the smallest measured steps (FIT_POINTS of them) and tested on the
others (held out: the fit never sees them). The steps are the run's "mixed" rows (a decode
batch plus a prefill chunk, timed as one step) when it has them; older files fall back to their
decode rows (the fastest mode) and prefill rows, which say nothing about mixing the two.

`MeasuredStepTime` is a `serving.StepTime`: called as (decode batch, context per decoding
sequence, prefill chunks as (prefix, tokens)) it returns seconds, so
`serving.simulate(requests, policy, MeasuredStepTime.from_document(doc), capacity)` runs.
It predicts for the model shape the run measured: the whole model on a GPU, the truncated one
(the run's `layers`) on a CPU. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from snippets import calibration, hardware, models, roofline
from snippets.calibration import Calibration, Prediction
from snippets.models import ModelConfig
from snippets.report import markdown_table

#: Smallest steps (by their bound at the measured rates) the fixed cost is fitted on.
FIT_POINTS = 2


@dataclass(frozen=True)
class StepPoint(calibration.Point):
    """A measured step with the activation bytes of its prefill chunk counted too."""

    activation_bytes: float = 0.0

    @property
    def bytes(self) -> float:
        return self.weight_bytes + self.cache_bytes + self.activation_bytes


def fit(points, bandwidth_Bps: float, flops_per_s: float, fit_points: int = FIT_POINTS,
        layer_rates=()) -> tuple[Calibration, list[Prediction]]:
    """Fit the fixed cost on the `fit_points` steps with the smallest bound at these rates and
    predict every step (smallest first). `layer_rates`: the run's matmul rate per token count
    (calibration.layer_rates), used at each step's token count where measured. Raises ValueError
    for a nonsensical fit: rates not positive, too few steps to hold any out, or a negative fixed cost."""
    calibration._require_rate("bandwidth", bandwidth_Bps)
    calibration._require_rate("matmul FLOP/s", flops_per_s)
    ordered = sorted(points, key=lambda p: max(calibration.roofline_s(p, bandwidth_Bps, flops_per_s, layer_rates)))
    return calibration.calibrate(ordered, bandwidth_Bps, flops_per_s, fit_points, layer_rates)


def mixed_rows(doc: dict) -> list[dict]:
    """The mixed rows a model is fitted on: the one-pass ones (decode and chunk in one forward,
    as a server runs them) where the file has any, else (older files) its two-forward rows."""
    rows = doc.get("mixed", [])
    return [r for r in rows if r.get("one_pass")] or list(rows)


def mixed_points(doc: dict, mode: str) -> list[StepPoint]:
    rows = [r for r in mixed_rows(doc) if r["mode"] == mode]
    return [StepPoint(f"mixed, batch {r['batch']} + {r['chunk_tokens']:,}-token chunk", r["weight_bytes"],
                      r["cache_bytes"], r["flops"], r["median_s"], tokens=r["batch"] + r["chunk_tokens"],
                      activation_bytes=r["activation_bytes"]) for r in rows]


def best_mixed_mode(doc: dict, fit_points: int = FIT_POINTS) -> str | None:
    """The mode whose smallest step ran fastest (graph over eager on a GPU, as a rule), among
    modes with steps left to hold out."""
    by_mode: dict[str, list[dict]] = {}
    for r in mixed_rows(doc):
        by_mode.setdefault(r["mode"], []).append(r)
    by_mode = {m: rows for m, rows in by_mode.items() if len(rows) > fit_points}
    if not by_mode:
        return None
    return min(by_mode, key=lambda m: min(by_mode[m], key=lambda r: (r["batch"], r["chunk_tokens"]))["median_s"])


@dataclass
class MeasuredStepTime:
    """A serving.StepTime: the calibrated model's time for a step of `model` (see the module)."""

    model: ModelConfig  # the shape predicted: the run's model with the layers it measured
    calibration: Calibration
    dtype: str = "bf16"
    source: str = ""  # which rows the fixed cost was fitted on, e.g. "mixed, graph"
    predictions: tuple[Prediction, ...] = ()  # every measured step, fitted and held out
    notes: tuple[str, ...] = ()
    round_context_tokens: int = 16  # contexts rounded up to a KV block, as RooflineStepTime does
    _seen: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def fixed_s(self) -> float:
        return self.calibration.fixed_s

    def cost(self, batch: int, context: int, chunks: tuple[tuple[int, int], ...] = ()) -> roofline.StepCost:
        return roofline.mixed_step(self.model, batch, context, tuple(chunks), self.dtype, self.dtype)

    def __call__(self, batch: int, context: int, chunks: tuple[tuple[int, int], ...] = ()) -> float:
        context = -(-context // self.round_context_tokens) * self.round_context_tokens
        key = (batch, context, tuple(chunks))
        if key not in self._seen:
            step = self.cost(batch, context, chunks)
            cal = self.calibration
            tokens = batch + sum(tokens for _, tokens in chunks)
            rate = calibration.rate_at(cal.layer_rates, tokens, cal.flops_per_s)
            self._seen[key] = cal.fixed_s + max(step.bytes / cal.bandwidth_Bps, step.flops / rate)
        return self._seen[key]

    @property
    def held_out(self) -> list[Prediction]:
        return [p for p in self.predictions if not p.fitted]

    @classmethod
    def from_document(cls, doc: dict, fit_points: int = FIT_POINTS) -> "MeasuredStepTime":
        """The model of a results document (validated or as loaded by snippets.results.load).
        Raises ValueError when it cannot be built or the fit makes no sense."""
        settings = doc["settings"]
        dtype = settings["dtype"]
        bandwidth, flops = calibration.measured_rates(doc, dtype)
        if bandwidth is None or flops is None:
            raise ValueError("a measured step time needs the run's copy bandwidth and a matmul "
                             "(run the bench without --skip bandwidth,matmul)")
        notes = []
        mode = best_mixed_mode(doc, fit_points)
        if mode:
            rows = [r for r in mixed_rows(doc) if r["mode"] == mode]
            points, source = mixed_points(doc, mode), f"mixed, {mode}"
            if not rows[0].get("one_pass"):
                notes.append("this results file timed each mixed step as two forwards (the weights read twice); "
                             "newer runs time one forward over the decode tokens and the chunk, as a server does")
        else:
            decode_mode = calibration.best_decode_mode(doc, fit_points)
            points = (calibration.decode_points(doc, decode_mode) if decode_mode else []) + calibration.prefill_points(doc)
            rows = [r for r in doc.get("decode", []) if r["mode"] == decode_mode] + list(doc.get("prefill", []))
            source = " + ".join(s for s, ok in ((f"decode, {decode_mode}", decode_mode),
                                                ("prefill", doc.get("prefill"))) if ok)
            why = (f"too few mixed steps ({len(doc['mixed'])}) to fit on {fit_points} and hold some out"
                   if doc.get("mixed") else "no mixed steps (it predates them, or skipped them)")
            notes.append(f"this results file has {why}: the fixed cost is "
                         f"fitted on its {source or 'no'} rows, which never mixed a decode with a prefill chunk; "
                         "run `python -m snippets bench` (with --mixed on a CPU) for a model fitted on mixed steps")
        if not points:
            raise ValueError("a measured step time needs measured steps: mixed, decode or prefill rows")
        cal, predictions = fit(points, bandwidth, flops, fit_points, calibration.layer_rates(doc, dtype))
        named = models.get(rows[0]["model"])
        layers = rows[0]["layers"]
        if any(r["layers"] != layers for r in rows):
            raise ValueError("the rows were measured with different numbers of layers; cannot fit one model")
        if layers < named.n_layers:
            notes.append(f"the run built {layers} of {named.name}'s {named.n_layers} layers: the step times "
                         f"are those of a {layers}-layer {named.name}, not the whole model")
        return cls(replace(named, n_layers=layers), cal, dtype, source, tuple(predictions), tuple(notes))


def measured_accelerator(doc: dict, dtype: str | None = None) -> hardware.Accelerator:
    """The run's device as an Accelerator whose roofs are its measured copy bandwidth and best
    matmul (for serving.RooflineStepTime where no datasheet is known, as on a CPU)."""
    bandwidth, flops = calibration.measured_rates(doc, dtype or doc["settings"]["dtype"])
    if bandwidth is None or flops is None:
        raise ValueError("needs the run's copy bandwidth and a matmul")
    dev = doc["device"]
    tflops = flops / 1e12
    return hardware.Accelerator(
        name=f"{dev['name']} (measured roofs)", vendor="", memory_GB=(dev["memory_bytes"] or 2**36) / 2**30,
        memory_type="", memory_bandwidth_GBps=bandwidth / 1e9, dense_fp16_bf16_TFLOPS=tflops, dense_fp8_TFLOPS=None,
        dense_int8_TOPS=None, fp32_TFLOPS=tflops, cache_MB=None, TDP_W=None, release_year=None,
        sparsity_handling="", source="this run's copy bandwidth and best matmul", verified_via="measured", notes="")


def roofline_accelerator(doc: dict) -> tuple[hardware.Accelerator, str]:
    """The accelerator of chapter 3's roofline step time for this run: the device's datasheet
    when the course knows it, else its measured roofs. Returns it and a sentence saying which."""
    spec = doc["device"].get("spec_name")
    if spec:
        try:
            return hardware.get(spec.removeprefix("NVIDIA ")), f"the {spec} datasheet"
        except (KeyError, ValueError):
            pass
    return measured_accelerator(doc), "this run's measured roofs (no datasheet for this device)"


def residual_table(step_time: MeasuredStepTime) -> str:
    """Every measured step: bound, fixed cost, predicted vs measured, residual, fitted or held out."""
    rows = [[p.point.label, p.bound, f"{p.point.bytes / 1e9:,.3f}", f"{p.point.flops / 1e9:,.1f}",
             f"{p.predicted_s * 1e3:,.3f}", f"{p.point.measured_s * 1e3:,.3f}", f"{p.residual_pct:+.1f} %",
             "fitted" if p.fitted else "held out"] for p in step_time.predictions]
    return markdown_table(["step", "bound", "GB", "GFLOPs", "predicted ms", "measured ms", "residual", "used for"],
                          rows, align="llrrrrrl")
