"""A disk cache for figures: a figure whose inputs and code did not change is not redrawn.

The key is the drawing function's name, its arguments, the matplotlib version, and the code
(the syntax tree: comments and layout do not count) of every course module the function's
module imports, transitively, plus the data files. Editing prose redraws nothing; editing snippets/roofline.py
redraws the figures that import it; editing snippets/calculator.py redraws none.

Live measurements (the chapter 2 demonstration) are cached only while `mkdocs serve` runs
(COURSE_REUSE_LIVE, set by hooks/reload_modules.py): a build always measures anew.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import pickle
from functools import cache
from pathlib import Path
from typing import Callable, TypeVar

import matplotlib

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "figures"
PACKAGES = ("snippets", "vis", "pages")
T = TypeVar("T")


def _module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


def _imports(path: Path) -> frozenset[str]:
    """Course modules named by the import statements of one file."""
    stat = path.stat()
    return _imports_of_version(path, stat.st_mtime_ns, stat.st_size)


@cache
def _imports_of_version(path: Path, mtime_ns: int, size: int) -> frozenset[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}  # `from vis import chapter1`
    return frozenset(n for n in names if n.split(".")[0] in PACKAGES)


@cache
def source_closure(module: str) -> tuple[Path, ...]:
    """Files of `module` and of every course module it imports, transitively."""
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        path = _module_file(name)
        if name in seen or path is None:
            continue
        seen[name] = path
        todo += sorted(_imports(path))
    return tuple(sorted(set(seen.values())))


@cache
def _code_digest(path: Path, mtime_ns: int, size: int) -> bytes:
    """Digest of a module's syntax tree (comments and layout do not count); keyed on the file's
    modification time and size, so an unchanged file is parsed once per process."""
    return hashlib.sha256(ast.dump(ast.parse(path.read_text(encoding="utf-8"))).encode()).digest()


def key(fn: Callable, args: tuple, kwargs: dict) -> str:
    call = f"{fn.__module__}.{fn.__qualname__}{args!r}{sorted(kwargs.items())!r}{matplotlib.__version__}"
    digest = hashlib.sha256(call.encode())
    source_closure.cache_clear()  # a long-running server sees edits
    for path in source_closure(fn.__module__):  # the code, not its comments or layout
        stat = path.stat()
        digest.update(_code_digest(path, stat.st_mtime_ns, stat.st_size))
    for path in sorted((ROOT / "snippets" / "data").glob("*.csv")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def cached(fn: Callable[..., T], *args, live: bool = False, **kwargs) -> T:
    """fn(*args, **kwargs), from the cache when its key matches; `live` results only under
    `mkdocs serve`."""
    if live and not os.environ.get("COURSE_REUSE_LIVE"):
        return fn(*args, **kwargs)
    path = CACHE / f"{fn.__qualname__}-{key(fn, args, kwargs)}.pickle"
    if path.exists():
        return pickle.loads(path.read_bytes())
    value = fn(*args, **kwargs)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(value))
    return value
