"""Every committed figure, by file name."""

from __future__ import annotations

from typing import Callable


def all_figures() -> dict[str, Callable[[], str]]:
    from vis import chapter1

    return dict(chapter1.FIGURES)
