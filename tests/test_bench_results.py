"""Results files: a declared schema that refuses bad numbers with the file and key path, old
files still render, and every string from a file is escaped wherever it is shown."""

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from snippets import results
from snippets.units import BYTES_PER_ELEMENT

RECORDED = sorted(Path("docs/results").glob("*.json"))


@pytest.fixture(scope="module")
def v1():
    return json.loads(Path("docs/results/nvidia-h200-2026-11-26.json").read_text())  # the schema v1 file


def write(tmp_path, doc, raw: str | None = None) -> Path:
    path = tmp_path / "r.json"
    path.write_text(raw if raw is not None else json.dumps(doc))
    return path


@pytest.mark.parametrize(("edit", "where", "what"), [
    (lambda d: d["decode"][0].update(median_s=float("nan")), "decode.0.median_s", "finite"),
    (lambda d: d["decode"][0].update(median_s=float("inf")), "decode.0.median_s", "finite"),
    (lambda d: d["decode"][0].update(median_s=-0.024), "decode.0.median_s", "greater than 0"),
    (lambda d: d["bandwidth"][1].update(buffer_bytes=0), "bandwidth.1.buffer_bytes", "greater than 0"),
    (lambda d: d["matmul"][0].update(best_TFLOPS="fast"), "matmul.0.best_TFLOPS", "valid number"),
    (lambda d: d["matmul"][0].update(flops="1e12"), "matmul.0.flops", "valid number"),
    (lambda d: d["decode"][2].pop("batch"), "decode.2.batch", "required"),
    (lambda d: d["device"].pop("name"), "device.name", "required"),
])
def test_bad_values_fail_with_file_and_key_path(edit, where, what, v1, tmp_path):
    doc = copy.deepcopy(v1)
    edit(doc)
    path = write(tmp_path, doc)
    with pytest.raises(results.ResultsError) as error:
        results.load(path)
    message = str(error.value)
    assert str(path) in message and where in message and what in message


def test_unknown_or_missing_schema_version(v1, tmp_path):
    for schema, expected in (("llm-course-bench/9", "unknown schema version"), (None, "schema: missing")):
        doc = {**v1, "schema": schema} if schema else {k: v for k, v in v1.items() if k != "schema"}
        with pytest.raises(results.ResultsError, match=expected):
            results.load(write(tmp_path, doc))
    with pytest.raises(results.ResultsError, match="not JSON"):
        results.load(write(tmp_path, None, raw="{"))


def test_old_files_upgrade_keeping_every_number(v1):
    doc = results.validate(copy.deepcopy(v1), "h200")
    assert doc["schema"] == results.SCHEMA and doc["migrated_from"] == results.SCHEMA_V1
    for old, new in zip(v1["decode"], doc["decode"]):
        assert {k: new[k] for k in old} == old
        assert new["weight_bytes"] + new["cache_bytes"] == pytest.approx(old["bytes_per_step"])
    assert doc["bandwidth"][0]["GBps"] == v1["bandwidth"][0]["GBps"] and doc["prefill"] == []


def test_recorded_files_render_tables_and_figures():
    from vis import measured

    docs = results.load_folder(Path("docs/results"))
    assert len(docs) == len(RECORDED)
    for doc in docs:
        table = results.calibration_table(doc)
        assert "held out" in table and "fitted" in table
        assert "<svg" in measured.predicted_vs_measured(doc, name="c")
        assert "<svg" in measured.measured_roofline(doc, name="m")
        rows = results.prefill_table(doc).count("\n") - 1  # less the header's separator line
        assert rows == len(doc["prefill"])  # old (v1) files have none


def test_the_recorded_h100_run_has_every_section():
    """The GPU run that chapters 3 to 5 draw beside their bounds measured every section."""
    (doc,) = [d for d in results.load_folder(Path("docs/results")) if "h100" in d["file"]]
    assert doc["complete"] and doc["settings"]["layers"] is None
    for section in ("bandwidth", "matmul", "decode", "prefill", "quant", "mixed", "verify"):
        assert doc[section], section
    assert doc["profile"] and doc["speculative"]["best"]
    assert not any("failed and was skipped" in n for n in doc["notes"])


HOSTILE = "<img src=x onerror=alert(1)> | <script>alert(1)</script> [x](javascript:alert(1)) $x^2$ & co"


@pytest.fixture(scope="module")
def hostile(v1):
    doc = results.validate(copy.deepcopy(v1), "h200")
    doc["device"]["name"] = doc["device"]["spec_name"] = HOSTILE
    doc["matmul"][0]["dtype"] = "<b>bf16</b>"
    doc["file"] = "a|b<c>.json"
    return doc


