"""Values, claims, tables and figures of docs/01_memory_bound.md (chapter 1)."""

from __future__ import annotations

from pages import recorded
from pages.claims import claim
from pages.store import cached
from snippets import hardware, kv_cache, models, roofline
from snippets.report import markdown_table
from snippets.units import GB, TB, GiB, bytes_per_element
from vis import chapter1

PAGE = "01_memory_bound.md"

# ---- the page's parameters: prose, tables and figures all read these ---------------------
GPU = "A100 80GB SXM"
MODEL = "Llama-2-7B"
DTYPE = "fp16"
CONTEXT = 4096  # tokens of KV cache in the "long context" examples
PROMPT = 4096  # tokens of the prefill examples
BATCHES = (1, 8, 64)  # the seed's batch sizes
RECORDED_MODEL, RECORDED_DTYPE = "Llama-3.1-8B", "bf16"  # the model the recorded runs decode

a100 = hardware.get(GPU)
llama = models.get(MODEL)

# ---- The memory bandwidth bottleneck: the seed's round numbers ----------------------------
tflops = a100.peak_flops("bf16") / 1e12
round_TBps = round(a100.bandwidth_Bps / TB)  # the simple story rounds 2.039 TB/s to 2
round_ridge = tflops / round_TBps
bandwidth_rounds_to_2 = claim("the A100's bandwidth rounds to the simple story's 2 TB/s", round_TBps == 2)
memory_GiB = a100.memory_GB  # the datasheet's "80 GB" is 80 GiB of HBM
memory_MiB = memory_GiB * 1024  # as nvidia-smi shows it
usable_GiB = a100.usable_memory_bytes() / GiB
sparse_tflops = 2 * tflops  # the datasheet's "with sparsity" figure
exact_TBps = a100.bandwidth_Bps / TB
ridge = a100.ridge_point("bf16")
ridge_tex = rf"\frac{{{tflops:g} \times 10^{{12}}}}{{{exact_TBps:g} \times 10^{{12}}}} \approx {ridge:.0f}"

# ---- Autoregressive generation: one token -----------------------------------------------
one = roofline.decode_step(llama, 1, 0, DTYPE)
one_GB = one.weight_bytes / GB
one_GFLOP = one.flops / 1e9
below_ridge = ridge / one.intensity
one_token_memory_bound = claim("one decode token of Llama-2-7B in fp16 is below the A100's ridge point (memory-bound)",
                               one.is_memory_bound(a100) and below_ridge > 1)

# ---- The arithmetic of memory-bound inference: the seed's story --------------------------
seed_params = 7e9  # the simple story's round "7B"
seed_params_B = seed_params / 1e9
fp16_bytes = bytes_per_element(DTYPE)
seed_GB = seed_params * bytes_per_element(DTYPE) / GB
seed_ms = seed_params * bytes_per_element(DTYPE) / (2 * TB) * 1e3
seed_tokens_per_s = 1e3 / seed_ms
seed_is_7_ms = claim("the seed's 14 GB / 2 TB/s is 7 ms per token", round(seed_ms, 9) == 7)

# ---- The same arithmetic, exactly --------------------------------------------------------
params = models.param_count(llama)
params_B = params / 1e9
all_params_GB = models.weight_bytes(llama, DTYPE) / GB
all_params_ms = models.weight_bytes(llama, DTYPE) / a100.bandwidth_Bps * 1e3
one_ms = one.time_s(a100) * 1e3
one_tokens_per_s = one.tokens_per_s(a100)
embedding_GB = (models.weight_bytes(llama, DTYPE) - one.weight_bytes) / GB
_record, measured = recorded.best_decoder(RECORDED_MODEL, RECORDED_DTYPE, batch=1)  # recorded.py's rule
measured_mbu = measured["mbu_pct"] / 100  # the course's best recorded decoder, batch 1
measured_device = _record["device"]["name"]
measured_mode = measured["mode"]
measured_model = measured["model"]
measured_context = measured["context"]
measured_dtype = measured["dtype"]
eager = next(r for r in _record["decode"] if r["batch"] == 1 and r["mode"] == "eager"
             and r["context"] == measured_context)
