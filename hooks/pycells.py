"""MkDocs hook: the site serves what the editable cells run (pages/cells.py): snippets/formulas.py
as pycells/formulas.py, and Pyodide's runtime files from node_modules/pyodide (the version
package.json pins; `npm ci`, run by scripts/setup.sh) as pyodide/. Nothing loads from another
host. Without node_modules the pages still build; their Run buttons then say Python is missing."""

import logging
import shutil
from pathlib import Path

from pages import cells

log = logging.getLogger("mkdocs.hooks.pycells")


def on_post_build(config, **kwargs):
    site = Path(config["site_dir"])
    (site / "pycells").mkdir(exist_ok=True)
    shutil.copyfile(cells.formulas.__file__, site / "pycells" / "formulas.py")
    missing = [name for name in cells.PYODIDE_FILES if not (cells.PYODIDE_DIR / name).is_file()]
    if missing:
        log.info("pycells: node_modules/pyodide lacks %s (run npm ci); the cells cannot run in this build",
                 ", ".join(missing))
        return
    (site / "pyodide").mkdir(exist_ok=True)
    for name in cells.PYODIDE_FILES:
        target = site / "pyodide" / name
        source = cells.PYODIDE_DIR / name
        if not target.is_file() or target.stat().st_size != source.stat().st_size:
            shutil.copyfile(source, target)
