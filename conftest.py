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
