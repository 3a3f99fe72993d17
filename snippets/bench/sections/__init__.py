"""The bench's sections, one module each, in the order a run measures them (snippets.bench.section
says what a section is). The decoder's sections run on one decoder built for all of them; the
draft runs once it is freed; quant last."""

from __future__ import annotations

import argparse

from snippets.bench.plan import Plan
from snippets.bench.sections import attention, bandwidth, decode, matmul, mixed, prefill, quant, verify

ORDER = (bandwidth.SECTION, matmul.SECTION, decode.SECTION, decode.PROFILE, attention.SECTION, prefill.SECTION,
         mixed.SECTION, verify.SECTION, verify.DRAFT, quant.SECTION)


def with_options(args: argparse.Namespace, p: Plan) -> Plan:
    """`p` with every section's own choices filled in, each checked (ValueError), in order: a
    section sees those of the sections before it (profile, the decode batches)."""
    from dataclasses import replace

    for section in ORDER:
        p = replace(p, **section.options(args, p))
    return p
