"""Values, tables and figures of docs/run_on_your_hardware.md: the recorded results files."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from pages import recorded
from pages.claims import claim
from pages.store import cached
from snippets import calibration, hardware, models, results, roofline
from vis import measured

PAGE = "run_on_your_hardware.md"

_recorded = recorded.load_all()
_gpus = [d for d in _recorded if d["device"]["kind"] == "cuda" and d["decode"]]  # runs that timed decode steps


# ---- the recorded GPU runs, calibrated: the residuals the prose reads ----------------------
def _run_on(spec: str, section: str = "decode") -> dict:
    """The run recorded.py's rule picks on `spec` for `section` (the whole Llama-3.1-8B in bf16)."""
    return recorded.run_for(hardware.get(spec).name, "Llama-3.1-8B", "bf16", section)


def _held_out(doc: dict, sweep: str) -> list[calibration.Prediction]:
    run = next(c for c in calibration.calibrate_document(doc)[0] if c.sweep.startswith(sweep))
    return [p for p in run.predictions if not p.fitted]


_h200, _h100 = _run_on("H200 SXM"), _run_on("H100 SXM")
h200_mode, h100_mode = (calibration.best_decode_mode(d) for d in (_h200, _h100))
_h200_held, _h100_held = _held_out(_h200, "decode"), _held_out(_h100, "decode")
h100_first_residual = _h100_held[0].residual_pct
h100_worst_residual = max(p.residual_pct for p in _h100_held)
h100_worst_step = max(_h100_held, key=lambda p: p.residual_pct).point.label
h100_residual_grows = claim("on the H100 the held-out residual grows with the batch", all(
    a.residual_pct < b.residual_pct for a, b in zip(_h100_held, _h100_held[1:])))
h100_under_predicts = claim("the H100's calibrated model under-predicts every held-out batch (positive residuals)",
                            all(p.residual_pct > 0 for p in _h100_held))
h200_timed_attention = claim(
    "the H100 run timed no attention alone; the H200 run timed it at every held-out decode batch",
    not _h100.get("attention") and all(p.point.attention_s is not None for p in _h200_held))

# The newest H200 run also timed one layer's attention alone (snippets.bench.attention): the
# calibrated model adds it as a phase of its own; its residuals, sweep by sweep.
_h200_runs = {c.sweep.split(",")[0]: c for c in calibration.calibrate_document(_h200)[0]}
RESIDUAL_BAR_PCT = 15  # the ±15 % a calibrated model should meet on held-out steps
residual_bar_pct = RESIDUAL_BAR_PCT
h200_decode_low, h200_decode_high = (f(p.residual_pct for p in _h200_held) for f in (min, max))
h200_decode_held = len(_h200_held)
h200_decode_within_bar = claim("with its attention timed, every held-out H200 decode step is predicted within 15 %",
                               max(abs(p.residual_pct) for p in _h200_held) < RESIDUAL_BAR_PCT)
_h200_prefill_held = [p for p in _h200_runs["prefill"].predictions if not p.fitted]
_h200_mixed_held = [p for p in _h200_runs["mixed"].predictions if not p.fitted]
h200_prefill_low, h200_prefill_high = (f(p.residual_pct for p in _h200_prefill_held) for f in (min, max))
h200_small_chunk, h200_long_chunk = (f(c for c in _h200["settings"]["mixed_chunks"] if c) for f in (min, max))
_chunked = [p for p in _h200_mixed_held if f"{h200_long_chunk:,}-token" in p.point.label]
_small_chunks = [p for p in _h200_mixed_held if p not in _chunked]
h200_mixed_small_worst = max(abs(p.residual_pct) for p in _small_chunks)
h200_mixed_long_low, h200_mixed_long_high = (f(p.residual_pct for p in _chunked) for f in (min, max))
h200_mixed_small_within = claim(
    "the H200's held-out mixed steps with no chunk or the small one are within 15 %",
    set(_h200["settings"]["mixed_chunks"]) <= {0, h200_small_chunk, h200_long_chunk}
    and h200_mixed_small_worst < RESIDUAL_BAR_PCT)
h200_long_misses = claim(
    "the H200's held-out mixed steps with the long chunk, and its held-out prefills, are under-predicted by "
    "more than 15 %", h200_mixed_long_low > RESIDUAL_BAR_PCT and h200_prefill_low > RESIDUAL_BAR_PCT)
