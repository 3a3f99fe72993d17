"""Values, claims, tables and figures of docs/04_quantization.md (chapter 4)."""

from __future__ import annotations

from functools import cache

from pages.claims import claim
from snippets import hardware, kv_cache, models, quant_formats, quant_measurements, roofline
from snippets.report import markdown_table
from snippets.units import GB, GiB
from vis import chapter4
from vis.cache import cached

PAGE = "04_quantization.md"

# ---- the page's parameters ----------------------------------------------------------------
GPU = "H100 SXM"  # the bounds and ridges
GPUS = ("A100 80GB SXM", "H100 SXM", "H200 SXM")
MODEL = "Llama-3.1-8B"
BIG_MODEL = "Llama-3.1-70B"
FORMATS = ("bf16", "int8-channel", "fp8-tensor", "int4-g128", "int4-g32")
BATCHES = (1, 16, 64, 256, 1024)
LONG_CONTEXT = 32768  # the KV-cache case
KV_DTYPES = ("bf16", "fp8")
MEASURED = ("gpt-fast Llama-2-7B bf16", "gpt-fast Llama-2-7B int8", "gpt-fast Llama-2-7B int4 g32")
ERROR_ROWS = ERROR_COLS = 384  # the build-time error demo: small, so the build stays fast
ERROR_SHAPE = (ERROR_ROWS, ERROR_COLS)
ERROR_TOKENS = 16
OUTLIER_CHANNELS, OUTLIER_SCALE = 4, 20.0
GROUPS = (16, 32, 64, 128, 384)

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
claim("an int4 format with group 32 spends a fifth of its bits on scales and zero-points",
      abs(g32_overhead_bits / g32_bits - 0.2) < 1e-9)
claim("per-channel and per-tensor scales cost well under 0.1 % of the bytes",
      bpp["int8-channel"] - 1 < 1e-3 and bpp["fp8-tensor"] - 1 < 1e-3)

quantized_B = quant_formats.quantized_params(llama) / 1e9
rest_B = (models.step_param_count(llama, 1) - quant_formats.quantized_params(llama)) / 1e9
head_B = models.lm_head_params(llama) / 1e9
step_GB = {name: quant_formats.weights_read_bytes(llama, name) / GB for name in FORMATS}
rest_share_int4 = rest_B * 2 / step_GB["int4-g128"]
int4_ratio = step_GB["bf16"] / step_GB["int4-g128"]
int8_ratio = step_GB["bf16"] / step_GB["int8-channel"]
claim("the 16-bit LM head is a tenth or more of an int4 step's bytes", rest_share_int4 > 0.1)
claim("int4 falls short of a 4x byte cut because of the scales and the 16-bit head", 3 < int4_ratio < 4)


def bytes_table() -> str:
    rows = []
    for name, f in fmt.items():
        scales = "none" if f.granularity == "none" else (
            f"one {f.scale_dtype} scale per {'tensor' if f.granularity == 'tensor' else 'output channel' if f.granularity == 'channel' else f'{f.group_size} weights'}"
            + (" + a zero-point" if f.zero_point else ""))
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
llama70_int8_GiB = quant_formats.stored_bytes(llama70, "int8-channel") / GiB
claim("Llama-3.1-70B's weights fit on one 80 GiB GPU in 8 or 4 bits but not in bf16",
      quant_formats.stored_bytes(llama70, "int8-channel") < h100.usable_memory_bytes()
      < quant_formats.stored_bytes(llama70, "bf16"))
claim("batch-1 decode is memory-bound in every format",
      all(quant_formats.decode_step(llama, n).is_memory_bound(h100, fmt[n].compute_dtype) for n in FORMATS))

