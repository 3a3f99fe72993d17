"""Values, tables and figures of docs/run_on_your_hardware.md: the recorded results files."""

from __future__ import annotations

from pathlib import Path

from snippets.bench import results
from vis import measured

PAGE = "run_on_your_hardware.md"
RESULTS = Path(__file__).parents[1] / "docs" / "results"

_recorded = results.load_folder(RESULTS)
_gpus = [d for d in _recorded if d["device"]["kind"] == "cuda"]


def overview_table() -> str:
    return results.overview_table(_recorded, link_base="../results/")  # the page is served at /run_on_your_hardware/


def roofline_figures() -> str:
    return "\n".join(measured.measured_roofline(doc, name=f"measured-{Path(doc['file']).stem}") for doc in _recorded)


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
            f"### {dev['name']} ({dev['spec_name']}), PyTorch {dev['torch']}\n\n"
            f"Copy moved **{copy['GBps']:,.0f} GB/s**, {copy['pct_of_spec']:.1f} % of the datasheet's "
            f"{dev['spec_bandwidth_GBps']:,.0f} GB/s. The best bf16 matmul ran at **{mm['best_TFLOPS']:,.0f} "
            f"TFLOP/s**, {mm['pct_of_spec']:.1f} % of the dense {dev['spec_dense_bf16_TFLOPS']:,.1f}. "
            f"A {s['model']}-shaped decode step in {s['dtype']} at batch 1 and {s['context']:,} tokens of "
            f"context took **{fast['median_s'] * 1e3:.2f} ms** ({fast['mode']}): MBU {fast['mbu_pct']:.1f} %, "
            f"{fast['pct_of_copy']:.1f} % of the measured copy bandwidth; it takes {longer:.0f} % longer than "
            f"chapter 1's bound of {fast['predicted_s'] * 1e3:.2f} ms.\n\n" + results.decode_table(doc) + "\n")
    return "\n".join(parts)


def decode_figures() -> str:
    return "\n".join(measured.decode_vs_prediction(doc, name=f"decode-{Path(doc['file']).stem}") for doc in _gpus)


def gap_reading() -> str:
    parts = []
    for doc in _gpus:
        copy = results.best(doc, "bandwidth", "GBps", kernel="copy")
        parts.append(
            f"Read the gap column from the bottom of the roofline up. The bound assumes every byte moves "
            f"at the datasheet rate and nothing else costs time. On the {doc['device']['name']} a copy kernel "
            f"reaches {copy['pct_of_spec']:.1f} % of that rate, so even a perfect decode step would take "
            f"{100 / copy['pct_of_spec'] * 100 - 100:.0f} % longer than the bound. Eager mode adds Python's "
            "launch time for every kernel; a CUDA graph removes it; `torch.compile` also fuses the small "
            "element-wise operations (normalisation, rotary embeddings, activations) that otherwise each "
            "read and write their activations. At large batches the step time grows with the KV cache "
            "each sequence reads, as chapter 1's batching figure predicts.")
    return "\n\n".join(parts)