# What the model leaves out there, measured: the clock. Long prefills hold the GPU at its power
# limit; the run samples the SM clock in every section.
_env = _h200["environment"]
h200_prefill_clock_MHz = _env["section:prefill"]["sm_clock_MHz_median"]
h200_prefill_power_W = _env["section:prefill"]["power_W_median"]
h200_power_limit_W = _env["start"]["power_limit_W"]
h200_matmul_clock_MHz = _env["section:matmul"]["sm_clock_MHz_median"]
h200_clock_ratio = h200_prefill_clock_MHz / h200_matmul_clock_MHz
h200_prefill_throttled = claim(
    "the prefill section ran near the power limit (above 95 % of it) at a lower median SM clock than the matmul sweep",
    h200_prefill_power_W > 0.95 * h200_power_limit_W and h200_clock_ratio < 0.95)
_longest_prefill = max(_h200_prefill_held, key=lambda p: p.point.flops)
h200_prefill_clocked_residual = 100 * (_longest_prefill.point.measured_s / (
    _h200_runs["prefill"].calibration.fixed_s + max(_longest_prefill.memory_s, _longest_prefill.compute_s / h200_clock_ratio)
    + _longest_prefill.attention_s) - 1)
h200_prefill_longest = _longest_prefill.point.label
clock_explains_part = claim("at the prefill section's own clock the longest prefill's residual shrinks but stays positive",
                            0 < h200_prefill_clocked_residual < _longest_prefill.residual_pct)
# Which attention kernel is fastest on this GPU (the decoder runs FlashAttention-2, "flash").
_att = {(r["kernel"], r["case"], r["batch"], r["tokens"]): r for r in _h200["attention"]}
_big = max(r["batch"] for r in _h200["attention"] if r["case"] == "decode")
h200_attention_batch = _big
h200_flash_GBps = _att[("flash", "decode", _big, 1)]["GBps"]
h200_cudnn_GBps = _att[("cudnn", "decode", _big, 1)]["GBps"]
_long = max(r["tokens"] for r in _h200["attention"] if r["case"] == "prefill")
h200_attention_prompt = _long
h200_cudnn_prefill_speedup = _att[("flash", "prefill", 1, _long)]["median_s"] / _att[("cudnn", "prefill", 1, _long)]["median_s"]
cudnn_faster = claim("on the H200 cuDNN's attention read the largest batch's cache faster than FlashAttention-2, and "
                     "ran the longest prompt more than 1.5x faster",
                     h200_cudnn_GBps > h200_flash_GBps and h200_cudnn_prefill_speedup > 1.5)
_h200_compile = [r for r in _h200["decode"] if r["mode"] == "compile"]
h200_compile_mbu_low = min(r["mbu_pct"] for r in _h200_compile)
h200_compile_mbu_high = max(r["mbu_pct"] for r in _h200_compile)
h200_compile_mbu_largest = max(_h200_compile, key=lambda r: r["batch"])["mbu_pct"]
DECODE_BAR_PCT = 70  # the MBU a compiled decode step should reach at every batch
decode_bar_pct = DECODE_BAR_PCT
h200_below_decode_bar = claim("compiled, the H200 stayed below 70 % MBU at every batch, lowest at the largest",
                              h200_compile_mbu_high < DECODE_BAR_PCT and h200_compile_mbu_largest == h200_compile_mbu_low)
_best_matmul = {d["device"]["spec_name"]: max(r["best_TFLOPS"] for r in d["matmul"]
                                              if r["dtype"] == "bf16" and not r.get("role"))
                for d in (_h200, _h100)}
h200_copy_not_matmul = claim(
    "the H200's copy is faster than the H100's while its best bf16 matmul of the square sweep is not (within 2 %)",
    results.best(_h200, "bandwidth", "GBps", kernel="copy")["GBps"]
    > results.best(_h100, "bandwidth", "GBps", kernel="copy")["GBps"]
    and _best_matmul[_h200["device"]["spec_name"]] < 1.02 * _best_matmul[_h100["device"]["spec_name"]])
