"""Every committed figure, by file name."""

from __future__ import annotations

from typing import Callable


def all_figures() -> dict[str, Callable[[], str]]:
    from vis import chapter1, chapter2

    return {**chapter1.FIGURES, **chapter2.FIGURES}
