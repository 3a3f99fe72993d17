"""Reading the packaged CSV data files and looking rows up by name."""

from __future__ import annotations

import csv
import difflib
import re
from importlib import resources
from typing import Iterable


def read_csv_rows(filename: str) -> list[dict[str, str]]:
    """Rows of `snippets/data/<filename>` as dicts of strings."""
    text = resources.files("snippets").joinpath("data", filename).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def optional_float(text: str) -> float | None:
    """A CSV cell as float; a blank cell means 'not published', so None (never zero)."""
    text = text.strip()
    return float(text) if text else None


def optional_int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text else None


def normalise_name(name: str) -> str:
    """Lower-case, vendor prefix and punctuation removed: 'NVIDIA A100 80GB SXM' -> 'a10080gbsxm'."""
    name = name.lower()
    name = re.sub(r"^(nvidia|amd|google|apple)\s+", "", name)
    name = re.sub(r"\b(geforce|instinct)\s+", "", name)
    return re.sub(r"[^a-z0-9.]", "", name)


def find_by_name(query: str, names: Iterable[str], kind: str) -> str:
    """The one name matching `query` (exact after normalising, else a unique substring).

    Raises ValueError naming close matches and every known name.
    """
    names = list(names)
    if not isinstance(query, str) or not query.strip():
        raise ValueError(f"empty {kind} name; known: {', '.join(names)}")
    wanted = normalise_name(query)
    by_key = {normalise_name(n): n for n in names}
    if wanted in by_key:
        return by_key[wanted]
    hits = [n for key, n in by_key.items() if wanted in key]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise ValueError(f"{kind} {query!r} is ambiguous; it matches: {', '.join(hits)}")
    close = difflib.get_close_matches(wanted, by_key, n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(by_key[c] for c in close)}?" if close else ""
    raise ValueError(f"unknown {kind} {query!r}.{hint} Known: {', '.join(names)}")
