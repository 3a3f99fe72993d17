"""Values and claims of chapter 7's exercises (the end of docs/07_multi_gpu.md).

Every number a question or an answer prints is computed here from the data files, and every
verdict is asserted: if the data change so that an answer flips, the build fails. The timings a
question quotes are the exercises' givens, stated as such on the page; links are the chapter's
models (comm.ring_model: a measured ring busbw and NCCL's latency per call and per hop).
"""

from __future__ import annotations

from pages.claims import claim
from pages.exercises import Exercise
from snippets import comm, hardware, models, parallel
from snippets.units import GB, GiB

PAGE = "07_multi_gpu.md"
CHAPTER_TITLE = "Chapter 7: Beyond one GPU"

EXERCISES = (
    Exercise("7.1", 7, "How many H200s for Llama-3.1-405B?", "tensor-parallel degree and cache room", "number",
             ("NVIDIA H200 SXM",), ("Llama-3.1-405B",)),
    Exercise("7.2", 7, "A bus bandwidth above the link speed?", "algbw, busbw and NVLS", "yes/no",
             ("NVIDIA H100 SXM",), ("Llama-3.1-70B",)),
    Exercise("7.3", 7, "Eight PCIe GPUs or four on NVLink?", "TP step time over two links", "judgement",
             ("NVIDIA H100 PCIe", "NVIDIA H100 SXM"), ("Llama-3.1-70B",)),
    Exercise("7.4", 7, "How many microbatches keep a decode pipeline busy?", "the steady-state pipeline", "number",
             ("NVIDIA H100 SXM",), ("Llama-3.1-405B",)),
    Exercise("7.5", 7, "Measure your interconnect", "bench-comm: alpha and busbw", "practical",
             ("NVIDIA H100 SXM",), ("Llama-3.1-70B",)),
)

_nvlink = comm.get_link("NVLink 4 (H100 SXM)")
_pcie = comm.get_link("PCIe Gen5 x16")
_nvlink_ring, _pcie_ring = comm.ring_model(_nvlink.name), comm.ring_model(_pcie.name)

