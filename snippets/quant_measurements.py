"""Published measurements of quantized decoding (data/quant_measurements.csv), each with its
source and setup, and the fraction of the roofline bound it reached."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from functools import cache
from pathlib import Path

from snippets import hardware, models, quant_formats
from snippets._data import read_text
from snippets.schema import DataFileError, Problem, QuantMeasurementRow, parse_rows

Measurement = QuantMeasurementRow


def load(text: str | None = None, path: str | Path | None = None) -> tuple[Measurement, ...]:
    """Rows of CSV `text`, a file at `path`, or the packaged file, validated; spec names, models
    and formats must be known: otherwise one DataFileError naming the file and the line and
    column of every unknown name."""
    csv_text, file = read_text("quant_measurements.csv", text, path)
    rows = tuple(parse_rows(csv_text, file, QuantMeasurementRow))
    problems = []
    for r, line in zip(rows, _record_lines(csv_text)):
        checks = [("spec_model", models.get, r.spec_model), ("format", quant_formats.get, r.format),
                  *(("spec_name" if name == r.spec_name else "spec_candidates", hardware.get, name)
                    for name in (r.spec_name, *candidates(r)))]
        for column, get, name in checks:
            try:
                if name:
                    get(name)
            except (KeyError, ValueError) as error:
                problems.append(Problem(file, line, r.name, column, str(error).strip("'\"").split(" Known:")[0]))
    if problems:
        raise DataFileError(problems)
    return rows


def _record_lines(csv_text: str) -> list[int]:
    """The line each record of `csv_text` starts on (a quoted cell may span lines)."""
    reader = csv.reader(io.StringIO(csv_text, newline=""))
    next(reader, None)
    lines, line = [], reader.line_num + 1
    for _ in reader:
        lines.append(line)
        line = reader.line_num + 1
    return lines


@cache
def all_measurements() -> tuple[Measurement, ...]:
    return load()


def candidates(r: Measurement) -> tuple[str, ...]:
    """The hardware.csv rows a GPU the source does not pin down may be (spec_candidates)."""
    return tuple(c.strip() for c in r.spec_candidates.split("|") if c.strip())


def step_bytes(r: Measurement) -> float:
    """Weight bytes of one step in the row's format, the LM head quantized where the source does."""
    return quant_formats.weights_read_bytes(models.get(r.spec_model), r.format, r.batch, r.lm_head_quantized)


def bound_tokens_per_s(r: Measurement, spec: str | None = None, bandwidth_GBps: float | None = None) -> float | None:
    """The roofline bound for the row's setup (its format, LM head, model, batch and GPU), context 0
    as the sources' short prompts; `spec` for a row whose GPU is only a candidate; `bandwidth_GBps`
    replaces the datasheet bandwidth (the source's own estimate). None where the GPU or the format
    is not one the data knows."""
    spec = spec or r.spec_name
    if not (spec and r.format and r.batch and r.tokens_per_s):
        return None
    gpu = hardware.get(spec)
    if bandwidth_GBps:
        gpu = replace(gpu, memory_bandwidth_GBps=bandwidth_GBps)
    return quant_formats.tokens_per_s(models.get(r.spec_model), r.format, gpu, r.batch,
                                      quantize_head=r.lm_head_quantized)


def fraction_of_bound(r: Measurement, spec: str | None = None, bandwidth_GBps: float | None = None) -> float | None:
    bound = bound_tokens_per_s(r, spec, bandwidth_GBps)
    return r.tokens_per_s / bound if bound else None


def fraction_range(r: Measurement) -> tuple[float, float] | None:
    """(lowest, highest) fraction of the bound over the row's candidate GPUs (None without any)."""
    found = [f for f in (fraction_of_bound(r, c) for c in candidates(r)) if f]
    return (min(found), max(found)) if found else None


def baseline(r: Measurement, rows: tuple[Measurement, ...] | None = None) -> Measurement | None:
    """The bf16 row of the same source, model, GPU and batch (None when there is none)."""
    for b in rows or all_measurements():
        if (b.format == "bf16" and b.source == r.source and b.model == r.model and b.gpu == r.gpu
                and b.batch == r.batch and b.tokens_per_s):
            return b
    return None


def ideal_speedup(r: Measurement) -> float | None:
    """Bytes one step reads in bf16 over bytes in the row's format (its LM head quantized where the
    source quantizes it): the speedup a memory-bound step would gain (None without a format or batch)."""
    if not (r.format and r.batch):
        return None
    m = models.get(r.spec_model)
    return quant_formats.weights_read_bytes(m, "bf16", r.batch) / step_bytes(r)


def measured_speedup(r: Measurement) -> float | None:
    """tokens/s over the same source's bf16 row (None without one)."""
    base = baseline(r)
    return r.tokens_per_s / base.tokens_per_s if base and r.tokens_per_s else None
