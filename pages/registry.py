"""What the site is made of, derived: the pages come from mkdocs.yml's nav, each page's modules
from what its Markdown cites, and figures and exercises from those modules' own declarations
(FIGURES, EXERCISES). Adding a chapter touches the nav, its page and its module, nothing else.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
_CITED = re.compile(r"`#!(?:val|math|claim) ([A-Za-z]\w*)\.|^from pages import ([\w, ]+)$", re.M)
_FENCE = re.compile(r"^(?P<indent> *)```python exec=\"on\"(?P<options>[^\n]*)\n(?P<code>.*?)^(?P=indent)```$", re.M | re.S)
_BLOCK_ID = re.compile(r'\bid="([^"]+)"')


class _AnyTagLoader(yaml.SafeLoader):
    """Reads mkdocs.yml's nav without MkDocs: tags such as !ENV or !!python/name read as None."""


_AnyTagLoader.add_multi_constructor("", lambda loader, suffix, node: None)


def nav_pages(config: Path = ROOT / "mkdocs.yml") -> list[str]:
    """Every page of the nav, as a path under docs/, in nav order."""
    nav = yaml.load(config.read_text(encoding="utf-8"), Loader=_AnyTagLoader)["nav"]
    pages: list[str] = []

    def walk(item: object) -> None:
        if isinstance(item, str):
            pages.append(item)
        elif isinstance(item, dict):
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(nav)
    return pages


def markdown_pages() -> list[str]:
    return [page for page in nav_pages() if page.endswith(".md")]


def cited_modules(page: str) -> list[str]:
    """The page modules a page cites (`#!val ch1.x`, `from pages import ch1`), in order."""
    names: list[str] = []
    for val, imported in _CITED.findall((DOCS / page).read_text(encoding="utf-8")):
        for name in [val] if val else [n.strip() for n in imported.split(",")]:
            if name and name not in names:
                names.append(name)
    return names


def page_modules() -> list[str]:
    """Every page module the site cites, in nav order."""
    names: list[str] = []
    for page in markdown_pages():
        names += [name for name in cited_modules(page) if name not in names]
    return names


def load_path(name: str) -> Path:
    return ROOT / "pages" / f"{name}.py"


def load(name: str) -> ModuleType:
    return importlib.import_module(f"pages.{name}")


def exercise_modules() -> list[ModuleType]:
    """The modules that declare EXERCISES, in nav order."""
    return [module for module in map(load, page_modules()) if hasattr(module, "EXERCISES")]


def committed_figures() -> dict:
    """name -> drawing function of every figure a page module commits to vis/<name>.svg."""
    return {name: draw for module in map(load, page_modules()) for name, draw in getattr(module, "FIGURES", {}).items()}


@dataclass(frozen=True)
class Block:
    """One `python exec="on"` block of a page."""

    page: str
    id: str
    options: str
    code: str  # with its `--8<--` lines expanded, as pymdownx.snippets expands them

    @property
    def html(self) -> bool:
        return 'html="true"' in self.options


def expand_listing(line: str) -> str:
    """`--8<-- "pages/listings/x.py"` or `"pages/ch3.py:name"` -> the file or its section."""
    target = line.split('"')[1]
    path, _, section = target.partition(":")
    text = (ROOT / path).read_text(encoding="utf-8")
    if not section:
        return text
    match = re.search(rf"# --8<-- \[start:{section}\]\n(.*?)^\s*# --8<-- \[end:{section}\]", text, re.S | re.M)
    if match is None:
        raise LookupError(f"{path} has no section {section!r}")
    lines = match.group(1).splitlines()
    indent = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
    return "\n".join(x[indent:] for x in lines) + "\n"


def blocks(page: str) -> list[Block]:
    """The executed code blocks of a page, in page order."""
    found = []
    for match in _FENCE.finditer((DOCS / page).read_text(encoding="utf-8")):
        lines = [line.removeprefix(match["indent"]) for line in match["code"].splitlines()]
        code = "".join(expand_listing(line) if line.startswith("--8<--") else line + "\n" for line in lines)
        block_id = _BLOCK_ID.search(match["options"])
        found.append(Block(page, block_id.group(1) if block_id else f"block-{len(found) + 1}", match["options"], code))
    return found


def citations(page: str) -> list[str]:
    """The claims a page cites: `#!claim` code spans, found by a Markdown parser (so an example
    inside a longer code span is not a citation)."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt().parse((DOCS / page).read_text(encoding="utf-8"))
    spans = [child.content for token in tokens for child in token.children or [] if child.type == "code_inline"]
    return [span.split(None, 1)[1].strip() for span in spans if span.startswith("#!claim ")]


def claims() -> dict[str, object]:
    """'ch3.name' -> Claim, for every claim a page module names."""
    from pages.claims import Claim

    return {f"{name}.{attr}": value for name in page_modules() for attr, value in vars(load(name)).items()
            if isinstance(value, Claim)}


def claim_problems() -> list[str]:
    """Claims no sentence cites, cited twice, and citations that name no claim."""
    cited: dict[str, list[str]] = {}
    for page in markdown_pages():
        for ref in citations(page):
            cited.setdefault(ref, []).append(page)
    known = claims()
    return ([f"claim {ref} ({known[ref]}) is cited by no sentence" for ref in known if ref not in cited]
            + [f"claim {ref} is cited {len(pages)} times ({', '.join(pages)})" for ref, pages in cited.items()
               if len(pages) > 1]
            + [f"{', '.join(pages)} cites {ref}, which names no claim" for ref, pages in cited.items() if ref not in known])
