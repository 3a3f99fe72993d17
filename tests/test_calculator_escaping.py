"""The calculator's data and script never treat a data string as markup."""

import json
from pathlib import Path

from snippets import calculator

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = '</script><!--<script>alert(1)</script>&amp; "quoted" \u2028'


def test_script_safe_json_escapes_markup_characters():
    text = calculator.script_safe_json({"name": HOSTILE, "models": [{"source": "<!-- a & b -->"}]})
    assert not set("<>&") & set(text)
    assert json.loads(text) == {"name": HOSTILE, "models": [{"source": "<!-- a & b -->"}]}


def test_the_exported_data_has_no_markup_characters():
    text = calculator.export_json()
    assert not set("<>&") & set(text)
    assert json.loads(text) == calculator.export_data()


def test_the_script_never_writes_html():
    script = (ROOT / "docs" / "javascripts" / "calculator.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink
