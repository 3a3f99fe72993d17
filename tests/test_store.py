"""The store (pages/store.py): a call is computed once per version of its code, an entry that lies
or is damaged is computed again, `off` stores nothing, and compute evicts what no page used."""

import logging
import os
import pickle
import time

import pytest

from pages import store


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    monkeypatch.delenv("COURSE_LIVE", raising=False)
    return tmp_path


def counted(calls: list):
    def ridge(x: float) -> float:
        calls.append(x)
        return x * 2
    return ridge


def test_a_call_is_computed_once_then_read(folder):
    calls = []
    fn = counted(calls)
    assert store.cached(fn, 3.0) == 6.0 and store.cached(fn, 3.0) == 6.0
    assert calls == [3.0] and len(list(folder.glob("*.pickle"))) == 1
    assert store.cached(fn, 4.0) == 8.0 and calls == [3.0, 4.0]  # other arguments, another entry


def test_off_stores_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE", "off")
    calls = []
    store.cached(counted(calls), 1.0)
    store.cached(counted(calls), 1.0)
    assert calls == [1.0, 1.0]


@pytest.mark.parametrize("damage", ["truncated", "another key", "not a pair"])
def test_an_entry_that_lies_or_is_damaged_is_computed_again_with_a_note(folder, damage, caplog):
    calls = []
    fn = counted(calls)
    store.cached(fn, 5.0)
    (entry,) = folder.glob("*.pickle")
    data = {"truncated": entry.read_bytes()[:7], "another key": pickle.dumps(("0" * 32, "<svg>wrong</svg>")),
            "not a pair": pickle.dumps("a string")}[damage]
    entry.write_bytes(data)
    with caplog.at_level(logging.INFO, logger="mkdocs.plugins.store"):
        assert store.cached(fn, 5.0) == 10.0
    assert calls == [5.0, 5.0]
    assert entry.name in caplog.text  # the note names the file


def test_a_live_call_is_measured_again_only_when_asked(folder, monkeypatch):
    calls = []
    fn = counted(calls)
    store.cached(fn, 1.0, live=True)
    store.cached(fn, 1.0, live=True)
    monkeypatch.setenv("COURSE_LIVE", "1")
    store.cached(fn, 1.0, live=True)
    assert calls == [1.0, 1.0]


def test_the_key_follows_the_code_the_function_imports():
    closure = store.closure("vis.chapter1")
    assert "snippets.roofline" in closure and "pages.ch1" not in closure  # figures don't depend on pages
    assert "snippets.roofline" not in store.closure("snippets.units")
    assert store.imported_modules("from vis import chapter1, svg as s\nimport snippets.roofline\n") >= {
        "vis", "vis.chapter1", "vis.svg", "snippets.roofline"}


def test_evict_removes_what_was_neither_read_nor_written(folder):
    old, kept = folder / "old.pickle", folder / "kept.pickle"
    old.write_bytes(b"x")
    kept.write_bytes(b"x")
    since = time.time() + 5
    os.utime(kept, (since + 1, since + 1))
    assert store.evict(folder, since) == 1 and not old.exists() and kept.exists()


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A course package of three modules: a imports b, c imports nothing; b.f is what a calls."""
    root = tmp_path / "snippets"
    (root / "data").mkdir(parents=True)
    (root / "__init__.py").write_text("", encoding="utf-8")
    (root / "a.py").write_text("from snippets import b\n\n\ndef g(x):\n    return b.f(x)\n", encoding="utf-8")
    (root / "b.py").write_text("SCALE = 1\n\n\ndef f(x):\n    return x\n", encoding="utf-8")
    (root / "c.py").write_text("def h(x):\n    return x\n", encoding="utf-8")
    monkeypatch.setattr(store, "ROOT", tmp_path)
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "store"))
    store.clear()
    yield root
    store.clear()


def edit(path, text: str) -> None:
    """Write `text` with a new modification time, then start a new build (store.clear)."""
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(time.time_ns() + len(text), time.time_ns() + len(text)))
    store.clear()


def test_an_edit_changes_the_keys_of_exactly_the_calls_that_reach_it(package):
    digests = lambda: {m: store.code_digest((f"snippets.{m}",)) for m in "abc"}  # noqa: E731
    before = digests()
    edit(package / "b.py", "SCALE = 1\n\n\ndef f(x):\n    return 2 * x\n")
    after = digests()
    assert after["a"] != before["a"] and after["c"] == before["c"]
    edit(package / "b.py", "SCALE = 2\n\n\ndef f(x):\n    return 2 * x\n")  # any other statement counts
    assert digests()["a"] != after["a"]


def test_a_function_just_added_or_a_comment_line_recomputes_nothing_an_edit_of_a_used_one_does(package):
    """The bar of issue 20: a new function in a module that results depend on recomputes nothing
    (no call can reach it); an edit of a function they call recomputes them."""
    calls = []
    g = counted(calls)
    g.__module__, g.__qualname__ = "snippets.a", "g"
    b = package / "b.py"
    store.cached(g, 1.0)
    edit(b, "SCALE = 1\n\n\ndef f(x):\n    return x\n\n\ndef just_added():\n    return 2\n")
    store.cached(g, 1.0)
    edit(b, "SCALE = 1\n\n\ndef f(x):\n    # a comment\n    return x\n\n\ndef just_added():\n    return 2\n")
    store.cached(g, 1.0)
    assert calls == [1.0]  # neither a new function nor a comment line recomputed it
    edit(b, "SCALE = 1\n\n\ndef f(x):\n    return x + 1\n\n\ndef just_added():\n    return 2\n")
    store.cached(g, 1.0)
    assert calls == [1.0, 1.0]  # an edit of what it calls did
    edit(b, "SCALE = 1\n\n\ndef f(x):\n    return x + 1\n\n\ndef just_added():\n    return f(2)\n")
    store.cached(g, 1.0)
    assert calls == [1.0, 1.0]  # nor does an edit of a function nothing it reaches names


def test_a_listing_is_keyed_on_what_its_source_names(package):
    before = store.imports_digest("from snippets import b\nprint(b.f(1))\n")
    edit(package / "b.py", "SCALE = 1\n\n\ndef f(x):\n    return x\n\n\ndef unused():\n    return 3\n")
    assert store.imports_digest("from snippets import b\nprint(b.f(1))\n") == before
    assert store.imports_digest("from snippets import b\nprint(b.unused())\n") != before


def test_the_pattern_finds_the_top_level_definitions_pythons_parser_finds():
    """The store cuts files with a pattern (no parsing in a warm build); on every course module it
    must find exactly the functions and classes `ast` finds, or an edit could go unseen."""
    import ast

    for package in store.PACKAGES:
        for path in sorted((store.ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
            assert set(store.file_facts(path).definitions) == names, path
