"""Data strings reach pages and figures inert: escaped in markdown tables, prose and SVG, and
never parsed as matplotlib mathtext."""

import re

import markdown

from snippets.report import Markdown, escape_html, escape_markdown, markdown_table
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


def test_page_markdown_in_cells_keeps_working_when_marked():
    page = render(markdown_table(["a", "b"], [[Markdown("**bold** and [text](other.md)"), Markdown("`--out` and `x|y`")]]))
    assert "<strong>bold</strong>" in page and '<a href="other.md">text</a>' in page
    assert "<code>--out</code>" in page and "<code>x|y</code>" in page and page.count("<td") == 2


def test_escape_false_passes_cells_through():
    assert markdown_table(["a"], [["<b>x</b>"]], align="l", escape=False).endswith("| <b>x</b> |")


def test_helpers():
    assert escape_html(HOSTILE) == "&lt;script&gt;alert(1)&lt;/script&gt; $x$ | &amp; &quot;q&quot;"
    assert escape_markdown("a | b\nc & <d>") == "a \\| b c &amp; &lt;d&gt;"
    assert escape_markdown("`<kbd>` $x$ _y_ {z}") == "\\`&lt;kbd&gt;\\` \\$x\\$ \\_y\\_ \\{z\\}"


def test_data_markdown_in_cells_stays_text():
    page = render(markdown_table(["a"], [["**bold** [text](other.md) `code` _x_{: onfocus=alert(2) }"]]))
    assert "<strong>" not in page and "<a " not in page and "<code>" not in page and "<em>" not in page


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


PAYLOADS = ("X<img src=x onerror=alert(1)>", "_x_{: tabindex=1 autofocus onfocus=alert(2) }", "a\n# heading\n!!! note",
            "`code` [link](javascript:alert(3)) ~~s~~ ^^c^^ | cell")


def site_markdown(text: str) -> str:
    """Markdown rendered with the extensions of mkdocs.yml that read inline syntax."""
    return markdown.markdown(text, extensions=["tables", "attr_list", "admonition", "md_in_html", "pymdownx.tilde",
                                               "pymdownx.caret", "pymdownx.superfences"])


def hostile_run(payload: str) -> dict:
    """A recorded run whose free-text fields (issue 23's list) all carry `payload`."""
    import copy
    from pathlib import Path

    from snippets import results

    docs = results.load_folder(Path(__file__).resolve().parents[1] / "docs" / "results")
    doc = copy.deepcopy(next(d for d in docs if d.get("quant") and d.get("profile")))
    doc["device"]["name"] = doc["device"]["torch"] = payload
    for section in ("bandwidth", "decode", "prefill", "mixed", "verify", "quant", "attention"):
        for row in doc.get(section) or []:
            row["flags"] = [payload]
            for key in ("path", "format", "kernel"):
                if isinstance(row.get(key), str) and section != "bandwidth":
                    row[key] = payload
    for kernel in (doc.get("profile") or {}).get("kernels", []):
        kernel["name"] = payload
    if doc.get("speculative"):
        doc["speculative"]["draft_model"] = payload
    return doc


def test_a_hostile_string_in_any_free_text_field_of_a_run_stays_text_in_every_table():
    from snippets import results

    for payload in PAYLOADS:
        doc = hostile_run(payload)
        tables = [results.overview_table([doc])] + [getattr(results, name)(doc) for name in (
            "bandwidth_table", "matmul_table", "decode_table", "prefill_table", "attention_table", "mixed_table", "verify_table", "quant_table",
            "speculative_table", "profile_table")]
        html_out = site_markdown("\n\n".join(tables))
        assert not re.search(r"<[^>]*\bon\w+=", html_out), payload  # no element carries an event handler
        assert not re.search(r"<(img|h1|em|del|sup|code)\b", html_out) and "admonition" not in html_out, payload
        assert 'href="javascript' not in html_out, payload  # the only links are the table's own file links