_h200_largest = max(_h200_held, key=lambda p: p.point.tokens)
h200_largest_batch = _h200_largest.point.tokens
h200_largest_compute_bound = claim(
    "at the H200's largest decode batch the matmul phase is compute-bound at the rates the run measured",
    _h200_largest.point.tokens == max(r["batch"] for r in _h200["decode"]) and _h200_largest.compute_s > _h200_largest.memory_s)
_h200_prefill_rows = [r for r in _run_on("H200 SXM", "prefill")["prefill"] if r.get("mode") == "compile"]
PREFILL_BAR_PCT = 55  # the share of the dense bf16 peak a compiled 2,048-token prefill should reach
prefill_bar_pct = PREFILL_BAR_PCT
h200_bar_prompt = 2048  # the prompt of the prefill bar
h200_prefill_2048_pct = next(100 * r["TFLOPS"] / hardware.get("H200 SXM").dense_fp16_bf16_TFLOPS
                             for r in _h200_prefill_rows if r["prompt_tokens"] == h200_bar_prompt)
h200_prefill_meets_bar = claim("compiled, the H200's 2,048-token prefill ran above 55 % of the dense bf16 datasheet peak",
                               h200_prefill_2048_pct > PREFILL_BAR_PCT)


def _marginal_GBps(doc: dict, mode: str) -> float:
    """GB/s at which the extra bytes of the largest decode batch over the smallest moved."""
    rows = sorted((r for r in doc["decode"] if r["mode"] == mode), key=lambda r: r["batch"])
    extra = (rows[-1]["weight_bytes"] + rows[-1]["cache_bytes"]) - (rows[0]["weight_bytes"] + rows[0]["cache_bytes"])
    return extra / (rows[-1]["median_s"] - rows[0]["median_s"]) / 1e9


def _copy_GBps(doc: dict) -> float:
    return results.best(doc, "bandwidth", "GBps", kernel="copy")["GBps"]


h200_marginal_GBps, h100_marginal_GBps = _marginal_GBps(_h200, h200_mode), _marginal_GBps(_h100, h100_mode)
h200_marginal_of_copy = h200_marginal_GBps / _copy_GBps(_h200)
h100_marginal_of_copy = h100_marginal_GBps / _copy_GBps(_h100)
marginal_below_copy = claim("on both GPUs the extra bytes of the large batches moved below the copy bandwidth",
                            h200_marginal_of_copy < 1 and h100_marginal_of_copy < 1)
# The H100's profile (compile, batch 1): kernel time per step against the measured step.
_top = _h100["profile"]["kernels"][0]
h100_busy_ms = _top["per_step_ms"] / (_top["pct"] / 100)
h100_step_ms = next(r["median_s"] for r in _h100["decode"] if r["mode"] == _h100["profile"]["mode"]
                    and r["batch"] == _h100["profile"]["batch"]) * 1e3
h100_busy_share = h100_busy_ms / h100_step_ms
h100_fixed_ms = next(c for c in calibration.calibrate_document(_h100)[0]
                     if c.sweep.startswith("decode")).calibration.fixed_s * 1e3
no_idle_time = claim("compiled at batch 1 the H100 ran kernels for at least 98 % of the step", h100_busy_share > 0.98)
h100_eager_ms, h100_graph_ms = (next(r["median_s"] for r in _h100["decode"] if r["mode"] == mode and r["batch"] == 1)
                                * 1e3 for mode in ("eager", "graph"))
eager_launch_bound = claim("on the H100 the eager batch-1 step took more than twice the graph one",
                           h100_eager_ms > 2 * h100_graph_ms)

_h100_prefill = _held_out(_h100, "prefill")
h100_prefill_worst = max(_h100_prefill, key=lambda p: p.residual_pct)
h100_prefill_worst_residual = h100_prefill_worst.residual_pct
h100_prefill_worst_step = h100_prefill_worst.point.label
prefill_worst_miss = claim(
    "the H100's longest prefill is the calibrated model's worst miss on that run",
    h100_prefill_worst.point.flops == max(p.point.flops for p in _h100_prefill)
    and h100_prefill_worst_residual > max(h100_worst_residual, *(p.residual_pct for p in _h100_prefill
                                                                if p is not h100_prefill_worst)))
