"""Figures from benchmark results: a device's measured roofline beside its datasheet roofline,
decode time against chapter 1's bound, and the calibrated model's predictions against the
measurements. Reads results through the torch-free `snippets.results`; never imports
`snippets.bench` or torch.

Text from a results file (a device name) is drawn with math parsing off, so a `$` stays a `$`;
the SVG writer escapes `<` and `&`.
"""

from __future__ import annotations

import re

import numpy as np

from snippets import calibration
from snippets import results as res
from snippets.report import slug
from vis.svg import (
    BLUE,
    GREEN,
    GREY,
    INK,
    ORANGE,
    PURPLE,
    course_style,
    load_matplotlib,
    new_figure,
    plain_log_axis,
    plain_number,
    to_svg,
)

#: Results text is data, not markup: no mathtext for `$...$`, no LaTeX.
_PLAIN_TEXT = {"text.parse_math": False, "text.usetex": False}
#: A standalone SVG file (not inline in the site) gets a white page and dark ink.
STANDALONE_BACKGROUND, STANDALONE_INK = "#ffffff", "#1f2328"
MARKERS = {"eager": ("o", BLUE), "graph": ("s", GREEN), "compile": ("D", ORANGE)}


def _figure_name(prefix: str, device_name: str) -> str:
    return f"{prefix}-{re.sub(r'[^a-z0-9-]', '', slug(device_name)) or 'device'}".rstrip("-")


def batch_label(batches: list[int]) -> str:
    """'batch 1' for one batch, 'batch 1-256' for several."""
    lo, hi = min(batches), max(batches)
    return f"batch {lo}" if lo == hi else f"batch {lo}-{hi}"


def memory_roof(doc: dict) -> dict | None:
    """The bandwidth row the roofline's memory roof uses: copy (what the labs compare with),
    else triad, else the best kernel measured."""
    return (res.best(doc, "bandwidth", "GBps", kernel="copy") or res.best(doc, "bandwidth", "GBps", kernel="triad")
            or res.best(doc, "bandwidth", "GBps"))


def measured_roofline(doc: dict, name: str | None = None) -> str:
    """Measured ceilings (copy GB/s, best matmul TFLOP/s) and the measured decode points, beside
    the datasheet roofline when the device is known."""
    device = doc["device"]
    bw = memory_roof(doc)
    mm = res.best(doc, "matmul", "best_TFLOPS", dtype="bf16") or res.best(doc, "matmul", "best_TFLOPS")
    x = np.logspace(-1, 4, 200)
    with course_style(), load_matplotlib().rc_context(_PLAIN_TEXT):
        fig = new_figure(7.0, 4.2)
        ax = fig.add_subplot()
        if device.get("spec_bandwidth_GBps") and device.get("spec_dense_bf16_TFLOPS"):
            peak, sbw = device["spec_dense_bf16_TFLOPS"] * 1e12, device["spec_bandwidth_GBps"] * 1e9
            ax.loglog(x, np.minimum(peak, x * sbw) / 1e12, color=GREY, linestyle="--",
                      label=f"datasheet: {sbw / 1e9:,.0f} GB/s, {peak / 1e12:,.0f} TFLOPS dense bf16")
        if bw and mm:
            mpeak, mbw = mm["best_TFLOPS"] * 1e12, bw["GBps"] * 1e9
            ax.loglog(x, np.minimum(mpeak, x * mbw) / 1e12, color=INK,
                      label=f"measured: memory roof = {bw['kernel']} {mbw / 1e9:,.0f} GB/s, "
                            f"matmul {mpeak / 1e12:,.1f} TFLOP/s {mm['dtype']}")
        for mode, (marker, colour) in MARKERS.items():
            rows = [r for r in doc["decode"] if r["mode"] == mode]
            if rows:
                ax.plot([r["flops_per_step"] / r["bytes_per_step"] for r in rows],
                        [r["flops_per_step"] / r["median_s"] / 1e12 for r in rows],
                        marker=marker, color=colour, linestyle="none", markersize=6,
                        label=f"decode, {mode} ({batch_label([r['batch'] for r in rows])})")
        if doc.get("prefill"):
            rows = doc["prefill"]
            ax.plot([r["flops"] / (r["weight_bytes"] + r["cache_bytes"]) for r in rows], [r["TFLOPS"] for r in rows],
                    marker="^", color=PURPLE, linestyle="none", markersize=6,
                    label=f"prefill, batch 1 ({min(r['prompt_tokens'] for r in rows):,}-"
                          f"{max(r['prompt_tokens'] for r in rows):,} tokens)")
        ax.set_xlabel("arithmetic intensity (FLOP/byte)")
        ax.set_ylabel("TFLOP/s")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="lower right")
        ax.set_title(device["name"], loc="left")
        decode = doc["decode"][0] if doc["decode"] else None
        what = (f"decode steps of a {decode['model']}-shaped model at {decode['context']:,} tokens of context"
                if decode else "no decode steps")
        roof = f"{bw['kernel']} {bw['GBps']:,.0f} GB/s" if bw else "not measured"
        return to_svg(
            fig, name or _figure_name("measured", device["name"]),
            f"Measured roofline of {device['name']}",
            f"Roofline drawn from measurements: memory roof ({roof}), compute roof "
            f"{mm['best_TFLOPS'] if mm else 0:,.1f} TFLOP/s, with {what} placed on it.",
        )


