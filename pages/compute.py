"""The compute stage (d2lbook's `eval`): run every page's code blocks before the build, a page per
process, so that the store holds every slow result and figure and `mkdocs build` only reads."""

from __future__ import annotations

import contextlib
import io
import multiprocessing
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


def run_page(page: str, live: bool = False) -> PageRun:
    """Each block run as markdown-exec runs it: fresh globals, what it prints captured."""
    if live:
        os.environ["COURSE_LIVE"] = "1"
    start, outputs, errors = time.perf_counter(), {}, {}
    for block in registry.blocks(page):
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(block.code, f"<code block: {page} {block.id}>", "exec"), {"__name__": "__main__"})
            outputs[block.id] = out.getvalue()
            if "<svg" in outputs[block.id] and not block.html:
                raise ValueError(f'block {block.id} prints a figure but is not marked html="true"')
        except Exception:  # noqa: BLE001 - reported with its page and block
            errors[block.id] = traceback.format_exc()
    return PageRun(page, outputs, errors, time.perf_counter() - start)


def run_pages(pages: list[str], jobs: int = 1, live: bool = False) -> list[PageRun]:
    """Run the pages' blocks, `jobs` pages at a time, the pages with the most module code first
    (chapter 3's simulations do not wait behind the rest); the result is in the order of `pages`."""
    size = {page: sum((registry.ROOT / "pages" / f"{m}.py").stat().st_size for m in registry.cited_modules(page))
            for page in pages}
    order = sorted(pages, key=size.get, reverse=True)
    # spawned, not forked: a fork of a process whose torch or OpenMP threads ran can hang
    spawned = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) if jobs > 1 else None
    with spawned or contextlib.nullcontext() as pool:
        runs = list((pool.map if pool else map)(run_page, order, [live] * len(order)))
    return sorted(runs, key=lambda run: pages.index(run.page))
