"""Figures for chapter 7, "Beyond one GPU". Each function returns an inline SVG."""

from __future__ import annotations

import numpy as np

from snippets import comm, hardware, models, parallel
from vis.svg import BLUE, GREEN, INK, ORANGE, PURPLE, course_style, new_figure, plain_log_axis, to_svg

LINK_COLOURS = (BLUE, ORANGE, PURPLE, GREEN)


def tp_step_vs_batch(accelerator: str, model: str, tp: int, context: int, links: tuple[tuple[str, str], ...],
                     batches: tuple[int, ...], dtype: str) -> str:
    """A tensor-parallel decode step at degree `tp` against batch: each GPU's share of the work
    (its roofline bound) and the step's all-reduce time on each link, given as (label, the link's
    name in interconnects.csv): comm.ring_model's busbw and latency."""
    gpu, m = hardware.get(accelerator), models.get(model)
    bs = np.array(batches)
    local = [parallel.tp_decode_step(m, gpu, comm.ring_model(links[0][1]), tp, int(b), context, dtype, dtype)
             for b in bs]
    share_ms = np.array([s.compute_memory_s for s in local]) * 1e3
    with course_style():
        fig = new_figure(7.0, 4.0)
        ax = fig.add_subplot()
        ax.plot(bs, share_ms, color=INK, linewidth=2, label=f"each GPU's share of the step (roofline, TP={tp})")
        described = []
        for (label, name), colour in zip(links, LINK_COLOURS):
            link = comm.ring_model(name)
            steps = [parallel.tp_decode_step(m, gpu, link, tp, int(b), context, dtype, dtype) for b in bs]
            comm_ms = np.array([s.comm_s for s in steps]) * 1e3
            ax.plot(bs, comm_ms, color=colour, linestyle="--", linewidth=1.5,
                    label=f"all-reduces over {label} ({link.busbw_GBps:g} GB/s, α {link.alpha_s('all_reduce', tp) * 1e6:.1f} µs)")
            share = comm_ms / (comm_ms + share_ms)
            described.append(f"over {label} the all-reduces are {share[0]:.0%} of the step at batch {bs[0]} and "
                             f"{share[-1]:.0%} at batch {bs[-1]}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        plain_log_axis(ax.xaxis)
        plain_log_axis(ax.yaxis)
        ax.set_xlabel("decode batch (sequences, log)")
        ax.set_ylabel("time per decode step (ms, log)")
        ax.legend(fontsize=8, loc="upper left")
        ax.set_title(f"Tensor parallelism adds {parallel.ALL_REDUCES_PER_LAYER * m.n_layers} all-reduces to every step\n"
                     f"{m.name}, {dtype}, TP={tp} on {gpu.name}, {context:,} tokens of context", loc="left", fontsize=10)
        return to_svg(
            fig, "tp-step-vs-batch", f"Decode step time split into each GPU's work and all-reduces, {m.name} at TP={tp}",
            f"Log-log against batch. The black line is the roofline bound of one GPU's share of the step: "
            f"{share_ms[0]:.1f} ms at batch {bs[0]}, {share_ms[-1]:.1f} ms at batch {bs[-1]}. Dashed lines are the "
            f"step's all-reduces on each link; " + "; ".join(described) + ".",
        )


def alpha_beta_curve(collective: str, ranks: int, models_: tuple[tuple[str, str, bool], ...],
                     measured: tuple[tuple[float, float, bool], ...] = (), measured_label: str = "",
                     measured_fit: tuple[float, float] | None = None, measured_ranks: int | None = None) -> str:
    """Bus bandwidth against message size: the alpha-beta model of each link (label, its name in
    interconnects.csv, one GPU per server?: comm.ring_model) at `ranks`, and a recorded sweep's
    points (size bytes, seconds, fitted?) with its fit."""
    sizes = np.logspace(np.log10(2**10), np.log10(2**30), 80)
    with course_style():
        fig = new_figure(7.0, 4.0)
        ax = fig.add_subplot()
        described = []
        for (label, name, one_per_server), colour in zip(models_, LINK_COLOURS):
            model = comm.ring_model(name, one_gpu_per_node=one_per_server)
            busbw, alpha = model.busbw_GBps, model.alpha_s(collective, ranks)
            bw = [comm.busbw_GBps(collective, ranks, s, model.time_s(collective, ranks, s)) for s in sizes]
            ax.plot(sizes, bw, color=colour, label=f"{label}: α {alpha * 1e6:.1f} µs, {busbw:g} GB/s")
            half = model.half_bandwidth_bytes(collective, ranks)
            ax.plot([half], [busbw / 2], "o", color=colour, markersize=4)
            described.append(f"{label} reaches half its {busbw:g} GB/s at {half / 2**20:.2g} MiB")
        if measured:
            n = measured_ranks or ranks
            fit = comm.AlphaBeta(*measured_fit) if measured_fit else None
            for fitted, marker, what in ((True, "s", "fitted"), (False, "D", "predicted, not fitted")):
                pts = [(s, comm.busbw_GBps(collective, n, s, t)) for s, t, f in measured if f == fitted]
                if pts:
                    xs, ys = zip(*pts)
                    ax.plot(xs, ys, marker, color=GREEN, markersize=5, fillstyle="full" if fitted else "none",
                            linestyle="none", label=f"{measured_label}: {what}")
            if fit:
                ax.plot(sizes, [comm.busbw_GBps(collective, n, s, fit.time_s(collective, n, s)) for s in sizes],
                        color=GREEN, linestyle=":", linewidth=1.2, label=f"its fit: α {fit.alpha_s * 1e6:.0f} µs, "
                                                                          f"{fit.busbw_GBps:.2g} GB/s")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        plain_log_axis(ax.yaxis)
        ticks = [2**k for k in range(10, 31, 4)]
        ax.set_xticks(ticks, [f"{t // 2**30} GiB" if t >= 2**30 else f"{t // 2**20} MiB" if t >= 2**20 else f"{t // 2**10} KiB"
                              for t in ticks])
        ax.set_xlabel("message size (log)")
        ax.set_ylabel("bus bandwidth (GB/s, log)")
        ax.legend(fontsize=8, loc="lower right")
        ax.set_title(f"Small messages pay the latency, large ones the bandwidth\n{collective.replace('_', '-')} over "
                     f"{ranks} GPUs, t = α(n) + 2(n−1)/n × S / busbw, α(n) = α₀ + 2(n−1) × hop", loc="left", fontsize=10)
        return to_svg(
            fig, "alpha-beta-curve", f"{collective} bus bandwidth against message size on the alpha-beta model",
            "Log-log. Each curve rises in proportion to the message size while the latency dominates and levels off "
            "at the link's bus bandwidth; a dot marks where it reaches half of it: " + "; ".join(described) + "."
            + (f" Green markers: {measured_label}, filled where the fit used them, hollow where it predicted them."
               if measured else ""),
        )


def experts_vs_batch(names: tuple[str, ...], batches: tuple[int, ...], dtypes: tuple[str, ...]) -> str:
    """Distinct routed experts a decode step touches per MoE layer, and the weight bytes it reads,
    each as a share of the model's total (each model in its own dtype), against batch."""
    bs = np.array(batches)
    with course_style():
        fig = new_figure(7.0, 3.8)
        left, right = fig.subplots(1, 2)
        described = []
        for name, dtype, colour in zip(names, dtypes, (ORANGE, BLUE, PURPLE)):
            m = models.get(name)
            touched = np.array([parallel.experts_touched(m, int(b)) for b in bs]) / m.n_routed_experts
            read = np.array([models.step_weight_bytes(m, dtype, int(b)) for b in bs]) / models.weight_bytes(m, dtype)
            left.plot(bs, touched * 100, color=colour, label=f"{m.name} ({m.experts_per_token} of {m.n_routed_experts})")
            right.plot(bs, read * 100, color=colour, label=f"{m.name}, {dtype}")
            described.append(f"{m.name}: {touched[0]:.0%} of routed experts and {read[0]:.0%} of the weights at batch "
                             f"{bs[0]}, {touched[-1]:.0%} and {read[-1]:.0%} at batch {bs[-1]}")
        for ax, label in ((left, "routed experts touched per layer (%)"), (right, "weights read per step (% of all)")):
            ax.set_xscale("log", base=2)
            plain_log_axis(ax.xaxis)
            ax.set_ylim(0, 105)
            ax.set_xlabel("decode batch (tokens, log)")
            ax.set_ylabel(label)
        left.legend(fontsize=8, loc="lower right")
        right.legend(fontsize=8, loc="lower right")
        left.set_title("A batch's tokens pick different experts", loc="left", fontsize=10)
        right.set_title("so a step reads more of the model", loc="left", fontsize=10)
        return to_svg(
            fig, "moe-experts-vs-batch", "Experts touched and weights read per decode step against batch, MoE models",
            "Two panels against batch, uniform routing. " + "; ".join(described) + ".",
        )


def disaggregation_vs_rate(rows: tuple[tuple[float, float, float, float, float], ...], ttft_pct: int, itl_pct: int,
                           ttft_target_s: float, setting: str) -> str:
    """Time to first token and the inter-token latency's tail against arrival rate, for a split
    (prefill GPU + decode GPU) and a colocated pair: rows of (rate, split TTFT s, colocated TTFT s,
    split ITL s, colocated ITL s)."""
    rate, split_ttft, together_ttft, split_itl, together_itl = (np.array(c) for c in zip(*rows))
    with course_style():
        fig = new_figure(7.0, 3.8)
        left, right = fig.subplots(1, 2)
        for ax, split, together, label in ((left, split_ttft, together_ttft, f"p{ttft_pct} time to first token (ms, log)"),
                                           (right, split_itl, together_itl, f"p{itl_pct} inter-token latency (ms)")):
            ax.plot(rate, split * 1e3, "o-", color=ORANGE, markersize=4, label="split: 1 prefill + 1 decode GPU")
            ax.plot(rate, together * 1e3, "s--", color=BLUE, markersize=4, label="colocated: 2 chunked servers")
            ax.set_xlabel("arrival rate (requests/s)")
            ax.set_ylabel(label)
        left.set_yscale("log")
        plain_log_axis(left.yaxis)
        left.axhline(ttft_target_s * 1e3, color=INK, linestyle=":", linewidth=1)
        left.text(rate[0], ttft_target_s * 1e3 * 1.15, f"TTFT target {ttft_target_s:g} s", fontsize=8)
        right.legend(fontsize=8, loc="upper left")
        left.set_title("The split queues prefills on one GPU", loc="left", fontsize=10)
        right.set_title("but keeps chunks out of decode steps", loc="left", fontsize=10)
        fig.suptitle(setting, fontsize=9, x=0.01, ha="left")
        calm = [r for r, a, b in zip(rate, split_itl, together_itl) if a < b]
        return to_svg(
            fig, "disaggregation-vs-rate", "Disaggregated against colocated serving: TTFT and inter-token latency by rate",
            f"Two panels against arrival rate. Left, log scale: the split's p{ttft_pct} TTFT rises from "
            f"{split_ttft[0] * 1e3:.0f} ms to {split_ttft[-1] * 1e3:,.0f} ms, the colocated pair's from "
            f"{together_ttft[0] * 1e3:.0f} ms to {together_ttft[-1] * 1e3:.0f} ms. Right: the split's p{itl_pct} "
            f"inter-token latency is the lower up to {max(calm) if calm else rate[0]:.0f} requests/s "
            f"({split_itl[0] * 1e3:.1f} against {together_itl[0] * 1e3:.1f} ms at {rate[0]:.0f}), and the higher "
            f"beyond ({split_itl[-1] * 1e3:.1f} against {together_itl[-1] * 1e3:.1f} ms at {rate[-1]:.0f}).",
        )
