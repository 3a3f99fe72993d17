"""The compute stage: run every page's code blocks before the build, so that the store holds
every slow result and every figure, and `mkdocs build` only reads.

Like d2lbook's `eval` stage, it runs each page's `python exec="on"` blocks exactly as the build
will (pages/registry.py finds them), one page per process of a plain process pool. A block that
fails is reported with its page, its id and its traceback.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from pages import registry


@dataclass(frozen=True)
class PageRun:
    page: str
    outputs: dict[str, str]  # block id -> what it printed
    errors: dict[str, str]  # block id -> traceback
    seconds: float


def run_block(block: registry.Block) -> str:
    """What the block prints, run as markdown-exec runs it: fresh globals, stdout captured."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block.code, f"<code block: {block.page} {block.id}>", "exec"), {"__name__": "__main__"})
    return out.getvalue()


def run_page(page: str) -> PageRun:
    start = time.perf_counter()
    outputs, errors = {}, {}
    for block in registry.blocks(page):
        try:
            outputs[block.id] = run_block(block)
        except Exception:  # noqa: BLE001 - reported with the page and block
            errors[block.id] = traceback.format_exc()
    return PageRun(page, outputs, errors, time.perf_counter() - start)


def _work_first(pages: list[str]) -> list[str]:
    """The pages with the most module code first (chapter 3's simulations), so that a pool of
    two does not leave the longest page to the end."""
    def code_bytes(page: str) -> int:
        return sum(registry.load_path(name).stat().st_size for name in registry.cited_modules(page))

    return sorted(pages, key=code_bytes, reverse=True)


def _quiet_worker(live: bool) -> None:
    if live:
        os.environ["COURSE_LIVE"] = "1"


def run_pages(pages: list[str], jobs: int = 1, live: bool = False) -> list[PageRun]:
    """Run the pages' blocks, `jobs` pages at a time, in nav order in the result."""
    order = _work_first(pages)
    if jobs <= 1:
        _quiet_worker(live)
        runs = [run_page(page) for page in order]
    else:
        with ProcessPoolExecutor(jobs, initializer=_quiet_worker, initargs=(live,)) as pool:
            runs = list(pool.map(run_page, order))
    by_page = {run.page: run for run in runs}
    return [by_page[page] for page in pages]
