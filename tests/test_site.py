"""The whole site: strict build, deterministic output, offline, every nav page built."""

import re
from pathlib import Path

from site_pages import built_html, nav_sources

#: Files that may differ between two builds: the sitemap carries the build date. Live measurements
#: sit between LIVE markers (masked below) and are left out of the search index.
MAY_DIFFER = {"sitemap.xml", "sitemap.xml.gz"}
LIVE = re.compile(r"<!-- live-measurement: start -->.*?<!-- live-measurement: end -->", re.S)


def masked(page: Path) -> bytes:
    """The file's bytes, with any live measurement region replaced by a marker."""
    data = page.read_bytes()
    if page.suffix != ".html":
        return data
    return LIVE.sub("<!-- live measurement -->", data.decode("utf-8")).encode("utf-8")


def inline_svgs(page: Path) -> list[str]:
    return re.findall(r"<svg role=\"img\".*?</svg>", masked(page).decode("utf-8"), re.S)


def test_strict_build_has_no_warnings(sites):
    for _, log in sites:
        assert "WARNING" not in log, log


def test_every_nav_page_is_built(sites):
    for source in nav_sources():
        assert built_html(sites[0][0], source).exists(), source


def differing_files(first: Path, second: Path) -> list[str]:
    """Files present in one site only, or whose bytes differ outside the live region."""
    files = {p.relative_to(first).as_posix() for p in first.rglob("*") if p.is_file()}
    others = {p.relative_to(second).as_posix() for p in second.rglob("*") if p.is_file()}
    return sorted((files ^ others) | {f for f in files & others if masked(first / f) != masked(second / f)})


def test_two_clean_builds_are_byte_identical(sites):
    differ = differing_files(sites[0][0], sites[1][0])
    assert set(differ) <= MAY_DIFFER, sorted(set(differ) - MAY_DIFFER)


def test_a_figure_that_changes_between_builds_is_caught(tmp_path):
    """The comparison itself: a figure embedding a time differs, a live region may."""
    for name, stamp in (("a", 1), ("b", 2)):
        page = tmp_path / name / "page" / "index.html"
        page.parent.mkdir(parents=True)
        page.write_text(f'<svg role="img"><title>drawn at {stamp}</title></svg>'
                        f"<!-- live-measurement: start -->{stamp}<!-- live-measurement: end -->", encoding="utf-8")
    assert differing_files(tmp_path / "a", tmp_path / "b") == ["page/index.html"]


def test_live_measurement_is_marked_and_kept_out_of_search(sites):
    page = (sites[0][0] / "02_kv_cache" / "index.html").read_text(encoding="utf-8")
    assert len(LIVE.findall(page)) == 1 and "measured-generation-title" in LIVE.findall(page)[0]
    index = (sites[0][0] / "search" / "search_index.json").read_text(encoding="utf-8")
    assert "Same tokens with and without the cache" not in index


def test_figures_identical_across_builds(sites):
    figures = 0
    for page in sorted(sites[0][0].rglob("*.html")):
        twin = sites[1][0] / page.relative_to(sites[0][0])
        assert inline_svgs(page) == inline_svgs(twin), page
        figures += len(inline_svgs(page))
    assert figures >= 10


def test_no_executed_block_failed(sites):
    for page in sites[0][0].rglob("*.html"):
        assert "Traceback (most recent call last)" not in page.read_text(encoding="utf-8"), page


def test_math_is_rendered_as_mathml(sites):
    for page in ("01_memory_bound", "02_kv_cache", "run_on_your_hardware"):
        text = (sites[0][0] / page / "index.html").read_text(encoding="utf-8")
        assert "<math" in text, page
        assert 'class="arithmatex"' not in text, page


def test_nothing_loads_from_third_party_hosts(sites):
    # links (<a href>, rel="canonical") to other sites are fine; scripts, styles, fonts and images are not
    for page in sites[0][0].rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        for tag in re.findall(r"<(?:script|link|img|iframe|source)\b[^>]*>", text):
            if 'rel="canonical"' in tag:
                continue
            assert not re.search(r'(?:src|href)="(?:https?:)?//', tag), (page, tag)
    for css in sites[0][0].rglob("*.css"):
        assert not re.search(r"@import\s+url\(\s*['\"]?https?://", css.read_text(encoding="utf-8")), css


def test_chapter_pages_stay_small(sites):
    for source in nav_sources():
        if source.endswith(".md"):
            assert built_html(sites[0][0], source).stat().st_size < 1_000_000, source


def test_every_internal_link_and_anchor_resolves(sites):
    """Crawls the built HTML (generated tables, notebooks and navigation included)."""
    site = sites[0][0]
    ids_cache: dict[Path, set[str]] = {}

    def ids(page: Path) -> set[str]:
        if page not in ids_cache:
            ids_cache[page] = set(re.findall(r'\bid="([^"]+)"', page.read_text(encoding="utf-8")))
        return ids_cache[page]

    broken = []
    for page in sorted(site.rglob("*.html")):
        for href in re.findall(r'<a\b[^>]*\bhref="([^"]*)"', page.read_text(encoding="utf-8")):
            if re.match(r"^(?:[a-z]+:|//)", href) or href == "":
                continue  # external, mailto:, javascript: and the like
            path, _, fragment = href.partition("#")
            base = site if path.startswith("/") else page.parent  # 404.html links from the root
            target = (base / path.lstrip("/")).resolve() if path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site)} -> {href}")
            elif fragment and target.suffix == ".html" and fragment not in ids(target):
                broken.append(f"{page.relative_to(site)} -> {href} (no such anchor)")
    assert not broken, broken
