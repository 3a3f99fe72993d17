"""Figures for chapter 1, "Memory-bound inference". Each function returns an inline SVG."""

from __future__ import annotations

import numpy as np

from snippets import hardware, kv_cache, models, roofline
from vis.svg import BLUE, GREEN, GREY, INK, ORANGE, PURPLE, course_style, new_figure, to_svg
from vis.svg import plain_log_axis as integer_axis


def memory_bandwidth_bottleneck(accelerator: str, model: str, dtype: str, prompt_tokens: int) -> str:
    """One decode step and one prefill, to scale: time to load the weights vs time to compute."""
    gpu, m = hardware.get(accelerator), models.get(model)
    decode = roofline.decode_step(m, batch=1, context=0, weight_dtype=dtype)
    pre = roofline.prefill(m, prompt_tokens, weight_dtype=dtype)
    rows = [
        ("Decode, 1 token", decode),
        (f"Prefill, {prompt_tokens:,}-token prompt", pre),
    ]
    with course_style():
        fig = new_figure(7.0, 3.4)
        axes = fig.subplots(2, 1)
        for ax, (label, cost) in zip(axes, rows):
            load_ms = cost.memory_time_s(gpu) * 1e3
            comp_ms = cost.compute_time_s(gpu) * 1e3
            ax.barh([1], [load_ms], color=BLUE, height=0.6)
            ax.barh([0], [comp_ms], color=ORANGE, height=0.6)
            moved = "load weights\n(HBM)" if not cost.activation_bytes else "memory traffic\n(HBM)"
            ax.set_yticks([1, 0], [moved, "compute\n(tensor cores)"])
            ax.set_xlim(0, max(load_ms, comp_ms) * 1.32)
            ax.grid(axis="y", visible=False)
            for y, value in ((1, load_ms), (0, comp_ms)):
                ax.text(value, y, f"  {value:,.2f} ms" if value >= 0.1 else f"  {value:.3f} ms", va="center",
                        color=INK)
            bound = "memory" if cost.is_memory_bound(gpu) else "compute"
            share = min(load_ms, comp_ms) / max(load_ms, comp_ms)
            ax.set_title(
                f"{label}: {bound}-bound; the other unit is busy {share:.1%} of the step",
                loc="left", fontsize=10,
            )
            ax.set_xlabel("milliseconds")
        fig.suptitle(f"{m.name}, {dtype} weights, on the {gpu.name}", fontsize=11)
        return to_svg(
            fig, "memory-bandwidth-bottleneck",
            f"One decode step vs one prefill of {m.name} on the {gpu.name}, to scale",
            f"Decoding one token takes {decode.memory_time_s(gpu)*1e3:.2f} ms to load the weights "
            f"but only {decode.compute_time_s(gpu)*1e3:.3f} ms of compute. Prefilling "
            f"{prompt_tokens:,} tokens takes {pre.compute_time_s(gpu)*1e3:.0f} ms of compute "
            f"and {pre.memory_time_s(gpu)*1e3:.2f} ms of memory traffic (weights, activations and cache writes).",
        )


