"""Figures for chapter 5, "Speculative decoding". Each function returns an inline SVG."""

from __future__ import annotations

import textwrap

import numpy as np

from snippets import hardware, models, speculative
from vis.svg import BLUE, GREEN, GREY, INK, ORANGE, PURPLE, course_style, new_figure, plain_log_axis, to_svg

#: Cell text on the heatmap: dark on light cells, light on dark ones (the cells' colours are fixed).
DARK_TEXT, LIGHT_TEXT = "#212529", "#f8f9fa"


def verify_time_vs_tokens(accelerator: str, model: str, dtype: str, context: int, marked_tokens: int,
                          measured: tuple[tuple[int, float], ...] = (), measured_label: str = "measured") -> str:
    """Roofline bound of one forward pass verifying k tokens of one sequence (context cached),
    with its memory and compute times, against k. `measured`: (k, ms) points of a recorded run
    of the same model, context and dtype, drawn over the bound as one series `measured_label`."""
    gpu, m = hardware.get(accelerator), models.get(model)
    ks = np.unique(np.round(np.logspace(0, np.log10(4096), 60)).astype(int))
    steps = [speculative.verify_step(m, 1, context, int(k), dtype, dtype) for k in ks]
    memory = np.array([s.memory_time_s(gpu) for s in steps]) * 1e3
    bare = np.array([speculative.without_activations(s).memory_time_s(gpu) for s in steps]) * 1e3
    compute = np.array([s.compute_time_s(gpu, dtype) for s in steps]) * 1e3
    bound = np.maximum(memory, compute)
    knee = speculative.verify_knee_tokens(m, gpu, context, 1, dtype, dtype)
    knee_bare = speculative.verify_knee_tokens(m, gpu, context, 1, dtype, dtype, activations=False)
    one = bound[0]
    below = bound[ks < knee].max() / one - 1  # the most a pass below the knee costs over one step
    ridge = gpu.ridge_point(dtype)
    with course_style():
        fig = new_figure(7.0, 3.8)
        ax = fig.add_subplot()
        ax.plot(ks, memory, color=BLUE, linestyle="--", linewidth=1.2, label="memory time: (weights + cache + activations) / bandwidth")
        ax.plot(ks, bare, color=GREY, linestyle=":", linewidth=1.2, label="memory time without activations")
        ax.plot(ks, compute, color=ORANGE, linestyle="--", linewidth=1.2, label="compute time: FLOPs / peak FLOP/s")
        ax.plot(ks, bound, color=INK, linewidth=2, label="bound: the larger of the two")
        if measured:
            ks_measured, ms_measured = zip(*measured)
            ax.plot(ks_measured, ms_measured, "s-", color=GREEN, markersize=4, linewidth=1, label=measured_label)
        marked = speculative.verify_time_s(m, gpu, 1, context, marked_tokens, dtype, dtype) * 1e3
        ax.plot([marked_tokens], [marked], "o", color=PURPLE, markersize=5)
        ax.annotate(f"k = {marked_tokens}: {marked / one:.3f}x one step", (marked_tokens, marked),
                    textcoords="offset points", xytext=(6, 8), fontsize=8)
        ax.axvline(knee, color=GREY, linestyle=":", linewidth=1)
        ax.text(knee * 1.08, one * 0.6, f"compute-bound from\nk = {knee:,} (ridge {ridge:.0f} FLOP/byte)",
                fontsize=8, ha="left", va="top")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(compute[0] * 0.8, bound[-1] * 1.5)
        plain_log_axis(ax.xaxis)
        plain_log_axis(ax.yaxis)
        ax.set_xlabel("tokens verified in one forward pass, k (log)")
        ax.set_ylabel("time per forward pass (ms, log)")
        ax.legend(fontsize=8, loc="lower right")
        ax.set_title("Verifying k tokens costs about one decode step until k nears the ridge\n"
                     f"{m.name}, {dtype}, {gpu.name}: one sequence, {context:,} tokens cached",
                     loc="left", fontsize=10)
        return to_svg(
            fig, "speculative-verify", f"Time to verify k tokens against k, {m.name} on the {gpu.name}",
            f"The memory time of a forward pass over k new tokens moves little with k: the weights and the cache "
            f"are read once whatever k is, and only the k rows' activations grow. The compute time grows in "
            f"proportion to k and crosses the memory time at k = {knee:,} ({knee_bare:,} if activations are left "
            f"out; the ridge is {ridge:.0f} FLOP/byte). Below that the bound stays at most {1 + below:.2f}x one decode "
            f"step, {one:.2f} ms; above it the step grows with k."
            + (f" Green squares, {measured_label}: {measured[0][1]:.2f} ms at k = {measured[0][0]} to "
               f"{measured[-1][1]:.2f} ms at k = {measured[-1][0]}." if measured else ""),
        )


