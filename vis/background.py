"""Work that a build hands to worker processes: figures, and slow calls started early.

While MkDocs builds (hooks/background.py starts a `Background` and sets `vis.cache.background`):

- `vis.cache.cached` does not draw a figure (a function of the `vis` package; it returns inline
  SVG) that is not in the cache: it queues the drawing for a worker process and returns a
  placeholder, an empty <svg> element. The pages' code goes on running meanwhile; the hook
  replaces each placeholder with its figure before the page is indexed for search and written.
- `vis.cache.prefetch`, called by the hook when the build begins, queues a slow call (the
  chapter 2 measurement); `cached` with the same call later takes its result.
- `prewarm` queues the import of a page module whose import computes slow cached results
  (chapter 4's quantization errors): a worker with nothing better to do imports it, so the
  results are in the cache when the main process reaches the page (`settle`).

A worker is handed one job at a time, so any job no worker has started can be taken back: the
main process does it itself when it needs the result, and while it waits for a worker it draws
queued figures. Errors are not swallowed: a figure whose drawing fails logs a warning with the
traceback (a strict build fails) and shows the traceback in its place, as markdown-exec does for
a failing block; a prefetched call that fails raises in the block that needs its result; a page
module whose import failed in a worker is imported again, and fails, in the main process.
Python warnings raised in a worker are raised again in the main process.

Outside a build (tests, `python -m vis`, pytest-markdown-docs) none of this runs: `cached`
computes in place. The results are the same either way: a figure's bytes depend only on its
inputs (vis.svg), not on the process that drew it.
"""

from __future__ import annotations

import atexit
import gc
import html
import importlib
import logging
import multiprocessing
import os
import pickle
import re
import threading
import traceback
import warnings
from collections import deque
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


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def workers() -> int:
    """How many worker processes a build may start: one per core beside the main process (which
    stays busy with the pages), at most 4. COURSE_BUILD_WORKERS sets the number; 0 computes
    everything in the main process, as outside a build."""
    if os.environ.get("COURSE_BUILD_WORKERS", "").strip():
        return max(0, int(os.environ["COURSE_BUILD_WORKERS"]))
    return max(0, min(4, _cores() - 1))


def spare_core() -> bool:
    """Whether other work leaves a core to a worker, by the last minute's load average (as
    `make --load-average` decides): less than the cores minus a quarter, so that the load of
    the builds before this one leaves it free. Chapter 2's measurement pays in a worker only
    then: the worker imports torch again (about 2 s of CPU). A warm build took 5 s with it in a
    worker, 6.3 s without, on two idle cores; 9.5 s with and 7 s without while other processes
    kept more than a core busy."""
    try:
        return os.getloadavg()[0] < _cores() - 0.25
    except (AttributeError, OSError):  # no load average on this platform
        return True


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
    # categories by name: the thread that receives a result should not import matplotlib to read it
    return value, [(str(w.message), w.category.__module__, w.category.__qualname__, w.filename, w.lineno)
                   for w in caught]


def _warning_category(module: str, qualname: str) -> type[Warning]:
    try:
        found = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return UserWarning
    return found if isinstance(found, type) and issubclass(found, Warning) else UserWarning


def _import(module: str) -> None:
    importlib.import_module(module)


@dataclass(eq=False)
class Job:
    fn: Callable
    args: tuple
    kwargs: dict
    path: Path | None
    future: Future | None = None  # once handed to a worker
    shown: bool = False  # a figure whose placeholder was filled
    _value: object = field(default=None, repr=False)
    _error: Exception | None = None
    _done: bool = False

    @property
    def name(self) -> str:
        return f"{self.fn.__module__}.{self.fn.__qualname__}"

    def compute_here(self) -> None:
        try:
            self._value = cache.compute(self.fn, self.args, self.kwargs, self.path)
        except Exception as error:  # noqa: BLE001 - raised by value(), where the result is needed
            self._error = error
        self._done = True

    def value(self):
        """The result, computed here or by a worker (once its future is done); raises what the
        call raised."""
        if not self._done:
            try:
                self._value, caught = self.future.result()
            except BrokenProcessPool:  # the worker died (not the call's fault): compute here
                log.info("a worker process stopped; computing %s in the main process", self.name)
                self._value, caught = _work(self.fn, self.args, self.kwargs, self.path)
            self._done = True
            for message, module, qualname, filename, lineno in caught:
                warnings.warn_explicit(message, _warning_category(module, qualname), filename, lineno)
        if self._error is not None:
            raise self._error
        return self._value


