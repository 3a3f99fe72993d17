"""Shared pytest set-up: no mkdocs 2 banner. Every Python block in docs/ is self-contained
(it imports what it needs, usually its page's module in pages/), so pytest-markdown-docs runs
each one on its own, exactly as markdown-exec runs it in the build."""

import os

os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")


def pytest_collection_modifyitems(items):
    """A block that shows a listing (`--8<-- "pages/listings/x.py"`, expanded by pymdownx.snippets
    at build time) is not Python until expanded; tests/test_pages.py runs the listing itself."""
    import pytest

    for item in items:
        code = getattr(item, "code", "")
        if code.lstrip().startswith("--8<--"):
            listing = code.split('"')[1] if '"' in code else code
            item.add_marker(pytest.mark.skip(reason=f"shows {listing}, run by tests/test_pages.py"))


class _QuietRunner:
    """Wraps pytest-markdown-docs' runner so a block's prints go to a buffer: the plugin turns
    pytest's capture off around each block, which floods the terminal with inline SVG."""

    def __init__(self, runner, buffer):
        self.runner, self.buffer = runner, buffer

    def runtest(self, *args, **kwargs):
        import contextlib

        with contextlib.redirect_stdout(self.buffer):
            return self.runner.runtest(*args, **kwargs)


def pytest_runtest_call(item):
    """Keep a docs block's output with its test, shown only if it fails."""
    if hasattr(item, "code") and hasattr(item, "runner") and not isinstance(item.runner, _QuietRunner):
        import io

        buffer = io.StringIO()
        item.runner = _QuietRunner(item.runner, buffer)
        item._block_output = buffer


def pytest_runtest_makereport(item, call):
    buffer = getattr(item, "_block_output", None)
    if buffer is not None and call.when == "call":
        item.add_report_section("call", "block output", buffer.getvalue())
