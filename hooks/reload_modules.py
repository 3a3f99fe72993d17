"""MkDocs hook: re-import the course's own Python packages before a build when their code or
data changed.

markdown-exec runs page code inside the long-lived `mkdocs serve` process, where an edited
module would otherwise stay cached in sys.modules. When any file of `snippets`, `vis` or
`pages` (or a data or results file they read at import) changed since the last build, this
drops those packages so the next build imports them afresh; after an edit to prose alone it
keeps them, so the page modules' values are not recomputed. Under `mkdocs serve` it also keeps
them after an edit that changes no code: a comment edited in place or added below the code, or
blank space (the syntax tree, positions included, is the same, so tracebacks still point at the
right lines). Nothing is written into docs/, so there is no rebuild loop.
"""

import ast
import hashlib
import os
import sys
from pathlib import Path

PACKAGES = ("snippets", "vis", "pages")
ROOT = Path(__file__).resolve().parents[1]
WATCHED = ("snippets", "vis", "pages", "docs/results")
SIGNATURE = ROOT / ".cache" / "course-modules.signature"
_serving = False
#: Under `mkdocs serve`: each watched file's modification time, size and what the modules see of it.
_seen: dict[Path, tuple[int, int, str]] = {}


def watched_files() -> list[Path]:
    return [path for folder in WATCHED for path in sorted((ROOT / folder).rglob("*"))
            if path.is_file() and path.suffix in (".py", ".csv", ".json") and "__pycache__" not in path.parts]


def signature() -> str:
    """Names, sizes and modification times of every watched file."""
    digest = hashlib.sha256()
    for path in watched_files():
        stat = path.stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _meaning(path: Path) -> str:
    """What an imported module sees of a file: a Python file's syntax tree with every node's
    position, any other file's bytes."""
    data = path.read_bytes()
    if path.suffix == ".py":
        try:
            return hashlib.sha256(ast.dump(ast.parse(data), include_attributes=True).encode()).hexdigest()
        except (SyntaxError, ValueError):
            pass
    return hashlib.sha256(data).hexdigest()


def same_meaning() -> bool:
    """Whether every watched file means what it meant at the last call (files whose time and
    size did not change are not read). False at the first call, which only records."""
    same = bool(_seen)
    files = watched_files()
    for gone in set(_seen) - set(files):
        del _seen[gone]
        same = False
    for path in files:
        stat = path.stat()
        known = _seen.get(path)
        if known is not None and known[:2] == (stat.st_mtime_ns, stat.st_size):
            continue
        meaning = _meaning(path)
        same = same and known is not None and known[2] == meaning
        _seen[path] = (stat.st_mtime_ns, stat.st_size, meaning)
    return same


def drop_course_modules() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in PACKAGES:
            del sys.modules[name]


def on_pre_build(config, **kwargs):
    now = signature()
    loaded = any(name.split(".")[0] in PACKAGES for name in sys.modules)
    unchanged_code = _serving and same_meaning()  # (records what the files mean, for the next build)
    if loaded and (unchanged_code or (SIGNATURE.exists() and SIGNATURE.read_text() == now)):
        SIGNATURE.write_text(now)
        return  # nothing the pages import has changed: keep the imported modules and their values
    drop_course_modules()
    SIGNATURE.parent.mkdir(parents=True, exist_ok=True)
    SIGNATURE.write_text(now)


def on_startup(command, dirty, **kwargs):
    """Under `mkdocs serve`, let vis.cache reuse live measurements between rebuilds, and keep the
    modules after edits that change no code."""
    global _serving
    if command == "serve":
        _serving = True
        os.environ["COURSE_REUSE_LIVE"] = "1"
