"""MkDocs hook: no cyclic garbage collection while a build runs. A build keeps most of what it
allocates to its end, so collections only walk it again; `mkdocs serve` collects between builds."""

import gc


def on_pre_build(config, **kwargs):
    gc.disable()


def on_post_build(config, **kwargs):
    gc.enable()


def on_build_error(error, **kwargs):
    gc.enable()
