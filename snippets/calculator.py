"""Data and test vectors for the in-page calculator (docs/calculator.md).

The page's JavaScript gets its hardware and model numbers from `export_data()`, computed here
from the same data files and functions as the rest of the course; `test_vectors()` gives the
tests the answers the Python functions give, to compare the JavaScript against (in Node and
in Chromium).

What the JavaScript computes from a model summary (each a mirror of a Python function):

- step parameters for a batch of B (models.step_param_count):
  fixed_step_params + (untied: min(B, vocab) rows) + min(B, position_rows) rows
  + moe_layers x E(1 - (1 - k/E)^B) x routed_expert_params
- cached layer-positions of a sequence (kv_cache.cached_positions):
  (n_layers - windowed_layers) x context + windowed_layers x min(context, sliding_window)
- memory (Accelerator.usable_memory_bytes): memory_GB x 2**30 x (1 - ecc_reserved_fraction)
  x (1 - DRIVER_RESERVE_FRACTION); a GPU of the data carries its value, a custom GPU has no ECC share
"""

from __future__ import annotations

import json

from snippets import hardware, kv_cache, models, roofline
from snippets.units import bytes_per_element

DTYPES = ("fp32", "bf16", "fp16", "fp8", "int8", "int4")

#: Compute dtypes with a throughput column (hardware.COMPUTE_COLUMNS), in the page's order.
COMPUTE_DTYPES = ("bf16", "fp16", "fp8", "int8", "fp32")

#: The compute dtype "auto" picks for each weight dtype: int4 weights are dequantised to bf16.
AUTO_COMPUTE = {"fp32": "fp32", "bf16": "bf16", "fp16": "fp16", "fp8": "fp8", "int8": "int8", "int4": "bf16"}


def moe_layers(m: models.ModelConfig) -> int:
    """Layers whose feed-forward block is a mixture of experts."""
    return m.n_layers - (m.first_dense_layers or 0) if m.is_moe else 0


def routed_expert_params(m: models.ModelConfig) -> int:
    """Parameters of one routed expert of one MoE layer (0 for a dense model)."""
    layers = moe_layers(m)
    if not layers or m.n_routed_experts == m.experts_per_token:
        return 0
    inactive = models.param_count(m) - models.param_count(m, active_only=True)
    return inactive // (layers * (m.n_routed_experts - m.experts_per_token))


def position_rows(m: models.ModelConfig) -> int:
    """Rows of a learned position table (GPT-2, OPT); 0 for rotary models."""
    return models.embedding_params(m) // m.d_model - m.vocab_size


def fixed_step_params(m: models.ModelConfig) -> int:
    """Parameters a decode step reads whatever the batch: every layer without its routed
    experts (router, shared experts, dense layers, norms, biases), the final norm and the LM
    head (a tied table, read in full as the head, counts here)."""
    active = models.param_count(m, active_only=True)
    experts = moe_layers(m) * (m.experts_per_token or 0) * routed_expert_params(m)
    table = 0 if m.tied_embeddings else m.vocab_size * m.d_model
    return active - experts - table - position_rows(m) * m.d_model


def model_summary(m: models.ModelConfig) -> dict:
    """What the calculator needs of a model (the JavaScript builds the same from a config.json)."""
    return {
        "name": m.name,
        "kind": m.attention_kind,
        "params_total": models.param_count(m),
        "fixed_step_params": fixed_step_params(m),
        "routed_expert_params": routed_expert_params(m),
        "n_routed_experts": m.n_routed_experts or 0,
        "experts_per_token": m.experts_per_token or 0,
        "moe_layers": moe_layers(m),
        "vocab_size": m.vocab_size,
        "d_model": m.d_model,
        "tied_embeddings": m.tied_embeddings,
        "position_rows": position_rows(m),
        "matmul_params": models.matmul_weights_per_token(m),
        "n_layers": m.n_layers,
        "kv_elements_per_position": kv_cache.kv_elements_per_token(m) // m.n_layers,
        "windowed_layers": kv_cache.windowed_layers(m),
        "sliding_window": m.sliding_window or 0,
        "attention_flops_per_position": kv_cache.attention_flops_per_position(m),
        "max_context": m.max_position_embeddings,
        "source": m.source.split(" ; ")[0],
    }


def peaks_TFLOPS(a: hardware.Accelerator) -> dict:
    """Dense peak by compute dtype, None where the data has no figure."""
    return {d: getattr(a, hardware.COMPUTE_COLUMNS[d]) for d in COMPUTE_DTYPES}


def accelerator_summary(a: hardware.Accelerator) -> dict:
    return {
        "name": a.name,
        "bandwidth_GBps": a.memory_bandwidth_GBps,
        "peak_TFLOPS": peaks_TFLOPS(a),
        "memory_GB": a.memory_GB,
        "memory_bytes": a.memory_bytes,
        "usable_memory_bytes": a.usable_memory_bytes(),
        "ecc_reserved_fraction": a.ecc_reserved_fraction,  # data-centre GDDR: ECC on by default keeps 1/16
        "unverified": a.flagged,  # the data file flags a figure of this row as not yet checked
        "source": a.source.split(" https")[0],
    }