eager_mbu = eager["mbu_pct"] / 100
eager_spread = recorded.spread(eager)  # how far its median sits above its best
eager_steady = recorded.steady(eager)
eager_best_mbu = eager_mbu * (1 + eager_spread)  # at its best time
eager_row_noisy = claim("the eager row is a noisy one (median more than 5 % above its best)", not eager_steady)
eager_under_half = claim("even at its best time, eager mode reaches less than half the MBU of the best recorded decoder",
                         eager_best_mbu < measured_mbu / 2)
realistic_ms = one_ms / measured_mbu
realistic_tokens_per_s = 1e3 / realistic_ms
copy_fraction = hardware.TYPICAL_SUSTAINED_BANDWIDTH_FRACTION
_read = max((r for r in _record["bandwidth"] if r["kernel"] == "read"), key=lambda r: r["GBps"])
_copy = max((r for r in _record["bandwidth"] if r["kernel"] == "copy"), key=lambda r: r["GBps"])
_spec_GBps = hardware.get(_record["device"]["spec_name"]).memory_bandwidth_GBps
read_fraction = _read["GBps"] / _spec_GBps  # decode is read-dominated: this is its ceiling
measured_copy_fraction = _copy["GBps"] / _spec_GBps
decoder_below_read = claim("a whole decode step reaches less of the bandwidth than a read kernel on the same GPU",
                           measured_mbu < read_fraction)
read_above_copy = claim("a read kernel sustains more of the datasheet bandwidth than a copy kernel on the same GPU",
                        read_fraction > measured_copy_fraction)

ACROSS_GPUS = ("A100 40GB SXM", "A100 80GB PCIe", "A100 80GB SXM", "H100 PCIe", "H100 SXM",
               "H200 SXM", "MI300X", "RTX 4090", "L4")


def a100_variants_table() -> str:
    rows = []
    for g in map(hardware.get, ("A100 40GB PCIe", "A100 40GB SXM", "A100 80GB PCIe", "A100 80GB SXM")):
        rows.append([g.name, f"{g.memory_GB:.0f} GB = {g.memory_GB:.0f} GiB {g.memory_type}",
                     f"{g.memory_bandwidth_GBps:,.0f} GB/s", f"{g.peak_flops('bf16') / 1e12:.0f} TFLOPS",
                     f"{g.ridge_point('bf16'):.1f} FLOP/byte"])
    return markdown_table(["variant", "memory", "bandwidth", "dense fp16/bf16", "ridge point"], rows)


def across_gpus_table() -> str:
    rows = []
    for g in map(hardware.get, ACROSS_GPUS):
        t = one.time_s(g)
        rows.append([g.name, f"{g.memory_GB:g} GB", f"{g.memory_bandwidth_GBps:,.0f} GB/s",
                     f"{t * 1e3:.2f} ms", f"{1 / t:,.0f}"])
    return markdown_table(["accelerator", "memory", "bandwidth", "ms per token (bound)", "tokens/s (bound)"], rows)


# ---- The roofline model ------------------------------------------------------------------
prefill = roofline.prefill(llama, PROMPT, DTYPE)
prefill_weights_only = prefill.flops / (prefill.weight_bytes + prefill.kv_bytes)
prefill_compute_bound = claim("a 4,096-token prefill is compute-bound on the A100", not prefill.is_memory_bound(a100))
decode_rows_memory_bound = claim("decode at batch 1, 8 and 64 is memory-bound on the A100, weights only or with a 4,096-token cache",
                                 all(roofline.decode_step(llama, b, ctx, DTYPE).is_memory_bound(a100)
                                     for b in BATCHES for ctx in (0, CONTEXT)))


def roofline_sketch() -> str:
    """The seed's text sketch of a roofline, with the A100's compute ceiling."""
    return f"""```text
                    Compute Ceiling ({tflops:.0f} TFLOPS)
                    ___________________________
                   /
Performance       /
(FLOPS)          /
                /
               /  ← Memory-bound region
              /
_____________/

        Arithmetic Intensity (FLOPS / Byte)
```"""