def standalone_svg(svg: str) -> str:
    """An inline figure made fit to open on its own (any viewer, dark or light): an opaque white
    background, dark ink instead of the page's `currentColor`, and an XML prolog."""
    svg = svg.replace("currentColor", STANDALONE_INK)
    svg = svg.replace('class="course-figure"', f'class="course-figure" style="background:{STANDALONE_BACKGROUND}"', 1)
    svg = re.sub(r'style="max-width:100%;height:auto"\s*', "", svg, count=1)
    box = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg)
    if box:  # a size of its own: viewers without a page to fit default to tiny otherwise
        svg = svg.replace("<svg ", f'<svg width="{box.group(1)}pt" height="{box.group(2)}pt" ', 1)
    head_end = svg.index(">") + 1
    desc_end = svg.index("</desc>") + len("</desc>") if "</desc>" in svg else head_end
    background = f'\n <rect width="100%" height="100%" fill="{STANDALONE_BACKGROUND}"/>'
    return '<?xml version="1.0" encoding="utf-8"?>\n' + svg[:desc_end] + background + svg[desc_end:]


def decode_vs_prediction(doc: dict, name: str | None = None) -> str:
    """Measured decode step time vs batch, per mode, beside chapter 1's roofline bound."""
    rows = doc["decode"]
    first = rows[0]
    with course_style(), load_matplotlib().rc_context(_PLAIN_TEXT):
        fig = new_figure(7.0, 3.8)
        ax = fig.add_subplot()
        for mode, (marker, colour) in MARKERS.items():
            sel = sorted((r for r in rows if r["mode"] == mode), key=lambda r: r["batch"])
            if sel:
                ax.plot([r["batch"] for r in sel], [r["median_s"] * 1e3 for r in sel], marker=marker,
                        color=colour, label=f"measured, {mode}")
        bound = sorted({(r["batch"], r["predicted_s"]) for r in rows if r["predicted_s"]})
        if bound:
            ax.plot([b for b, _ in bound], [t * 1e3 for _, t in bound], color=INK, linestyle="--",
                    label="roofline bound (chapter 1)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        plain_log_axis(ax.xaxis)
        plain_log_axis(ax.yaxis)
        ax.set_xlabel("batch size (sequences)")
        ax.set_ylabel("ms per decode step")
        ax.legend(fontsize=8)
        ax.set_title(f"{first['model']}-shaped decode ({first['dtype']}), {first['context']:,} tokens of context, "
                     f"{doc['device']['name']}", loc="left", fontsize=9)
        return to_svg(
            fig, name or _figure_name("decode", doc["device"]["name"]),
            f"Measured decode step time vs batch on {doc['device']['name']}",
            "Measured milliseconds per decode step for each mode and batch size, against the roofline "
            "lower bound computed from the datasheet bandwidth and FLOP/s.",
        )


def _round_ticks(axis) -> None:
    """A log axis spanning little more than a decade, labelled at about six round numbers (80, 100,
    120...) in plain text instead of one power of ten."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator

    axis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(FuncFormatter(lambda value, _: plain_number(value)))
    axis.set_minor_locator(NullLocator())


def predicted_vs_measured(doc: dict, name: str | None = None) -> str:
    """The calibrated model (fixed cost + max(bytes / copy bandwidth, FLOPs / best matmul), fixed
    cost fitted on the two smallest points of each sweep) against the measurements: decode and
    prefill, fitted points hollow, held-out points filled, on the line of perfect prediction."""
    calibrations, notes = calibration.calibrate_document(doc)
    with course_style(), load_matplotlib().rc_context(_PLAIN_TEXT):
        fig = new_figure(6.0, 4.2)
        ax = fig.add_subplot()
        values = []
        for run, (marker, colour) in zip(calibrations, [("o", BLUE), ("^", PURPLE)]):
            for fitted in (True, False):
                sel = [p for p in run.predictions if p.fitted == fitted]
                if sel:
                    ax.plot([p.predicted_s * 1e3 for p in sel], [p.point.measured_s * 1e3 for p in sel],
                            marker=marker, linestyle="none", markersize=7, color=colour,
                            markerfacecolor="none" if fitted else colour,
                            label=f"{run.sweep}, {'fitted' if fitted else 'held out'}")
                    values += [p.predicted_s * 1e3 for p in sel] + [p.point.measured_s * 1e3 for p in sel]
        if values:
            lo, hi = min(values) / 1.3, max(values) * 1.3
            ax.plot([lo, hi], [lo, hi], color=INK, linestyle="--", linewidth=1, label="measured = predicted")
            ax.set_xscale("log")
            ax.set_yscale("log")
            if hi / lo < 30:  # within a decade or so a log axis has one labelled tick: label round numbers
                _round_ticks(ax.xaxis)
                _round_ticks(ax.yaxis)
            ax.legend(fontsize=8, loc="upper left")
        else:
            ax.text(0.5, 0.5, "; ".join(notes) or "nothing to calibrate", ha="center", va="center",
                    transform=ax.transAxes, fontsize=8, wrap=True)
        ax.set_xlabel("predicted ms per step")
        ax.set_ylabel("measured ms per step")
        ax.set_title(f"Calibrated model, {doc['device']['name']}", loc="left", fontsize=9)
        held = [p for run in calibrations for p in run.predictions if not p.fitted]
        worst = max((abs(p.residual_pct) for p in held), default=None)
        return to_svg(
            fig, name or _figure_name("calibrated", doc["device"]["name"]),
            f"Predicted vs measured step times on {doc['device']['name']}",
            "Each point is a measured decode step or prefill against the time predicted from the run's own "
            "copy bandwidth, best matmul and a fixed cost fitted on the two smallest points of each sweep"
            + (f"; the held-out points are within {worst:.0f} % of the prediction." if worst is not None else "."),
        )
