"""pages/recorded.py: one rule picks the recorded run a page draws, by what the run measured,
never by a file name typed in a page module."""

import json
import re
from pathlib import Path

import pytest

from pages import recorded

ROOT = Path(__file__).resolve().parents[1]


def test_no_page_module_names_a_results_file():
    names = {p.name for p in recorded.RESULTS.glob("*.json")}
    for module in (ROOT / "pages").glob("*.py"):
        text = module.read_text(encoding="utf-8")
        typed = [n for n in names if n in text] + re.findall(r"[\w-]+-20\d\d-\d\d-\d\d[\w-]*\.json", text)
        assert not typed, f"{module.name} names {typed}: ask recorded.run_for / best_decoder instead"


@pytest.fixture
def results_copy(tmp_path, monkeypatch):
    """A copy of docs/results/ that recorded.py reads instead, for a test to add runs to."""
    for path in recorded.RESULTS.glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text())
    monkeypatch.setattr(recorded, "RESULTS", tmp_path)
    return tmp_path


def test_newest_matching_run_wins_and_a_new_recording_replaces_it(results_copy):
    tmp_path = results_copy
    old = recorded.run_for("NVIDIA H200 SXM", "Llama-3.1-8B", "bf16", "decode")
    newer = json.loads(json.dumps(old))
    del newer["file"]
    newer["created"] = "2099-01-01T00:00:00+00:00"
    (tmp_path / "any-name-at-all.json").write_text(json.dumps(newer))
    assert recorded.run_for("NVIDIA H200 SXM", "Llama-3.1-8B", "bf16", "decode")["file"] == "any-name-at-all.json"
    # a run without the section asked for is never picked
    newer["decode"] = []
    newer["created"] = "2099-02-01T00:00:00+00:00"
    (tmp_path / "later-but-no-decode.json").write_text(json.dumps(newer))
    assert recorded.run_for("NVIDIA H200 SXM", "Llama-3.1-8B", "bf16", "decode")["file"] == "any-name-at-all.json"


def test_mode_and_missing_runs():
    doc = recorded.run_for("NVIDIA H100 SXM", "Llama-3.1-8B", "bf16", "decode", mode="compile")
    assert any(r["mode"] == "compile" for r in doc["decode"])
    with pytest.raises(LookupError, match="no recorded run"):
        recorded.run_for("NVIDIA H100 SXM", "Llama-3.1-8B", "bf16", "decode", mode="warp-drive")
    with pytest.raises(LookupError, match="recorded:"):
        recorded.run_for("NVIDIA L4", "Llama-3.1-8B", "bf16", "decode")


def test_a_row_test_picks_the_newest_run_whose_rows_pass_it(results_copy):
    tmp_path = results_copy
    newest = recorded.run_for("NVIDIA H200 SXM", "Llama-3.1-8B", "bf16", "quant")
    newer = json.loads(json.dumps(newest))
    del newer["file"]
    newer["created"] = "2099-01-01T00:00:00+00:00"
    for r in newer["quant"]:
        r["path"] = "a kernel no page asks for"
    (tmp_path / "newer-other-kernels.json").write_text(json.dumps(newer))
    assert recorded.run_for("NVIDIA H200 SXM", "Llama-3.1-8B", "bf16", "quant")["file"] == "newer-other-kernels.json"
    picked = recorded.run_for("NVIDIA H200 SXM", "Llama-3.1-8B", "bf16", "quant",
                              where=lambda r: "static shapes" in r["path"])
    assert picked["file"] == newest["file"]
    with pytest.raises(LookupError, match="pass the test"):
        recorded.run_for("NVIDIA H200 SXM", "Llama-3.1-8B", "bf16", "quant", where=lambda r: r["path"] == "warp drive")


def test_best_decoder_looks_at_every_gpu_and_only_steady_rows():
    doc, row = recorded.best_decoder("Llama-3.1-8B", "bf16")
    assert recorded.steady(row) and row["batch"] == 1
    for other in recorded.load_all():
        if other["settings"].get("layers") is None and other["settings"]["dtype"] == "bf16":
            for r in other.get("decode") or ():
                if r["batch"] == 1 and recorded.steady(r):
                    assert r["mbu_pct"] <= row["mbu_pct"]
    assert doc["device"]["spec_name"] == "NVIDIA H100 SXM"  # 76.4 %, above the H200's 70.1 %


def test_a_noisy_row_is_not_steady():
    assert not recorded.steady({"median_s": 1.5, "best_s": 1.0, "flags": None})  # no flags, but 50 % spread
    assert not recorded.steady({"median_s": 1.0, "best_s": 1.0, "flags": ["noisy"]})
    assert recorded.steady({"median_s": 1.04, "best_s": 1.0, "flags": []})


def test_figures_show_the_newest_run_of_each_device_with_the_section():
    docs = [{"device": {"name": "A"}, "created": "1", "decode": [1]}, {"device": {"name": "A"}, "created": "2", "decode": [1]},
            {"device": {"name": "A"}, "created": "3", "decode": []}, {"device": {"name": "B"}, "created": "1", "decode": [1]}]
    assert recorded.newest_per_device(docs, "decode") == [docs[1], docs[3]]
