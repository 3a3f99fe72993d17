"""The shape of a bench section, and the loop that runs a list of them.

A `Section` is one part of a run (snippets.bench.sections holds them, one module each): its
options (the plan's fields it fills in, checked), its plan (the points it will time: a pure
function of the Plan, tested without measuring), its measurement (those points timed, the
decoder's steps through the one sweep of snippets.bench.sweep), and its entry in the results
document with the schema model and table of that entry (snippets.results.SECTIONS).

`run_sections` runs them in order: each not skipped and with points to time, inside `attempt`
(a section that raises loses only its own rows), the shared decoder built at the first section
that needs it and freed before the first that does not.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from dataclasses import dataclass, field
from typing import Callable

from snippets import results as res
from snippets.bench.plan import Plan


@dataclass
class Measured:
    """What a run has measured so far (filled in as it goes, so Ctrl-C can save it)."""

    bandwidth: list = field(default_factory=list)
    stream_triad_GBps: float | None = None
    matmul: list = field(default_factory=list)
    decode: list = field(default_factory=list)
    prefill: list = field(default_factory=list)
    profile: dict | None = None
    quant: list = field(default_factory=list)
    mixed: list = field(default_factory=list)
    verify: list = field(default_factory=list)
    drafts: list = field(default_factory=list)
    attention: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # sections that raised (each also has a note)
    section: str = "start"
    environment: dict = field(default_factory=dict)
    #: Called with a section's name as it starts, and with None when it ends (clock samples,
    #: saving the rows so far): set by main, None in tests.
    boundary: Callable[[str | None], None] | None = None


@dataclass
class Run:
    """What the sections of one run share: the plan, what is measured so far, the progress
    callback, and the decoder built once for the sections that run it."""

    p: Plan
    m: Measured
    step: Callable[[str, str], None] = lambda label, section: None
    model: object = None
    cfg: object = None  # the built decoder's TransformerConfig (fewer layers than asked where they do not fit)
    built: bool | None = None  # whether the decoder was built; None until a section needed it
    #: Builds the shared decoder (snippets.bench.sections.decoder.build), given by the caller: the
    #: sections sit above this module, so it does not import them.
    build_decoder: Callable[[Run], bool] | None = None

    @property
    def cuda(self) -> bool:
        return self.p.info.kind == "cuda"

    @property
    def few(self) -> bool:
        """Fewer repetitions off CUDA (a CPU step of hundreds of tokens takes seconds)."""
        return self.p.info.kind != "cuda"

    def progress(self, section: str):
        return lambda label: self.step(label, section)

    def copy_GBps(self) -> float | None:
        """The copy bandwidth this run measured (None before the bandwidth section, or without it)."""
        return next((row.GBps for row in self.m.bandwidth if row.kernel == "copy"), None)

    def decoder(self) -> bool:
        """The shared decoder, built at the first call (snippets.bench.sections.decoder); False
        when none could be built (said in a note)."""
        if self.built is None:
            if self.build_decoder is None:
                raise ValueError("a section needs the decoder, and this Run was given no build_decoder")
            self.built = self.build_decoder(self)
        return self.built


#: Estimated seconds of each progress step of a section's plan: (plan, its points) -> seconds.
Seconds = Callable[[Plan, list], list[float]]


def each(cpu_s: float, gpu_s: float) -> Seconds:
    """The same estimate for every point: `cpu_s` off CUDA, `gpu_s` on it."""
    return lambda p, points: [gpu_s if p.gpu else cpu_s] * len(points)


def axis(points: list, name: str) -> list:
    """The distinct values of one field of a plan's points, in order: a grid's axis back from
    its points (batch x mode, say), for the measuring functions that take the axes."""
    return list(dict.fromkeys(getattr(point, name) for point in points))


def no_options(args: argparse.Namespace, p: Plan) -> dict:
    return {}


@dataclass(frozen=True)
class Section:
    """One section of a run (see the module)."""

    name: str  # in the progress steps and their time estimates, e.g. "decode", "draft"
    plan: Callable[[Plan], list]  # the points it times, pure: nothing built or measured
    measure: Callable[[Run, list], None]  # times those points, appending to the run's rows and notes
    result: Callable[[Measured], object]  # its entry of the results document, from what was measured
    schema: res.SectionSchema  # that entry's model and table (snippets.results.SECTIONS)
    seconds: Seconds  # its progress steps' estimated seconds, one per point
    options: Callable[[argparse.Namespace, Plan], dict] = no_options  # the plan's fields it fills in, checked
    skip_name: str = ""  # its name in --skip (default: its name)
    title: str = ""  # in notes, failures and 'interrupted during' (default: its name)
    decoder: str = ""  # "runs": on the shared decoder; "after": once that was built and freed

    @property
    def skipped_by(self) -> str:
        return self.skip_name or self.name

    @property
    def label(self) -> str:
        return self.title or self.name


def schema(key: str) -> res.SectionSchema:
    """The results section `key` (its model and table)."""
    return next(s for s in res.SECTIONS if s.key == key)


def active(p: Plan, sections) -> list[tuple[Section, list]]:
    """(section, its points) of every section this plan runs: not skipped, with points to time."""
    chosen = [(s, s.plan(p)) for s in sections if s.skipped_by not in p.skip]
    return [(s, points) for s, points in chosen if points]


def step_plan(p: Plan, sections) -> list[tuple[str, float]]:
    """(section, estimated seconds) of every progress step the run will take."""
    return [(s.name, seconds) for s, points in active(p, sections) for seconds in s.seconds(p, points)]


def attempt(m: Measured, section: str, measure: Callable[[], object]) -> bool:
    """Run one section's `measure()`. An exception other than Ctrl-C does not end the run: its
    traceback goes to stderr, a note says which section failed and why, and the next section runs
    (what the other sections measured is kept). True if the section finished."""
    m.section = section
    if m.boundary:
        m.boundary(section)
    try:
        measure()
    except Exception as error:  # noqa: BLE001 - one broken path must not lose the other sections
        traceback.print_exc(file=sys.stderr)
        m.failed.append(section)
        m.notes.append(f"{section} failed and was skipped: {type(error).__name__}: {error}")
        return False
    finally:
        if m.boundary:
            m.boundary(None)
    return True


def run_sections(r: Run, sections) -> None:
    """Every section the plan runs, in order (see the module)."""
    for s, points in active(r.p, sections):
        if s.decoder == "runs" and not r.decoder():
            continue
        if s.decoder != "runs":
            r.model = None  # free the target before anything else is built (the draft)
        if s.decoder == "after" and not r.built:
            continue
        attempt(r.m, s.label, lambda s=s, points=points: s.measure(r, points))
