"""Values and claims of chapter 4's exercises (the end of docs/04_quantization.md).

Every number a question or an answer prints is computed here from the data files, with the
chapter's functions (snippets.quant_formats), and every verdict is asserted: if the data change
so that an answer flips, the build fails. Nothing here imports torch or simulates: each answer is
a few byte counts and roofline steps, so the module costs milliseconds at build time.
"""

from __future__ import annotations

from dataclasses import dataclass

from pages.claims import ClaimFailed, claim
from pages.exercises import Exercise
from snippets import hardware, kv_cache, models, quant_formats, quant_measurements
from snippets.quant_formats import WeightFormat
from snippets.units import GB, GiB, KiB, bytes_per_element

PAGE = "04_quantization.md"
CHAPTER_TITLE = "Chapter 4: Quantization"

EXERCISES = (
    Exercise("4.1", 4, "Bits per weight of a symmetric group-64 format", "scales, zero-points, the 16-bit rest",
             "number", ("NVIDIA A10",), ("Gemma-2-9B",)),
    Exercise("4.2", 4, "A 70B model on one L40S", "what fits: weights, group size, cache", "yes/no",
             ("NVIDIA L40S",), ("Llama-2-70B",)),
    Exercise("4.3", 4, "W8A8 fp8 or int4 weights at batch 512?", "which roof a step hits", "judgement",
             ("NVIDIA H100 PCIe",), ("Mistral-7B-v0.1",)),
    Exercise("4.4", 4, "int4 weights or an fp8 cache for 32k-token documents?", "long-context throughput",
             "judgement", ("AMD Instinct MI300X",), ("Qwen2.5-7B", "Qwen2.5-72B")),
    Exercise("4.5", 4, "Measure the formats on your GPU", "bench: quant section against the byte ratio",
             "practical", ("NVIDIA GeForce RTX 4090",), ("Qwen2.5-7B",)),
)


def stored_GiB(m: models.ModelConfig, fmt: str | WeightFormat) -> float:
    """The whole model in memory in `fmt`, in GiB (quant_formats.stored_bytes)."""
    return quant_formats.stored_bytes(m, fmt) / GiB


