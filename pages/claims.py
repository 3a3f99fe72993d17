"""Qualitative claims in the prose, asserted where their numbers are computed.

A page module names each claim: `fits = claim("the model fits one H100", weights < memory)`. The
sentence that makes the claim cites it, `` `#!claim ch1.fits` ``, which renders a small mark whose
tooltip is the assertion. Every claim is cited exactly once and every citation names a claim, or
the build fails (pages/citations.py). Every page module imports this module, so it imports
nothing: whatever it reached would be in the store key of every page's results (pages/store.py).
"""

from __future__ import annotations

from dataclasses import dataclass


class ClaimFailed(AssertionError):
    """A sentence of the course is no longer true for the data."""


@dataclass(frozen=True)
class Claim:
    """A statement that held when its page module was computed."""

    statement: str

    def __str__(self) -> str:
        return self.statement


def claim(statement: str, holds: bool) -> Claim:
    """Raise ClaimFailed unless `holds`; return the claim for the module to name.

    Write `statement` as the prose says it, so a failure reads like the sentence that broke.
    """
    if not holds:
        raise ClaimFailed(f"no longer true: {statement}")
    return Claim(statement)
