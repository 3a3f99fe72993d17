"""The built site as a reader's browser shows it: headless Chromium driven by Playwright,
every page in the navigation, in the light and the dark palette.

Skipped (with the reason) where Chromium or Playwright is missing; scripts/test.sh and .ci/run
install both.
"""

import contextlib
import json
import shutil
from urllib.parse import urlparse

import pytest
from site_pages import ROOT, nav_sources, url_path

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "screenshots"
SCHEMES = ("light", "dark")
PAGES = nav_sources()

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")


@contextlib.contextmanager
def opened(browser, url: str, scheme: str):
    """`url` in a fresh browser context: yields the page and what the browser saw; closes after."""
    context, page, seen = visit(browser, url, scheme)
    try:
        yield page, seen
    finally:
        context.close()


def visit(browser, url: str, scheme: str):
    """Open `url` in a fresh context; return the context, the page and what the browser saw."""
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    seen = {"console": [], "failed": [], "foreign": [], "bytes": 0}
    page.on("console", lambda m: m.type == "error" and seen["console"].append(m.text))
    page.on("pageerror", lambda e: seen["console"].append(str(e)))
    page.on("requestfailed", lambda r: seen["failed"].append(f"{r.url} {r.failure}"))

    def on_request(request):
        host = urlparse(request.url).hostname
        if request.url.startswith("http") and host not in ("127.0.0.1", "localhost"):
            seen["foreign"].append(request.url)

    def on_response(response):
        try:
            seen["bytes"] += len(response.body())
        except Exception:  # noqa: BLE001 - redirects and aborted bodies have none
            pass

    page.on("request", on_request)
    page.on("response", on_response)
    page.goto(url, wait_until="networkidle")
    return context, page, seen


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("source", PAGES)
def test_page_renders_cleanly(browser, site_url, source, scheme):
    with opened(browser, f"{site_url}/{url_path(source)}", scheme) as (page, seen):
        assert not seen["console"], seen["console"]
        assert not seen["failed"], seen["failed"]
        assert not seen["foreign"], seen["foreign"]
        palette = page.evaluate("document.body.getAttribute('data-md-color-scheme')")
        assert palette == ("slate" if scheme == "dark" else "default")
        sizes = page.evaluate("""() => [...document.querySelectorAll('.md-content svg.course-figure, .md-content img')]
            .map(e => { const r = e.getBoundingClientRect(); return [e.getAttribute('aria-labelledby') || e.src, r.width, r.height]; })""")
        assert all(w > 0 and h > 0 for _, w, h in sizes), sizes
        text = page.inner_text(".md-content")
        assert "\\(" not in text and "\\[" not in text and "$$" not in text, "raw TeX left on the page"
        maths = page.evaluate("[...document.querySelectorAll('math')].map(m => m.getBoundingClientRect().width)")
        assert all(w > 0 for w in maths)
        if source.endswith(".md"):
            assert seen["bytes"] < 1_000_000, f"{source}: first visit transfers {seen['bytes']:,} bytes"
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{url_path(source).strip('/').replace('/', '_') or 'index'}-{scheme}.png"),
                        full_page=True)


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (npm ci)")
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("source", PAGES)
def test_no_serious_accessibility_violations(browser, site_url, source, scheme):
    with opened(browser, f"{site_url}/{url_path(source)}", scheme) as (page, _):
        page.add_script_tag(path=str(AXE))
        found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
        serious = [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in found if v["impact"] in ("serious", "critical")
        ]
        assert not serious, json.dumps(serious, indent=1)


def test_search_finds_the_kv_cache(browser, site_url):
    with opened(browser, f"{site_url}/", "light") as (page, _):
        page.click(".md-search__input")
        page.keyboard.type("KV cache")  # Material searches on key events, not on a filled value
        page.wait_for_selector(".md-search-result__item", timeout=10_000)
        hrefs = page.eval_on_selector_all(".md-search-result__item a", "els => els.map(e => e.href)")
        assert any("02_kv_cache" in h for h in hrefs), hrefs


def test_the_palette_toggle_switches_scheme(browser, site_url):
    with opened(browser, f"{site_url}/01_memory_bound/", "light") as (page, _):
        page.click("label.md-header__button[for='__palette_1']")
        assert page.evaluate("document.body.getAttribute('data-md-color-scheme')") == "slate"
