"""MkDocs hook: when many code blocks fail with the same error (a syntax error in a module they
all import), log the traceback once and then one line saying how many more blocks failed.

markdown-exec logs one warning per failing block; a broken `snippets` module would otherwise
print the same traceback fifteen times. The warnings still count: a strict build still fails.
"""

import logging
import re

LOGGER = "mkdocs.plugins.markdown_exec._internal.formatters.base"
log = logging.getLogger("mkdocs.plugins.repeated_errors")


class OncePerError(logging.Filter):
    """Pass the first record of each distinct error (its innermost file, line and exception)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        frames = re.findall(r'File "([^"]+)", line (\d+)', message)
        lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
        key = f"{frames[-1] if frames else ''} {lines[-1] if lines else ''}"
        self.seen[key] = self.seen.get(key, 0) + 1
        return self.seen[key] == 1


_filter = OncePerError()


def on_pre_build(config, **kwargs):
    _filter.seen.clear()
    logger = logging.getLogger(LOGGER)
    if _filter not in logger.filters:
        logger.addFilter(_filter)


def on_post_build(config, **kwargs):
    for key, count in _filter.seen.items():
        if count > 1:
            log.warning("%d more code blocks failed with the same error: %s", count - 1, key)
