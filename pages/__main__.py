"""`python -m pages COMMAND`:

- `compute [-j N] [--live] [PAGE ...]`: run every page's code blocks, filling the store, before
  `mkdocs build` (with no PAGE, also evict what no page used); `--live` measures chapter 2's
  demonstration again (the publish workflow does).
- `snapshot [--update]`: compare each page as a reader sees it with pages/snapshots/ (or rewrite).
- `figures [--update]`: compare the committed vis/<name>.svg copies with the code (or rewrite).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from pages import compute, registry, snapshot, store

VIS = Path(__file__).resolve().parents[1] / "vis"


def _compute(args: argparse.Namespace) -> int:
    pages = args.pages or registry.markdown_pages()
    start, since = time.perf_counter(), time.time() - 1  # (file systems with coarse times)
    runs = compute.run_pages(pages, jobs=args.jobs, live=args.live)
    failed = [(run.page, block, trace) for run in runs for block, trace in run.errors.items()]
    for page, block, trace in failed:
        print(f"compute: {page}, block {block} failed:\n{trace}", file=sys.stderr)
    folder = store.location()
    evicted = store.evict(folder, since) if folder and not args.pages and not failed and folder.exists() else 0
    slowest = max(runs, key=lambda r: r.seconds)
    print(f"compute: {len(runs)} pages in {time.perf_counter() - start:.1f} s with {args.jobs} process(es) "
          f"(slowest {slowest.page}, {slowest.seconds:.1f} s); {evicted} stale entries evicted; "
          f"{len(failed)} blocks failed")
    return 1 if failed else 0


def _snapshot(args: argparse.Namespace) -> int:
    stale = []
    for run in compute.run_pages(registry.markdown_pages(), jobs=args.jobs):
        text, target = snapshot.resolve(run), snapshot.path(run.page)
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(target.name)
        if args.update:
            target.write_text(text, encoding="utf-8")
    print(f"snapshot: {len(stale)} page(s) {'rewritten' if args.update else 'differ'}: {', '.join(stale) or 'none'}")
    return 1 if (stale and not args.update) else 0


def _figures(args: argparse.Namespace) -> int:
    stale = []
    for name, draw in registry.committed_figures().items():
        path, svg = VIS / f"{name}.svg", draw() + "\n"
        if path.exists() and path.read_text(encoding="utf-8") == svg:
            continue
        stale.append(path.name)
        if args.update:
            path.write_text(svg, encoding="utf-8")
    print(f"figures: {len(stale)} committed figure(s) {'rewritten' if args.update else 'differ'}: "
          f"{', '.join(stale) or 'none'}")
    return 1 if (stale and not args.update) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pages", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("compute", help="fill the store before mkdocs build")
    run.add_argument("-j", "--jobs", type=int, default=min(2, os.cpu_count() or 1))
    run.add_argument("--live", action="store_true", help="measure live demonstrations again")
    run.add_argument("pages", nargs="*", help="pages under docs/ (default: every page of the nav)")
    run.set_defaults(go=_compute)
    snap = commands.add_parser("snapshot", help="compare pages with pages/snapshots/")
    snap.add_argument("--update", action="store_true")
    snap.add_argument("-j", "--jobs", type=int, default=1)
    snap.set_defaults(go=_snapshot)
    figs = commands.add_parser("figures", help="compare the committed vis/*.svg copies with the code")
    figs.add_argument("--update", action="store_true")
    figs.set_defaults(go=_figures)
    args = parser.parse_args(argv)
    return args.go(args)


if __name__ == "__main__":
    raise SystemExit(main())
