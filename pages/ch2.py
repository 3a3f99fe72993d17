"""Values, claims, tables and figures of docs/02_kv_cache.md (chapter 2)."""

from __future__ import annotations

import logging
import statistics
from functools import cache

from pages.claims import claim
from pages.store import cached
from snippets import hardware, kv_cache, models, roofline
from snippets.report import markdown_table
from snippets.units import GB, GiB, KiB, MiB
from vis import chapter2

PAGE = "02_kv_cache.md"

# ---- the page's parameters ----------------------------------------------------------------
BUDGET_GPU = "A100 80GB SXM"  # the memory budget
COST_GPU = "H100 SXM"  # the cost side
CONTEXTS = (4096, 32768, 131072)
WORKED_MODELS = ("Llama-2-7B", "Llama-3.1-8B", "Llama-3.1-70B", "Qwen2.5-7B", "DeepSeek-V3")
BUDGET_MODELS = ("Llama-2-7B", "Llama-3.1-8B", "Qwen2.5-7B")
SIZE_MODELS = ("Llama-2-7B", "Llama-3.1-8B", "Qwen2.5-7B", "Gemma-2-9B", "Llama-3.1-70B", "DeepSeek-V3")
PROMPT, NEW = 512, 512  # the recompute-vs-cache comparison
BREAKDOWN_BATCHES = (1, 32)
STEP_DTYPE = "bf16"

llama2 = models.get("Llama-2-7B")
llama3 = models.get("Llama-3.1-8B")
a100 = hardware.get(BUDGET_GPU)
h100 = hardware.get(COST_GPU)

# ---- Why a cache ----------------------------------------------------------------------------


def flops_table() -> str:
    rows = []
    for m in (llama2, llama3):
        with_cache = roofline.generation_flops(m, PROMPT, NEW, use_cache=True)
        without = roofline.generation_flops(m, PROMPT, NEW, use_cache=False)
        fast = roofline.generation_time_s(m, PROMPT, NEW, True, h100, STEP_DTYPE)
        slow = roofline.generation_time_s(m, PROMPT, NEW, False, h100, STEP_DTYPE)
        rows.append([m.name, f"{without / 1e12:,.0f} TFLOP", f"{with_cache / 1e12:,.1f} TFLOP",
                     f"{without / with_cache:,.0f}x", f"{slow:,.2f} s", f"{fast:,.2f} s", f"{slow / fast:,.1f}x"])
    return markdown_table(["model", "FLOPs without a cache", "with a cache", "FLOPs saved",
                           f"time bound without, {h100.name}", "with", "time saved"], rows)


@cache
def _saved(m: models.ModelConfig) -> tuple[float, float]:
    """(FLOPs saved, time bound saved) by the cache for one sequence of the table."""
    return (roofline.generation_flops(m, PROMPT, NEW, False) / roofline.generation_flops(m, PROMPT, NEW, True),
            roofline.generation_time_s(m, PROMPT, NEW, False, h100, STEP_DTYPE)
            / roofline.generation_time_s(m, PROMPT, NEW, True, h100, STEP_DTYPE))


flops_saved, time_saved = _saved(llama3)
saved_columns_differ = claim("the two 'saved' columns differ by two orders of magnitude, in every row",
                             all(work > 100 * time for work, time in map(_saved, (llama2, llama3))))
cache_saves_time = claim("the cache cuts the time bound too, by less than the work", 1 < time_saved < flops_saved)
SERVING_BATCH = 32
_lengths = range(PROMPT, PROMPT + NEW)  # the sequence lengths of the generation
recompute_compute_bound = claim(
    "for both models of the table, every recomputation of the generation is a compute-bound prefill on the H100 "
    "and every cached decode step of one sequence is memory-bound",
    all(not roofline.prefill(m, t, STEP_DTYPE, STEP_DTYPE).is_memory_bound(h100)
        and roofline.decode_step(m, 1, t, STEP_DTYPE, STEP_DTYPE).is_memory_bound(h100)
        for m in (llama2, llama3) for t in _lengths))
batch_stays_memory_bound = claim(
    "a batch of 32 cached decode steps stays memory-bound at every length of the generation",
    all(roofline.decode_step(llama3, SERVING_BATCH, t, STEP_DTYPE, STEP_DTYPE).is_memory_bound(h100)
        for t in _lengths))

# ---- What is stored, and how big ------------------------------------------------------------
group = llama3.n_heads // llama3.n_kv_heads
gqa_saving = kv_cache.bytes_per_token(llama2) / kv_cache.bytes_per_token(llama3)
gqa_smaller_by_group = claim(
    "Llama-3.1-8B's cache is smaller than Llama-2-7B's at the same depth and head size by the group size",
      llama2.n_layers == llama3.n_layers and llama2.head_dim == llama3.head_dim and gqa_saving == group)

