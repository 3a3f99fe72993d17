"""The store: slow results and figures kept on disk, found by their content.

`cached(fn, *args)` returns fn(*args). The key is the call (function, arguments' repr), the bytes
of every course module fn's module imports (transitively, import statements read with a pattern),
the data files, and the versions of torch, numpy and matplotlib. A prose edit changes no key; an
edit of snippets/roofline.py changes the keys of the calls whose modules import it, and of those
only the ones that can reach an edited definition by name are computed again (`cached`'s aliases):
a function added, or a comment, recomputes nothing.

COURSE_CACHE: unset, .cache/store; a path, that folder; `off`, no store. An entry that cannot be
read or holds another key is computed again, with a one-line note. A `live=True` call (chapter 2's
measurement) is stored too; `python -m pages compute --live` (COURSE_LIVE=1) measures it again.
"""

from __future__ import annotations

import ast
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


@cache  # files come and go only under `mkdocs serve`, whose reload hook clears this before each build
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


@cache
def _definitions(path: Path, mtime_ns: int, size: int) -> tuple[bytes, dict[str, bytes], frozenset[str]]:
    """(digest of a file's statements other than its functions and classes, each function's and
    class's digest by name, every name the file uses), from its syntax tree (layout and comments
    do not count)."""
    tree = ast.parse(path.read_bytes())
    rest, definitions = hashlib.sha256(), {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            definitions[node.name] = hashlib.sha256(ast.dump(node).encode()).digest()
        else:
            rest.update(ast.dump(node).encode())
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    used |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    used |= {a.name.split(".")[-1] for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    return rest.digest(), definitions, frozenset(used)


def definitions_digest(module: str, qualname: str) -> bytes:
    """Like code_digest, but a function or class that no module of the closure names (a function
    just added) does not count: what a call can reach by name is what its result depends on."""
    facts = {name: _definitions(path, path.stat().st_mtime_ns, path.stat().st_size)
             for name, path in closure(module).items()}
    used = set(qualname.split(".")).union(*(names for _, _, names in facts.values()))
    digest = hashlib.sha256(versions().encode())
    for name, (rest, definitions, _) in sorted(facts.items()):
        digest.update(name.encode() + rest)
        for definition in sorted(set(definitions) & used):
            digest.update(definition.encode() + definitions[definition])
    for path in sorted((ROOT / "snippets" / "data").glob("*.csv")):
        digest.update(path.name.encode() + file_facts(path)[0])
    return digest.digest()


def imports_digest(source: str) -> str:
    """The code of the course modules `source` imports (a listing's), for a call's arguments."""
    return hashlib.sha256(b"".join(code_digest(name) for name in sorted(imported_modules(source)))).hexdigest()


def key(fn: Callable, args: tuple, kwargs: dict, code: Callable[[str, str], bytes] | None = None) -> str:
    """The entry's key: the call and code_digest (or `code`, e.g. definitions_digest)."""
    call = f"{fn.__module__}.{fn.__qualname__}{args!r}{sorted(kwargs.items())!r}".encode()
    digest = code(fn.__module__, fn.__qualname__) if code else code_digest(fn.__module__)
    return hashlib.sha256(call + digest).hexdigest()[:32]


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
    """fn(*args, **kwargs), from the store when it holds this call with this code.

    The entry is found by its key (the code's bytes: no parsing in a warm build). When that
    misses, an alias keyed on the definitions the call can reach (definitions_digest) may name an
    entry whose code differs only in what nothing uses, such as a function just added: that
    result is kept under the new key instead of being computed again."""
    folder = location()
    if folder is None:
        return fn(*args, **kwargs)
    name = f"{fn.__module__}.{fn.__qualname__}"
    entry_key = key(fn, args, kwargs)
    path = folder / f"{name}-{entry_key}.pickle"  # `rm .cache/store/vis.*`: figures
    refresh = live and os.environ.get("COURSE_LIVE") == "1"
    if not refresh:
        if path in _read and _read[path][0] == _mtime_ns(path):
            return _read[path][1]
        found, value = _load(path, entry_key)
        if found:
            _read[path] = (_mtime_ns(path), value)
            return value
    alias = folder / f"{name}-{key(fn, args, kwargs, definitions_digest)}.alias"
    found = False
    if not refresh and alias.exists():
        earlier = alias.read_text(encoding="utf-8").strip()
        found, value = _load(folder / f"{name}-{earlier}.pickle", earlier)
    if not found:
        value = fn(*args, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    for target, data in ((path, pickle.dumps((entry_key, value))), (alias, entry_key.encode())):
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")  # whole or not at all
        partial.write_bytes(data)
        os.replace(partial, target)
    _read[path] = (_mtime_ns(path), value)
    return value


def evict(folder: Path, used_since: float) -> int:
    """Remove the entries neither read nor written since `used_since` (a time.time()), and the
    aliases of entries that are gone."""
    stale = [p for p in folder.glob("*.pickle") if p.stat().st_mtime < used_since]
    names = {p.name for p in folder.glob("*.pickle")} - {p.name for p in stale}
    stale += [a for a in folder.glob("*.alias")
              if f"{a.name.rsplit('-', 1)[0]}-{a.read_text(encoding='utf-8').strip()}.pickle" not in names]
    for path in stale:
        path.unlink()
    return len(stale)
