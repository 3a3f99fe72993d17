"""The recorded results files in docs/results/ that pages draw beside their predictions, and the
one rule that picks among them.

Pages never name a results file: they ask for a run by what it measured (device, model, dtype,
whole model, a section with rows, optionally a mode or a test on the rows, such as the kernel
path they ran), so a new recording of the same setup
replaces the old one with no edit to any page, and a measured point never sits on a curve
computed for something else. The rule:

- a run qualifies when it measured the whole `model` (no `layers` cut) in `dtype` on `spec_name`
  and its `section` has rows (of `mode`, when one is asked for, and passing `where`, when given:
  a test on one row's content, e.g. its kernel `path`; never a file name);
- among those the newest wins (`created`);
- a row is *steady* when the bench did not flag it and its median is within STEADY of its best
  (older files carry no flags, so the spread is checked directly); a page quotes steady rows, or
  says how noisy the row it quotes is.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from snippets import results

RESULTS = Path(__file__).parents[1] / "docs" / "results"

#: A row whose median sits more than 5 % above its best is noisy (the bench flags it the same way).
STEADY = 0.05


def load_all() -> list[dict]:
    """Every recorded results file, sorted by device name then date (each has a "file" key); read
    and checked once per build however many pages ask (again when a file changes)."""
    return list(_load_folder(tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in RESULTS.glob("*.json"))))


@cache
def _load_folder(files: tuple[tuple[str, int, int], ...]) -> tuple[dict, ...]:
    return tuple(results.load_folder(RESULTS))


def _whole(doc: dict, model: str, dtype: str) -> bool:
    return (doc["settings"]["model"] == model and doc["settings"]["dtype"] == dtype
            and doc["settings"].get("layers") is None)


def _has(doc: dict, section: str, mode: str | None, where: Callable[[dict], bool] | None = None) -> bool:
    return any((mode is None or r.get("mode") == mode) and (where is None or where(r)) for r in doc.get(section) or ())


def run_for(spec_name: str, model: str, dtype: str, section: str, mode: str | None = None,
            where: Callable[[dict], bool] | None = None) -> dict:
    """The newest recorded run on `spec_name` of the whole `model` in `dtype` whose `section`
    has rows (of `mode`, if given; and passing `where(row)`, if given: a test on what a row
    measured, such as its kernel `path`). LookupError naming what is recorded if there is none."""
    docs = load_all()
    matching = [d for d in docs if d["device"]["spec_name"] == spec_name and _whole(d, model, dtype)
                and _has(d, section, mode, where)]
    if not matching:
        have = "; ".join(f"{d['file']}: {d['device']['spec_name']}, {d['settings']['model']}, {d['settings']['dtype']}"
                         for d in docs) or "none"
        raise LookupError(f"no recorded run in {RESULTS} measures {section}{f' in {mode} mode' if mode else ''}"
                          f"{' with rows that pass the test asked for' if where else ''} of the "
                          f"whole {model} in {dtype} on the {spec_name}; recorded: {have}")
    return max(matching, key=lambda d: d["created"])


def newest_per_device(docs: list[dict], section: str) -> list[dict]:
    """Of the runs with rows in `section`, the newest on each device, in the order of `docs`: a
    page draws each device once (its tables list every run)."""
    newest: dict[str, dict] = {}
    for doc in (d for d in docs if d.get(section)):
        name = doc["device"]["name"]
        if name not in newest or doc["created"] > newest[name]["created"]:
            newest[name] = doc
    return [doc for doc in docs if newest.get(doc["device"]["name"]) is doc]


def spread(row: dict) -> float:
    """How far a row's median sits above its best (0.06 = 6 %)."""
    return row["median_s"] / row["best_s"] - 1


def steady(row: dict) -> bool:
    """The bench did not flag the row, and its median is within STEADY of its best."""
    return not row.get("flags") and spread(row) <= STEADY


def best_decoder(model: str, dtype: str, batch: int = 1) -> tuple[dict, dict]:
    """(run, row): the steady decode row at `batch` with the highest MBU over the newest run of
    every device that decoded the whole `model` in `dtype`."""
    devices = {d["device"]["spec_name"] for d in load_all() if d["device"].get("spec_name")}
    candidates = []
    for device in sorted(devices):
        try:
            doc = run_for(device, model, dtype, "decode")
        except LookupError:
            continue
        candidates += [(doc, r) for r in doc["decode"] if r["batch"] == batch and steady(r)]
    if not candidates:
        raise LookupError(f"no steady batch-{batch} decode row of the whole {model} in {dtype} is recorded")
    return max(candidates, key=lambda pair: pair[1]["mbu_pct"])


def fastest_mode(doc: dict, section: str, smallest: dict) -> str:
    """The mode whose row matching `smallest` (e.g. {"batch": 1, "tokens": 1}) ran fastest."""
    rows = [r for r in doc[section] if all(r[k] == v for k, v in smallest.items())]
    return min(rows, key=lambda r: r["median_s"])["mode"]