deepseek = models.get("DeepSeek-V3")
mla_KiB = kv_cache.bytes_per_token(deepseek) / KiB
mla_reexpanded_MiB = kv_cache.reexpanded_bytes_per_token(deepseek) / MiB
mla_ratio = kv_cache.reexpanded_bytes_per_token(deepseek) / kv_cache.bytes_per_token(deepseek)
mla_intensity = kv_cache.attention_intensity(deepseek, "fp16")
mla_intensity_fp8 = kv_cache.attention_intensity(deepseek, "fp8")
mla_latent = deepseek.kv_lora_rank + deepseek.qk_rope_head_dim
a100_ridge = a100.ridge_point("bf16")
mla_16bit_just_memory_bound = claim("MLA with a 16-bit cache is memory-bound on the H100 but above the A100's ridge",
                                    a100_ridge < mla_intensity < h100.ridge_point("bf16"))
mla_fp8_crosses = claim("with an fp8 cache MLA attention crosses the H100's ridge",
                        mla_intensity_fp8 > h100.ridge_point("bf16"))
mla_far_more_flops = claim(
    "MLA's absorbed form does far more (over ten times) FLOPs per cached byte than every MHA or GQA model of the "
    "table, with the same cache dtype",
    all(kv_cache.attention_intensity(deepseek, d) > 10 * kv_cache.attention_intensity(m, d)
        for m in map(models.get, WORKED_MODELS) if m.attention_kind != "MLA" for d in ("fp16", "fp8")))

gemma = models.get("Gemma-2-9B")
gemma_naive_head_dim = gemma.d_model // gemma.n_heads
gemma_KiB = kv_cache.bytes_per_token(gemma) / KiB
gemma_naive_KiB = kv_cache.mha_elements_per_token(gemma.n_layers, gemma.n_kv_heads, gemma_naive_head_dim) * 2 / KiB
GEMMA_CONTEXT = 8192
gemma_window = gemma.sliding_window
gemma_windowed_layers = kv_cache.windowed_layers(gemma)
gemma_sequence_GiB = kv_cache.bytes_per_sequence(gemma, GEMMA_CONTEXT) / GiB
gemma_unwindowed_GiB = kv_cache.bytes_per_token(gemma) * GEMMA_CONTEXT / GiB
gemma_window_saves = claim("Gemma-2's window saves memory at 8k tokens", gemma_sequence_GiB < gemma_unwindowed_GiB)


def worked_table() -> str:
    rows = []
    for m in map(models.get, WORKED_MODELS):
        per_token = kv_cache.bytes_per_token(m, "fp16")
        cells = [m.name, m.attention_kind, f"{per_token:,.0f} B = {per_token / KiB:,.1f} KiB"]  # fp16
        for context in CONTEXTS:
            if context > m.max_position_embeddings:
                cells.append(f"beyond its {m.max_position_embeddings:,}")
            else:
                total = kv_cache.bytes_per_sequence(m, context, "fp16")
                cells.append(f"{total / GiB:,.2f} GiB ({total / GB:,.2f} GB)")
        rows.append(cells)
    return markdown_table(["model", "kind", "fp16 per token", *(f"{c:,} tokens" for c in CONTEXTS)], rows)


# ---- The memory budget ----------------------------------------------------------------------
usable_GiB = a100.usable_memory_bytes() / GiB


def budget_table() -> str:
    rows = []
    for m in map(models.get, BUDGET_MODELS):
        for kv_dtype in ("fp16", "fp8"):
            cells = [m.name, kv_dtype]
            for context in CONTEXTS:
                fits = "–" if context > m.max_position_embeddings else \
                    f"{kv_cache.max_batch(m, a100, context, 'fp16', kv_dtype):,}"
                cells.append(fits)
            rows.append(cells)
    return markdown_table(["model", "cache dtype", *(f"{c:,} tokens of context" for c in CONTEXTS)], rows)


llama3_weights_GB = models.weight_bytes(llama3, "fp16") / GB
llama3_weights_GiB = models.weight_bytes(llama3, "fp16") / GiB
llama3_free_GiB = (a100.usable_memory_bytes() - models.weight_bytes(llama3, "fp16")) / GiB
bandwidth_ratio = h100.memory_bandwidth_GBps / a100.memory_bandwidth_GBps
VLLM_MEMORY_SHARE = 0.9  # vLLM's default gpu_memory_utilization (EngineArgs, vllm/engine/arg_utils.py)
llama70 = models.get("Llama-3.1-70B")
llama70_GB = models.weight_bytes(llama70, "fp16") / GB
llama70_GiB = models.weight_bytes(llama70, "fp16") / GiB
_budget = [(m, c, kv) for m in map(models.get, BUDGET_MODELS) for c in CONTEXTS if c <= m.max_position_embeddings
           for kv in ("fp16", "fp8")]