def intensities_table() -> str:
    rows = []
    for b in BATCHES:
        c = roofline.decode_step(llama, b, 0, DTYPE)
        rows.append([f"decode, batch {b}", f"{c.intensity:.1f}", _bound(c)])
    rows.append([f"prefill, {PROMPT:,}-token prompt", f"{prefill.intensity:,.0f}", _bound(prefill)])
    return markdown_table([f"step ({llama.name}, {DTYPE})", "FLOP/byte", f"bound on the {a100.name}"], rows)


def _bound(cost: roofline.StepCost) -> str:
    return "memory" if cost.is_memory_bound(a100) else "compute"


# ---- Training vs inference ---------------------------------------------------------------
TRAIN_TOKENS = 4096  # a training micro-batch of 4,096 tokens goes through the weights at once
train = roofline.prefill(llama, TRAIN_TOKENS, DTYPE)  # the forward pass has the shape of a prefill
training_right_of_ridge = claim("a forward pass over 4,096 tokens at once is right of the ridge", train.intensity > ridge)

# ---- Why batching helps (a little) -------------------------------------------------------
critical_batch = roofline.critical_batch_size(a100, DTYPE)
BIG_BATCH = 64
batch_gain_weights = (roofline.decode_step(llama, BIG_BATCH, 0, DTYPE).tokens_per_s(a100) / one_tokens_per_s)
batch_gain_long = (roofline.decode_step(llama, BIG_BATCH, CONTEXT, DTYPE).tokens_per_s(a100)
                   / roofline.decode_step(llama, 1, CONTEXT, DTYPE).tokens_per_s(a100))
long_context_gains_less = claim("at 4,096 tokens of context a batch of 64 gains less than a quarter of what it gains with "
                                "weights alone", batch_gain_long < batch_gain_weights / 4)
batch64_tokens_per_s = roofline.decode_step(llama, BIG_BATCH, 0, DTYPE).tokens_per_s(a100)


def batch_lines() -> str:
    """The seed's text block: 14 GB of weights shared by 1, 8 and 64 sequences."""
    weights_GB = seed_params * bytes_per_element(DTYPE) / GB
    lines = []
    for b, verdict in zip(BATCHES, ("(wasteful!)", "(better)", "(good)")):
        label = "Single sequence:" if b == 1 else f"Batch of {b}:"
        lines.append(f"{label:<18} {weights_GB:.0f} GB weights → {b} {'token' if b == 1 else 'tokens'} "
                     f"({weights_GB / b:.3g} GB per token, {2 * b / bytes_per_element(DTYPE):.0f} FLOP/byte) {verdict}")
    return "```text\n" + "\n".join(lines) + "\n```"


SATURATION_BATCHES = (1, 8, 64, 512, 4096, 32768)
d_model = llama.d_model


def saturation_table() -> str:
    rows = [[f"{b:,}", f"{b:,}", f"{roofline.weight_matmul_intensity(b, d_model, d_model, DTYPE):,.1f}"]
            for b in SATURATION_BATCHES]
    return markdown_table(["batch B", "simple story: B FLOP/byte", "exact: 2·B·d² / 2(d² + 2·B·d)"], rows)


square_limit = roofline.weight_matmul_intensity(10**9, d_model, d_model, DTYPE)  # B >> d: about d/2
prefill_square = roofline.weight_matmul_intensity(PROMPT, d_model, d_model, DTYPE)
_any_batch = (*SATURATION_BATCHES, *(2**k for k in range(31)))
matmul_saturates = claim("however large the batch, a square fp16 matrix's exact intensity stays below both B and d/2",
                         all(roofline.weight_matmul_intensity(b, d_model, d_model, DTYPE) < min(b, d_model / 2)
                             for b in _any_batch))

attention_intensity = kv_cache.attention_intensity(llama, DTYPE)
KV_BATCHES = (1, 8, 64, 256, 1024)
KV_CONTEXTS = (0, 1024, CONTEXT)


