"""The page modules: every claim holds, every `#!val` reference in the prose resolves to its own
page's module, every listing runs as shown, and the published values match the snapshots."""

import importlib
import runpy
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from pages import citations, compute, registry, snapshot, values
from pages.claims import ClaimFailed, claim

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LISTINGS = sorted((ROOT / "pages" / "listings").glob("*.py"))
MODULES = registry.page_modules()


def references(page: Path) -> list[str]:
    """The `#!val` / `#!math` references of a page, found by a Markdown parser (code spans)."""
    found = []
    for token in MarkdownIt().parse(page.read_text(encoding="utf-8")):
        for child in token.children or []:
            if child.type == "code_inline" and child.content.startswith(("#!val ", "#!math ")):
                found.append(child.content.split(None, 1)[1])
    return found


@pytest.mark.parametrize("name", MODULES)
def test_page_module_imports_and_its_claims_hold(name):
    module = importlib.import_module(f"pages.{name}")
    assert (DOCS / module.PAGE).exists()


def page_modules(page: str) -> set[str]:
    """The modules a page may cite: its own module and that module's companions (`ch1` and
    `ch1_exercises` for 01_memory_bound.md), every one of them declaring the page as its PAGE."""
    return {n for n in MODULES if importlib.import_module(f"pages.{n}").PAGE == page}


@pytest.mark.parametrize("name", MODULES)
def test_a_page_has_one_module_and_its_companions(name):
    """Modules sharing a page are `<own>` and `<own>_<something>`: never two unrelated ones."""
    sharing = page_modules(importlib.import_module(f"pages.{name}").PAGE)
    own = min(sharing, key=len)
    assert all(n == own or n.startswith(own + "_") for n in sharing), sharing


@pytest.mark.parametrize("name", MODULES)
def test_every_reference_resolves_to_the_pages_own_module(name):
    module = importlib.import_module(f"pages.{name}")
    allowed = page_modules(module.PAGE)
    refs = references(DOCS / module.PAGE)
    for ref in refs:
        assert ref.split(".")[0] in allowed, f"{module.PAGE} cites {ref!r} from another page's module"
        values.render(ref) if not ref.endswith("_tex") else values.lookup(ref)


def test_pages_without_a_module_cite_nothing():
    owned = {importlib.import_module(f"pages.{n}").PAGE for n in MODULES}
    for page in DOCS.rglob("*.md"):
        if page.relative_to(DOCS).as_posix() not in owned:
            assert references(page) == [], page


@pytest.fixture(scope="module")
def page_runs():
    """Every page's code blocks, run once (from the store: warm after the first run)."""
    return {run.page: run for run in compute.run_pages(registry.markdown_pages())}


@pytest.mark.parametrize("page", registry.markdown_pages())
def test_every_block_runs_and_the_page_matches_its_snapshot(page, page_runs):
    """A changed number is a reviewed change: `python -m pages snapshot --update`, then commit
    the diff of pages/snapshots/, which reads as the page's changed sentences."""
    assert not page_runs[page].errors, page_runs[page].errors
    assert snapshot.resolve(page_runs[page]) == snapshot.path(page).read_text(encoding="utf-8")


def test_a_snapshot_reads_as_the_page_with_its_values_and_tables(page_runs):
    text = snapshot.resolve(page_runs["01_memory_bound.md"])
    assert "#!val" not in text and "exec=" not in text
    assert f"{values.render('ch1.ridge:.0f')}" in text
    assert "[figure: " in text and "<svg" not in text
    assert "| GPU" in text or "|--" in text  # tables as Markdown


def test_every_page_module_belongs_to_a_page_of_the_nav():
    """The registry is derived from the nav: a module no page cites is dead code, or a page missing
    from mkdocs.yml."""
    from pages.store import closure

    cited = set(MODULES) | {name.split(".")[1] for m in MODULES for name in closure(f"pages.{m}") if "." in name
                            and name.startswith("pages.")}  # and the modules they import (ch7_runs)
    modules = {p.stem for p in (ROOT / "pages").glob("*.py")}
    machinery = {"__init__", "__main__", "citations", "claims", "compute", "gallery", "listing", "recorded", "registry", "snapshot",
                 "store", "values", "cells"}
    assert modules - machinery <= cited, sorted(modules - machinery - cited)