def sequences(m: models.ModelConfig, gpu: hardware.Accelerator, fmt: str | WeightFormat, context: int,
              kv_dtype: str) -> int:
    """Sequences of `context` tokens whose cache fits beside the weights stored in `fmt` (0 when
    even the weights do not fit): kv_cache.max_batch with the format's real bytes."""
    free = gpu.usable_memory_bytes() - quant_formats.stored_bytes(m, fmt)
    return max(0, int(free // kv_cache.bytes_per_sequence(m, context, kv_dtype)))


# ---- 4.1 Bits per weight of a symmetric group-64 format -------------------------------------
ex1_model = models.get("Gemma-2-9B")
ex1_gpu = hardware.get("NVIDIA A10")
ex1_group = 64
ex1_format = WeightFormat(f"int4-g{ex1_group}-sym", "int4", "group", ex1_group, "bf16", zero_point=False,
                          description="int4 symmetric, one bf16 scale per 64 weights (weight-only)")
ex1_scale_bits = 8 * ex1_format.block_bytes  # one bf16 scale, no zero-point
ex1_overhead_bits = ex1_format.overhead_bits
_ex1_rows, _ex1_cols = quant_formats.layer_matrices(ex1_model)[0]  # the query projection
ex1_rows, ex1_cols = _ex1_rows, _ex1_cols
ex1_bits = 8 * ex1_format.bytes_per_param(ex1_rows, ex1_cols)
ex1_g128_bits = 8 * quant_formats.get("int4-g128").bytes_per_param(ex1_rows, ex1_cols)
ex1_g64_asym_bits = 8 * quant_formats.get("int4-g64").bytes_per_param(ex1_rows, ex1_cols)
ex1_params_B = models.param_count(ex1_model) / 1e9
ex1_quantized_B = quant_formats.quantized_params(ex1_model) / 1e9
ex1_rest_B = ex1_params_B - ex1_quantized_B  # the tied embedding / LM head and the norms, in bf16
ex1_embedding_B = ex1_model.vocab_size * ex1_model.d_model / 1e9
ex1_layers_GB = quant_formats.quantized_bytes(ex1_model, ex1_format) / GB
ex1_rest_GB = (quant_formats.stored_bytes(ex1_model, ex1_format) - quant_formats.quantized_bytes(ex1_model, ex1_format)) / GB
ex1_GB = quant_formats.stored_bytes(ex1_model, ex1_format) / GB
ex1_bf16_GB = quant_formats.stored_bytes(ex1_model, "bf16") / GB
ex1_model_bits = 8 * quant_formats.stored_bytes(ex1_model, ex1_format) / models.param_count(ex1_model)
ex1_rest_share = ex1_rest_GB / ex1_GB
ex1_read_GB = quant_formats.weights_read_bytes(ex1_model, ex1_format) / GB
ex1_bf16_read_GB = quant_formats.weights_read_bytes(ex1_model, "bf16") / GB
ex1_GBps = ex1_gpu.memory_bandwidth_GBps
ex1_ms = quant_formats.step_time_s(ex1_model, ex1_format, ex1_gpu) * 1e3
ex1_bf16_ms = quant_formats.step_time_s(ex1_model, "bf16", ex1_gpu) * 1e3
ex1_tps, ex1_bf16_tps = 1e3 / ex1_ms, 1e3 / ex1_bf16_ms
ex1_speedup = ex1_bf16_ms / ex1_ms
ex1_code_bits = 8 * ex1_format.element_bytes
ex1_bf16_bits = 8 * bytes_per_element("bf16")
ex1_element_ratio = ex1_bf16_bits / ex1_code_bits
ex1_widths_divide = claim("every input width of Gemma-2-9B's matrices is a multiple of 64 and of 128",
      all(c % 128 == 0 for _, c in quant_formats.layer_matrices(ex1_model)))
ex1_sym64_is_g128 = claim("a symmetric group-64 format stores exactly the bits of the asymmetric group-128 one",
      ex1_bits == ex1_g128_bits == 4 + ex1_overhead_bits)
ex1_quarter_bit_below_asym64 = claim("and a quarter of a bit fewer than asymmetric group 64", abs(ex1_g64_asym_bits - ex1_bits - 0.25) < 1e-12)
ex1_reads_what_it_stores = claim(
    "batch 1 is memory-bound on the A10 in both formats, and Gemma-2-9B ties its LM head to the embedding, so a "
    "step reads what the model stores", ex1_model.tied_embeddings and abs(ex1_read_GB - ex1_GB) < 1e-9 and all(
        quant_formats.decode_step(ex1_model, f).is_memory_bound(ex1_gpu) for f in (ex1_format, "bf16")))
ex1_embedding_most_of_rest = claim("the 16-bit embedding is almost all (over 95 %) of what stays in bf16",
                                   0.95 < ex1_embedding_B / ex1_rest_B <= 1)
ex1_rest_over_quarter = claim("the 16-bit rest is over a quarter of the int4 model's bytes, so it averages more than "
                              "5 bits per parameter", ex1_rest_share > 0.25 and ex1_model_bits > 5)
ex1_under_3x = claim("so int4 is under 3x faster than bf16, not 4x", ex1_speedup < 3)
_ex1_group_cost = quant_formats.quantized_bytes(ex1_model, "int4-g32") - quant_formats.quantized_bytes(ex1_model, "int4-g128")
ex1_vocab_outweighs_groups = claim(
    "the bf16 rest would save more bytes in int4-g128 than group 32 costs over group 128",
    ex1_rest_GB * GB * (1 - ex1_g128_bits / ex1_bf16_bits) > _ex1_group_cost)

# ---- 4.2 A 70B model on one L40S ----------------------------------------------------------------
ex2_model = models.get("Llama-2-70B")
ex2_gpu = hardware.get("NVIDIA L40S")
ex2_format, ex2_coarse = "int4-g32", "int4-g128"
ex2_context = ex2_model.max_position_embeddings
ex2_wanted = 8  # conversations at the model's full context
ex2_usable_GiB = ex2_gpu.usable_memory_bytes() / GiB
ex2_bits = 8 * quant_formats.get(ex2_format).bytes_per_param(ex2_model.d_model, ex2_model.d_model)
ex2_coarse_bits = 8 * quant_formats.get(ex2_coarse).bytes_per_param(ex2_model.d_model, ex2_model.d_model)
ex2_weights_GiB = stored_GiB(ex2_model, ex2_format)
ex2_coarse_GiB = stored_GiB(ex2_model, ex2_coarse)
ex2_int8_GiB = stored_GiB(ex2_model, "int8-channel")
ex2_free_GiB = ex2_usable_GiB - ex2_weights_GiB
ex2_coarse_free_GiB = ex2_usable_GiB - ex2_coarse_GiB
ex2_per_token_KiB = kv_cache.bytes_per_token(ex2_model, "bf16") / KiB
ex2_per_sequence_GiB = kv_cache.bytes_per_sequence(ex2_model, ex2_context, "bf16") / GiB
ex2_fits = sequences(ex2_model, ex2_gpu, ex2_format, ex2_context, "bf16")
ex2_ecc_GiB = (ex2_gpu.memory_bytes - ex2_gpu.visible_memory_bytes) / GiB
ex2_group_cost_GiB = ex2_weights_GiB - ex2_coarse_GiB
ex2_group_cost_sequences = ex2_group_cost_GiB / ex2_per_sequence_GiB


def ex2_counts(gpu: hardware.Accelerator) -> tuple[int, int, int, int]:
    """Full-context sequences that fit on `gpu`: (int4-g32 + bf16 cache, int4-g32 + fp8 cache,
    int4-g128 + bf16 cache, int4-g128 + fp8 cache)."""
    return tuple(sequences(ex2_model, gpu, f, ex2_context, kv) for f, kv in
                 ((ex2_format, "bf16"), (ex2_format, "fp8"), (ex2_coarse, "bf16"), (ex2_coarse, "fp8")))


def ex2_premises(gpu: hardware.Accelerator) -> tuple[bool, bool, bool, bool]:
    """The answer's verdicts on `gpu`, in the order of the claims below: fewer than the wanted users
    fit, an fp8 cache alone does not reach them, int4-g128 alone does not, both together do."""
    fits, fp8, coarse, both = ex2_counts(gpu)
    return 0 < fits < ex2_wanted, fp8 < ex2_wanted, coarse < ex2_wanted, both >= ex2_wanted


_ex2_holds = ex2_premises(ex2_gpu)
ex2_too_few = claim("fewer than eight full-context sequences fit beside int4-g32 weights with a bf16 cache",
                    _ex2_holds[0])
ex2_fp8_cache_short = claim("an fp8 cache alone does not fit eight", _ex2_holds[1])
ex2_coarse_short = claim("int4-g128 weights alone (bf16 cache) do not fit eight either", _ex2_holds[2])
ex2_both_fit = claim("both changes together fit eight", _ex2_holds[3])


def ex2_verdict(gpu: hardware.Accelerator) -> tuple[int, int, int]:
    """(int4-g32 + fp8 cache, int4-g128 + bf16 cache, int4-g128 + fp8 cache): the sequences each
    change fits on `gpu`, with the answer's verdicts (the four claims above) checked on it. On an
    L40S counted without ECC's sixteenth (the exercise's old premise) they are false and this
    raises ClaimFailed with the first false claim."""
    for c, holds in zip((ex2_too_few, ex2_fp8_cache_short, ex2_coarse_short, ex2_both_fit), ex2_premises(gpu)):
        if not holds:
            raise ClaimFailed(f"no longer true on {gpu.name}: {c}")
    return ex2_counts(gpu)[1:]


ex2_fits_fp8, ex2_fits_coarse, ex2_fits_both = ex2_counts(ex2_gpu)[1:]
_ex2_step = quant_formats.decode_step(ex2_model, ex2_coarse, ex2_wanted, ex2_context, "fp8")
ex2_step_GB = _ex2_step.bytes / GB
ex2_step_ms = quant_formats.step_time_s(ex2_model, ex2_coarse, ex2_gpu, ex2_wanted, ex2_context, "fp8") * 1e3
ex2_per_user = 1e3 / ex2_step_ms
ex2_int8_out = claim("Llama-2-70B's weights do not fit on the L40S in int8", ex2_int8_GiB > ex2_usable_GiB)
ex2_g32_fits = claim("they fit in int4 with group 32", ex2_weights_GiB < ex2_usable_GiB)
ex2_ecc_sixteenth = claim("the L40S keeps a sixteenth of its GDDR6 for ECC, on by default",
                          ex2_gpu.ecc_reserved_fraction == 1 / 16)
ex2_full_context = claim("the 4,096-token context is Llama-2-70B's maximum", ex2_context == 4096)
ex2_step_memory_bound = claim("eight sequences with int4-g128 weights and an fp8 cache are memory-bound on the L40S",
      _ex2_step.is_memory_bound(ex2_gpu))

# ---- 4.3 W8A8 fp8 or int4 weights at batch 512? -------------------------------------------------
ex3_model = models.get("Mistral-7B-v0.1")
ex3_gpu = hardware.get("NVIDIA H100 PCIe")
ex3_batch = 512
ex3_formats = ("int4-g128", "fp8-tensor")
ex3_kv = "bf16"
ex3_bf16_tflops = ex3_gpu.peak_flops("bf16") / 1e12
ex3_fp8_tflops = ex3_gpu.peak_flops("fp8") / 1e12
ex3_GBps = ex3_gpu.memory_bandwidth_GBps


@dataclass(frozen=True)
class Format:
    """One format's decode step of ex3_batch sequences at one context on the H100 PCIe."""

    name: str
    math: str  # the dtype its matmuls compute in
    weights_GB: float
    cache_GB: float
    GB: float
    TFLOP: float
    memory_ms: float
    compute_ms: float
    ms: float
    tokens_per_s: float
    memory_bound: bool


@dataclass(frozen=True)
class Workload:
    context: int
    int4: Format
    fp8: Format
    winner: str
    margin: float  # the winner's tokens/s over the other's


def _format(name: str, context: int) -> Format:
    step = quant_formats.decode_step(ex3_model, name, ex3_batch, context, ex3_kv)
    math = quant_formats.get(name).compute_dtype
    # as the chapter prices a step: the layers' matmuls at the format's roof, the 16-bit LM head and
    # attention at bf16's (quant_formats.compute_time_s)
    args = (ex3_model, name, ex3_gpu, ex3_batch, context)
    return Format(name, math, step.weight_bytes / GB, step.kv_bytes / GB, step.bytes / GB, step.flops / 1e12,
                  step.memory_time_s(ex3_gpu) * 1e3, quant_formats.compute_time_s(*args) * 1e3,
                  quant_formats.step_time_s(*args, ex3_kv) * 1e3, quant_formats.tokens_per_s(*args, ex3_kv),
                  quant_formats.is_memory_bound(*args, ex3_kv))


def workload(context: int) -> Workload:
    int4, fp8 = (_format(n, context) for n in ex3_formats)
    win, lose = (int4, fp8) if int4.tokens_per_s > fp8.tokens_per_s else (fp8, int4)
    return Workload(context, int4, fp8, win.name, win.tokens_per_s / lose.tokens_per_s)


ex3_short, ex3_long = workload(128), workload(512)
ex3_attention_share = (quant_formats.decode_step(ex3_model, "fp8-tensor", ex3_batch, ex3_short.context).attention_flops
                       / quant_formats.decode_step(ex3_model, "fp8-tensor", ex3_batch, ex3_short.context).flops)
ex3_fits = min(sequences(ex3_model, ex3_gpu, f, ex3_long.context, ex3_kv) for f in ex3_formats)
ex3_short_int4_compute_bound = claim("at 128 tokens int4's step hits the bf16 compute roof",
                                     not ex3_short.int4.memory_bound)
ex3_short_fp8_memory_bound = claim("at 128 tokens fp8's step is still memory-bound", ex3_short.fp8.memory_bound)
ex3_short_fp8_wins = claim("at 128 tokens of context W8A8 fp8 serves more tokens/s, by more than 5 %",
                           ex3_short.winner == "fp8-tensor" and ex3_short.margin > 1.05)
ex3_long_memory_bound = claim("at 512 tokens both steps are memory-bound, and int4 reads fewer bytes",
                              ex3_long.int4.memory_bound and ex3_long.fp8.memory_bound
                              and ex3_long.int4.GB < ex3_long.fp8.GB)
ex3_long_int4_wins = claim("at 512 tokens int4 serves more, by more than 5 %",
                           ex3_long.winner == "int4-g128" and ex3_long.margin > 1.05)
ex3_long_margin_small = claim("(b)'s margin is small: under 10 %, and below (a)'s",
                              ex3_long.margin < 1.1 and ex3_long.margin < ex3_short.margin)
ex3_attention_small = claim("attention is under a tenth of the short step's FLOPs", ex3_attention_share < 0.1)
ex3_both_fit = claim("512 sequences of 512 tokens fit in either format", ex3_fits >= ex3_batch)
ex3_window_no_limit = claim(
    "Mistral-7B's 4,096-token window does not shorten these contexts",
    all(kv_cache.cached_positions(ex3_model, w.context) == ex3_model.n_layers * w.context for w in (ex3_short, ex3_long)))

# ---- 4.4 int4 weights or an fp8 cache for 32k-token documents? --------------------------------
ex4_gpu = hardware.get("AMD Instinct MI300X")
ex4_context = 32768
ex4_usable_GiB = ex4_gpu.usable_memory_bytes() / GiB
ex4_GBps = ex4_gpu.memory_bandwidth_GBps


@dataclass(frozen=True)
class Option:
    """One model on the MI300X at ex4_context tokens, each way: int4-g128 weights with a bf16
    cache, or bf16 weights with an fp8 cache (and both)."""

    name: str
    bf16_GiB: float  # weights, W16
    int4_GiB: float  # weights, W4
    per_sequence_GiB: float  # bf16 cache of one sequence
    int4: int  # sequences that fit, int4 weights + bf16 cache
    fp8: int  # bf16 weights + fp8 cache
    both: int  # int4 weights + fp8 cache
    int4_ms: float  # a step of the full batch, each way
    fp8_ms: float
    int4_tps: float
    fp8_tps: float
    threshold_GiB: float  # usable memory above which the fp8 cache wins: 2 W16 - W4
    fp8_wins: bool
    memory_bound: bool  # both full batches


def option(name: str) -> Option:
    m = models.get(name)
    a = sequences(m, ex4_gpu, "int4-g128", ex4_context, "bf16")
    b = sequences(m, ex4_gpu, "bf16", ex4_context, "fp8")
    step_a = quant_formats.decode_step(m, "int4-g128", a, ex4_context, "bf16")
    step_b = quant_formats.decode_step(m, "bf16", b, ex4_context, "fp8")
    w16, w4 = stored_GiB(m, "bf16"), stored_GiB(m, "int4-g128")
    return Option(name, w16, w4, kv_cache.bytes_per_sequence(m, ex4_context, "bf16") / GiB, a, b,
                  sequences(m, ex4_gpu, "int4-g128", ex4_context, "fp8"),
                  step_a.time_s(ex4_gpu) * 1e3, step_b.time_s(ex4_gpu) * 1e3,
                  step_a.tokens_per_s(ex4_gpu), step_b.tokens_per_s(ex4_gpu), 2 * w16 - w4, b > a,
                  step_a.is_memory_bound(ex4_gpu) and step_b.is_memory_bound(ex4_gpu))


ex4_small, ex4_big = option("Qwen2.5-7B"), option("Qwen2.5-72B")
ex4_small_gain = ex4_small.fp8_tps / ex4_small.int4_tps
ex4_big_gain = ex4_big.int4_tps / ex4_big.fp8_tps
ex4_at_the_limit = claim(
    "at the memory limit both full batches of both models are memory-bound, their steps within 5 % of each other's "
    "time, and tokens/s follow the batch", all(
        o.memory_bound and abs(o.int4_ms / o.fp8_ms - 1) < 0.05 and (o.fp8_tps > o.int4_tps) == (o.fp8 > o.int4)
        for o in (ex4_small, ex4_big)))
ex4_small_fp8 = claim("for Qwen2.5-7B the fp8 cache serves more", ex4_small.fp8_wins and ex4_small.fp8_tps > ex4_small.int4_tps)
ex4_big_int4 = claim("for Qwen2.5-72B int4 weights serve more", not ex4_big.fp8_wins and ex4_big.int4_tps > ex4_big.fp8_tps)
ex4_rule = claim("the rule: the fp8 cache wins when usable memory exceeds twice the bf16 weights less the int4 weights",
      all((ex4_usable_GiB > o.threshold_GiB) == o.fp8_wins for o in (ex4_small, ex4_big)))
ex4_both_changes = claim(
    "both changes together fit at least as many as the better of the two: under 10 % more than the fp8 cache alone "
    "for the small model, twice (within 10 %) int4 alone for the large one",
    all(o.both >= max(o.int4, o.fp8) for o in (ex4_small, ex4_big))
    and ex4_small.both < 1.1 * ex4_small.fp8 and abs(ex4_big.both / ex4_big.int4 - 2) < 0.1)
ex4_context_allowed = claim("the 32k context is within both models' maximum",
      all(models.get(n).max_position_embeddings >= ex4_context for n in ("Qwen2.5-7B", "Qwen2.5-72B")))

# ---- 4.5 Measure the formats on your GPU (bench: quant section) ------------------------------
TOLERANCE = 0.15  # "close": a measured speedup over bf16 within 15 % of the byte ratio
ex5_gpu = hardware.get("NVIDIA GeForce RTX 4090")
ex5_model = models.get("Qwen2.5-7B")
ex5_batches = (1, 16)  # two of the bench's quant batches, both memory-bound in every format
ex5_formats = ("bf16", "int8-channel", "int4-g128", "fp8-tensor")  # the bench's quant formats
ex5_tolerance_pct = TOLERANCE * 100
ex5_expected_fraction = hardware.TYPICAL_SUSTAINED_BANDWIDTH_FRACTION
ex5_bf16_low = ex5_expected_fraction * (1 - TOLERANCE)
ex5_bf16_high = min(1.0, ex5_expected_fraction * (1 + TOLERANCE))  # no kernel beats its bound
ex5_band_within_bound = claim("the bf16 band stays within the bound", ex5_bf16_high <= 1)
ex5_GBps = ex5_gpu.memory_bandwidth_GBps


def bench_layer_shapes(m: models.ModelConfig) -> list[tuple[int, int]]:
    """(out, in) of the bench's fused matmuls of one layer: qkv, o, gate+up, down (as
    snippets.bench.quant.layer_shapes, restated here so this page does not import torch)."""
    d, q, kv = m.d_model, m.n_heads * m.head_dim, m.n_kv_heads * m.head_dim
    return [(q + 2 * kv, d), (d, q), (2 * m.d_ff, d), (d, m.d_ff)]


def bench_bytes(fmt: str, batch: int) -> float:
    """What the bench's quant section counts for one layer: weights in `fmt`, scales included,
    plus the bf16 activations in and out."""
    f = quant_formats.get(fmt)
    shapes = bench_layer_shapes(ex5_model)
    return sum(f.matrix_bytes(o, i) for o, i in shapes) + sum(batch * (o + i) * 2 for o, i in shapes)


@dataclass(frozen=True)
class Predicted:
    """One format at one batch: the bench's bytes, the datasheet bound and the band of 'close'."""

    format: str
    batch: int
    MB: float
    bound_us: float
    ratio: float  # bf16 bytes / these bytes: the speedup a memory-bound kernel shows
    low: float  # close: a measured speedup over bf16 in [low, high]
    high: float
    critical_batch: float  # where one of these matmuls reaches the ridge of its math


def predicted(fmt: str, batch: int) -> Predicted:
    nbytes, bf16 = bench_bytes(fmt, batch), bench_bytes("bf16", batch)
    ratio = bf16 / nbytes
    rows, cols = bench_layer_shapes(ex5_model)[0]
    return Predicted(fmt, batch, nbytes / 1e6, nbytes / ex5_gpu.bandwidth_Bps * 1e6, ratio,
                     ratio * (1 - TOLERANCE), ratio * (1 + TOLERANCE),
                     quant_formats.critical_batch(ex5_gpu, fmt, rows, cols))


ex5 = {(f, b): predicted(f, b) for f in ex5_formats for b in ex5_batches}
ex5_bf16, ex5_int8, ex5_int4, ex5_fp8 = (ex5[(f, 1)] for f in ex5_formats)
ex5_int4_16 = ex5[("int4-g128", 16)]
ex5_matmuls = len(bench_layer_shapes(ex5_model))
ex5_layer_params_M = sum(o * i for o, i in bench_layer_shapes(ex5_model)) / 1e6
ex5_activation_share = 1 - sum(quant_formats.get("int4-g128").matrix_bytes(o, i)
                               for o, i in bench_layer_shapes(ex5_model)) / bench_bytes("int4-g128", 1)
ex5_batch_growth = max(ex5[(f, ex5_batches[-1])].MB / ex5[(f, ex5_batches[0])].MB for f in ex5_formats) - 1
ex5_L2_MB = ex5_gpu.cache_MB
ex5_cache_fits = ex5_L2_MB is not None and ex5_int4.MB < ex5_L2_MB
_int4_rows = [r for r in quant_measurements.all_measurements()
              if r.tokens_per_s and r.format.startswith("int4") and quant_measurements.measured_speedup(r)]
ex5_best_int4_of_ratio = max(quant_measurements.measured_speedup(r) / quant_measurements.ideal_speedup(r)
                             for r in _int4_rows)
ex5_memory_bound = claim(
    "every format is memory-bound at both batches on the RTX 4090, int4's critical batch the lowest",
    all(b < p.critical_batch for (f, b), p in ex5.items())
    and all(ex5_int4.critical_batch <= ex5[(f, 1)].critical_batch for f in ex5_formats))
ex5_activations_negligible = claim("the activations are under 1 % of the bytes", ex5_activation_share < 0.01)
ex5_batch16_same = claim("so batch 16 reads barely (under 5 %) more than batch 1", ex5_batch_growth < 0.05)
ex5_L2_too_small = claim("the int4 layer is larger than the RTX 4090's L2, so the bound is DRAM's", not ex5_cache_fits)
ex5_byte_ratios = claim("the byte ratios: about 2x for 8 bits, under 4x for int4",
                        1.9 < ex5_int8.ratio < 2 and 1.9 < ex5_fp8.ratio < 2 and 3.5 < ex5_int4.ratio < 4)
ex5_int4_not_close = claim("no published int4 kernel in the chapter reached the close band",
                           ex5_best_int4_of_ratio < 1 - TOLERANCE)
ex5_fp8_runs = claim("the RTX 4090 has fp8 math, so all four formats run", ex5_gpu.dense_fp8_TFLOPS is not None)
