"""Figures from benchmark results: a device's measured roofline beside its datasheet roofline."""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import ScalarFormatter

from snippets.bench import results as res
from snippets.report import slug
from vis.svg import BLUE, GREEN, GREY, INK, ORANGE, course_style, new_figure, to_svg


def measured_roofline(doc: dict, name: str | None = None) -> str:
    """Measured ceilings (best copy/triad GB/s, best matmul TFLOP/s) and the measured decode
    points, beside the datasheet roofline when the device is known."""
    device = doc["device"]
    bw = res.best(doc, "bandwidth", "GBps", kernel="triad") or res.best(doc, "bandwidth", "GBps")
    mm = res.best(doc, "matmul", "best_TFLOPS", dtype="bf16") or res.best(doc, "matmul", "best_TFLOPS")
    x = np.logspace(-1, 4, 200)
    with course_style():
        fig = new_figure(7.0, 4.2)
        ax = fig.add_subplot()
        if device.get("spec_bandwidth_GBps") and device.get("spec_dense_bf16_TFLOPS"):
            peak, sbw = device["spec_dense_bf16_TFLOPS"] * 1e12, device["spec_bandwidth_GBps"] * 1e9
            ax.loglog(x, np.minimum(peak, x * sbw) / 1e12, color=GREY, linestyle="--",
                      label=f"datasheet: {sbw / 1e9:,.0f} GB/s, {peak / 1e12:,.0f} TFLOPS dense bf16")
        if bw and mm:
            mpeak, mbw = mm["best_TFLOPS"] * 1e12, bw["GBps"] * 1e9
            ax.loglog(x, np.minimum(mpeak, x * mbw) / 1e12, color=INK,
                      label=f"measured: {bw['kernel']} {mbw / 1e9:,.0f} GB/s, matmul {mpeak / 1e12:,.1f} TFLOP/s {mm['dtype']}")
        markers = {"eager": ("o", BLUE), "graph": ("s", GREEN), "compile": ("D", ORANGE)}
        for mode, (marker, colour) in markers.items():
            rows = [r for r in doc["decode"] if r["mode"] == mode]
            if rows:
                ax.plot([r["flops_per_step"] / r["bytes_per_step"] for r in rows],
                        [r["flops_per_step"] / r["median_s"] / 1e12 for r in rows],
                        marker=marker, color=colour, linestyle="none", markersize=6,
                        label=f"decode, {mode} (batch {rows[0]['batch']}-{rows[-1]['batch']})")
        ax.set_xlabel("arithmetic intensity (FLOP/byte)")
        ax.set_ylabel("TFLOP/s")
        ax.legend(fontsize=7, loc="lower right")
        ax.set_title(device["name"], loc="left")
        decode = doc["decode"][0] if doc["decode"] else None
        what = (f"decode steps of a {decode['model']}-shaped model at {decode['context']:,} tokens of context"
                if decode else "no decode steps")
        return to_svg(
            fig, name or f"measured-{slug(device['name'])}",
            f"Measured roofline of {device['name']}",
            f"Roofline drawn from measurements: memory roof {bw['GBps'] if bw else 0:,.0f} GB/s, compute roof "
            f"{mm['best_TFLOPS'] if mm else 0:,.1f} TFLOP/s, with {what} placed on it.",
        )


def decode_vs_prediction(doc: dict, name: str | None = None) -> str:
    """Measured decode step time vs batch, per mode, beside chapter 1's roofline bound."""
    rows = doc["decode"]
    first = rows[0]
    with course_style():
        fig = new_figure(7.0, 3.8)
        ax = fig.add_subplot()
        markers = {"eager": ("o", BLUE), "graph": ("s", GREEN), "compile": ("D", ORANGE)}
        for mode, (marker, colour) in markers.items():
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
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(ScalarFormatter())
        ax.set_xlabel("batch size (sequences)")
        ax.set_ylabel("ms per decode step")
        ax.legend(fontsize=8)
        ax.set_title(f"{first['model']}-shaped decode ({first['dtype']}), {first['context']:,} tokens of context, "
                     f"{doc['device']['name']}", loc="left", fontsize=9)
        return to_svg(
            fig, name or f"decode-{slug(doc['device']['name'])}",
            f"Measured decode step time vs batch on {doc['device']['name']}",
            "Measured milliseconds per decode step for each mode and batch size, against the roofline "
            "lower bound computed from the datasheet bandwidth and FLOP/s.",
        )
