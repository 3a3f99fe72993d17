"""MkDocs hook: under `mkdocs serve`, re-import exactly the course modules an edit changed: before
each rebuild, drop from sys.modules every course module whose file changed and every course module
that imports one (pages.store.closure); after a data edit (snippets/data, docs/results), all."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATTERNS = ("snippets/**/*.py", "vis/**/*.py", "pages/**/*.py", "snippets/data/*.csv", "docs/results/*.json")
_seen: dict[Path, tuple[int, int]] = {}  # file -> (modification time, size) at the last build


def _files() -> dict[Path, tuple[int, int]]:
    return {path: (path.stat().st_mtime_ns, path.stat().st_size) for p in PATTERNS for path in ROOT.glob(p)}


def on_pre_build(config, **kwargs):
    global _seen
    from pages import store

    store.module_file.cache_clear()  # a module file may have been added or removed
    now = _files()
    changed = {path for path in now.keys() | _seen.keys() if now.get(path) != _seen.get(path)}
    if _seen and changed:
        loaded = [name for name in sys.modules if name.split(".")[0] in store.PACKAGES]
        data = any(path.suffix != ".py" for path in changed)
        for name in [n for n in loaded if data or changed & set(store.closure(n).values())]:
            del sys.modules[name]
    _seen = now
