"""MkDocs hook: re-import the course's own Python packages before every build.

markdown-exec runs page code inside the long-lived `mkdocs serve` process, where an edited
module would otherwise stay cached in sys.modules. Dropping `snippets`, `vis` and `pages` before each
build makes an edit show on the next reload, without a rebuild loop (nothing is written
into docs/).
"""

import sys

PACKAGES = ("snippets", "vis", "pages")


def on_pre_build(config, **kwargs):
    for name in list(sys.modules):
        if name.split(".")[0] in PACKAGES:
            del sys.modules[name]


def on_startup(command, dirty, **kwargs):
    """Under `mkdocs serve`, let vis.cache reuse live measurements between rebuilds."""
    if command == "serve":
        import os

        os.environ["COURSE_REUSE_LIVE"] = "1"