# ---- The ridge moves --------------------------------------------------------------------------
critical = {name: quant_formats.critical_batch(h100, name, ROWS, COLS) for name in FORMATS}
step_critical = {name: quant_formats.compute_bound_batch(llama, name, h100) for name in FORMATS}
crit_bf16, crit_int8, crit_fp8, crit_int4 = (critical[n] for n in ("bf16", "int8-channel", "fp8-tensor", "int4-g128"))
h100_ridge_bf16, h100_ridge_fp8 = h100.ridge_point("bf16"), h100.ridge_point("fp8")
claim("int8 weights halve the critical batch", abs(crit_int8 / crit_bf16 - 0.5) < 0.01)
claim("int4 weights roughly quarter it", 0.25 <= crit_int4 / crit_bf16 < 0.3)
claim("fp8 compute doubles the roof, so W8A8 keeps bf16's critical batch", abs(crit_fp8 / crit_bf16 - 1) < 0.01)
claim("the H100's fp8 roof is twice its bf16 roof", h100.peak_flops("fp8") / h100.peak_flops("bf16") > 1.99)


def ridge_table() -> str:
    rows = [[name, fmt[name].compute_dtype, f"{h100.ridge_point(fmt[name].compute_dtype):.0f}",
             f"{bpp[name]:.4g}", f"{critical[name]:,.0f}", f"{step_critical[name]:,}"] for name in FORMATS]
    return markdown_table(["format", "math in", "ridge, FLOP/byte", "bytes/weight",
                           f"critical batch, one {ROWS:,} x {COLS:,} matmul", f"whole {llama.name} step compute-bound from"],
                          rows)


def batch_table() -> str:
    rows = []
    for b in BATCHES:
        best = max(FORMATS, key=lambda n: quant_formats.tokens_per_s(llama, n, h100, b))
        rows.append([f"{b:,}", *(f"{quant_formats.tokens_per_s(llama, n, h100, b):,.0f}" for n in FORMATS), best])
    return markdown_table(["batch", *FORMATS, "fastest"], rows)


def _fastest(batch: int) -> str:
    return max(FORMATS, key=lambda n: quant_formats.tokens_per_s(llama, n, h100, batch))


fastest_small, fastest_large = _fastest(BATCHES[0]), _fastest(BATCHES[-1])
claim("weight-only int4 is fastest at batch 1", fastest_small == "int4-g128")
claim("fp8 compute is fastest at the largest batch", fastest_large == "fp8-tensor")
big = BATCHES[-1]
big_int4_tps = quant_formats.tokens_per_s(llama, "int4-g128", h100, big)
big_fp8_tps = quant_formats.tokens_per_s(llama, "fp8-tensor", h100, big)
big_bf16_tps = quant_formats.tokens_per_s(llama, "bf16", h100, big)
claim("at a large batch int4 weights gain almost nothing over bf16", big_int4_tps / big_bf16_tps < 1.1)

# ---- KV-cache quantization -------------------------------------------------------------------
kv_batch = {d: kv_cache.max_batch(llama, h100, LONG_CONTEXT, "bf16", d) for d in KV_DTYPES}
kv_batch_bf16, kv_batch_fp8 = kv_batch["bf16"], kv_batch["fp8"]
_kv_step = {d: roofline.decode_step(llama, kv_batch_bf16, LONG_CONTEXT, "bf16", d) for d in KV_DTYPES}
kv_ms_bf16, kv_ms_fp8 = (_kv_step[d].time_s(h100) * 1e3 for d in KV_DTYPES)
kv_GB_bf16, kv_GB_fp8 = (_kv_step[d].kv_bytes / GB for d in KV_DTYPES)
weights_GB = _kv_step["bf16"].weight_bytes / GB
_full_fp8 = roofline.decode_step(llama, kv_batch_fp8, LONG_CONTEXT, "bf16", "fp8")
kv_ms_fp8_full = _full_fp8.time_s(h100) * 1e3
kv_tps_bf16 = _kv_step["bf16"].tokens_per_s(h100)
kv_tps_fp8 = _kv_step["fp8"].tokens_per_s(h100)
kv_tps_fp8_full = _full_fp8.tokens_per_s(h100)
claim("an 8-bit cache at least doubles the batch that fits", kv_batch_fp8 >= 2 * kv_batch_bf16)
claim("at long context the cache dominates the step", kv_GB_bf16 > weights_GB)
claim("halving the cache speeds the same batch up by more than a third", kv_ms_bf16 / kv_ms_fp8 > 1.33)


