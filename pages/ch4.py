"""Values, claims, tables and figures of docs/04_quantization.md (chapter 4)."""

from __future__ import annotations

from functools import cache

from pages import recorded
from pages.claims import claim
from pages.store import cached
from snippets import hardware, kv_cache, models, quant_errors, quant_formats, quant_measurements, results, roofline
from snippets.report import escape_markdown, markdown_table
from snippets.units import GB, GiB
from vis import chapter4

PAGE = "04_quantization.md"

# ---- the page's parameters ----------------------------------------------------------------
GPU = "H100 SXM"  # the bounds and ridges
GPUS = ("A100 80GB SXM", "H100 SXM", "H200 SXM")
MODEL = "Llama-3.1-8B"
BIG_MODEL = "Llama-3.1-70B"
FORMATS = ("bf16", "int8-channel", "fp8-tensor", "int8-w8a8", "int4-g128", "int4-g32")
BATCHES = (1, 16, 64, 256, 1024)
LONG_CONTEXT = 32768  # the KV-cache case
KV_DTYPES = ("bf16", "fp8")
MEASURED = ("gpt-fast Llama-2-7B bf16", "gpt-fast Llama-2-7B int8", "gpt-fast Llama-2-7B int4 g32")
ERROR_ROWS = ERROR_COLS = 384  # the build-time error demo: small, so the build stays fast
ERROR_SHAPE = (ERROR_ROWS, ERROR_COLS)
ERROR_TOKENS = 16
OUTLIER_CHANNELS, OUTLIER_SCALE = 4, 20.0
GROUPS = (16, 32, 64, 128, 384)
ERROR_FORMATS = ("int8-tensor", "int8-channel", "fp8-tensor", "int4-g32", "int4-g128", "int4-g384")
OUTLIER_PLACES = ("none", "output", "input")  # no outliers; in a few output rows; in a few input columns
SMOOTHING_ALPHA = 0.5  # SmoothQuant's default migration strength
ACTIVATION_BYTES = 2  # bf16 activations, for the critical batch that counts them
MOE_MODEL, MOE_BATCH = "DeepSeek-V3", 1024
# The Marlin README (IST-DASLab/marlin, commit 2f6d7c1): "close to ideal (4x) speedups up to
# batchsizes of 16-32 tokens", benchmarked "on an NVIDIA A10 GPU", "groupsize 128".
MARLIN_BATCHES, MARLIN_GPU, MARLIN_GROUP = (16, 32), "A10", 128
marlin_batch_lo, marlin_batch_hi = MARLIN_BATCHES

h100 = hardware.get(GPU)
llama = models.get(MODEL)
llama70 = models.get(BIG_MODEL)
fmt = {name: quant_formats.get(name) for name in FORMATS}

# ---- Bytes per parameter --------------------------------------------------------------------
ROWS, COLS = llama.d_model, llama.d_model  # the q projection of Llama-3.1-8B: 4,096 x 4,096
bpp = {name: f.bytes_per_param(ROWS, COLS) for name, f in fmt.items()}
g128_bits, g32_bits = 8 * bpp["int4-g128"], 8 * bpp["int4-g32"]
g128_overhead_bits, g32_overhead_bits = fmt["int4-g128"].overhead_bits, fmt["int4-g32"].overhead_bits
int8_overhead_pct = 100 * (bpp["int8-channel"] - 1)
g32_fifth_overhead = claim("an int4 format with group 32 spends a fifth of its bits on scales and zero-points",
      abs(g32_overhead_bits / g32_bits - 0.2) < 1e-9)
g32_extra_bits = g32_bits - g128_bits
scales_negligible = claim("per-channel int8 scales cost under 0.1 % of the bytes, a per-tensor fp8 scale under a "
                          "millionth", bpp["int8-channel"] - 1 < 1e-3 and bpp["fp8-tensor"] - 1 < 1e-6)
layout_bits = {label: 8 * f.bytes_per_param(ROWS, COLS) for label, f in quant_formats.INT4_LAYOUTS.items()}
gptq_bits, marlin_bits = layout_bits["GPTQ / AWQ checkpoints"], layout_bits["Marlin (symmetric)"]
marlin_ideal = 16 / marlin_bits  # the Marlin README's "optimal 3.87x" over fp16
other_layouts_store_less = claim(
    "other int4 group-128 layouts (GPTQ/AWQ, Marlin) store less beside each group than tinygemm's",
    marlin_bits < gptq_bits < g128_bits < 4.3)
marlin_387 = claim("16 bits over Marlin's 4.125 bits per weight is its README's 3.87x", abs(marlin_ideal - 3.87) < 0.01)


def layouts_table() -> str:
    rows = [[label, f.description or "16-bit scale and 16-bit float zero-point", f"{layout_bits[label]:.4g}",
             f"{16 / layout_bits[label]:.2f}x"] for label, f in quant_formats.INT4_LAYOUTS.items()]
    return markdown_table(["int4, group 128, as stored by", "per group", "bits/weight", "fewer bytes than 16-bit"], rows)

quantized_B = quant_formats.quantized_params(llama) / 1e9
rest_B = (models.step_param_count(llama, 1) - quant_formats.quantized_params(llama)) / 1e9
head_B = models.lm_head_params(llama) / 1e9
step_GB = {name: quant_formats.weights_read_bytes(llama, name) / GB for name in FORMATS}
rest_share_int4 = rest_B * 2 / step_GB["int4-g128"]
int4_ratio = step_GB["bf16"] / step_GB["int4-g128"]
int8_ratio = step_GB["bf16"] / step_GB["int8-channel"]
rest_tenth_of_int4 = claim("in int4 the 16-bit remainder (LM head, embedding row, norms) is over a tenth of a "
                           "step's bytes", rest_share_int4 > 0.1)
int4_short_of_4x = claim("so int4-g128 cuts a step's bytes by less than 4x (more than 3x)", 3 < int4_ratio < 4)


def bytes_table() -> str:
    rows = []
    for name, f in fmt.items():
        scales = "none" if f.granularity == "none" else (
            f"one {f.scale_dtype} scale per {'tensor' if f.granularity == 'tensor' else 'output channel' if f.granularity == 'channel' else f'{f.group_size} weights'}"
            + (" + a zero-point" if f.zero_point else ""))
        if f.compute_dtype != "bf16":
            scales += f"; activations in {f.compute_dtype}"
        rows.append([name, f.element_dtype, scales, f"{bpp[name]:.5g}", f"{8 * bpp[name]:.4g}",
                     f"{step_GB[name]:.2f} GB", f"{step_GB['bf16'] / step_GB[name]:.2f}x"])
    return markdown_table(["format", "weights in", "scales", f"bytes/weight ({ROWS:,} x {COLS:,})", "bits/weight",
                           f"{llama.name} step reads", "fewer bytes than bf16"], rows)


