"""Command line: `python -m snippets bench [options]` (also installed as `llm-course bench`)."""

from __future__ import annotations

import sys
from pathlib import Path


def program_name(argv0: str | None = None) -> str:
    """How the user invoked us: 'llm-course' under the console script, else 'python -m snippets'."""
    name = Path(argv0 if argv0 is not None else sys.argv[0]).name
    if not name or name in ("__main__.py", "-c", "-m") or name.startswith("python"):
        return "python -m snippets"
    return name


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    prog = program_name()
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: {prog} bench [--help] [options]\n\n"
              "  bench   measure memory bandwidth, matmul throughput, decode and prefill on this machine")
        return 0 if argv else 2
    if argv[0] != "bench":
        print(f"{prog}: unknown command {argv[0]!r}; the command is 'bench'", file=sys.stderr)
        return 2
    from snippets.bench.cli import main as bench

    return bench(argv[1:], prog=f"{prog} bench")


if __name__ == "__main__":
    raise SystemExit(main())
