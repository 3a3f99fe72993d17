"""Command line: `python -m snippets bench [options]` (also installed as `llm-course bench`)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m snippets bench [--help] [options]\n\n"
              "  bench   measure memory bandwidth, matmul throughput and a decode step on this machine")
        return 0 if argv else 2
    if argv[0] != "bench":
        print(f"python -m snippets: unknown command {argv[0]!r}; the command is 'bench'", file=sys.stderr)
        return 2
    from snippets.bench.cli import main as bench

    return bench(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