# ---- The batch-1 bound ----------------------------------------------------------------------


def bound_table() -> str:
    rows = []
    for m in (llama, llama70):
        for g in map(hardware.get, GPUS):
            cells = [m.name, g.name]
            for name in FORMATS:
                if g.__getattribute__(hardware.COMPUTE_COLUMNS[fmt[name].compute_dtype]) is None:
                    cells.append(f"no {fmt[name].compute_dtype} math")
                elif quant_formats.stored_bytes(m, name) > g.usable_memory_bytes():
                    cells.append("does not fit")
                else:
                    t = quant_formats.step_time_s(m, name, g)
                    cells.append(f"{t * 1e3:.2f} ms ({1 / t:,.0f}/s)")
            rows.append(cells)
    return markdown_table(["model", "GPU", *FORMATS], rows)


bound_ms = {name: quant_formats.step_time_s(llama, name, h100) * 1e3 for name in FORMATS}
bound_tps = {name: 1e3 / ms for name, ms in bound_ms.items()}
bf16_ms, int8_ms, int4_ms = bound_ms["bf16"], bound_ms["int8-channel"], bound_ms["int4-g128"]
bf16_tps, int8_tps, int4_tps = bound_tps["bf16"], bound_tps["int8-channel"], bound_tps["int4-g128"]
llama70_int4_GiB = quant_formats.stored_bytes(llama70, "int4-g128") / GiB
llama70_bf16_GiB = quant_formats.stored_bytes(llama70, "bf16") / GiB
h100_usable_GiB = h100.usable_memory_bytes() / GiB
h100_GB_label = h100.memory_GB
llama70_int8_GiB = quant_formats.stored_bytes(llama70, "int8-channel") / GiB
llama70_int8_left_GiB = h100_usable_GiB - llama70_int8_GiB
h200 = hardware.get("H200 SXM")
llama70_bf16_h200_left_GiB = (h200.usable_memory_bytes() - quant_formats.stored_bytes(llama70, "bf16")) / GiB
llama70_fits_generously = claim(
    "'fits' is generous: Llama-3.1-70B in int8 on an 80 GB GPU, and in bf16 on the H200, leaves under 16 GiB",
      0 < llama70_int8_left_GiB < 16 and 0 < llama70_bf16_h200_left_GiB < 16)
llama70_fits_8_or_4_bits = claim(
    "Llama-3.1-70B's weights fit on one 80 GB GPU in int8 and int4-g128 but not in bf16",
    quant_formats.stored_bytes(llama70, "int4-g128") < quant_formats.stored_bytes(llama70, "int8-channel")
    < h100.usable_memory_bytes() < quant_formats.stored_bytes(llama70, "bf16"))
batch1_memory_bound = claim(
    "batch-1 decode is memory-bound in every format, for both models, on every GPU of the table with that math",
    all(quant_formats.is_memory_bound(m, n, g) for m in (llama, llama70) for g in map(hardware.get, GPUS)
        for n in FORMATS if g.__getattribute__(hardware.COMPUTE_COLUMNS[fmt[n].compute_dtype]) is not None))

# ---- The ridge moves --------------------------------------------------------------------------
critical = {name: quant_formats.critical_batch(h100, name, ROWS, COLS) for name in FORMATS}
critical_act = {name: quant_formats.critical_batch(h100, name, ROWS, COLS, ACTIVATION_BYTES) for name in FORMATS}
crit_act_bf16, crit_act_int8, crit_act_int4 = (critical_act[n] for n in ("bf16", "int8-channel", "int4-g128"))
activations_raise_critical = claim("counting the activations raises every critical batch by more than a tenth",
      all(critical_act[n] > 1.1 * critical[n] for n in FORMATS))
step_critical = {name: quant_formats.compute_bound_batch(llama, name, h100) for name in FORMATS}
crit_bf16, crit_int8, crit_fp8, crit_int4 = (critical[n] for n in ("bf16", "int8-channel", "fp8-tensor", "int4-g128"))
h100_ridge_bf16, h100_ridge_fp8 = h100.ridge_point("bf16"), h100.ridge_point("fp8")
critical_half_and_quarter = claim(
    "int8 weights halve the critical batch; int4-g128 weights make it about a quarter, the scales keeping it above",
    abs(crit_int8 / crit_bf16 - 0.5) < 0.01 and 0.25 < crit_int4 / crit_bf16 < 0.3)
w8a8_keeps_critical = claim(
    "fp8 math doubles the roof, so W8A8 keeps bf16's critical batch at twice the throughput",
    abs(crit_fp8 / crit_bf16 - 1) < 0.01 and h100.peak_flops("fp8") / h100.peak_flops("bf16") > 1.99)
crit_w8a8 = critical["int8-w8a8"]
int8_w8a8_like_fp8 = claim("int8 W8A8 has fp8 W8A8's critical batch on the H100, whose int8 and fp8 roofs are equal",
      abs(crit_w8a8 / crit_fp8 - 1) < 0.01 and h100.peak_flops("int8") == h100.peak_flops("fp8"))
step_crit_bf16, step_crit_fp8 = step_critical["bf16"], step_critical["fp8-tensor"]
fp8_step_crit_as_bf16 = claim(
    "the whole fp8 step, its 16-bit LM head at bf16 speed, turns compute-bound where bf16's does (within 2 %)",
    abs(step_crit_fp8 / step_crit_bf16 - 1) < 0.02)
# W8A8 reads 8-bit inputs and writes 16-bit outputs: its critical batch with those counted (the table's
# column counts ACTIVATION_BYTES both ways, as for the weight-only formats).
_fp8_ridge = h100.ridge_point("fp8")
crit_act_fp8_8bit_inputs = (_fp8_ridge * bpp["fp8-tensor"] / 2
                            / (1 - _fp8_ridge * (1 * COLS + 2 * ROWS) / (2 * ROWS * COLS)))
crit_act_fp8 = critical_act["fp8-tensor"]
w8a8_real_inputs = claim("8-bit inputs lower W8A8's activation-counted critical batch, still above the weights-only one",
      crit_fp8 < crit_act_fp8_8bit_inputs < crit_act_fp8)


