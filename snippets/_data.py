"""Reading the CSV data files and looking rows up by name."""

from __future__ import annotations

import difflib
import re
from importlib import resources
from pathlib import Path
from typing import Iterable

from snippets.errors import UnknownName, WrongType


def packaged_path(filename: str) -> str:
    """How errors name a packaged data file: 'snippets/data/<filename>'."""
    return f"snippets/data/{filename}"


def read_text(filename: str, text: str | None = None, path: str | Path | None = None) -> tuple[str, str]:
    """(CSV text, the name errors should use for it).

    By default the packaged `snippets/data/<filename>`; `text` (CSV content) or `path`
    (a file) replace it, so tests and readers can load other data through the same checks.
    """
    if text is not None and path is not None:
        raise ValueError("give text or path, not both")
    if text is not None:
        if not isinstance(text, str):
            raise WrongType(f"text must be the CSV content as a string, got {type(text).__name__}")
        return text, f"<text for {filename}>"
    if path is not None:
        return Path(path).read_text(encoding="utf-8"), str(path)
    packaged = resources.files("snippets").joinpath("data", filename).read_text(encoding="utf-8")
    return packaged, packaged_path(filename)


def normalise_name(name: str) -> str:
    """Lower-case, vendor prefix and punctuation removed: 'NVIDIA A100 80GB SXM' -> 'a10080gbsxm'."""
    name = name.lower()
    name = re.sub(r"^(nvidia|amd|google|apple)\s+", "", name)
    name = re.sub(r"\b(geforce|instinct)\s+", "", name)
    return re.sub(r"[^a-z0-9.]", "", name)


def find_by_name(query: str, names: Iterable[str], kind: str) -> str:
    """The one name matching `query` (exact after normalising, else a unique substring).

    Raises UnknownName (a KeyError and a ValueError) naming close matches and every known name.
    """
    names = list(names)
    if not isinstance(query, str):
        raise WrongType(f"{kind} name must be a string, got {query!r}")
    if not query.strip():
        raise UnknownName(f"empty {kind} name; known: {', '.join(names)}")
    wanted = normalise_name(query)
    by_key = {normalise_name(n): n for n in names}
    if wanted in by_key:
        return by_key[wanted]
    hits = [n for key, n in by_key.items() if wanted and wanted in key]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise UnknownName(f"{kind} {query!r} is ambiguous; it matches: {', '.join(hits)}")
    close = difflib.get_close_matches(wanted, by_key, n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(by_key[c] for c in close)}?" if close else ""
    raise UnknownName(f"unknown {kind} {query!r}.{hint} Known: {', '.join(names)}")
