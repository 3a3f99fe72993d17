"""What the site is made of, derived: the pages from mkdocs.yml's nav, each page's modules from
what its Markdown cites (modules declaring a PAGE), figures, exercises and claims from what those
modules hold. A chapter is its nav entry, its page and its module, nothing else."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
_CITED = re.compile(r"`#!(?:val|math|claim) ([A-Za-z]\w*)\.|^```cell\n([A-Za-z]\w*)\.|^ *from pages import ([\w, ]+)$",
                    re.M)
_FENCE = re.compile(r'^(?P<indent> *)```python exec="on"(?P<options>[^\n]*)\n(?P<code>.*?)^(?P=indent)```$', re.M | re.S)


class _AnyTagLoader(yaml.SafeLoader):
    """Reads mkdocs.yml without MkDocs: tags such as !ENV or !!python/name read as None."""


_AnyTagLoader.add_multi_constructor("", lambda loader, suffix, node: None)


def markdown_pages(config: Path = ROOT / "mkdocs.yml") -> list[str]:
    """Every Markdown page of the nav, as a path under docs/, in nav order."""
    return list(_nav_pages(config, config.stat().st_mtime_ns))


@cache  # read once per build, again when mkdocs.yml changes
def _nav_pages(config: Path, mtime_ns: int) -> tuple[str, ...]:
    def walk(item: object) -> list[str]:
        values = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        return [item] if isinstance(item, str) else [page for value in values for page in walk(value)]

    nav = yaml.load(config.read_text(encoding="utf-8"), Loader=_AnyTagLoader)["nav"]
    return tuple(p for p in walk(nav) if p.endswith(".md"))


def declares(name: str, attribute: str) -> bool:
    """Whether pages/<name>.py assigns `attribute` at module level (read, not imported)."""
    path = ROOT / "pages" / f"{name}.py"
    return path.is_file() and re.search(rf"^{attribute}\b.*=", path.read_text(encoding="utf-8"), re.M) is not None


def cited_modules(page: str) -> list[str]:
    """The page modules a page cites: `#!val ch1.x`, a ```cell naming ch1.x, `from pages import ch1`."""
    found = _CITED.findall((DOCS / page).read_text(encoding="utf-8"))
    names = [name.strip() for val, fenced, imported in found
             for name in ([val or fenced] if val or fenced else imported.split(","))]
    return [name for name in dict.fromkeys(names) if declares(name, "PAGE")]


def page_modules(attribute: str = "PAGE") -> list[str]:
    """Every page module the site cites that declares `attribute` (EXERCISES, FIGURES), in nav order."""
    names = dict.fromkeys(name for page in markdown_pages() for name in cited_modules(page))
    return [name for name in names if declares(name, attribute)]


def load(name: str):
    return importlib.import_module(f"pages.{name}")


def committed_figures() -> dict:
    """name -> drawing function of every figure a page module commits to vis/<name>.svg."""
    return {name: draw for module in map(load, page_modules("FIGURES")) for name, draw in module.FIGURES.items()}


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
    return text.split(f"# --8<-- [start:{section}]\n", 1)[1].split(f"# --8<-- [end:{section}]", 1)[0] if section else text


def blocks(page: str) -> list[Block]:
    """The executed code blocks of a page, in page order (each has an id="...")."""
    found = []
    for match in _FENCE.finditer((DOCS / page).read_text(encoding="utf-8")):
        lines = [line.removeprefix(match["indent"]) for line in match["code"].splitlines()]
        code = "".join(expand_listing(line) if line.startswith("--8<--") else line + "\n" for line in lines)
        block_id = re.search(r'\bid="([^"]+)"', match["options"]).group(1)
        found.append(Block(page, block_id, code, 'html="true"' in match["options"]))
    return found
