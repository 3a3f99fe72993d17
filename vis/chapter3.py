"""Figures for chapter 3, "Serving many users". Each function returns an inline SVG."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snippets import hardware, kv_cache, models, roofline, serving
from vis.svg import BLUE, GREEN, GREY, INK, ORANGE, PALETTE, PURPLE, course_style, new_figure, plain_log_axis, to_svg

POLICY_COLOURS = (ORANGE, BLUE, GREEN, PURPLE)


def pareto(accelerator: str, model: str, dtype: str, contexts: tuple[int, ...], tpot_target_s: float,
           reading_tpot_s: float, measured: tuple[tuple[int, float], ...] = (), measured_context: int | None = None,
           measured_label: str = "measured") -> str:
    """Per-user tokens/s (1/T) against total tokens/s (B/T) as the batch grows, one line per
    context, cut where the batch no longer fits. `measured`: (batch, seconds per step) of a
    recorded run at `measured_context` tokens, drawn as squares over that context's bound."""
    gpu, m = hardware.get(accelerator), models.get(model)
    curves = list(zip(contexts, (BLUE, PURPLE)))
    if measured:
        curves.append((measured_context, GREEN))
    with course_style():
        fig = new_figure(7.0, 4.0)
        ax = fig.add_subplot()
        for context, colour in curves:
            fits = kv_cache.max_batch(m, gpu, context, dtype, dtype)
            batches = np.unique(np.round(np.logspace(0, np.log10(fits), 40)).astype(int))
            t = np.array([roofline.decode_step(m, int(b), context, dtype, dtype).time_s(gpu) for b in batches])
            style = ":" if context == measured_context else "-"
            ax.plot(batches / t, 1 / t, color=colour, linestyle=style,
                    label=f"{context:,} tokens of context (up to batch {fits:,})"
                    + (": the measured run's bound" if context == measured_context else ""))
            labelled = {fits} | ({1, 8, 64} if context == contexts[0] else set())  # one label per point
            for b in sorted(x for x in labelled if x <= fits):
                tb = roofline.decode_step(m, b, context, dtype, dtype).time_s(gpu)
                ax.plot([b / tb], [1 / tb], "o", color=colour, markersize=4)
                ax.annotate(f"B={b:,}", (b / tb, 1 / tb), textcoords="offset points", xytext=(4, 4),
                            fontsize=8, color=INK)
        if measured:
            batch, seconds = (np.array(v) for v in zip(*measured))
            bound = np.array([roofline.decode_step(m, int(b), measured_context, dtype, dtype).time_s(gpu) for b in batch])
            for b, t, tb in zip(batch, seconds, bound):  # each measured step tied to its own bound
                ax.plot([b / t, b / tb], [1 / t, 1 / tb], color=GREEN, linewidth=0.8)
            ax.plot(batch / bound, 1 / bound, "o", color=GREEN, markersize=3)
            ax.plot(batch / seconds, 1 / seconds, "s", color=GREEN, markerfacecolor="none", markersize=6,
                    markeredgewidth=1.4, label=f"{measured_label}, {measured_context:,} tokens, batch {batch[0]:,} to {batch[-1]:,} "
                    "(line to its bound)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(1 / reading_tpot_s / 2, ax.get_ylim()[1] * 1.6)  # room above batch 1's label
        ax.set_xlim(None, ax.get_xlim()[1] * 1.4)  # room right of the last batch's label
        ax.axhspan(ax.get_ylim()[0], 1 / reading_tpot_s, color=GREY, alpha=0.25, linewidth=0)
        ax.text(ax.get_xlim()[0] * 1.1, 1 / reading_tpot_s * 0.8, "slower than reading", fontsize=8, va="top")
        ax.axhline(1 / tpot_target_s, color=INK, linestyle="--", linewidth=1)
        ax.text(ax.get_xlim()[0] * 1.1, 1 / tpot_target_s * 1.08,
                f"TPOT target {tpot_target_s * 1e3:.0f} ms = {1 / tpot_target_s:.0f} tok/s", fontsize=8)
        plain_log_axis(ax.xaxis)
        plain_log_axis(ax.yaxis)
        ax.set_xlabel("total tokens/s, B / T (log)")
        ax.set_ylabel("tokens/s per user, 1 / T (log)")
        ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0, 0.12))
        ax.set_title("A larger batch buys total throughput with each user's speed\n"
                     f"{m.name} decode, {dtype}, on the {gpu.name}" + (": bounds and a measured run" if measured
                     else " (roofline bound)"), loc="left", fontsize=10)
        first_fits = kv_cache.max_batch(m, gpu, contexts[0], dtype, dtype)
        t1 = roofline.decode_step(m, 1, contexts[0], dtype, dtype).time_s(gpu)
        tn = roofline.decode_step(m, first_fits, contexts[0], dtype, dtype).time_s(gpu)
        first_gain, first_loss = (first_fits / tn) / (1 / t1), tn / t1
        return to_svg(
            fig, "serving-pareto", f"Per-user against total decode speed as the batch grows, {m.name} on the {gpu.name}",
            f"One curve on log axes per context length. At {contexts[0]:,} tokens, from batch 1 to "
            f"batch {first_fits:,} the total grows {first_gain:.0f}x while each user's speed falls {first_loss:.1f}x. "
            "Each curve stops at the largest batch that fits in memory. A grey band marks speeds slower than reading "
            "and a dashed line the time-per-output-token target."
            + (f" Green squares: {measured_label} at {measured_context:,} tokens of context, batches "
               f"{', '.join(str(b) for b, _ in measured)}, each below the dotted bound at that context."
               if measured else ""),
        )


