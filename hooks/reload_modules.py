"""MkDocs hook: re-import the course's own Python packages before a build when their code or
data changed.

markdown-exec runs page code inside the long-lived `mkdocs serve` process, where an edited
module would otherwise stay cached in sys.modules. When any file of `snippets`, `vis` or
`pages` (or a data or results file they read at import) changed since the last build, this
drops those packages so the next build imports them afresh; after an edit to prose alone it
keeps them, so the page modules' values are not recomputed. Nothing is written into docs/, so
there is no rebuild loop.
"""

import hashlib
import os
import sys
from pathlib import Path

PACKAGES = ("snippets", "vis", "pages")
ROOT = Path(__file__).resolve().parents[1]
WATCHED = ("snippets", "vis", "pages", "docs/results")
SIGNATURE = ROOT / ".cache" / "course-modules.signature"


def signature() -> str:
    """Names, sizes and modification times of every watched file."""
    digest = hashlib.sha256()
    for folder in WATCHED:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".csv", ".json") and "__pycache__" not in path.parts:
                stat = path.stat()
                digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def drop_course_modules() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in PACKAGES:
            del sys.modules[name]


def on_pre_build(config, **kwargs):
    now = signature()
    loaded = any(name.split(".")[0] in PACKAGES for name in sys.modules)
    if loaded and SIGNATURE.exists() and SIGNATURE.read_text() == now:
        return  # nothing the pages import has changed: keep the imported modules and their values
    drop_course_modules()
    SIGNATURE.parent.mkdir(parents=True, exist_ok=True)
    SIGNATURE.write_text(now)


def on_startup(command, dirty, **kwargs):
    """Under `mkdocs serve`, let vis.cache reuse live measurements between rebuilds."""
    if command == "serve":
        os.environ["COURSE_REUSE_LIVE"] = "1"
