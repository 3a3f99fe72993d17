"""Values and claims of chapter 1's exercises (the end of docs/01_memory_bound.md).

Every number a question or an answer prints is computed here from the data files, and every
verdict is asserted: if the data change so that an answer flips, the build fails.
"""

from __future__ import annotations

from pages import recorded
from pages.claims import claim
from pages.exercises import Exercise
from snippets import hardware, kv_cache, models, roofline
from snippets.bench.results import best
from snippets.units import GB, GiB, MiB, bytes_per_element

PAGE = "01_memory_bound.md"
CHAPTER_TITLE = "Chapter 1: Memory-bound inference"

EXERCISES = (
    Exercise("1.1", 1, "A 7B model on a gaming GPU and on a laptop", "decode bound from bandwidth", "number",
             ("NVIDIA GeForce RTX 4090", "Apple M4 Max (unified memory)"), ("Qwen2.5-7B",)),
    Exercise("1.2", 1, "When does a 4-bit 8B model turn compute-bound on an L4?", "critical batch, ridge point",
             "yes/no", ("NVIDIA L4",), ("Llama-3.1-8B",)),
    Exercise("1.3", 1, "Quantize, or buy the faster GPU?", "int8 weights against HBM3", "judgement",
             ("NVIDIA A100 80GB PCIe", "NVIDIA H100 SXM"), ("Llama-2-13B",)),
    Exercise("1.4", 1, "Where a chat turn spends its time", "prefill against decode", "judgement",
             ("NVIDIA L4",), ("Llama-3.1-8B",)),
    Exercise("1.5", 1, "Measure your memory bandwidth", "bench: bandwidth section", "practical",
             ("NVIDIA H200 SXM",), ("Llama-3.1-8B",)),
)

# ---- 1.1 A 7B model on a gaming GPU and on a laptop ----------------------------------------
ex1_model = models.get("Qwen2.5-7B")
ex1_rtx = hardware.get("NVIDIA GeForce RTX 4090")
ex1_mac = hardware.get("Apple M4 Max (unified memory)")
ex1_dtype = "bf16"
APPLE_GPU_MEMORY_FRACTION = 0.75  # macOS lets the GPU use about 3/4 of unified memory by default

_ex1_step = roofline.decode_step(ex1_model, 1, 0, ex1_dtype)
ex1_params_B = models.step_param_count(ex1_model) / 1e9
ex1_bytes_per_param = bytes_per_element(ex1_dtype)
ex1_GB = _ex1_step.weight_bytes / GB
ex1_weights_GiB = models.weight_bytes(ex1_model, ex1_dtype) / GiB
ex1_rtx_usable_GiB = ex1_rtx.usable_memory_bytes() / GiB
ex1_mac_gpu_GiB = ex1_mac.memory_GB * APPLE_GPU_MEMORY_FRACTION
ex1_rtx_ms = _ex1_step.memory_time_s(ex1_rtx) * 1e3
ex1_mac_ms = _ex1_step.memory_time_s(ex1_mac) * 1e3  # Apple publishes no tensor throughput: memory roof only
ex1_rtx_tokens_per_s = 1e3 / ex1_rtx_ms
ex1_mac_tokens_per_s = 1e3 / ex1_mac_ms
ex1_ratio = ex1_mac_ms / ex1_rtx_ms
ex1_rtx_compute_ms = _ex1_step.compute_time_s(ex1_rtx) * 1e3
ex1_GFLOP = _ex1_step.flops / 1e9
ex1_mac_needed_TFLOPS = _ex1_step.flops / _ex1_step.memory_time_s(ex1_mac) / 1e12  # compute-bound below this
ex1_fits_both = claim("Qwen2.5-7B's bf16 weights fit on the RTX 4090 and in the M4 Max's GPU share",
                      ex1_weights_GiB < ex1_rtx_usable_GiB and ex1_weights_GiB < ex1_mac_gpu_GiB)
ex1_rtx_memory_bound = claim("batch-1 decode on the RTX 4090 is memory-bound, its compute time far smaller "
                             "(under a tenth of its memory time)",
                             _ex1_step.is_memory_bound(ex1_rtx) and ex1_rtx_compute_ms < ex1_rtx_ms / 10)
ex1_title_7b = claim("the title's 7B model is a 7B model", ex1_model.name.endswith("7B"))
ex1_ratio_is_bandwidths = claim(
    "the RTX 4090 is the faster of the two at batch 1, by exactly the ratio of the two bandwidths",
    ex1_rtx_ms < ex1_mac_ms
    and abs(ex1_ratio - ex1_rtx.memory_bandwidth_GBps / ex1_mac.memory_bandwidth_GBps) < 1e-9 * ex1_ratio)