def request_timeline(s: serving.Served, admitted: float, steps_waited: int) -> str:
    """One request (admitted to a slot at time `admitted`, after `steps_waited` steps had started
    since it arrived, the one running at its arrival included): arrival, queueing, prefill, its
    tokens, and the definitions of TTFT, TPOT and ITL drawn on it."""
    r, t0 = s.request, s.request.arrival_s
    ms = [(t - t0) * 1e3 for t in s.token_times_s]
    gaps = s.itl_s
    worst = int(np.argmax(gaps))
    with course_style():
        fig = new_figure(7.2, 2.9)
        ax = fig.add_subplot()
        ax.barh([1], [(admitted - t0) * 1e3], left=0, height=0.35, color=GREY, label="waiting")
        ax.barh([1], [ms[0] - (admitted - t0) * 1e3], left=(admitted - t0) * 1e3, height=0.35, color=ORANGE,
                label="prefill")
        ax.vlines(ms, 0.45, 0.75, color=BLUE, linewidth=0.8, label="an output token")
        ax.annotate("", xy=(ms[0], 1.45), xytext=(0, 1.45), arrowprops=dict(arrowstyle="<->", color=INK, lw=1))
        ax.text(ms[0] / 2, 1.55, f"TTFT {ms[0]:.0f} ms", ha="center", fontsize=8)
        ax.annotate("", xy=(ms[-1], 0.2), xytext=(ms[0], 0.2), arrowprops=dict(arrowstyle="<->", color=INK, lw=1))
        ax.text((ms[0] + ms[-1]) / 2, 0.0, f"{len(ms) - 1} gaps: TPOT = mean gap = {s.tpot_s * 1e3:.1f} ms", ha="center",
                fontsize=8)
        ax.annotate(f"longest ITL {gaps[worst] * 1e3:.0f} ms:\na prefill in the same step",
                    xy=((ms[worst] + ms[worst + 1]) / 2, 0.78), xytext=((ms[worst] + ms[worst + 1]) / 2, 1.2),
                    ha="center", fontsize=8, arrowprops=dict(arrowstyle="->", color=INK, lw=0.8))
        ax.set_xlim(-0.06 * ms[-1], ms[-1] * 1.03)
        ax.set_ylim(-0.2, 1.8)
        ax.set_yticks([])
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(f"ms since request {r.id} arrived ({r.prompt_tokens:,}-token prompt, {r.output_tokens} tokens out)")
        ax.legend(fontsize=8, loc="upper right", ncol=3, bbox_to_anchor=(1, 1.22))
        return to_svg(
            fig, "serving-request-timeline", "One request's timeline, with TTFT, TPOT and ITL marked",
            f"A request waits {(admitted - t0) * 1e3:.0f} ms "
            + ("for the step running when it arrived to end" if steps_waited <= 1 else
               f"in the queue, through {steps_waited} steps")
            + f", is prefilled, and its first token appears at {ms[0]:.0f} ms: the time to first token. Its "
            f"{len(ms)} tokens are ticks, so {len(ms) - 1} gaps between them: the inter-token latencies, whose mean, "
            f"{s.tpot_s * 1e3:.1f} ms, is the time per output token. "
            f"The longest gap, {gaps[worst] * 1e3:.0f} ms, is a step that also prefilled other prompts.",
        )