def speedup_heatmap(alphas: tuple[float, ...], gammas: tuple[int, ...], draft_cost: float, setting: str) -> str:
    """Expected speedup E / (gamma c + 1) over acceptance rate and draft length at one draft
    cost c, each cell labelled, the best gamma of each row outlined."""
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    grid = np.array([[speculative.speedup(a, g, draft_cost) for g in gammas] for a in alphas])
    norm = Normalize(vmin=min(grid.min(), 1.0), vmax=grid.max())
    with course_style():
        fig = new_figure(7.0, 3.9)
        ax = fig.add_subplot()
        image = ax.imshow(grid, cmap="cividis", norm=norm, aspect="auto", origin="lower")
        cmap = image.get_cmap()
        for i, a in enumerate(alphas):
            for j, _ in enumerate(gammas):
                r, g, b, _alpha = cmap(norm(grid[i, j]))
                light = 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45
                text = f"{grid[i, j]:.2f}" + ("" if grid[i, j] >= 1 else "↓")
                ax.text(j, i, text, ha="center", va="center", fontsize=8, color=DARK_TEXT if light else LIGHT_TEXT)
            best = gammas.index(speculative.best_gamma(a, draft_cost, max(gammas)))
            ax.add_patch(Rectangle((best - 0.5, i - 0.5), 1, 1, fill=False, edgecolor=ORANGE, linewidth=2))
        ax.set_xticks(range(len(gammas)), [str(g) for g in gammas])
        ax.set_yticks(range(len(alphas)), [f"{a:.1f}" for a in alphas])
        ax.grid(False)
        ax.set_xlabel("draft tokens per step, γ")
        ax.set_ylabel("acceptance rate, α")
        bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
        bar.set_label("speedup over plain decoding")
        ax.set_title("Speedup E / (γc + 1): best γ outlined, ↓ slower than plain decoding\n"
                     + textwrap.fill(setting, 92), loc="left", fontsize=9)
        return to_svg(
            fig, "speculative-heatmap", f"Expected speedup over acceptance rate and draft length at c = {draft_cost:.3f}",
            f"A grid of speedups, acceptance rate from {alphas[0]:.1f} to {alphas[-1]:.1f} upwards, draft length from "
            f"{gammas[0]} to {gammas[-1]} rightwards. Speedup rises with the acceptance rate. Along a row it rises, "
            f"peaks at the outlined best draft length, then falls as the draft's own steps cost more than the extra "
            f"accepted tokens bring; the best length grows with the acceptance rate. At low acceptance and long drafts "
            f"the cells fall below 1: slower than not speculating.",
        )


def speedup_vs_batch(accelerator: str, model: str, drafter: str, dtype: str, contexts: tuple[int, int],
                     alpha: float, gammas: tuple[int, ...], long_gamma: int) -> str:
    """Speedup with verification and the drafter (its own weights and cache) priced on the roofline
    (speculative.speedup_at_batch) against the batch: one line per gamma at the short context and
    `long_gamma` at the long one, all with the per-operator bound, plus the long context's
    whole-step bound; each cut at the largest batch that fits beside the drafter, break-even
    batches marked."""
    gpu, m, d = hardware.get(accelerator), models.get(model), models.get(drafter)
    short, long = contexts
    c = speculative.draft_cost(d, m, gpu, 1, short, dtype, dtype)
    with course_style():
        fig = new_figure(7.0, 4.1)
        ax = fig.add_subplot()
        colours = (BLUE, ORANGE, GREEN, GREY)
        lines = [(short, g, colour, "-", True) for g, colour in zip(gammas, colours)] + [
            (long, long_gamma, PURPLE, "--", True), (long, long_gamma, PURPLE, ":", False)]
        evens, ends = {}, {}
        for context, gamma, colour, style, per_operator in lines:
            fits = speculative.max_batch_with_drafter(m, d, gpu, context + gamma + 1, dtype, dtype)
            batches = np.unique(np.round(np.logspace(0, np.log10(fits), 80)).astype(int))
            gains = [speculative.speedup_at_batch(m, gpu, int(b), context, alpha, gamma, d, dtype, dtype, per_operator)
                     for b in batches]
            bound = "per operator" if per_operator else "whole step"
            even = speculative.break_even_batch(m, gpu, context, alpha, gamma, d, dtype, dtype, fits, per_operator)
            evens[(context, gamma, per_operator)], ends[(context, gamma, per_operator)] = even, (fits, gains[-1])
            # the break-even batch is named in the legend: the dots on the no-gain line sit too close to label
            ax.plot(batches, gains, color=colour, linestyle=style,
                    label=f"γ = {gamma}, {context:,} tokens, {bound}: "
                    + (f"no gain from batch {even:,}" if even is not None else f"a gain at every batch that fits (to {fits:,})"))
            if even is not None:
                ax.plot([even], [1.0], "o", color=colour, markersize=5)
        ax.axhline(1.0, color=INK, linewidth=1)
        ax.text(1.1, 1.03, "no gain", fontsize=8)
        ax.set_xscale("log")
        plain_log_axis(ax.xaxis)
        ax.set_ylim(0, None)
        ax.set_xlabel("batch: sequences decoding together (log)")
        ax.set_ylabel("speedup over plain decoding")
        ax.legend(fontsize=8, loc="lower left")
        all_even = all(evens[(short, g, True)] is not None for g in gammas)
        ax.set_title("The gain falls as the batch grows" + (f"; at {short:,} tokens of context every γ breaks even"
                                                            if all_even else "") + "\n"
                     f"{m.name} + {d.name} drafter (c = {c:.3f} at batch 1), {dtype}, {gpu.name}: α = {alpha}",
                     loc="left", fontsize=9)
        short_evens = ", ".join(f"γ = {g}: {evens[(short, g, True)]:,}" if evens[(short, g, True)] else
                                f"γ = {g}: none" for g in gammas)
        long_fits, long_gain = ends[(long, long_gamma, True)]
        _, long_gain_whole = ends[(long, long_gamma, False)]
        return to_svg(
            fig, "speculative-batch", f"Speculative speedup against batch size, {m.name} on the {gpu.name}",
            f"At small batches every line sits near its batch-1 speedup: verification is nearly free. At {short:,} "
            f"tokens of context the lines fall once the batch times the tokens verified per sequence passes the ridge "
            f"point, and cross 1, no gain, at their break-even batches ({short_evens}); longer drafts cross first. "
            f"At {long:,} tokens of context each sequence's cache reads keep attention memory-bound: at the largest "
            f"batch that fits beside the drafter, {long_fits:,}, γ = {long_gamma} still gives {long_gain:.2f}x "
            f"(per operator) or {long_gain_whole:.2f}x (whole step).",
        )
