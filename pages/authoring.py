"""Values and claims of docs/authoring.md: the example of how a page is written."""

from __future__ import annotations

import re
from pathlib import Path

from pages.claims import claim
from snippets import hardware
from snippets.report import Markdown, markdown_table

PAGE = "authoring.md"

h100 = hardware.get("H100 SXM")
# --8<-- [start:claim]
ridge = h100.ridge_point("bf16")  # FLOP/byte where the compute roof meets the memory roof
needs_hundreds = claim("the H100 SXM needs hundreds of FLOPs per byte to be compute-bound", ridge > 100)
# --8<-- [end:claim]


# ---- A new page, start to finish: the worked example, shown from its files ----------------------
EXAMPLE = Path(__file__).resolve().parents[1] / "docs_src" / "new_page"  # tests/test_new_page.py builds it


def example_file(path: str, language: str, title: str = "") -> str:
    """A file of docs_src/new_page/, fenced and titled with where it goes in the course. A
    `--8<--` line is escaped (`;--8<--`), so that it is shown, not included."""
    text = re.sub(r"^( *)--8<--", r"\1;--8<--", (EXAMPLE / path).read_text(encoding="utf-8"), flags=re.M)
    return f'````{language} title="{title or path}"\n{text}````'


#: What the strict build says when a step of the example is left out (tests/test_new_page.py leaves
#: out each and finds the message in the build's output).
FORGOTTEN = {
    "the nav entry": 'The following pages exist in the docs directory, but are not included in the "nav" '
                     "configuration:\n  - l4.md",
    "the page module": "there is no page module pages/l4.py",
    "the page module's PAGE": 'docs/l4.md cites claim l4.batch_1_memory_bound, but pages/l4.py declares no PAGE: '
                              'add PAGE = "l4.md" to it',
    "a citation of the page module": "pages/l4.py is the module of docs/l4.md, which cites nothing from it: write "
                                     "its values there (`#!val l4.<name>`) or import it in a block "
                                     "(`from pages import l4`)",
    "a value": "pages/l4.py has no value 'ridge'",
    "a claim": "docs/l4.md cites claim l4.batch_1_memory_bound, which pages/l4.py does not assert: add "
               'batch_1_memory_bound = claim("<the sentence>", <condition>) to it',
    "a claim's citation": "docs/l4.md: no sentence cites claim l4.batch_1_memory_bound (one decode step of "
                          "Llama-3.1-8B at batch 1 is memory-bound on the L4) of pages/l4.py: end the sentence "
                          "that makes it with `#!claim l4.batch_1_memory_bound`",
    'html="true" on a figure\'s block': 'l4.md: figure roofline-chart was printed by a block not marked '
                                        'html="true" (it renders as loose text): add html="true" to its '
                                        '```python exec="on" line',
    "the listing": "Snippet at path 'pages/listings/l4_batch.py' could not be found",
}


def forgotten_table() -> str:
    """Each step left out, and the line the build fails with (on one line here)."""
    rows = [[f"{step}", Markdown(f"`` {message.replace(chr(10) + '  - ', ' ')} ``")] for step, message in FORGOTTEN.items()]
    return markdown_table(["left out", "the strict build fails with"], rows, align="ll")