# ---- 7.1 How many H200s for Llama-3.1-405B? ---------------------------------------------------
ex1_gpu = hardware.get("NVIDIA H200 SXM")
ex1_model = models.get("Llama-3.1-405B")
ex1_dtype = "bf16"
ex1_context = 8192
ex1_tps = (1, 2, 4, 8)
ex1_weights_GB = models.weight_bytes(ex1_model, ex1_dtype) / GB
ex1_usable_GiB = ex1_gpu.usable_memory_bytes() / GiB
ex1_usable_GB = ex1_gpu.usable_memory_bytes() / GB
ex1_tp = min(tp for tp in ex1_tps if parallel.tp_max_batch(ex1_model, ex1_gpu, tp, ex1_context, ex1_dtype, ex1_dtype) >= 1)
ex1_share_GB = ex1_weights_GB / ex1_tp
ex1_half_share_GB = ex1_weights_GB / (ex1_tp // 2)
ex1_batch = parallel.tp_max_batch(ex1_model, ex1_gpu, ex1_tp, ex1_context, ex1_dtype, ex1_dtype)
ex1_kv_heads = ex1_model.n_kv_heads
ex1_needs_eight = claim("405B in bf16 needs all eight GPUs of the server: four cannot hold their share",
                        ex1_tp == 8 and ex1_half_share_GB > ex1_usable_GB)
ex1_fp8_tp = min(tp for tp in ex1_tps if parallel.tp_max_batch(ex1_model, ex1_gpu, tp, ex1_context, "fp8", ex1_dtype) >= 1)
ex1_fp8_halves = claim("in fp8 half as many GPUs hold it", ex1_fp8_tp == ex1_tp // 2)

# ---- 7.2 A bus bandwidth above the link speed? -------------------------------------------------
ex2_ranks = 8
ex2_model = models.get("Llama-3.1-70B")
ex2_tokens = 65536  # one all-reduce of this many tokens' activations in bf16 is exactly 1 GiB
ex2_size = int(parallel.allreduce_message_bytes(ex2_model, ex2_tokens))
ex2_is_GiB = claim("the message is exactly 1 GiB", ex2_size == 2**30)
ex2_time_ms = round(ex2_size / 275e9 * 1e3, 2)  # the givens: what the reader's nccl-tests printed
ex2_algbw = comm.algbw_GBps(ex2_size, ex2_time_ms / 1e3)
ex2_factor = comm.bus_factor("all_reduce", ex2_ranks)
ex2_busbw = comm.busbw_GBps("all_reduce", ex2_ranks, ex2_size, ex2_time_ms / 1e3)
ex2_line = _nvlink.per_direction_GBps
ex2_ring = _nvlink.effective_busbw_GBps
ex2_above = claim("the busbw is above the line rate per direction, and the ring could not reach it",
                  ex2_busbw > ex2_line > ex2_ring)
ex2_ring_time_ms = ex2_factor * ex2_size / (ex2_ring * 1e9) * 1e3
ex2_nvls_faster = claim("the ring at its effective bandwidth would take longer", ex2_ring_time_ms > ex2_time_ms)

# ---- 7.3 Eight PCIe GPUs or four on NVLink? ----------------------------------------------------
ex3_model = models.get("Llama-3.1-70B")
ex3_pcie_gpu = hardware.get("NVIDIA H100 PCIe")
ex3_sxm_gpu = hardware.get("NVIDIA H100 SXM")
ex3_dtype = "bf16"
ex3_batch, ex3_context = 64, 4096
ex3_pcie = parallel.tp_decode_step(ex3_model, ex3_pcie_gpu, _pcie_ring, 8, ex3_batch, ex3_context, ex3_dtype, ex3_dtype)
ex3_sxm = parallel.tp_decode_step(ex3_model, ex3_sxm_gpu, _nvlink_ring, 4, ex3_batch, ex3_context, ex3_dtype, ex3_dtype)
ex3_pcie_GBps = ex3_pcie_gpu.memory_bandwidth_GBps
ex3_sxm_GBps = ex3_sxm_gpu.memory_bandwidth_GBps
ex3_pcie_link = _pcie_ring.busbw_GBps
ex3_nvlink = _nvlink_ring.busbw_GBps
ex3_pcie_alpha_us = _pcie_ring.alpha_s("all_reduce", 8) * 1e6
ex3_sxm_alpha_us = _nvlink_ring.alpha_s("all_reduce", 4) * 1e6
ex3_pcie_share_ms, ex3_pcie_comm_ms, ex3_pcie_ms = (ex3_pcie.compute_memory_s * 1e3, ex3_pcie.comm_s * 1e3,
                                                    ex3_pcie.time_s * 1e3)
ex3_sxm_share_ms, ex3_sxm_comm_ms, ex3_sxm_ms = ex3_sxm.compute_memory_s * 1e3, ex3_sxm.comm_s * 1e3, ex3_sxm.time_s * 1e3
ex3_pcie_per_gpu = ex3_pcie.tokens_per_s / 8
ex3_sxm_per_gpu = ex3_sxm.tokens_per_s / 4
ex3_both_fit = claim("the batch's cache fits in both setups",
                     parallel.tp_max_batch(ex3_model, ex3_pcie_gpu, 8, ex3_context) >= ex3_batch
                     and parallel.tp_max_batch(ex3_model, ex3_sxm_gpu, 4, ex3_context) >= ex3_batch)
ex3_pcie_comm_share = ex3_pcie_comm_ms / ex3_pcie_ms
ex3_sxm_comm_share = ex3_sxm_comm_ms / ex3_sxm_ms
ex3_pcie_comm_dominates = claim("over PCIe the all-reduces take more than twice as long as over NVLink, and a larger "
                                "share of the step", ex3_pcie_comm_ms > 2 * ex3_sxm_comm_ms
                                and ex3_pcie_comm_share > ex3_sxm_comm_share)
ex3_sxm_wins = claim("four NVLink GPUs give a faster step and over twice the tokens per second per GPU",
                     ex3_sxm_ms < ex3_pcie_ms and ex3_sxm_per_gpu > 2 * ex3_pcie_per_gpu)

# ---- 7.4 How many microbatches keep a decode pipeline busy? --------------------------------------
# Decode never flushes: each microbatch leaves the last stage with its token and enters the first
# again, so the idle share is the steady state's, max(0, p - m)/p, not GPipe's (p - 1)/(m + p - 1).
ex4_model = models.get("Llama-3.1-405B")
ex4_gpu = hardware.get("NVIDIA H100 SXM")
ex4_stages = 4
ex4_batch = 64  # sequences decoding at once
ex4_microbatches = next(m for m in range(1, 10_000) if parallel.pipeline_steady_idle(ex4_stages, m) == 0)
ex4_per_microbatch = ex4_batch // ex4_microbatches
ex4_one_fewer = parallel.pipeline_steady_idle(ex4_stages, ex4_microbatches - 1)
ex4_one = parallel.pipeline_steady_idle(ex4_stages, 1)
ex4_is_smallest = claim("as many microbatches as stages leave no stage idle in steady state, and one fewer leaves "
                        "a stage idle", parallel.pipeline_steady_idle(ex4_stages, ex4_microbatches) == 0 < ex4_one_fewer
                        and ex4_microbatches == ex4_stages)
ex4_flush_bubble = parallel.pipeline_bubble(ex4_stages, ex4_microbatches)  # the wrong premise, for contrast
ex4_flush_would_idle = claim("GPipe's flush formula would wrongly call that pipeline idle for over a third of the time",
                             ex4_flush_bubble > 1 / 3)

# ---- 7.5 Measure your interconnect --------------------------------------------------------------
ex5_ranks = 8
ex5_model = ex3_model
ex5_reduces = parallel.ALL_REDUCES_PER_LAYER * ex5_model.n_layers
ex5_message_KiB = parallel.allreduce_message_bytes(ex5_model, 1) / 1024
ex5_assumed_ms = ex5_reduces * _nvlink_ring.time_s("all_reduce", ex5_ranks,
                                                  parallel.allreduce_message_bytes(ex5_model, 1)) * 1e3
ex5_alpha_us = _nvlink_ring.alpha_s("all_reduce", ex5_ranks) * 1e6
