"""The site's pages, discovered from mkdocs.yml's navigation (new chapters need no test edits)."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _walk(items):
    for item in items:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        if isinstance(value, list):
            yield from _walk(value)
        elif isinstance(value, str) and not value.startswith("http"):
            yield value


class _Loader(yaml.SafeLoader):
    """Reads mkdocs.yml, ignoring MkDocs' own tags such as !ENV and !!python/name."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
_Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def nav_sources() -> list[str]:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_Loader)
    return list(_walk(config["nav"]))


def url_path(source: str) -> str:
    """'01_memory_bound.md' -> '01_memory_bound/', 'index.md' -> ''."""
    stem = source.rsplit(".", 1)[0]
    if stem == "index":
        return ""
    if stem.endswith("/index"):
        return stem[: -len("index")]
    return stem + "/"


def built_html(site: Path, source: str) -> Path:
    return site / url_path(source) / "index.html"
