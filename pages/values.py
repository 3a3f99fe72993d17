"""Named values in Markdown prose, resolved at build time from the page's own module.

In a page, `#!val ch1.ridge:.1f` is inline code that pymdownx.inlinehilite hands to
`format_value` (configured in mkdocs.yml as a custom inline language). The reference is
`<module>.<name>[.<attribute>...][:<format spec>]`: the module is pages/<module>.py, the
spec is Python's format mini-language. The text is escaped like any other text node.

An unknown module or name, or a page module whose import fails (a broken claim), logs a
warning, which fails `mkdocs build --strict`, and shows the error in place of the value, so
`mkdocs serve` keeps serving and recovers on the next save.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import types
import xml.etree.ElementTree as etree

from latex2mathml.converter import convert
from markdown.util import AtomicString

log = logging.getLogger("mkdocs.plugins.pages")


class UnknownValue(LookupError):
    """A `#!val` reference that names no value."""


def lookup(reference: str) -> object:
    """'ch1.a100.name' -> the attribute `a100.name` of module pages.ch1."""
    module_name, _, path = reference.strip().partition(".")
    if not module_name or not path:
        raise UnknownValue(f"{reference!r}: write <page module>.<name>, e.g. ch1.ridge")
    try:
        module = importlib.import_module(f"pages.{module_name}")
    except ModuleNotFoundError as error:
        if error.name != f"pages.{module_name}":
            raise
        raise UnknownValue(f"there is no page module pages/{module_name}.py") from None  # one cause for every value
    value: object = module
    for part in path.split("."):
        if part.startswith("_") or not hasattr(value, part):
            known = [n for n in dir(value) if not n.startswith("_")]
            close = difflib.get_close_matches(part, known, n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise UnknownValue(f"{reference!r}: pages/{module_name}.py has no value {part!r}.{hint}")
        value = getattr(value, part)
    if isinstance(value, (types.ModuleType, types.FunctionType, types.MethodType, type)):
        raise UnknownValue(f"{reference!r} is a {type(value).__name__}, not a number or text")
    return value


def render(source: str) -> str:
    """'ch1.ridge:.1f' -> '153.0': look the value up and apply the format spec."""
    reference, _, spec = source.strip().partition(":")
    value = lookup(reference)
    try:
        return format(value, spec)
    except (ValueError, TypeError) as error:
        raise UnknownValue(f"{source!r}: cannot format {value!r} with {spec!r}: {error}") from None


def _failed(source: str, error: Exception, kind: str = "val", logged: bool = True) -> etree.Element:
    if logged:
        log.warning("%s `#!%s %s` failed: %s: %s", "value" if kind == "val" else kind, kind, source,
                    type(error).__name__, error)
    element = etree.Element("span", {"class": "value-error", "role": "alert"})
    element.text = AtomicString(f"[{source}: {type(error).__name__}: {error}]")
    return element


def format_value(src: str, language: str, class_name: str, md) -> etree.Element:
    """pymdownx.inlinehilite custom formatter for `#!val <reference>`."""
    try:
        text = render(src)
    except Exception as error:  # noqa: BLE001 - any failure is reported in place, never swallowed
        return _failed(src, error)
    element = etree.Element("span", {"class": class_name})
    element.text = AtomicString(text)  # atomic: never parsed again as Markdown or HTML
    return element


def format_claim(src: str, language: str, class_name: str, md) -> etree.Element:
    """pymdownx.inlinehilite custom formatter for `#!claim <module>.<name>`: a small mark after
    the sentence that makes the claim, whose tooltip is the assertion checked at build time."""
    from pages.claims import Claim

    try:
        found = lookup(src)
        if not isinstance(found, Claim):
            raise UnknownValue(f"{src!r} is {type(found).__name__}, not a claim (name the result of claim(...))")
    except Exception as error:  # noqa: BLE001 - a citation naming no claim is reported once, after the
        return _failed(src, error, "claim", logged=not isinstance(error, UnknownValue))  # build, with its page
    element = etree.Element("span", {"class": class_name, "title": f"Checked when the site is built: {found}",
                                     "aria-hidden": "true"})
    element.text = AtomicString("✓")
    return element


def format_math(src: str, language: str, class_name: str, md) -> etree.Element | str:
    """pymdownx.inlinehilite custom formatter for `#!math <reference>`: a TeX value rendered
    as MathML at build time (stashed as raw HTML, so Markdown leaves it alone)."""
    try:
        tex = lookup(src)
        if not isinstance(tex, str):
            raise UnknownValue(f"{src!r} is {type(tex).__name__}, not a TeX string")
        mathml = convert(tex, display="inline")
    except Exception as error:  # noqa: BLE001
        return _failed(src, error, "math")
    return md.htmlStash.store(f'<span class="{class_name}">{mathml}</span>')
