"""MkDocs hook: every claim a page module names is cited by exactly one sentence, every citation
names a claim (pages.citations.claim_problems), and every page module is cited by its page
(module_problems); each problem is a warning, which fails a strict build."""

import logging

log = logging.getLogger("mkdocs.plugins.claims")


def on_post_build(config, **kwargs):
    from pages import citations

    for problem in citations.module_problems() + citations.claim_problems():
        log.warning(problem)
