"""snippets.formulas against independent known values, and the one-definition rule: the
snippets modules call these formulas, and the module needs nothing beyond the standard library
(the in-page cells import it under Pyodide)."""

from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path

import pytest

from snippets import comm, formulas, kv_cache, models, parallel, roofline, speculative, units


def test_ridge_of_an_h100_sxm_in_bf16():
    # 989 TFLOP/s dense bf16 over 3.35 TB/s: about 295 FLOP/byte (NVIDIA's datasheet figures)
    assert formulas.ridge_point(989e12, 3.35e12) == pytest.approx(295.2, abs=0.1)


def test_roofline_bends_at_the_ridge():
    assert formulas.attainable_flops(1.0, 100.0, 10.0) == 10.0
    assert formulas.attainable_flops(1000.0, 100.0, 10.0) == 100.0
    assert formulas.time_lower_bound_s(100.0, 10.0, 100.0, 10.0) == 1.0


def test_decode_bound_of_a_7b_model_on_2tbps():
    # 14 GB of fp16 weights read per token at 2 TB/s: at most ~143 tokens/s
    assert formulas.decode_tokens_per_s_bound(14e9, 2e12) == pytest.approx(142.857, rel=1e-5)
    assert formulas.decode_tokens_per_s_bound(14e9, 2e12, batch=8) == pytest.approx(1142.857, rel=1e-5)


def test_kv_bytes_per_token_of_llama_2_7b_and_llama_3_8b():
    # Llama-2-7B: 32 layers, 32 KV heads of 128, fp16 -> 512 KiB per token (a widely quoted figure)
    assert formulas.kv_bytes_per_token(formulas.mha_elements_per_token(32, 32, 128), "fp16") == 512 * 1024
    # Llama-3-8B (GQA, 8 KV heads): 128 KiB per token
    assert formulas.kv_bytes_per_token(formulas.mha_elements_per_token(32, 8, 128), "bf16") == 128 * 1024
    # DeepSeek-V3 MLA: 61 layers x (512 + 64) elements
    assert formulas.mla_elements_per_token(61, 512, 64) == 35136
    assert formulas.kv_bytes_for_batch(2.0, 10, 3) == 60.0


def test_experts_touched_limits():
    assert formulas.expected_experts_touched(256, 8, 1) == pytest.approx(8)
    assert formulas.expected_experts_touched(8, 2, 2) == pytest.approx(8 * (1 - 0.75**2))  # 3.5
    assert formulas.expected_experts_touched(256, 8, 10_000) == pytest.approx(256)


def test_speculative_gain_matches_leviathan_closed_form():
    alpha, gamma = 0.8, 4
    assert formulas.expected_tokens(alpha, gamma) == pytest.approx((1 - alpha**5) / (1 - alpha))
    assert formulas.speculative_speedup(alpha, gamma, 0.0) == pytest.approx(3.3616)
    assert formulas.speculative_speedup(0.0, 3, 0.1) == pytest.approx(1 / 1.3)


def test_collectives_and_pipelines():
    # nccl-tests: all-reduce busbw = algbw x 2(n-1)/n; 8 ranks -> 1.75
    assert formulas.bus_factor("all_reduce", 8) == 1.75
    assert formulas.bus_factor("all_gather", 4) == 0.75
    # 1 MB all-reduce over 4 ranks at 100 GB/s busbw with 10 us latency: 10 us + 1.5 x 10 us
    assert formulas.collective_time_s(10e-6, 1 / 100e9, "all_reduce", 4, 1e6) == pytest.approx(25e-6)
    assert formulas.collective_time_s(10e-6, 1 / 100e9, "all_reduce", 1, 1e6) == 0.0
    # ring latency: 2(n - 1) hops; 8 ranks at 0.6 us a hop plus 6.6 us a call -> 15 us
    assert formulas.latency_steps("all_reduce", 8) == (14, 0)
    assert formulas.collective_latency_s(6.6e-6, 0.6e-6, "all_reduce", 8) == pytest.approx(15e-6)
    # GPipe: 4 stages, 4 microbatches -> 3/7 idle
    assert formulas.pipeline_bubble(4, 4) == pytest.approx(3 / 7)


def test_weight_bytes():
    assert formulas.weight_bytes(7e9, "int4") == 3.5e9


def test_the_snippets_modules_call_these_definitions():
    assert units.BYTES_PER_ELEMENT is formulas.BYTES_PER_ELEMENT
    uses = {roofline.ridge_point: "formulas.ridge_point", roofline.attainable_flops: "formulas.attainable_flops",
            roofline.time_lower_bound_s: "formulas.time_lower_bound_s",
            kv_cache.mha_elements_per_token: "formulas.mha_elements_per_token",
            kv_cache.kv_elements_per_token: "formulas.mla_elements_per_token",
            models.expected_experts_touched: "formulas.expected_experts_touched",
            speculative.expected_tokens: "formulas.expected_tokens", speculative.speedup: "formulas.speculative_speedup",
            comm.bus_factor: "formulas.bus_factor", comm.AlphaBeta.time_s: "formulas.collective_time_s",
            comm.LinkModel.time_s: "formulas.collective_time_s", comm.Latency.alpha_s: "formulas.collective_latency_s",
            comm.latency_steps: "formulas.latency_steps",
            parallel.pipeline_bubble: "formulas.pipeline_bubble"}
    for function, call in uses.items():
        assert call in inspect.getsource(inspect.unwrap(function)), function.__qualname__


def test_only_the_standard_library():
    tree = ast.parse(Path(formulas.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