def roofline_chart(accelerator: str, model: str, dtype: str, batches: tuple[int, ...], prompt_tokens: int,
                   context: int) -> str:
    """The accelerator's roofline with decode (batch 1, 8, 64) and a long prefill placed on it."""
    gpu, m = hardware.get(accelerator), models.get(model)
    peak, bw = gpu.peak_flops("bf16"), gpu.bandwidth_Bps
    ridge = gpu.ridge_point("bf16")
    x = np.logspace(-1, 4.3, 200)
    with course_style():
        fig = new_figure(7.0, 4.4)
        ax = fig.add_subplot()
        ax.loglog(x, np.minimum(peak, x * bw) / 1e12, color=INK, linewidth=2)
        ax.axvline(ridge, color=GREY, linestyle=":", linewidth=1)
        ax.text(ridge * 1.1, peak / 1e12 * 0.04, f"ridge\n{ridge:.0f} FLOP/byte", color=INK)
        ax.text(0.12, 0.3 * bw / 1e12 * 8, f"memory roof:\n{gpu.memory_bandwidth_GBps:,.0f} GB/s x intensity",
                color=INK, fontsize=9)
        ax.text(ridge / 1.2, peak / 1e12 * 1.3, f"compute roof: {peak/1e12:,.0f} TFLOPS dense bf16",
                color=INK, fontsize=9, ha="right")
        fits = kv_cache.max_batch(m, gpu, context, dtype, dtype)  # sequences of `context` tokens that fit
        for batch, colour in zip(batches, (BLUE, GREEN, PURPLE)):
            # the hollow square is drawn larger and below the filled circle, so a point at the same
            # intensity (batch 1) stays visible inside it
            for ctx, marker, suffix, size, z in ((0, "o", "weights only", 6, 3),
                                                 (context, "s", f"+ KV at {context:,} tokens", 11, 2)):
                cost = roofline.decode_step(m, batch, ctx, weight_dtype=dtype)
                y = roofline.attainable_flops(cost.intensity, peak, bw) / 1e12
                if ctx and batch > fits:  # not attainable: the cache does not fit
                    marker, suffix = "x", f"{suffix}: does not fit (at most {fits})"
                ax.plot([cost.intensity], [y], marker=marker, color=colour, markersize=size, zorder=z,
                        markerfacecolor=colour if ctx == 0 else "none", linestyle="none",
                        label=f"decode, batch {batch}, {suffix}")
        pre = roofline.prefill(m, prompt_tokens, weight_dtype=dtype)
        y = roofline.attainable_flops(pre.intensity, peak, bw) / 1e12
        ax.plot([pre.intensity], [y], marker="D", color=ORANGE, markersize=8, linestyle="none",
                label=f"prefill, {prompt_tokens:,}-token prompt")
        ax.set_xlabel("arithmetic intensity (FLOP/byte)")
        ax.set_ylabel("attainable TFLOP/s")
        ax.set_ylim(0.05, peak / 1e12 * 3)
        ax.legend(loc="lower right", fontsize=8)
        ax.set_title(f"Decode sits on the memory roof, a long prefill on the compute roof\n"
                     f"Roofline of the {gpu.name}, {m.name} in {dtype}", loc="left", fontsize=10)
        return to_svg(
            fig, "roofline-chart", f"Roofline of the {gpu.name} with decode and prefill of {m.name}",
            f"Log-log roofline: the memory roof rises at {gpu.memory_bandwidth_GBps:,.0f} GB/s until the "
            f"ridge at {ridge:.0f} FLOP/byte, then the compute roof is flat at {peak/1e12:,.0f} TFLOPS. "
            f"Decode at batch {', '.join(map(str, batches))} sits on the memory roof; the prefill of "
            f"{prompt_tokens:,} tokens sits on the compute roof. With a {context:,}-token cache per sequence at "
            f"most {fits} sequences fit, so "
            + (", ".join(f"batch {b}" for b in batches if b > fits) or "no batch shown")
            + " is marked with a cross: it cannot run.",
        )


