"""Cross-field checks of a results document: whether its rows make sense together, after the
schema (snippets.results) has checked each field alone. Torch-free and pure.

- plausible magnitudes: no number above LARGEST (1e308 passes JSON and the schema, then prints
  as 300 digits or overflows to inf), every time between TIME_FLOOR_S and TIME_CEILING_S;
- a row's best sample is not slower than its median, nor than any repeat's median;
- a row is not faster than BOUND_TOLERANCE x its own lower bound (its bytes at the datasheet's
  bandwidth, its FLOPs at the datasheet's dense bf16 peak, or the quant row's own `bound_s`)
  unless a flag starting with EXPLAINED says why (a buffer served from a cache, say);
- no two rows of a section measure the same point (IDENTITY names what a point is).
"""

from __future__ import annotations

from collections.abc import Iterator

LARGEST = 1e18  # above any byte count, FLOP count or rate a run can record
TIME_FLOOR_S = 1e-7  # no kernel launch takes under 100 ns
TIME_CEILING_S = 1e4  # nearly three hours for one timed call
BOUND_TOLERANCE = 0.8  # a time below 0.8 x its own lower bound would beat the datasheet by 25 %
EXPLAINED = "faster than its bound"  # the flag prefix that lets a row beat its bound, with the reason
HALF_PRECISION = ("bf16", "fp16", "bfloat16", "float16")
TIME_FIELDS = ("median_s", "best_s", "bound_s", "predicted_s")

#: The fields that say which point a row measured; two rows alike in all of them are duplicates.
IDENTITY = {
    "bandwidth": ("kernel", "buffer_bytes"),
    "matmul": ("m", "n", "k", "dtype", "role"),
    "decode": ("model", "layers", "dtype", "mode", "batch", "context"),
    "prefill": ("model", "layers", "dtype", "mode", "batch", "prompt_tokens"),
    "quant": ("model", "format", "path", "batch"),
    "mixed": ("model", "layers", "dtype", "mode", "batch", "context", "chunk_tokens", "chunk_prefix"),
    "verify": ("model", "layers", "dtype", "mode", "batch", "context", "tokens"),
    "attention": ("kernel", "case", "batch", "tokens", "context", "layers"),
    "speculative.drafts": ("model", "layers", "dtype", "mode", "batch", "context"),
}


def problems(doc: dict) -> list[str]:
    """Every cross-field fault of a schema-valid document, each as 'key.path: what is wrong'."""
    found = list(_magnitudes(doc, ""))
    device = doc.get("device") or {}
    for section, rows in _sections(doc):
        for i, row in enumerate(rows):
            where = f"{section}.{i}"
            found += [f"{where}.{p}" for p in _times(row)]
            found += [f"{where}.{p}" for p in _bound(section, row, device)]
        found += _duplicates(section, rows)
    return found


def _sections(doc: dict) -> Iterator[tuple[str, list[dict]]]:
    for section in IDENTITY:
        if section == "speculative.drafts":
            yield section, (doc.get("speculative") or {}).get("drafts") or []
        else:
            yield section, doc.get(section) or []


def _magnitudes(value: object, where: str) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _magnitudes(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _magnitudes(item, f"{where}.{i}")
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > LARGEST:
        yield f"{where}: implausible magnitude {value:.3g} (above {LARGEST:.0e})"


def _times(row: dict) -> Iterator[str]:
    for key in TIME_FIELDS:
        t = row.get(key)
        if t is not None and not TIME_FLOOR_S <= t <= TIME_CEILING_S:
            yield f"{key}: {t:.3g} s is outside {TIME_FLOOR_S:.0e}-{TIME_CEILING_S:.0e} s"
    if "best_s" in row and row["best_s"] > row["median_s"]:
        yield f"best_s: the best sample ({row['best_s']:.6g} s) is slower than the median ({row['median_s']:.6g} s)"
    slower = [m for m in row.get("repeat_medians_s") or () if m < row.get("best_s", 0)]
    if slower:
        yield f"repeat_medians_s: a repeat's median ({min(slower):.6g} s) is faster than the best sample"


def lower_bound_s(section: str, row: dict, device: dict) -> float | None:
    """The row's own lower bound in seconds from the datasheet (None where the datasheet or the
    row gives none): its bytes at the memory bandwidth, its FLOPs at the dense half-precision peak."""
    if section == "quant":
        return row.get("bound_s")
    bytes_ = _bytes(section, row)
    bw, peak = device.get("spec_bandwidth_GBps"), device.get("spec_dense_bf16_TFLOPS")
    flops = row.get("flops", row.get("flops_per_step"))
    memory = bytes_ / (bw * 1e9) if bw and bytes_ else 0.0
    compute = flops / (peak * 1e12) if peak and flops and row.get("dtype", "bf16") in HALF_PRECISION else 0.0
    return max(memory, compute) or None


def _bytes(section: str, row: dict) -> float:
    if section == "bandwidth":
        return row["bytes_moved"]
    if section in ("decode", "attention"):
        return row.get("bytes_per_step", row.get("bytes", 0.0))
    parts = ("weight_bytes", "cache_bytes", "activation_bytes")
    return sum(row.get(p) or 0.0 for p in parts)


def _bound(section: str, row: dict, device: dict) -> Iterator[str]:
    bound = lower_bound_s(section, row, device)
    if bound is None or row["best_s"] >= BOUND_TOLERANCE * bound:
        return
    if any(str(f).startswith(EXPLAINED) for f in row.get("flags") or ()):
        return
    yield (f"best_s: {row['best_s'] * 1e3:.4g} ms is below {BOUND_TOLERANCE:g} x its own lower bound "
           f"({bound * 1e3:.4g} ms) with no flag starting {EXPLAINED!r} to say why")


def _duplicates(section: str, rows: list[dict]) -> list[str]:
    seen: dict[tuple, int] = {}
    found = []
    for i, row in enumerate(rows):
        key = tuple(repr(row.get(k)) for k in IDENTITY[section])
        if key in seen:
            found.append(f"{section}.{i}: duplicates row {seen[key]} ({_point(section, row)})")
        seen.setdefault(key, i)
    return found


def _point(section: str, row: dict) -> str:
    return ", ".join(f"{k}={row.get(k)}" for k in IDENTITY[section] if row.get(k) is not None)


def flag_beyond_bounds(doc: dict) -> dict:
    """`doc` with a flag starting EXPLAINED on each row faster than BOUND_TOLERANCE x its own
    bound: the bench calls this before saving, so a run that beat its datasheet is kept and says
    so (served from a cache, a clock above the datasheet's) instead of failing to load."""
    device = doc.get("device") or {}
    out = dict(doc)
    for section, rows in _sections(doc):
        if section != "speculative.drafts" and rows:
            out[section] = [_explained(section, row, device) for row in rows]
    return out


def _explained(section: str, row: dict, device: dict) -> dict:
    if not list(_bound(section, row, device)):
        return row
    bound = lower_bound_s(section, row, device)
    why = (f"{EXPLAINED}: {row['best_s'] * 1e3:.4g} ms against {bound * 1e3:.4g} ms from the datasheet "
           "(served from a cache, or a clock or bandwidth above the datasheet's)")
    return {**row, "flags": [*row.get("flags", ()), why]}
