"""Figures for chapter 6, "Attention at long context". Each function returns an inline SVG."""

from __future__ import annotations

import numpy as np

from snippets import attention, hardware, kv_cache, models, roofline
from snippets.units import GB, KiB
from vis.svg import BLUE, GREEN, GREY, INK, ORANGE, PURPLE, course_style, new_figure, plain_log_axis, to_svg


def attention_share(accelerator: str, model: str, dtype: str, batches: tuple[int, ...], mla_models: tuple[str, ...]) -> str:
    """Attention's share of a decode step's time bound against context, one line per batch, each
    part at its own roof; the context where the cache outweighs the weights marked on each. A
    batch's line stops at the longest context at which its cache fits beside the weights
    (kv_cache.max_batch)."""
    gpu, m = hardware.get(accelerator), models.get(model)
    contexts = np.unique(np.round(np.logspace(np.log10(256), np.log10(m.max_position_embeddings), 80)).astype(int))
    colours = (BLUE, ORANGE, GREEN, PURPLE)
    with course_style():
        fig = new_figure(7.0, 3.8)
        ax = fig.add_subplot()
        crossings, ends = [], []
        for batch, colour in zip(batches, colours):
            limit = kv_cache.max_context(m, gpu, batch, dtype, dtype)  # the line stops where the batch stops fitting
            fitting = np.array([c for c in contexts if c < limit] + [limit])
            shares = [attention.decode_share(m, batch, int(c), dtype).time_share(gpu, dtype) for c in fitting]
            ax.plot(fitting, np.array(shares) * 100, color=colour, label=f"{m.name}, batch {batch}")
            if fitting[-1] < contexts[-1]:
                ends.append((batch, int(fitting[-1]), shares[-1]))
                ax.plot([fitting[-1]], [shares[-1] * 100], "|", color=colour, markersize=10)
                ax.annotate(f"{batch} sequences fit\nup to {int(fitting[-1]):,} tokens", (fitting[-1], shares[-1] * 100),
                            textcoords="offset points", xytext=(6, -22), ha="left", fontsize=8)
            cross = attention.crossover_context(m, batch, dtype)
            if cross is not None:
                crossings.append((batch, cross))
                ax.plot([cross], [50], "o", color=colour, markersize=5)
                ax.annotate(f"cache = weights\nat {cross:,} tokens", (cross, 50), textcoords="offset points",
                            xytext=(-8, 10) if batch > 1 else (-8, -30), ha="right", fontsize=8)
        ax.axhline(50, color=GREY, linestyle=":", linewidth=1)
        ax.set_xscale("log", base=2)
        plain_log_axis(ax.xaxis)
        ax.set_ylim(0, 100)
        ax.set_xlabel("context: tokens each sequence attends to (log)")
        ax.set_ylabel("attention's share of the step (%)")
        ax.legend(fontsize=8, loc="upper left")
        ax.set_title("Decode attention takes over the step as the context grows, sooner at a larger batch\n"
                     f"{m.name}, {dtype} weights and cache, {gpu.name}: time bounds, each part at its own roof",
                     loc="left", fontsize=9)
        mla_text = "; ".join(f"{name}'s MLA, absorbed, reads {kv_cache.bytes_per_token(models.get(name), dtype) / KiB:.0f} KiB "
                             f"a token at {kv_cache.attention_intensity(models.get(name), dtype):.0f} FLOP/byte"
                             for name in mla_models)
        return to_svg(
            fig, "attention-share", f"Attention's share of a decode step against context, {m.name} on the {gpu.name}",
            "Lines rise from near 0 at short contexts towards 100 % at the longest. "
            + " ".join(f"At batch {b} the cache read equals the weight read at {c:,} tokens." for b, c in crossings)
            + " ".join(f" The batch-{b} line stops at {c:,} tokens ({s:.0%}): beyond that its cache does not fit "
                       f"beside the weights on the {gpu.name}." for b, c, s in ends)
            + f" Every point is memory-bound: attention's intensity is {kv_cache.attention_intensity(m, dtype):.0f} "
            f"FLOP/byte, the GQA group size, whatever the batch. For comparison, {mla_text}.",
        )


