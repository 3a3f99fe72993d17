"""The store: slow results and figures kept on disk, found by their content.

`cached(fn, *args)` returns fn(*args). The key is the call (function, arguments' repr), the bytes
of every course module fn's module imports (transitively, import statements read with a pattern),
the data files, and the versions of torch, numpy and matplotlib. A prose edit changes no key; an
edit of snippets/roofline.py changes exactly the keys of calls whose modules import it.

COURSE_CACHE: unset, .cache/store; a path, that folder; `off`, no store. An entry that cannot be
read or holds another key is computed again, with a one-line note. A `live=True` call (chapter 2's
measurement) is stored too; `python -m pages compute --live` (COURSE_LIVE=1) measures it again.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import pickle
import re
from functools import cache
from pathlib import Path
from typing import Callable, TypeVar

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("snippets", "vis", "pages")
T = TypeVar("T")
log = logging.getLogger("mkdocs.plugins.store")
_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import\s+(\([^)]*\)|[^\n]*)|import\s+([^\n]+))", re.M)


def location() -> Path | None:
    setting = os.environ.get("COURSE_CACHE", "")
    return None if setting == "off" else Path(setting) if setting else ROOT / ".cache" / "store"


def module_file(name: str) -> Path | None:
    """The file of a course module ('snippets.roofline'); None for any other module."""
    base = ROOT.joinpath(*name.split("."))
    found = [p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()]
    return found[0] if found and name.split(".")[0] in PACKAGES else None


def imported_modules(source: str) -> set[str]:
    """Course modules named by a file's import statements (`from vis import chapter1`: `vis` and
    `vis.chapter1`); a name too many only makes a key more careful."""
    names = set()
    for module, imported, plain in _IMPORT.findall(source):
        listed = imported.strip("()") if module else plain
        items = [item.split(" as ")[0].strip() for item in listed.split(",") if item.strip()]
        names |= {module, *(f"{module}.{item}" for item in items)} if module else set(items)
    return {name for name in names if module_file(name) is not None}


@cache
def _facts(path: Path, mtime_ns: int, size: int) -> tuple[bytes, frozenset[str]]:
    source = path.read_bytes()
    return hashlib.sha256(source).digest(), frozenset(imported_modules(source.decode("utf-8")))


def file_facts(path: Path) -> tuple[bytes, frozenset[str]]:
    """(digest of the file's bytes, course modules it imports), read once per version of the file."""
    stat = path.stat()
    return _facts(path, stat.st_mtime_ns, stat.st_size)


def closure(module: str) -> dict[str, Path]:
    """`module` and every course module it imports, transitively, with their files."""
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name not in seen and (path := module_file(name)) is not None:
            seen[name] = path
            todo += file_facts(path)[1]
    return seen


@cache
def versions() -> str:
    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "absent"

    return ";".join(f"{p}=={version(p)}" for p in ("torch", "numpy", "matplotlib"))


def code_digest(module: str) -> bytes:
    digest = hashlib.sha256(versions().encode())
    data = sorted((ROOT / "snippets" / "data").glob("*.csv"))
    for name, path in [*sorted(closure(module).items()), *((p.name, p) for p in data)]:
        digest.update(name.encode() + file_facts(path)[0])
    return digest.digest()


def imports_digest(source: str) -> str:
    """The code of the course modules `source` imports (a listing's), for a call's arguments."""
    return hashlib.sha256(b"".join(code_digest(name) for name in sorted(imported_modules(source)))).hexdigest()


def key(fn: Callable, args: tuple, kwargs: dict) -> str:
    call = f"{fn.__module__}.{fn.__qualname__}{args!r}{sorted(kwargs.items())!r}".encode()
    return hashlib.sha256(call + code_digest(fn.__module__)).hexdigest()[:32]


def _load(path: Path, entry_key: str) -> tuple[bool, object]:
    """(True, value) for a sound entry of `entry_key`, else (False, None), with a note if damaged."""
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


#: entry -> (its modification time, its value) as this process last read or wrote it: `mkdocs serve`
#: rebuilds without unpickling again an entry that did not change.
_read: dict[Path, tuple[int, object]] = {}


def _mtime_ns(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def cached(fn: Callable[..., T], *args, live: bool = False, **kwargs) -> T:
    """fn(*args, **kwargs), from the store when it holds this call with this code."""
    folder = location()
    if folder is None:
        return fn(*args, **kwargs)
    entry_key = key(fn, args, kwargs)
    path = folder / f"{fn.__module__}.{fn.__qualname__}-{entry_key}.pickle"  # `rm .cache/store/vis.*`: figures
    if not (live and os.environ.get("COURSE_LIVE") == "1"):
        if path in _read and _read[path][0] == _mtime_ns(path):
            return _read[path][1]
        found, value = _load(path, entry_key)
        if found:
            _read[path] = (_mtime_ns(path), value)
            return value
    value = fn(*args, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")  # whole or not at all
    partial.write_bytes(pickle.dumps((entry_key, value)))
    os.replace(partial, path)
    _read[path] = (_mtime_ns(path), value)
    return value


def evict(folder: Path, used_since: float) -> int:
    """Remove the entries neither read nor written since `used_since` (a time.time())."""
    stale = [p for p in folder.glob("*.pickle") if p.stat().st_mtime < used_since]
    for path in stale:
        path.unlink()
    return len(stale)
