"""MkDocs hook: the search plugin reads a light copy of each page: figures left out (their text is
axis ticks) and code blocks without their syntax-highlighting spans, which index to the same text.
Those were half the tags it parsed and about a fifth of a warm build; the page gets them back, or
the build fails naming the page."""

import logging
import re

from mkdocs.plugins import event_priority

log = logging.getLogger("mkdocs.plugins.search_light")
_HEAVY = re.compile(r"<svg\b.*?</svg>|<pre\b.*?</pre>", re.S)
_SPAN = re.compile(r"</?span\b[^>]*>")
_HELD = re.compile(r"<!--search-light:held-->.*?<!--/search-light-->", re.S)
held: dict[str, list[str]] = {}  # page URL -> its figures and code blocks, between the two events


def _light(heavy: re.Match) -> str:
    searched = "" if heavy[0].startswith("<svg") else _SPAN.sub("", heavy[0])
    return f"<!--search-light:held-->{searched}<!--/search-light-->"


@event_priority(100)  # before the search plugin reads page.content
def on_page_context(context, page, **kwargs):
    held[page.url] = _HEAVY.findall(page.content or "")
    page.content = _HEAVY.sub(_light, page.content or "")


def on_post_page(output, page, **kwargs):
    originals = held.pop(page.url, [])
    restored = iter(originals)
    output, found = _HELD.subn(lambda m: next(restored, m[0]), output)
    if found != len(originals):
        log.warning("%s: %d figures and code blocks were held from search, %d found again in the page",
                    page.file.src_uri, len(originals), found)
    return output
