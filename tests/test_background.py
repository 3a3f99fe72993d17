"""Work a build hands to worker processes (vis.background): same results as drawing in place,
failures reported loudly, and the cache's keys following every edit."""

import logging

import pytest

from snippets import models
from snippets.errors import UnknownName
from vis import background, cache, chapter2


@pytest.fixture(scope="module")
def worker():
    bg = background.Background(processes=1)
    yield bg
    bg.close(cancel=True)


def test_a_figure_drawn_by_a_worker_is_the_figure_drawn_in_place(worker):
    placeholder = worker.call(chapter2.bytes_per_token, ("fp16",), {}, None)
    assert background.PLACEHOLDER.fullmatch(placeholder)
    page = worker.fill(f"<p>{placeholder}</p>", "page.md")
    assert page == f"<p>{chapter2.bytes_per_token('fp16')}</p>"


def test_a_failing_figure_logs_a_warning_and_shows_its_traceback(worker, caplog):
    placeholder = worker.call(chapter2.bytes_per_token, ("no-such-dtype",), {}, None)
    with caplog.at_level(logging.WARNING, logger="mkdocs.plugins.background"):
        page = worker.fill(placeholder, "page.md")
    assert 'class="figure-error"' in page and "Traceback (most recent call last)" in page
    assert any(r.levelno == logging.WARNING and "page.md" in r.getMessage() and "bytes_per_token" in r.getMessage()
               for r in caplog.records)  # mkdocs counts it: a strict build fails


def test_a_prefetched_call_gives_its_result_to_the_call(worker):
    worker.prefetch(chapter2.bytes_per_token, ("fp8",), {}, None)
    assert worker.call(chapter2.bytes_per_token, ("fp8",), {}, None) == chapter2.bytes_per_token("fp8")


def test_a_prefetched_call_that_failed_raises_where_its_result_is_needed(worker):
    worker.prefetch(models.get, ("no such model",), {}, None)
    with pytest.raises(UnknownName):
        worker.call(models.get, ("no such model",), {}, None)


def test_after_the_last_page_work_is_done_in_place():
    bg = background.Background(processes=1)
    bg.submitted_all()
    assert bg.call(chapter2.bytes_per_token, ("fp16",), {}, None).startswith("<svg role=")
    bg.close()


def test_the_key_follows_an_edit_and_ignores_a_touch(tmp_path, monkeypatch):
    module = tmp_path / "figure_module.py"
    module.write_text("X = 1  # a comment\n", encoding="utf-8")
    monkeypatch.setattr(cache, "source_closure", lambda name: (module,))
    monkeypatch.setattr(cache, "_code_of", {})

    def fn():
        pass

    fn.__module__ = "figure_module"
    first = cache.key(fn, (), {})
    assert cache.key(fn, (), {}) == first
    module.write_text("X = 1  # another comment, same code\n", encoding="utf-8")
    assert cache.key(fn, (), {}) == first
    module.write_text("X = 2\n", encoding="utf-8")
    assert cache.key(fn, (), {}) != first


def test_work_of_a_worker_that_died_is_done_by_the_main_process():
    import os

    bg = background.Background(processes=1)
    bg.prefetch(os._exit, (3,), {}, None)  # the worker dies at its first job
    placeholder = bg.call(chapter2.bytes_per_token, ("fp16",), {}, None)
    assert bg.fill(placeholder, "page.md") == chapter2.bytes_per_token("fp16")
    bg.close(cancel=True)


def test_a_prewarmed_import_is_settled_before_the_page_and_leaves_its_errors_to_the_page(worker):
    worker.prewarm("snippets.units")
    worker.prewarm("pages.no_such_module")  # fails in the worker; the page's own import reports it
    worker.settle("snippets.units")
    worker.settle("pages.no_such_module")
    assert worker.prewarmed == {}


def test_the_prewarmed_modules_belong_to_their_pages():
    import importlib

    from vis import registry

    for page, module in registry.prewarmed_modules():
        assert importlib.import_module(module).PAGE == page


def test_a_warning_in_a_worker_is_raised_again_in_the_main_process(worker):
    import warnings

    worker.prefetch(warnings.warn, ("careful",), {"category": FutureWarning}, None)
    with pytest.warns(FutureWarning, match="careful"):
        worker.call(warnings.warn, ("careful",), {"category": FutureWarning}, None)


def test_a_figure_asked_for_twice_is_drawn_once(worker):
    first = worker.call(chapter2.bytes_per_token, ("int8",), {}, None)
    assert worker.call(chapter2.bytes_per_token, ("int8",), {}, None) == first
    assert worker.fill(first, "page.md") == chapter2.bytes_per_token("int8")
