"""Data strings reach pages and figures inert: escaped in markdown tables, prose and SVG, and
never parsed as matplotlib mathtext."""

import re

import markdown

from snippets.report import escape_html, escape_markdown_cell, markdown_table
from vis.svg import course_style, new_figure, to_svg

HOSTILE = '<script>alert(1)</script> $x$ | & "q"'


def render(md: str) -> str:
    return markdown.markdown(md, extensions=["tables", "pymdownx.inlinehilite", "pymdownx.superfences"])


def test_markdown_table_escapes_cells_and_headers_by_default():
    table = markdown_table(["device", f"on the {HOSTILE}"], [[HOSTILE, 1]])
    assert "<script" not in table and "\\|" in table
    page = render(table)
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<td ") == 2 and page.count("<th ") == 2  # the '|' did not split a cell
    assert "| a | b |\n| :-- | --: |\n| 1 | 2 |" == markdown_table(["a", "b"], [[1, 2]])


def test_page_markdown_in_cells_keeps_working():
    page = render(markdown_table(["a", "b"], [["**bold** and [text](other.md)", "`--out` and `x|y`"]]))
    assert "<strong>bold</strong>" in page and '<a href="other.md">text</a>' in page
    assert "<code>--out</code>" in page and "<code>x|y</code>" in page and page.count("<td") == 2


def test_escape_false_passes_cells_through():
    assert markdown_table(["a"], [["<b>x</b>"]], align="l", escape=False).endswith("| <b>x</b> |")


def test_helpers():
    assert escape_html(HOSTILE) == "&lt;script&gt;alert(1)&lt;/script&gt; $x$ | &amp; &quot;q&quot;"
    assert escape_markdown_cell("a | b\nc & <d>") == "a \\| b c &amp; &lt;d&gt;"
    assert escape_markdown_cell("`<kbd>` <kbd>") == "`<kbd>` &lt;kbd&gt;"  # code spans are literal already


def test_hostile_name_is_inert_in_a_figure():
    with course_style():
        fig = new_figure(4, 3)
        ax = fig.add_subplot()
        ax.plot([1, 2], [1, 2], label=HOSTILE)
        ax.set_title(HOSTILE)
        ax.set_xlabel(HOSTILE)
        ax.text(1, 1, HOSTILE)
        ax.legend()
        svg = to_svg(fig, "hostile", f"{HOSTILE} title", f"{HOSTILE} description")  # no mathtext error
    assert "<script" not in svg.lower()
    assert '<title id="hostile-title">&lt;script&gt;alert(1)&lt;/script&gt; $x$ | &amp; &quot;q&quot; title</title>' in svg
    assert "&quot;q&quot; description</desc>" in svg
    drawn = [t for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg) if "script" in t]
    assert len(drawn) == 4  # title, label, text and legend, each drawn as written:
    assert all(t == "&lt;script&gt;alert(1)&lt;/script&gt; $x$ | &amp; \"q\"" for t in drawn), drawn
    assert "\\$" not in svg  # course_style turns mathtext off: '$' is drawn as written
