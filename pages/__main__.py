"""`python -m pages`: rewrite pages/snapshots/*.json from the page modules (`--check`: compare only)."""

from __future__ import annotations

import sys

from pages import snapshot


def main(argv: list[str] | None = None) -> int:
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    stale = []
    for name in snapshot.MODULES:
        text, target = snapshot.render(name), snapshot.path(name)
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(target.name)
        if not check:
            target.write_text(text, encoding="utf-8")
    print(f"{len(stale)} snapshot(s) {'differ' if check else 'written'}: {', '.join(stale) or 'none'}")
    return 1 if (check and stale) else 0


if __name__ == "__main__":
    raise SystemExit(main())
