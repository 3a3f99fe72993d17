"""What the site is made of, derived: the pages from mkdocs.yml's nav, each page's modules from
what its Markdown cites (a module declaring its PAGE), figures and exercises from those modules'
own FIGURES and EXERCISES. A chapter is its nav entry, its page and its module, nothing else.
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
_CITED = re.compile(r"`#!(?:val|math|claim) ([A-Za-z]\w*)\.|^ *from pages import ([\w, ]+)$", re.M)
_FENCE = re.compile(r'^(?P<indent> *)```python exec="on"(?P<options>[^\n]*)\n(?P<code>.*?)^(?P=indent)```$', re.M | re.S)


class _AnyTagLoader(yaml.SafeLoader):
    """Reads mkdocs.yml without MkDocs: tags such as !ENV or !!python/name read as None."""


_AnyTagLoader.add_multi_constructor("", lambda loader, suffix, node: None)


def nav_pages(config: Path = ROOT / "mkdocs.yml") -> list[str]:
    """Every page of the nav, as a path under docs/, in nav order."""
    def walk(item: object) -> list[str]:
        values = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        return [item] if isinstance(item, str) else [page for value in values or () for page in walk(value)]

    return walk(yaml.load(config.read_text(encoding="utf-8"), Loader=_AnyTagLoader)["nav"])


def markdown_pages() -> list[str]:
    return [page for page in nav_pages() if page.endswith(".md")]


def load(name: str) -> ModuleType:
    return importlib.import_module(f"pages.{name}")


def declares(name: str, attribute: str) -> bool:
    """Whether pages/<name>.py assigns `attribute` at module level (read, not imported)."""
    path = ROOT / "pages" / f"{name}.py"
    return path.is_file() and re.search(rf"^{attribute}\b.*=", path.read_text(encoding="utf-8"), re.M) is not None


def cited_modules(page: str) -> list[str]:
    """The page modules (those declaring a PAGE) a page cites: `#!val ch1.x`, `from pages import ch1`."""
    found = _CITED.findall((DOCS / page).read_text(encoding="utf-8"))
    names = [name.strip() for val, imported in found for name in ([val] if val else imported.split(","))]
    return [name for name in dict.fromkeys(names) if declares(name, "PAGE")]


def page_modules() -> list[str]:
    """Every page module the site cites, in nav order."""
    return list(dict.fromkeys(name for page in markdown_pages() for name in cited_modules(page)))


def exercise_modules() -> list[ModuleType]:
    return [load(name) for name in page_modules() if declares(name, "EXERCISES")]


def committed_figures() -> dict:
    """name -> drawing function of every figure a page module commits to vis/<name>.svg."""
    return {name: draw for module in map(load, page_modules()) for name, draw in getattr(module, "FIGURES", {}).items()}


@dataclass(frozen=True)
class Block:
    """One `python exec="on"` block of a page, its `--8<--` lines expanded as pymdownx.snippets does."""

    page: str
    id: str
    code: str
    html: bool  # html="true": its output is HTML (a figure), not Markdown


def expand_listing(line: str) -> str:
    """`--8<-- "pages/listings/x.py"` or `"pages/authoring.py:claim"`: the file, or its section."""
    path, _, section = line.split('"')[1].partition(":")
    text = (ROOT / path).read_text(encoding="utf-8")
    if section:
        text = text.split(f"# --8<-- [start:{section}]\n", 1)[1].split(f"# --8<-- [end:{section}]", 1)[0]
    return text


def blocks(page: str) -> list[Block]:
    """The executed code blocks of a page, in page order (each has an id="...")."""
    found = []
    for match in _FENCE.finditer((DOCS / page).read_text(encoding="utf-8")):
        lines = [line.removeprefix(match["indent"]) for line in match["code"].splitlines()]
        code = "".join(expand_listing(line) if line.startswith("--8<--") else line + "\n" for line in lines)
        options = match["options"]
        found.append(Block(page, re.search(r'\bid="([^"]+)"', options).group(1), code, 'html="true"' in options))
    return found


def citations(page: str) -> list[str]:
    """The claims a page cites: `#!claim` code spans (not an example inside a ``longer`` span)."""
    text = re.sub(r"``.*?``", "", (DOCS / page).read_text(encoding="utf-8"), flags=re.S)
    return [ref.strip() for ref in re.findall(r"`#!claim ([^`]+)`", text)]


def claims() -> dict[str, object]:
    """'ch3.name' -> Claim, for every claim a page module names."""
    from pages.claims import Claim

    return {f"{name}.{attr}": value for name in page_modules() for attr, value in vars(load(name)).items()
            if isinstance(value, Claim)}


def claim_problems() -> list[str]:
    """Claims no sentence cites or cited twice, and citations that name no claim."""
    cited: dict[str, list[str]] = {}
    for page in markdown_pages():
        for ref in citations(page):
            cited.setdefault(ref, []).append(page)
    known = claims()
    return ([f"claim {ref} ({known[ref]}) is cited by no sentence" for ref in known if ref not in cited]
            + [f"claim {ref} is cited {len(pages)} times ({', '.join(pages)})" for ref, pages in cited.items()
               if len(pages) > 1]
            + [f"{', '.join(pages)} cites {ref}, which names no claim" for ref, pages in cited.items() if ref not in known])
