"""Work that a build hands to a worker process: figures, and slow calls started early.

While MkDocs builds (hooks/background.py starts a `Background` and sets `vis.cache.background`):

- `vis.cache.cached` does not draw a figure (a function of the `vis` package; it returns inline
  SVG) that is not in the cache: it sends the drawing to a worker process and returns a
  placeholder, an empty <svg> element. The pages' code goes on running meanwhile; the hook
  replaces each placeholder with its figure before the page is indexed for search and written.
- `vis.cache.prefetch`, called by the hook when the build begins, starts a slow call (the
  chapter 2 measurement) in a worker; `cached` with the same call later takes its result.

Work the workers have not started when the main process needs its result, or while the main
process waits for another result, runs in the main process instead: no process sits idle while
work is queued. Errors are not swallowed: a figure whose drawing fails logs a warning with the
traceback (a strict build fails) and shows the traceback in its place, as markdown-exec does for
a failing block; a prefetched call that fails raises in the block that needs its result. Python
warnings raised in a worker are raised again in the main process.

Outside a build (tests, `python -m vis`, pytest-markdown-docs) none of this runs: `cached`
computes in place. The results are the same either way: a figure's bytes depend only on its
inputs (vis.svg), not on the process that drew it.
"""

from __future__ import annotations

import atexit
import gc
import html
import logging
import multiprocessing
import os
import pickle
import re
import traceback
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from vis import cache

log = logging.getLogger("mkdocs.plugins.background")
#: Where a figure will go. An empty <svg>: Markdown wraps it in a paragraph as it wraps the
#: figure's own <svg> (a comment, which Markdown takes for a block, would lose the paragraph).
PLACEHOLDER = re.compile(r'<svg data-background-figure="(\d+)"></svg>')


def workers() -> int:
    """How many worker processes a build starts: one per core that is free beside the main
    process (which stays busy with the pages), at most 4, where the last minute's load average
    tells how many cores other work keeps busy (as `make --load-average` does): a worker costs
    its own imports (torch, for chapter 2's measurement: about 2 s of CPU), which pay only on a
    core of its own. COURSE_BUILD_WORKERS sets the number; 0 computes everything in the main
    process, as outside a build."""
    if os.environ.get("COURSE_BUILD_WORKERS", "").strip():
        return max(0, int(os.environ["COURSE_BUILD_WORKERS"]))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not on this platform
        load = 0.0
    return max(0, min(4, cores - 1, round(cores - load)))


def is_figure(fn: Callable) -> bool:
    return fn.__module__.split(".")[0] == "vis"


def _start_worker() -> None:
    """In a new worker. Like the main process (hooks/gc_freeze.py), it keeps the garbage
    collector off what earlier work left (imports, results): each job freezes what exists when it
    starts, and what exists at exit stays frozen, so exiting does not walk torch's objects again."""
    atexit.register(gc.freeze)


def _work(fn: Callable, args: tuple, kwargs: dict, path: Path | None):
    """In a worker: the call's value, stored in the cache (when `path` is given), and the Python
    warnings it raised."""
    gc.freeze()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = cache.compute(fn, args, kwargs, path)
    return value, [(str(w.message), w.category, w.filename, w.lineno) for w in caught]


@dataclass(eq=False)
class Job:
    fn: Callable
    args: tuple
    kwargs: dict
    path: Path | None
    future: Future
    shown: bool = False  # a figure whose placeholder was filled
    _value: object = field(default=None, repr=False)
    _error: Exception | None = None
    _done: bool = False

    @property
    def name(self) -> str:
        return f"{self.fn.__module__}.{self.fn.__qualname__}"

    def take_over(self) -> bool:
        """Compute here if no worker has started this job; False if one has."""
        if self._done or not self.future.cancel():
            return False
        try:
            self._value = cache.compute(self.fn, self.args, self.kwargs, self.path)
        except Exception as error:  # noqa: BLE001 - raised by value(), where the result is needed
            self._error = error
        self._done = True
        return True

    def value(self):
        """The result (waiting for the worker's); raises what the call raised."""
        if not self._done:
            try:
                self._value, caught = self.future.result()
            except BrokenProcessPool:  # the worker died (not the call's fault): compute here
                log.info("a worker process stopped; computing %s in the main process", self.name)
                self._value, caught = _work(self.fn, self.args, self.kwargs, self.path)
            self._done = True
            for message, category, filename, lineno in caught:
                warnings.warn_explicit(message, category, filename, lineno)
        if self._error is not None:
            raise self._error
        return self._value


