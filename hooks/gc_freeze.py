"""MkDocs hook: keep Python's cyclic garbage collector from re-scanning everything a build holds.

A build imports torch, matplotlib and the pages' modules and keeps them: millions of objects
that every full collection walked again (about 1 s of a warm build, 1.6 s of a cold one). When
each page starts, the objects alive so far are frozen (gc.freeze: never collected, never
scanned), so a collection looks only at what the current page allocates. Reference counting
frees nearly everything a page drops anyway; memory stays within a few percent.

When the build ends they are unfrozen under `mkdocs serve`, which goes on. `mkdocs build` exits
instead: what it holds stays frozen, so the interpreter's last collections at exit do not walk it
again (0.6 s; every file is written and closed by then).
"""

import gc

_command = None


def on_startup(command, **kwargs):
    global _command
    _command = command


def on_pre_build(config, **kwargs):
    gc.unfreeze()  # a build that failed without on_build_error may have left some frozen


def on_page_markdown(markdown, **kwargs):
    gc.freeze()
    return markdown


def on_post_build(config, **kwargs):
    if _command == "build":
        gc.freeze()
    else:
        gc.unfreeze()


def on_build_error(error, **kwargs):
    gc.unfreeze()
