"""Qualitative claims in the prose, asserted where their numbers are computed."""

from __future__ import annotations


class ClaimFailed(AssertionError):
    """A sentence of the course is no longer true for the data."""


def claim(statement: str, holds: bool) -> str:
    """Raise ClaimFailed unless `holds`; return the statement (so a page module can list it).

    Write `statement` as the prose says it, so a failure reads like the sentence that broke.
    """
    if not holds:
        raise ClaimFailed(f"no longer true: {statement}")
    return statement
