"""Sentences cite their claims: every claim a page module names is cited by exactly one sentence,
every citation names a claim, and every page module is cited by its page. Run after each build
(hooks/claims.py) and by the tests; no page module imports this."""

from __future__ import annotations

import re

from pages import registry
from pages.claims import Claim


def claim_problems() -> list[str]:
    """Claims no sentence cites or cited twice, and citations (`#!claim ch3.name` code spans, not
    an example inside a ``longer`` span) that name no claim; each says which file needs what."""
    modules, broken = {}, set()
    for name in registry.page_modules():
        try:
            modules[name] = registry.load(name)
        except Exception:  # noqa: BLE001 - a module whose import fails (a claim no longer true) is
            broken.add(name)  # reported, with its cause, by every value and block that cites it
    known = {f"{name}.{attr}": value for name, module in modules.items() for attr, value in vars(module).items()
             if isinstance(value, Claim)}
    cited: dict[str, list[str]] = {}
    for page in registry.markdown_pages():
        text = re.sub(r"``.*?``", "", (registry.DOCS / page).read_text(encoding="utf-8"), flags=re.S)
        for ref in re.findall(r"`#!claim ([^`]+)`", text):
            cited.setdefault(ref.strip(), []).append(page)

    def uncited(ref: str) -> str:
        name, attr = ref.split(".", 1)
        return (f"docs/{modules[name].PAGE}: no sentence cites claim {ref} ({known[ref]}) of pages/{name}.py: "
                f"end the sentence that makes it with `#!claim {ref}`")

    def unknown(ref: str, pages: list[str]) -> str:
        name, _, attr = ref.partition(".")
        where = f"docs/{', docs/'.join(pages)} cites claim {ref}"
        if not (registry.ROOT / "pages" / f"{name}.py").is_file():
            return f"{where}, but there is no page module pages/{name}.py"
        if name not in modules:
            return f'{where}, but pages/{name}.py declares no PAGE: add PAGE = "{pages[0]}" to it'
        return f'{where}, which pages/{name}.py does not assert: add {attr} = claim("<the sentence>", <condition>) to it'

    return ([uncited(ref) for ref in known if ref not in cited]
            + [f"claim {ref} is cited {len(pages)} times ({', '.join(pages)}): cite it from the one sentence that makes it"
               for ref, pages in cited.items() if len(pages) > 1]
            + [unknown(ref, pages) for ref, pages in cited.items() if ref not in known and ref.split('.')[0] not in broken])


def module_problems() -> list[str]:
    """Page modules (they declare a PAGE) that their page, in the nav, cites nothing from: the
    registry would never find them, so their claims would go unchecked. A PAGE missing from the nav
    is left to MkDocs, which names the page."""
    nav, cited, found = registry.markdown_pages(), set(registry.page_modules()), []
    for path in sorted((registry.ROOT / "pages").glob("*.py")):
        page = re.search(r"""^PAGE\s*=\s*["']([^"']+)["']""", path.read_text(encoding="utf-8"), re.M)
        if page is None or path.stem in cited:
            continue
        if page[1] in nav:
            found.append(f"pages/{path.stem}.py is the module of docs/{page[1]}, which cites nothing from it: "
                         f"write its values there (`#!val {path.stem}.<name>`) or import it in a block "
                         f"(`from pages import {path.stem}`)")
        elif not (registry.DOCS / page[1]).is_file():
            found.append(f"pages/{path.stem}.py: its PAGE, {page[1]}, is no file in docs/")
    return found
