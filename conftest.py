"""Shared pytest set-up.

pytest-markdown-docs runs each Python block of docs/ on its own, while markdown-exec runs a
page's blocks in one session. Each page opens with a hidden set-up block (id ending in
"-setup") that defines the names its other blocks use; this hook gives every tested block
those same names, by running the set-up blocks themselves (no second copy to drift).
"""

import os
import re
from pathlib import Path

os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")

DOCS = Path(__file__).parent / "docs"
SETUP_BLOCK = re.compile(r'^```python exec="on" session="[^"]+" id="[^"]+-setup"\n(.*?)^```', re.M | re.S)


def pytest_markdown_docs_globals():
    names: dict = {}
    for page in sorted(DOCS.rglob("*.md")):
        for code in SETUP_BLOCK.findall(page.read_text(encoding="utf-8")):
            exec(compile(code, f"{page.name} set-up block", "exec"), names)
    return names
