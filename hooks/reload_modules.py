"""MkDocs hook: under `mkdocs serve`, re-import exactly the course modules an edit changed.

markdown-exec runs page code inside the long-lived server process, where an edited module would
stay in sys.modules. Before each rebuild this drops every course module (snippets, vis, pages)
whose file changed since the last build, and every course module that imports one of them,
directly or not; the next page that needs them imports them afresh. The rest, and the values
they computed, are kept. A data file (snippets/data/*.csv, docs/results/*.json) counts as a
change to every course module. Slow results come from the store (pages/store.py) either way.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("snippets", "vis", "pages")
DATA = ("snippets/data/*.csv", "docs/results/*.json")
#: file -> (modification time, size) when the last build began
_seen: dict[Path, tuple[int, int]] = {}


def _files() -> dict[Path, tuple[int, int]]:
    found = {}
    for pattern in ("snippets/**/*.py", "vis/**/*.py", "pages/**/*.py", *DATA):
        for path in ROOT.glob(pattern):
            stat = path.stat()
            found[path] = (stat.st_mtime_ns, stat.st_size)
    return found


def _stale(changed: set[Path]) -> set[str]:
    """Loaded course modules that are, or import, a changed file (every one after a data edit)."""
    from pages import store

    loaded = {name for name in sys.modules if name.split(".")[0] in PACKAGES}
    if any(path.suffix != ".py" for path in changed):
        return loaded
    return {name for name in loaded if changed & set(store.closure(name).values())}


def on_pre_build(config, **kwargs):
    global _seen
    now = _files()
    changed = {path for path in set(now) | set(_seen) if now.get(path) != _seen.get(path)}
    if _seen and changed:
        for name in _stale(changed):
            del sys.modules[name]
    _seen = now
