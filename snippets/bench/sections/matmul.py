"""The matmul section: a sweep of shapes in the device's fast dtypes (snippets.bench.matmul),
and on GPUs the model's own layer matmuls at prefill sizes where prefill or mixed steps run."""

from __future__ import annotations

from typing import NamedTuple

from snippets.bench import matmul
from snippets.bench.plan import Plan
from snippets.bench.section import Run, Section, axis, each, schema


class Point(NamedTuple):
    dtype: str
    shape: tuple  # (m, n, k) or (m, n, k, role)


def shapes(p: Plan) -> list[tuple]:
    """The matmul sweep's shapes, and on GPUs the model's own layer matmuls at prefill sizes."""
    found = list(matmul.default_shapes(p.info, p.quick))
    if p.gpu and {"prefill", "mixed"} - p.skip:
        found += matmul.model_layer_shapes(p.model)
    return found


def plan(p: Plan) -> list[Point]:
    return [Point(dtype, shape) for dtype in matmul.default_dtypes(p.info) for shape in shapes(p)]


def measure(r: Run, points: list[Point]) -> None:
    p, m = r.p, r.m
    m.notes.extend(matmul.measure(p.info, axis(points, "shape"), axis(points, "dtype"), rows=m.matmul,
                                  progress=r.progress("matmul"))[1])


SECTION = Section("matmul", plan, measure, lambda m: m.matmul, schema("matmul"), each(4, 3))