def kv_table() -> str:
    rows = []
    for d, b in ((KV_DTYPES[0], kv_batch_bf16), (KV_DTYPES[1], kv_batch_bf16), (KV_DTYPES[1], kv_batch_fp8)):
        s = roofline.decode_step(llama, b, LONG_CONTEXT, "bf16", d)
        rows.append([f"{d}", f"{b:,}", f"{kv_cache.bytes_per_token(llama, d) / 1024:.0f} KiB", f"{s.weight_bytes / GB:.1f}",
                     f"{s.kv_bytes / GB:.1f}", f"{s.time_s(h100) * 1e3:.1f}", f"{s.tokens_per_s(h100):,.0f}"])
    return markdown_table(["cache", "batch", "per token", "weight GB", "cache GB", "step ms (bound)", "tokens/s (bound)"], rows)


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
claim("the fraction of the bound falls as the format shrinks",
      gptfast_bf16_pct > gptfast_int8_pct > gptfast_int4_pct)
claim("int4 reaches well under its byte ratio", gptfast_int4_speedup < 0.7 * gptfast_int4_ideal)


def measured_table() -> str:
    rows = []
    for r in quant_measurements.all_measurements():
        if not r.tokens_per_s:
            continue
        frac = quant_measurements.fraction_of_bound(r)
        speed, ideal = quant_measurements.measured_speedup(r), quant_measurements.ideal_speedup(r)
        gpu = r.gpu + (f", {r.power_limit_W:g} W cap" if r.power_limit_W else "")
        rows.append([r.source.split(",")[0].split(" ")[0], gpu, r.model, r.technique, r.format or "–",
                     f"{r.tokens_per_s:,.1f}", f"{frac:.0%}" if frac else "– (GPU variant not stated)",
                     f"{speed:.2f}x" if speed else "–", f"{ideal:.2f}x" if ideal else "–",
                     f"{speed / ideal:.0%}" if speed and ideal else "–"])
    return markdown_table(["source", "GPU", "model", "technique", "format", "tokens/s (batch 1)", "of the bound",
                           "speedup over bf16", "byte ratio", "of the byte ratio"], rows)


def sources_list() -> str:
    seen = dict.fromkeys(r.source for r in quant_measurements.all_measurements())
    return "\n".join(f"- {s}" for s in seen)


best_int4_of_ratio = max(
    quant_measurements.measured_speedup(r) / quant_measurements.ideal_speedup(r)
    for r in quant_measurements.all_measurements() if r.tokens_per_s and r.format.startswith("int4")
    and quant_measurements.measured_speedup(r))
claim("no published int4 row here reaches two thirds of its byte ratio", best_int4_of_ratio < 2 / 3)


def perplexity_table() -> str:
    rows = [[r.source.split(",")[0].split(" ")[0], r.model, r.technique, r.perplexity_task, f"{r.perplexity:.3f}"]
            for r in quant_measurements.all_measurements() if r.perplexity]
    return markdown_table(["source", "model", "technique", "measured on", "perplexity"], rows)


marlin = {r.technique: r.perplexity for r in quant_measurements.all_measurements()
          if r.source.startswith("IST-DASLab/marlin")}
marlin_fp16_ppl, marlin_int4_ppl = marlin["FP16"], marlin["INT4 (GPTQ)"]
claim("GPTQ int4 costs Llama-2-7B a little perplexity in Marlin's run", 0 < marlin_int4_ppl - marlin_fp16_ppl < 0.5)

# ---- The accuracy side: measured here, at build time -------------------------------------------


@cache
def errors() -> dict:
    """{(outliers, format): Error} for the seeded matrix, with and without outlier channels."""
    return cached(_errors, ERROR_SHAPE, ERROR_TOKENS, OUTLIER_CHANNELS, OUTLIER_SCALE, GROUPS)