def compute_dtype(peaks: dict, weight_dtype: str, requested: str = "auto", gpu_name: str = "GPU") -> tuple[str, str]:
    """The compute dtype whose roof the step meets, and a sentence saying why where it is not
    the one asked for. "auto" follows the weights (int4 is dequantised to bf16); a dtype
    without a figure falls back to bf16. Raises ValueError when bf16 has no figure either."""
    wanted = AUTO_COMPUTE[weight_dtype] if requested == "auto" else requested
    if wanted not in COMPUTE_DTYPES:
        raise ValueError(f"no compute throughput for dtype {wanted!r}; allowed: {', '.join(COMPUTE_DTYPES)}")
    note = "int4 weights are dequantised: the math runs in bf16" if requested == "auto" and weight_dtype == "int4" else ""
    if peaks.get(wanted) is not None:
        return wanted, note
    if peaks.get("bf16") is None:
        raise ValueError(f"the data has no published dense {wanted} or bf16 figure for the {gpu_name}")
    return "bf16", (f"the data has no dense {wanted} figure for the {gpu_name} (no {wanted} tensor-core "
                    f"rate published), so the compute roof falls back to bf16")


def export_data() -> dict:
    return {
        "dtypes": {d: bytes_per_element(d) for d in DTYPES},
        "compute_dtypes": list(COMPUTE_DTYPES),
        "auto_compute": AUTO_COMPUTE,
        "memory_unit_bytes": hardware.MEMORY_CAPACITY_UNIT_BYTES,
        "driver_reserve_fraction": hardware.DRIVER_RESERVE_FRACTION,
        "accelerators": [accelerator_summary(a) for a in hardware.all_accelerators()],
        "models": [model_summary(m) for m in models.all_models()],
    }


