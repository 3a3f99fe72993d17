"""MkDocs hook: draw figures and run slow measurements in a worker process while the pages build.

When a build begins it:

- starts the slow calls vis.registry.early_calls lists (chapter 2's measurement, a few seconds)
  in a worker process, and reads the pages that need their results last, so that the other
  pages build meanwhile (the figures of those pages are queued at once);
- queues the imports of the page modules vis.registry.prewarmed_modules lists, for a worker with
  nothing else to do: their slow results land in the cache, and a page whose module no worker
  has started imports it as usual;
- lets vis.cache send the workers every figure the cache does not hold (vis.background).

Before a page is indexed for search and written, the figures' placeholders in it are replaced
by the figures; a figure that failed logs a warning with its traceback, so a strict build still
fails. Where other work keeps the cores busy (vis.background.spare_core) and the cache is
full, the main process runs the early calls itself, as it would without this hook. The order pages are read in changes nothing they
show (each page's code imports what it needs), and the pages are written in the usual order.
Listed after reload_modules.py, so the modules it imports are the fresh ones.
"""

import logging
import os

from mkdocs.plugins import event_priority

log = logging.getLogger("mkdocs.plugins.background")
_background = None
_late_pages: list[str] = []
_prewarmed: dict[str, list[str]] = {}
_order: list = []


def on_pre_build(config, **kwargs):
    global _background, _late_pages
    from vis import background, cache

    _stop(cancel=True)  # a build that failed before on_post_build left one
    # The build now runs in several processes. OpenMP threads (torch's CPU operators) that spin
    # while they wait for a thread whose core another process holds made chapter 4's
    # quantization errors 10-20x slower; threads that sleep instead compute the same numbers.
    # Read when torch is first imported, here and in the workers.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _background = background.Background()
    cache.background = _background
    # The early calls are live measurements: they run in every build (not under `mkdocs serve`,
    # which reuses them). They go to a worker if other work leaves a core to it, or if the cache
    # is empty (then the workers have every figure to draw as well).
    _late_pages = []
    _prewarmed.clear()
    cold = not any(cache.CACHE.glob("*.pickle"))
    if os.environ.get("COURSE_REUSE_LIVE") or not (background.spare_core() or cold):
        return
    _background.start()  # the worker starts up while the page modules below are imported
    from vis import registry

    for page, fn, args, kwargs in registry.early_calls():
        cache.prefetch(fn, *args, **kwargs)
        _late_pages.append(page)
    for draw in registry.late_figures():  # those pages' figures are queued now, not when the page runs
        draw()
    for page, module in registry.prewarmed_modules():  # behind the early calls: for a cold cache
        _background.prewarm(module)
        _prewarmed.setdefault(page, []).append(module)


def on_page_markdown(markdown, page, **kwargs):
    """Before a page runs its code: the modules a worker may be importing for it are done (or
    taken back)."""
    if _background is not None:
        for module in _prewarmed.pop(page.file.src_uri, []):
            _background.settle(module)
    return markdown


@event_priority(-100)  # after the plugins' own files
def on_files(files, config, **kwargs):
    """Read the pages that wait for an early call last."""
    global _order
    _order = list(files)
    for uri in _late_pages:
        file = files.get_file_from_path(uri)
        if file is not None:
            files.remove(file)
            files.append(file)
    return files


def on_env(env, config, files, **kwargs):
    """Every page has run its code: no more work for the workers. Write the pages in the usual
    order."""
    if _background is not None:
        _background.submitted_all()
    if _order:
        now = dict(files.src_uris)
        first = [f.src_uri for f in _order if f.src_uri in now]
        for uri in first + [uri for uri in now if uri not in set(first)]:
            files.remove(now[uri])
            files.append(now[uri])
    return env


@event_priority(100)  # before the search plugin indexes the page
def on_page_context(context, page, **kwargs):
    if _background is not None and page.content:
        page.content = _background.fill(page.content, page.file.src_uri)
    return context


def on_post_page(output, page, **kwargs):
    if "<svg data-background-figure=" in output:
        log.warning("%s: a figure placeholder was left in the page (printed where no figure can go?)",
                    page.file.src_uri)
    return output


def on_post_build(config, **kwargs):
    _stop(cancel=False)


def on_build_error(error, **kwargs):
    _stop(cancel=True)


def _stop(cancel: bool) -> None:
    global _background
    background, _background = _background, None
    if background is None:
        return
    from vis import cache

    if cache.background is background:
        cache.background = None
    background.close(cancel=cancel)
