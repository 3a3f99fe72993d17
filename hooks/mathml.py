"""MkDocs hook: turn arithmatex's generic math spans into MathML at build time.

No JavaScript and no CDN: browsers render MathML Core natively. `\\(...\\)` becomes inline
math, `\\[...\\]` display math. A formula latex2mathml cannot parse fails the build.
"""

import html
import re

from latex2mathml.converter import convert

_INLINE = re.compile(r'<span class="arithmatex">\\\((.+?)\\\)</span>', re.S)
_BLOCK = re.compile(r'<div class="arithmatex">\\\[(.+?)\\\]</div>', re.S)


def _mathml(match: re.Match, display: str) -> str:
    tex = html.unescape(match.group(1)).strip()
    try:
        return convert(tex, display=display)
    except Exception as error:  # noqa: BLE001 - report which formula broke
        raise ValueError(f"cannot render math {tex!r}: {error}") from error


def on_page_content(content, page, **kwargs):
    content = _BLOCK.sub(lambda m: f'<div class="math-display" tabindex="0">{_mathml(m, "block")}</div>', content)
    return _INLINE.sub(lambda m: _mathml(m, "inline"), content)