h100_same_batches = claim(
    "the H100 SXM has the A100 80GB's capacity, so every batch of the table fits on it too, and it reads faster",
    h100.memory_GB == a100.memory_GB and bandwidth_ratio > 1
    and all(kv_cache.max_batch(m, h100, c, "fp16", kv) == kv_cache.max_batch(m, a100, c, "fp16", kv)
            for m, c, kv in _budget))
llama70_does_not_fit = claim(
    "a 70B model in fp16 does not fit on one 80 GiB GPU",
    kv_cache.max_batch(llama70, a100, 1, "fp16", "fp16") == 0 == kv_cache.max_batch(llama70, h100, 1, "fp16", "fp16"))
fp8_doubles = claim("an fp8 cache at least doubles every batch", all(
    kv_cache.max_batch(m, a100, c, "fp16", "fp8") >= 2 * kv_cache.max_batch(m, a100, c, "fp16", "fp16")
    for m, c, kv in _budget if kv == "fp16"))

# ---- The cost side ------------------------------------------------------------------------


def intensity_table() -> str:
    rows = []
    for m in map(models.get, WORKED_MODELS):
        kv_heads = 1 if m.attention_kind == "MLA" else m.n_kv_heads
        rows.append([m.name, m.attention_kind, f"{m.n_heads} / {kv_heads}",
                     f"{kv_cache.attention_intensity(m, 'fp16'):,.1f}", f"{kv_cache.attention_intensity(m, 'fp8'):,.1f}"])
    return markdown_table(["model", "kind", "query / KV heads", "FLOP/byte, fp16 cache", "FLOP/byte, fp8 cache"], rows)


h100_ridge = h100.ridge_point("bf16")
attention_deep_memory_bound = claim(
    "MHA and GQA attention are deep in memory-bound territory (under a tenth of the ridge) on the H100 at any batch",
    all(kv_cache.attention_intensity(models.get(n), d) < h100_ridge / 10
        for n in WORKED_MODELS if models.get(n).attention_kind != "MLA" for d in ("fp16", "fp8")))

llama3_step_weights_GB = roofline.decode_step(llama3, 1, 0, STEP_DTYPE).weight_bytes / GB
llama3_per_token_KiB = kv_cache.bytes_per_token(llama3, STEP_DTYPE) / KiB
crossover = {b: roofline.cache_outweighs_weights_context(llama3, b, STEP_DTYPE, STEP_DTYPE) for b in BREAKDOWN_BATCHES}
crossover_1, crossover_32 = crossover[1], crossover[32]
batch_1, batch_32 = BREAKDOWN_BATCHES
second_panel_batch = claim("the second panel's batch is the serving batch of 32 sequences", batch_32 == SERVING_BATCH)
sooner_with_batch = claim("the cache outweighs the weights at a shorter context the larger the batch",
                          crossover_32 < crossover_1)
LONG = 131072
long_step = roofline.decode_step(llama3, 1, LONG, STEP_DTYPE, STEP_DTYPE)
long_attention_GFLOP = long_step.attention_flops / 1e9
long_weight_GFLOP = long_step.weight_flops / 1e9
long_attention_exceeds = claim("at 128k tokens attention FLOPs exceed the weights' FLOPs",
                               long_step.attention_flops > long_step.weight_flops)

# ---- Prefill fills the cache, decode reads it -----------------------------------------------
PREFILL_PROMPT = 4096
prefill = roofline.prefill(llama3, PREFILL_PROMPT, STEP_DTYPE, STEP_DTYPE)
after = roofline.decode_step(llama3, 1, PREFILL_PROMPT, STEP_DTYPE, STEP_DTYPE)
prefill_cache_MiB = prefill.kv_bytes / MiB
prefill_ms = prefill.time_s(h100) * 1e3
decode_cache_MiB = after.kv_bytes / MiB
decode_weights_GB = after.weight_bytes / GB
decode_ms = after.time_s(h100) * 1e3
prefill_compute_bound = claim("the 4,096-token prefill is compute-bound on the H100", not prefill.is_memory_bound(h100))
decode_memory_bound = claim("every decode step after it is memory-bound (checked up to the model's context)",
                            all(roofline.decode_step(llama3, 1, t, STEP_DTYPE, STEP_DTYPE).is_memory_bound(h100)
                                for t in range(PREFILL_PROMPT, llama3.max_position_embeddings, 1024)))
