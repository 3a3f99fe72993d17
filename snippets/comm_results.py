"""Results files of `torchrun -m snippets bench-comm`: the declared schema (pydantic), loading
with validation, and the tables the site renders. No torch here (the site reads these files).

A file holds one sweep: every collective at every size, timed over `ranks` processes, with
algbw and busbw as nccl-tests defines them, the alpha-beta fit of each collective (the sizes
it was fitted on listed apart from the sizes it predicts) and the fit's prediction of a
tensor-parallel decode step's all-reduce time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from snippets import comm
from snippets.report import markdown_table
from snippets.results import md

SCHEMA = "llm-course-comm/1"

Positive = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]
Collective = Literal["all_reduce", "all_gather", "reduce_scatter", "all_to_all"]


class CommResultsError(ValueError):
    """A results file that does not match the schema: names the file, the key path and the fault."""


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="forbid")


class Device(_Strict):
    kind: Literal["cuda", "cpu"]
    name: str
    backend: Literal["nccl", "gloo"]
    torch: str
    python: str


class Settings(_Strict):
    ranks: PositiveInt
    sizes_bytes: list[PositiveInt]
    iterations: PositiveInt
    warmup: Annotated[int, Field(ge=0)]
    dtype: str
    fit_per_end: PositiveInt  # sizes at each end of the sweep the fit uses; the others are predicted


class Row(_Strict):
    collective: Collective
    size_bytes: PositiveInt
    median_s: Positive
    best_s: Positive
    algbw_GBps: Positive
    busbw_GBps: Positive


class Checked(_Strict):
    """A size the fit did not see: what it predicted and what was measured."""

    size_bytes: PositiveInt
    measured_s: Positive
    predicted_s: Positive
    residual: float  # predicted / measured - 1


class Fit(_Strict):
    collective: Collective
    alpha_s: Annotated[float, Field(ge=0)]
    beta_s_per_byte: Positive
    busbw_GBps: Positive
    fitted_sizes_bytes: list[PositiveInt]
    checked: list[Checked]

    @model_validator(mode="after")
    def _apart(self) -> Fit:
        overlap = set(self.fitted_sizes_bytes) & {c.size_bytes for c in self.checked}
        if overlap:
            raise ValueError(f"sizes both fitted and checked: {sorted(overlap)}")
        return self


class Prediction(_Strict):
    """The all-reduce fit's time for one tensor-parallel decode step of `model` at `batch`."""

    model: str
    batch: PositiveInt
    tp: PositiveInt
    all_reduces: PositiveInt
    message_bytes: PositiveInt
    comm_s: Positive


class CommResults(_Strict):
    schema_: Literal["llm-course-comm/1"] = Field(alias="schema")
    created: str
    complete: bool
    device: Device
    settings: Settings
    rows: list[Row]
    fits: list[Fit]
    prediction: Prediction | None
    notes: list[str]


def validate(doc: object, source: str = "results") -> dict:
    """The document checked against the schema; raises CommResultsError naming `source`."""
    if not isinstance(doc, dict):
        raise CommResultsError(f"{source}: (top level): expected a JSON object, got {type(doc).__name__}")
    if doc.get("schema") != SCHEMA:
        raise CommResultsError(f"{source}: schema: expected {SCHEMA!r}, got {doc.get('schema')!r}")
    try:
        return CommResults.model_validate(doc).model_dump(by_alias=True)
    except ValidationError as error:
        lines = [f"{source}: {'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in error.errors()]
        raise CommResultsError("\n".join(lines)) from None


def load(path: Path) -> dict:
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise CommResultsError(f"{path}: not JSON: {error}") from None
    return validate(doc, str(path))


def load_folder(folder: Path) -> list[dict]:
    """Every comm results file in `folder`, oldest first; each gains a "file" key."""
    docs = [{**load(p), "file": p.name} for p in sorted(Path(folder).glob("*.json"))]
    return sorted(docs, key=lambda d: d["created"])


def points(doc: dict, collective: str) -> tuple[comm.Point, ...]:
    return tuple(comm.Point(r["size_bytes"], r["median_s"]) for r in doc["rows"] if r["collective"] == collective)


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} B"


def sweep_table(doc: dict, collective: str) -> str:
    """One row per size: time, algbw, busbw, and whether the fit used it or predicted it."""
    fit = next(f for f in doc["fits"] if f["collective"] == collective)
    checked = {c["size_bytes"]: c for c in fit["checked"]}
    rows = []
    for r in (r for r in doc["rows"] if r["collective"] == collective):
        c = checked.get(r["size_bytes"])
        role = f"predicted {c['predicted_s'] * 1e6:,.0f} µs ({c['residual']:+.0%})" if c else "fitted"
        rows.append([_size(r["size_bytes"]), f"{r['median_s'] * 1e6:,.0f} µs", f"{r['algbw_GBps']:.3f}",
                     f"{r['busbw_GBps']:.3f}", md(role)])
    return markdown_table(["message", "median time", "algbw (GB/s)", "busbw (GB/s)", "alpha-beta model"], rows,
                          escape=False)
