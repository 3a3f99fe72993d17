"""Values, tables and figures of docs/run_on_your_hardware.md: the recorded results files."""

from __future__ import annotations

from pathlib import Path

from pages.claims import claim
from snippets import calibration, hardware, results
from vis import measured
from vis.cache import cached

PAGE = "run_on_your_hardware.md"
RESULTS = Path(__file__).parents[1] / "docs" / "results"

_recorded = results.load_folder(RESULTS)
_gpus = [d for d in _recorded if d["device"]["kind"] == "cuda"]

# ---- the recorded H200 run, calibrated: the residuals the prose reads ----------------------
_h200 = next(d for d in _gpus if d["device"]["spec_name"] == hardware.get("H200 SXM").name)
_h200_decode = next(c for c in calibration.calibrate_document(_h200)[0] if c.sweep.startswith("decode"))
_held_out = [p for p in _h200_decode.predictions if not p.fitted]
h200_mode = _h200_decode.sweep.removeprefix("decode, ")
h200_first_residual = _held_out[0].residual_pct
h200_worst_residual = max(p.residual_pct for p in _held_out)
h200_worst_step = max(_held_out, key=lambda p: p.residual_pct).point.label
claim("on the H200 the held-out residual grows with the batch",
      all(a.residual_pct < b.residual_pct for a, b in zip(_held_out, _held_out[1:])))
claim("the calibrated model under-predicts the large batches (positive residuals)", h200_first_residual > 0)


def overview_table() -> str:
    return results.overview_table(_recorded, link_base="../results/")  # the page is served at /run_on_your_hardware/


def roofline_figures() -> str:
    return "\n".join(cached(measured.measured_roofline, doc, name=f"measured-{Path(doc['file']).stem}")
                     for doc in _recorded)


def gpu_sections() -> str:
    """One section per recorded GPU: what it measured, and every decode step beside the bound."""
    parts = []
    for doc in _gpus:
        dev, s = doc["device"], doc["settings"]
        copy = results.best(doc, "bandwidth", "GBps", kernel="copy")
        mm = results.best(doc, "matmul", "best_TFLOPS")
        fast = min((r for r in doc["decode"] if r["batch"] == 1), key=lambda r: r["median_s"])
        longer = 100 * (fast["median_s"] / fast["predicted_s"] - 1)
        parts.append(
            f"### {results.md(dev['name'])} ({results.md(dev['spec_name'])}), PyTorch {results.md(dev['torch'])}\n\n"
            f"Copy moved **{copy['GBps']:,.0f} GB/s**, {copy['pct_of_spec']:.1f} % of the datasheet's "
            f"{dev['spec_bandwidth_GBps']:,.0f} GB/s. The best bf16 matmul ran at **{mm['best_TFLOPS']:,.0f} "
            f"TFLOP/s**, {mm['pct_of_spec']:.1f} % of the dense {dev['spec_dense_bf16_TFLOPS']:,.1f}. "
            f"A {results.md(s['model'])}-shaped decode step in {s['dtype']} at batch 1 and {s['context']:,} tokens of "
            f"context took **{fast['median_s'] * 1e3:.2f} ms** ({fast['mode']}): MBU {fast['mbu_pct']:.1f} %, "
            f"{fast['pct_of_copy']:.1f} % of the measured copy bandwidth; it takes {longer:.0f} % longer than "
            f"chapter 1's bound of {fast['predicted_s'] * 1e3:.2f} ms.\n\n" + results.decode_table(doc) + "\n")
    return "\n".join(parts)


def decode_figures() -> str:
    return "\n".join(cached(measured.decode_vs_prediction, doc, name=f"decode-{Path(doc['file']).stem}")
                     for doc in _gpus)


def gap_reading() -> str:
    parts = []
    for doc in _gpus:
        copy = results.best(doc, "bandwidth", "GBps", kernel="copy")
        parts.append(
            f"Read the gap column from the bottom of the roofline up. The bound assumes every byte moves "
            f"at the datasheet rate and nothing else costs time. On the {results.md(doc['device']['name'])} a copy kernel "
            f"reaches {copy['pct_of_spec']:.1f} % of that rate, so even a perfect decode step would take "
            f"{100 / copy['pct_of_spec'] * 100 - 100:.0f} % longer than the bound. Eager mode adds Python's "
            "launch time for every kernel; a CUDA graph removes it; `torch.compile` also fuses the small "
            "element-wise operations (normalisation, rotary embeddings, activations) that otherwise each "
            "read and write their activations. At large batches the step time grows with the KV cache "
            "each sequence reads, as chapter 1's batching figure predicts.")
    return "\n\n".join(parts)


def calibration_sections() -> str:
    """For each recorded file: the calibrated model's predictions beside the measurements."""
    parts = []
    for doc in _recorded:
        table = results.calibration_table(doc)
        if table:
            parts.append(f"#### {results.md(doc['device']['name'])}\n\n{table}\n")
    return "\n".join(parts)


def calibration_figures() -> str:
    return "\n".join(cached(measured.predicted_vs_measured, doc, name=f"calibrated-{Path(doc['file']).stem}")
                     for doc in _recorded if results.calibration_table(doc))


def prefill_sections() -> str:
    parts = []
    for doc in _recorded:
        table = results.prefill_table(doc) if doc.get("prefill") else ""
        if table:
            parts.append(f"#### {results.md(doc['device']['name'])}\n\n{table}\n")
    return "\n".join(parts) or "No recorded file has prefill measurements yet: they arrive with the next GPU run."
