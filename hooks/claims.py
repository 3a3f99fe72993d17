"""MkDocs hook: every claim a page module names is cited by exactly one sentence, every citation
names a claim (pages.claims.claim_problems), and every page module is cited by its page
(module_problems); each problem is a warning, which fails a strict build."""

import logging

log = logging.getLogger("mkdocs.plugins.claims")


def on_post_build(config, **kwargs):
    from pages import claims

    for problem in claims.module_problems() + claims.claim_problems():
        log.warning(problem)
