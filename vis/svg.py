"""Deterministic, accessible, theme-aware SVG output for matplotlib figures.

- Same input, same bytes: a per-figure hash salt and no date in the metadata.
- Readable in light and dark mode: text, axes and ink are drawn in a sentinel colour that
  becomes `currentColor`, so an inline SVG takes the page's text colour.
- Accessible: a <title> and <desc>, role="img", aria-labelledby.
- Unique ids: every id is prefixed with the figure's name, so several figures share a page.
- Plain text: a `$` in a name is drawn as written (no mathtext), and every log axis is labelled
  0.1, 1, 1,000 (matplotlib's default log labels are TeX, which would then show as source);
  to_svg refuses a figure that still draws TeX. vis.check measures the rest in a browser.

matplotlib is imported when a figure is first drawn, not with this module: a build whose
figures all come from the store (pages/store.py) never imports it.
"""

from __future__ import annotations

import html
import io
import re
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

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
#: One colour per number format, in every chapter: 16-bit grey (the baseline), 8-bit integer blue,
#: fp8 purple, 4-bit green.
DTYPE_COLOURS = {"bf16": GREY, "fp16": GREY, "int8": BLUE, "fp8": PURPLE, "int4": GREEN}


def dtype_colour(name: str) -> str:
    """The colour of a format or cache dtype ('fp8', 'fp8-tensor', 'int4-g128' -> its family's)."""
    return DTYPE_COLOURS[name.split("-")[0]]

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


_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def plain_number(value: float) -> str:
    """A tick value as a reader writes it, in plain text: 0.05, 0.1, 1, 10, 1,000, 20,000; below
    0.001 or from a million, a power of ten with a Unicode exponent (10⁶, 2×10⁻⁴)."""
    if value == 0:
        return "0"
    sign, magnitude = ("−" if value < 0 else ""), abs(value)
    if 1e-3 <= magnitude < 1e6:
        decimals = max(0, 2 - int(np.floor(np.log10(magnitude))))  # three significant digits at most
        text = f"{magnitude:,.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return sign + text
    exponent = int(np.floor(np.log10(magnitude)))
    mantissa = magnitude / 10**exponent
    power = "10" + str(exponent).translate(_SUPERSCRIPTS)
    if np.isclose(mantissa, 1):
        return sign + power
    return sign + f"{mantissa:.2g}×" + power


@cache
def _plain_log_formatter():
    from matplotlib.ticker import LogFormatter

    class PlainLogFormatter(LogFormatter):
        """matplotlib's log formatter (which ticks get labels: decades, and a few minor ticks
        when the axis spans less than a decade or two), writing plain_number's text instead of
        TeX (matplotlib's default writes `$\\mathdefault{10^{2}}$`, which the SVG keeps as text
        once mathtext is off)."""

        def _num_to_string(self, x, vmin, vmax):
            return plain_number(x)

    return PlainLogFormatter


def plain_log_axis(axis) -> None:
    """Label a log axis in plain text: 0.1, 1, 10, 1,000 (never 10^0 or $\\mathdefault{...}$)."""
    formatter = _plain_log_formatter()
    base = axis.get_transform().base if hasattr(axis.get_transform(), "base") else 10
    axis.set_major_formatter(formatter(base=base, labelOnlyBase=False))
    axis.set_minor_formatter(formatter(base=base, labelOnlyBase=False))


def plain_tick_labels(fig: Figure) -> None:
    """Give every log axis of `fig` (colour bars and twin axes too) plain-text tick labels, unless
    a figure chose its own formatter: matplotlib's default log formatter writes TeX."""
    from matplotlib.ticker import LogFormatter

    formatter = _plain_log_formatter()
    for ax in fig.get_axes():
        for axis in (ax.xaxis, ax.yaxis):
            for getter, setter in ((axis.get_major_formatter, axis.set_major_formatter),
                                   (axis.get_minor_formatter, axis.set_minor_formatter)):
                current = getter()
                if isinstance(current, LogFormatter) and not isinstance(current, formatter):
                    setter(formatter(base=current._base, labelOnlyBase=current.labelOnlyBase,
                                     minor_thresholds=current.minor_thresholds))


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
    plain_tick_labels(fig)
    with load_matplotlib().rc_context({**_rc(), "svg.hashsalt": name}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    for drawn in re.findall(r"<text\b[^>]*>(.*?)</text>", text, flags=re.S):
        if any(mark in drawn for mark in ("\\mathdefault", "$\\", "^{")):
            raise ValueError(f"figure {name!r} draws TeX source as text: {html.unescape(drawn)!r}")
    text = text[text.index("<svg") :]  # drop the XML prolog and doctype for inlining
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r'\bd="([^"]*)"', lambda m: f'd="{compact_path(m[1])}"', text)
    # markers at 0.01 px too: their 0.000001 px digits carry float noise that differs between CPUs
    text = re.sub(r'<use\b[^>]*>', lambda m: re.sub(r'\b([xy])="(-?\d+\.\d+)"',
                                                    lambda n: f'{n[1]}="{_two_decimals(n[2])}"', m[0]), text)
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


_DECIMAL = re.compile(r"-?\d+\.\d+")
_SEGMENT = re.compile(r"[MmLlHhVvCcSsQqTtAaZz][^MmLlHhVvCcSsQqTtAaZz]*")  # a command and its numbers


def _two_decimals(number: str) -> str:
    text = f"{float(number):.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def compact_path(d: str) -> str:
    """SVG path data at 0.01 px (a figure is about 500 px wide; matplotlib writes 0.000001 px),
    without a line segment repeating the one before it (steps and fills repeat them; a segment
    from a move to the same point stays, a dot with a round cap): chapter 3's largest figure
    116 -> 76 kB, drawn the same. Only what matplotlib writes is rewritten (absolute M, L, C, Q, Z
    and plain decimals); a path with anything else (relative commands, arcs, exponents) is kept."""
    if re.search(r"[^MLCQZz\d\s.,-]", d):
        return d
    kept: list[str] = []
    for segment in _SEGMENT.findall(_DECIMAL.sub(lambda m: _two_decimals(m[0]), d)):
        segment = " ".join(segment.split())
        if segment[0] == "L" and kept and kept[-1][0] == "L" and kept[-1][1:] == segment[1:]:
            continue
        kept.append(segment)
    return " ".join(kept)


def _escape(text: str) -> str:
    return html.escape(str(text), quote=True)