def test_a_listing_output_comes_from_its_own_code(monkeypatch, tmp_path):
    from pages import listing

    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    out = listing.output("index_first_bound")
    assert out == listing.run("index_first_bound", (listing.LISTINGS / "index_first_bound.py").read_text(), "")
    assert list(tmp_path.glob("pages.listing.run-*.pickle"))


@pytest.mark.parametrize("listing", LISTINGS, ids=lambda p: p.name)
def test_listing_runs_as_shown(listing, capsys):
    runpy.run_path(str(listing), run_name="__main__")
    assert capsys.readouterr().out.strip()


def test_unknown_names_say_what_exists():
    with pytest.raises(values.UnknownValue, match="Did you mean: ridge"):
        values.lookup("ch1.ridgee")
    with pytest.raises(values.UnknownValue, match="no page module"):
        values.lookup("nope.ridge")
    with pytest.raises(values.UnknownValue, match="not a number or text"):
        values.lookup("ch1.levers_table")
    with pytest.raises(values.UnknownValue, match="cannot format"):
        values.render("ch1.a100.name:.2f")
    assert values.render("ch1.ridge:.1f") == "153.0"


def test_a_failed_reference_shows_in_place_and_warns(caplog):
    element = values.format_value("ch1.nothing", "val", "value", md=None)
    assert element.get("class") == "value-error" and "ch1.nothing" in element.text
    assert any("ch1.nothing" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)


def test_values_are_escaped_text(monkeypatch):
    import xml.etree.ElementTree as etree

    from pages import ch1

    monkeypatch.setattr(ch1, "hostile", '<script>alert(1)</script> & "q"', raising=False)
    element = values.format_value("ch1.hostile", "val", "value", md=None)
    assert len(element) == 0  # a text node, never markup
    html = etree.tostring(element, encoding="unicode")
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in html


def test_claim():
    assert claim("two is even", 2 % 2 == 0).statement == "two is even"
    with pytest.raises(ClaimFailed, match="no longer true: three is even"):
        claim("three is even", 3 % 2 == 0)


def unnamed_claims(source: str) -> list[int]:
    """Lines of claim(...) calls that are not the value of a module-level assignment."""
    import ast

    tree = ast.parse(source)
    named = {id(node.value) for node in tree.body if isinstance(node, ast.Assign)}
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "claim" and id(node) not in named]


@pytest.mark.parametrize("name", MODULES)
def test_every_claim_is_named_at_module_level(name):
    """A claim has an id (its name) so that its sentence can cite it."""
    assert unnamed_claims((ROOT / "pages" / f"{name}.py").read_text(encoding="utf-8")) == []


def test_every_claim_is_cited_by_exactly_one_sentence():
    assert citations.claim_problems() == []


def test_the_citation_check_sees_an_uncited_claim_and_an_unnamed_one(monkeypatch):
    from pages import authoring

    monkeypatch.setattr(authoring, "extra", claim("an extra claim no sentence makes", True), raising=False)
    assert any("authoring.extra" in problem for problem in citations.claim_problems())
    assert unnamed_claims('claim("a", True)\nx = claim("b", True)\ndef f():\n    y = claim("c", True)\n') == [1, 4]


def test_a_value_is_atomic_text_never_markdown_or_html(monkeypatch):
    """A device name from a results file reaches the page as text: no element, no attribute, no
    block (issue 23: `#!val` output was parsed again, and attr_list attached event handlers)."""
    import markdown

    from pages import ch1

    payload = 'X <img src=x onerror=alert(1)> _x_{: tabindex=1 autofocus onfocus=alert(2) } **b**\n# H\n!!! note'
    monkeypatch.setattr(ch1, "hostile", payload, raising=False)
    md = markdown.Markdown(extensions=["attr_list", "admonition", "pymdownx.inlinehilite"], extension_configs={
        "pymdownx.inlinehilite": {"custom_inline": [{"name": "val", "class": "value", "format": values.format_value}]}})
    html = md.convert("The device `#!val ch1.hostile` is here.")
    import re

    assert not re.search(r"<[^>]*\bon\w+=", html), html  # no tag carries an event handler
    assert "<img" not in html and "<em" not in html and "<h1" not in html and "admonition" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_figure_block_not_marked_html_fails(tmp_path, monkeypatch):
    page = tmp_path / "p.md"
    page.write_text('```python exec="on" id="fig"\nprint("<svg role=\\"img\\"></svg>")\n```\n', encoding="utf-8")
    monkeypatch.setattr(registry, "DOCS", tmp_path)
    run = compute.run_page("p.md")
    assert 'not marked html="true"' in run.errors["fig"]
