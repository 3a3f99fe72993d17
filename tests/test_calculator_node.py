"""The calculator's JavaScript math under Node, against the Python functions: the same
vectors as the browser test, configs pasted for every model of the data, and bad input.
Needs `node` only (no browser); skipped, with the reason, where node is missing."""

import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest

from snippets import calculator, hardware, kv_cache, models

ROOT = Path(__file__).resolve().parents[1]
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed: the JavaScript math cannot run")

SUMMARY_KEYS = [k for k in calculator.model_summary(models.all_models()[0]) if k not in ("name", "source")]


def run_node(requests: list[dict], tmp_path: Path) -> list[dict]:
    path = tmp_path / "requests.json"
    path.write_text(json.dumps(requests))
    done = subprocess.run([NODE, str(ROOT / "tests" / "calculator_node.mjs"), str(path)],
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def call(tmp_path, fn, *args):
    return run_node([{"fn": fn, "args": list(args)}], tmp_path)[0]


def close(a, b, rel=1e-9):
    if isinstance(a, (bool, str)) or isinstance(b, (bool, str)):
        return a == b
    return math.isclose(a, b, rel_tol=rel, abs_tol=0)


def evaluate_request(gpu, model, inputs) -> dict:
    data = calculator.export_data()
    return {"fn": "evaluate", "args": [data, gpu, model, inputs]}


def data_gpu(name):
    return calculator.accelerator_summary(hardware.get(name))


def test_javascript_matches_python_on_every_vector(tmp_path):
    vectors = calculator.test_vectors()
    requests = [evaluate_request(data_gpu(v["inputs"]["gpu"]), calculator.model_summary(models.get(v["inputs"]["model"])),
                                 v["inputs"]) for v in vectors]
    for vector, got in zip(vectors, run_node(requests, tmp_path)):
        assert "value" in got, (vector["inputs"], got)
        for key, want in vector["expected"].items():
            assert close(got["value"][key], want), (vector["inputs"], key, got["value"][key], want)


@pytest.mark.parametrize("name", models.names())
def test_pasted_config_of_every_model_matches_python(tmp_path, name):
    m = models.get(name)
    got = call(tmp_path, "parseConfig", json.dumps(calculator.hf_config(m)))
    assert "value" in got, got
    want = calculator.model_summary(m)
    for key in SUMMARY_KEYS:
        assert got["value"][key] == want[key], (name, key, got["value"][key], want[key])
    assert got["value"]["params_total"] == models.param_count(m)
    assert got["value"]["warnings"] == []
    assert got["value"]["name"] == name


def test_mixtral_batch_32_reads_the_experts_the_batch_touches(tmp_path):
    m = models.get("Mixtral-8x7B-v0.1")
    inputs = {"weight_dtype": "bf16", "kv_dtype": "bf16", "compute": "auto", "batch": 32, "context": 1}
    got = run_node([evaluate_request(data_gpu("H100 SXM"), calculator.model_summary(m), inputs)], tmp_path)[0]["value"]
    assert 92e9 < got["step_weight_bytes"] < 94e9  # not 25.5 GB: ~8 of 8 experts per layer, not 2
    assert close(got["step_weight_bytes"], models.step_weight_bytes(m, "bf16", 32))


def real_config(name: str, **extra) -> str:
    return json.dumps({**calculator.hf_config(models.get(name)), **extra})


def test_deepseek_v3_config(tmp_path):
    config = real_config("DeepSeek-V3", num_nextn_predict_layers=1, n_group=8, topk_group=4, topk_method="noaux_tc")
    model = call(tmp_path, "parseConfig", config)["value"]
    assert model["params_total"] == 671_026_419_200
    assert model["kind"] == "MLA"
    assert model["kv_elements_per_position"] * model["n_layers"] * 2 == 70_272  # 68.6 KiB per token in fp16
    assert any("num_nextn_predict_layers" in w for w in model["warnings"])
    inputs = {"weight_dtype": "bf16", "kv_dtype": "fp16", "compute": "auto", "batch": 1, "context": 4096}
    r = run_node([evaluate_request(data_gpu("H200 SXM"), model, inputs)], tmp_path)[0]["value"]
    assert not r["fits"] and r["max_batch"] == 0
    assert close(r["weight_bytes"], 2 * 671_026_419_200)
    assert r["kv_bytes_per_token"] == 70_272


def test_mixtral_config_does_not_fit_an_h100(tmp_path):
    model = call(tmp_path, "parseConfig", real_config("Mixtral-8x7B-v0.1"))["value"]
    assert model["params_total"] == 46_702_792_704
    inputs = {"weight_dtype": "bf16", "kv_dtype": "bf16", "compute": "auto", "batch": 1, "context": 1024}
    r = run_node([evaluate_request(data_gpu("H100 SXM"), model, inputs)], tmp_path)[0]["value"]
    assert close(r["weight_bytes"], 93_405_585_408) and not r["fits"] and r["max_batch"] == 0


@pytest.mark.parametrize(("extra", "named"), [
    ({"quantization_config": {"quant_method": "awq"}}, "quantization_config"),
    ({"model_type": "falcon_mamba"}, 'model_type "falcon_mamba"'),
    ({"layer_types": ["sliding_attention", "full_attention"]}, "layer_types"),
    ({"moe_layer_freq": 2}, "moe_layer_freq"),
])
def test_a_field_it_cannot_model_gives_a_warning_naming_it(tmp_path, extra, named):
    model = call(tmp_path, "parseConfig", real_config("Llama-3.1-8B", **extra))["value"]
    assert any(named in w for w in model["warnings"]), model["warnings"]


def test_qwen2_window_switched_off_and_attention_bias(tmp_path):
    m = models.get("Qwen2.5-7B")
    model = call(tmp_path, "parseConfig", real_config("Qwen2.5-7B"))["value"]
    assert model["windowed_layers"] == 0 and model["params_total"] == models.param_count(m)
    llama_with_bias = call(tmp_path, "parseConfig", real_config("Llama-3.1-8B", attention_bias=True))["value"]
    plain = models.param_count(models.get("Llama-3.1-8B"))
    m8 = models.get("Llama-3.1-8B")
    assert llama_with_bias["params_total"] == plain + m8.n_layers * (m8.d_attn + 2 * m8.n_kv_heads * m8.head_dim + m8.d_model)


# ---- bad input: a message, never NaN, Infinity or a throw of another kind ----------------------

LLAMA = calculator.model_summary(models.get("Llama-2-7B"))
OK = {"weight_dtype": "fp16", "kv_dtype": "fp16", "compute": "auto", "batch": "8", "context": "4096"}
CUSTOM = {"name": "custom GPU", "custom": True, "bandwidth_GBps": "1000", "peak_TFLOPS": "100", "memory_GB": "24"}


@pytest.mark.parametrize(("gpu", "inputs", "field", "message"), [
    ({**CUSTOM, "peak_TFLOPS": "1e308"}, OK, "calc-tflops", "dense TFLOPS must be between"),
    ({**CUSTOM, "bandwidth_GBps": "Infinity"}, OK, "calc-bw", "must be a number"),
    ({**CUSTOM, "memory_GB": "0"}, OK, "calc-mem", "memory (GB) must be between"),
    (None, {**OK, "batch": "1e308"}, "calc-batch", "batch size must be between 1 and 1,000,000"),
    (None, {**OK, "batch": "-3"}, "calc-batch", "batch size must be between"),
    (None, {**OK, "batch": ""}, "calc-batch", "batch size must be a number"),
    (None, {**OK, "batch": "2.5"}, "calc-batch", "whole number"),
    (None, {**OK, "context": "abc"}, "calc-context", "context length must be a number"),
    (None, {**OK, "batch": "0x10"}, "calc-batch", 'batch size must be a number (got "0x10")'),
    (None, {**OK, "batch": "0b11"}, "calc-batch", "batch size must be a number"),
    ({**CUSTOM, "memory_GB": "0o7"}, OK, "calc-mem", "memory (GB) must be a number"),
    ({**CUSTOM, "peak_TFLOPS": "1e308"}, OK, "calc-tflops", "between 0.01 and 100,000 (got 1e+308)"),
    (None, {**OK, "context": "123456789012345"}, "calc-context", "context 1.23e+14 is beyond"),
    (None, {**OK, "context": "100000"}, "calc-context", "beyond Llama-2-7B's maximum of 4,096"),
    (None, {**OK, "compute": "fp4"}, "calc-compute-dtype", "no compute throughput"),
])
def test_bad_numbers_raise_input_errors(tmp_path, gpu, inputs, field, message):
    got = run_node([evaluate_request(gpu or data_gpu("A100 80GB SXM"), LLAMA, inputs)], tmp_path)[0]
    assert got.get("input_error") and got["field"] == field and message in got["error"], got


@pytest.mark.parametrize(("config", "message"), [
    ('{"num_hidden_layers": {"toString": 1}, "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 8, "vocab_size": 10}',
     '"num_hidden_layers" must be a whole number (got an object)'),
    (real_config("Llama-2-7B", vocab_size=1e308), '"vocab_size" must be between 1 and 10,000,000'),
    (real_config("Llama-2-7B", hidden_size="4096"), '"hidden_size" must be a whole number (got "4096")'),
    (real_config("Llama-2-7B", num_hidden_layers=0), '"num_hidden_layers" must be between 1'),
    (real_config("Llama-2-7B", num_key_value_heads=5), "multiple of num_key_value_heads"),
    (real_config("Llama-2-7B", tie_word_embeddings="yes"), '"tie_word_embeddings" must be true or false'),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ("null", "must be a JSON object"),
    ('{"hidden_size": 4096}', "lacks num_hidden_layers, num_attention_heads, intermediate_size, vocab_size"),
    ('{"num_hidden_layers": 2, "hidden_size": 100, "num_attention_heads": 3, "intermediate_size": 8, "vocab_size": 10}',
     'add "head_dim"'),
    ("   ", "paste the contents"),
])
def test_bad_configs_raise_input_errors(tmp_path, config, message):
    got = call(tmp_path, "parseConfig", config)
    assert got.get("input_error") and got["field"] == "calc-config" and message in got["error"], got


def finite(value) -> bool:
    if isinstance(value, dict):
        return all(finite(v) for v in value.values())
    return not isinstance(value, float) or math.isfinite(value)


def test_every_extreme_of_the_ranges_gives_finite_numbers(tmp_path):
    extremes = []
    for gpu in ({**CUSTOM, "peak_TFLOPS": t, "bandwidth_GBps": b, "memory_GB": g}
                for t in ("0.01", "1e5") for b in ("1", "1e5") for g in ("0.1", "1e5")):
        for batch in ("1", "1000000"):
            for context in ("1", "4096"):
                extremes.append(evaluate_request(gpu, LLAMA, {**OK, "batch": batch, "context": context}))
    huge = {"model_type": "llama", "num_hidden_layers": 10000, "hidden_size": 1000000, "num_attention_heads": 100000,
            "intermediate_size": 10000000, "vocab_size": 10000000, "max_position_embeddings": 1000000000}
    model = call(tmp_path, "parseConfig", json.dumps(huge))["value"]
    extremes.append(evaluate_request({**CUSTOM, "peak_TFLOPS": "0.01", "bandwidth_GBps": "1"}, model,
                                     {**OK, "batch": "1000000", "context": "1000000000"}))
    for got in run_node(extremes, tmp_path):
        assert "value" in got and finite(got["value"]), got


def test_custom_gpu_memory_is_read_as_gib_less_the_driver_reserve(tmp_path):
    got = run_node([evaluate_request(CUSTOM, LLAMA, OK)], tmp_path)[0]["value"]
    assert close(got["usable_memory_bytes"], 24 * 2**30 * (1 - hardware.DRIVER_RESERVE_FRACTION))
    assert close(got["ridge"], 100.0)
    m = models.get("Llama-2-7B")
    free = 24 * 2**30 * (1 - hardware.DRIVER_RESERVE_FRACTION) - models.weight_bytes(m, "fp16")
    assert got["max_batch"] == int(free // kv_cache.bytes_per_sequence(m, 4096, "fp16"))


def test_decimal_text_is_still_read(tmp_path):
    got = run_node([evaluate_request(data_gpu("A100 80GB SXM"), LLAMA, {**OK, "batch": "+8", "context": "4.096e3"})],
                   tmp_path)[0]
    assert got["value"]["batch"] == 8 and got["value"]["context"] == 4096, got


def test_ecc_gddr_part_loses_a_sixteenth_in_javascript_too(tmp_path):
    # An L4 shows 23,034 MiB in nvidia-smi (ECC on by default); the page agrees with Python.
    got = run_node([evaluate_request(data_gpu("L4"), LLAMA, OK)], tmp_path)[0]["value"]
    assert got["ecc_reserved_fraction"] == 1 / 16
    assert close(got["usable_memory_bytes"], 24 * 2**30 * 15 / 16 * (1 - hardware.DRIVER_RESERVE_FRACTION))
    assert got["max_batch"] == kv_cache.max_batch(models.get("Llama-2-7B"), hardware.get("L4"), 4096, "fp16", "fp16")
