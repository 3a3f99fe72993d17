"""MkDocs hook: mkdocs-jupyter logs three INFO lines per notebook per build (converting, cache
hit or miss, copied), each with a temporary or absolute path; the build output keeps its
warnings and errors only."""

import logging

NOISY = ("mkdocs.mkdocs-jupyter", "mkdocs.plugins.mkdocs_jupyter")


def on_startup(command, dirty, **kwargs):
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
