"""The in-page calculator, driven in headless Chromium: its JavaScript formulas against the
Python functions on vectors computed here, and its handling of bad and hostile input.
(tests/test_calculator_node.py checks the same math under Node, without a browser.)"""

import contextlib
import json
import math
import re
import shutil
import time
from pathlib import Path

import pytest
from test_browser import opened

from snippets import calculator, hardware, kv_cache, models

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")


ROOT = Path(__file__).resolve().parents[1]
SITE = "http://calculator.test"  # served by page.route below: nothing leaves the machine


def calculator_html(data_json: str) -> str:
    """The calculator as docs/calculator.md places it: the data script, the form, the script.
    Built here rather than by MkDocs so that these tests do not wait on (or fail with) the
    rest of the site's build; tests/test_browser.py checks the built page."""
    source = (ROOT / "docs" / "calculator.md").read_text(encoding="utf-8")
    form = re.search(r'<div id="calculator".*?\n</div>', source, flags=re.S).group(0)
    return ("<!doctype html><html lang=en><head><meta charset=utf-8><title>Calculator</title></head><body>"
            f'<script type="application/json" id="calculator-data">{data_json}</script>{form}'
            '<script src="/calculator.js"></script></body></html>')


def serve(page, data_json: str) -> None:
    script = (ROOT / "docs" / "javascripts" / "calculator.js").read_text(encoding="utf-8")
    page.route(f"{SITE}/calculator/", lambda route: route.fulfill(body=calculator_html(data_json), content_type="text/html"))
    page.route(f"{SITE}/calculator.js", lambda route: route.fulfill(body=script, content_type="text/javascript"))


@contextlib.contextmanager
def opened(browser, data_json: str | None = None):  # noqa: F811
    """The calculator in a fresh context: yields the page and the errors it logged; closes after."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    seen = {"console": []}
    page.on("console", lambda m: m.type == "error" and seen["console"].append(m.text))
    page.on("pageerror", lambda e: seen["console"].append(str(e)))
    serve(page, data_json or calculator.export_json())
    page.goto(f"{SITE}/calculator/", wait_until="load")
    try:
        yield page, seen
    finally:
        context.close()

SUMMARY_KEYS = [k for k in calculator.model_summary(models.all_models()[0]) if k not in ("source",)]


@pytest.fixture(scope="module")
def page(browser):  # noqa: F811
    with opened(browser) as (page, seen):
        yield page, seen


def close(a, b, rel=1e-9):
    if isinstance(b, (bool, str)) or isinstance(a, (bool, str)):
        return a == b
    return math.isclose(a, b, rel_tol=rel, abs_tol=0)


DATA = "JSON.parse(document.getElementById('calculator-data').textContent)"


def test_javascript_matches_python_on_vectors(page):
    pg, seen = page
    for vector in calculator.test_vectors():
        i = vector["inputs"]
        gpu = calculator.accelerator_summary(hardware.get(i["gpu"]))
        model = calculator.model_summary(models.get(i["model"]))
        got = pg.evaluate(f"([gpu, model, inputs]) => Calc.evaluate({DATA}, gpu, model, inputs)", [gpu, model, i])
        for key, want in vector["expected"].items():
            assert close(got[key], want), (i, key, got[key], want)
    assert not seen["console"]


def test_the_page_data_is_the_python_export(page):
    pg, _ = page
    assert pg.evaluate(f"() => {DATA}") == json.loads(calculator.export_json())


@pytest.mark.parametrize("name", models.names())
def test_pasted_config_matches_python_parameter_count(page, name):
    pg, _ = page
    m = models.get(name)
    got = pg.evaluate("(text) => Calc.parseConfig(text)", json.dumps(calculator.hf_config(m)))
    want = calculator.model_summary(m)
    for key in SUMMARY_KEYS:
        assert got[key] == want[key], (name, key)
    assert got["warnings"] == []


def shown(pg) -> dict:
    return pg.eval_on_selector_all("#calc-results td[data-key]", "els => Object.fromEntries(els.map(e => [e.dataset.key, e.dataset.value]))")


def settled(pg):
    """Wait until a pasted config's debounced parse has run."""
    pg.wait_for_selector("#calculator:not([data-pending])", state="attached")


def paste(pg, text):
    pg.fill("#calc-config", text)
    settled(pg)


def choose(pg, gpu="NVIDIA A100 80GB SXM", model="Llama-2-7B", wd="fp16", kd="fp16", batch="8", context="4096",
           compute="auto"):
    pg.select_option("#calc-gpu", gpu)
    pg.select_option("#calc-model", model)
    pg.select_option("#calc-weight-dtype", wd)
    pg.select_option("#calc-kv-dtype", kd)
    pg.select_option("#calc-compute-dtype", compute)
    pg.fill("#calc-batch", batch)
    pg.fill("#calc-context", context)


