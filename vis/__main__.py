"""Write every figure to vis/<name>.svg: `python -m vis` (or `--check` to compare only).

The site inlines freshly drawn figures at build time; these committed copies are for
readers of the repository, and a test fails when one differs from what the code now draws.
"""

from __future__ import annotations

import sys
from pathlib import Path

from vis import registry

HERE = Path(__file__).parent


def main(argv: list[str] | None = None) -> int:
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    stale = []
    for name, draw in registry.all_figures().items():
        path = HERE / f"{name}.svg"
        svg = draw() + "\n"
        if path.exists() and path.read_text(encoding="utf-8") == svg:
            continue
        stale.append(path.name)
        if not check:
            path.write_text(svg, encoding="utf-8")
    verb = "differ" if check else "written"
    print(f"{len(stale)} figure(s) {verb}: {', '.join(stale) or 'none'}")
    return 1 if (check and stale) else 0


if __name__ == "__main__":
    raise SystemExit(main())