class Background:
    """The worker processes of one build, and the work handed to them."""

    def __init__(self, processes: int | None = None):
        self.processes = workers() if processes is None else processes
        self.figures: list[Job] = []
        self._figure_index: dict[str, int] = {}  # a figure's call -> its place in `figures`
        self.prefetched: dict[str, Job] = {}
        self.prewarmed: dict[str, Job] = {}
        self._pool: ProcessPoolExecutor | None = None
        self._closed = self.processes == 0  # no more jobs are queued
        self._queue: deque[Job] = deque()  # jobs waiting for a free worker
        self._busy = 0  # jobs a worker has
        self._changed = threading.Condition()
        self._dispatcher: threading.Thread | None = None

    # ---- handing jobs to the workers, one each at a time ---------------------------------------

    def start(self) -> None:
        """Start the workers now, not with the first job (a build with everything in the cache
        otherwise starts none)."""
        with self._changed:
            self._open()

    @property
    def started(self) -> bool:
        return self._dispatcher is not None and not self._closed

    def _open(self) -> bool:
        """The pool and the thread that feeds it, started on first use (under the lock)."""
        if self._dispatcher is None and not self._closed:
            try:  # spawned, not forked: `mkdocs serve` runs threads
                self._pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_start_worker)
                for _ in range(self.processes):  # the processes start now
                    self._pool.submit(int)
            except (OSError, ImportError, NotImplementedError) as error:  # e.g. no /dev/shm for its locks
                log.info("no worker processes (%s): the build computes everything itself", error)
                self._closed = True
                return False
            self._dispatcher = threading.Thread(target=self._dispatch, name="vis.background", daemon=True)
            self._dispatcher.start()
        return not self._closed

    def _queued(self, fn: Callable, args: tuple, kwargs: dict, path: Path | None) -> Job | None:
        """A job queued for a worker, or None: the caller computes in place."""
        try:
            pickle.dumps((fn, args, kwargs))
        except Exception:  # noqa: BLE001 - cannot travel to a worker
            return None
        job = Job(fn, args, kwargs, path)
        with self._changed:
            if not self._open():
                return None
            self._queue.append(job)
            self._changed.notify_all()
        return job

    def _dispatch(self) -> None:
        """Thread: hand the next queued job to a worker whenever one is free."""
        while True:
            with self._changed:
                self._changed.wait_for(lambda: (self._queue and self._busy < self.processes)
                                       or (self._closed and not self._queue))
                if not self._queue:
                    break
                job = self._queue.popleft()
                self._busy += 1
            try:
                future = self._pool.submit(_work, job.fn, job.args, job.kwargs, job.path)
            except (BrokenProcessPool, RuntimeError) as error:  # a worker died: value() computes here
                future = Future()
                future.set_exception(BrokenProcessPool(str(error)))
            with self._changed:
                job.future = future
                self._changed.notify_all()
            future.add_done_callback(self._finished)
        self._pool.shutdown(wait=False)  # the workers exit when their jobs are done

    def _finished(self, future: Future) -> None:
        with self._changed:
            self._busy -= 1
            self._changed.notify_all()

    def _take_back(self, job: Job) -> bool:
        """Take `job` from the queue, if no worker has it yet: the caller does it. (So too a job
        a cancelled build dropped from the queue.)"""
        with self._changed:
            if job in self._queue:
                self._queue.remove(job)
                return True
            return job.future is None and not job._done and not (self._dispatcher and self._dispatcher.is_alive())

    def _wait_for(self, job: Job) -> None:
        """Until a worker has done `job`, draw queued figures here."""
        while not job._done:
            with self._changed:
                future = job.future
            if future is not None and future.done():
                return
            queued = next((other for other in self.figures if self._take_back(other)), None)
            if queued is not None:
                queued.compute_here()
            elif future is None:  # being handed to a worker right now
                with self._changed:
                    self._changed.wait_for(lambda: job.future is not None, timeout=1.0)
            else:
                wait([future], return_when=FIRST_COMPLETED)
                return

    def _result(self, job: Job):
        """`job`'s value, from the worker that has it or computed here."""
        if not job._done and self._take_back(job):
            job.compute_here()
        self._wait_for(job)
        return job.value()

    # ---- what vis.cache and the hook ask for ---------------------------------------------------

    @staticmethod
    def _call_name(fn: Callable, args: tuple, kwargs: dict) -> str:
        return f"{fn.__module__}.{fn.__qualname__}{args!r}{sorted(kwargs.items())!r}"

    def prefetch(self, fn: Callable, args: tuple, kwargs: dict, path: Path | None) -> None:
        name = self._call_name(fn, args, kwargs)
        if name not in self.prefetched:
            job = self._queued(fn, args, kwargs, path)
            if job is not None:
                self.prefetched[name] = job

    def call(self, fn: Callable, args: tuple, kwargs: dict, path: Path | None):
        """vis.cache.cached's answer for a call the cache does not hold."""
        job = self.prefetched.pop(self._call_name(fn, args, kwargs), None)
        if job is not None:
            return self._result(job)
        if is_figure(fn):
            name = self._call_name(fn, args, kwargs)
            if name not in self._figure_index:  # the same figure asked for again: the same job
                job = self._queued(fn, args, kwargs, path)
                if job is None:
                    return cache.compute(fn, args, kwargs, path)
                self._figure_index[name] = len(self.figures)
                self.figures.append(job)
            return f'<svg data-background-figure="{self._figure_index[name]}"></svg>'
        return cache.compute(fn, args, kwargs, path)

    def prewarm(self, module: str) -> None:
        """Queue the import of `module`, for a worker with nothing else to do: what its import
        computes through vis.cache is then in the cache."""
        if module not in self.prewarmed:
            job = self._queued(_import, (module,), {}, None)
            if job is not None:
                self.prewarmed[module] = job

    def settle(self, module: str) -> None:
        """Before the main process imports `module`: a prewarm no worker has started is dropped
        (the main process imports it as usual); one a worker has is waited for. Its errors are
        left to the main process's own import."""
        job = self.prewarmed.pop(module, None)
        if job is not None and not self._take_back(job):
            self._wait_for(job)

    def submitted_all(self) -> None:
        """No more work will come (every page has run its code): the workers exit once the work
        they hold is done, while the build goes on. Later calls compute in place."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

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
            with self._changed:
                if cancel:
                    self._queue.clear()
                self._closed = True
                self._changed.notify_all()
            if cancel and self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