def assert_cleared(pg):
    assert pg.is_visible("#calc-message")
    assert not pg.is_visible("#calc-results") and not pg.is_visible("#calc-chart")
    assert shown(pg) == {}, "results of an earlier input are still on the page"
    text = pg.inner_text("#calculator")
    assert "NaN" not in text and "Infinity" not in text and "∞" not in text


def test_choosing_and_typing_shows_the_python_numbers(page):
    pg, _ = page
    choose(pg)
    values = shown(pg)
    want = calculator.expected("A100 80GB SXM", "Llama-2-7B", "fp16", "fp16", 8, 4096)
    for key in ("weight_bytes", "kv_bytes_total", "max_batch", "step_time_s", "tokens_per_s_total"):
        assert close(float(values[key]), float(want[key])), key
    assert pg.is_visible("#calc-point") and not pg.is_visible("#calc-message")
    assert "33" in pg.inner_text("#calc-results")  # Llama-2-7B: 33 sequences of 4,096 tokens fit in 80 GiB less 1 %


def test_mixtral_batch_32_reads_the_experts_it_touches(page):
    pg, _ = page
    choose(pg, gpu="NVIDIA H200 SXM", model="Mixtral-8x7B-v0.1", wd="bf16", kd="bf16", batch="32", context="1024")
    want = calculator.expected("H200 SXM", "Mixtral-8x7B-v0.1", "bf16", "bf16", 32, 1024)
    assert close(float(shown(pg)["step_bytes"]), want["step_bytes"])
    assert "8.00 of 8 routed experts" in pg.inner_text("#calc-results")


def test_compute_roof_follows_the_compute_dtype(page):
    pg, _ = page
    choose(pg, gpu="NVIDIA H100 SXM", model="Llama-3.1-8B", wd="fp8", kd="fp8")
    assert shown(pg)["compute_dtype"] == "fp8"
    assert "fp8: 1,978.9 TFLOPS" in pg.inner_text("#calc-results")
    assert not pg.is_visible("#calc-notes")
    choose(pg, gpu="NVIDIA A100 80GB SXM", model="Llama-3.1-8B", wd="fp8", kd="fp8")
    assert shown(pg)["compute_dtype"] == "bf16"
    assert "no dense fp8 figure for the NVIDIA A100 80GB SXM" in pg.inner_text("#calc-notes")
    choose(pg, gpu="NVIDIA L4", model="Llama-3.1-8B", wd="bf16", kd="bf16", compute="int8")
    assert shown(pg)["compute_dtype"] == "int8"


def test_pasting_a_config(page):
    pg, _ = page
    choose(pg, model="config", wd="bf16", kd="bf16", batch="1", context="1024")
    paste(pg, json.dumps(calculator.hf_config(models.get("Llama-3.1-8B"))))
    values = shown(pg)
    want = calculator.expected("A100 80GB SXM", "Llama-3.1-8B", "bf16", "bf16", 1, 1024)
    assert close(float(values["weight_bytes"]), want["weight_bytes"])
    assert close(float(values["step_time_s"]), want["step_time_s"])


def test_pasted_deepseek_v3_does_not_fit_one_h200_and_warns(page):
    pg, _ = page
    choose(pg, gpu="NVIDIA H200 SXM", model="config", wd="bf16", kd="fp16", batch="1", context="4096")
    paste(pg, json.dumps({**calculator.hf_config(models.get("DeepSeek-V3")), "num_nextn_predict_layers": 1}))
    values = shown(pg)
    assert close(float(values["weight_bytes"]), 2 * 671_026_419_200)
    assert float(values["kv_bytes_per_token"]) == 70_272 and "68.6 KiB" in pg.inner_text("#calc-results")
    assert values["fits"] == "false" and values["max_batch"] == "0"
    assert "num_nextn_predict_layers" in pg.inner_text("#calc-notes")


