"""Cross-field checks of results files (snippets.result_checks through snippets.results.load):
rows that make no sense together fail with the file and the key path, in one message per file."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from snippets import result_checks, results

RECORDED = sorted(Path("docs/results").glob("*.json"))


@pytest.fixture(scope="module")
def h200():
    return json.loads(Path("docs/results/nvidia-h200-2026-12-04-171211.json").read_text())


def load(tmp_path, doc) -> dict:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    return results.load(path)


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.name)
def test_recorded_runs_make_sense(path):
    assert result_checks.problems(results.load(path)) == []


@pytest.mark.parametrize(("edit", "where", "what"), [
    (lambda d: d["mixed"][0].update(median_s=1e-9, best_s=1e-9, repeat_medians_s=[]), "mixed.0.median_s", "outside"),
    (lambda d: d["mixed"][0].update(median_s=2e-4, best_s=2e-4, repeat_medians_s=[]), "mixed.0.best_s", "lower bound"),
    (lambda d: d["prefill"][0].update(median_s=1e6), "prefill.0.median_s", "outside"),
    (lambda d: d["decode"][0].update(best_s=d["decode"][0]["median_s"] * 2), "decode.0.best_s", "slower than the median"),
    (lambda d: d["decode"][0].update(flops_per_step=1e308), "decode.0.flops_per_step", "implausible magnitude"),
    (lambda d: d["device"].update(memory_bytes=10**300), "device.memory_bytes", "implausible magnitude"),
    (lambda d: d["attention"].append(copy.deepcopy(d["attention"][3])), "attention.45", "duplicates row 3"),
    (lambda d: d["decode"][1].update(repeat_medians_s=[1e-6]), "decode.1.repeat_medians_s", "faster than the best"),
])
def test_nonsense_fails_naming_file_and_field(edit, where, what, h200, tmp_path):
    doc = copy.deepcopy(h200)
    edit(doc)
    with pytest.raises(results.ResultsError) as error:
        load(tmp_path, doc)
    message = str(error.value)
    assert message.startswith(str(tmp_path / "bad.json")) and where in message and what in message


def test_a_flag_saying_why_lets_a_row_beat_its_bound(h200, tmp_path):
    doc = copy.deepcopy(h200)
    doc["bandwidth"][0].update(median_s=1e-6, best_s=1e-6, repeat_medians_s=[])
    assert result_checks.problems(doc)
    flagged = result_checks.flag_beyond_bounds(doc)
    assert flagged["bandwidth"][0]["flags"][-1].startswith(result_checks.EXPLAINED)
    assert flagged["bandwidth"][1] is doc["bandwidth"][1]  # rows within their bounds untouched
    assert not any(f.startswith(result_checks.EXPLAINED) for f in doc["bandwidth"][0]["flags"])  # a copy
    assert load(tmp_path, flagged)["bandwidth"][0]["best_s"] == 1e-6


def test_one_message_per_bad_file_however_many_faults(h200, tmp_path):
    doc = copy.deepcopy(h200)
    for row in doc["attention"]:
        row.update(best_s=row["median_s"] * 3, repeat_medians_s=[])
    with pytest.raises(results.ResultsError) as error:
        load(tmp_path, doc)
    message = str(error.value)
    assert f"{len(doc['attention'])} measurement(s)" in message
    assert message.count("\n") == results.SHOWN_PROBLEMS + 1 and "more" in message.splitlines()[-1]


def test_the_bound_is_the_rows_own(h200):
    device = h200["device"]
    row = h200["decode"][0]
    assert result_checks.lower_bound_s("decode", row, device) == pytest.approx(
        max(row["bytes_per_step"] / (device["spec_bandwidth_GBps"] * 1e9),
            row["flops_per_step"] / (device["spec_dense_bf16_TFLOPS"] * 1e12)))
    assert result_checks.lower_bound_s("quant", {"bound_s": 0.004}, device) == 0.004
    assert result_checks.lower_bound_s("decode", row, {**device, "spec_bandwidth_GBps": None,
                                                       "spec_dense_bf16_TFLOPS": None}) is None


@pytest.mark.parametrize("name", ["!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "Ünïcødé GPU ✓", "   ", "--"])
def test_any_printable_device_name_works_as_a_figure_name(name, h200):
    from vis import measured

    doc = results.validate(copy.deepcopy(h200), "h200")
    doc["device"]["name"] = name
    assert "<svg" in measured.measured_roofline(doc)


def test_every_section_of_the_schema_is_registered_once():
    """A new section is one SECTIONS entry: its model, table, heading and identity; the bench's
    document, the summary and the checks all iterate the registry."""
    keys = [s.key for s in results.SECTIONS]
    assert len(keys) == len(set(keys))
    for key, field in results.Results.model_fields.items():
        listed = getattr(field.annotation, "__origin__", None) is list and key != "notes"
        assert (key in keys) == (listed or key in ("profile", "speculative")), key
    for s in results.SECTIONS:
        assert s.rows == bool(s.identity) and set(s.identity) <= set(s.row_model.model_fields), s.key


def test_the_bench_document_fills_every_section_from_one_dict(h200):
    from types import SimpleNamespace

    from snippets.bench import results as bench_results

    info = SimpleNamespace(kind="cuda", name="x", spec=None, bandwidth_from_clock_GBps=None, memory_bytes=None,
                           cache_bytes=None, threads=1)
    env = {"start": {"torch": "2", "python": "3"}}
    doc = bench_results.document(info, "asked", h200["settings"], {"decode": h200["decode"][:2]}, ["n"], "t",
                                 environment=env)
    assert len(doc["decode"]) == 2 and doc["mixed"] == [] and doc["speculative"] is None
    assert set(doc) >= {s.key for s in results.SECTIONS}
    assert results.validate(doc, "built")["decode"][1]["batch"] == h200["decode"][1]["batch"]
