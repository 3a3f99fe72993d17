"""End-of-chapter exercises: what an exercise is, and the index of all of them (docs/exercises.md).

Each chapter's exercises live in pages/ch<N>_exercises.py, whose PAGE is the chapter's page and
whose EXERCISES lists them in page order. The module computes every number a question or an
answer prints and asserts every verdict; the page writes each exercise as

    ### 1.1 Title {#ex-1-1}
    Question...
    ??? success "Answer"
        Arithmetic, step by step...

A chapter's exercises module is found from the nav (pages.registry): its page cites it.
"""

from __future__ import annotations

from dataclasses import dataclass

from snippets.report import Markdown, escape_markdown, markdown_table

PAGE = "exercises.md"

#: What an exercise asks for.
KINDS = {
    "number": "compute a number",
    "yes/no": "yes or no, with the reason",
    "judgement": "a choice the numbers decide",
    "practical": "measure on your own device",
}


@dataclass(frozen=True)
class Exercise:
    id: str  # "1.1": chapter, then position on the page
    chapter: int
    title: str  # the heading's text after the id, exactly as the page writes it
    topic: str  # a few words for the index
    kind: str  # one of KINDS
    gpus: tuple[str, ...]  # accelerators the exercise names (hardware.csv names)
    models: tuple[str, ...]  # models it names (models.csv names)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"exercise {self.id}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if not self.id.startswith(f"{self.chapter}."):
            raise ValueError(f"exercise {self.id} is not numbered in chapter {self.chapter}")

    @property
    def anchor(self) -> str:
        """The heading's id on its page: '1.1' -> 'ex-1-1'."""
        return "ex-" + self.id.replace(".", "-")

    @property
    def heading(self) -> str:
        """The Markdown heading line the page must contain."""
        return f"### {self.id} {self.title} {{#{self.anchor}}}"


def exercise_modules() -> list:
    """The modules that declare EXERCISES, in nav order."""
    from pages import registry

    return [registry.load(name) for name in registry.page_modules("EXERCISES")]


def all_exercises() -> list[tuple[str, Exercise]]:
    """(page, exercise) for every exercise, in chapter and page order."""
    return [(module.PAGE, ex) for module in exercise_modules() for ex in module.EXERCISES]


def page_url(page: str) -> str:
    """The URL of a chapter from docs/exercises.md, which is served at /exercises/: the output
    of an exec block is HTML by the time MkDocs rewrites links, so it is written as served."""
    return f"../{page.removesuffix('.md')}/"


def index_table() -> str:
    """Markdown for docs/exercises.md: one section per chapter, one row per exercise, linked."""
    parts = []
    for module in exercise_modules():
        rows = [[Markdown(f"[{escape_markdown(f'{ex.id} {ex.title}')}]({page_url(module.PAGE)}#{ex.anchor})"), ex.topic,
                 KINDS[ex.kind]]
                for ex in module.EXERCISES]
        parts.append(f"## {module.CHAPTER_TITLE}\n\n" + markdown_table(["exercise", "topic", "asks for"], rows, "lll"))
    return "\n\n".join(parts)
