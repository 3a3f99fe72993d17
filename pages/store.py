"""The course's store: slow results and drawn figures, kept on disk and found by their content.

`cached(fn, *args, **kwargs)` returns fn(*args, **kwargs). The entry's key is the call (the
function's module and name, the arguments' repr), the source of every course module the
function's module imports (transitively), the data files, and the versions of the packages
whose output it depends on. Editing prose changes no key; editing snippets/roofline.py changes
the keys of exactly the calls whose modules import it, so those, and only those, are computed
again.

`python -m pages compute` fills the store before a build (pages/compute.py); `mkdocs build` then
reads it, and computes in place what it lacks. The switch is `COURSE_CACHE`: unset, the store is
.cache/store; a path, that folder; `off`, no store (every call computes). An entry that cannot
be read, or holds another call's key, is computed again with a one-line note naming it.

A `live=True` call (chapter 2's measurement of the machine building the site) is stored like any
other; `python -m pages compute --live` measures it again.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import pickle
import re
import time
from functools import cache
from pathlib import Path
from typing import Callable, TypeVar

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("snippets", "vis", "pages")
DATA = (ROOT / "snippets" / "data",)
#: Packages whose version can change what a stored call returns (read without importing them).
VERSIONED = ("torch", "numpy", "matplotlib")
T = TypeVar("T")
log = logging.getLogger("mkdocs.plugins.store")
_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import\s+(\([^)]*\)|[^\n]*)|import\s+([^\n]+))", re.M)


def location() -> Path | None:
    """Where entries live, by COURSE_CACHE: None when it is `off`."""
    setting = os.environ.get("COURSE_CACHE", "")
    if setting == "off":
        return None
    return Path(setting) if setting else ROOT / ".cache" / "store"


def refresh_live() -> bool:
    """Whether `live=True` calls are measured again (`python -m pages compute --live`)."""
    return os.environ.get("COURSE_LIVE") == "1"


def module_file(name: str) -> Path | None:
    """The source file of a course module ('snippets.roofline'), or None if it is not one."""
    parts = name.split(".")
    if parts[0] not in PACKAGES:
        return None
    base = ROOT.joinpath(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imported_modules(source: str) -> set[str]:
    """Course modules a file's import statements name (`from vis import chapter1` names both
    `vis` and `vis.chapter1`). Read with a pattern, not parsed: a name too many only makes a key
    more careful."""
    names = set()
    for module, imported, plain in _IMPORT.findall(source):
        if module:
            names.add(module)
            names |= {f"{module}.{n.split(' as ')[0].strip()}" for n in imported.strip("()").split(",") if n.strip()}
        else:
            names |= {n.split(" as ")[0].strip() for n in plain.split(",")}
    return {n for n in names if n.split(".")[0] in PACKAGES and module_file(n) is not None}


@cache
def _file_facts(path: Path, mtime_ns: int, size: int) -> tuple[bytes, frozenset[str]]:
    """(digest of a file's bytes, course modules it imports), once per version of the file."""
    source = path.read_bytes()
    return hashlib.sha256(source).digest(), frozenset(imported_modules(source.decode("utf-8")))


def file_facts(path: Path) -> tuple[bytes, frozenset[str]]:
    stat = path.stat()
    return _file_facts(path, stat.st_mtime_ns, stat.st_size)


def closure(module: str) -> dict[str, Path]:
    """`module` and every course module it imports, transitively, with their files."""
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        path = module_file(name)
        if name in seen or path is None:
            continue
        seen[name] = path
        todo += sorted(file_facts(path)[1])
    return seen


@cache
def versions() -> str:
    found = []
    for package in VERSIONED:
        try:
            found.append(f"{package}=={importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{package} absent")
    return ";".join(found)


def code_digest(module: str) -> bytes:
    """What a call's key holds besides the call: the module's import closure and the data files."""
    digest = hashlib.sha256(versions().encode())
    for name, path in sorted(closure(module).items()):
        digest.update(name.encode() + file_facts(path)[0])
    for folder in DATA:
        for path in sorted(folder.glob("*.csv")):
            digest.update(path.name.encode() + file_facts(path)[0])
    return digest.digest()


def imports_digest(source: str) -> str:
    """The code of the course modules a piece of source imports (a listing's), as a digest that a
    call can take as an argument so that its key follows that code."""
    return hashlib.sha256(b"".join(code_digest(name) for name in sorted(imported_modules(source)))).hexdigest()


def key(fn: Callable, args: tuple, kwargs: dict) -> str:
    call = f"{fn.__module__}.{fn.__qualname__}{args!r}{sorted(kwargs.items())!r}"
    return hashlib.sha256(call.encode() + code_digest(fn.__module__)).hexdigest()[:32]


def entry_path(folder: Path, fn: Callable, entry_key: str) -> Path:
    """Named after the function (`rm .cache/store/vis.*` forgets every figure), then the key."""
    return folder / f"{fn.__module__}.{fn.__qualname__}-{entry_key}.pickle"


def _load(path: Path, entry_key: str) -> tuple[bool, object]:
    """(True, value) for a sound entry holding `entry_key`; (False, None) for a missing one;
    an unreadable one or one holding another key is noted and treated as missing."""
    try:
        stored_key, value = pickle.loads(path.read_bytes())
    except FileNotFoundError:
        return False, None
    except Exception as error:  # noqa: BLE001 - any damage: compute again, say which file
        log.info("store: %s could not be read (%s: %s); computing it again", path.name, type(error).__name__, error)
        return False, None
    if stored_key != entry_key:
        log.info("store: %s holds another call's result; computing it again", path.name)
        return False, None
    os.utime(path)  # read now: `python -m pages compute` keeps what it reads or writes
    return True, value


def save(path: Path, entry_key: str, value: object) -> None:
    """Write the entry whole or not at all: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_bytes(pickle.dumps((entry_key, value)))
    os.replace(partial, path)


def cached(fn: Callable[..., T], *args, live: bool = False, **kwargs) -> T:
    """fn(*args, **kwargs), from the store when it holds this call with this code."""
    folder = location()
    if folder is None:
        return fn(*args, **kwargs)
    entry_key = key(fn, args, kwargs)
    path = entry_path(folder, fn, entry_key)
    if not (live and refresh_live()):
        found, value = _load(path, entry_key)
        if found:
            return value
    value = fn(*args, **kwargs)
    save(path, entry_key, value)
    return value


def evict(folder: Path, used_since: float) -> list[Path]:
    """Remove the entries neither read nor written since `used_since` (a time.time()); after a
    compute of every page these are the stale ones. Returns what it removed."""
    stale = [p for p in folder.glob("*.pickle") if p.stat().st_mtime < used_since]
    for path in stale:
        path.unlink()
    return stale


def now() -> float:
    """A time to pass to `evict` later: a second earlier, for file systems with coarse times."""
    return time.time() - 1