def kv_batch_table() -> str:
    """Intensity of a decode step by batch and context; batches that do not fit are marked."""
    rows = []
    for b in KV_BATCHES:
        cells = [f"{b:,}"]
        for ctx in KV_CONTEXTS:
            c = roofline.decode_step(llama, b, ctx, DTYPE)
            fits = ctx == 0 or kv_cache.max_batch(llama, a100, ctx, DTYPE, DTYPE) >= b
            cells.append(f"{c.intensity:,.1f} ({_bound(c)})" + ("" if fits else ", does not fit"))
        rows.append(cells)
    headers = ["batch", "weights only", *(f"+ KV at {c:,} tokens" for c in KV_CONTEXTS[1:])]
    return markdown_table(headers, rows)


long_context_limit = roofline.decode_step(llama, 10**6, CONTEXT, DTYPE).intensity
KV_CONTEXT_SHORT = KV_CONTEXTS[1]
# decode tables count weights and cache; prefill also counts activations (see roofline.prefill)
ACTIVATION_BATCH = 1024
activation_GB = (ACTIVATION_BATCH * models.activation_elements_per_token(llama) * bytes_per_element(DTYPE) / GB)
_with_activations = roofline.decode_step(llama, ACTIVATION_BATCH, 0, DTYPE)
activation_intensity = _with_activations.flops / (_with_activations.bytes + activation_GB * GB)
long_context_fits = kv_cache.max_batch(llama, a100, CONTEXT, DTYPE, DTYPE)
_big, _bigger = (roofline.decode_step(llama, b, CONTEXT, DTYPE) for b in (10**6, 2 * 10**6))
_per_sequence_intensity = (_bigger.flops - _big.flops) / (_bigger.bytes - _big.bytes)  # the limit as B grows
long_context_memory_bound = claim(
    "at 4,096 tokens Llama-2-7B decode is memory-bound at every batch on the A100",
    _per_sequence_intensity < ridge and long_context_limit < ridge
    and all(roofline.decode_step(llama, 2**k, CONTEXT, DTYPE).is_memory_bound(a100) for k in range(21)))
BIG_KV_BATCH = KV_BATCHES[-1]
short_cache_still_memory_bound = claim(
    "at 1,024 tokens of cache a batch of 1,024 is still memory-bound",
    roofline.decode_step(llama, BIG_KV_BATCH, KV_CONTEXT_SHORT, DTYPE).is_memory_bound(a100))
no_cache_crosses = claim("without a cache a batch of 1,024 crosses the ridge",
                         not roofline.decode_step(llama, BIG_KV_BATCH, 0, DTYPE).is_memory_bound(a100))

# ---- Visualizing the bottleneck (the hero figure, to scale) -------------------------------
load_ms = one.memory_time_s(a100) * 1e3
compute_ms = one.compute_time_s(a100) * 1e3
busy = one.compute_time_s(a100) / one.memory_time_s(a100)
prefill_compute_ms = prefill.compute_time_s(a100) * 1e3
prefill_load_ms = prefill.memory_time_s(a100) * 1e3  # weights, activations and cache writes
prefill_weights_ms = prefill.weight_bytes / a100.bandwidth_Bps * 1e3
prefill_activation_GB = prefill.activation_bytes / GB
prefill_kv_GB = prefill.kv_bytes / GB
prefill_weight_GB = prefill.weight_bytes / GB
lm_head_share = models.lm_head_params(llama) / models.matmul_weights_per_token(llama)

# ---- Practical implications: quantization and faster memory ------------------------------
LEVER_GPUS = ("A100 80GB SXM", "H100 SXM", "H200 SXM")
LEVER_DTYPES = ("fp16", "int8", "int4")
head_GB = models.lm_head_params(llama) * (bytes_per_element("fp16") - bytes_per_element("int4")) / GB
INT4_GROUP = 128  # weights that share one fp16 scale in common int4 formats (GPTQ, AWQ at g128)
int4_scale_overhead = 16 / INT4_GROUP / (8 * bytes_per_element("int4"))
# asymmetric schemes store a zero point per group too: a 16-bit one (tinygemm/HQQ, chapter 4's int4-g128)
# doubles the overhead; GPTQ/AWQ checkpoints pack a 4-bit integer one
int4_scale_zero_overhead = (16 + 16) / INT4_GROUP / (8 * bytes_per_element("int4"))
int4_scale_int_zero_overhead = (16 + 4) / INT4_GROUP / (8 * bytes_per_element("int4"))