@dataclass(frozen=True)
class SlotPanel:
    """What the slot figure draws of one simulation: per request (slot, first step, last step,
    request id), and the totals for the title."""

    policy: str
    slots: int
    steps: int
    utilisation: float
    bars: tuple[tuple[int, int, int, int], ...]


def slot_panel(sim: serving.Simulation) -> SlotPanel:
    return SlotPanel(sim.policy.name, sim.policy.max_batch, len(sim.steps), sim.slot_utilisation,
                     tuple((s.slot, s.first_step, s.last_step, s.request.id) for s in sim.served))


def slot_timelines(static: SlotPanel, continuous: SlotPanel) -> str:
    """Which request holds each batch slot at each step, static above continuous."""
    with course_style():
        fig = new_figure(7.2, 4.2)
        axes = fig.subplots(2, 1, sharex=True)
        for ax, panel in zip(axes, (static, continuous)):
            for slot, first, last, request in panel.bars:
                ax.barh([slot], [last - first + 1], left=first, height=0.8, color=PALETTE[request % 4],
                        edgecolor="none")
            ax.set_title(f"{panel.policy} batching: {panel.steps:,} steps, slots busy {panel.utilisation:.0%}",
                         loc="left", fontsize=9)
            ax.set_ylabel("slot")
            ax.set_yticks(range(panel.slots))
            ax.tick_params(axis="y", labelsize=8)
            ax.grid(axis="y", visible=False)
            ax.set_ylim(panel.slots - 0.5, -0.5)
        axes[-1].set_xlabel("step")
        return to_svg(
            fig, "serving-static-vs-continuous", f"Static and continuous batching of the same {len(static.bars)} "
            f"requests on {static.slots} slots",
            f"Two rows of slot timelines. Static batching fills the slots, then leaves each finished slot empty until "
            f"the longest request of the batch is done: {static.steps} steps with the slots "
            f"{static.utilisation:.0%} busy. Continuous batching gives a freed slot to the next request at once: "
            f"{continuous.steps} steps, {continuous.utilisation:.0%} busy.",
        )


