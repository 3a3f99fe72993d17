"""The whole site: a strict build passes, twice with byte-identical figures, offline."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def build(dest: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(dest)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    first, second = tmp_path_factory.mktemp("site1"), tmp_path_factory.mktemp("site2")
    for dest in (first, second):
        result = build(dest)
        assert result.returncode == 0, result.stdout + result.stderr
    return first, second


#: Figures that show a live measurement made during the build; they differ from build to build.
LIVE_FIGURES = ("measured-generation",)


def inline_svgs(page: Path) -> list[str]:
    svgs = re.findall(r"<svg role=\"img\".*?</svg>", page.read_text(encoding="utf-8"), re.S)
    return [svg for svg in svgs if not any(f'aria-labelledby="{name}-title' in svg for name in LIVE_FIGURES)]


def test_strict_build_has_no_warnings(sites):
    result = build(sites[0])
    assert "WARNING" not in result.stdout + result.stderr


def test_figures_identical_across_builds(sites):
    pages = sorted(sites[0].rglob("*.html"))
    figures = 0
    for page in pages:
        twin = sites[1] / page.relative_to(sites[0])
        assert inline_svgs(page) == inline_svgs(twin), page
        figures += len(inline_svgs(page))
    assert figures >= 10


def test_no_executed_block_failed(sites):
    for page in sites[0].rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" not in text, page


def test_math_is_rendered_as_mathml(sites):
    for page in ("01_memory_bound", "02_kv_cache", "run_on_your_hardware"):
        text = (sites[0] / page / "index.html").read_text(encoding="utf-8")
        assert "<math" in text, page
        assert 'class="arithmatex"' not in text, page


def test_nothing_loads_from_third_party_hosts(sites):
    # links (<a href>, rel="canonical") to other sites are fine; scripts, styles, fonts and images are not
    for page in sites[0].rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        for tag in re.findall(r"<(?:script|link|img|iframe|source)\b[^>]*>", text):
            if 'rel="canonical"' in tag:
                continue
            assert not re.search(r'(?:src|href)="(?:https?:)?//', tag), (page, tag)
    for css in sites[0].rglob("*.css"):
        assert not re.search(r"@import\s+url\(\s*['\"]?https?://", css.read_text(encoding="utf-8")), css
