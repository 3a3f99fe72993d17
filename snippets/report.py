"""Small text helpers for pages and the command line: markdown tables."""

from __future__ import annotations

import re
from typing import Iterable, Sequence


def slug(text: str) -> str:
    """Lower-case letters and digits joined by '-': 'NVIDIA H200' -> 'nvidia-h200' (file names, ids)."""
    return re.sub(r"-+", "-", "".join(c if c.isalnum() else "-" for c in text.lower())).strip("-")


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]], align: str | None = None) -> str:
    """A GitHub-style markdown table. `align` is one of 'l', 'r', 'c' per column (default: l then r)."""
    rows = [[str(cell) for cell in row] for row in rows]
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
