"""MkDocs hook: an error that many code blocks raise alike (a syntax error in a module they all
import) is logged once with its traceback, then one line counts the rest. markdown-exec logs a
warning per block; the warnings still fail a strict build."""

import logging
import re

BLOCKS = logging.getLogger("mkdocs.plugins.markdown_exec._internal.formatters.base")
log = logging.getLogger("mkdocs.plugins.repeated_errors")
seen: dict[str, int] = {}  # error (innermost file and line, last line) -> blocks that raised it


def first_of_its_kind(record: logging.LogRecord) -> bool:
    message = record.getMessage().strip()
    frames = re.findall(r'File "([^"]+)", line (\d+)', message)
    key = f"{frames[-1] if frames else ''} {message.splitlines()[-1] if message else ''}"
    seen[key] = seen.get(key, 0) + 1
    return seen[key] == 1


def on_pre_build(config, **kwargs):
    seen.clear()
    if first_of_its_kind not in BLOCKS.filters:
        BLOCKS.addFilter(first_of_its_kind)


def on_post_build(config, **kwargs):
    for key, count in seen.items():
        if count > 1:
            log.warning("%d more code blocks failed with the same error: %s", count - 1, key)
