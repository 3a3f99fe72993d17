"""The results file of `python -m snippets bench`: one JSON document per run."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import torch

SCHEMA = "llm-course-bench/1"
REQUIRED = ("schema", "created", "device", "settings", "bandwidth", "matmul", "decode", "notes")


def document(info, why: str, settings: dict, bandwidth, stream_triad, matmul, decode, notes, created: str) -> dict:
    spec = info.spec
    return {
        "schema": SCHEMA,
        "created": created,
        "device": {
            "kind": info.kind,
            "name": info.name,
            "chosen_because": why,
            "spec_name": spec.name if spec else None,
            "spec_bandwidth_GBps": spec.memory_bandwidth_GBps if spec else None,
            "spec_dense_bf16_TFLOPS": spec.dense_fp16_bf16_TFLOPS if spec else None,
            "bandwidth_from_clock_GBps": info.bandwidth_from_clock_GBps,
            "memory_bytes": info.memory_bytes,
            "cache_bytes": info.cache_bytes,
            "threads_or_SMs": info.threads,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "settings": settings,
        "bandwidth": [r.as_dict() for r in bandwidth],
        "stream_triad_GBps": stream_triad,
        "matmul": [r.as_dict() for r in matmul],
        "decode": [r.as_dict() for r in decode],
        "notes": list(notes),
    }


def validate(doc: dict) -> dict:
    """Raise ValueError unless `doc` looks like a results document of this schema."""
    missing = [key for key in REQUIRED if key not in doc]
    if missing:
        raise ValueError(f"results file lacks {', '.join(missing)}")
    if doc["schema"] != SCHEMA:
        raise ValueError(f"results schema {doc['schema']!r} is not {SCHEMA!r}")
    for key in ("kind", "name"):
        if key not in doc["device"]:
            raise ValueError(f"results device lacks {key!r}")
    return doc


def load(path: Path) -> dict:
    return validate(json.loads(Path(path).read_text(encoding="utf-8")))


def load_folder(folder: Path) -> list[dict]:
    """Every results file in `folder`, sorted by device name then date."""
    docs = [load(p) for p in sorted(Path(folder).glob("*.json"))]
    return sorted(docs, key=lambda d: (d["device"]["name"], d["created"]))


def best(doc: dict, section: str, key: str, **match) -> dict | None:
    """The row of `section` with the largest `key` among rows matching `match`."""
    rows = [r for r in doc[section] if all(r.get(k) == v for k, v in match.items())]
    return max(rows, key=lambda r: r[key]) if rows else None
