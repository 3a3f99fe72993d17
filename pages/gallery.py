"""Every figure the course draws on one page, light and dark side by side, for a reviewer to see
at a glance: `python -m pages.gallery [OUT.html]` (default `gallery/index.html`).

With `--check`, it also opens the page in Chromium (Playwright, /usr/bin/chromium), runs
vis.check over every figure at the width the site shows it on a 1280 px screen and prints the
problems (exit status 1 when there are any); `--shots DIR` writes one PNG per figure and scheme.

The figures: the chapters' (pages.registry.committed_figures, with the pages' parameters), those drawn from the
recorded results files (pages.hardware's, as the site draws them), the standalone SVG `bench`
writes beside a results file, and the SVG outputs saved in the lab notebooks.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The width Material gives a page's content on a 1280 px screen (both sidebars shown), CSS px.
DESKTOP_CONTENT_PX = 692
#: The background of Material's dark (slate) scheme and its text colour.
SLATE_BACKGROUND, SLATE_TEXT = "#1e2129", "#e2e4e9"


def figures() -> list[tuple[str, str, str]]:
    """(group, name, svg) of every figure, in the order of the course."""
    from pages import registry
    from snippets import results
    from vis import measured

    found = [("chapters", name, draw()) for name, draw in registry.committed_figures().items()]
    docs = results.load_folder(ROOT / "docs" / "results")
    for doc in docs:
        stem = Path(doc["file"]).stem
        found.append(("results", f"measured-{stem}", measured.measured_roofline(doc, name=f"measured-{stem}")))
        if doc["decode"] and any(r.get("predicted_s") for r in doc["decode"]):
            found.append(("results", f"decode-{stem}", measured.decode_vs_prediction(doc, name=f"decode-{stem}")))
        found.append(("results", f"calibrated-{stem}", measured.predicted_vs_measured(doc, name=f"calibrated-{stem}")))
        found.append(("bench", f"{stem}-roofline.svg", measured.standalone_svg(measured.measured_roofline(doc))))
    for path in sorted((ROOT / "docs" / "labs").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        outputs = [o for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])]
        saved = ["".join(data.get("image/svg+xml") or data.get("text/html") or "") for data in
                 (o.get("data", {}) for o in outputs)]
        for i, svg in enumerate(text for text in saved if "<svg" in text):
            found.append(("labs", f"{path.stem}-{i + 1}", svg))
    return found


def page(items: list[tuple[str, str, str]]) -> str:
    cards = []
    for group, name, svg in items:
        inline = re.sub(r"<\?xml[^>]*>\s*", "", svg)
        cards.append(
            f'<section class="card" data-name="{html.escape(name)}"><h2>{html.escape(group)}: {html.escape(name)}</h2>'
            f'<div class="pair"><div class="light">{inline}</div>'
            f'<div class="dark">{_unique_ids(inline, "dark-")}</div></div></section>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Figures of the course</title>
<style>
body {{ font-family: sans-serif; margin: 1em; background: #fff; color: #000000de; }}
h1 {{ font-size: 1.4em; }} h2 {{ font-size: 1em; margin: .2em 0; }}
.card {{ margin: 0 0 2em; }}
.pair {{ display: flex; gap: 16px; align-items: flex-start; }}
.pair > div {{ width: {DESKTOP_CONTENT_PX}px; flex: none; }}
.dark {{ background: {SLATE_BACKGROUND}; color: {SLATE_TEXT}; }}
.light svg, .dark svg {{ display: block; max-width: 100%; height: auto; }}
</style></head><body>
<h1>Figures of the course: {len(items)}, each at the width a 1280 px screen shows it, light and dark</h1>
{"".join(cards)}
</body></html>
"""


def _unique_ids(svg: str, prefix: str) -> str:
    """The same figure twice on a page: the second copy's ids (and references) get a prefix."""
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}\1)", svg)
    svg = re.sub(r'(xlink:)?href="#([^"]+)"', rf'\1href="#{prefix}\2"', svg)
    return re.sub(r'aria-labelledby="([^"]+)"', lambda m: 'aria-labelledby="' + " ".join(
        prefix + i for i in m.group(1).split()) + '"', svg)


def check(path: Path, shots: Path | None = None) -> tuple[int, list[str]]:
    """Open the gallery in Chromium; (figures checked, problems) over the light copies."""
    from playwright.sync_api import sync_playwright

    from vis.check import check_page

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 2 * DESKTOP_CONTENT_PX + 64, "height": 900})
        view = context.new_page()
        view.goto(path.resolve().as_uri())
        count, found = check_page(view, ".light svg")
        if shots:
            shots.mkdir(parents=True, exist_ok=True)
            for card in view.query_selector_all(".card"):
                card.screenshot(path=str(shots / f"{card.get_attribute('data-name')}.png"))
        browser.close()
    return count, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pages.gallery", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default="gallery/index.html", type=Path)
    parser.add_argument("--check", action="store_true", help="check every figure in Chromium")
    parser.add_argument("--shots", type=Path, help="write a PNG per figure into this folder (with --check)")
    args = parser.parse_args(argv)
    items = figures()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page(items), encoding="utf-8")
    print(f"{len(items)} figures written to {args.out}")
    if not args.check:
        return 0
    count, found = check(args.out, args.shots)
    print(f"{count} figures checked, {len(found)} problem(s)", *found, sep="\n")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
