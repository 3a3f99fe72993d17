"""Command line: `python -m snippets bench [options]` (also installed as `llm-course bench`)."""

from __future__ import annotations

import sys

from snippets.bench.prog import bench_prog, program_name


def main(argv: list[str] | None = None, draw=None) -> int:
    """`python -m snippets bench ...`. `draw`: the bench's standalone SVG drawer (vis.bench passes
    one; snippets never imports vis)."""
    argv = sys.argv[1:] if argv is None else argv
    prog = program_name()
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: {prog} bench [--help] [options]\n\n"
              "  bench        measure memory bandwidth, matmul throughput, decode and prefill on this machine\n"
              "  bench-comm   time all-reduce and all-to-all between processes (run it under torchrun)")
        return 0 if argv else 2
    if argv[0] == "bench-comm":
        from snippets.bench.comm import main as bench_comm

        return bench_comm(argv[1:])
    if argv[0] != "bench":
        print(f"{prog}: unknown command {argv[0]!r}; the commands are 'bench' and 'bench-comm'", file=sys.stderr)
        return 2
    from snippets.bench.cli import main as bench

    return bench(argv[1:], prog=bench_prog(), draw=draw)


if __name__ == "__main__":
    raise SystemExit(main())
