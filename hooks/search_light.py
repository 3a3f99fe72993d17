"""MkDocs hook: the search plugin reads a light copy of each page: figures left out (their text is
axis ticks) and code blocks without their syntax-highlighting spans, which index to the same text.
Those were half the tags it parsed and about a fifth of a warm build; the page gets them back."""

import re

from mkdocs.plugins import event_priority

_HEAVY = re.compile(r"<svg\b.*?</svg>|<pre\b.*?</pre>", re.S)
_SPAN = re.compile(r"</?span\b[^>]*>")
_HELD = re.compile(r"<!--held-->.*?<!--/held-->", re.S)
held: dict[str, list[str]] = {}  # page URL -> its figures and code blocks, between the two events


@event_priority(100)  # before the search plugin reads page.content
def on_page_context(context, page, **kwargs):
    held[page.url] = _HEAVY.findall(page.content or "")
    light = lambda m: "" if m[0].startswith("<svg") else _SPAN.sub("", m[0])  # noqa: E731
    page.content = _HEAVY.sub(lambda m: f"<!--held-->{light(m)}<!--/held-->", page.content or "")


def on_post_page(output, page, **kwargs):
    originals = iter(held.pop(page.url, []))
    return _HELD.sub(lambda m: next(originals), output)