def ridge_table() -> str:
    rows = [[name, fmt[name].compute_dtype, f"{h100.ridge_point(fmt[name].compute_dtype):.0f}",
             f"{bpp[name]:.4g}", f"{critical[name]:,.0f}", f"{critical_act[name]:,.0f}", f"{step_critical[name]:,}"]
            for name in FORMATS]
    return markdown_table(["format", "math in", "ridge, FLOP/byte", "bytes/weight",
                           f"critical batch, one {ROWS:,} x {COLS:,} matmul (weights only)",
                           f"same, {ACTIVATION_BYTES}-byte activations counted",
                           f"whole {llama.name} step compute-bound from (context 0)"], rows)


def fitting_context(batch: int) -> int:
    """The longest power-of-two context at which `batch` sequences fit with bf16 weights and cache."""
    context = 0
    while (context * 2 or 128) <= llama.max_position_embeddings and quant_formats.max_batch(
            llama, "bf16", h100, context * 2 or 128) >= batch:
        context = context * 2 or 128
    return context


def full_context(batch: int) -> int:
    """The longest context (any length) at which `batch` sequences fit with bf16 weights and cache: memory full."""
    lo, hi = 0, llama.max_position_embeddings + 1  # fits at lo; does not at hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if quant_formats.max_batch(llama, "bf16", h100, mid) >= batch else (lo, mid)
    return lo


contexts = {b: fitting_context(b) for b in BATCHES}
FIT_BATCHES = tuple(2 ** k for k in range(BATCHES[-1].bit_length()))  # every power of two up to the table's largest
# each of those batches at the longest power-of-two context that fits (the table's rule) and with memory full
fit_cases = [(b, c) for b in FIT_BATCHES for c in (fitting_context(b), full_context(b))]


def _tps(name: str, batch: int, context: int = 0) -> float:
    return quant_formats.tokens_per_s(llama, name, h100, batch, context)


def batch_table() -> str:
    rows = []
    for b in BATCHES:
        c = contexts[b]
        best = max(FORMATS, key=lambda n: _tps(n, b, c))
        bound = "compute" if any(not quant_formats.is_memory_bound(llama, n, h100, b, c) for n in FORMATS) else "memory"
        rows.append([f"{b:,}", f"{c:,}", *(f"{_tps(n, b, c):,.0f}" for n in FORMATS), best, bound])
    return markdown_table(["batch", "context (longest that fits in bf16)", *FORMATS, "fastest", "every format"],
                          [r[:-1] + ["memory-bound" if r[-1] == "memory" else "some compute-bound"] for r in rows])


big = BATCHES[-1]
big_context = contexts[big]
big_fit = quant_formats.max_batch(llama, "bf16", h100, big_context)
int4_fastest_where_it_fits = claim(
    "at every power-of-two batch up to the table's largest, at the longest context that fits (power of two or "
    "any), int4 is fastest",
    all(max(FORMATS, key=lambda n, b=b, c=c: _tps(n, b, c)) == "int4-g128" for b, c in fit_cases))
memory_bound_where_it_fits = claim(
    "at every power-of-two batch up to the table's largest, at the longest context that fits (power of two or any), "
    "every format is memory-bound",
    all(quant_formats.is_memory_bound(llama, n, h100, b, c) for n in FORMATS for b, c in fit_cases))
largest_batch_short_context = claim(
    "with bf16 weights the largest batch fits only up to a short context (256 to 1,024 tokens)",
    256 <= big_context <= 1024 and big_fit >= big
    and quant_formats.max_batch(llama, "bf16", h100, 2 * big_context) < big)
big_bf16_tps, big_fp8_tps, big_int4_tps = (_tps(n, big, big_context) for n in ("bf16", "fp8-tensor", "int4-g128"))
int4_beats_fp8_at_largest = claim("at the largest batch and its context, int4 beats fp8, and fp8 beats bf16",
                                  big_int4_tps > 1.02 * big_fp8_tps and big_fp8_tps > big_bf16_tps)
# context 0, what the ridge promises
big0_int4_tps, big0_fp8_tps, big0_bf16_tps = (_tps(n, big) for n in ("int4-g128", "fp8-tensor", "bf16"))
context0_helps_different_batches = claim(
    "at context 0 int4 weights are fastest at batch 1; at the largest batch int4 gains under 10 % over bf16, both at "
    "the bf16 compute roof, and W8A8 math is fastest, over 1.5x int4",
    max(FORMATS, key=lambda n: _tps(n, 1)) == "int4-g128"
    and big0_int4_tps / big0_bf16_tps < 1.1
    and not any(quant_formats.is_memory_bound(llama, n, h100, big) for n in ("bf16", "int4-g128"))
    and max(FORMATS, key=lambda n: _tps(n, big)) in ("fp8-tensor", "int8-w8a8") and big0_fp8_tps > 1.5 * big0_int4_tps)
# The verdict's condition: with memory full every step is memory-bound; at short contexts it is not.
w8a8_wins_from = min(b for b in BATCHES if _tps("fp8-tensor", b) > _tps("int4-g128", b))
w8a8_wins_at_context0 = claim("at context 0, fp8 W8A8 beats int4 at every batch of the table from that batch up, "
                              "and not below it",
      all(_tps("fp8-tensor", b) > _tps("int4-g128", b) for b in BATCHES if b >= w8a8_wins_from)
      and all(_tps("int4-g128", b) >= _tps("fp8-tensor", b) for b in BATCHES if b < w8a8_wins_from))

# MoE: each expert's matmuls see a fraction of the batch
moe = models.get(MOE_MODEL)
moe_tokens_per_expert = MOE_BATCH * moe.experts_per_token / moe.n_routed_experts
moe_below_critical = claim("at a batch of 1,024 each DeepSeek-V3 expert sees under half int4-g128's critical batch",
      moe_tokens_per_expert < 0.5 * crit_int4)


