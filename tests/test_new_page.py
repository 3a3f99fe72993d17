"""The author's path (docs/authoring.md, "A new page, start to finish"): the worked example in
docs_src/new_page/ (a Markdown page, its page module, a listing and a nav entry) builds for real
with the course's own mkdocs.yml, hooks and packages, and every step left out fails the strict
build with the message the authoring page shows for it, naming the file and what to add."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pages import authoring

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs_src" / "new_page"
PAGE, MODULE = "docs/l4.md", "pages/l4.py"


def course_without_pages(root: Path) -> None:
    """The build inputs of the course with none of its pages: mkdocs.yml with a nav of one stand-in
    page, its hooks, theme overrides, styles and scripts, `snippets` and `vis`, and `pages`' machinery
    (the modules that declare no PAGE), so that each build takes a second or two."""
    for folder in ("hooks", "overrides", "snippets", "vis", "docs_src", "docs/stylesheets", "docs/javascripts"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__", "*.svg"))
    (root / "pages" / "listings").mkdir(parents=True)
    for module in (ROOT / "pages").glob("*.py"):
        if not re.search(r"^PAGE\b", module.read_text(encoding="utf-8"), re.M):
            shutil.copy(module, root / "pages")
    (root / "docs" / "index.md").write_text("# The rest of the course\n", encoding="utf-8")
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = re.search(r"^nav:\n(?:[ #].*\n|\n)*", config, re.M)
    (root / "mkdocs.yml").write_text(config[:nav.start()] + "nav:\n  - Home: index.md\n" + config[nav.end():],
                                     encoding="utf-8")


def install(root: Path, nav: bool = True) -> None:
    """The example's steps 1 to 4: its files where they belong, its nav entry at the end of the nav."""
    for path in EXAMPLE.rglob("*"):
        if path.is_file() and path.parent != EXAMPLE:
            target = root / path.relative_to(EXAMPLE)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    if nav:
        config = root / "mkdocs.yml"
        entry = "".join(f"  {line}\n" for line in (EXAMPLE / "nav.yml").read_text(encoding="utf-8").splitlines()
                        if line and not line.startswith("#"))
        config.write_text(config.read_text(encoding="utf-8").replace("  - Home: index.md\n",
                                                                     "  - Home: index.md\n" + entry), encoding="utf-8")


def edit(root: Path, file: str, old: str, new: str = "") -> None:
    path = root / file
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{file} no longer holds {old!r}: update this test with the example"
    path.write_text(text.replace(old, new), encoding="utf-8")


def build(root: Path, store: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "COURSE_CACHE": str(store)}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(root / "site")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)


#: How each step is left out of the example, by the name docs/authoring.md gives the step.
FORGET = {
    "the nav entry": lambda root: None,  # install(nav=False)
    "the page module": lambda root: (root / MODULE).unlink(),
    "the page module's PAGE": lambda root: edit(root, MODULE, 'PAGE = "l4.md"\n'),
    "a citation of the page module": lambda root: (root / PAGE).write_text(
        "# The L4's ridge point\n\nThe NVIDIA L4 turns compute-bound at 403 FLOP/byte.\n", encoding="utf-8"),
    "a value": lambda root: edit(root, MODULE, "ridge = gpu.ridge_point(DTYPE)"),
    "a claim": lambda root: edit(root, MODULE, 'batch_1_memory_bound = claim("one decode step of Llama-3.1-8B at batch 1 '
                                 'is memory-bound on the L4",\n                             one.is_memory_bound(gpu))\n'),
    "a claim's citation": lambda root: edit(root, PAGE, "`#!claim l4.batch_1_memory_bound`"),
    'html="true" on a figure\'s block': lambda root: edit(root, PAGE, ' html="true"'),
    "the listing": lambda root: (root / "pages" / "listings" / "l4_batch.py").unlink(),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One store for every build of this file: the example's figure is drawn once."""
    return tmp_path_factory.mktemp("store")


def test_the_example_page_builds_strictly(tmp_path, store):
    course_without_pages(tmp_path)
    install(tmp_path)
    built = build(tmp_path, store)
    assert built.returncode == 0, built.stderr
    html = (tmp_path / "site" / "l4" / "index.html").read_text(encoding="utf-8")
    assert re.search(r'compute-bound at\s+<span class="value">403</span> FLOP/byte', html)  # a value
    assert 'class="claim" title="Checked when the site is built: one decode step' in html  # a claim
    assert "<table>" in html and "<svg" in html and "decode is compute-bound from batch" in html


@pytest.mark.parametrize("step", FORGET)
def test_a_forgotten_step_fails_the_build_and_says_what_to_add(step, tmp_path, store):
    course_without_pages(tmp_path)
    install(tmp_path, nav=step != "the nav entry")
    FORGET[step](tmp_path)
    built = build(tmp_path, store)
    assert built.returncode != 0
    assert authoring.FORGOTTEN[step] in built.stderr


def test_the_authoring_page_names_every_step_this_test_leaves_out():
    assert list(authoring.FORGOTTEN) == list(FORGET)


def test_a_claim_no_longer_true_fails_with_its_sentence_not_a_crash_after_the_build(tmp_path, store):
    course_without_pages(tmp_path)
    install(tmp_path)
    edit(tmp_path, MODULE, "one.is_memory_bound(gpu))", "not one.is_memory_bound(gpu))")
    built = build(tmp_path, store)
    assert built.returncode != 0
    assert "ClaimFailed: no longer true: one decode step of Llama-3.1-8B at batch 1 is memory-bound" in built.stderr
    assert "hooks/claims.py" not in built.stderr  # the claims check after the build skips a module that failed
