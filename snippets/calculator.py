"""Data and test vectors for the in-page calculator (docs/calculator.md).

The page's JavaScript gets its hardware and model numbers from `export_data()`, computed here
from the same data files and functions as the rest of the course; `test_vectors()` gives the
browser test the answers the Python functions give, to compare the JavaScript against.
"""

from __future__ import annotations

import json

from snippets import hardware, kv_cache, models, roofline
from snippets.units import bytes_per_element

DTYPES = ("fp32", "bf16", "fp16", "fp8", "int8", "int4")


def model_summary(m: models.ModelConfig) -> dict:
    """What the calculator needs of a model: parameter counts and per-token cache and attention."""
    return {
        "name": m.name,
        "kind": m.attention_kind,
        "params_total": models.param_count(m),
        "decode_params": models.step_param_count(m, 1),
        "matmul_params": models.matmul_weights_per_token(m),
        "kv_elements_per_token": kv_cache.kv_elements_per_token(m),
        "attention_flops_per_context_token": kv_cache.attention_flops_per_token(m, 1),
        "max_context": m.max_position_embeddings,
        "source": m.source.split(" ; ")[0],
    }


def accelerator_summary(a: hardware.Accelerator) -> dict:
    return {
        "name": a.name,
        "bandwidth_GBps": a.memory_bandwidth_GBps,
        "peak_TFLOPS": a.dense_fp16_bf16_TFLOPS,  # dense bf16/fp16; None where unpublished
        "memory_GB": a.memory_GB,
        "unverified": a.flagged,  # the data file flags a figure of this row as not yet checked
        "source": a.source.split(" https")[0],
    }


def export_data() -> dict:
    return {
        "dtypes": {d: bytes_per_element(d) for d in DTYPES},
        "accelerators": [accelerator_summary(a) for a in hardware.all_accelerators()],
        "models": [model_summary(m) for m in models.all_models()],
    }


def export_json() -> str:
    """The data as JSON safe to place inside a <script type="application/json"> element."""
    return json.dumps(export_data(), separators=(",", ":")).replace("</", "<\\/")


def expected(gpu: str, model: str, weight_dtype: str, kv_dtype: str, batch: int, context: int) -> dict:
    """The calculator's outputs, computed by the course's Python functions."""
    a, m = hardware.get(gpu), models.get(model)
    step = roofline.decode_step(m, batch, context, weight_dtype, kv_dtype)
    return {
        "weight_bytes": models.weight_bytes(m, weight_dtype),
        "kv_bytes_per_token": kv_cache.bytes_per_token(m, kv_dtype),
        "kv_bytes_per_sequence": kv_cache.bytes_per_sequence(m, context, kv_dtype),
        "kv_bytes_total": kv_cache.bytes_for_batch(m, context, batch, kv_dtype),
        "max_batch": kv_cache.max_batch(m, a, context, weight_dtype, kv_dtype),
        "ridge": a.ridge_point("bf16"),
        "step_bytes": step.bytes,
        "step_flops": step.flops,
        "intensity": step.intensity,
        "step_time_s": step.time_s(a),
        "tokens_per_s_total": step.tokens_per_s(a),
        "tokens_per_s_sequence": 1 / step.time_s(a),
        "memory_bound": step.is_memory_bound(a),
    }


def test_vectors() -> list[dict]:
    """Cases across GPUs, models (MHA, GQA, MLA, MoE, tied embeddings), dtypes, batches and contexts."""
    cases = [
        ("A100 80GB SXM", "Llama-2-7B", "fp16", "fp16", 1, 1),
        ("A100 80GB SXM", "Llama-2-7B", "fp16", "fp16", 8, 4096),
        ("H100 SXM", "Llama-3.1-8B", "bf16", "fp8", 64, 32768),
        ("H200 SXM", "Llama-3.1-70B", "fp8", "fp8", 16, 8192),
        ("L4", "Qwen2.5-7B", "int4", "fp16", 4, 2048),
        ("MI300X", "DeepSeek-V3", "fp8", "bf16", 32, 16384),
        ("H100 SXM", "Mixtral-8x7B-v0.1", "bf16", "bf16", 2, 1000),
        ("RTX 4090", "Gemma-2-9B", "int8", "fp16", 1, 8192),
        ("A100 40GB PCIe", "GPT-2 small (gpt2)", "fp32", "fp32", 512, 1024),
        ("H100 SXM", "Llama-3.1-8B", "bf16", "bf16", 1024, 128),
    ]
    keys = ("gpu", "model", "weight_dtype", "kv_dtype", "batch", "context")
    return [{"inputs": dict(zip(keys, case)), "expected": expected(*case)} for case in cases]


def hf_config(m: models.ModelConfig) -> dict:
    """A Hugging Face style config.json for a Llama-architecture model of the data."""
    return {
        "num_hidden_layers": m.n_layers, "hidden_size": m.d_model, "num_attention_heads": m.n_heads,
        "num_key_value_heads": m.n_kv_heads, "head_dim": m.head_dim, "intermediate_size": m.d_ff,
        "vocab_size": m.vocab_size, "tie_word_embeddings": m.tied_embeddings,
        "max_position_embeddings": m.max_position_embeddings,
    }
