"""How the bench was invoked, for its usage lines: torch-free, imported by both the entry point
(snippets.__main__) and the command (snippets.bench.cli), so neither imports the other."""

from __future__ import annotations

import sys
from pathlib import Path


def program_name(argv0: str | None = None) -> str:
    """How the user invoked us: the console script's name ('llm-course'), 'python -m vis.bench'
    when that module ran, else 'python -m snippets'."""
    name = Path(argv0 if argv0 is not None else sys.argv[0]).name
    if name == "bench.py":
        return "python -m vis.bench"
    if not name or name in ("__main__.py", "-c", "-m") or name.startswith("python"):
        return "python -m snippets"
    return name


def bench_prog(argv0: str | None = None) -> str:
    """The bench command's own name: '<program> bench', or 'python -m vis.bench' alone."""
    name = program_name(argv0)
    return name if name.endswith("vis.bench") else f"{name} bench"
