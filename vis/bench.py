"""`python -m vis.bench [options]` (the `llm-course` console script): the benchmark of
`snippets.bench` with its standalone roofline SVG drawn here, where the figures live. The bench
itself never imports `vis`; this entry point passes the drawer in."""

from __future__ import annotations

import sys

from snippets.__main__ import main as bench_main
from snippets.__main__ import program_name


def draw(doc: dict) -> str:
    """A results document's measured roofline, made fit to open on its own."""
    from vis.measured import measured_roofline, standalone_svg

    return standalone_svg(measured_roofline(doc))


def main(argv: list[str] | None = None) -> int:
    """As `python -m snippets`, with the SVG; `python -m vis.bench [options]` means `... bench [options]`."""
    argv = sys.argv[1:] if argv is None else argv
    if program_name() == "python -m vis.bench" and (not argv or argv[0] != "bench"):
        argv = ["bench", *argv]
    return bench_main(argv, draw=draw)


if __name__ == "__main__":
    raise SystemExit(main())
