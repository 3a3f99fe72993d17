"""MkDocs hook: an error that many code blocks or `#!val` values raise alike (a syntax error in a
module they all import, a page module whose import fails) is logged once, with its traceback for
a block, then one line counts the rest. markdown-exec logs a warning per block and pages.values
one per value; the first of each cause still fails a strict build."""

import logging
import re

BLOCKS = logging.getLogger("mkdocs.plugins.markdown_exec._internal.formatters.base")
VALUES = logging.getLogger("mkdocs.plugins.pages")
log = logging.getLogger("mkdocs.plugins.repeated_errors")
seen: dict[str, int] = {}  # error (innermost file and line, last line) -> blocks that raised it


def first_of_its_kind(record: logging.LogRecord) -> bool:
    message = record.getMessage().strip()
    if record.name == VALUES.name:  # "value `#!val ch1.x` failed: <cause>": the cause, not the value
        key = message.partition("` failed: ")[2] or message
        seen[key] = seen.get(key, 0) + 1
        return seen[key] == 1
    frames = re.findall(r'File "([^"]+)", line (\d+)', message)
    last = message.splitlines()[-1].strip() if message else ""
    # raised in a block's own lines (`from pages import ch9`, no such module): the same cause in every block
    key = last if frames and frames[-1][0].startswith("<code block") else f"{frames[-1] if frames else ''} {last}"
    seen[key] = seen.get(key, 0) + 1
    return seen[key] == 1


def on_pre_build(config, **kwargs):
    seen.clear()
    for logger in (BLOCKS, VALUES):
        if first_of_its_kind not in logger.filters:
            logger.addFilter(first_of_its_kind)


def on_post_build(config, **kwargs):
    for key, count in seen.items():
        if count > 1:
            log.warning("%d more code blocks or values failed with the same error: %s", count - 1, key)