class Background:
    """The worker processes of one build, and the work handed to them."""

    def __init__(self, processes: int | None = None):
        self.processes = workers() if processes is None else processes
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False
        self.figures: list[Job] = []
        self.prefetched: dict[str, Job] = {}

    def start(self) -> None:
        """Start the workers now, not with the first work (a build with everything in the cache
        otherwise starts none)."""
        pool = self._executor()
        if pool is not None:
            for _ in range(self.processes):
                pool.submit(int)

    def _executor(self) -> ProcessPoolExecutor | None:
        """The pool, started on first use; None once closed, or where processes cannot start."""
        if self._pool is None and not self._closed and self.processes > 0:
            try:  # spawned, not forked: `mkdocs serve` runs threads
                self._pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_start_worker)
            except (OSError, ImportError, NotImplementedError) as error:  # e.g. no /dev/shm for its locks
                log.info("no worker processes (%s): the build computes everything itself", error)
                self._closed = True
        return self._pool

    def _submit(self, fn: Callable, args: tuple, kwargs: dict, path: Path | None) -> Job | None:
        """A job for a worker, or None: the caller computes in place."""
        try:
            pickle.dumps((fn, args, kwargs))
        except Exception:  # noqa: BLE001 - cannot travel to a worker
            return None
        pool = self._executor()
        if pool is None:
            return None
        try:
            return Job(fn, args, kwargs, path, pool.submit(_work, fn, args, kwargs, path))
        except BrokenProcessPool:  # a worker died: no more work for the pool
            self._closed = True
            return None

    @staticmethod
    def _call_name(fn: Callable, args: tuple, kwargs: dict) -> str:
        return f"{fn.__module__}.{fn.__qualname__}{args!r}{sorted(kwargs.items())!r}"

    def prefetch(self, fn: Callable, args: tuple, kwargs: dict, path: Path | None) -> None:
        name = self._call_name(fn, args, kwargs)
        if name not in self.prefetched:
            job = self._submit(fn, args, kwargs, path)
            if job is not None:
                self.prefetched[name] = job

    def call(self, fn: Callable, args: tuple, kwargs: dict, path: Path | None):
        """vis.cache.cached's answer for a call the cache does not hold."""
        job = self.prefetched.pop(self._call_name(fn, args, kwargs), None)
        if job is not None:
            return self._result(job)
        if is_figure(fn):
            job = self._submit(fn, args, kwargs, path)
            if job is not None:
                self.figures.append(job)
                return f'<svg data-background-figure="{len(self.figures) - 1}"></svg>'
        return cache.compute(fn, args, kwargs, path)

    def _result(self, job: Job):
        """`job`'s value. While a worker works on it, the main process draws queued figures."""
        if job.take_over():
            return job.value()
        while not job.future.done():
            queued = next((other for other in self.figures if other.take_over()), None)
            if queued is None:
                wait([job.future], return_when=FIRST_COMPLETED)
        return job.value()

    def submitted_all(self) -> None:
        """No more work will come (every page has run its code): the workers exit once the work
        they hold is done, while the build goes on. Later calls compute in place."""
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def fill(self, content: str, where: str) -> str:
        """`content` with each figure placeholder replaced by its figure (or by the error)."""
        return PLACEHOLDER.sub(lambda match: self._figure(self.figures[int(match.group(1))], where), content)

    def _figure(self, job: Job, where: str) -> str:
        job.shown = True
        try:
            svg = self._result(job)
            if not (isinstance(svg, str) and svg.startswith("<svg")):
                raise TypeError(f"{job.name} returned {str(svg)[:40]!r}, not an inline SVG (vis.svg.to_svg)")
            return svg
        except Exception as error:  # noqa: BLE001 - reported: a warning (strict fails) and the traceback in the page
            text = "".join(traceback.format_exception(error))
            log.warning("%s: drawing the figure %s failed:\n%s", where, job.name, text)
            return f'<pre class="figure-error"><code>{html.escape(text)}</code></pre>'

    def close(self, cancel: bool = False) -> None:
        """Wait for the remaining work (a figure drawn but never shown still reports its
        errors), then let the workers exit without waiting for them (the interpreter does, at
        exit); `cancel` drops the work instead (the build failed)."""
        try:
            if not cancel:
                for job in self.figures:
                    if not job.shown:
                        self._figure(job, "a figure no page showed")
        finally:
            self._closed = True
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=cancel)