def naive_vs_tiled(accelerator: str, model: str, sram_sizes_KiB: tuple[int, ...]) -> str:
    """HBM traffic of one layer's causal prefill attention against prompt length: naive (score
    matrix written and read back) against tiled at several SRAM sizes, with the traffic the
    layer's FLOPs take as long as (compute time x bandwidth) for reference."""
    gpu, m = hardware.get(accelerator), models.get(model)
    tokens = np.unique(np.round(np.logspace(np.log10(512), np.log10(m.max_position_embeddings), 40)).astype(int))
    naive = np.array([m.n_heads * attention.naive_bytes_per_head(int(n), int(n), m.head_dim, 2) for n in tokens]) / GB
    flops = np.array([m.n_heads * attention.prefill_flops_per_head(int(n), m.head_dim) for n in tokens])
    balance = flops / gpu.peak_flops("bf16") * gpu.bandwidth_Bps / GB
    with course_style():
        fig = new_figure(7.0, 3.9)
        ax = fig.add_subplot()
        ax.plot(tokens, naive, color=ORANGE, label="naive: scores written, read, written, read")
        tiled_last = {}
        by_rows: dict[int, list[int]] = {}  # SRAM sizes with the same query-block rows draw one line
        for size in sram_sizes_KiB:
            by_rows.setdefault(attention.q_block_rows(m.head_dim, size * KiB, 2), []).append(size)
        for (rows, sizes), style in zip(sorted(by_rows.items()), (":", "--", "-")):
            tiled = np.array([m.n_heads * attention.tiled_bytes_per_head(int(n), int(n), m.head_dim, 2, sizes[0] * KiB, True)
                              for n in tokens]) / GB
            names = " or ".join(f"{s}" for s in sizes)
            tiled_last[f"{names} KiB ({rows}-row query blocks)"] = tiled[-1]
            ax.plot(tokens, tiled, color=BLUE, linestyle=style, linewidth=1.6,
                    label=f"tiled, {names} KiB SRAM: query blocks of {rows} rows")
        group = m.n_heads // m.n_kv_heads
        size = sram_sizes_KiB[-1]
        shared = np.array([m.n_heads * attention.tiled_bytes_per_head(int(n), int(n), m.head_dim, 2, size * KiB, True,
                                                                      group) for n in tokens]) / GB
        ax.plot(tokens, shared, color=GREEN, linewidth=1.6,
                label=f"tiled, {size} KiB, the {group} query heads of a group sharing each K, V tile")
        ax.plot(tokens, balance, color=INK, linestyle="-.", linewidth=1,
                label=f"bytes the {gpu.name} moves while it does the FLOPs")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        plain_log_axis(ax.xaxis)
        plain_log_axis(ax.yaxis)
        ax.set_xlabel("prompt tokens (causal prefill, log)")
        ax.set_ylabel("HBM traffic, one layer (GB, log)")
        ax.legend(fontsize=8, loc="upper left")
        # Every prompt length checked, not the plotted grid's: the lengths the prose cites.
        bound = attention.compute_bound_lengths(m.head_dim, 2, size * KiB, gpu.peak_flops("bf16"), gpu.bandwidth_Bps,
                                                m.max_position_embeddings, group)
        from_tokens = bound.from_tokens
        ax.set_title(f"Tiling keeps scores on chip; shared K, V tiles: under the FLOPs' time from "
                     f"{from_tokens:,} tokens on\n"
                     f"{m.name}, one layer ({m.n_heads} heads, head dim {m.head_dim}), bf16, {gpu.name}",
                     loc="left", fontsize=9)
        return to_svg(
            fig, "attention-traffic", f"HBM traffic of naive and tiled attention against prompt length, {m.name}",
            f"All lines grow with the square of the prompt. The naive line, dominated by the score matrix's round "
            f"trips, lies above the line of bytes the GPU can move in the time the FLOPs take, so naive attention is "
            f"memory-bound; at {tokens[-1]:,} tokens it moves {naive[-1]:,.0f} GB per layer. The blue tiled lines, "
            f"each query head reading its own K and V tiles, lie far below it and fall as the query blocks grow, up to "
            f"the head dimension's {m.head_dim} rows (at {tokens[-1]:,} tokens: "
            + ", ".join(f"{s} {v:,.0f} GB" for s, v in tiled_last.items())
            + "), above the compute line at every length: memory-bound. The green line, a GQA group's query heads "
            f"sharing each K and V tile, lies below it at every length from {from_tokens:,} tokens ({shared[-1]:,.0f} GB at "
            f"{tokens[-1]:,}): compute-bound there. It is memory-bound below {bound.first_tokens:,} tokens, and in "
            f"between it crosses the compute line back and forth as each new {attention.q_block_rows(m.head_dim, size * KiB, 2)}-row query block "
            f"starts.",
        )


