"""Shown code is run code: a listing in pages/listings/ is shown on its page as it is, and its
output is what running that file printed, from the store while the file and the course modules
it imports are unchanged (so that a warm build does not import torch for chapter 4's listing).

A page shows a listing in two tabs:

    === "Code"

        ```python
        --8<-- "pages/listings/ch4_quantize.py"
        ```

    === "Result"

        ```python exec="on" id="ch4-listing"
        from pages import listing

        print(listing.output("ch4_quantize"))
        ```
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from pages import store

LISTINGS = Path(__file__).parent / "listings"


def run(name: str, source: str, imports: str) -> str:
    """What the listing prints (`imports` is only part of the store's key)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, str(LISTINGS / f"{name}.py"), "exec"), {"__name__": "__main__"})
    return out.getvalue()


def output(name: str) -> str:
    source = (LISTINGS / f"{name}.py").read_text(encoding="utf-8")
    return store.cached(run, name, source, store.imports_digest(source))
