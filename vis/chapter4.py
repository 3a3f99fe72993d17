"""Figures for chapter 4, "Quantization". Each function returns an inline SVG."""

from __future__ import annotations

import numpy as np

from snippets import hardware, kv_cache, models, quant_formats, quant_measurements
from vis.svg import (
    BLUE,
    GREY,
    INK,
    ORANGE,
    course_style,
    dtype_colour,
    new_figure,
    plain_log_axis,
    to_svg,
)

FORMAT_COLOURS = {name: dtype_colour(name) for name in
                  ("bf16", "int8-channel", "fp8-tensor", "int4-g128", "int4-g64", "int4-g32")}


def bound_vs_measured(names: tuple[str, ...]) -> str:
    """Bars: the roofline bound and the published measurement of the rows `names` of
    quant_measurements.csv (all on one GPU with a known datasheet), with the fraction reached."""
    rows = [next(r for r in quant_measurements.all_measurements() if r.name == n) for n in names]
    bounds = [quant_measurements.bound_tokens_per_s(r) for r in rows]
    gpu = rows[0].spec_name
    with course_style():
        fig = new_figure(7.0, 3.6)
        ax = fig.add_subplot()
        y = np.arange(len(rows))[::-1]
        ax.barh(y + 0.2, bounds, height=0.38, color=GREY, alpha=0.45)  # the bound: datasheet bandwidth
        ax.barh(y - 0.2, [r.tokens_per_s for r in rows], height=0.38,
                color=[FORMAT_COLOURS[r.format] for r in rows])
        for yy, r, b in zip(y, rows, bounds):
            ax.text(b, yy + 0.2, f" bound {b:,.0f}", va="center", fontsize=8, color=INK)
            ax.text(r.tokens_per_s, yy - 0.2, f" measured {r.tokens_per_s:,.0f} ({r.tokens_per_s / b:.0%} of the bound)",
                    va="center", fontsize=8, color=INK)
        ax.set_yticks(y, [f"{r.technique}\n({r.format})" for r in rows])
        ax.set_xlim(0, max(bounds) * 1.45)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("tokens/s at batch 1")
        limit = f", power limited to {rows[0].power_limit_W:g} W" if rows[0].power_limit_W else ""
        ax.set_title(f"Published tokens/s against the roofline bound\n{rows[0].model} on an {gpu}{limit}",
                     loc="left", fontsize=9)
        return to_svg(
            fig, "quant-bound-vs-measured", f"Roofline bound vs published tokens/s per weight format, {rows[0].model}",
            "Pairs of horizontal bars, one pair per format: the bound grows as the bytes per weight shrink, the "
            "measured bar grows less, so the fraction of the bound falls from "
            f"{rows[0].tokens_per_s / bounds[0]:.0%} in bf16 to {rows[-1].tokens_per_s / bounds[-1]:.0%} in "
            f"{rows[-1].format}. Source: {rows[0].source.split(',')[0]}.",
        )


def ridges(accelerator: str, formats: tuple[str, ...], rows: int, cols: int) -> str:
    """The roofline in FLOP per *weight byte*, one ridge per format: a decode matmul at batch B does
    2B FLOPs per weight, so its intensity per byte is 2B / bytes_per_param, and the ridge batch
    (critical_batch) falls as the bytes shrink; fp8 compute raises the roof."""
    gpu = hardware.get(accelerator)
    batches = np.unique(np.round(np.logspace(0, np.log10(2048), 80)).astype(int))
    with course_style():
        fig = new_figure(7.0, 4.0)
        ax = fig.add_subplot()
        for name in formats:
            f = quant_formats.get(name)
            peak = gpu.peak_flops(f.compute_dtype)
            per_byte = f.bytes_per_param(rows, cols)
            attained = [min(peak, 2 * b / per_byte * gpu.bandwidth_Bps) / 1e12 for b in batches]
            colour = FORMAT_COLOURS[name]
            ax.loglog(batches, attained, color=colour, label=f"{name} ({per_byte:.3g} B/weight, {f.compute_dtype} math)")
            crit = quant_formats.critical_batch(gpu, f, rows, cols)
            ax.plot([crit], [peak / 1e12], "o", color=colour)
            ax.annotate(f"{crit:,.0f}", (crit, peak / 1e12), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=8, color=INK)
        ax.set_xlabel("batch (sequences decoded together)")
        ax.set_ylabel("attainable TFLOP/s (weight matmuls)")
        plain_log_axis(ax.xaxis)
        ax.legend(fontsize=8, loc="lower right")
        ax.set_title(f"{gpu.name}, a {rows:,} x {cols:,} weight matrix: the dot marks each format's critical batch",
                     loc="left", fontsize=9)
        return to_svg(
            fig, "quant-ridges", f"Decode matmul roofline per weight format on the {gpu.name}",
            "Log-log lines of attainable throughput against batch. Each format's line rises with the batch at "
            "a slope set by its bytes per weight and flattens at its compute roof: fewer bytes move the ridge "
            "to a smaller batch; fp8 math doubles the roof and so moves it back out.",
        )