decode_reads_prefill_cache = claim("decode reads exactly the cache prefill wrote", after.kv_bytes == prefill.kv_bytes)

# ---- The live demonstration -----------------------------------------------------------------
DEMO = dict(n_layers=4, d_model=256, n_heads=8, n_kv_heads=2, head_dim=32, d_ff=768, vocab_size=1000,
            max_seq_len=512)
DEMO_PROMPT, DEMO_NEW, DEMO_REPEATS = 16, 64, 3
DEMO_ATTEMPTS = 3
log = logging.getLogger("mkdocs.plugins.pages.ch2")


def fit_demo(d):
    """Fixed cost + FLOPs at one rate, fitted on the cached steps and the first half of the
    uncached ones (the second half is what it predicts); ValueError if the timings make no sense."""
    from snippets.transformer_data import fit_step_model

    half = len(d.uncached_s) // 2
    return fit_step_model((d.cached_flops[1:], d.cached_s[1:]), (d.uncached_flops[1:half], d.uncached_s[1:half]))


def measure_demo():
    """Run the demonstration: a few seconds on a CPU, on one thread: the build runs a page per core,
    and torch's threads fighting over two cores ran it 25x slower than one thread. Timings too noisy
    to fit (another program took the CPU mid-run) are measured again, up to DEMO_ATTEMPTS times."""
    from snippets.transformer import TransformerConfig, cache_demo, torch_threads

    with torch_threads(1):
        for attempt in range(1, DEMO_ATTEMPTS + 1):
            measured = cache_demo(TransformerConfig(**DEMO), DEMO_PROMPT, DEMO_NEW, repeats=DEMO_REPEATS)
            try:
                fit_demo(measured)
                return measured
            except ValueError as error:
                if attempt == DEMO_ATTEMPTS:
                    raise
                log.info("chapter 2's demonstration: %s; measuring it again (%d of %d)", error, attempt + 1,
                         DEMO_ATTEMPTS)


# The stored measurement, the one a build shows; its claims are asserted below. Read without
# `live`, so that a process that only imports this module (the exercises page's) never measures
# again under `python -m pages compute --live`; the build after it asserts them on the new one.
_demo = cached(measure_demo, live=True)  # measured again by `python -m pages compute --live`


def demo():
    """The demonstration's measurement, the one this module's claims were checked on."""
    return _demo


@cache
def demo_prediction():
    """Fit fixed cost + FLOPs at one rate on the cached steps and the first half of the
    uncached ones, then predict the second half of the uncached run, whose steps are larger
    than any the fit saw. Returns (model, residuals of the predicted steps in %)."""
    d = demo()
    half = len(d.uncached_s) // 2
    model = fit_demo(d)
    predicted = zip(d.uncached_flops[half:], d.uncached_s[half:])
    residuals = [100 * (model.predict_s(f) / s - 1) for f, s in predicted]
    return model, residuals