_h100_prefill_run = next(c for c in calibration.calibrate_document(_h100)[0] if c.sweep.startswith("prefill"))
h100_prefill_fixed_ms = _h100_prefill_run.calibration.fixed_s * 1e3
_longest = max(_h100_prefill_run.predictions, key=lambda p: p.point.flops)
h100_prefill_roofline_ratio = _longest.point.measured_s / max(_longest.memory_s, _longest.compute_s)
_cfg = models.get(_h100["settings"]["model"])
_prompt = max(r["prompt_tokens"] for r in _h100["prefill"])
h100_prefill_prompt = _prompt
h100_prefill_attention_share = (4 * _cfg.n_layers * _cfg.n_heads * _cfg.head_dim * _prompt * (_prompt + 1) / 2
                                / _longest.point.flops)
h100_prefill_head_share = 2 * _prompt * models.lm_head_matmul_weights(_cfg) / _longest.point.flops
prefill_above_roofline = claim(
    "the longest prefill took more than 1.5x its roofline time at the run's own rates, fixed cost left out",
    h100_prefill_roofline_ratio > 1.5)
# If attention ran at a quarter of the matmul rate it would add 3x its share of the compute time.
h100_attention_quarter_of_gap = 3 * h100_prefill_attention_share / (h100_prefill_roofline_ratio - 1)
attention_not_the_gap = claim(
    "attention at a quarter of the matmul rate would explain well under half of the longest prefill's gap",
    h100_attention_quarter_of_gap < 0.5)
# The H100 run computed the LM head at every prompt position; the H200 runs recorded after it
# (every one with prefill rows) time the prefill with the LM head for the last token only.
_h200_prefill_runs = [d for d in _recorded if d["device"]["spec_name"] == hardware.get("H200 SXM").name
                      and d.get("prefill") and d["created"] > _h100["created"]]
h200_counts_as_ch1 = claim(
    "every H200 run with prefill rows recorded after the H100 run counts the prefill's FLOPs as chapter 1's "
    "prefill does (LM head for the last token)", bool(_h200_prefill_runs) and all(
        abs(r["flops"] / roofline.prefill(_cfg, r["prompt_tokens"]).flops - 1) < 1e-9
        for d in _h200_prefill_runs for r in d["prefill"]))
_h100_compile = [r for r in _h100["decode"] if r["mode"] == "compile"]
h100_compile_mbu_low = min(r["mbu_pct"] for r in _h100_compile)
h100_compile_mbu_high = max(r["mbu_pct"] for r in _h100_compile)
compile_mbu_high = claim("compiled, the H100 ran every batch at 70 % MBU or more", h100_compile_mbu_low >= DECODE_BAR_PCT)


def overview_table() -> str:
    return results.overview_table(_recorded, link_base="../results/")  # the page is served at /run_on_your_hardware/


def roofline_figures() -> str:
    return "\n".join(cached(measured.measured_roofline, doc, name=f"measured-{Path(doc['file']).stem}")
                     for doc in recorded.newest_per_device(_recorded, "bandwidth"))


def gpu_sections() -> str:
    """One section per GPU, its newest run: what it measured, and every decode step beside the bound."""
    parts = []
    for doc in recorded.newest_per_device(_gpus, "decode"):
        dev, s = doc["device"], doc["settings"]
        copy = results.best(doc, "bandwidth", "GBps", kernel="copy")
        mm = results.best(doc, "matmul", "best_TFLOPS")
        fast = min((r for r in doc["decode"] if r["batch"] == 1), key=lambda r: r["median_s"])
        longer = 100 * (fast["median_s"] / fast["predicted_s"] - 1)
        parts.append(
            f"### {results.md(dev['name'])} ({results.md(dev['spec_name'])}), PyTorch {results.md(dev['torch'])}\n\n"
            f"Copy moved **{copy['GBps']:,.0f} GB/s**, {copy['pct_of_spec']:.1f} % of the datasheet's "
            f"{dev['spec_bandwidth_GBps']:,.0f} GB/s. The best bf16 matmul ran at **{mm['best_TFLOPS']:,.0f} "
            f"TFLOP/s**, {mm['pct_of_spec']:.1f} % of the dense {dev['spec_dense_bf16_TFLOPS']:,.1f}. "
            f"A {results.md(s['model'])}-shaped decode step in {results.md(s['dtype'])} at batch 1 and {s['context']:,} tokens of "
            f"context took **{fast['median_s'] * 1e3:.2f} ms** ({fast['mode']}): MBU {fast['mbu_pct']:.1f} %, "
            f"{fast['pct_of_copy']:.1f} % of the measured copy bandwidth; it takes {longer:.0f} % longer than "
            f"chapter 1's bound of {fast['predicted_s'] * 1e3:.2f} ms.\n\n" + results.decode_table(doc) + "\n")
    return "\n".join(parts)


