"""MkDocs hook: keep the cyclic garbage collector from re-scanning what a build already holds.

Each page starts by freezing the objects alive so far (gc.freeze), so a collection walks only what
the page allocates. Measured on the 2-core dev machine, Python 3.11.7, warm store: a strict build
takes about 0.6 s less CPU with it (medians of three: 3.5 s against 4.1 s, on a loaded machine). `mkdocs build` exits frozen (its exit skips a last walk);
`mkdocs serve` unfreezes after each build.
"""

import gc

_command = None


def on_startup(command, **kwargs):
    global _command
    _command = command


def on_pre_build(config, **kwargs):
    gc.unfreeze()  # a build that failed may have left objects frozen


def on_page_markdown(markdown, **kwargs):
    gc.freeze()
    return markdown


def on_post_build(config, **kwargs):
    (gc.freeze if _command == "build" else gc.unfreeze)()


def on_build_error(error, **kwargs):
    gc.unfreeze()
