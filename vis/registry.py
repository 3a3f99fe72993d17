"""Every committed figure, by file name: the pages' figures, drawn with the pages' parameters;
and the slow calls a build starts early."""

from __future__ import annotations

from typing import Callable


def all_figures() -> dict[str, Callable[[], str]]:
    from pages import ch1, ch2, ch3, ch4, ch5

    return {**ch1.FIGURES, **ch2.FIGURES, **ch3.FIGURES, **ch4.FIGURES, **ch5.FIGURES}


def early_calls() -> list[tuple[str, Callable, tuple, dict]]:
    """Slow `vis.cache.cached` calls that a build starts in a worker process before the first
    page renders (hooks/background.py), as (the page that needs the result, function, arguments,
    keyword arguments), exactly as the page's module makes the call. The build reads that page
    last, so the other pages build while the call runs."""
    from pages import ch2

    return [(ch2.PAGE, ch2.measure_demo, (), {"live": True})]


def late_figures() -> list[Callable[[], str]]:
    """The figures of the pages early_calls names, which a build reads last: it asks for them
    when it begins, so that a cold cache has them drawn by then (each is drawn once)."""
    from pages import ch2

    return list(ch2.FIGURES.values())


def prewarmed_modules() -> list[tuple[str, str]]:
    """(page, page module) of modules whose import computes slow results through vis.cache
    (chapter 4's quantization errors, chapter 5's sampling runs: about 2 s when the cache is
    empty). A build imports them early in a worker process that has nothing else to do, while
    the main process builds other pages (chapter 3's simulations), so the page finds its results
    in the cache (hooks/background.py)."""
    return [("04_quantization.md", "pages.ch4"), ("05_speculative.md", "pages.ch5")]
