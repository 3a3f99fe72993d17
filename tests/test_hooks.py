"""The MkDocs hooks: fresh modules for exactly what an edit changed, math rendered without JavaScript,
no cyclic garbage collection during a build."""

import importlib.util
import sys
from pathlib import Path

import pytest

HOOKS = Path(__file__).resolve().parents[1] / "hooks"


def load(name):
    spec = importlib.util.spec_from_file_location(name, HOOKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def course_modules_restored():
    """The hook drops course modules from sys.modules; put the originals back afterwards, so later
    tests do not see two copies of a class (isinstance across a reload fails)."""
    saved = {name: module for name, module in sys.modules.items() if name.split(".")[0] in ("snippets", "vis", "pages")}
    yield
    for name in [n for n in sys.modules if n.split(".")[0] in ("snippets", "vis", "pages")]:
        del sys.modules[name]
    sys.modules.update(saved)
    for name, module in saved.items():  # `from pages import ch1` reads the package's attribute
        parent, _, child = name.rpartition(".")
        if parent in saved:
            setattr(saved[parent], child, module)


def test_pre_build_drops_exactly_the_changed_modules_and_those_importing_them(monkeypatch, course_modules_restored):
    hook = load("reload_modules")
    import pages.ch1  # noqa: F401 - imports snippets.roofline, vis.chapter1, snippets.units
    import snippets.hardware  # noqa: F401 - does not import snippets.roofline

    root = hook.store.ROOT
    stamps = {root / "snippets" / "roofline.py": (1, 10), root / "snippets" / "units.py": (1, 10)}
    monkeypatch.setattr(hook, "_files", lambda: dict(stamps))
    hook.on_pre_build(config=None)  # the first build only records
    assert "pages.ch1" in sys.modules
    hook.on_pre_build(config=None)  # nothing changed: every module and its values stay
    assert "pages.ch1" in sys.modules
    stamps[root / "snippets" / "roofline.py"] = (2, 11)  # an edit of roofline.py
    hook.on_pre_build(config=None)
    dropped = {"snippets.roofline", "vis.chapter1", "pages.ch1"}
    assert not dropped & set(sys.modules), dropped & set(sys.modules)
    assert {"snippets.units", "snippets.hardware"} <= set(sys.modules)  # they do not import it
    import pages.ch1  # noqa: F401,F811 - re-imports cleanly

    stamps[root / "snippets" / "data" / "models.csv"] = (3, 12)  # a data file: every module reads data
    hook.on_pre_build(config=None)
    assert not [m for m in sys.modules if m.split(".")[0] in ("snippets", "vis", "pages")]


def test_math_becomes_mathml():
    hook = load("mathml")
    html = '<p><span class="arithmatex">\\(a^2\\)</span></p><div class="arithmatex">\\[\\frac{1}{2}\\]</div>'
    out = hook.on_page_content(html, page=None)
    assert out.count("<math") == 2 and "arithmatex" not in out
    with pytest.raises(ValueError, match="cannot render math"):
        hook.on_page_content('<span class="arithmatex">\\(a^\\)</span>', page=None)


def test_the_same_error_from_many_blocks_is_logged_once():
    import logging

    hook = load("repeated_errors")
    hook.on_pre_build(config=None)
    logger = hook.BLOCKS
    error = 'Output is:\n  File "/x/snippets/roofline.py", line 12\n    def (\nSyntaxError: invalid syntax\n'
    records = [logger.makeRecord(logger.name, logging.WARNING, __file__, 1, f"block {i}\n{error}", None, None)
               for i in range(15)]
    assert [hook.first_of_its_kind(r) for r in records] == [True] + [False] * 14
    other = logger.makeRecord(logger.name, logging.WARNING, __file__, 1, "NameError: x", None, None)
    assert hook.first_of_its_kind(other)
    hook.on_pre_build(config=None)  # a new build starts counting afresh
    assert hook.first_of_its_kind(records[0])


def test_a_build_runs_without_cyclic_collections_and_serve_collects_after_it():
    import gc

    hook = load("gc_off")
    try:
        hook.on_pre_build(config=None)
        assert not gc.isenabled()
        hook.on_post_build(config=None)
        assert gc.isenabled()
        hook.on_pre_build(config=None)
        hook.on_build_error(error=None)
        assert gc.isenabled()  # a failed build collects again too
        assert gc.get_freeze_count() == 0  # `mkdocs serve` (no on_startup("build")) freezes nothing
    finally:
        gc.enable()


def test_a_build_that_ends_the_process_freezes_what_it_made():
    import gc

    hook = load("gc_off")
    try:
        hook.on_startup(command="build", dirty=False)
        hook.on_pre_build(config=None)
        hook.on_post_build(config=None)
        assert gc.isenabled() and gc.get_freeze_count() > 0
        hook.on_startup(command="serve", dirty=False)
        assert not hook.ends_after_build
    finally:
        gc.unfreeze()
        gc.enable()


def test_search_reads_no_figure_and_no_highlighting_and_the_page_gets_both_back():
    hook = load("search_light")
    figure = '<svg viewBox="0 0 1 1"><title>A</title><path d="M0 0"/></svg>'
    code = '<pre><span></span><code><span class="n">x</span> <span class="o">=</span> <span class="mi">1</span>\n</code></pre>'
    content = f"<p>one</p>{figure}<p>two</p>{code}{figure.replace('A', 'B')}"
    page = type("Page", (), {"url": "ch1/", "content": content})()
    hook.on_page_context({}, page)
    assert "<svg" not in page.content and "<span" not in page.content  # what the search plugin reads
    assert "<p>two</p>" in page.content and "<pre><code>x = 1\n</code></pre>" in page.content
    rendered = f"<html><nav>menu</nav>{page.content}</html>"
    assert hook.on_post_page(rendered, page) == f"<html><nav>menu</nav>{content}</html>"
    assert hook.held == {}


def test_a_page_that_lost_a_held_block_fails_the_build(caplog):
    """Say a minifier dropped the comments the hook marks them with: the build warns (strict: fails)."""
    hook = load("search_light")
    page = type("Page", (), {"url": "ch1/", "content": "<p>one</p><pre><code>x</code></pre>",
                             "file": type("File", (), {"src_uri": "01_memory_bound.md"})()})()
    hook.on_page_context({}, page)
    with caplog.at_level("WARNING"):
        hook.on_post_page("<p>one</p>", page)
    assert "01_memory_bound.md: 1 figures and code blocks were held from search, 0 found again" in caplog.text


def test_notebook_conversion_logs_no_per_file_lines_but_keeps_warnings():
    import logging

    hook = load("quiet_notebooks")
    hook.on_startup(command="build", dirty=False)
    for name in hook.NOISY:
        logger = logging.getLogger(name)
        assert not logger.isEnabledFor(logging.INFO) and logger.isEnabledFor(logging.WARNING)


def test_values_failing_for_one_cause_are_logged_once():
    import logging

    hook = load("repeated_errors")
    hook.on_pre_build(config=None)
    logger = hook.VALUES
    cause = "ClaimFailed: no longer true: the model fits"
    records = [logger.makeRecord(logger.name, logging.WARNING, __file__, 1, f"value `#!val ch1.v{i}` failed: {cause}",
                                 None, None) for i in range(40)]
    assert [hook.first_of_its_kind(r) for r in records] == [True] + [False] * 39
    other = logger.makeRecord(logger.name, logging.WARNING, __file__, 1, "value `#!val ch1.x` failed: UnknownValue: x",
                              None, None)
    assert hook.first_of_its_kind(other)
    assert logger.filters.count(hook.first_of_its_kind) == 1


def test_a_figure_printed_as_markdown_is_an_error_naming_it():
    import markdown

    hook = load("figure_blocks")
    svg = '<svg xmlns="http://www.w3.org/2000/svg">\n<title id="roof-title">t</title>\n<defs>\n\n<style>*{}</style>\n</defs>\n</svg>'
    assert hook.broken_figures(markdown.markdown(svg)) == ["roof"]  # what a block without html="true" becomes
    assert hook.broken_figures(svg) == []  # stashed as HTML: untouched


def test_an_error_raised_in_each_blocks_own_code_is_one_cause():
    """`from pages import l4` with no pages/l4.py fails in every block that says it: one traceback."""
    import logging

    hook = load("repeated_errors")
    hook.on_pre_build(config=None)
    logger = hook.BLOCKS
    records = [logger.makeRecord(logger.name, logging.WARNING, __file__, 1,
                                 f'block {i}\n  File "<code block: id l4-{i}>", line 1, in <module>\n'
                                 "  ImportError: cannot import name 'l4' from 'pages'\n", None, None) for i in range(3)]
    assert [hook.first_of_its_kind(r) for r in records] == [True, False, False]
