"""Editable Python cells in the pages: a few lines the reader changes and runs in the browser.

A page module defines a cell from a template and the data rows it needs, which are inlined as
Python literals at build time (`$name` is replaced by repr of the value):

    bound_cell = cell('''
        bandwidth_Bps = $bandwidth   # $gpu, data/hardware.csv
        print(f"{formulas.decode_tokens_per_s_bound(14e9, bandwidth_Bps):.0f} tokens/s")
    ''', bandwidth=a100.bandwidth_Bps, gpu=a100.name)

and a page shows it with a fence (pymdownx.superfences custom fence, configured in mkdocs.yml):

    ```cell
    ch1.bound_cell
    ```

The cell's code starts with `import formulas`: snippets/formulas.py, the stdlib-only module the
snippets package itself calls, which the site serves beside Pyodide (hooks/pycells.py). The build
runs the code here in CPython and prints its output under the editor; in the browser, the first
Run loads Pyodide from the site (docs/javascripts/pycells.js, pycell-worker.mjs) and prints the
reader's output below. tests/test_cells_browser.py checks the two agree for every cell.
"""

from __future__ import annotations

import contextlib
import html
import io
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from string import Template

from snippets import formulas

ROOT = Path(__file__).resolve().parents[1]
#: The Pyodide files the worker fetches on the first Run (copied from node_modules/pyodide into
#: the site's pyodide/ by hooks/pycells.py).
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
PYODIDE_DIR = ROOT / "node_modules" / "pyodide"
HEADER = "import formulas  # snippets/formulas.py: the formulas the course's own code calls\n\n"


@dataclass(frozen=True)
class Cell:
    """Python source the reader can edit: `formulas` imported, data rows inlined."""

    code: str

    def output(self) -> str:
        """What the code prints, run here in CPython against snippets.formulas."""
        return run(self.code)


def cell(template: str, **data: object) -> Cell:
    """A cell from `template` with each `$name` replaced by repr(data[name]) (str: as text after
    a `#`, repr anywhere else). Raises KeyError for a `$name` without data."""
    body = textwrap.dedent(template).strip("\n")
    values = {name: (value if isinstance(value, str) else repr(value)) for name, value in data.items()}
    return Cell(HEADER + Template(body).substitute(values) + "\n")


def run(code: str) -> str:
    """Run `code` with `import formulas` bound to snippets.formulas; its stdout, or raise."""
    out = io.StringIO()
    previous = sys.modules.get("formulas")
    sys.modules["formulas"] = formulas
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "<cell>", "exec"), {"__name__": "__cell__"})  # noqa: S102 - the page's own code
    finally:
        if previous is None:
            sys.modules.pop("formulas", None)
        else:
            sys.modules["formulas"] = previous
    return out.getvalue()


def download_bytes() -> int:
    """Bytes the first Run downloads: the vendored Pyodide files and formulas.py."""
    files = [PYODIDE_DIR / name for name in PYODIDE_FILES] + [Path(formulas.__file__)]
    return sum(path.stat().st_size for path in files if path.is_file())


def download_label() -> str:
    size = download_bytes()
    return f"Run (loads Python, {size / 1e6:.0f} MB, once)" if size > 100_000 else "Run"


def render(reference: str, found: Cell) -> str:
    """The HTML of one cell: label, editor, Run and Stop, the build's output, the reader's output."""
    anchor = "pycell-" + reference.replace(".", "-")
    lines = found.code.count("\n") + 1
    expected = found.output()
    return (
        f'<div class="pycell" data-cell="{html.escape(reference)}">'
        f'<label class="pycell-label" for="{anchor}">Python you can edit and run in this page</label>'
        f'<textarea id="{anchor}" class="pycell-code" rows="{lines}" spellcheck="false" autocapitalize="off" '
        f'autocomplete="off" aria-describedby="{anchor}-note">{html.escape(found.code)}</textarea>'
        f'<div class="pycell-bar">'
        f'<button type="button" class="md-button md-button--primary pycell-run" hidden>{download_label()}</button>'
        f'<button type="button" class="md-button pycell-stop" hidden>Stop</button>'
        f'<span class="pycell-note" id="{anchor}-note">Python runs in your browser, from this site; '
        f'Tab leaves the editor.</span></div>'
        f'<p class="pycell-caption">The build printed:</p>'
        f'<pre class="pycell-expected"><code>{html.escape(expected)}</code></pre>'
        f'<div class="pycell-result" hidden><p class="pycell-caption">Your run printed:</p>'
        f'<pre class="pycell-out" aria-live="polite"><code></code></pre></div>'
        f"</div>"
    )


def format_cell(source: str, language: str, class_name: str, options: dict, md, **kwargs) -> str:
    """pymdownx.superfences custom fence for ```cell: the body names the cell, `ch1.bound_cell`."""
    from pages.values import _failed, lookup

    reference = source.strip()
    try:
        found = lookup(reference)
        if not isinstance(found, Cell):
            raise TypeError(f"{reference!r} is {type(found).__name__}, not a cell (name the result of cell(...))")
        return render(reference, found)
    except Exception as error:  # noqa: BLE001 - reported in place (a warning fails the strict build)
        import xml.etree.ElementTree as etree

        return etree.tostring(_failed(reference, error), encoding="unicode")
