"""MkDocs hook: keep Python's cyclic garbage collector from re-scanning everything a build holds.

A build imports torch, matplotlib and the pages' modules and keeps them: millions of objects
that every full collection walked again (about 1 s of a warm build, 1.6 s of a cold one). When
each page starts, the objects alive so far are frozen (gc.freeze: never collected, never
scanned), so a collection looks only at what the current page allocates; when the build ends
they are unfrozen and collected as usual. Reference counting frees nearly everything a page
drops anyway; memory stays within a few percent.
"""

import gc


def on_pre_build(config, **kwargs):
    gc.unfreeze()  # a build that failed without on_build_error may have left some frozen


def on_page_markdown(markdown, **kwargs):
    gc.freeze()
    return markdown


def on_post_build(config, **kwargs):
    gc.unfreeze()


def on_build_error(error, **kwargs):
    gc.unfreeze()