# ---- 1.2 When does a 4-bit 8B model turn compute-bound on an L4? ---------------------------
ex2_model = models.get("Llama-3.1-8B")
ex2_gpu = hardware.get("NVIDIA L4")
ex2_weight_dtype = "int4"  # weights stored in 4 bits, multiplied in bf16 after dequantization
ex2_kv_dtype = "fp16"
ex2_context = 2048
ex2_tflops = ex2_gpu.peak_flops("bf16") / 1e12
ex2_GBps = ex2_gpu.memory_bandwidth_GBps
ex2_ridge = ex2_gpu.ridge_point("bf16")
ex2_bytes_per_weight = bytes_per_element(ex2_weight_dtype)
ex2_flop_per_byte_per_batch = 2 / ex2_bytes_per_weight  # 2 x B FLOPs per weight read once
ex2_simple_batch = roofline.critical_batch_size(ex2_gpu, ex2_weight_dtype)
ex2_fp16_batch = roofline.critical_batch_size(ex2_gpu, "fp16")


ex2_batch = roofline.first_compute_bound_batch(
    lambda batch: roofline.decode_step(ex2_model, batch, 0, ex2_weight_dtype, "fp16"), ex2_gpu, limit=100_000)
_ex2_huge = roofline.decode_step(ex2_model, 10**6, ex2_context, ex2_weight_dtype, ex2_kv_dtype)
ex2_limit_intensity = _ex2_huge.intensity  # the whole step's intensity as the batch grows without end
_ex2_one = roofline.decode_step(ex2_model, 1, ex2_context, ex2_weight_dtype, ex2_kv_dtype)
ex2_kv_MiB_per_sequence = _ex2_one.kv_bytes / MiB  # each sequence reads its own cache
ex2_GFLOP_per_sequence = _ex2_one.flops / 1e9  # and does its own matmuls and attention
ex2_fits = kv_cache.max_batch(ex2_model, ex2_gpu, ex2_context, ex2_weight_dtype, ex2_kv_dtype)
ex2_visible_MiB = ex2_gpu.visible_memory_bytes / MiB
ex2_ecc_sixteenth = claim("the L4 keeps a sixteenth of its GDDR6 for ECC, on by default",
                          ex2_gpu.ecc_reserved_fraction == 1 / 16 and ex2_gpu.memory_type == "GDDR6")
ex2_title_4bit_8b = claim("the title's 4-bit 8B model", ex2_weight_dtype == "int4" and ex2_model.name.endswith("8B"))
ex2_exact_near_simple = claim("the exact first compute-bound batch is within one of the simple story's ridge x bytes / 2",
                              ex2_batch is not None and abs(ex2_batch - ex2_simple_batch) <= 1)
ex2_fewer_bytes_sooner = claim("with fp16 weights compute would bind at a larger batch than with int4",
                               ex2_batch is not None and ex2_simple_batch < ex2_fp16_batch and ex2_batch < ex2_fp16_batch)
_ex2_bigger = roofline.decode_step(ex2_model, 2 * 10**6, ex2_context, ex2_weight_dtype, ex2_kv_dtype)
_ex2_per_sequence_intensity = (_ex2_bigger.flops - _ex2_huge.flops) / (_ex2_bigger.bytes - _ex2_huge.bytes)
ex2_cache_memory_bound = claim(
    "with a 2,048-token fp16 cache the L4 stays memory-bound at every batch, the step's intensity far below "
    "the ridge (under a quarter of it)",
    max(_ex2_per_sequence_intensity, ex2_limit_intensity) < ex2_ridge / 4
    and all(roofline.decode_step(ex2_model, 2**k, ex2_context, ex2_weight_dtype, ex2_kv_dtype).is_memory_bound(ex2_gpu)
            for k in range(21)))
ex2_memory_first = claim("memory runs out before the weights-only critical batch", ex2_fits < ex2_batch)

# ---- 1.3 Quantize, or buy the faster GPU? --------------------------------------------------
ex3_model = models.get("Llama-2-13B")
ex3_old = hardware.get("NVIDIA A100 80GB PCIe")
ex3_new = hardware.get("NVIDIA H100 SXM")
_ex3_int8 = roofline.decode_step(ex3_model, 1, 0, "int8")
_ex3_fp16 = roofline.decode_step(ex3_model, 1, 0, "fp16")
ex3_int8_GB = _ex3_int8.weight_bytes / GB
ex3_fp16_GB = _ex3_fp16.weight_bytes / GB
ex3_old_GBps = ex3_old.memory_bandwidth_GBps
ex3_new_GBps = ex3_new.memory_bandwidth_GBps
ex3_old_int8_ms = _ex3_int8.time_s(ex3_old) * 1e3
ex3_new_fp16_ms = _ex3_fp16.time_s(ex3_new) * 1e3
ex3_new_int8_ms = _ex3_int8.time_s(ex3_new) * 1e3
ex3_bandwidth_ratio = ex3_new_GBps / ex3_old_GBps
ex3_bytes_ratio = ex3_fp16_GB / ex3_int8_GB
ex3_speedup = ex3_new_fp16_ms / ex3_old_int8_ms
ex3_both_memory_bound = claim("both steps are memory-bound",
                              _ex3_int8.is_memory_bound(ex3_old) and _ex3_fp16.is_memory_bound(ex3_new))
ex3_quantize_wins = claim("int8 on the A100 80GB PCIe beats fp16 on the H100 SXM at batch 1",
                          ex3_old_int8_ms < ex3_new_fp16_ms)