def levers_table() -> str:
    rows = []
    for g in map(hardware.get, LEVER_GPUS):
        for dtype in LEVER_DTYPES:
            c = roofline.decode_step(llama, 1, 0, dtype)
            rows.append([g.name, dtype, f"{c.weight_bytes / GB:.2f} GB", f"{c.time_s(g) * 1e3:.2f} ms",
                         f"{c.tokens_per_s(g):,.0f}"])
    return markdown_table(["accelerator", "every weight in", "bytes per token", "ms per token", "tokens/s"], rows)


# ---- Prefill vs decode -------------------------------------------------------------------
prefill_ms = prefill.time_s(a100) * 1e3
prefill_ms_per_token = prefill_ms / PROMPT
knee_tokens = roofline.prefill_knee_tokens(llama, a100, DTYPE)
knee_past_critical = claim("counting activations moves the prefill knee past the decode critical batch",
                           knee_tokens > critical_batch)
prefill_knee = claim(
    "a prompt of the knee's length or more (up to the model's context) makes prefill compute-bound on the A100; "
    "one token shorter is memory-bound",
    roofline.prefill(llama, knee_tokens - 1, DTYPE).is_memory_bound(a100)
    and not cached(roofline.memory_bound_prefills, llama, a100, range(knee_tokens, llama.max_position_embeddings + 1),
                   DTYPE))


# ---- Figures: the same parameters as the prose -------------------------------------------
def hero_figure() -> str:
    return cached(chapter1.memory_bandwidth_bottleneck, GPU, MODEL, DTYPE, PROMPT)


def roofline_figure() -> str:
    return cached(chapter1.roofline_chart, GPU, MODEL, DTYPE, BATCHES, PROMPT, CONTEXT)


def batching_figure() -> str:
    return cached(chapter1.batching, GPU, MODEL, DTYPE, CONTEXT, max_batch=1024)


def prefill_figure() -> str:
    return cached(chapter1.prefill_vs_decode, GPU, MODEL, DTYPE, PROMPT)


#: The committed copies in vis/ (`python -m pages figures --update`), by file name.
FIGURES = {
    "memory_bandwidth_bottleneck": hero_figure,
    "roofline_a100": roofline_figure,
    "batching_a100": batching_figure,
    "prefill_vs_decode_a100": prefill_figure,
}


# ---- Editable cells (pages/cells.py): the reader's own GPU, model or batch --------------------
from pages.cells import cell  # noqa: E402 - the cells read the values above

bound_cell = cell('''
    bytes_per_step = $weights  # $model's weights in $dtype, read once per decode step
    bandwidth_Bps = $bandwidth  # $gpu (data/hardware.csv)
    batch = 1                     # sequences decoded together
    tokens_per_s = formulas.decode_tokens_per_s_bound(bytes_per_step, bandwidth_Bps, batch)
    print(f"{bytes_per_step / bandwidth_Bps * 1e3:.2f} ms per step at best")
    print(f"at most {tokens_per_s:,.0f} tokens/s")
''', weights=one.weight_bytes, model=MODEL, dtype=DTYPE, bandwidth=a100.bandwidth_Bps, gpu=GPU)

ridge_cell = cell('''
    peak_flops = $peak  # $gpu, dense bf16 (data/hardware.csv)
    bandwidth_Bps = $bandwidth
    ridge = formulas.ridge_point(peak_flops, bandwidth_Bps)
    print(f"ridge point: {ridge:.0f} FLOP/byte")
    for intensity in (1, 10, 100, 1000):  # FLOP per byte read
        tflops = formulas.attainable_flops(intensity, peak_flops, bandwidth_Bps) / 1e12
        print(f"{intensity:>5} FLOP/byte: at most {tflops:6.1f} TFLOP/s")
''', peak=a100.peak_flops("bf16"), bandwidth=a100.bandwidth_Bps, gpu=GPU)
