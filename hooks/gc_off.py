"""MkDocs hook: no cyclic garbage collection while a build runs. A build keeps most of what it
allocates to its end, so collections only walk it again; `mkdocs serve` collects between builds.
After `mkdocs build` the process ends, and the interpreter's last collection would walk all of
it once more: its objects are frozen (gc.freeze) instead. Measured 2026-12-05, Python 3.11.7,
two cores, store full: warm strict build 3.08 s with collection on, 2.91 s off (medians of 7);
the exit after it 0.22 s, frozen 0.03 s."""

import gc

ends_after_build = False  # `mkdocs build` or `gh-deploy`: the process ends after one build


def on_startup(command, **kwargs):
    global ends_after_build
    ends_after_build = command in ("build", "gh-deploy")


def on_pre_build(config, **kwargs):
    gc.disable()


def on_post_build(config, **kwargs):
    gc.enable()
    if ends_after_build:
        gc.freeze()


def on_build_error(error, **kwargs):
    gc.enable()