def batching(accelerator: str, model: str, dtype: str, context: int, max_batch: int) -> str:
    """Tokens/s and per-token latency vs batch size, with and without the KV-cache reads."""
    gpu, m = hardware.get(accelerator), models.get(model)
    batches = np.unique(np.round(np.logspace(0, np.log10(max_batch), 60)).astype(int))
    fits = kv_cache.max_batch(m, gpu, context, dtype, dtype)
    weights_only = [roofline.decode_step(m, int(b), 0, dtype) for b in batches]
    with_kv = [roofline.decode_step(m, int(b), context, dtype) for b in batches]
    fit = batches <= fits
    kv_label = f"+ KV reads at {context:,} tokens"
    with course_style():
        fig = new_figure(7.4, 3.6)
        left, right = fig.subplots(1, 2)
        for ax, value in ((left, lambda c: c.tokens_per_s(gpu)), (right, lambda c: c.time_s(gpu) * 1e3)):
            ax.loglog(batches, [value(c) for c in weights_only], color=BLUE, label="weights only")
            ax.loglog(batches[fit], [value(c) for c, f in zip(with_kv, fit) if f], color=ORANGE, label=kv_label)
            ax.loglog(batches[~fit], [value(c) for c, f in zip(with_kv, fit) if not f], color=GREY,
                      linestyle=":", label=f"{kv_label}: does not fit")
            ax.axvline(fits, color=GREY, linestyle="--", linewidth=1)
            ax.set_xlabel("batch size (sequences)")
            integer_axis(ax.xaxis)
        left.text(fits * 1.15, 0.04, f"weights + KV cache fill\n{gpu.usable_memory_bytes() / 2**30:.1f} GiB "
                  f"at batch {fits}", fontsize=8,
                  transform=left.get_xaxis_transform())
        left.set_ylabel("tokens/s, all sequences (upper bound)")
        right.set_ylabel("ms per step = per-token latency")
        left.legend(fontsize=8, loc="upper left")
        fig.suptitle(f"{m.name} ({dtype}) decode on the {gpu.name}: roofline bounds", fontsize=11)
        return to_svg(
            fig, "batching",
            f"Batching {m.name} decode on the {gpu.name}: throughput and latency vs batch size",
            f"With weights only, throughput grows almost linearly with batch while latency stays flat up to "
            f"batch {roofline.critical_batch_size(gpu, dtype):.0f}. With the KV cache read at {context:,} tokens "
            f"of context, latency grows with batch from the start and throughput saturates; the cache "
            f"fills memory at batch {fits}; larger batches are drawn dotted and grey: they do not fit.",
        )


def prefill_vs_decode(accelerator: str, model: str, dtype: str, max_tokens: int) -> str:
    """Time per step vs tokens processed at once: flat while memory-bound, linear once compute-bound."""
    gpu, m = hardware.get(accelerator), models.get(model)
    tokens = np.unique(np.round(np.logspace(0, np.log10(max_tokens), 80)).astype(int))
    costs = [roofline.prefill(m, int(t), dtype) for t in tokens]
    with course_style():
        fig = new_figure(7.0, 3.8)
        ax = fig.add_subplot()
        ax.loglog(tokens, [c.time_s(gpu) * 1e3 for c in costs], color=INK, label="step time (max of the two)")
        ax.loglog(tokens, [c.memory_time_s(gpu) * 1e3 for c in costs], color=BLUE, linestyle="--", label="memory time")
        ax.loglog(tokens, [c.compute_time_s(gpu) * 1e3 for c in costs], color=ORANGE, linestyle="--", label="compute time")
        knee = roofline.prefill_knee_tokens(m, gpu, dtype)
        ax.axvline(knee, color=GREY, linestyle=":", linewidth=1)
        ax.text(knee * 1.1, costs[0].time_s(gpu) * 1e3 * 0.3, f"{knee:,} tokens:\ncompute takes over", fontsize=8)
        ax.annotate("decode: 1 token", (1, costs[0].time_s(gpu) * 1e3), textcoords="offset points",
                    xytext=(10, 18), fontsize=9, arrowprops={"arrowstyle": "->", "color": GREY})
        ax.annotate(f"prefill: {max_tokens:,} tokens", (tokens[-1], costs[-1].time_s(gpu) * 1e3),
                    textcoords="offset points", xytext=(-120, 0), fontsize=9,
                    arrowprops={"arrowstyle": "->", "color": GREY})
        ax.set_xlabel("tokens processed in one forward step")
        integer_axis(ax.xaxis)
        ax.set_ylabel("ms per step (lower bound)")
        ax.legend(fontsize=8, loc="upper left")
        ax.set_title(f"{m.name} ({dtype}) on the {gpu.name}", loc="left")
        return to_svg(
            fig, "prefill-vs-decode", f"Step time vs tokens per step for {m.name} on the {gpu.name}",
            f"The step time starts at the weight-loading time, {costs[0].memory_time_s(gpu)*1e3:.2f} ms, and grows "
            f"only slowly (the activations) until {knee:,} tokens per step, then linearly with the tokens: decode "
            f"sits at the flat, memory-bound end, a long prefill at the steep, compute-bound end.",
        )
