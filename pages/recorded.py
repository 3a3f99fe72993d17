"""The recorded results files in docs/results/ that pages draw beside their predictions.

A chapter asks for the run that matches its own setup (GPU, model, dtype, whole model) so a
measured point never sits on a curve computed for something else."""

from __future__ import annotations

from pathlib import Path

from snippets import results

RESULTS = Path(__file__).parents[1] / "docs" / "results"


def load_all() -> list[dict]:
    """Every recorded results file, sorted by device name then date (each has a "file" key)."""
    return results.load_folder(RESULTS)


def run_for(spec_name: str, model: str, dtype: str, section: str) -> dict:
    """The newest recorded run on `spec_name` of the whole `model` in `dtype` whose `section`
    has rows. LookupError naming what is recorded if there is none."""
    docs = load_all()
    matching = [d for d in docs if d["device"]["spec_name"] == spec_name and d["settings"]["model"] == model
                and d["settings"]["dtype"] == dtype and d["settings"].get("layers") is None and d.get(section)]
    if not matching:
        have = "; ".join(f"{d['file']}: {d['device']['spec_name']}, {d['settings']['model']}, {d['settings']['dtype']}"
                         for d in docs) or "none"
        raise LookupError(f"no recorded run in {RESULTS} measures {section} of the whole {model} in {dtype} on the "
                          f"{spec_name}; recorded: {have}")
    return max(matching, key=lambda d: d["created"])


def fastest_mode(doc: dict, section: str, smallest: dict) -> str:
    """The mode whose row matching `smallest` (e.g. {"batch": 1, "tokens": 1}) ran fastest."""
    rows = [r for r in doc[section] if all(r[k] == v for k, v in smallest.items())]
    return min(rows, key=lambda r: r["median_s"])["mode"]