def demo_summary() -> str:
    """Bullet list of what the demonstration measured, and how well the fitted model predicts
    the steps it was not fitted on. Every number comes from this build's measurement."""
    d = demo()
    model, residuals = demo_prediction()
    tenth = max(1, len(d.cached_s) // 10)
    cached_first, cached_last = (statistics.median(d.cached_s[1:1 + tenth]) * 1e3,
                                 statistics.median(d.cached_s[-tenth:]) * 1e3)
    uncached_first, uncached_last = (statistics.median(d.uncached_s[1:1 + tenth]) * 1e3,
                                     statistics.median(d.uncached_s[-tenth:]) * 1e3)
    tokens = d.prompt_tokens + d.new_tokens
    element = d.cache_bytes_formula // (2 * d.cfg.n_layers * d.cfg.n_kv_heads * d.cfg.head_dim * tokens * d.batch)
    half = len(d.uncached_s) // 2
    return "\n".join([
        f"- Same tokens with and without the cache: **{d.same_tokens}** "
        f"(largest {d.dtype} logit difference {d.max_logit_difference:.1e})",
        f"- Cache tensors allocated for the {tokens} positions a generation can hold (the last token "
        f"generated is never fed back, so {tokens - 1} are written): {d.cache_bytes_measured:,} B; formula "
        f"2 × {d.cfg.n_layers} × {d.cfg.n_kv_heads} × {d.cfg.head_dim} × {element} B × {tokens} = "
        f"{d.cache_bytes_formula:,} B",
        f"- Time per token on this build's {d.device.upper()} ({d.dtype}, median of {d.repeats} runs, first and "
        f"last tenth of the steps): without the cache {uncached_first:.2f} ms → {uncached_last:.2f} ms "
        f"({uncached_last / uncached_first:.1f}x); with it {cached_first:.2f} ms → {cached_last:.2f} ms "
        f"({cached_last / cached_first:.1f}x)",
        f"- Fitted on the cached run and steps 2–{half} of the uncached run (the median of each): "
        f"{model.fixed_s * 1e3:.2f} ms fixed per step + FLOPs at {model.FLOP_per_s / 1e9:.0f} GFLOP/s. It "
        f"predicts the last {len(residuals)} uncached steps, larger than any it was fitted on, with a median error of "
        f"{statistics.median(abs(r) for r in residuals):.0f} % (from {min(residuals):+.0f} % to "
        f"{max(residuals):+.0f} %)",
    ])


demo_same_tokens = claim("the cached and uncached runs choose the same tokens", _demo.same_tokens)
demo_cache_bytes = claim("the measured cache bytes equal the formula",
                         _demo.cache_bytes_measured == _demo.cache_bytes_formula)


# ---- Figures --------------------------------------------------------------------------------
def bytes_per_token_figure() -> str:
    return cached(chapter2.bytes_per_token, "fp16")


def cache_vs_context_figure() -> str:
    return cached(chapter2.cache_vs_context, COST_GPU, SIZE_MODELS, "fp16")


def max_batch_figure() -> str:
    return cached(chapter2.max_batch_vs_context, BUDGET_GPU, BUDGET_MODELS, "fp16")


def step_breakdown_figure() -> str:
    return cached(chapter2.step_breakdown, COST_GPU, llama3.name, STEP_DTYPE, BREAKDOWN_BATCHES)


def demo_figure() -> str:
    model, _ = demo_prediction()
    return cached(chapter2.measured_generation, demo(), model, live=True)


#: The committed copies in vis/ (`python -m pages figures --update`); the live demo is not committed.
FIGURES = {
    "kv_bytes_per_token": bytes_per_token_figure,
    "kv_cache_vs_context": cache_vs_context_figure,
    "kv_max_batch_a100": max_batch_figure,
    "kv_step_breakdown_h100": step_breakdown_figure,
}


# ---- Quantised caches: what int4 stores beside its codes ----------------------------------------
KV_INT4_GROUP = 64  # values sharing one fp16 scale and one fp16 zero point in a grouped int4 cache
kv_int4_bits = 4 + (16 + 16) / KV_INT4_GROUP
kv_int4_share = kv_int4_bits / 16  # of a 16-bit cache
kv_int4_gain = 1 / kv_int4_share
int4_cache_share = claim("a grouped int4 cache stores a little more than a quarter of a 16-bit one",
                         0.25 < kv_int4_share < 0.3)



# ---- Editable cells (pages/cells.py) -------------------------------------------------------
from pages.cells import cell  # noqa: E402 - the cells read the values above

per_token_cell = cell('''
    n_layers, n_kv_heads, head_dim = $layers, $kv_heads, $head_dim  # $model (data/models.csv)
    dtype = "fp16"  # or "fp8", "int4"
    elements = formulas.mha_elements_per_token(n_layers, n_kv_heads, head_dim)
    per_token = formulas.kv_bytes_per_token(elements, dtype)
    print(f"{per_token / 2**10:.0f} KiB per token")
    for context in $contexts:
        print(f"{context:>7,} tokens: {formulas.kv_bytes_for_batch(per_token, context, 1) / 2**30:6.2f} GiB")
''', layers=llama3.n_layers, kv_heads=llama3.n_kv_heads, head_dim=llama3.head_dim, model=llama3.name,
    contexts=CONTEXTS)

budget_cell = cell('''
    usable_bytes = $usable  # $gpu, less the driver's share
    weight_bytes = $weights  # $model in fp16
    per_token = formulas.kv_bytes_per_token(formulas.mha_elements_per_token($layers, $kv_heads, $head_dim), "fp16")
    context = $context
    batch = int((usable_bytes - weight_bytes) // formulas.kv_bytes_for_batch(per_token, context, 1))
    print(f"{batch} sequences of {context:,} tokens fit")
''', usable=a100.usable_memory_bytes(), gpu=BUDGET_GPU, weights=models.weight_bytes(llama3, "fp16"), model=llama3.name,
    layers=llama3.n_layers, kv_heads=llama3.n_kv_heads, head_dim=llama3.head_dim, context=CONTEXTS[1])
