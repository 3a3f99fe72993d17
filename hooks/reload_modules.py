"""MkDocs hook: under `mkdocs serve`, before each rebuild, drop from sys.modules every course
module whose file changed and every one that imports it (pages.store.closure), and all of them
after a data edit (snippets/data, pages/data, docs/results): the build re-imports exactly what an edit changed."""

import sys
from pathlib import Path

from pages import store

PATTERNS = ("snippets/**/*.py", "vis/**/*.py", "pages/**/*.py", "snippets/data/*.csv", "pages/data/*.csv",
            "docs/results/*.json")
seen: dict[Path, tuple[int, int]] = {}  # file -> (modification time, size) at the last build


def _files() -> dict[Path, tuple[int, int]]:
    return {path: (path.stat().st_mtime_ns, path.stat().st_size) for p in PATTERNS for path in store.ROOT.glob(p)}


def on_pre_build(config, **kwargs):
    store.clear()  # module files may have come, gone or changed
    now = _files()
    changed = {path for path in now.keys() | seen.keys() if now.get(path) != seen.get(path)}
    if seen and changed:
        data = any(path.suffix != ".py" for path in changed)
        for name in [n for n in sys.modules if n.split(".")[0] in store.PACKAGES]:
            if data or changed & set(store.closure(name).values()):
                del sys.modules[name]
    seen.clear()
    seen.update(now)
