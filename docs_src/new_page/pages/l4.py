"""Values, claims, a table and a figure of docs/l4.md (the worked example of docs/authoring.md)."""

from __future__ import annotations

from pages.claims import claim
from pages.store import cached
from snippets import hardware, models, roofline
from snippets.report import markdown_table
from vis import chapter1

PAGE = "l4.md"

GPU, MODEL, DTYPE = "L4", "Llama-3.1-8B", "bf16"
BATCHES = (1, 64, 512)  # decode batches on the table and the figure
PROMPT, CONTEXT = 4096, 1024  # the figure's prefill, and the cache per sequence it marks

gpu, model = hardware.get(GPU), models.get(MODEL)
tflops = gpu.peak_flops(DTYPE) / 1e12
ridge = gpu.ridge_point(DTYPE)  # FLOP/byte where the compute roof meets the memory roof
one = roofline.decode_step(model, 1, 0, DTYPE)
batch_1_memory_bound = claim("one decode step of Llama-3.1-8B at batch 1 is memory-bound on the L4",
                             one.is_memory_bound(gpu))


def batches_table() -> str:
    rows = []
    for batch in BATCHES:
        step = roofline.decode_step(model, batch, 0, DTYPE)
        rows.append([batch, f"{step.intensity:.1f}", "memory" if step.is_memory_bound(gpu) else "compute",
                     f"{step.time_s(gpu) * 1e3:.1f} ms"])
    return markdown_table(["batch", "FLOP/byte", "bound", "step (lower bound)"], rows)


def roofline_figure() -> str:
    return cached(chapter1.roofline_chart, GPU, MODEL, DTYPE, BATCHES, PROMPT, CONTEXT)
