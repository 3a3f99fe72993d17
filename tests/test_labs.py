"""Execute every lab notebook on the CPU with tiny sizes, so that they never rot."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

LABS = sorted((Path(__file__).resolve().parents[1] / "docs" / "labs").glob("*.ipynb"))
#: A line each lab must print when its measurements ran to the end.
PRINTS = {"lab1_memory_bound": "% of the way there", "lab2_kv_cache": "same tokens: True",
          "lab3_quantization": "int4 error bound holds: True",
          "lab4_serving": "highest rate with at least 90 % on target",
          "lab5_speculative": "speculative sampling matches the target: True",
          "lab6_attention": "online softmax matches softmax(QK^T)V: True",
          "lab7_multi_gpu": "split MLP equals the unsplit one: True"}


@pytest.mark.parametrize("path", LABS, ids=[p.stem for p in LABS])
def test_lab_runs(path, monkeypatch):
    monkeypatch.setenv("LAB_SMALL", "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # the CPU path, even on a GPU machine
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any(PRINTS[path.stem] in o.get("text", "") for o in outputs), PRINTS[path.stem]


def test_labs_are_committed_with_outputs_of_a_real_run():
    """The site renders the saved outputs (it does not execute the labs): they must be there, from a
    full-size run (not the tests' tiny one), without errors; each lab says its install line and run time."""
    for path in LABS:
        notebook = nbformat.read(path, as_version=4)
        outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
        assert all(c.get("outputs") for c in notebook.cells if c.cell_type == "code"), path
        assert not [o for o in outputs if o.output_type == "error"], path
        assert any(PRINTS[path.stem] in o.get("text", "") for o in outputs), path
        intro = notebook.cells[0].source
        assert "pip install" in intro and "Run time" in intro, path
