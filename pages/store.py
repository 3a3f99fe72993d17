"""The store: slow results and figures kept on disk, found by their content.

`cached(fn, *args)` returns fn(*args), keyed on the call, the data files, the versions of torch,
numpy and matplotlib, and the code fn can reach: the course modules its module imports (import
statements read with a pattern), cut at their top-level statements, where a function or class
counts only if those modules name it. A prose edit recomputes nothing, nor does a new function or
a comment line in snippets/roofline.py; an edit of a function recomputes the calls that name it.
COURSE_CACHE: unset, .cache/store; a path, that folder; `off`, no store. An entry that cannot be
read or holds another key is computed again, with a note. A `live=True` call (chapter 2's
measurement) is stored too; `python -m pages compute --live` (COURSE_LIVE=1) measures it again.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import pickle
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Callable, TypeVar

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("snippets", "vis", "pages")
T = TypeVar("T")
log = logging.getLogger("mkdocs.plugins.store")
_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import\s+(\([^)]*\)|[^\n]*)|import\s+([^\n]+))", re.M)
_STATEMENT = re.compile(r"^(?=[^\s#)\]}])", re.M)  # a line at column 0 starts a top-level statement
_DEFINED = re.compile(r"^(?:async\s+)?(?:def|class)\s+(\w+)", re.M)
_COMMENT_LINE = re.compile(r"^[ \t]*#[^\n]*\n", re.M)


def location() -> Path | None:
    setting = os.environ.get("COURSE_CACHE", "")
    return None if setting == "off" else Path(setting) if setting else ROOT / ".cache" / "store"


@cache  # like _closure_digest, forgotten by clear() before each build of `mkdocs serve`
def module_file(name: str) -> Path | None:
    """The file of a course module ('snippets.roofline'); None for any other module."""
    base = ROOT.joinpath(*name.split("."))
    found = [p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()]
    return found[0] if found and name.split(".")[0] in PACKAGES else None


def imported_modules(source: str) -> set[str]:
    """Course modules named by import statements (`from vis import chapter1`: `vis` and
    `vis.chapter1`); a name too many only makes a key more careful."""
    names = set()
    for module, imported, plain in _IMPORT.findall(source):
        listed = imported.strip("()") if module else plain
        items = [item.split(" as ")[0].strip() for item in listed.split(",") if item.strip()]
        names |= {module, *(f"{module}.{item}" for item in items)} if module else set(items)
    return {name for name in names if module_file(name) is not None}


def words(source: str) -> frozenset[str]:
    """The names a source uses (not counting those its top-level definitions give)."""
    return frozenset(re.findall(r"[A-Za-z_]\w*", _DEFINED.sub("", source)))


@dataclass(frozen=True)
class Facts:
    imports: frozenset[str]  # the course modules a file imports
    rest: bytes  # digest of its top-level statements other than functions and classes
    definitions: dict[str, bytes]  # name -> digest of a top-level function or class
    uses: frozenset[str]  # the names it uses


@cache
def _facts(path: Path, mtime_ns: int, size: int) -> Facts:
    text = path.read_text(encoding="utf-8")
    rest, definitions = hashlib.sha256(), {}
    for statement in _STATEMENT.split(_COMMENT_LINE.sub("", text)):
        if found := _DEFINED.match(statement):
            definitions[found[1]] = hashlib.sha256(statement.rstrip().encode()).digest()
        else:
            rest.update(statement.rstrip().encode() + b"\n")
    return Facts(frozenset(imported_modules(text)), rest.digest(), definitions, words(text))


def file_facts(path: Path) -> Facts:
    stat = path.stat()
    return _facts(path, stat.st_mtime_ns, stat.st_size)


def closure(module: str) -> dict[str, Path]:
    """`module` and every course module it imports, transitively, with their files."""
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        if (name := todo.pop()) not in seen and (path := module_file(name)) is not None:
            seen[name] = path
            todo += file_facts(path).imports
    return seen


@cache
def versions() -> bytes:
    return ";".join(importlib.metadata.version(p) for p in ("torch", "numpy", "matplotlib")).encode()


@cache
def _closure_digest(modules: tuple[str, ...]) -> tuple[bytes, frozenset[str], tuple[Facts, ...]]:
    """(digest of the versions, the data files and the code of `modules`' closure, where a function
    or class counts only if a module of the closure names it; those names; the closure's facts)."""
    files = {name: path for module in modules for name, path in closure(module).items()}
    facts = {name: file_facts(path) for name, path in sorted(files.items())}
    used = frozenset().union(*(f.uses for f in facts.values()))
    digest = hashlib.sha256(versions())
    for name, f in facts.items():
        digest.update(name.encode() + f.rest + b"".join(n.encode() + f.definitions[n] for n in sorted(f.definitions.keys() & used)))
    for path in sorted((ROOT / "snippets" / "data").glob("*.csv")):
        digest.update(path.name.encode() + file_facts(path).rest)
    return digest.digest(), used, tuple(facts.values())


def code_digest(modules: tuple[str, ...], uses: frozenset[str] = frozenset()) -> bytes:
    """_closure_digest, with the functions and classes `uses` names besides (one just added: none)."""
    digest, used, facts = _closure_digest(modules)
    extra = b"".join(n.encode() + f.definitions[n] for f in facts for n in sorted(f.definitions.keys() & (uses - used)))
    return hashlib.sha256(digest + extra).digest() if extra else digest


def clear() -> None:
    """Forget module files and digests: files may have changed since (`mkdocs serve`)."""
    module_file.cache_clear()
    _closure_digest.cache_clear()


def imports_digest(source: str) -> str:
    """The code a listing's `source` reaches, for the arguments of the call that runs it."""
    return code_digest(tuple(sorted(imported_modules(source))), words(source)).hex()


def key(fn: Callable, args: tuple, kwargs: dict) -> str:
    call = f"{fn.__module__}.{fn.__qualname__}{args!r}{sorted(kwargs.items())!r}".encode()
    return hashlib.sha256(call + code_digest((fn.__module__,), frozenset(fn.__qualname__.split(".")))).hexdigest()[:32]


def _load(path: Path, entry_key: str) -> tuple[bool, object]:
    """(True, value) for a sound entry of `entry_key`, else (False, None), with a note if it is damaged."""
    try:
        stored_key, value = pickle.loads(path.read_bytes())
    except FileNotFoundError:
        return False, None
    except Exception as error:  # noqa: BLE001 - any damage: compute again, naming the file
        log.info("store: %s could not be read (%s); computing it again", path, type(error).__name__)
        return False, None
    if stored_key != entry_key:
        log.info("store: %s holds another call's result; computing it again", path)
        return False, None
    os.utime(path)  # used now: `python -m pages compute` evicts what it neither read nor wrote
    return True, value


def cached(fn: Callable[..., T], *args, live: bool = False, **kwargs) -> T:
    """fn(*args, **kwargs), from the store when it holds this call with this code."""
    if (folder := location()) is None:
        return fn(*args, **kwargs)
    entry_key = key(fn, args, kwargs)
    path = folder / f"{fn.__module__}.{fn.__qualname__}-{entry_key}.pickle"  # `rm .cache/store/vis.*`: figures
    found, value = (False, None) if live and os.environ.get("COURSE_LIVE") == "1" else _load(path, entry_key)
    if not found:
        value = fn(*args, **kwargs)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")  # whole or not at all
        partial.write_bytes(pickle.dumps((entry_key, value)))
        os.replace(partial, path)
    return value


def evict(folder: Path, used_since: float) -> int:
    """Remove what was neither read nor written since `used_since` (a time.time())."""
    stale = [path for path in folder.iterdir() if path.stat().st_mtime < used_since]
    for path in stale:
        path.unlink()
    return len(stale)