def decode_figures() -> str:
    return "\n".join(cached(measured.decode_vs_prediction, doc, name=f"decode-{Path(doc['file']).stem}")
                     for doc in recorded.newest_per_device(_gpus, "decode"))


def gap_reading() -> str:
    parts = []
    for doc in recorded.newest_per_device(_gpus, "decode"):
        copy = results.best(doc, "bandwidth", "GBps", kernel="copy")
        parts.append(
            f"Read the gap column from the bottom of the roofline up. The bound assumes every byte moves "
            f"at the datasheet rate and nothing else costs time. On the {results.md(doc['device']['name'])} a copy kernel "
            f"reaches {copy['pct_of_spec']:.1f} % of that rate, so even a perfect decode step would take "
            f"{100 / copy['pct_of_spec'] * 100 - 100:.0f} % longer than the bound. Eager mode adds Python's "
            "launch time for every kernel; a CUDA graph removes it; `torch.compile` also fuses the small "
            "element-wise operations (normalisation, rotary embeddings, activations) that otherwise each "
            "read and write their activations. At large batches the step time grows with the KV cache "
            "each sequence reads, as chapter 1's batching figure predicts.")
    return "\n\n".join(parts)


def calibration_sections() -> str:
    """The calibrated model's predictions beside the measurements, newest run of each device."""
    return _newest("decode", results.calibration_table)


def calibration_figures() -> str:
    return "\n".join(cached(measured.predicted_vs_measured, doc, name=f"calibrated-{Path(doc['file']).stem}")
                     for doc in recorded.newest_per_device(_recorded, "decode") if results.calibration_table(doc))


def prefill_sections() -> str:
    return _newest("prefill", results.prefill_table)


def _heading(doc: dict) -> str:
    """A run's heading: its device, and its file (the overview table lists every run)."""
    file = doc["file"]
    return f"#### {results.md(doc['device']['name'])}: [{results.md(file)}](../results/{quote(file)})"


def _newest(section: str, table) -> str:
    """`table` of the newest run of each device with rows in `section` (as the figures draw them)."""
    parts = [f"{_heading(d)}\n\n{body}\n" for d in recorded.newest_per_device(_recorded, section) if (body := table(d))]
    return "\n".join(parts) or f"No recorded file has {section} measurements yet: they arrive with the next GPU run."


def mixed_sections() -> str:
    return _newest("mixed", results.mixed_table)


def verify_sections() -> str:
    return _newest("verify", results.verify_table)


def speculative_sections() -> str:
    return _newest("speculative", results.speculative_table)


def quant_sections() -> str:
    return _newest("quant", results.quant_table)


def profile_sections() -> str:
    return _newest("profile", results.profile_table)


def bench_options_table() -> str:
    """The bench's options, from its own parser; stored, since the parser's module imports torch."""
    return cached(_bench_options)


def _bench_options() -> str:
    from snippets.bench import cli

    return cli.options_table()


def comm_sections() -> str:
    """One row per recorded bench-comm sweep (docs/results/comm/), newest last."""
    from snippets import comm_results
    from snippets.report import markdown_table

    md = results.md
    rows = []
    for doc in comm_results.load_folder(recorded.RESULTS / "comm"):
        fits = {f["collective"]: f for f in doc["fits"]}
        cells = [md(doc["device"]["name"]), md(doc["device"]["backend"]), str(doc["settings"]["ranks"]),
                 md(doc["created"][:10])]
        for collective in ("all_reduce", "all_to_all"):
            f = fits[collective]
            worst = max((abs(c["residual"]) for c in f["checked"]), default=0.0)
            cells.append(f"{f['alpha_s'] * 1e6:,.0f} µs, {f['busbw_GBps']:.3g} GB/s, worst held-out {worst:.0%}")
        rows.append(cells)
    return markdown_table(["device", "backend", "ranks", "date", "all-reduce: α, busbw", "all-to-all: α, busbw"], rows,
                          escape=False)