def split_occupancy(accelerator: str, model: str, context: int) -> str:
    """Share of the GPU's block slots a decode attention launch keeps busy against batch, unsplit
    and with the split count FlashAttention-2 picks, and the split count itself."""
    gpu, m = hardware.get(accelerator), models.get(model)
    sm = attention.sms(gpu)
    slots = 2 * sm.sms
    batches = np.arange(1, 65)
    plain = [attention.wave_efficiency(attention.blocks_in_flight(int(b), m.n_kv_heads), slots) for b in batches]
    splits = [attention.splits_for(int(b), m.n_kv_heads, context, m.head_dim, sm.sms) for b in batches]
    split = [attention.wave_efficiency(attention.blocks_in_flight(int(b), m.n_kv_heads, s), slots)
             for b, s in zip(batches, splits)]
    stop = next(int(b) for b, s in zip(batches, splits) if s == 1)
    with course_style():
        fig = new_figure(7.0, 3.8)
        ax = fig.add_subplot()
        ax.plot(batches, np.array(split) * 100, color=BLUE, label="split as FlashAttention-2 picks")
        ax.plot(batches, np.array(plain) * 100, color=ORANGE, linewidth=1.4, zorder=3,
                label="one block per sequence and KV head (unsplit)")
        ax.set_ylim(0, 105)
        ax.set_xlabel("batch: sequences decoding together")
        ax.set_ylabel("block slots busy (%)")
        twin = ax.twinx()
        twin.step(batches, splits, where="mid", color=GREY, linewidth=1.2, linestyle="--", label="splits (right axis)")
        twin.set_ylabel("splits of the context")
        twin.set_ylim(0, max(splits) * 1.1)
        twin.grid(False)
        twin.spines["right"].set_visible(True)
        ax.axvline(stop, color=GREY, linestyle=":", linewidth=1)
        ax.text(stop + 1, 40, f"from batch {stop}:\nno split", fontsize=8)
        lines = ax.get_legend_handles_labels()
        more = twin.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="lower right", bbox_to_anchor=(1, 0.06))
        ax.set_title(f"At small batch a decode launch has too few blocks for {sm.sms} SMs; splitting the context fills them\n"
                     f"{m.name} ({m.n_kv_heads} KV heads), {context:,} tokens, {gpu.name}: two blocks an SM",
                     loc="left", fontsize=9)
        return to_svg(
            fig, "attention-splits", f"Busy block slots against batch, with and without split-KV, on the {gpu.name}",
            f"Unsplit, a batch of b sequences launches {m.n_kv_heads} x b blocks for {slots} slots: "
            f"{plain[0]:.0%} busy at batch 1, rising in steps with the batch. Split, the launch keeps "
            f"{min(split[:stop - 1]):.0%} or more of the slots busy at every batch below {stop}; the split count "
            f"falls from {splits[0]} at batch 1 to 1 at batch {stop}, where the unsplit launch is enough.",
        )


def measured_vs_bound(accelerator: str, dtype: str, points: tuple, file: str) -> str:
    """Recorded attention calls per kernel as a share of their roofline bound: decode at each
    batch (one layer, the run's context) and prefill at each prompt length. `points`:
    (kernel, case, batch, tokens, median_s, flops, bytes) rows of one run."""
    gpu = hardware.get(accelerator)
    kernels = sorted({p[0] for p in points})
    colours = dict(zip(kernels, (GREY, BLUE, ORANGE, GREEN, PURPLE)))
    markers = dict(zip(kernels, ("s", "o", "^", "D", "v")))
    with course_style():
        fig = new_figure(7.0, 4.0)
        axes = fig.subplots(1, 2)
        for ax, case, key, label in ((axes[0], "decode", 2, "batch (decode, one new token)"),
                                     (axes[1], "prefill", 3, "prompt tokens (prefill, causal)")):
            for kernel in kernels:
                rows = sorted((p for p in points if p[0] == kernel and p[1] == case), key=lambda p: p[key])
                if not rows:
                    continue
                x = [p[key] for p in rows]
                y = [roofline.time_lower_bound_s(p[5], p[6], gpu.peak_flops(dtype), gpu.bandwidth_Bps) / p[4] * 100
                     for p in rows]
                ax.plot(x, y, marker=markers[kernel], color=colours[kernel], markersize=5 if markers[kernel] == "s" else 4,
                        linewidth=1.2, label=kernel)
            ax.set_xscale("log", base=2)
            plain_log_axis(ax.xaxis)
            ax.set_ylim(0, 100)
            ax.set_xlabel(label)
            ax.set_title(case, loc="left", fontsize=9)
        axes[0].set_ylabel("bound / measured time (%)")
        axes[1].legend(fontsize=8, loc="upper left")
        fig.suptitle(f"Recorded attention kernels against their roofline bound, {gpu.name}, {dtype}\n"
                     f"one layer's call (32 heads, 8 KV heads, head dim 128); run {file}", fontsize=9, x=0.01,
                     ha="left")
        best = {case: max(roofline.time_lower_bound_s(p[5], p[6], gpu.peak_flops(dtype), gpu.bandwidth_Bps) / p[4]
                          for p in points if p[1] == case) for case in ("decode", "prefill")}
        return to_svg(
            fig, "attention-measured", f"Recorded attention kernels as a share of their bound on the {gpu.name}",
            f"Left, decode: every kernel's share of its memory bound rises with the batch, from a few per cent at "
            f"batch 1, where a call is a few microseconds of fixed cost, to at most {best['decode']:.0%}. Right, "
            f"prefill: the share of the compute bound rises with the prompt, to at most {best['prefill']:.0%}.",
        )
