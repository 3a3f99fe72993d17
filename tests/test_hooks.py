"""The MkDocs hooks: fresh modules on every rebuild, math rendered without JavaScript, pages that wait
for a worker read last, the garbage collector kept off what a build holds."""

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


def test_pre_build_drops_course_modules_when_their_code_changed(tmp_path, monkeypatch, course_modules_restored):
    hook = load("reload_modules")
    monkeypatch.setattr(hook, "SIGNATURE", tmp_path / "signature")
    import snippets.roofline  # noqa: F401
    import vis.svg  # noqa: F401

    hook.on_pre_build(config=None)  # no signature yet: drop, so the build imports afresh
    assert not [m for m in sys.modules if m.split(".")[0] in ("snippets", "vis")]
    import snippets.roofline  # re-imports cleanly  # noqa: F401,F811

    hook.on_pre_build(config=None)  # nothing changed since: keep the modules and their values
    assert "snippets.roofline" in sys.modules
    monkeypatch.setattr(hook, "signature", lambda: "an edit")
    hook.on_pre_build(config=None)  # a file changed: drop again
    assert "snippets.roofline" not in sys.modules


def test_serve_keeps_the_modules_after_an_edit_that_changes_no_code(tmp_path, monkeypatch, course_modules_restored):
    hook = load("reload_modules")
    module = tmp_path / "module.py"
    module.write_text("def f():\n    return 1  # one\n", encoding="utf-8")
    monkeypatch.setattr(hook, "SIGNATURE", tmp_path / "signature")
    monkeypatch.setattr(hook, "watched_files", lambda: [module])
    monkeypatch.delenv("COURSE_REUSE_LIVE", raising=False)  # on_startup sets it; put it back afterwards
    hook.on_startup(command="serve", dirty=False)
    import snippets.roofline  # noqa: F401

    hook.on_pre_build(config=None)  # first build: records what each file means
    import snippets.roofline  # noqa: F401,F811

    module.write_text("def f():\n    return 1  # the comment, edited\n# and one more line\n", encoding="utf-8")
    hook.on_pre_build(config=None)
    assert "snippets.roofline" in sys.modules  # same code, same lines: the modules stay
    module.write_text("# a line above the code\ndef f():\n    return 1\n", encoding="utf-8")
    hook.on_pre_build(config=None)
    assert "snippets.roofline" not in sys.modules  # the code moved down a line: tracebacks would lie
    import snippets.roofline  # noqa: F401,F811

    module.write_text("# a line above the code\ndef f():\n    return 2\n", encoding="utf-8")
    hook.on_pre_build(config=None)
    assert "snippets.roofline" not in sys.modules


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
    logger = logging.getLogger(hook.LOGGER)
    error = 'Output is:\n  File "/x/snippets/roofline.py", line 12\n    def (\nSyntaxError: invalid syntax\n'
    records = [logger.makeRecord(logger.name, logging.WARNING, __file__, 1, f"block {i}\n{error}", None, None)
               for i in range(15)]
    assert [hook._filter.filter(r) for r in records] == [True] + [False] * 14
    other = logger.makeRecord(logger.name, logging.WARNING, __file__, 1, "NameError: x", None, None)
    assert hook._filter.filter(other)
    hook.on_pre_build(config=None)  # a new build starts counting afresh
    assert hook._filter.filter(records[0])


def test_pages_that_wait_for_an_early_call_are_read_last_and_written_in_the_usual_order(monkeypatch):
    from mkdocs.structure.files import File, Files

    hook = load("background")
    names = ["index.md", "01_memory_bound.md", "02_kv_cache.md", "03_serving.md"]
    files = Files([File(name, "docs", "site", use_directory_urls=True) for name in names])
    monkeypatch.setattr(hook, "_late_pages", ["02_kv_cache.md"])
    files = hook.on_files(files, config=None)
    assert [f.src_uri for f in files.documentation_pages()] == [names[0], names[1], names[3], names[2]]
    hook.on_env(None, config=None, files=files)
    assert [f.src_uri for f in files.documentation_pages()] == names


def test_each_page_freezes_what_the_build_holds_and_serve_unfreezes_it_after_the_build():
    import gc

    hook = load("gc_freeze")
    hook.on_startup(command="serve", dirty=False)
    hook.on_pre_build(config=None)
    assert hook.on_page_markdown("text", page=None) == "text"
    assert gc.get_freeze_count() > 0
    hook.on_post_build(config=None)
    assert gc.get_freeze_count() == 0
    hook.on_startup(command="build", dirty=False)  # exits next: stays frozen
    hook.on_post_build(config=None)
    assert gc.get_freeze_count() > 0
    gc.unfreeze()
