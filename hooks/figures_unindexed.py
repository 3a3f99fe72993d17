"""MkDocs hook: the search index never sees a figure's SVG (its text is axis ticks, and parsing its
thousands of elements was a fifth of a warm build); the page gets it back once the template is rendered."""

import re

from mkdocs.plugins import event_priority

_SVG = re.compile(r"<svg\b.*?</svg>", re.S)
held: dict[str, list[str]] = {}  # page URL -> its figures, between the two events


@event_priority(100)  # before the search plugin reads page.content
def on_page_context(context, page, **kwargs):
    held[page.url] = _SVG.findall(page.content or "")
    page.content = _SVG.sub("<!--figure-->", page.content or "")


def on_post_page(output, page, **kwargs):
    figures = iter(held.pop(page.url, []))
    return re.sub("<!--figure-->", lambda m: next(figures), output)
