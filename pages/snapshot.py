"""Each page as a reader sees it, committed to pages/snapshots/<page>.md: the Markdown with every
`#!val` replaced by its value and every code block by what it printed (a figure by its title),
so that a data change shows up in review as changed sentences and table rows.

`python -m pages snapshot --update` rewrites them; the tests compare. The region between a
page's live-measurement markers (a measurement of the building machine) is left out.
"""

from __future__ import annotations

import html
import re
import textwrap
from pathlib import Path

from pages import registry, values
from pages.compute import PageRun

SNAPSHOTS = Path(__file__).parent / "snapshots"
_LIVE = re.compile(r"<!-- live-measurement: start -->.*?<!-- live-measurement: end -->", re.S)
_FENCE = re.compile(r"^(?P<indent> *)```python exec=\"on\"[^\n]*\n.*?^(?P=indent)```$", re.M | re.S)
_INLINE = re.compile(r"`#!(val|math|claim) ([^`]+)`")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.S)


def path(page: str) -> Path:
    return SNAPSHOTS / Path(page).with_suffix(".md").name


def shown(output: str) -> str:
    """A block's output as the snapshot keeps it: a figure by its title, anything else as printed."""
    if "<svg" in output:
        return "\n".join(f"[figure: {html.unescape(title)}]" for title in _TITLE.findall(output))
    return output.rstrip("\n")


def inline(match: re.Match) -> str:
    kind, source = match.groups()
    if kind == "val":
        return values.render(source)
    if kind == "math":
        return f"${values.lookup(source)}$"
    return ""  # a claim's citation shows nothing in the text


def resolve(run: PageRun) -> str:
    """The page's Markdown with values and block outputs in place."""
    if run.errors:
        raise RuntimeError(f"{run.page}: blocks failed: {', '.join(run.errors)}")
    text = _LIVE.sub("[live measurement: measured by each build]", (registry.DOCS / run.page).read_text(encoding="utf-8"))
    kept = set(re.findall(r'^ *```python exec="on"[^\n]*\bid="([^"]+)"', text, re.M))  # not the live region's
    outputs = iter(run.outputs[b.id] for b in registry.blocks(run.page) if b.id in kept)
    text = _INLINE.sub(inline, text)  # the page's own values, not text its blocks print (a file shown as it is)
    text = _FENCE.sub(lambda m: textwrap.indent(shown(next(outputs)), m["indent"]), text)
    return _CELL.sub(cell, text)


_CELL = re.compile(r"^```cell\n(?P<reference>[^\n]+)\n```$", re.M)


def cell(match: re.Match) -> str:
    """An editable cell as its code and what the build printed (pages/cells.py)."""
    found = values.lookup(match["reference"].strip())
    return f"```python\n{found.code}```\n\n[cell output]\n\n```text\n{found.output()}```"