ex3_bytes_beat_bandwidth = claim("halving the bytes gains more than the H100's extra bandwidth",
                                 ex3_bytes_ratio > ex3_bandwidth_ratio)

# ---- 1.4 Where a chat turn spends its time -------------------------------------------------
ex4_model = ex2_model
ex4_gpu = ex2_gpu
ex4_dtype = "bf16"
ex4_prompt = 2000
ex4_answer = 200
_ex4_prefill = roofline.prefill(ex4_model, ex4_prompt, ex4_dtype, ex4_dtype)
ex4_prefill_TFLOP = _ex4_prefill.flops / 1e12
ex4_prefill_GB = _ex4_prefill.bytes / GB
ex4_prefill_compute_ms = _ex4_prefill.compute_time_s(ex4_gpu) * 1e3
ex4_prefill_memory_ms = _ex4_prefill.memory_time_s(ex4_gpu) * 1e3
ex4_prefill_s = _ex4_prefill.time_s(ex4_gpu)
ex4_decode_steps = ex4_answer - 1  # the prefill produces the first token
_ex4_first = roofline.decode_step(ex4_model, 1, ex4_prompt, ex4_dtype, ex4_dtype)
_ex4_last = roofline.decode_step(ex4_model, 1, ex4_prompt + ex4_decode_steps - 1, ex4_dtype, ex4_dtype)
ex4_first_step_GB = _ex4_first.bytes / GB
ex4_first_step_ms = _ex4_first.time_s(ex4_gpu) * 1e3
ex4_last_step_ms = _ex4_last.time_s(ex4_gpu) * 1e3
ex4_total_s = roofline.generation_time_s(ex4_model, ex4_prompt, ex4_answer, True, ex4_gpu, ex4_dtype)
ex4_decode_s = ex4_total_s - ex4_prefill_s
ex4_decode_share = ex4_decode_s / ex4_total_s
ex4_GBps = ex4_gpu.memory_bandwidth_GBps
ex4_tflops = ex4_gpu.peak_flops(ex4_dtype) / 1e12
ex4_prefill_compute_bound = claim("the 2,000-token prefill is compute-bound on the L4",
                                  not _ex4_prefill.is_memory_bound(ex4_gpu))
ex4_decode_dominates = claim("the 200-token answer takes far longer (over ten times) than the 2,000-token prompt",
                             ex4_decode_s > 10 * ex4_prefill_s)

# ---- 1.5 Measure your memory bandwidth (bench: bandwidth section) ---------------------------
TOLERANCE = 0.15  # "close": within 15 % of the expected sustained fraction
_record = recorded.run_for(hardware.get("H200 SXM").name, "Llama-3.1-8B", "bf16", "bandwidth")  # recorded.py's rule
ex5_gpu = hardware.get(_record["device"]["spec_name"])
ex5_device = _record["device"]["name"]
ex5_expected_fraction = hardware.TYPICAL_SUSTAINED_BANDWIDTH_FRACTION
ex5_low = ex5_expected_fraction * (1 - TOLERANCE)
ex5_high = min(1.0, ex5_expected_fraction * (1 + TOLERANCE))  # no kernel beats the datasheet
ex5_spec_GBps = ex5_gpu.memory_bandwidth_GBps
ex5_expected_GBps = ex5_spec_GBps * ex5_expected_fraction
ex5_low_GBps = ex5_spec_GBps * ex5_low
ex5_high_GBps = ex5_spec_GBps * ex5_high
_ex5_copy = best(_record, "bandwidth", "GBps", kernel="copy")
ex5_copy_GBps = _ex5_copy["GBps"]
ex5_copy_fraction = ex5_copy_GBps / ex5_spec_GBps
ex5_model = models.get(_record["settings"]["model"])
ex5_dtype = _record["settings"]["dtype"]
_ex5_step = roofline.decode_step(ex5_model, 1, 0, ex5_dtype)
ex5_step_GB = _ex5_step.weight_bytes / GB
ex5_bound_ms = _ex5_step.memory_time_s(ex5_gpu) * 1e3
ex5_read_GBps = best(_record, "bandwidth", "GBps", kernel="read")["GBps"]
ex5_read_fraction = ex5_read_GBps / ex5_spec_GBps
ex5_read_ms = _ex5_step.weight_bytes / (ex5_read_GBps * GB) * 1e3
ex5_read_tokens_per_s = 1e3 / ex5_read_ms
ex5_band_within_datasheet = claim("the band stays within the datasheet", 0 < ex5_low < ex5_high <= 1)
ex5_read_is_ceiling = claim("the read kernel is faster than the copy, so it, not the copy, is decode's ceiling",
                            ex5_read_GBps > ex5_copy_GBps and ex5_read_fraction < 1)
ex5_copy_close = claim("the recorded H200's copy bandwidth is within 15 % of 90 % of its datasheet",
                       ex5_low <= ex5_copy_fraction <= ex5_high)
ex5_device_is_h200 = claim("the recorded device is the one the data names", ex5_gpu.name == "NVIDIA H200 SXM")
