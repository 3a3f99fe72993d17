"""Figures: deterministic bytes, accessible names, unique ids, theme-aware ink, committed copies current."""

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
