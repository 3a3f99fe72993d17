"""The editable cells in a real browser: headless Chromium runs every cell of every page that has
one, with Pyodide loaded from the built site, and each prints what the build printed beside it.
Nothing is requested from another host, before or after Run, and before any Run a page loads no
Python and weighs at most 30 kB more for its cells.

Skipped where Chromium, Playwright or the vendored Pyodide (npm ci) is missing."""

import re
import shutil
from urllib.parse import urlparse

import pytest
from site_pages import ROOT, nav_sources, url_path

from pages import cells

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAGES = [source for source in nav_sources()  # a page with a cell fence (not one shown indented, as code)
         if source.endswith(".md") and re.search(r"^```cell$", (ROOT / "docs" / source).read_text(encoding="utf-8"), re.M)]
GROWTH_LIMIT_BYTES = 30_000
LOAD_MS = 120_000  # the first Run loads Pyodide (about 13 MB) on a shared 2-core machine

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"),
    pytest.mark.skipif(cells.download_bytes() < 1_000_000, reason="node_modules/pyodide is missing (npm ci)"),
]


def watch(page) -> dict:
    seen = {"foreign": [], "urls": [], "bytes": {}, "errors": []}

    def on_request(request):
        seen["urls"].append(request.url)
        if request.url.startswith("http") and urlparse(request.url).hostname not in ("127.0.0.1", "localhost"):
            seen["foreign"].append(request.url)

    def on_response(response):
        try:
            seen["bytes"][response.url] = len(response.body())
        except Exception:  # noqa: BLE001 - redirects have no body
            pass

    page.on("request", on_request)
    page.on("response", on_response)
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    return seen


def run_cell(page, index: int) -> str:
    """Press the index-th cell's Run; its output once the run has ended."""
    cell = page.locator(".pycell").nth(index)
    cell.locator(".pycell-run").click()
    page.wait_for_function("i => { const c = document.querySelectorAll('.pycell')[i];"
                           " return !c.querySelector('.pycell-run').disabled; }", arg=index, timeout=LOAD_MS)
    return cell.locator(".pycell-out").inner_text()


def test_pages_with_cells_cover_every_chapter():
    assert {"01_memory_bound.md", "02_kv_cache.md", "03_serving.md", "04_quantization.md", "05_speculative.md",
            "06_attention.md", "07_multi_gpu.md"} <= set(PAGES)


@pytest.mark.parametrize("source", PAGES)
def test_every_cell_prints_what_the_build_printed(browser, site_url, source):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    seen = watch(page)
    try:
        page.goto(f"{site_url}/{url_path(source)}", wait_until="networkidle")
        assert not any("/pyodide/" in url or "pycell-worker" in url for url in seen["urls"]), "Python loaded before Run"
        added = sum(size for url, size in seen["bytes"].items() if url.endswith(("pycells.js", "errata.js")))
        added += page.evaluate("[...document.querySelectorAll('.pycell')].reduce((n, c) => n + c.outerHTML.length, 0)")
        print(f"{source}: cells add {added:,} bytes before Run")
        assert added <= GROWTH_LIMIT_BYTES, f"{source}: the cells add {added:,} bytes before any Run"
        count = page.locator(".pycell").count()
        assert count >= 2
        for index in range(count):
            expected = page.locator(".pycell-expected").nth(index).inner_text()
            assert run_cell(page, index).strip() == expected.strip(), f"{source}: cell {index}"
        assert any(url.endswith("/pyodide/pyodide.asm.wasm") for url in seen["urls"])
        assert not seen["foreign"], seen["foreign"]
        assert not seen["errors"], seen["errors"]
    finally:
        context.close()


def test_errors_show_under_the_cell_and_stop_ends_a_loop(browser, site_url):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    seen = watch(page)
    try:
        page.goto(f"{site_url}/{url_path('05_speculative.md')}", wait_until="networkidle")
        editor = page.locator(".pycell-code").first
        editor.fill("import formulas\nprint(formulas.expected_tokens(0.5, 2))\n1 / 0\n")
        out = run_cell(page, 0)
        assert "1.75" in out and "ZeroDivisionError" in out, out
        assert page.locator(".pycell-out").first.evaluate("e => e.classList.contains('pycell-error')")
        editor.fill("while True:\n    pass\n")
        cell = page.locator(".pycell").first
        cell.locator(".pycell-run").click()
        cell.locator(".pycell-stop").wait_for(state="visible")
        page.wait_for_timeout(300)
        cell.locator(".pycell-stop").click()
        assert "Stopped" in cell.locator(".pycell-out").inner_text()
        editor.fill("print(6 * 7)\n")  # the keyboard works too: Ctrl+Enter runs
        editor.press("Control+Enter")
        page.wait_for_function("() => !document.querySelector('.pycell-run').disabled"
                               " && document.querySelector('.pycell-out').innerText.trim() === '42'", timeout=LOAD_MS)
        assert not seen["foreign"], seen["foreign"]
    finally:
        context.close()
