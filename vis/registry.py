"""Every committed figure, by file name: the pages' figures, drawn with the pages' parameters."""

from __future__ import annotations

from typing import Callable


def all_figures() -> dict[str, Callable[[], str]]:
    from pages import ch1, ch2, ch3, ch4, ch5

    return {**ch1.FIGURES, **ch2.FIGURES, **ch3.FIGURES, **ch4.FIGURES, **ch5.FIGURES}
