"""Small text helpers for pages and the command line: markdown tables, and escaping data.

Data strings (device and model names, notes, anything read from a file) are escaped before
they reach a page, by one function (escape_markdown), so a '<', a '_' or a '{' in them shows as
itself instead of becoming HTML, emphasis, an attribute or a split table cell. Markdown written
by the page's own code (**bold**, [text](link), `code`) is marked as such: Markdown(...).
"""

from __future__ import annotations

import html
import re
from typing import Iterable, Sequence


def slug(text: str) -> str:
    """Lower-case letters and digits joined by '-': 'NVIDIA H200' -> 'nvidia-h200' (file names, ids)."""
    return re.sub(r"-+", "-", "".join(c if c.isalnum() else "-" for c in text.lower())).strip("-")


def escape_html(text: object) -> str:
    """`text` with &, <, > and both quotes as HTML entities: safe in page prose and attributes."""
    return html.escape(str(text), quote=True)


_MARKDOWN_SYNTAX = re.compile(r"([\\`*_{}\[\]|~^$#])")


def escape_markdown(text: object) -> str:
    """A data string (a device name, a kernel, a flag) as literal text in Markdown and the HTML it
    becomes, on one line: line breaks folded to spaces, &, <, > as entities, and every character
    that Markdown or this site's extensions read as syntax backslash-escaped (emphasis `*` `_`,
    code spans, links `[ ]`, attr_list `{ }`, table cells `|`, `~` and `^`, math `$`, `#`). It still reads in
    a terminal: `float*` shows as `float\\*`."""
    text = re.sub(r"\s*[\r\n]+\s*", " ", str(text))
    return _MARKDOWN_SYNTAX.sub(r"\\\1", html.escape(text, quote=False))


class Markdown(str):
    """A table cell the page's own code wrote as Markdown (**bold**, [text](link), `code`):
    markdown_table passes it through as written. Only for text no data file can reach."""


def markdown_table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], align: str | None = None, escape: bool = True
) -> str:
    """A GitHub-style markdown table. `align` is one of 'l', 'r', 'c' per column (default: l then r).

    Every header and cell goes through escape_markdown, except one marked `Markdown(...)` (the
    page's own Markdown) and every one when escape=False (only for cells the caller has escaped).
    """
    def cell(text: object) -> str:
        return str(text) if not escape or isinstance(text, Markdown) else escape_markdown(text)

    headers = [cell(h) for h in headers]
    rows = [[cell(c) for c in row] for row in rows]
    align = align or "l" + "r" * (len(headers) - 1)
    if len(align) != len(headers) or any(len(row) != len(headers) for row in rows):
        raise ValueError("every row and the alignment need one entry per header")
    rule = {"l": ":--", "r": "--:", "c": ":-:"}
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join(rule[a] for a in align) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
    return "\n".join(lines)
