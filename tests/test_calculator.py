"""The in-page calculator, driven in headless Chromium: its JavaScript formulas against the
Python functions on vectors computed here, and its handling of bad input."""

import json
import math

import pytest
from test_browser import CHROMIUM, browser, opened  # noqa: F401 - the module-scoped browser fixture

from snippets import calculator, hardware, kv_cache, models

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")

LLAMA_STYLE = [m.name for m in models.all_models() if m.architecture == "llama"]


@pytest.fixture(scope="module")
def page(browser, site_url):  # noqa: F811
    with opened(browser, f"{site_url}/calculator/", "light") as (page, seen):
        yield page, seen


def close(a, b, rel=1e-9):
    if isinstance(b, bool) or isinstance(a, bool):
        return a == b
    return math.isclose(a, b, rel_tol=rel, abs_tol=0)


def test_javascript_matches_python_on_vectors(page):
    pg, seen = page
    for vector in calculator.test_vectors():
        i = vector["inputs"]
        gpu = calculator.accelerator_summary(hardware.get(i["gpu"]))
        model = calculator.model_summary(models.get(i["model"]))
        got = pg.evaluate(
            "([gpu, model, inputs]) => Calc.evaluate(JSON.parse(document.getElementById('calculator-data').textContent).dtypes, gpu, model, inputs)",
            [gpu, model, i],
        )
        for key, want in vector["expected"].items():
            assert close(got[key], want), (i, key, got[key], want)
    assert not seen["console"]


@pytest.mark.parametrize("name", LLAMA_STYLE)
def test_pasted_config_matches_python_parameter_count(page, name):
    pg, _ = page
    m = models.get(name)
    got = pg.evaluate("([c, n]) => Calc.modelFromConfig(c, n)", [calculator.hf_config(m), name])
    want = calculator.model_summary(m)
    for key in ("params_total", "decode_params", "matmul_params", "kv_elements_per_token",
                "attention_flops_per_context_token", "max_context"):
        assert got[key] == want[key], (name, key)


def shown(pg) -> dict:
    return pg.eval_on_selector_all("#calc-results td[data-key]", "els => Object.fromEntries(els.map(e => [e.dataset.key, e.dataset.value]))")


def choose(pg, gpu="NVIDIA A100 80GB SXM", model="Llama-2-7B", wd="fp16", kd="fp16", batch="8", context="4096"):
    pg.select_option("#calc-gpu", gpu)
    pg.select_option("#calc-model", model)
    pg.select_option("#calc-weight-dtype", wd)
    pg.select_option("#calc-kv-dtype", kd)
    pg.fill("#calc-batch", batch)
    pg.fill("#calc-context", context)


def test_choosing_and_typing_shows_the_python_numbers(page):
    pg, _ = page
    choose(pg)
    values = shown(pg)
    want = calculator.expected("A100 80GB SXM", "Llama-2-7B", "fp16", "fp16", 8, 4096)
    for key in ("weight_bytes", "kv_bytes_total", "max_batch", "step_time_s", "tokens_per_s_total"):
        assert close(float(values[key]), float(want[key])), key
    assert pg.is_visible("#calc-point") and not pg.is_visible("#calc-message")
    assert "30" in pg.inner_text("#calc-results")  # Llama-2-7B: 30 sequences of 4,096 tokens fit


def test_pasting_a_config(page):
    pg, _ = page
    choose(pg, model="config", wd="bf16", kd="bf16", batch="1", context="1024")
    pg.fill("#calc-config", json.dumps(calculator.hf_config(models.get("Llama-3.1-8B"))))
    values = shown(pg)
    want = calculator.expected("A100 80GB SXM", "Llama-3.1-8B", "bf16", "bf16", 1, 1024)
    assert close(float(values["weight_bytes"]), want["weight_bytes"])
    assert close(float(values["step_time_s"]), want["step_time_s"])


def test_custom_gpu(page):
    pg, _ = page
    choose(pg, gpu="custom")
    pg.fill("#calc-bw", "1000")
    pg.fill("#calc-tflops", "100")
    pg.fill("#calc-mem", "24")
    values = shown(pg)
    assert close(float(values["ridge"]), 100.0)
    m = models.get("Llama-2-7B")
    free = 24e9 - models.weight_bytes(m, "fp16")
    assert int(values["max_batch"]) == int(free // kv_cache.bytes_per_sequence(m, 4096, "fp16"))


@pytest.mark.parametrize(("field", "text", "message"), [
    ("#calc-batch", "-3", "batch size must be a positive number"),
    ("#calc-batch", "", "batch size must be a positive number"),
    ("#calc-context", "abc", "context length must be a positive number"),
    ("#calc-batch", "2.5", "whole number"),
    ("#calc-context", "100000", "beyond Llama-2-7B's maximum of 4,096"),
])
def test_bad_numbers_show_a_message_not_nan(page, field, text, message):
    pg, _ = page
    choose(pg)
    pg.fill(field, text)
    assert pg.is_visible("#calc-message")
    assert message in pg.inner_text("#calc-message")
    assert not pg.is_visible("#calc-results") and not pg.is_visible("#calc-chart")
    assert "NaN" not in pg.inner_text("#calculator") and "Infinity" not in pg.inner_text("#calculator")


@pytest.mark.parametrize(("config", "message"), [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"hidden_size": 4096}', "lacks num_hidden_layers, num_attention_heads, intermediate_size, vocab_size"),
    ('{"num_hidden_layers": 2, "hidden_size": 100, "num_attention_heads": 3, "intermediate_size": 8, "vocab_size": 10}',
     "add \"head_dim\""),
    ("", "paste the contents"),
])
def test_bad_configs_show_a_message(page, config, message):
    pg, _ = page
    choose(pg, model="config")
    pg.fill("#calc-config", config)
    assert message in pg.inner_text("#calc-message")
    assert not pg.is_visible("#calc-chart")


def test_gpu_without_published_flops_asks_for_custom(page):
    pg, _ = page
    choose(pg, gpu="NVIDIA A10G (AWS G5)")
    assert "Custom" in pg.inner_text("#calc-message")
    pg.select_option("#calc-gpu", "NVIDIA H100 SXM")
    assert not pg.is_visible("#calc-message")
