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
    """Every results file in `folder`, sorted by device name then date; each gains a "file" key."""
    docs = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            docs.append({**load(path), "file": path.name})
        except (ValueError, KeyError) as error:
            raise ValueError(f"{path}: {error}") from error
    return sorted(docs, key=lambda d: (d["device"]["name"], d["created"]))


def _pct(value: float | None) -> str:
    return f"{value:.1f} %" if value is not None else "–"


def overview_table(docs: list[dict], link_base: str = "") -> str:
    """One row per results file: achieved bandwidth, matmul and batch-1 decode.

    `link_base` is the path from the page to the results folder, for the file links.
    """
    from snippets.report import markdown_table

    rows = []
    for doc in docs:
        dev = doc["device"]
        copy, triad = best(doc, "bandwidth", "GBps", kernel="copy"), best(doc, "bandwidth", "GBps", kernel="triad")
        mm = best(doc, "matmul", "best_TFLOPS")
        dec = [r for r in doc["decode"] if r["batch"] == 1]
        fastest = min(dec, key=lambda r: r["median_s"]) if dec else None
        rows.append([
            f"{dev['name']}" + ("" if dev["spec_name"] else " (unknown: no % of spec)"),
            f"{copy['GBps']:,.0f} GB/s ({_pct(copy['pct_of_spec'])})" if copy else "–",
            f"{triad['GBps']:,.0f} GB/s ({_pct(triad['pct_of_spec'])})" if triad else "–",
            f"{mm['best_TFLOPS']:,.1f} {mm['dtype']} ({_pct(mm['pct_of_spec'])})" if mm else "–",
            (f"{fastest['median_s'] * 1e3:,.2f} ms, {fastest['mode']}, MBU {_pct(fastest['mbu_pct'])}"
             if fastest else "–"),
            f"[{doc['file']}]({link_base}{doc['file']})",
        ])
    return markdown_table(["device", "copy (% of spec)", "triad", "best matmul TFLOP/s", "decode, batch 1", "file"], rows)


def decode_table(doc: dict) -> str:
    """Every decode measurement of one file beside chapter 1's roofline bound, with the gap."""
    from snippets.report import markdown_table

    rows = []
    for r in sorted(doc["decode"], key=lambda r: (r["batch"], r["mode"])):
        gap = f"{100 * (r['median_s'] / r['predicted_s'] - 1):+.0f} %" if r["predicted_s"] else "–"
        rows.append([r["batch"], r["mode"], f"{r['median_s'] * 1e3:,.2f}",
                     f"{r['predicted_s'] * 1e3:,.2f}" if r["predicted_s"] else "–", gap,
                     f"{r['tokens_per_s']:,.0f}", _pct(r["mbu_pct"]), _pct(r["pct_of_copy"])])
    return markdown_table(["batch", "mode", "measured ms/step", "bound ms/step", "gap", "tokens/s", "MBU",
                           "% of copy"], rows)


def best(doc: dict, section: str, key: str, **match) -> dict | None:
    """The row of `section` with the largest `key` among rows matching `match`."""
    rows = [r for r in doc[section] if all(r.get(k) == v for k, v in match.items())]
    return max(rows, key=lambda r: r[key]) if rows else None
