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


# ---- Figures: readable as drawn (vis/check.py), on a desktop and on a phone ------------------------

FIGURE_SELECTOR = ".md-content svg.course-figure"
PHONE = {"width": 390, "height": 844}


def opened_at(browser, url: str, scheme: str, viewport: dict):
    context = browser.new_context(color_scheme=scheme, viewport=viewport)
    page = context.new_page()
    page.goto(url, wait_until="networkidle")
    return context, page


def test_every_figure_on_the_site_is_readable(browser, site_url):
    """Every inline figure of every page (results files' and lab outputs included), at 1280 px: no TeX,
    no overlapping texts, none outside the figure, none under 9 px."""
    from vis.check import check_page

    checked, found = 0, []
    for source in PAGES:
        context, page = opened_at(browser, f"{site_url}/{url_path(source)}", "light", {"width": 1280, "height": 900})
        try:
            count, problems = check_page(page, FIGURE_SELECTOR, where=f"{source}: ")
        finally:
            context.close()
        checked += count
        found += problems
    print(f"{checked} figures checked on {len(PAGES)} pages")
    assert checked >= 30, checked
    assert not found, "\n".join(found)


def test_standalone_and_committed_figures_are_readable(browser, tmp_path):
    """The SVG `bench` writes beside its results file, and the committed vis/*.svg, each opened alone."""
    from snippets import results
    from snippets.bench.cli import write
    from vis.bench import draw
    from vis.check import check_page

    doc = results.load_folder(ROOT / "docs" / "results")[0]
    _, standalone = write(doc, tmp_path, draw=draw)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    found = []
    try:
        page.goto(standalone.as_uri())  # as a reader opens it: alone, at the size it declares
        count, problems = check_page(page, ":root", where=f"{standalone.name}: ")
        assert count == 1
        found += problems
        page = context.new_page()  # an HTML page (the standalone file left an SVG document)
        for path in sorted((ROOT / "vis").glob("*.svg")):  # at the width a 1280 px page gives a figure
            page.set_content(f'<!doctype html><div style="width:692px">{path.read_text(encoding="utf-8")}</div>')
            count, problems = check_page(page, "svg.course-figure", where=f"vis/{path.name}: ")
            assert count == 1, path
            found += problems
    finally:
        context.close()
    assert not found, "\n".join(found)


BAD_FIGURES = {
    "tex": '<text x="10" y="40" style="font: 12px sans-serif">$\\mathdefault{10^{2}}$</text>',
    "overlap": '<text x="10" y="40" style="font: 12px sans-serif">reserved: at most 102 running</text>'
               '<text x="60" y="44" style="font: 12px sans-serif">paged: at most 359 running</text>',
    "outside": '<text x="250" y="40" style="font: 12px sans-serif">a title cut at the right edge</text>',
    "small": '<text x="10" y="40" style="font: 5px sans-serif">tiny</text>',
}


@pytest.mark.parametrize("kind", BAD_FIGURES)
def test_the_figure_check_fails_a_bad_figure(browser, kind):
    """The check is able to fail: raw TeX, two overlapping labels, text out of the box, tiny text."""
    from vis.check import check_page

    svg = f'<svg class="course-figure" viewBox="0 0 300 100" style="width:300px">{BAD_FIGURES[kind]}</svg>'
    context = browser.new_context(viewport={"width": 400, "height": 300})
    page = context.new_page()
    try:
        page.set_content(f"<!doctype html><html><body>{svg}</body></html>")
        count, problems = check_page(page, "svg")
    finally:
        context.close()
    expected = {"tex": ["mathdefault{10^{2}}", "TeX source"], "overlap": ["reserved: at most 102 running",
                "paged: at most 359 running", "overlap"], "outside": ["out of the figure"], "small": ["under 9 px"]}
    assert count == 1 and len(problems) == 1, problems
    assert all(part in problems[0] for part in expected[kind]), problems


@pytest.mark.parametrize("scheme", SCHEMES)
def test_figures_are_legible_on_a_phone(browser, site_url, scheme):
    """At 390 x 844 every figure's text is at least 11 CSS px: each figure scrolls sideways in a
    focusable container at that scale, with a link that opens it alone; the page itself does not
    scroll sideways."""
    from vis.check import FIGURE_TEXTS_JS, PHONE_MIN_PX, smallest_px

    pages_with_figures = 0
    for source in PAGES:
        context, page = opened_at(browser, f"{site_url}/{url_path(source)}", scheme, PHONE)
        try:  # docs/javascripts/figures.js wraps the figures once the page has loaded
            page.wait_for_function("""(selector) => [...document.querySelectorAll(selector)]
                .every(svg => svg.parentElement.classList.contains('course-figure-scroll'))""", arg=FIGURE_SELECTOR,
                timeout=10_000)
            figures = page.evaluate(FIGURE_TEXTS_JS, FIGURE_SELECTOR)
            if not figures:
                continue
            pages_with_figures += 1
            boxes = page.evaluate("""(selector) => [...document.querySelectorAll(selector)].map(svg => {
                const box = svg.parentElement, link = box.nextElementSibling;
                return {wrapped: box.classList.contains('course-figure-scroll'), tabindex: box.getAttribute('tabindex'),
                        scrolls: box.scrollWidth > box.clientWidth, fits: box.getBoundingClientRect().right <= innerWidth,
                        link: link && link.matches('a.course-figure-open') ? link.href : null,
                        linkShown: !!(link && link.getClientRects().length)};
            })""", FIGURE_SELECTOR)
            page_width = page.evaluate("document.documentElement.scrollWidth")
        finally:
            context.close()
        assert page_width <= PHONE["width"], f"{source}: the page scrolls sideways ({page_width} px)"
        for figure, box in zip(figures, boxes):
            where = f"{source} {scheme}: {figure['name']}"
            assert smallest_px(figure) >= PHONE_MIN_PX - 0.05, f"{where}: smallest text {smallest_px(figure):.1f} px"
            assert box["wrapped"] and box["tabindex"] == "0" and box["fits"], (where, box)
            assert box["link"] and box["link"].startswith("blob:") and box["linkShown"], (where, box)
    assert pages_with_figures >= 8, pages_with_figures