def error_vs_group(errors: dict[str, list[tuple[int, float, float]]], shape: tuple[int, int]) -> str:
    """Relative RMS error of the weights and of the matmul output vs int4 group size, for matrices
    with and without outlier channels. `errors[label]` = [(group, weight error, output error)]."""
    with course_style():
        fig = new_figure(7.0, 3.6)
        ax = fig.add_subplot()
        for (label, points), colour in zip(errors.items(), (BLUE, ORANGE)):
            groups = [g for g, _, _ in points]
            ax.plot(groups, [100 * w for _, w, _ in points], "o-", color=colour, label=f"ordinary weights, {label}")
            ax.plot(groups, [100 * o for _, _, o in points], "s--", color=colour, linewidth=1.2,
                    label=f"matmul output, {label}")
        ax.set_xscale("log", base=2)
        ax.set_xticks(groups, [f"{g}" for g in groups])
        ax.minorticks_off()
        ax.set_ylim(bottom=0)
        ax.set_xlabel("int4 group size (weights per bf16 scale and zero-point)")
        ax.set_ylabel("relative RMS error (%)")
        ax.legend(fontsize=8, loc="upper left")
        ax.set_title(f"A seeded {shape[0]} x {shape[1]} matrix, quantized on the CPU at build time",
                     loc="left", fontsize=9)
        return to_svg(
            fig, "quant-error-vs-group", "int4 quantization error vs group size",
            "Lines of relative error against group size (the ordinary weights' own error, and the matmul "
            "output's): the error grows with the group, because one scale must stretch over more weights; with "
            "a few large outlier input columns it grows faster, since every group that contains an outlier "
            f"gets a coarse grid: at group {groups[-1]} the ordinary weights' error is "
            + " against ".join(f"{100 * points[-1][1]:.0f} % ({label})" for label, points in errors.items()) + ".",
        )


def max_batch_kv(accelerator: str, model: str, weight_dtype: str, kv_dtypes: tuple[str, ...]) -> str:
    """Largest batch that fits vs context, one line per cache dtype."""
    gpu, m = hardware.get(accelerator), models.get(model)
    ctx = np.unique(np.round(np.logspace(np.log10(1024), np.log10(m.max_position_embeddings), 50)).astype(int))
    with course_style():
        fig = new_figure(7.0, 3.6)
        ax = fig.add_subplot()
        last = {}
        for kv_dtype in kv_dtypes:
            colour = dtype_colour(kv_dtype)
            fits = [kv_cache.max_batch(m, gpu, int(c), weight_dtype, kv_dtype) for c in ctx]
            last[kv_dtype] = fits[-1]
            ax.loglog(ctx, [b if b >= 1 else np.nan for b in fits], color=colour, label=f"{kv_dtype} cache")
        ax.set_xlabel("context per sequence (tokens)")
        ax.set_ylabel("largest batch that fits")
        plain_log_axis(ax.xaxis)
        plain_log_axis(ax.yaxis)
        ax.legend(fontsize=8)
        ax.set_title("Fewer bytes per cached element, a larger batch at every context\n"
                     f"{m.name}, {weight_dtype} weights, on the {gpu.name} (activations ignored)", loc="left",
                     fontsize=9)
        return to_svg(
            fig, "quant-kv-max-batch", f"Largest batch vs context with a 16-bit and an 8-bit KV cache, {m.name}",
            f"{len(kv_dtypes)} falling log-log lines, one per cache dtype: the smaller the cache's elements, the "
            f"larger the batch at every context; at {int(ctx[-1]):,} tokens "
            + ", ".join(f"the {d} cache still fits {b:,} sequence{'s' if b != 1 else ''}" for d, b in last.items()) + ".",
        )
