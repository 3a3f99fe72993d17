"""Figures for chapter 2, "The KV cache". Each function returns an inline SVG."""

from __future__ import annotations

import numpy as np

from snippets import hardware, kv_cache, models, roofline
from snippets.units import GiB, KiB
from vis.svg import BLUE, GREEN, GREY, INK, ORANGE, PURPLE, course_style, new_figure, plain_log_axis, to_svg

KIND_COLOURS = {"MHA": ORANGE, "GQA": BLUE, "MLA": GREEN}
SIZE_MODELS = ("Llama-2-7B", "Llama-3.1-8B", "Qwen2.5-7B", "Gemma-2-9B", "Llama-3.1-70B", "DeepSeek-V3")


def bytes_per_token(dtype: str) -> str:
    """KV-cache KiB per token for every model in the data, coloured by attention kind."""
    ms = sorted(models.all_models(), key=lambda m: kv_cache.bytes_per_token(m, dtype))
    values = [kv_cache.bytes_per_token(m, dtype) / KiB for m in ms]
    with course_style():
        fig = new_figure(7.0, 5.6)
        ax = fig.add_subplot()
        ax.barh([m.name for m in ms], values, color=[KIND_COLOURS[m.attention_kind] for m in ms])
        for y, (m, v) in enumerate(zip(ms, values)):
            ax.text(v, y, f" {v:,.0f} ({m.n_layers}×{m.n_kv_heads if m.attention_kind != 'MLA' else 1}"
                    f"×{m.head_dim if m.attention_kind != 'MLA' else m.kv_lora_rank + m.qk_rope_head_dim})",
                    va="center", fontsize=8, color=INK)
        ax.set_xscale("log")
        ax.set_xlim(min(values) / 1.5, max(values) * 8)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(f"KiB of KV cache per token ({dtype}), log scale")
        handles = [ax.bar([0], [0], color=c, label=k) for k, c in KIND_COLOURS.items()]
        ax.legend(handles=handles, loc="lower right", fontsize=8)
        ax.set_title("Bytes cached per token: layers × KV heads × head_dim (× 2 for K and V)", loc="left", fontsize=10)
        return to_svg(
            fig, "kv-bytes-per-token", f"KV-cache bytes per token for {len(ms)} models in {dtype}",
            f"Horizontal bars, log scale. Smallest: {ms[0].name} at {values[0]:,.0f} KiB per token; largest: "
            f"{ms[-1].name} at {values[-1]:,.0f} KiB. Multi-head attention models tend to need the most; "
            "grouped-query attention divides the cache by the group size; DeepSeek-V3's latent attention caches "
            "one compressed vector per layer.",
        )


def cache_vs_context(accelerator: str, names: tuple[str, ...], dtype: str) -> str:
    """Cache size of one sequence vs context length, against the GPU's memory."""
    gpu = hardware.get(accelerator)
    with course_style():
        fig = new_figure(7.0, 4.0)
        ax = fig.add_subplot()
        for name, colour in zip(names, (ORANGE, BLUE, PURPLE, GREY, INK, GREEN)):
            m = models.get(name)
            ctx = np.unique(np.round(np.logspace(np.log10(256), np.log10(m.max_position_embeddings), 40)).astype(int))
            ax.loglog(ctx, [kv_cache.bytes_per_sequence(m, int(c), dtype) / GiB for c in ctx], color=colour,
                      label=f"{name} ({m.attention_kind})")
        usable = gpu.usable_memory_bytes() / GiB
        ax.axhline(usable, color=GREY, linestyle="--", linewidth=1)
        ax.text(300, usable * 1.15, f"{gpu.name}: {usable:.1f} GiB usable of {gpu.memory_GB:g} GiB",
                fontsize=8, color=INK)
        ax.set_xlabel("context length (tokens)")
        ax.set_ylabel(f"KV cache of one sequence (GiB, {dtype})")
        ax.legend(fontsize=8, loc="lower right")
        ax.set_title(f"One sequence's KV cache grows in proportion to its context ({dtype})", loc="left",
                     fontsize=10)
        return to_svg(
            fig, "cache-vs-context", f"KV-cache size of one sequence vs context, against the {gpu.name}'s memory",
            "Log-log lines, one per model, growing linearly with context up to each model's maximum, except "
            "where a sliding window caps some layers (Gemma-2 bends at its window). The weights are not counted. "
            f"A dashed line marks the {usable:.1f} GiB a program can allocate on the {gpu.name}.",
        )


def max_batch_vs_context(accelerator: str, names: tuple[str, ...], weight_dtype: str) -> str:
    """Largest batch whose cache fits beside the weights, for fp16 and fp8 caches."""
    gpu = hardware.get(accelerator)
    with course_style():
        fig = new_figure(7.0, 4.0)
        ax = fig.add_subplot()
        for name, colour in zip(names, (ORANGE, BLUE, PURPLE)):
            m = models.get(name)
            ctx = np.unique(np.round(np.logspace(np.log10(512), np.log10(m.max_position_embeddings), 40)).astype(int))
            for kv_dtype, style in (("fp16", "-"), ("fp8", "--")):
                fits = [kv_cache.max_batch(m, gpu, int(c), weight_dtype, kv_dtype) for c in ctx]
                batch = [b if b >= 1 else np.nan for b in fits]  # no point where not one sequence fits
                ax.loglog(ctx, batch, color=colour, linestyle=style, label=f"{name}, {kv_dtype} cache")
        ax.set_xlabel("context length per sequence (tokens)")
        ax.set_ylabel("largest batch that fits")
        plain_log_axis(ax.yaxis)
        ax.legend(fontsize=8)
        ax.set_title(f"An fp8 cache fits at least twice the batch of an fp16 one, at every context\n"
                     f"{gpu.name}, {weight_dtype} weights, activations ignored", loc="left", fontsize=9)
        return to_svg(
            fig, "max-batch-vs-context", f"Largest batch vs context on the {gpu.name}",
            "Log-log lines: the largest batch falls in inverse proportion to the context. An fp8 cache at least "
            "doubles it at every context. The GQA models fit several times more sequences than the MHA Llama-2-7B.",
        )


