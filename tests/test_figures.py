"""Figures: deterministic bytes, accessible names, unique ids, theme-aware ink, committed copies current."""

import html
import re
from pathlib import Path

import pytest

from pages import registry
from pages.__main__ import main as pages_command

FIGURES = registry.committed_figures()


def drawn_twice(draws: dict) -> tuple[dict[str, str], list[str]]:
    """Each figure drawn twice with the store off, and the names of those that differ."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_CACHE", "off")
        first = {name: draw() for name, draw in draws.items()}
        return first, [name for name, draw in draws.items() if draw() != first[name]]


@pytest.fixture(scope="module")
def drawn():
    return drawn_twice(FIGURES)


def test_same_input_same_bytes(drawn):
    assert drawn[1] == [], f"drawn twice, these differ: {drawn[1]}"


def test_a_nondeterministic_figure_is_caught():
    import time

    from vis.svg import course_style, new_figure, to_svg

    def stamped() -> str:
        with course_style():
            fig = new_figure()
            fig.add_subplot().set_title(f"drawn at {time.perf_counter_ns()}")
            return to_svg(fig, "stamped", "A figure that embeds the time it was drawn",
                          "Its title holds a clock reading, so no two drawings are alike.")

    assert drawn_twice({"stamped": stamped})[1] == ["stamped"]


def test_accessible(drawn):
    for name, svg in drawn[0].items():
        head = svg[: svg.index(">") + 1]
        assert 'role="img"' in head and "aria-labelledby" in head, name
        assert re.search(r"<title id=\"[^\"]+\">[^<]{10,}</title>", svg), name
        assert re.search(r"<desc id=\"[^\"]+\">[^<]{20,}</desc>", svg), name


def test_ids_unique_across_all_figures(drawn):
    ids = [i for svg in drawn[0].values() for i in re.findall(r'\bid="([^"]+)"', svg)]
    assert len(ids) == len(set(ids))
    for svg in drawn[0].values():  # every reference points at an id of the same figure
        own = set(re.findall(r'\bid="([^"]+)"', svg))
        refs = set(re.findall(r"url\(#([^)]+)\)", svg)) | set(re.findall(r'href="#([^"]+)"', svg))
        assert refs <= own


def test_ink_follows_the_page_colour_scheme(drawn):
    for name, svg in drawn[0].items():
        assert "currentColor" in svg, name
        assert "#000000" not in svg and "#ffffff" not in svg.lower(), name  # no fixed black or white
        assert "<?xml" not in svg and "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
            'xmlns:xlink="http://www.w3.org/1999/xlink"', ""
        ), name


def test_committed_svgs_match_the_code(capsys):
    missing = [n for n in FIGURES if not (Path("vis") / f"{n}.svg").exists()]
    assert not missing, f"run `python -m pages figures --update` to write {missing}"
    assert pages_command(["figures"]) == 0, capsys.readouterr().out + " -- run `python -m pages figures --update`"


def relative_luminance(hex_colour: str) -> float:
    channels = [int(hex_colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("background", ["#ffffff", "#1e2129"])  # Material's default and slate backgrounds
def test_series_colours_hold_contrast_in_both_schemes(background):
    from vis.svg import PALETTE

    for colour in PALETTE:  # WCAG 1.4.11: graphical objects need 3:1
        assert contrast(colour, background) >= 3.0, (colour, background)


# ---- Readable figures: plain tick labels, and the check of vis/check.py -----------------------------


@pytest.mark.parametrize("value, text", [(0.001, "0.001"), (0.05, "0.05"), (0.1, "0.1"), (1, "1"), (10, "10"),
                                         (1000, "1,000"), (20_000, "20,000"), (1e6, "10⁶"), (2e-4, "2×10⁻⁴"),
                                         (0, "0"), (-10, "−10"), (2.5, "2.5")])
def test_plain_number(value, text):
    from vis.svg import plain_number

    assert plain_number(value) == text


def log_figure():
    from vis.svg import course_style, new_figure

    with course_style():
        fig = new_figure(4, 3)
        ax = fig.add_subplot()
        ax.loglog([0.1, 1e4], [0.01, 300])
        fig.colorbar(ax.scatter([1, 10], [1, 10], c=[1, 100], norm="log"), ax=ax)
    return fig


def test_log_axes_print_plain_numbers_not_tex():
    """Regression: with mathtext off (a `$` in a device name stays a `$`), matplotlib's default log
    formatter printed `$\\mathdefault{10^{2}}$` as text on every log axis; to_svg now labels every log
    axis (colour bars too) in plain text."""
    from vis.check import TEX
    from vis.svg import to_svg

    svg = to_svg(log_figure(), "log-axes", "A log-log figure", "Two log axes and a log colour bar, labelled.")
    labels = [html.unescape(t) for t in re.findall(r"<text\b[^>]*>(.*?)</text>", svg, flags=re.S)]
    assert not [t for t in labels if TEX.search(t)], labels
    assert {"0.1", "1", "10", "100", "1,000", "10,000"} <= set(labels), labels


def test_to_svg_refuses_a_tex_label():
    """A figure whose formatter writes TeX anyway does not reach a page: to_svg names it."""
    from matplotlib.ticker import FuncFormatter

    from vis.svg import to_svg

    fig = log_figure()
    fig.axes[0].xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"$\\mathdefault{{{value:g}}}$"))
    with pytest.raises(ValueError, match=r"figure 'tex-axes' draws TeX source as text: '\$\\\\mathdefault"):
        to_svg(fig, "tex-axes", "A log-log figure", "Two log axes, labelled in TeX.")


def text(label, left, top, right, bottom, px=12.0):
    return {"text": label, "left": left, "top": top, "right": right, "bottom": bottom, "px": px}


def figure(*texts):
    return {"name": "fig", "left": 0, "top": 0, "right": 300, "bottom": 100, "texts": list(texts)}


def test_check_passes_a_clean_figure():
    from vis.check import problems

    assert problems(figure(text("1", 10, 80, 16, 94), text("10", 40, 80, 52, 94), text("title", 10, 2, 80, 16))) == []


def test_check_fails_raw_tex():
    from vis.check import problems

    found = problems(figure(text("$\\mathdefault{10^{2}}$", 10, 80, 90, 94)))
    assert len(found) == 1 and "fig: text '$\\\\mathdefault{10^{2}}$' is TeX source" in found[0], found


def test_check_fails_overlapping_labels_and_names_both():
    from vis.check import problems

    found = problems(figure(text("reserved: at most 102 running", 10, 2, 200, 16),
                            text("paged: at most 359 running", 150, 4, 290, 18)))
    assert found == ["fig: texts 'reserved: at most 102 running' and 'paged: at most 359 running' overlap by 12.0 px"]


def test_check_fails_text_outside_the_figure_and_small_text():
    from vis.check import problems

    assert problems(figure(text("a long title", 200, 2, 340, 16))) == ["fig: text 'a long title' runs 40.0 px out of the figure"]
    assert problems(figure(text("tiny", 10, 2, 30, 10, px=7.1))) == ["fig: text 'tiny' is 7.1 px, under 9 px"]
    assert problems(figure(text("touching", 10, 2, 50, 16), text("labels", 49.5, 2, 80, 16))) == []  # within 1 px


def test_gallery_holds_every_figure(tmp_path):
    """`python -m pages.gallery` writes one page with every figure: the chapters', the results files',
    the bench's standalone SVG and the labs' saved outputs."""
    from pages import gallery

    assert gallery.main([str(tmp_path / "index.html")]) == 0
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    names = re.findall(r'<section class="card" data-name="([^"]+)"', page)
    assert set(FIGURES) <= set(names)
    assert any(n.endswith("-roofline.svg") for n in names) and any(n.startswith("lab1") for n in names), names


def test_path_data_is_kept_to_a_hundredth_of_a_pixel_without_repeated_segments():
    from vis.svg import compact_path

    assert compact_path("M 294.512807 -140.462702 \nL 294.512807 -139.945628 \nL 295.113325 -139.945628 \n"
                        "L 295.113325 -139.945628 \nz") == "M 294.51 -140.46 L 294.51 -139.95 L 295.11 -139.95 z"
    assert compact_path("M 3 4 L 3 4") == "M 3 4 L 3 4"  # a dot (round cap) stays
    assert compact_path("m 1.004 0 l 1.004 0 l 1.004 0") == "m 1.004 0 l 1.004 0 l 1.004 0"  # relative: left as is
    assert compact_path("M 1.5e-05 2 L 3 4") == "M 1.5e-05 2 L 3 4"
    assert compact_path("M -0.001 0.004 C 1.000001 2.5 3.125 4 5 6") == "M 0 0 C 1 2.5 3.12 4 5 6"  # half to even, as format() rounds


def test_markers_are_placed_to_a_hundredth_of_a_pixel():
    """Their last digits carry float noise that differs between CPUs (the committed figures would
    differ from one machine's drawing to another's)."""
    from vis.svg import new_figure, to_svg

    fig = new_figure(3, 2)
    fig.add_subplot().plot([1, 2, 3], [0.1234567, 0.2345678, 0.3456789], marker="o")
    svg = to_svg(fig, "markers", "Markers", "Three points.")
    places = re.findall(r'\b[xy]="(-?[\d.]+)"', " ".join(re.findall(r"<use\b[^>]*>", svg)))
    assert places and all(len(p.partition(".")[2]) <= 2 for p in places), places