def goodput_vs_rate(sweep: dict[str, list[tuple[float, tuple[float, ...], tuple[float, ...]]]],
                    sustainable: dict[str, tuple[float, ...]], ceiling_rps: float, ttft_target_s: float,
                    tpot_target_s: float, percentile: float, setting: str) -> str:
    """Goodput (requests/s meeting both targets) and the share of requests meeting both, against
    arrival rate, per policy: `sweep[policy]` is (rate, attainment per seed, goodput per seed) at
    each rate, drawn as the mean with a band from the lowest to the highest seed;
    `sustainable[policy]` the highest rate at which `percentile` % met both, per seed; and the
    compute ceiling in requests/s."""
    with course_style():
        fig = new_figure(7.2, 3.6)
        left, right = fig.subplots(1, 2)
        top = max(r for points in sweep.values() for r, _, _ in points)
        left.plot([0, top], [0, top], color=GREY, linestyle=":", linewidth=1, label="every request on target")
        for (name, points), colour in zip(sweep.items(), POLICY_COLOURS):
            rates = [r for r, _, _ in points]
            for ax, column, scale in ((left, 2, 1), (right, 1, 100)):
                values = np.array([p[column] for p in points]) * scale
                ax.fill_between(rates, values.min(axis=1), values.max(axis=1), color=colour, alpha=0.2, linewidth=0)
                ax.plot(rates, values.mean(axis=1), "o-", color=colour, markersize=3, label=name if ax is left else None)
        for ax in (left, right):
            ax.axvline(ceiling_rps, color=INK, linestyle="-.", linewidth=1)
        left.text(ceiling_rps, 2, " compute\n ceiling", fontsize=8)
        right.axhline(percentile, color=INK, linestyle="--", linewidth=1)
        right.text(rates[0], percentile + 2, f"{percentile:g} % on target", fontsize=8)
        left.set_xlabel("arrival rate (requests/s)")
        left.set_ylabel("goodput (requests/s meeting both)")
        right.set_xlabel("arrival rate (requests/s)")
        right.set_ylabel("requests meeting both targets (%)")
        right.set_ylim(0, 105)
        left.legend(fontsize=8, loc="upper left")
        fig.suptitle(f"{setting}; targets: TTFT ≤ {ttft_target_s:g} s and TPOT ≤ {tpot_target_s * 1e3:.0f} ms; "
                     f"band: lowest to highest of {len(points[0][1])} seeds", fontsize=9)

        def span(rates: tuple[float, ...]) -> str:
            return f"{min(rates):g}/s" if min(rates) == max(rates) else f"{min(rates):g} to {max(rates):g}/s"

        return to_svg(
            fig, "serving-goodput", "Goodput and SLO attainment against arrival rate for each scheduling policy",
            "Left: requests per second that meet both latency targets, the mean over seeds with a band from the "
            "lowest to the highest; a dotted diagonal marks every request on target and a vertical line the compute "
            f"ceiling, {ceiling_rps:.0f} requests/s. Right: the share of requests meeting both targets, against a "
            f"dashed line at {percentile:g} %. The highest rate at which {percentile:g} % met both, over the seeds: "
            + "; ".join(f"{name}, {span(rates)}" for name, rates in sustainable.items()) + ".",
        )


def step_time_vs_chunk(accelerator: str, model: str, dtype: str, batch: int, context: int, prompt: int,
                       chunks: tuple[int, ...], knee: int) -> str:
    """Step time of a decode batch with a prefill chunk of C tokens, against C: the first chunk
    and the longest of the prompt's chunks (later ones attend to a longer prefix); and the time
    the whole prompt takes in such chunks. `knee`: the smallest first chunk that makes the step
    compute-bound."""
    gpu, m = hardware.get(accelerator), models.get(model)
    sizes = np.unique(np.round(np.logspace(np.log10(16), np.log10(prompt), 40)).astype(int))

    def step_ms(c: int, prefix: int = 0) -> float:
        return roofline.mixed_step(m, batch, context, ((prefix, c),), dtype, dtype).time_s(gpu) * 1e3

    def chunk_ms(c: int) -> list[float]:
        return [step_ms(min(c, prompt - p), p) for p in range(0, prompt, c)]

    alone = roofline.decode_step(m, batch, context, dtype, dtype).time_s(gpu) * 1e3
    with course_style():
        fig = new_figure(7.2, 3.4)
        left, right = fig.subplots(1, 2)
        left.plot(sizes, [step_ms(int(c)) for c in sizes], color=ORANGE, label="decode + first chunk")
        left.plot(sizes, [max(chunk_ms(int(c))) for c in sizes], color=PURPLE, linestyle="--",
                  label="decode + longest chunk")
        left.axhline(alone, color=BLUE, linestyle="--", linewidth=1, label=f"decode alone, {alone:.1f} ms")
        left.axvline(knee, color=GREY, linestyle=":", linewidth=1)
        left.text(knee * 1.1, alone * 3, f"first chunk\ncompute-bound\nfrom C = {knee:,}", fontsize=8)
        left.set_ylabel("step time = longest gap (ms)")
        right.plot(chunks, [sum(chunk_ms(c)) for c in chunks], "o-", color=GREEN, markersize=3)
        right.set_ylabel(f"prefill of the {prompt:,}-token prompt (ms)")
        for ax in (left, right):
            ax.set_xscale("log", base=2)
            ax.set_xlabel("prompt tokens per step, C")
            plain_log_axis(ax.xaxis)
        left.set_yscale("log")
        plain_log_axis(left.yaxis)
        left.legend(fontsize=8, loc="upper left")
        fig.suptitle(f"{m.name}, {dtype}, {gpu.name}: batch {batch} decoding at {context:,} tokens while "
                     f"a {prompt:,}-token prompt is prefilled", fontsize=9)
        totals = [sum(chunk_ms(c)) for c in chunks]
        return to_svg(
            fig, "serving-chunked-prefill", f"Step time against prefill chunk size, {m.name} on the {gpu.name}",
            f"Left: a decode step of {batch} sequences takes {alone:.1f} ms; with a first chunk of C prompt tokens "
            f"the step is memory-bound below C = {knee:,} and compute-bound from there, growing with C up to "
            f"{step_ms(prompt):.0f} ms for the whole prompt at once; a second, dashed line gives the prompt's longest "
            f"step, its last chunk, which attends to the longest prefix. Right: the whole prompt's prefill takes "
            f"{totals[0]:,.0f} ms in chunks of {chunks[0]:,} and {totals[-1]:,.0f} ms in chunks of {chunks[-1]:,}.",
        )