def test_custom_gpu(page):
    pg, _ = page
    choose(pg, gpu="custom")
    pg.fill("#calc-bw", "1000")
    pg.fill("#calc-tflops", "100")
    pg.fill("#calc-mem", "24")
    values = shown(pg)
    assert close(float(values["ridge"]), 100.0)
    m = models.get("Llama-2-7B")
    free = 24 * 2**30 * (1 - hardware.DRIVER_RESERVE_FRACTION) - models.weight_bytes(m, "fp16")
    assert int(values["max_batch"]) == int(free // kv_cache.bytes_per_sequence(m, 4096, "fp16"))


@pytest.mark.parametrize(("field", "text", "message"), [
    ("#calc-batch", "-3", "batch size must be between 1 and 1,000,000"),
    ("#calc-batch", "", "batch size must be a number"),
    ("#calc-batch", "1e308", "batch size must be between 1 and 1,000,000"),
    ("#calc-context", "abc", "context length must be a number"),
    ("#calc-batch", "2.5", "whole number"),
    ("#calc-context", "100000", "beyond Llama-2-7B's maximum of 4,096"),
])
def test_bad_numbers_show_a_message_not_nan(page, field, text, message):
    pg, _ = page
    choose(pg)
    pg.fill(field, text)
    assert message in pg.inner_text("#calc-message")
    assert message in pg.inner_text(f"{field}-error")  # inline, next to the field
    assert pg.get_attribute(field, "aria-invalid") == "true"
    assert_cleared(pg)


@pytest.mark.parametrize(("field", "text"), [("#calc-tflops", "1e308"), ("#calc-bw", "1e308"), ("#calc-mem", "1e308"),
                                             ("#calc-tflops", "1e-300")])
def test_absurd_custom_figures_are_refused_without_freezing(page, field, text):
    pg, _ = page
    choose(pg, gpu="custom")
    for sane_field, sane in (("#calc-bw", "1000"), ("#calc-tflops", "100"), ("#calc-mem", "24")):
        pg.fill(sane_field, sane)
    assert shown(pg)
    started = time.monotonic()
    pg.fill(field, text)
    assert "must be between" in pg.inner_text(f"{field}-error")
    assert time.monotonic() - started < 5
    assert_cleared(pg)


@pytest.mark.parametrize(("config", "message"), [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"hidden_size": 4096}', "lacks num_hidden_layers, num_attention_heads, intermediate_size, vocab_size"),
    ('{"num_hidden_layers": 2, "hidden_size": 100, "num_attention_heads": 3, "intermediate_size": 8, "vocab_size": 10}',
     "add \"head_dim\""),
    ('{"num_hidden_layers": {"toString": 1}, "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 8, "vocab_size": 10}',
     '"num_hidden_layers" must be a whole number (got an object)'),
    (json.dumps({**calculator.hf_config(models.get("Llama-2-7B")), "vocab_size": 1e308}), '"vocab_size" must be between'),
    ("", "paste the contents"),
])
def test_bad_configs_show_a_message_and_clear_the_results(page, config, message):
    pg, _ = page
    choose(pg, model="config")
    paste(pg, json.dumps(calculator.hf_config(models.get("Llama-2-7B"))))
    assert shown(pg)  # a good config shows results first
    paste(pg, config)
    assert message in pg.inner_text("#calc-message")
    assert message in pg.inner_text("#calc-config-error")
    assert_cleared(pg)


def test_gpu_without_published_flops_asks_for_custom(page):
    pg, _ = page
    choose(pg, gpu="NVIDIA A10G (AWS G5)")
    assert "Custom" in pg.inner_text("#calc-message")
    assert_cleared(pg)
    pg.select_option("#calc-gpu", "NVIDIA H100 SXM")
    assert not pg.is_visible("#calc-message")


def test_a_10_mb_paste_does_not_slow_typing_elsewhere(page):
    pg, seen = page
    choose(pg, model="config", batch="1", context="1024")
    big = {**calculator.hf_config(models.get("Llama-3.1-8B")), "padding": "x" * 10_000_000}
    pg.evaluate("(text) => { const box = document.getElementById('calc-config'); box.value = text;"
                " box.dispatchEvent(new Event('input', {bubbles: true})); }", json.dumps(big))
    settled(pg)
    assert shown(pg)["weight_bytes"]
    per_keystroke_ms = pg.evaluate("""() => {
        const batch = document.getElementById('calc-batch');
        const started = performance.now();
        for (let i = 1; i <= 20; i++) { batch.value = String(i); batch.dispatchEvent(new Event('input', {bubbles: true})); }
        return (performance.now() - started) / 20;
    }""")
    assert per_keystroke_ms < 50, per_keystroke_ms
    assert float(shown(pg)["kv_bytes_total"]) == (20 * kv_cache.bytes_per_sequence(models.get("Llama-3.1-8B"), 1024, "fp16"))
    assert not seen["console"]


HOSTILE = '</script><!--<img src=x onerror="window.pwned=1">&amp;'


def test_hostile_names_are_text_not_markup(browser):  # noqa: F811
    data = calculator.export_data()
    data["models"].append({**calculator.model_summary(models.get("Llama-2-7B")), "name": HOSTILE})
    data["accelerators"].append({**calculator.accelerator_summary(hardware.get("H100 SXM")), "name": HOSTILE + " GPU"})
    safe = calculator.script_safe_json(data)
    assert not set("<>&") & set(safe)
    with opened(browser, safe) as (pg, seen):
        pg.select_option("#calc-gpu", HOSTILE + " GPU")
        pg.select_option("#calc-model", HOSTILE)
        assert HOSTILE in pg.inner_text("#calc-results caption")
        pg.select_option("#calc-model", "config")
        paste(pg, json.dumps({**calculator.hf_config(models.get("Llama-2-7B")), "_name_or_path": HOSTILE,
                              "model_type": HOSTILE}))
        assert HOSTILE in pg.inner_text("#calc-results caption")
        assert HOSTILE[:30] in pg.inner_text("#calc-notes")
        assert pg.evaluate("() => window.pwned") is None
        assert pg.query_selector("#calculator img") is None
        assert not seen["console"], seen["console"]
