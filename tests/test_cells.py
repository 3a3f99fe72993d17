"""pages/cells.py: a cell's code inlines its data, runs against snippets.formulas alone, and
renders as a labelled editor whose build output is escaped; every page module's cells run."""

from __future__ import annotations

import pytest

from pages import cells, registry


def test_template_inlines_data_as_literals():
    made = cells.cell("""
        x = $x  # $name
        print(formulas.ridge_point(x, 2))
    """, x=10.0, name="a GPU")
    assert made.code.startswith("import formulas")
    assert "x = 10.0  # a GPU" in made.code
    assert made.output() == "5.0\n"


def test_missing_data_is_an_error():
    with pytest.raises(KeyError):
        cells.cell("y = $y")


def test_run_leaves_no_formulas_module_behind():
    import sys

    cells.run("import formulas\nprint(formulas.expected_tokens(0.5, 1))")
    assert "formulas" not in sys.modules


def test_render_escapes_and_labels():
    html = cells.render("chx.c", cells.Cell('print("<b>&")\n'))
    assert "&lt;b&gt;&amp;" in html and "<b>" not in html
    assert '<label class="pycell-label" for="pycell-chx-c">' in html and 'id="pycell-chx-c"' in html
    assert 'type="button"' in html and "Stop" in html


def test_unknown_or_wrong_reference_is_reported_in_place(caplog):
    assert "value-error" in cells.format_cell("ch1.nothing_here", "cell", "pycell", {}, None)
    assert "not a cell" in cells.format_cell("ch1.GPU", "cell", "pycell", {}, None)


def test_every_chapter_has_two_cells_that_run_and_cites_them():
    for name in ("ch1", "ch2", "ch3", "ch4", "ch5", "ch6", "ch7"):
        module = registry.load(name)
        found = {n: v for n, v in vars(module).items() if isinstance(v, cells.Cell)}
        assert len(found) >= 2, name
        page = (registry.DOCS / module.PAGE).read_text(encoding="utf-8")
        for cell_name, made in found.items():
            assert f"```cell\n{name}.{cell_name}\n```" in page, cell_name
            assert made.output().strip(), cell_name
            assert "numpy" not in made.code and "snippets" not in made.code.split("\n", 1)[1]
        assert name in registry.cited_modules(module.PAGE)


def test_the_hook_serves_formulas_and_pyodide(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("pycells_hook", registry.ROOT / "hooks" / "pycells.py")
    pycells = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pycells)
    pycells.on_post_build({"site_dir": str(tmp_path)})
    assert (tmp_path / "pycells" / "formulas.py").read_bytes() == (registry.ROOT / "snippets" / "formulas.py").read_bytes()
    if cells.download_bytes() > 1_000_000:  # npm ci ran
        assert sorted(p.name for p in (tmp_path / "pyodide").iterdir()) == sorted(cells.PYODIDE_FILES)
        assert "MB, once)" in cells.download_label()
