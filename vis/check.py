"""Is every figure readable as drawn? A check of each text of each SVG figure, measured where a
reader sees it: in Chromium, on the built page (or the standalone file, or the gallery).

It fails a figure on
- TeX source in any text (`$`, `\\mathdefault`, `\\frac`, `^{`): a reader (and a screen reader)
  would get the source, not the formula;
- two texts whose boxes overlap;
- a text that runs out of the figure's box;
- a text smaller than `min_px` CSS pixels at the size the page renders the figure.

`FIGURE_TEXTS_JS` collects, in the browser, every figure's texts with their boxes (client
pixels) and rendered font size; `problems()` judges one figure's collection. Both are plain
data: the judge is tested without a browser (tests/test_figures.py), the collector over the
built site (tests/test_browser.py) and the gallery (`python -m pages.gallery --check`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: TeX a figure's text must never show: a `$` (mathtext's delimiter), a macro, a braced exponent.
TEX = re.compile(r"\$|\\[A-Za-z]+|\^\{|_\{")
#: Boxes that overlap by no more than this (CSS px, each way) touch rather than collide: the glyph
#: boxes Chromium reports include the font's ascent and descent, wider than the ink.
TOLERANCE_PX = 1.0
#: Smallest text at a 1280 px desktop page, and on a 390 px phone (where a figure may instead scroll).
DESKTOP_MIN_PX, PHONE_MIN_PX = 9.0, 11.0

#: Browser side: for every `svg` matching the selector, its name (the id of its <title>, or its
#: aria-label, or the page's file name), its box, and every non-empty <text>: the string, its box
#: and its font size in CSS px as drawn (font-size in user units times the screen transform's scale).
FIGURE_TEXTS_JS = """(selector) => [...document.querySelectorAll(selector)].map((svg, index) => {
  const box = svg.getBoundingClientRect();
  const title = svg.querySelector(':scope > title');
  const name = (title && title.id) ? title.id.replace(/-title$/, '')
             : (svg.getAttribute('aria-label') || (location.pathname.split('/').pop() + '#' + index));
  const texts = [...svg.querySelectorAll('text')].filter(t => t.textContent.trim() && t.getClientRects().length)
    .map(t => {
      const r = t.getBoundingClientRect();
      const m = t.getScreenCTM();
      const scale = m ? Math.hypot(m.a, m.b) : 1;
      const size = parseFloat(getComputedStyle(t).fontSize) * scale;
      return {text: t.textContent, left: r.left, top: r.top, right: r.right, bottom: r.bottom, px: size};
    });
  return {name, left: box.left, top: box.top, right: box.right, bottom: box.bottom, texts};
})"""


@dataclass(frozen=True)
class Text:
    text: str
    left: float
    top: float
    right: float
    bottom: float
    px: float


def texts_of(figure: dict) -> list[Text]:
    return [Text(t["text"], t["left"], t["top"], t["right"], t["bottom"], t["px"]) for t in figure["texts"]]


def overlap_px(a: Text, b: Text) -> float:
    """How far two boxes overlap: the smaller of the overlaps across and down (0 when apart)."""
    across = min(a.right, b.right) - max(a.left, b.left)
    down = min(a.bottom, b.bottom) - max(a.top, b.top)
    return max(0.0, min(across, down))


def problems(figure: dict, min_px: float = DESKTOP_MIN_PX, where: str = "") -> list[str]:
    """Every reason `figure` (one entry of FIGURE_TEXTS_JS's answer) is not readable, one line
    each naming the figure and the texts; empty when it is."""
    name = f"{where}{figure['name']}"
    texts = texts_of(figure)
    found = []
    for t in texts:
        tex = TEX.search(t.text)
        if tex:
            found.append(f"{name}: text {t.text!r} is TeX source ({tex.group(0)!r})")
        if t.px < min_px - 0.05:
            found.append(f"{name}: text {t.text!r} is {t.px:.1f} px, under {min_px:g} px")
        out = max(figure["left"] - t.left, t.right - figure["right"], figure["top"] - t.top, t.bottom - figure["bottom"])
        if out > TOLERANCE_PX:
            found.append(f"{name}: text {t.text!r} runs {out:.1f} px out of the figure")
    for i, a in enumerate(texts):
        for b in texts[i + 1:]:
            if overlap_px(a, b) > TOLERANCE_PX:
                found.append(f"{name}: texts {a.text!r} and {b.text!r} overlap by {overlap_px(a, b):.1f} px")
    return found


def smallest_px(figure: dict) -> float:
    return min((t["px"] for t in figure["texts"]), default=float("inf"))


def check_page(page, selector: str = "svg.course-figure", min_px: float = DESKTOP_MIN_PX,
               where: str = "") -> tuple[int, list[str]]:
    """(figures checked, problems) on an open Playwright page."""
    figures = page.evaluate(FIGURE_TEXTS_JS, selector)
    return len(figures), [p for f in figures for p in problems(f, min_px, where)]
