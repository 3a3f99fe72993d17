"""A disk cache for figures: a figure whose inputs and code did not change is not redrawn.

The key is the drawing function's name, its arguments, the matplotlib version, and the code
(the syntax tree: comments and layout do not count) of every course module the function's
module imports, transitively, plus the data files. Editing prose redraws nothing; editing snippets/roofline.py
redraws the figures that import it; editing snippets/calculator.py redraws none.

Live measurements (the chapter 2 demonstration) are cached only while `mkdocs serve` runs
(COURSE_REUSE_LIVE, set by hooks/reload_modules.py): a build always measures anew.

While a build runs, figures missing from the cache are drawn by worker processes
(vis.background). What a key needs of each course module (its syntax tree's digest, its
imports) is kept in .cache/parsed-code.pickle, looked up by the file's bytes.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import importlib.util
import os
import pickle
from functools import cache
from pathlib import Path
from typing import Callable, TypeVar

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "figures"
PACKAGES = ("snippets", "vis", "pages")
T = TypeVar("T")
#: Part of every key: a new matplotlib may draw differently (read without importing it).
MATPLOTLIB = importlib.metadata.version("matplotlib")


def _module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


#: Where `_parse` keeps what it learned across processes: parsing every course module again
#: in each build cost 0.3 s. By the file's content, so nothing can go stale.
PARSED = ROOT / ".cache" / "parsed-code.pickle"
_parsed: dict[str, tuple[bytes, frozenset[str]]] | None = None
_used: set[str] = set()
_parsed_changed = False


def _parse(path: Path) -> tuple[bytes, frozenset[str]]:
    """(digest of the file's syntax tree, course modules its import statements name), looked up
    by the digest of the file's bytes."""
    global _parsed, _parsed_changed
    if _parsed is None:
        try:
            _parsed = pickle.loads(PARSED.read_bytes())
        except Exception:  # noqa: BLE001 - missing or unreadable: parse afresh
            _parsed = {}
    data = path.read_bytes()
    content = hashlib.sha256(data).hexdigest()
    _used.add(content)
    if content not in _parsed:
        tree = ast.parse(data.decode("utf-8"))
        digest = hashlib.sha256(ast.dump(tree).encode()).digest()  # comments and layout do not count
        _parsed[content] = (digest, _imported(tree))
        _parsed_changed = True
    return _parsed[content]


def _save_parsed() -> None:
    """Keep what this process parsed or used (and only that: the file stays small)."""
    global _parsed_changed
    if _parsed_changed and _parsed is not None:
        store(PARSED, {content: _parsed[content] for content in _used if content in _parsed})
        _parsed_changed = False


def _imported(tree: ast.AST) -> frozenset[str]:
    """Course modules named by the import statements of a syntax tree."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}  # `from vis import chapter1`
    return frozenset(n for n in names if n.split(".")[0] in PACKAGES)


@cache
def _parsed_version(path: Path, mtime_ns: int, size: int) -> tuple[bytes, frozenset[str]]:
    """`_parse`, once per process for a file that keeps its modification time and size."""
    return _parse(path)


def _imports(path: Path) -> frozenset[str]:
    """Course modules named by the import statements of one file."""
    stat = path.stat()
    return _parsed_version(path, stat.st_mtime_ns, stat.st_size)[1]


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


def _stamps(paths) -> tuple[tuple[Path, int, int], ...]:
    """(path, modification time, size) of each path."""
    stamps = []
    for path in paths:
        stat = path.stat()
        stamps.append((path, stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)


#: module -> (stamps of the files and folders its code bytes were read from, those bytes)
_code_of: dict[str, tuple[tuple[tuple[Path, int, int], ...], bytes]] = {}


def code_bytes(module: str) -> bytes:
    """What `key` hashes besides the call: the digest of the code of every file in `module`'s
    import closure, then the data files' bytes.

    Remembered until a file of the closure, a data file, or a folder holding one changes (a new
    module or data file changes its folder): a build computes it once per module, and a
    long-running `mkdocs serve` still sees every edit."""
    known = _code_of.get(module)
    if known is not None:
        stamps, blob = known
        try:
            if _stamps(path for path, _, _ in stamps) == stamps:
                return blob
        except OSError:  # a file went away: compute afresh
            pass
    data_folder = ROOT / "snippets" / "data"
    data = sorted(data_folder.glob("*.csv"))
    closure = source_closure(module)
    folders = sorted({path.parent for path in closure} | {ROOT / package for package in PACKAGES} | {data_folder})
    stamps = _stamps([*closure, *data, *folders])
    blob = b"".join([*(_parsed_version(*stamp)[0] for stamp in stamps[: len(closure)]),  # the code's syntax trees
                     *(path.read_bytes() for path in data)])
    _code_of[module] = (stamps, blob)
    _save_parsed()
    return blob


def key(fn: Callable, args: tuple, kwargs: dict) -> str:
    call = f"{fn.__module__}.{fn.__qualname__}{args!r}{sorted(kwargs.items())!r}{MATPLOTLIB}"
    digest = hashlib.sha256(call.encode())
    digest.update(code_bytes(fn.__module__))
    return digest.hexdigest()[:32]


def entry(fn: Callable, args: tuple, kwargs: dict) -> Path:
    """The cache file of fn(*args, **kwargs): named after the function's module and name (so
    `rm .cache/figures/vis.*` forgets every figure and keeps the simulations), then the key."""
    return CACHE / f"{fn.__module__}.{fn.__qualname__}-{key(fn, args, kwargs)}.pickle"


def store(path: Path, value: object) -> None:
    """Write `value` to the cache file `path` whole or not at all: a reader, another process
    or a build that was interrupted never leaves or sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_bytes(pickle.dumps(value))
    os.replace(partial, path)


def compute(fn: Callable[..., T], args: tuple, kwargs: dict, path: Path | None) -> T:
    """fn(*args, **kwargs), stored at `path` unless it is None."""
    value = fn(*args, **kwargs)
    if path is not None:
        store(path, value)
    return value


#: While `mkdocs build` or `mkdocs serve` builds, the vis.background.Background that hooks/background.py
#: started: cached() hands it figures to draw in a worker process. None otherwise.
background = None


def _reusable(live: bool) -> bool:
    return not live or bool(os.environ.get("COURSE_REUSE_LIVE"))


def cached(fn: Callable[..., T], *args, live: bool = False, **kwargs) -> T:
    """fn(*args, **kwargs), from the cache when its key matches; `live` results only under
    `mkdocs serve`.

    During a build a figure (a function of the `vis` package: it returns inline SVG) that is not
    in the cache is drawn by a worker process, and this returns a placeholder that the build
    replaces with the figure (vis.background)."""
    path = entry(fn, args, kwargs) if _reusable(live) else None
    if path is not None and path.exists():
        return pickle.loads(path.read_bytes())
    if background is not None:
        return background.call(fn, args, kwargs, path)
    return compute(fn, args, kwargs, path)


def prefetch(fn: Callable, *args, live: bool = False, **kwargs) -> None:
    """Start cached(fn, *args, live=live, **kwargs) in a worker process now, when a build runs
    and the cache does not hold it: the call itself, later, takes the result."""
    if background is None:
        return
    path = entry(fn, args, kwargs) if _reusable(live) else None
    if path is None or not path.exists():
        background.prefetch(fn, args, kwargs, path)