# ---- KV-cache quantization -------------------------------------------------------------------
kv_batch = {d: quant_formats.max_batch(llama, "bf16", h100, LONG_CONTEXT, d) for d in KV_DTYPES}
kv_batch_bf16, kv_batch_fp8 = kv_batch["bf16"], kv_batch["fp8"]
kv_batch_is_chapter2s = claim("the page's max batch is chapter 2's", kv_batch_bf16 == kv_cache.max_batch(llama, h100, LONG_CONTEXT, "bf16", "bf16"))
_kv_step = {d: roofline.decode_step(llama, kv_batch_bf16, LONG_CONTEXT, "bf16", d) for d in KV_DTYPES}
kv_ms_bf16, kv_ms_fp8 = (_kv_step[d].time_s(h100) * 1e3 for d in KV_DTYPES)
kv_GB_bf16, kv_GB_fp8 = (_kv_step[d].kv_bytes / GB for d in KV_DTYPES)
weights_GB = _kv_step["bf16"].weight_bytes / GB
_full_fp8 = roofline.decode_step(llama, kv_batch_fp8, LONG_CONTEXT, "bf16", "fp8")
kv_ms_fp8_full = _full_fp8.time_s(h100) * 1e3
kv_tps_bf16 = _kv_step["bf16"].tokens_per_s(h100)
kv_tps_fp8 = _kv_step["fp8"].tokens_per_s(h100)
kv_tps_fp8_full = _full_fp8.tokens_per_s(h100)
kv_headroom_GB = quant_formats.headroom_bytes(llama, "bf16", h100, LONG_CONTEXT, kv_batch_bf16) / GB
kv_headroom_fp8_GB = quant_formats.headroom_bytes(llama, "bf16", h100, LONG_CONTEXT, kv_batch_fp8, "fp8") / GB
fp8_cache_doubles_batch = claim("filling the memory an 8-bit cache frees at least doubles the batch",
                                kv_batch_fp8 >= 2 * kv_batch_bf16)
cache_dominates = claim("at long context the full batch's cache outweighs the weights", kv_GB_bf16 > weights_GB)
halved_cache_faster = claim("halving the cache speeds the same batch up by more than a third",
                            kv_ms_bf16 / kv_ms_fp8 > 1.33)
full_batches_little_headroom = claim("both full batches leave under 1 GB for activations and workspace",
                                     max(kv_headroom_GB, kv_headroom_fp8_GB) < 1)
