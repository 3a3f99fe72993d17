"""A page's published values as JSON, committed to pages/snapshots/, so that any change of a
number on the site shows up as a diff in review (`python -m pages` rewrites them)."""

from __future__ import annotations

import dataclasses
import importlib
import json
import types
from pathlib import Path

from snippets import units

SNAPSHOTS = Path(__file__).parent / "snapshots"
#: The page modules, by the name prose uses (`#!val ch1.ridge`).
MODULES = ("ch1", "ch2", "ch3", "ch4", "ch5", "hardware", "authoring",
           "ch1_exercises", "ch2_exercises", "ch3_exercises", "ch4_exercises", "ch5_exercises", "exercises")


def _plain(value: object) -> object:
    """Numbers (to 12 significant digits, so the last bit of a float does not show), text,
    and dataclasses field by field; None for anything else."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        plain = {str(k): _plain(v) for k, v in value.items()}
        return plain if any(v is not None for v in plain.values()) else None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return None


def values(name: str) -> dict[str, object]:
    """Every public value of pages.<name>, and the text of every *_table() it renders."""
    module = importlib.import_module(f"pages.{name}")
    out: dict[str, object] = {}
    for key in sorted(vars(module)):
        if key.startswith("_") or key in vars(units):  # private, or a unit constant imported
            continue
        value = getattr(module, key)
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__ and key.endswith("_table"):
            out[f"{key}()"] = value()
        elif not isinstance(value, (types.ModuleType, types.FunctionType, type)) and _plain(value) is not None:
            out[key] = _plain(value)
    return out


def render(name: str) -> str:
    return json.dumps(values(name), indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def path(name: str) -> Path:
    return SNAPSHOTS / f"{name}.json"
