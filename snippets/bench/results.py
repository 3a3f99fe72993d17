"""Building the results document of a run. The schema, loading, validation and tables live in
the torch-free `snippets.results` (re-exported here, so `snippets.bench.results.load` still works)."""

from __future__ import annotations

from snippets.results import (  # noqa: F401 - re-exported
    SCHEMA,
    SCHEMA_V1,
    SECTIONS,
    ResultsError,
    SectionSchema,
    attention_table,
    bandwidth_table,
    best,
    calibration_table,
    decode_table,
    load,
    load_folder,
    matmul_table,
    md,
    mixed_table,
    overview_table,
    prefill_table,
    profile_table,
    quant_table,
    speculative_table,
    validate,
    verify_table,
)


def document(info, why: str, settings: dict, sections: dict, notes, created: str, stream_triad: float | None = None,
             environment: dict | None = None, complete: bool = True, interrupted_during: str | None = None) -> dict:
    """The results document of one run (schema version 2). `sections` maps a key of SECTIONS to
    its measured rows (or, for `profile` and `speculative`, its one object); absent keys are empty."""
    env = environment or {}
    doc = {
        "schema": SCHEMA,
        "created": created,
        "complete": complete,
        "interrupted_during": interrupted_during,
        "migrated_from": None,
        "device": _device(info, why, env.get("start", {})),
        "environment": env or {"start": {"torch": _torch_version(), "python": _python_version()}},
        "settings": settings,
        "stream_triad_GBps": stream_triad,
        "notes": list(notes),
    }
    for s in SECTIONS:
        doc[s.key] = [_row(r) for r in sections.get(s.key, ())] if s.rows else sections.get(s.key)
    return doc


def _device(info, why: str, start: dict) -> dict:
    """The results' device object: what the system reports and the datasheet row it matched."""
    spec = info.spec
    return {
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
        "torch": start.get("torch") or _torch_version(),
        "python": start.get("python") or _python_version(),
    }


def _row(r) -> dict:
    row = r if isinstance(r, dict) else r.as_dict()
    out = {**row, "flags": list(row.get("flags", ()))}
    if "repeat_medians_s" in out:
        out["repeat_medians_s"] = list(out["repeat_medians_s"])
    return out


def _torch_version() -> str:
    import torch

    return torch.__version__


def _python_version() -> str:
    import platform

    return platform.python_version()