@dataclass(frozen=True)
class OccupancyPanel:
    """What the occupancy figure draws of one simulation: (time s, tokens held, tokens used,
    requests running) at every k-th step, so a line has at most ~250 points."""

    policy: str
    capacity_tokens: int
    series: tuple[tuple[float, int, int, int], ...]
    preemptions: int = 0
    peaks: tuple[int, int, int] = (0, 0, 0)  # held, used, running: over every step, not only those drawn


def occupancy_panel(sim: serving.Simulation) -> OccupancyPanel:
    steps = sim.steps[:: max(1, len(sim.steps) // 250)]
    return OccupancyPanel(sim.policy.name, sim.capacity_tokens, tuple(
        (s.start_s, s.cache_held_tokens, s.cache_used_tokens, s.slots_busy) for s in steps), sim.preemptions,
        (max(s.cache_held_tokens for s in sim.steps), max(s.cache_used_tokens for s in sim.steps),
         max(s.slots_busy for s in sim.steps)))


def cache_occupancy(reserved: OccupancyPanel, paged: OccupancyPanel) -> str:
    """KV cache held and actually used over time (top row) and the requests running (bottom row),
    reserved against paged, same workload: one column per policy, shared axes per row."""
    top = max(row[3] for panel in (reserved, paged) for row in panel.series)
    with course_style():
        fig = new_figure(7.2, 4.4)
        axes = fig.subplots(2, 2, sharex="col", sharey="row", height_ratios=(3, 2))
        for column, panel in enumerate((reserved, paged)):
            cache, running_ax = axes[0, column], axes[1, column]
            t, held, used, running = (np.array(values) for values in zip(*panel.series))
            cache.fill_between(t, 0, held / panel.capacity_tokens * 100, step="post", color=GREY, alpha=0.35,
                               linewidth=0, label="held (set aside)")
            cache.plot(t, used / panel.capacity_tokens * 100, drawstyle="steps-post", color=BLUE, linewidth=1.2,
                       label="used (tokens cached)")
            cache.set_ylim(0, 105)
            cache.set_title(panel.policy, loc="left", fontsize=9)
            running_ax.plot(t, running, drawstyle="steps-post", color=ORANGE, linewidth=1.2)
            running_ax.set_ylim(0, top * 1.25)
            peak = int(np.argmax(running))
            running_ax.annotate(f"at most {panel.peaks[2]} running", (t[peak], running[peak]),
                                textcoords="offset points", xytext=(4, 3), fontsize=8, color=INK)
            running_ax.set_xlabel("time (s)")
        axes[0, 0].set_ylabel("% of the KV cache")
        axes[1, 0].set_ylabel("requests running")
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside upper right", ncols=2, fontsize=8)
        return to_svg(
            fig, "serving-cache-occupancy", "KV cache held and used over time, reserved against paged",
            "".join(f"{side}, {p.policy}: at most {p.peaks[0] / p.capacity_tokens:.0%} of the cache "
                    f"held and {p.peaks[1] / p.capacity_tokens:.0%} used, at most "
                    f"{p.peaks[2]} requests running, {p.preemptions} preemptions. "
                    for side, p in (("Left", reserved), ("Right", paged)))
            + "Top row: held is shaded grey, used is a blue line. Bottom row: requests running, an orange line.",
        )
