"""MkDocs hook: a code block that prints a figure must be marked html="true"; without it
markdown-exec hands the SVG to Markdown, which wraps its lines in <p> and <br /> and shows it as
loose text. The build then fails with an error naming the page and the figure (the compute stage
names the block: pages.compute)."""

import logging
import re

log = logging.getLogger("mkdocs.plugins.figure_blocks")
_SVG = re.compile(r"<svg\b.*?</svg>", re.S)
_TITLE = re.compile(r'<title id="([^"]+)-title"')


def broken_figures(html: str) -> list[str]:
    """The ids (or 'an untitled figure') of the SVGs in `html` that Markdown broke into paragraphs."""
    return [(_TITLE.search(svg) or [None, "an untitled figure"])[1] for svg in _SVG.findall(html)
            if re.search(r"<p>|<br ?/?>", svg)]


def on_page_content(html, page, **kwargs):
    for figure in broken_figures(html):
        log.error('%s: figure %s was printed by a block not marked html="true" (it renders as loose text): '
                  'add html="true" to its ```python exec="on" line', page.file.src_uri, figure)
    return html