def step_breakdown(accelerator: str, model: str, dtype: str, batches: tuple[int, ...]) -> str:
    """Decode step time (bound) split into weight reads and cache reads, vs context."""
    gpu, m = hardware.get(accelerator), models.get(model)
    ctx = np.unique(np.round(np.logspace(np.log10(128), np.log10(m.max_position_embeddings), 60)).astype(int))
    with course_style():
        fig = new_figure(7.4, 3.6)
        axes = fig.subplots(1, len(batches), sharey=False)
        for ax, batch in zip(np.atleast_1d(axes), batches):
            costs = [roofline.decode_step(m, batch, int(c), dtype, dtype) for c in ctx]
            w = np.array([c.weight_bytes / gpu.bandwidth_Bps * 1e3 for c in costs])
            kv = np.array([c.kv_bytes / gpu.bandwidth_Bps * 1e3 for c in costs])
            ax.stackplot(ctx, w, kv, colors=[BLUE, ORANGE], labels=["weight reads", "KV-cache reads"], alpha=0.9)
            ax.set_xscale("log")
            fits = kv_cache.max_batch(m, gpu, int(ctx[0]), dtype, dtype) >= batch
            limit = max((int(c) for c in ctx if kv_cache.max_batch(m, gpu, int(c), dtype, dtype) >= batch), default=None)
            if limit and limit < ctx[-1] and fits:
                ax.axvline(limit, color=INK, linestyle=":", linewidth=1)
                ax.text(limit * 0.9, ax.get_ylim()[1] * 0.9, "memory\nfull", ha="right", va="top", fontsize=8)
            cross = roofline.cache_outweighs_weights_context(m, batch, dtype, dtype)
            ax.set_title(f"batch {batch}" + (f": cache dominates beyond {cross:,} tokens" if cross else ""),
                         loc="left", fontsize=9)
            ax.set_xlabel("context per sequence (tokens)")
        np.atleast_1d(axes)[0].set_ylabel("ms per step (memory-bound floor)")
        np.atleast_1d(axes)[0].legend(fontsize=8, loc="upper left")
        fig.suptitle(f"Cache reads overtake weight reads at long context, sooner at a larger batch\n"
                     f"{m.name} ({dtype}) decode on the {gpu.name}", fontsize=9)
        return to_svg(
            fig, "step-breakdown", f"Decode step time split into weight and KV-cache reads, {m.name} on the {gpu.name}",
            "Stacked areas against context length: the weight-read time is constant, the cache-read time grows "
            "linearly with context and with batch, and overtakes the weights at long context, sooner for "
            "larger batches.",
        )


def measured_generation(demo, model) -> str:
    """Measured time per generated token with and without the cache (a snippets.transformer
    CacheDemo), against `model` (a StepModel fitted on the cached run and the first half of the
    uncached one; the second half, shaded, is a prediction)."""
    x = np.arange(demo.prompt_tokens, demo.prompt_tokens + demo.new_tokens)[1:]
    half = len(demo.uncached_s) // 2
    with course_style():
        fig = new_figure(7.0, 3.6)
        ax = fig.add_subplot()
        for label, seconds, flops, colour in (
            ("without cache", demo.uncached_s, demo.uncached_flops, ORANGE),
            ("with cache", demo.cached_s, demo.cached_flops, BLUE),
        ):
            ax.plot(x, np.array(seconds[1:]) * 1e3, "o-", color=colour, linewidth=0.8, markersize=2,
                    label=f"{label}, measured")  # a measurement is drawn with markers, a model as a dashed line
            fitted = "fitted on all of it" if label == "with cache" else "fitted on the first half"
            ax.plot(x, [model.predict_s(f) * 1e3 for f in flops[1:]], color=colour, linestyle="--", linewidth=1.5,
                    label=f"{label}, model ({fitted})")
        ax.axvspan(x[half], x[-1], color=GREY, alpha=0.15, linewidth=0)
        ax.text(x[half], 0.97, " predicted, not fitted", transform=ax.get_xaxis_transform(), va="top", fontsize=8,
                color=INK)
        ax.set_xlabel("sequence length so far (tokens)")
        ax.set_ylabel("ms per generated token")
        ax.legend(fontsize=8, loc="upper left")
        c = demo.cfg
        ax.set_title("Without a cache each token costs more as the sequence grows; with one it stays flat\n"
                     f"{demo.device.upper()}, {demo.dtype}: {c.n_layers} layers, d_model {c.d_model}, {c.n_heads} heads / "
                     f"{c.n_kv_heads} KV heads; predicted = {model.fixed_s * 1e3:.2f} ms + FLOPs at "
                     f"{model.FLOP_per_s / 1e9:.0f} GFLOP/s", loc="left", fontsize=8)
        return to_svg(
            fig, "measured-generation", "Measured time per token with and without a KV cache",
            "Without the cache the time per token grows with the sequence, because every step recomputes K "
            "and V for all earlier tokens; with the cache it stays flat (each cached step attends over the whole "
            "pre-allocated cache, masked, so its attention does not grow either). Dashed lines: a fixed cost per step "
            "plus each step's FLOPs at one rate, fitted on the cached run and the first half of the uncached "
            "run; the shaded second half is predicted, not fitted. This figure is a live measurement made when the site was built.",
        )