def _errors(shape, tokens, outlier_channels, outlier_scale, groups) -> dict:
    import torch

    from snippets import quantization
    from snippets.quant_formats import WeightFormat

    x = torch.randn(tokens, shape[1], generator=torch.Generator().manual_seed(1))
    out = {}
    for n_out in (0, outlier_channels):
        w = quantization.outlier_matrix(*shape, outlier_channels=n_out, outlier_scale=outlier_scale)
        for name in ("int8-channel", "fp8-tensor", *(f"int4-g{g}" for g in groups)):
            f = quant_formats.FORMATS.get(name) or WeightFormat(name, "int4", "group", int(name[6:]), "bf16", True)
            out[(n_out, name)] = quantization.error(w, x, f)
    return out


def error_table() -> str:
    rows = []
    for name in ("int8-channel", "fp8-tensor", "int4-g32", "int4-g128", f"int4-g{ERROR_SHAPE[1]}"):
        clean, outl = errors()[(0, name)], errors()[(OUTLIER_CHANNELS, name)]
        label = name + (" (one group per row)" if name.endswith(str(ERROR_SHAPE[1])) else "")
        rows.append([label, f"{clean.bits_per_weight:.3g}", f"{100 * clean.weight_rms:.2f} %", f"{100 * clean.output_rms:.2f} %",
                     f"{100 * outl.weight_rms:.2f} %", f"{100 * outl.output_rms:.2f} %"])
    return markdown_table(["format", "bits/weight", "weight error", "output error",
                           f"weight error, {OUTLIER_CHANNELS} outlier channels", "output error, with outliers"], rows)


def _e(outliers: int, name: str) -> float:
    return errors()[(outliers, name)].weight_rms


int8_err_pct = 100 * _e(0, "int8-channel")
int4_g128_err_pct = 100 * _e(0, "int4-g128")
int4_g32_out_err_pct = 100 * _e(OUTLIER_CHANNELS, "int4-g32")
int4_g128_out_err_pct = 100 * _e(OUTLIER_CHANNELS, "int4-g128")
int4_row_out_err_pct = 100 * _e(OUTLIER_CHANNELS, f"int4-g{ERROR_SHAPE[1]}")
claim("int4 is many times noisier than int8", int4_g128_err_pct > 5 * int8_err_pct)
claim("outliers make every format's error grow", all(
    _e(OUTLIER_CHANNELS, n) > _e(0, n) for n in ("int8-channel", "int4-g32", "int4-g128")))
claim("smaller groups contain the outliers' damage", all(
    _e(OUTLIER_CHANNELS, f"int4-g{a}") < _e(OUTLIER_CHANNELS, f"int4-g{b}") for a, b in zip(GROUPS, GROUPS[1:])))
fp8_err_pct, fp8_out_err_pct = 100 * _e(0, "fp8-tensor"), 100 * _e(OUTLIER_CHANNELS, "fp8-tensor")
int8_out_err_pct = 100 * _e(OUTLIER_CHANNELS, "int8-channel")
claim("fp8's error hardly changes with outliers", abs(fp8_out_err_pct / fp8_err_pct - 1) < 0.1)
claim("the output error tracks the weight error", all(
    0.5 < e.output_rms / e.weight_rms < 2 for e in errors().values()))


# ---- Figures ------------------------------------------------------------------------------------
def measured_figure() -> str:
    return cached(chapter4.bound_vs_measured, MEASURED)


def ridges_figure() -> str:
    return cached(chapter4.ridges, GPU, ("bf16", "int8-channel", "int4-g128", "fp8-tensor"), ROWS, COLS)


def error_figure() -> str:
    points = {f"{n} outlier channels" if n else "no outliers":
              [(g, errors()[(n, f'int4-g{g}')].weight_rms, errors()[(n, f'int4-g{g}')].output_rms) for g in GROUPS]
              for n in (0, OUTLIER_CHANNELS)}
    return cached(chapter4.error_vs_group, points, ERROR_SHAPE)


def kv_figure() -> str:
    return cached(chapter4.max_batch_kv, GPU, MODEL, "bf16", KV_DTYPES)


#: The committed copies in vis/ (`python -m vis`).
FIGURES = {
    "quant_bound_vs_measured": measured_figure,
    "quant_ridges_h100": ridges_figure,
    "quant_error_vs_group": error_figure,
    "quant_kv_max_batch_h100": kv_figure,
}
