"""MkDocs hook: no cyclic garbage collection while a build runs. A build keeps most of what it
allocates to its end, so collections only walk it again; `mkdocs serve` collects between builds.
Measured 2026-12-05, Python 3.11.7, two cores, store full: warm strict build 3.08 s without it,
2.91 s with it (medians of 7)."""

import gc


def on_pre_build(config, **kwargs):
    gc.disable()


def on_post_build(config, **kwargs):
    gc.enable()


def on_build_error(error, **kwargs):
    gc.enable()