def test_tables_escape_strings_from_files(hostile):
    import markdown

    for table in (results.overview_table([hostile]), results.decode_table(hostile),
                  results.calibration_table(hostile)):
        assert "<img" not in table and "<script" not in table and "<b>" not in table
        html = markdown.markdown(table, extensions=["tables"])
        assert "<img" not in html and "<script" not in html and "<b>" not in html and 'href="javascript' not in html
        header, *rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
        assert all(row.count("<td") == header.count("<th") for row in rows)  # no cell split by a data '|'
    assert "&lt;img src=x onerror=alert(1)&gt; \\|" in results.overview_table([hostile])


def test_figures_escape_names_and_keep_dollars_literal(hostile):
    from vis import measured

    for svg in (measured.measured_roofline(hostile, name="h"), measured.decode_vs_prediction(hostile, name="d"),
                measured.predicted_vs_measured(hostile, name="p"), measured.measured_roofline(hostile)):
        assert "<img" not in svg and "<script" not in svg
        assert "$x^2$" in svg  # drawn as typed, not as mathtext


def test_standalone_svg_is_opaque_with_dark_ink(v1):
    from vis import measured

    doc = results.validate(copy.deepcopy(v1), "h200")
    inline = measured.measured_roofline(doc, name="m")
    alone = measured.standalone_svg(inline)
    assert "currentColor" in inline and "currentColor" not in alone
    assert f'<rect width="100%" height="100%" fill="{measured.STANDALONE_BACKGROUND}"/>' in alone
    assert alone.startswith("<?xml")
    assert "memory roof = copy" in inline


def test_one_batch_is_called_batch_1(v1):
    from vis import measured

    assert measured.batch_label([1]) == "batch 1" and measured.batch_label([1, 8, 256]) == "batch 1-256"
    svg = measured.measured_roofline(results.validate(copy.deepcopy(v1), "h200"), name="m")
    assert "compile (batch 1)" in svg and "batch 1-1" not in svg


def test_vis_and_results_never_import_torch_or_the_bench():
    code = ("import sys, vis.measured, snippets.results, snippets.calibration; "
            "bad = [m for m in sys.modules if m == 'torch' or m.startswith('snippets.bench')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
    for path in Path("vis").glob("*.py"):
        assert not re.search(r"^\s*(from|import) snippets\.bench", path.read_text(), re.M), path


def test_bench_dtypes_come_from_the_one_table():
    import torch

    from snippets.bench import decode, matmul
    from snippets.bench.dtypes import TORCH_DTYPES

    assert set(TORCH_DTYPES) <= set(BYTES_PER_ELEMENT)
    for name, dtype in TORCH_DTYPES.items():
        assert torch.empty((), dtype=dtype).element_size() == BYTES_PER_ELEMENT[name]
    assert all(decode.DTYPES[n] is TORCH_DTYPES[n] and matmul.DTYPES[n] is TORCH_DTYPES[n] for n in decode.DTYPES)


def test_markdown_cell_escaping():
    assert results.md("a|b") == "a\\|b"
    assert results.md("<x> & [y]\n_z_") == "&lt;x&gt; &amp; \\[y\\] \\_z\\_"
    assert not re.search(r"(?<!\\)[|\[\]*_`{}~^]", results.md(HOSTILE + " _a_{: x } ~~b~~"))  # every one escaped



def test_md_keeps_kernel_names_literal_through_markdown():
    """A profiled kernel name such as `f(float*, float*)` must not turn into emphasis or code."""
    import markdown

    name = "void k<false>(float*, float*, `x`) a\\b"
    rendered = markdown.markdown(f"| kernel |\n| :-- |\n| {results.md(name)} |", extensions=["tables"])
    assert "<em>" not in rendered and "<code>" not in rendered
    assert "(float*, float*, `x`) a\\b" in rendered and "&lt;false&gt;" in rendered


def test_the_cli_summary_prints_every_section_of_a_full_gpu_run():
    """The summary printed after a run renders every section a CUDA run has (it once named a
    table function the results module did not re-export, and failed after saving)."""
    from snippets.bench import cli

    (doc,) = [d for d in results.load_folder(Path("docs/results")) if "h100" in d["file"]]
    text = cli.summary(doc)
    for heading in ("| kernel | GB/s", "| m x n x k", "| batch | mode | measured ms/step", "| prompt tokens", "| format | path",
                    "Mixed steps", "Verify passes", "Speculative decoding", "Calibrated model"):
        assert heading in text, heading
    assert results.decode_table(doc) in text  # the results' own tables, not the command's copies
