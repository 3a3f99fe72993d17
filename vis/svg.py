"""Deterministic, accessible, theme-aware SVG output for matplotlib figures.

- Same input, same bytes: a per-figure hash salt and no date in the metadata.
- Readable in light and dark mode: text, axes and ink are drawn in a sentinel colour that
  becomes `currentColor`, so an inline SVG takes the page's text colour.
- Accessible: a <title> and <desc>, role="img", aria-labelledby.
- Unique ids: every id is prefixed with the figure's name, so several figures share a page.

matplotlib is imported when a figure is first drawn, not with this module: a build whose
figures all come from the store (pages/store.py) never imports it.
"""

from __future__ import annotations

import html
import io
import re
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Drawn as the page's text colour (becomes `currentColor`).
INK = "#010203"
#: Series colours, each >= 3:1 contrast against both Material's white and slate backgrounds.
BLUE = "#3b82f6"
ORANGE = "#e8590c"
GREEN = "#2b8a3e"
PURPLE = "#ae3ec9"
GREY = "#868e96"
PALETTE = (BLUE, ORANGE, GREEN, PURPLE, GREY)

_RC_PLAIN = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 10,
    "text.color": INK,
    "axes.edgecolor": INK,
    "axes.labelcolor": INK,
    "axes.facecolor": "none",
    "axes.titlesize": 11,
    "xtick.color": INK,
    "ytick.color": INK,
    "grid.color": GREY,
    "grid.alpha": 0.35,
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "figure.facecolor": "none",
    "savefig.facecolor": "none",
    "savefig.edgecolor": "none",
    "lines.linewidth": 2.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    # Text is drawn as written: a '$' in a model or device name is never mathtext.
    "text.parse_math": False,
    "text.usetex": False,
}


@cache
def load_matplotlib():
    """The matplotlib module, with the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    return matplotlib


@cache
def _rc() -> dict:
    return {**_RC_PLAIN, "axes.prop_cycle": load_matplotlib().cycler(color=PALETTE)}


def course_style():
    """Context manager: draw a whole figure inside it so every artist takes the course style."""
    return load_matplotlib().rc_context(_rc())


def new_figure(width_in: float = 7.0, height_in: float = 3.8) -> Figure:
    """A pyplot-free figure (safe in the long-running mkdocs process); call inside course_style()."""
    load_matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), layout="constrained")


def to_svg(fig: Figure, name: str, title: str, description: str) -> str:
    """Render `fig` as an inline-ready SVG string (no XML prolog).

    `name` must be unique on a page; it salts the hashes and prefixes every id.
    `title` is the accessible name; `description` says what the figure shows in words.
    Both are escaped here (quotes too): pass them as plain text, not HTML.
    """
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
        raise ValueError(f"figure name must be lower-case letters, digits and '-', got {name!r}")
    buffer = io.StringIO()
    with load_matplotlib().rc_context({**_rc(), "svg.hashsalt": name}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # drop the XML prolog and doctype for inlining
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)
    text = text.replace(INK, "currentColor").replace(INK.upper(), "currentColor")
    text = re.sub(r'\bid="([^"]+)"', rf'id="{name}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{name}-\1)", text)
    text = re.sub(r'xlink:href="#([^"]+)"', rf'xlink:href="#{name}-\1"', text)
    text = re.sub(r'(<svg [^>]*?)\s+width="[^"]+"\s+height="[^"]+"', r"\1", text, count=1)
    accessible = (
        f'<svg role="img" aria-labelledby="{name}-title {name}-desc" class="course-figure"'
        f' style="max-width:100%;height:auto"'
    )
    text = text.replace("<svg", accessible, 1)
    head_end = text.index(">") + 1
    text = (
        text[:head_end]
        + f'\n <title id="{name}-title">{_escape(title)}</title>'
        + f'\n <desc id="{name}-desc">{_escape(description)}</desc>'
        + text[head_end:]
    )
    return text


def _escape(text: str) -> str:
    return html.escape(str(text), quote=True)