VLLM_GPU_MEMORY_UTILIZATION = 0.9  # vLLM's default share of the GPU's memory for weights, activations and cache
_vllm_free = VLLM_GPU_MEMORY_UTILIZATION * h100.visible_memory_bytes - quant_formats.stored_bytes(llama, "bf16")
vllm_batch_bf16 = int(_vllm_free // kv_cache.bytes_per_sequence(llama, LONG_CONTEXT, "bf16"))
vllm_fewer = kv_batch_bf16 - vllm_batch_bf16
vllm_few_fewer = claim("vLLM's default memory share runs a few (2 to 5) sequences fewer than the bound",
                       2 <= vllm_fewer <= 5)
int4_frees_GB = (quant_formats.stored_bytes(llama, "bf16") - quant_formats.stored_bytes(llama, "int4-g128")) / GB

KV_COMBOS = (("bf16", "bf16"), ("int4-g128", "bf16"), ("bf16", "fp8"), ("int4-g128", "fp8"))


def _combo(weights: str, cache: str) -> tuple[int, float, float]:
    """(batch that fits, headroom GB, tokens/s bound) for `weights` and a `cache` cache at LONG_CONTEXT."""
    b = quant_formats.max_batch(llama, weights, h100, LONG_CONTEXT, cache)
    return (b, quant_formats.headroom_bytes(llama, weights, h100, LONG_CONTEXT, b, cache) / GB,
            quant_formats.tokens_per_s(llama, weights, h100, b, LONG_CONTEXT, cache))


combo = {c: _combo(*c) for c in KV_COMBOS}
(combo_bf16_batch, _, combo_bf16_tps), (combo_w4_batch, _, combo_w4_tps), (combo_kv8_batch, _, combo_kv8_tps), \
    (combo_both_batch, _, combo_both_tps) = (combo[c] for c in KV_COMBOS)
cache_before_weights = claim("at long context an 8-bit cache buys more batch and over 1.5x the tokens/s of int4 weights",
      combo_kv8_batch > combo_w4_batch and combo_kv8_tps > 1.5 * combo_w4_tps)
both_buy_most = claim("int4 weights and an 8-bit cache together buy the most", combo_both_tps > combo_kv8_tps and combo_both_batch > combo_kv8_batch)


def kv_table() -> str:
    rows = []
    for d, b in ((KV_DTYPES[0], kv_batch_bf16), (KV_DTYPES[1], kv_batch_bf16), (KV_DTYPES[1], kv_batch_fp8)):
        s = roofline.decode_step(llama, b, LONG_CONTEXT, "bf16", d)
        left = quant_formats.headroom_bytes(llama, "bf16", h100, LONG_CONTEXT, b, d) / GB
        rows.append([f"{d}", f"{b:,}", f"{kv_cache.bytes_per_token(llama, d) / 1024:.0f} KiB", f"{s.weight_bytes / GB:.1f}",
                     f"{s.kv_bytes / GB:.1f}", f"{left:.2f}", f"{s.time_s(h100) * 1e3:.1f}", f"{s.tokens_per_s(h100):,.0f}"])
    return markdown_table(["cache", "batch", "per token", "weight GB", "cache GB", "GB left for activations",
                           "step ms (bound)", "tokens/s (bound)"], rows)


def combo_table() -> str:
    rows = [[w, c, f"{combo[(w, c)][0]:,}", f"{combo[(w, c)][1]:.2f}", f"{combo[(w, c)][2]:,.0f}"] for w, c in KV_COMBOS]
    return markdown_table(["weights", "cache", "batch that fits", "GB left", "tokens/s (bound)"], rows)


# ---- Measured: bytes set the bound, the kernel sets the fraction -----------------------------
_rows = {r.name: r for r in quant_measurements.all_measurements()}
measured = [_rows[n] for n in MEASURED]
measured_fraction = {r.format: quant_measurements.fraction_of_bound(r) for r in measured}
gptfast_bf16_pct, gptfast_int8_pct, gptfast_int4_pct = (100 * measured_fraction[f] for f in
                                                       ("bf16", "int8-channel", "int4-g32"))
gptfast_int4_speedup = quant_measurements.measured_speedup(measured[-1])
gptfast_int4_ideal = quant_measurements.ideal_speedup(measured[-1])
gptfast_gpu = measured[0].spec_name
gptfast_power_W = measured[0].power_limit_W
gptfast_source_peak = measured[0].source_peak_GBps
gptfast_source_pct = [100 * quant_measurements.fraction_of_bound(r, bandwidth_GBps=r.source_peak_GBps) for r in measured]
gptfast_source_pct0, gptfast_source_pct1, gptfast_source_pct2 = gptfast_source_pct
gptfast_sustained_GBps = hardware.get(gptfast_gpu).memory_bandwidth_GBps * hardware.TYPICAL_SUSTAINED_BANDWIDTH_FRACTION
gptfast_sustained_frac = hardware.TYPICAL_SUSTAINED_BANDWIDTH_FRACTION
sources_quantize_head = claim("gpt-fast and torchao quantize the LM head with the layers", all(
    r.lm_head_quantized for r in quant_measurements.all_measurements()
    if r.tokens_per_s and r.format != "bf16"))
gptfast_fraction_falls = claim("in gpt-fast's rows the fraction of the bound falls as the format shrinks",
      gptfast_bf16_pct > gptfast_int8_pct > gptfast_int4_pct)
gptfast_trend_own_peak = claim("the trend holds against the source's own peak too", gptfast_source_pct[0] > gptfast_source_pct[1] > gptfast_source_pct[2])
gptfast_int4_under_ratio = claim("gpt-fast's int4 reaches under 70 % of its byte ratio", gptfast_int4_speedup < 0.7 * gptfast_int4_ideal)
capped_peak_below_sustained = claim("the README's capped peak lies below what streaming kernels sustain uncapped", gptfast_source_peak < gptfast_sustained_GBps)

# torchao does not say which A100: the bandwidth it reports rules out the 40 GB parts
torchao_rows = [r for r in quant_measurements.all_measurements() if r.source.startswith("pytorch/ao") and r.tokens_per_s]
torchao_bf16 = [r for r in torchao_rows if r.format == "bf16" and r.gpu.startswith("A100")]
a100_40 = hardware.get("A100 40GB SXM")
torchao_bf16_GBps_lo, torchao_bf16_GBps_hi = min(r.reported_GBps for r in torchao_bf16), max(r.reported_GBps for r in torchao_bf16)
torchao_of_40_lo, torchao_of_40_hi = (torchao_bf16_GBps_lo / a100_40.memory_bandwidth_GBps,
                                      torchao_bf16_GBps_hi / a100_40.memory_bandwidth_GBps)
a100_40_GBps = a100_40.memory_bandwidth_GBps
torchao_not_40GB = claim("torchao's bf16 rows report more of a 40 GB A100's bandwidth than streaming kernels sustain",
      torchao_of_40_lo > hardware.TYPICAL_SUSTAINED_BANDWIDTH_FRACTION)
torchao_bf16_range = [quant_measurements.fraction_range(r) for r in torchao_bf16]
torchao_bf16_lo, torchao_bf16_hi = min(lo for lo, _ in torchao_bf16_range), max(hi for _, hi in torchao_bf16_range)
int8dq = [r for r in torchao_rows if r.format == "int8-w8a8"]
int8dq_tps_lo, int8dq_tps_hi = min(r.tokens_per_s for r in int8dq), max(r.tokens_per_s for r in int8dq)
int8dq_speed_max = max(quant_measurements.measured_speedup(r) for r in int8dq)
int8dq_tenth_of_bf16 = claim("torchao's W8A8 int8 rows at batch 1 run at under a tenth of bf16's tokens/s",
                              int8dq_speed_max < 0.1)


def _of_bound(r) -> str:
    if r.spec_name:
        return f"{quant_measurements.fraction_of_bound(r):.0%}"
    span = quant_measurements.fraction_range(r)
    if not span:
        return "–"
    low, high = f"{span[0]:.0%}", f"{span[1]:.0%}"
    return (low if low == high else f"{low}–{high}") + " (80 GB, SXM or PCIe)"


def measured_table() -> str:
    rows = []
    for r in quant_measurements.all_measurements():
        if not r.tokens_per_s:
            continue
        speed, ideal = quant_measurements.measured_speedup(r), quant_measurements.ideal_speedup(r)
        gpu = r.gpu + (f", {r.power_limit_W:g} W cap" if r.power_limit_W else "")
        rows.append([r.source.split(",")[0].split(" ")[0], gpu, r.model, r.technique, r.format or "–",
                     "–" if r.format == "bf16" else ("yes" if r.lm_head_quantized else "no"),
                     f"{r.tokens_per_s:,.2f}", _of_bound(r),
                     f"{speed:.2f}x" if speed else "–", f"{ideal:.2f}x" if ideal else "–",
                     f"{speed / ideal:.0%}" if speed and ideal else "–"])
    return markdown_table(["source", "GPU", "model", "technique", "format", "LM head quantized", "tokens/s (batch 1)",
                           "of the bound", "speedup over bf16", "byte ratio", "of the byte ratio"], rows)


def sources_list() -> str:
    seen = dict.fromkeys(r.source for r in quant_measurements.all_measurements())
    return "\n".join(f"- {escape_markdown(s)}" for s in seen)


_int4_of_ratio = {r.name: quant_measurements.measured_speedup(r) / quant_measurements.ideal_speedup(r)
                  for r in quant_measurements.all_measurements() if r.tokens_per_s and r.format.startswith("int4")
                  and quant_measurements.measured_speedup(r)}
best_int4_of_ratio, worst_int4_of_ratio = max(_int4_of_ratio.values()), min(_int4_of_ratio.values())
no_int4_two_thirds = claim("no published int4 row here reaches two thirds of its byte ratio", best_int4_of_ratio < 2 / 3)
_h100_int4 = next(r for r in quant_measurements.all_measurements()
                  if r.gpu.startswith("H100") and r.format.startswith("int4") and r.tokens_per_s)
torchao_h100_int4_speedup = quant_measurements.measured_speedup(_h100_int4)
torchao_h100_int4_of_ratio = _int4_of_ratio[_h100_int4.name]
_h100_tps = {r.name: r.tokens_per_s for r in quant_measurements.all_measurements()
             if r.source.startswith("pytorch/ao") and r.gpu.startswith("H100") and r.tokens_per_s}
torchao_h100_same = claim(
    "torchao's H100 int4 row, like its A100 rows, reaches under two thirds of its byte ratio, and its fp8 weight-only "
    "row lies between bf16 and int4", torchao_h100_int4_of_ratio < 2 / 3
    and _h100_tps["torchao Llama-3.1-8B bf16 H100"] < _h100_tps["torchao Llama-3.1-8B float8wo H100"]
    < _h100_tps[_h100_int4.name])


def perplexity_table() -> str:
    rows = [[r.source.split(",")[0].split(" ")[0], r.model, r.technique, r.perplexity_task, f"{r.perplexity:.3f}"]
            for r in quant_measurements.all_measurements() if r.perplexity]
    return markdown_table(["source", "model", "technique", "measured on", "perplexity"], rows)


marlin = {r.technique: r.perplexity for r in quant_measurements.all_measurements()
          if r.source.startswith("IST-DASLab/marlin")}
marlin_fp16_ppl, marlin_int4_ppl = marlin["FP16"], marlin["INT4 (GPTQ)"]
marlin_gptq_little_ppl = claim("GPTQ int4 costs Llama-2-7B under 0.5 perplexity in Marlin's run", 0 < marlin_int4_ppl - marlin_fp16_ppl < 0.5)

gptq_recovers_part = claim(
    "in both torchao models GPTQ recovers part of what round-to-nearest int4 loses over bf16, at the same speed", all(
        _rows[f"torchao {m} bf16"].perplexity < _rows[f"torchao {m} int4wo-64-GPTQ"].perplexity
        < _rows[f"torchao {m} int4wo-64"].perplexity
        and _rows[f"torchao {m} int4wo-64-GPTQ"].tokens_per_s == _rows[f"torchao {m} int4wo-64"].tokens_per_s
        for m in ("Llama-2-7B", "Llama-3-8B")))
e4m3_max, e5m2_max = quant_formats.FP8_FORMATS["e4m3"][2], quant_formats.FP8_FORMATS["e5m2"][2]
e4m3_err_pct, e5m2_err_pct = (100 * quant_formats.fp8_relative_error(n) for n in ("e4m3", "e5m2"))
e5m2_trades_precision = claim("e5m2 trades precision for range: twice e4m3's error, over 100x its range", e5m2_max > 100 * e4m3_max and e5m2_err_pct == 2 * e4m3_err_pct)

# ---- This course's own measurement: the recorded run's quant section --------------------------
_run = recorded.run_for(hardware.get(GPU).name, MODEL, "bf16", "quant")
own_device = _run["device"]["name"]
own_torch = _run["device"]["torch"]
_own = {(r["format"], r["batch"]): r for r in _run["quant"]}
own_batches = sorted({b for _, b in _own})
own_small, own_large = own_batches[0], own_batches[-1]
own_int4_slower_from = min(b for b in own_batches
                           if _own[("int4-g128", b)]["median_s"] > _own[("bf16", b)]["median_s"])
own_int4_faster_then_slower = claim(
    "measured, int4 beats bf16 at batch 1 and is slower from the batch named on, at every batch recorded",
      _own[("int4-g128", own_small)]["median_s"] < _own[("bf16", own_small)]["median_s"]
      and all(_own[("int4-g128", b)]["median_s"] > _own[("bf16", b)]["median_s"]
              for b in own_batches if b >= own_int4_slower_from))


def own_pct(fmt: str, batch: int) -> float:
    """Measured share of the format's own bound (%), from the recorded run."""
    return _own[(fmt, batch)]["pct_of_bound"]


def own_speedup(fmt: str, batch: int) -> float:
    """How much faster than bf16 the format's layer ran at `batch`."""
    return _own[("bf16", batch)]["median_s"] / _own[(fmt, batch)]["median_s"]


own_bf16_pct, own_int8_pct, own_int4_pct, own_fp8_pct = (
    own_pct(f, own_small) for f in ("bf16", "int8-channel", "int4-g128", "fp8-tensor"))
own_int4_speedup = own_speedup("int4-g128", own_small)
own_int4_byte_ratio = _own[("bf16", own_small)]["bytes_per_step"] / _own[("int4-g128", own_small)]["bytes_per_step"]
own_int4_large_slower = 1 / own_speedup("int4-g128", own_large)
own_int8_speedup = own_speedup("int8-channel", own_small)
own_fp8_speedup = own_speedup("fp8-tensor", own_small)
own_formats_less_of_bound = claim("measured at batch 1, every quantized format reached a smaller share of its bound than bf16",
      all(own_pct(f, own_small) < own_bf16_pct for f in ("int8-channel", "int4-g128", "fp8-tensor")))
own_int4_short_of_ratio = claim("measured at batch 1, int4 ran faster than bf16 but short of its byte ratio",
      1 < own_int4_speedup < own_int4_byte_ratio)
own_int4_slower_above_first = claim("measured, the packed int4 matmul ran slower than bf16 at every batch above the first",
      all(own_speedup("int4-g128", b) < 1 for b in own_batches[1:]))
own_second = own_batches[1]
_int4_growth = _own[("int4-g128", own_large)]["median_s"] / _own[("int4-g128", own_second)]["median_s"]
own_int4_grows_with_batch = claim(
    "from the second batch on, the int4 layer's time grows about in proportion to the batch (within 20 %), though "
    "its bound is its bytes at every measured batch below the largest",
    0.8 < _int4_growth / (own_large / own_second) < 1.2
    and all(_own[("int4-g128", b)]["bound_roof"] == "memory" for b in own_batches[:-1]))
own_int4_of_ratio = own_int4_speedup / own_int4_byte_ratio
own_int4_like_published = claim(
    "measured, int4 reached about the share of its byte ratio that the published rows reach (within 10 points)",
      worst_int4_of_ratio - 0.1 < own_int4_of_ratio < best_int4_of_ratio + 0.1)
gptfast_int8_speedup = quant_measurements.measured_speedup(measured[1])
own_int8_slower = claim("published, compiled int8 ran faster than bf16; here it ran slower, at every batch recorded",
                        gptfast_int8_speedup > 1 and all(own_speedup("int8-channel", b) < 1 for b in own_batches))
# If the int8 layer converted its weights to bf16 in a kernel of its own, it moved the int8 codes, then
# wrote and read a bf16 copy: at that traffic, the batch >= 16 rows ran near the copy bandwidth, and the
# batch-1 row would have run faster than copy can, so there the conversion was fused.
_copy_GBps = results.best(_run, "bandwidth", "GBps", kernel="copy")["GBps"]


def own_int8_unfused_GBps(batch: int) -> float:
    traffic = _own[("int8-channel", batch)]["bytes_per_step"] + 2 * _own[("bf16", batch)]["bytes_per_step"]
    return traffic / _own[("int8-channel", batch)]["median_s"] / 1e9


own_int8_unfused_low = min(own_int8_unfused_GBps(b) for b in own_batches[1:])
own_int8_unfused_high = max(own_int8_unfused_GBps(b) for b in own_batches[1:])
own_int8_unfused_first = own_int8_unfused_GBps(own_small)
own_copy_GBps = _copy_GBps
int8_unfused_near_copy = claim(
    "counted as an unfused conversion, the int8 rows above batch 1 ran at 70-100 % of the run's copy bandwidth",
    0.7 * _copy_GBps < own_int8_unfused_low <= own_int8_unfused_high < _copy_GBps)
int8_first_fused = claim("counted the same way, the batch-1 int8 row ran faster than copy allows",
                         _copy_GBps < own_int8_unfused_first)


# After that run the bench compiles the int8 layer once with static shapes: the newest H200 run
# whose int8 rows say so (recorded.py's rule, asked by the rows' kernel path).
_STATIC = "static shapes"
_static = recorded.run_for(hardware.get("H200 SXM").name, MODEL, "bf16", "quant",
                           where=lambda r: r["format"] == "int8-channel" and _STATIC in r["path"])
static_device = _static["device"]["name"]
_static_rows = {(r["format"], r["batch"]): r for r in _static["quant"]}
static_batches = sorted({b for f, b in _static_rows if f == "int8-channel"})


def static_speedup(fmt: str, batch: int) -> float:
    """How much faster than bf16 the format's layer ran at `batch` in that run."""
    return _static_rows[("bf16", batch)]["median_s"] / _static_rows[(fmt, batch)]["median_s"]


static_small = static_batches[0]
static_int8_speedup = static_speedup("int8-channel", static_small)
static_int8_pct = _static_rows[("int8-channel", static_small)]["pct_of_bound"]
static_int8_large_speedup = max(static_speedup("int8-channel", b) for b in static_batches[1:])
static_int8_faster = claim(
    "the later run used the static-shape int8 compile, and its int8 at batch 1 ran faster than bf16, within 20 % of "
    "gpt-fast's speedup", static_small == 1 and all(_STATIC in _static_rows[("int8-channel", b)]["path"]
                                                    for b in static_batches)
    and static_int8_speedup > 1 and abs(static_int8_speedup / gptfast_int8_speedup - 1) < 0.2)
static_bf16_batch1_fastest = claim("in that run bf16 at batch 1 was the bf16 layer's fastest time, an honest baseline",
                                   all(_static_rows[("bf16", static_small)]["median_s"] <= _static_rows[("bf16", b)]["median_s"]
                                       for b in static_batches))
static_int8_slower_above_1 = claim("with static shapes, int8 above batch 1 still ran slower than bf16",
                                   static_int8_large_speedup < 1)
# The same run times two more kernels: fp8 with a static activation scale, and int8 W8A8 (int8 tensor cores).
_fp8_static = [r for r in _static["quant"] if r["format"] == "fp8-tensor"]
_w8a8 = {r["batch"]: r for r in _static["quant"] if r["format"] == "int8-w8a8"}
static_fp8_speedup = static_speedup("fp8-tensor", static_small)
static_fp8_low = min(static_speedup("fp8-tensor", b) for b in static_batches)
static_fp8_faster_every_batch = claim(
    "with its activation scale calibrated once (static), fp8 ran faster than bf16 at every batch of that run",
    bool(_fp8_static) and all("static" in r["path"] for r in _fp8_static) and static_fp8_low > 1)
static_w8a8_speedup = static_speedup("int8-w8a8", static_small)
static_w8a8_memory_batches = [b for b in static_batches if _w8a8[b]["bound_roof"] == "memory"]
static_w8a8_last_memory = static_w8a8_memory_batches[-1]
static_large = static_batches[-1]
static_w8a8_large_speedup = static_speedup("int8-w8a8", static_large)
static_w8a8_large_pct = _w8a8[static_large]["pct_of_bound"]
static_w8a8_faster_until_compute = claim(
    "int8 W8A8 ran faster than bf16 at every batch where its bound is its bytes (batch 1 up to the one named), and "
    "slower at the largest batch, where its bound is compute at twice bf16's peak (half bf16's bound time)",
    static_w8a8_memory_batches == static_batches[:len(static_w8a8_memory_batches)]
    and abs(_static_rows[("bf16", static_large)]["bound_s"] / _w8a8[static_large]["bound_s"] - 2) < 0.01
    and all(static_speedup("int8-w8a8", b) > 1 for b in static_w8a8_memory_batches)
    and _w8a8[static_large]["bound_roof"] == "compute" and static_w8a8_large_speedup < 1)


def static_table() -> str:
    return results.quant_table(_static)


def own_table() -> str:
    return results.quant_table(_run)


# ---- The accuracy side: measured here, at build time -------------------------------------------


@cache
def errors() -> dict:
    """{(outlier place, format): Error} for the seeded matrix: no outliers, outliers in a few output
    rows, outliers in a few input columns."""
    names = tuple(dict.fromkeys((*ERROR_FORMATS, *(f"int4-g{g}" for g in GROUPS))))
    return cached(quant_errors.error_grid, ERROR_SHAPE, ERROR_TOKENS, OUTLIER_CHANNELS, OUTLIER_SCALE,
                  OUTLIER_PLACES, names)


@cache
def activation_errors() -> dict:
    """{(activation outliers, format, smoothed): relative output error} of W8A8 on the clean matrix."""
    return cached(quant_errors.activation_error_grid, ERROR_SHAPE, ERROR_TOKENS, OUTLIER_CHANNELS, OUTLIER_SCALE,
                  SMOOTHING_ALPHA)


def _e(place: str, name: str, ordinary: bool = False) -> float:
    e = errors()[(place, name)]
    return e.ordinary_rms if ordinary else e.weight_rms


def error_table() -> str:
    rows = []
    for name in ERROR_FORMATS:
        label = name + (" (one group per row)" if name.endswith(f"g{ERROR_SHAPE[1]}") else "")
        clean = errors()[("none", name)]
        rows.append([label, f"{clean.bits_per_weight:.3g}", f"{100 * clean.weight_rms:.2f} %",
                     f"{100 * _e('output', name, True):.2f} %", f"{100 * _e('input', name, True):.2f} %",
                     f"{100 * _e('input', name):.2f} %", f"{100 * errors()[('input', name)].output_rms:.2f} %"])
    return markdown_table(["format", "bits/weight", "error, no outliers",
                           f"ordinary weights, {OUTLIER_CHANNELS} outlier output rows",
                           f"ordinary weights, {OUTLIER_CHANNELS} outlier input columns",
                           "all weights, outlier columns", "matmul output, outlier columns"], rows)


def activation_table() -> str:
    labels = {"int8-channel (weights only)": "int8-channel, weight-only (activations in bf16)",
              "int8-w8a8": "int8 W8A8 (activations per token)", "fp8-tensor": "fp8 W8A8 (activations per tensor)"}
    a = activation_errors()
    rows = [[label, f"{100 * a[(0, k, False)]:.2f} %", f"{100 * a[(OUTLIER_CHANNELS, k, False)]:.2f} %",
             "–" if "weights only" in k else f"{100 * a[(OUTLIER_CHANNELS, k, True)]:.2f} %"] for k, label in labels.items()]
    return markdown_table(["format", "output error", f"{OUTLIER_CHANNELS} outlier activation channels",
                           f"same, smoothed (alpha {SMOOTHING_ALPHA:g})"], rows)


int8_err_pct = 100 * _e("none", "int8-channel")
int8_tensor_err_pct = 100 * _e("none", "int8-tensor")
int4_g128_err_pct = 100 * _e("none", "int4-g128")
fp8_err_pct = 100 * _e("none", "fp8-tensor")
row_int8_tensor_pct, row_int8_pct = 100 * _e("output", "int8-tensor", True), 100 * _e("output", "int8-channel", True)
col_int8_pct = 100 * _e("input", "int8-channel", True)
col_g32_pct, col_g128_pct = 100 * _e("input", "int4-g32", True), 100 * _e("input", "int4-g128", True)
col_row_pct = 100 * _e("input", f"int4-g{ERROR_SHAPE[1]}", True)
col_fp8_pct = 100 * _e("input", "fp8-tensor", True)
int4_noisier = claim("without outliers int4-g128 is over 5x noisier than int8 per channel",
                     int4_g128_err_pct > 5 * int8_err_pct)
channel_scales_isolate_rows = claim("per-channel scales isolate outlier rows; a per-tensor scale does not",
      row_int8_pct < 1.2 * int8_err_pct and row_int8_tensor_pct > 5 * int8_tensor_err_pct)
channel_scales_miss_columns = claim(
    "per-channel scales cannot isolate outlier columns: int8-channel and int4 with one group per row over 5x worse",
    col_int8_pct > 5 * int8_err_pct and col_row_pct > 5 * 100 * _e("none", f"int4-g{ERROR_SHAPE[1]}"))
groups_help_little = claim(
    "smaller groups contain outlier columns' damage, but not much: even group 32 more than doubles the ordinary "
    "weights' error",
    all(_e("input", f"int4-g{a}", True) < _e("input", f"int4-g{b}", True) for a, b in zip(GROUPS, GROUPS[1:]))
    and col_g32_pct > 2 * 100 * _e("none", "int4-g32"))
fp8_ignores_outliers = claim("fp8's error changes by under 10 % with outlier rows or columns", all(
    abs(_e(p, "fp8-tensor", True) / _e("none", "fp8-tensor") - 1) < 0.1 for p in ("output", "input")))
whole_matrix_hides = claim(
    "with outlier columns the whole-matrix error understates what the ordinary weights suffer, in every format",
    all(_e("input", n, True) > _e("input", n) for n in ERROR_FORMATS))
output_tracks_weight = claim("the output error tracks the weight error (within 2x), in every case", all(
    0.5 < e.output_rms / e.weight_rms < 2 for e in errors().values()))
_a = activation_errors()
act_int8_pct, act_int8_out_pct = 100 * _a[(0, "int8-w8a8", False)], 100 * _a[(OUTLIER_CHANNELS, "int8-w8a8", False)]
act_int8_smooth_pct = 100 * _a[(OUTLIER_CHANNELS, "int8-w8a8", True)]
act_wo_out_pct = 100 * _a[(OUTLIER_CHANNELS, "int8-channel (weights only)", False)]
outliers_hurt_w8a8 = claim("activation outliers more than double W8A8 int8's error", act_int8_out_pct > 2 * act_int8_pct)
weight_only_untouched = claim("weight-only int8 stays within 10 % of its error without outliers",
                              act_wo_out_pct < 1.1 * int8_err_pct)
smoothing_recovers = claim("smoothing removes over half of that error", act_int8_smooth_pct < 0.5 * act_int8_out_pct)


# ---- Figures ------------------------------------------------------------------------------------
def measured_figure() -> str:
    return cached(chapter4.bound_vs_measured, MEASURED)


def ridges_figure() -> str:
    return cached(chapter4.ridges, GPU, ("bf16", "int8-channel", "int4-g128", "fp8-tensor"), ROWS, COLS)


def error_figure() -> str:
    points = {f"{OUTLIER_CHANNELS} outlier input columns" if p == "input" else "no outliers":
              [(g, errors()[(p, f'int4-g{g}')].ordinary_rms, errors()[(p, f'int4-g{g}')].output_rms) for g in GROUPS]
              for p in ("none", "input")}
    return cached(chapter4.error_vs_group, points, ERROR_SHAPE)


def kv_figure() -> str:
    return cached(chapter4.max_batch_kv, GPU, MODEL, "bf16", KV_DTYPES)


#: The committed copies in vis/ (`python -m pages figures --update`).
FIGURES = {
    "quant_bound_vs_measured": measured_figure,
    "quant_ridges_h100": ridges_figure,
    "quant_error_vs_group": error_figure,
    "quant_kv_max_batch_h100": kv_figure,
}


# ---- Editable cells (pages/cells.py) -------------------------------------------------------
from pages.cells import cell  # noqa: E402 - the cells read the values above

format_bound_cell = cell('''
    params = $params  # $model
    bandwidth_Bps = $bandwidth  # $gpu
    for dtype in ("bf16", "fp8", "int8", "int4"):  # scales left out: see the table above
        weight_bytes = formulas.weight_bytes(params, dtype)
        tokens_per_s = formulas.decode_tokens_per_s_bound(weight_bytes, bandwidth_Bps)
        print(f"{dtype:>5}: {weight_bytes / 1e9:5.1f} GB, at most {tokens_per_s:5.0f} tokens/s at batch 1")
''', params=models.param_count(llama), model=MODEL, bandwidth=h100.bandwidth_Bps, gpu=GPU)

critical_batch_cell = cell('''
    bandwidth_Bps = $bandwidth  # $gpu
    peak_bf16, peak_fp8 = $bf16, $fp8  # dense FLOP/s
    for weights, math, peak_flops in (("bf16", "bf16", peak_bf16), ("int4", "bf16", peak_bf16), ("fp8", "fp8", peak_fp8)):
        ridge = formulas.ridge_point(peak_flops, bandwidth_Bps)
        # a weight matmul at batch B does 2 B FLOPs per weight read: intensity 2 B / bytes per weight
        batch = ridge * formulas.BYTES_PER_ELEMENT[weights] / 2
        print(f"{weights} weights, {math} math: ridge {ridge:4.0f} FLOP/byte, compute-bound from batch {batch:4.0f}")
''', bandwidth=h100.bandwidth_Bps, gpu=GPU, bf16=h100.peak_flops("bf16"), fp8=h100.peak_flops("fp8"))