def script_safe_json(data) -> str:
    """JSON that can sit inside a <script> element: <, > and & escaped as \\u003c, \\u003e and
    \\u0026, so no text field can close the element or open a comment."""
    text = json.dumps(data, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def export_json() -> str:
    """The data as JSON safe to place inside a <script type="application/json"> element."""
    return script_safe_json(export_data())


def expected(gpu: str, model: str, weight_dtype: str, kv_dtype: str, batch: int, context: int,
             compute: str = "auto") -> dict:
    """The calculator's outputs, computed by the course's Python functions."""
    a, m = hardware.get(gpu), models.get(model)
    dtype, _ = compute_dtype(peaks_TFLOPS(a), weight_dtype, compute, a.name)
    step = roofline.decode_step(m, batch, context, weight_dtype, kv_dtype)
    return {
        "compute_dtype": dtype,
        "weight_bytes": models.weight_bytes(m, weight_dtype),
        "kv_bytes_per_token": kv_cache.bytes_per_token(m, kv_dtype),
        "kv_bytes_per_sequence": kv_cache.bytes_per_sequence(m, context, kv_dtype),
        "kv_bytes_total": kv_cache.bytes_for_batch(m, context, batch, kv_dtype),
        "usable_memory_bytes": a.usable_memory_bytes(),
        "max_batch": kv_cache.max_batch(m, a, context, weight_dtype, kv_dtype),
        "ridge": a.ridge_point(dtype),
        "step_weight_bytes": step.weight_bytes,
        "step_kv_bytes": step.kv_bytes,
        "step_bytes": step.bytes,
        "step_flops": step.flops,
        "intensity": step.intensity,
        "step_time_s": step.time_s(a, dtype),
        "tokens_per_s_total": step.tokens_per_s(a, dtype),
        "tokens_per_s_sequence": 1 / step.time_s(a, dtype),
        "memory_bound": step.is_memory_bound(a, dtype),
    }


def test_vectors() -> list[dict]:
    """Cases across GPUs, models (MHA, GQA, MLA, MoE, tied embeddings, sliding windows, learned
    positions), dtypes (with compute-dtype fallbacks), batches and contexts."""
    cases = [
        ("A100 80GB SXM", "Llama-2-7B", "fp16", "fp16", 1, 1, "auto"),
        ("A100 80GB SXM", "Llama-2-7B", "fp16", "fp16", 8, 4096, "auto"),
        ("H100 SXM", "Llama-3.1-8B", "bf16", "fp8", 64, 32768, "auto"),
        ("H200 SXM", "Llama-3.1-70B", "fp8", "fp8", 16, 8192, "auto"),
        ("A100 80GB SXM", "Llama-3.1-70B", "fp8", "fp8", 16, 8192, "auto"),  # no fp8: falls back
        ("L4", "Qwen2.5-7B", "int4", "fp16", 4, 2048, "auto"),
        ("L4", "Qwen2.5-7B", "int8", "int8", 256, 2048, "int8"),
        ("MI300X", "DeepSeek-V3", "fp8", "bf16", 32, 16384, "auto"),
        ("H200 SXM", "DeepSeek-V3", "fp8", "fp8", 1, 163840, "fp8"),
        ("H100 SXM", "Mixtral-8x7B-v0.1", "bf16", "bf16", 2, 1000, "auto"),
        ("H100 SXM", "Mixtral-8x7B-v0.1", "bf16", "bf16", 32, 4096, "auto"),
        ("RTX 4090", "Gemma-2-9B", "int8", "fp16", 1, 8192, "auto"),
        ("RTX 4090", "Gemma-2-9B", "bf16", "fp16", 3, 5000, "fp32"),
        ("H100 SXM", "Mistral-7B-v0.1", "bf16", "bf16", 8, 32768, "auto"),
        ("A100 40GB PCIe", "GPT-2 small (gpt2)", "fp32", "fp32", 512, 1024, "auto"),
        ("A100 40GB PCIe", "GPT-2 small (gpt2)", "fp16", "fp16", 4096, 1024, "auto"),
        ("V100 SXM2 32GB", "OPT-1.3B", "fp16", "fp16", 1, 2048, "fp8"),  # no fp8: falls back
        ("H100 SXM", "Llama-3.1-8B", "bf16", "bf16", 1024, 128, "auto"),
        ("H100 SXM", "Llama-3.1-8B", "bf16", "bf16", 1_000_000, 1, "auto"),
    ]
    keys = ("gpu", "model", "weight_dtype", "kv_dtype", "batch", "context", "compute")
    return [{"inputs": dict(zip(keys, case)), "expected": expected(*case)} for case in cases]


# ---- Hugging Face style config.json -----------------------------------------------------------

_MODEL_TYPES = {"llama": "llama", "qwen2": "qwen2", "gemma2": "gemma2", "mixtral": "mixtral",
                "deepseek_v3": "deepseek_v3", "gpt2": "gpt2", "opt": "opt"}


def hf_config(m: models.ModelConfig) -> dict:
    """A config.json shaped like the real one for each architecture of the data (field names
    as Hugging Face writes them), for pasting into the calculator."""
    if m.architecture == "gpt2":
        return {
            "model_type": "gpt2", "_name_or_path": m.name, "n_layer": m.n_layers, "n_embd": m.d_model,
            "n_head": m.n_heads, "n_inner": None if m.d_ff == 4 * m.d_model else m.d_ff,
            "n_positions": m.max_position_embeddings, "vocab_size": m.vocab_size,
            "tie_word_embeddings": m.tied_embeddings,
        }
    if m.architecture == "opt":
        return {
            "model_type": "opt", "_name_or_path": m.name, "num_hidden_layers": m.n_layers,
            "hidden_size": m.d_model, "word_embed_proj_dim": m.d_model, "num_attention_heads": m.n_heads,
            "ffn_dim": m.d_ff, "max_position_embeddings": m.max_position_embeddings,
            "vocab_size": m.vocab_size, "tie_word_embeddings": m.tied_embeddings,
            "do_layer_norm_before": True, "enable_bias": True,
        }
    config = {
        "model_type": _MODEL_TYPES[m.architecture], "_name_or_path": m.name,
        "num_hidden_layers": m.n_layers, "hidden_size": m.d_model, "num_attention_heads": m.n_heads,
        "num_key_value_heads": m.n_kv_heads, "head_dim": m.head_dim, "intermediate_size": m.d_ff,
        "vocab_size": m.vocab_size, "max_position_embeddings": m.max_position_embeddings,
        "tie_word_embeddings": m.tied_embeddings, "sliding_window": m.sliding_window,
    }
    if m.architecture == "qwen2":  # as Qwen2.5 ships it: a window field, switched off
        config.update(sliding_window=131072, use_sliding_window=False, max_window_layers=m.n_layers)
    if m.architecture == "gemma2":  # Gemma-2 configs leave tie_word_embeddings to its default (true)
        del config["tie_word_embeddings"]
        config.update(query_pre_attn_scalar=m.head_dim, final_logit_softcapping=30.0)
    if m.architecture == "mixtral":
        config.update(num_local_experts=m.n_routed_experts, num_experts_per_tok=m.experts_per_token)
        config["intermediate_size"] = m.moe_d_ff_per_expert
    if m.architecture == "deepseek_v3":
        del config["head_dim"]  # DeepSeek configs give the parts: nope + rope
        config.update(
            n_routed_experts=m.n_routed_experts, n_shared_experts=m.n_shared_experts,
            num_experts_per_tok=m.experts_per_token, moe_intermediate_size=m.moe_d_ff_per_expert,
            first_k_dense_replace=m.first_dense_layers, moe_layer_freq=1, kv_lora_rank=m.kv_lora_rank,
            q_lora_rank=m.q_lora_rank, qk_rope_head_dim=m.qk_rope_head_dim,
            qk_nope_head_dim=m.head_dim - m.qk_rope_head_dim, v_head_dim=m.v_head_dim,
        )
    return config
