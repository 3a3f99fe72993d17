"""Results files of `python -m snippets bench`: the declared schema (pydantic), loading with
validation, and the tables the site and the command line render from them. No torch here, so
the site and `vis` can read results without it.

Every string that comes from a results file is escaped (md) before it reaches a table, which is
then built with escape=False so nothing is escaped twice (a device
may be called `<img src=x onerror=...>` or contain a `|`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from snippets import calibration, result_checks
from snippets.report import Markdown, escape_markdown, markdown_table

SCHEMA_V1 = "llm-course-bench/1"
SCHEMA = "llm-course-bench/2"
SCHEMAS = (SCHEMA_V1, SCHEMA)

Positive = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]
Share = Annotated[float, Field(ge=0)]  # a percentage or a rate that may be zero


class ResultsError(ValueError):
    """A results file that does not match the schema: names the file, the key path and the fault."""


class _Strict(BaseModel):
    # strict: "1.5" is not a number; no NaN or infinity; unknown keys are typos
    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="forbid")


class _Timed(_Strict):
    """What every timed row shares: the median and best of its samples, the flags it earned, and
    (newer files) each independent repeat's median."""

    median_s: Positive
    best_s: Positive
    flags: list[str] = []
    repeat_medians_s: list[Positive] = []  # absent in older files (one timing per point)


class _Step(_Timed):
    """A timed step of a decoder (decode, mixed, verify, the draft): which model, how many of its
    layers were built, in which dtype and step mode, at which batch and context."""

    model: str
    layers: PositiveInt
    dtype: str
    mode: Literal["eager", "graph", "compile"]
    batch: PositiveInt
    context: PositiveInt


class Device(_Strict):
    kind: Literal["cuda", "mps", "cpu"]
    name: str
    chosen_because: str
    spec_name: str | None
    spec_bandwidth_GBps: Positive | None
    spec_dense_bf16_TFLOPS: Positive | None
    bandwidth_from_clock_GBps: Positive | None
    memory_bytes: PositiveInt | None
    cache_bytes: PositiveInt | None
    threads_or_SMs: PositiveInt
    torch: str
    python: str


class Settings(_Strict):
    quick: bool
    model: str
    layers: PositiveInt | None
    dtype: str
    context: PositiveInt
    batches: list[PositiveInt]
    modes: list[str]
    skipped: list[str]
    prompts: list[PositiveInt] = []
    profile_batch: PositiveInt | None = None
    mixed_batches: list[PositiveInt] = []  # the mixed section's grid (absent in older files)
    mixed_chunks: list[Annotated[int, Field(ge=0)]] = []
    verify_batches: list[PositiveInt] = []  # the verify section's grid (absent in older files)
    verify_tokens: list[PositiveInt] = []
    verify_context: PositiveInt | None = None
    draft_model: str | None = None
    prefill_modes: list[str] = []  # absent in older files (eager prefill)
    mixed_modes: list[str] = []
    verify_modes: list[str] = []
    repeats: PositiveInt | None = None  # independent timings per point (older files: one)
    attention_contexts: list[PositiveInt] = []  # the attention section's context sweep (absent in older files)


class Bandwidth(_Timed):
    kernel: Literal["read", "write", "copy", "triad"]
    buffer_bytes: PositiveInt
    bytes_moved: PositiveInt
    GBps: Positive
    best_GBps: Positive
    pct_of_spec: Share | None


class Matmul(_Timed):
    m: PositiveInt
    n: PositiveInt
    k: PositiveInt
    dtype: str
    flops: Positive
    TFLOPS: Positive
    best_TFLOPS: Positive
    pct_of_spec: Share | None
    role: str | None = None  # a model's own layer shape ("... gate_up at 2048 tokens"); absent: a square sweep


class Decode(_Step):
    tokens_per_s: Positive
    bytes_per_step: Positive
    flops_per_step: Positive
    GBps: Positive
    mbu_pct: Share | None
    pct_of_copy: Share | None
    predicted_s: Positive | None


class DecodeV2(Decode):
    weight_bytes: Positive
    cache_bytes: Share


class Prefill(_Timed):
    model: str
    layers: PositiveInt
    dtype: str
    batch: PositiveInt
    prompt_tokens: PositiveInt
    tokens_per_s: Positive
    flops: Positive
    weight_bytes: Positive
    cache_bytes: Share
    TFLOPS: Positive
    mfu_pct: Share | None
    mode: Literal["eager", "graph", "compile"] = "eager"  # older files timed eager prefill only


class Quant(_Timed):
    """One row of the optional quant section (snippets.bench.quant); files without it load as []."""

    model: str
    format: str
    path: str
    batch: PositiveInt
    bytes_per_step: Positive
    GBps: Positive
    bound_s: Positive | None
    pct_of_bound: Share | None
    bound_from: Literal["datasheet", "copy"] | None
    bound_roof: Literal["memory", "compute"] | None = None
    l2_flushed: bool = False  # the L2 evicted before each timed call (older files: not)


class Mixed(_Step):
    """One row of the optional mixed section (snippets.bench.mixed): a decode of `batch`
    sequences plus a prefill chunk, timed as one step; files without it load as []."""

    chunk_tokens: Annotated[int, Field(ge=0)]
    chunk_prefix: Annotated[int, Field(ge=0)]
    weight_bytes: Positive
    cache_bytes: Share
    activation_bytes: Share
    flops: Positive
    predicted_s: Positive | None
    one_pass: bool = False  # decode and chunk in one forward; older files timed two forwards


class Verify(_Step):
    """One row of the optional verify section (snippets.bench.verify): one target pass scoring
    `tokens` new tokens per sequence after `context` cached ones; files without it load as []."""

    tokens: PositiveInt
    weight_bytes: Positive
    cache_bytes: Share
    activation_bytes: Share
    flops: Positive
    predicted_s: Positive | None


class Draft(_Step):
    """The draft model's decode step at one batch and mode (its cost c against the target)."""

    weight_bytes: Positive
    draft_cost: Positive | None


class BestGamma(_Strict):
    mode: Literal["eager", "graph", "compile"]
    batch: PositiveInt
    alpha: Annotated[float, Field(ge=0, lt=1)]
    gamma: PositiveInt
    expected_tokens: Positive
    tokens_per_s: Positive
    plain_tokens_per_s: Positive
    speedup: Positive
    draft_cost: Positive


class Speculative(_Strict):
    """The verify section's summary: the draft's steps and the best gamma per synthetic alpha."""

    draft_model: str
    draft_layers: PositiveInt
    alphas: list[Annotated[float, Field(ge=0, lt=1)]]
    acceptance: str  # says the acceptance is synthetic
    max_gamma: PositiveInt
    drafts: list[Draft]
    best: list[BestGamma]


class Attention(_Timed):
    """One layer's attention call at one shape through one kernel (snippets.bench.attention)."""

    kernel: str
    case: Literal["decode", "prefill"]
    batch: PositiveInt
    tokens: PositiveInt
    context: PositiveInt
    layers: PositiveInt
    bytes: Positive
    flops: Positive
    GBps: Positive
    TFLOPS: Positive


class Kernel(_Strict):
    name: str
    calls: PositiveInt
    total_ms: Share
    per_step_ms: Share
    pct: Share


class Profile(_Strict):
    mode: str
    batch: PositiveInt
    steps: PositiveInt
    kernels: list[Kernel]


class ResultsV1(_Strict):
    schema_: Literal["llm-course-bench/1"] = Field(alias="schema")
    created: str
    device: Device
    settings: Settings
    bandwidth: list[Bandwidth]
    stream_triad_GBps: Positive | None
    matmul: list[Matmul]
    decode: list[Decode]
    notes: list[str]


class Results(_Strict):
    schema_: Literal["llm-course-bench/2"] = Field(alias="schema")
    created: str
    complete: bool  # False when the run was interrupted; the rows are what was measured by then
    interrupted_during: str | None = None
    migrated_from: str | None = None  # the schema the file was written in, when upgraded on load
    device: Device
    environment: dict[str, dict[str, str | int | float | bool | None]]  # "start" and "end" readings
    settings: Settings
    bandwidth: list[Bandwidth]
    stream_triad_GBps: Positive | None
    matmul: list[Matmul]
    decode: list[DecodeV2]
    prefill: list[Prefill]
    profile: Profile | None
    quant: list[Quant] = []
    mixed: list[Mixed] = []
    verify: list[Verify] = []
    speculative: Speculative | None = None
    attention: list[Attention] = []  # absent in older files
    notes: list[str]


def _problem(source: str, error: ValidationError) -> ResultsError:
    lines = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"{source}: {where.replace('schema_', 'schema')}: {e['msg']} (got {e.get('input')!r:.60})")
    return ResultsError("\n".join(lines))


def upgrade(doc: dict) -> dict:
    """A version-1 document as version 2, keeping every measured number. New fields are empty,
    except each decode row's split of its bytes into weights and KV cache, computed from the
    model's shape (the cache is 2 x layers x KV heads x head_dim x dtype bytes x batch x context)."""
    from snippets import kv_cache, models
    from snippets.units import bytes_per_element

    rows = []
    for r in doc["decode"]:
        m = models.get(r["model"])
        kv = (kv_cache.mha_elements_per_token(r["layers"], m.n_kv_heads, m.head_dim)
              * bytes_per_element(r["dtype"]) * r["batch"] * r["context"])
        rows.append({**r, "weight_bytes": r["bytes_per_step"] - kv, "cache_bytes": float(kv), "flags": []})
    dev = doc["device"]
    return {**doc, "schema": SCHEMA, "complete": True, "interrupted_during": None, "migrated_from": doc["schema"],
            "environment": {"start": {"torch": dev["torch"], "python": dev["python"],
                                      "memory_capacity_bytes": dev["memory_bytes"]}},
            "decode": rows, "prefill": [], "profile": None}


def validate(doc: object, source: str = "results") -> dict:
    """The document checked against its declared schema (version 1 is upgraded to 2).

    Raises ResultsError naming `source`, the key path and what is wrong: a field out of its
    range, or rows that make no sense together (snippets.result_checks), in one message per file.
    """
    if not isinstance(doc, dict):
        raise ResultsError(f"{source}: (top level): expected a JSON object, got {type(doc).__name__}")
    if "schema" not in doc:
        raise ResultsError(f"{source}: schema: missing (expected one of {', '.join(SCHEMAS)})")
    if doc["schema"] not in SCHEMAS:
        raise ResultsError(f"{source}: schema: unknown schema version {doc['schema']!r}; known: {', '.join(SCHEMAS)}")
    try:
        if doc["schema"] == SCHEMA_V1:
            ResultsV1.model_validate(doc)
            doc = upgrade(doc)
        checked = Results.model_validate(doc).model_dump(by_alias=True)
    except ValidationError as error:
        raise _problem(source, error) from None
    return _sensible(checked, source)


#: At most this many faults are listed in the one message a bad file raises.
SHOWN_PROBLEMS = 12


def _sensible(doc: dict, source: str) -> dict:
    """The document if its rows make sense together (snippets.result_checks), else one
    ResultsError naming the file and each faulty key path (the first SHOWN_PROBLEMS of them)."""
    found = result_checks.problems(doc)
    if not found:
        return doc
    more = f"\n  ... and {len(found) - SHOWN_PROBLEMS} more" if len(found) > SHOWN_PROBLEMS else ""
    listed = "".join(f"\n  {p}" for p in found[:SHOWN_PROBLEMS])
    raise ResultsError(f"{source}: {len(found)} measurement(s) that make no sense:{listed}{more}")


def load(path: Path) -> dict:
    """A results file, validated (NaN and Infinity, which Python's json accepts, fail here)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ResultsError(f"{path}: not JSON: {error}") from None
    return validate(doc, str(path))


def load_folder(folder: Path) -> list[dict]:
    """Every results file in `folder`, sorted by device name then date; each gains a "file" key."""
    docs = [{**load(path), "file": path.name} for path in sorted(Path(folder).glob("*.json"))]
    return sorted(docs, key=lambda d: (d["device"]["name"], d["created"]))


# ---- rendering -----------------------------------------------------------------------------


def md(value: object) -> str:
    """Text from a results file as literal text in a Markdown table cell and the HTML it becomes:
    report.escape_markdown (HTML, emphasis, code spans, links, attr_list braces, cell bars, `~`,
    `^` and line breaks neutralised), marked as Markdown so that markdown_table does not escape it
    twice."""
    return Markdown(escape_markdown(value))


def best(doc: dict, section: str, key: str, **match) -> dict | None:
    """The row of `section` with the largest `key` among rows matching `match`."""
    rows = [r for r in doc.get(section, []) if all(r.get(k) == v for k, v in match.items())]
    return max(rows, key=lambda r: r[key]) if rows else None


def _pct(value: float | None) -> str:
    return f"{value:.1f} %" if value is not None and math.isfinite(value) else "–"


def _flags(row: dict) -> str:
    return md("; ".join(row.get("flags") or [])) or Markdown("–")


def overview_table(docs: list[dict], link_base: str = "") -> str:
    """One row per results file: achieved bandwidth, matmul and batch-1 decode.

    `link_base` is the path from the page to the results folder, for the file links.
    """
    rows = []
    for doc in docs:
        dev = doc["device"]
        copy, triad = best(doc, "bandwidth", "GBps", kernel="copy"), best(doc, "bandwidth", "GBps", kernel="triad")
        mm = best(doc, "matmul", "best_TFLOPS")
        dec = [r for r in doc["decode"] if r["batch"] == 1]
        fastest = min(dec, key=lambda r: r["median_s"]) if dec else None
        file = doc.get("file", "")
        rows.append([
            md(dev["name"]) + ("" if dev["spec_name"] else " (unknown: no % of spec)")
            + ("" if doc.get("complete", True) else " (incomplete run)"),
            f"{copy['GBps']:,.0f} GB/s ({_pct(copy['pct_of_spec'])})" if copy else "–",
            f"{triad['GBps']:,.0f} GB/s ({_pct(triad['pct_of_spec'])})" if triad else "–",
            f"{mm['best_TFLOPS']:,.1f} {md(mm['dtype'])} ({_pct(mm['pct_of_spec'])})" if mm else "–",
            (f"{fastest['median_s'] * 1e3:,.2f} ms, {fastest['mode']}, MBU {_pct(fastest['mbu_pct'])}"
             if fastest else "–"),
            f"[{md(file)}]({link_base}{quote(file)})" if file else "–",
        ])
    return markdown_table(["device", "copy (% of spec)", "triad", "best matmul TFLOP/s", "decode, batch 1", "file"], rows, escape=False)


def bandwidth_table(doc: dict) -> str:
    """Each bandwidth kernel's GB/s against the datasheet, and the C triad beside torch's."""
    rows = [[md(r["kernel"]), f"{r['GBps']:,.1f}", _pct(r["pct_of_spec"]), _flags(r)] for r in doc["bandwidth"]]
    text = markdown_table(["kernel", "GB/s", "% of spec", "flags"], rows, align="lrrl", escape=False)
    triad = best(doc, "bandwidth", "GBps", kernel="triad")
    if doc.get("stream_triad_GBps"):
        ratio = f" (torch triad = {100 * triad['GBps'] / doc['stream_triad_GBps']:.0f} % of it)" if triad else ""
        text += f"\n\nSTREAM-style C triad: {doc['stream_triad_GBps']:,.1f} GB/s{ratio}"
    return text


def matmul_table(doc: dict) -> str:
    """Each matmul shape's best and median TFLOP/s against the dense datasheet peak."""
    rows = [[f"{r['m']}x{r['n']}x{r['k']}", md(r["dtype"]), f"{r['best_TFLOPS']:,.1f}", f"{r['TFLOPS']:,.1f}",
             _pct(r["pct_of_spec"]), md(r.get("role") or "") or "–"] for r in doc["matmul"]]
    return markdown_table(["m x n x k", "dtype", "best TFLOP/s", "median", "% of dense spec", "role"], rows,
                          align="llrrrl", escape=False)


def decode_table(doc: dict) -> str:
    """Every decode measurement of one file beside chapter 1's roofline bound, with the gap."""
    rows = []
    for r in sorted(doc["decode"], key=lambda r: (r["batch"], r["mode"])):
        gap = f"{100 * (r['median_s'] / r['predicted_s'] - 1):+.0f} %" if r["predicted_s"] else "–"
        rows.append([r["batch"], r["mode"], f"{r['median_s'] * 1e3:,.2f}",
                     f"{r['predicted_s'] * 1e3:,.2f}" if r["predicted_s"] else "–", gap,
                     f"{r['tokens_per_s']:,.0f}", _pct(r["mbu_pct"]), _pct(r["pct_of_copy"]), _flags(r)])
    return markdown_table(["batch", "mode", "measured ms/step", "bound ms/step", "gap", "tokens/s", "MBU",
                           "% of copy", "flags"], rows, align="lrrrrrrrl", escape=False)


def prefill_table(doc: dict) -> str:
    """Prefill (time to first token) per mode and prompt length, with MFU against the run's best matmul."""
    rows = [[r.get("mode", "eager"), f"{r['prompt_tokens']:,}", f"{r['median_s'] * 1e3:,.2f}",
             f"{r['tokens_per_s']:,.0f}", f"{r['TFLOPS']:,.2f}", _pct(r["mfu_pct"]), _flags(r)]
            for r in sorted(doc.get("prefill", []), key=lambda r: (r.get("mode", "eager"), r["prompt_tokens"]))]
    return markdown_table(["mode", "prompt tokens", "time to first token, ms", "prompt tokens/s", "TFLOP/s",
                           "MFU (vs best matmul)", "flags"], rows, align="lrrrrrl", escape=False)


def attention_table(doc: dict) -> str:
    """One layer's attention per case and kernel: ms, GB/s and TFLOP/s."""
    rows = [[r["case"], md(r["kernel"]), r["batch"], f"{r['tokens']:,}", f"{r['context']:,}",
             f"{r['median_s'] * 1e3:,.4f}", f"{r['GBps']:,.0f}", f"{r['TFLOPS']:,.1f}", _flags(r)]
            for r in sorted(doc.get("attention", []), key=lambda r: (r["case"], r["batch"], r["tokens"], r["kernel"]))]
    return markdown_table(["case", "kernel", "batch", "new tokens", "keys", "ms per layer", "GB/s", "TFLOP/s", "flags"],
                          rows, align="llrrrrrrl", escape=False)


def mixed_table(doc: dict) -> str:
    """Mixed steps (a decode batch plus a prefill chunk, timed as one step) with their bytes,
    FLOPs and, on a known device with the whole model, the datasheet roofline bound."""
    rows = []
    for r in sorted(doc.get("mixed", []), key=lambda r: (r["mode"], r["batch"], r["chunk_tokens"])):
        nbytes = r["weight_bytes"] + r["cache_bytes"] + r["activation_bytes"]
        rows.append([r["mode"], "one" if r.get("one_pass") else "two", r["batch"], f"{r['context']:,}",
                     f"{r['chunk_tokens']:,}", f"{r['median_s'] * 1e3:,.2f}", f"{nbytes / 1e9:,.3f}",
                     f"{r['flops'] / 1e9:,.1f}", f"{r['predicted_s'] * 1e3:,.2f}" if r["predicted_s"] else "–",
                     _flags(r)])
    return markdown_table(["mode", "forward passes", "decode batch", "context", "chunk tokens", "measured ms/step", "GB",
                           "GFLOPs", "bound ms/step", "flags"], rows, align="llrrrrrrrl", escape=False)


def verify_table(doc: dict) -> str:
    """Verify passes T(k): k new tokens per sequence scored in one pass (logits for all k), with
    their bytes, FLOPs, time over the k = 1 pass and, on a known device with the whole model,
    the datasheet roofline bound."""
    rows = []
    verify = sorted(doc.get("verify", []), key=lambda r: (r["mode"], r["batch"], r["tokens"]))
    plain = {(r["mode"], r["batch"]): r["median_s"] for r in verify if r["tokens"] == 1}
    for r in verify:
        nbytes = r["weight_bytes"] + r["cache_bytes"] + r["activation_bytes"]
        base = plain.get((r["mode"], r["batch"]))
        rows.append([r["mode"], r["batch"], f"{r['context']:,}", r["tokens"], f"{r['median_s'] * 1e3:,.3f}",
                     f"{r['median_s'] / base:.2f}" if base else "–", f"{nbytes / 1e9:,.3f}", f"{r['flops'] / 1e9:,.1f}",
                     f"{r['predicted_s'] * 1e3:,.3f}" if r["predicted_s"] else "–", _flags(r)])
    return markdown_table(["mode", "batch", "context", "k", "measured ms", "× k = 1", "GB", "GFLOPs", "bound ms",
                           "flags"], rows, align="lrrrrrrrrl", escape=False)


def quant_table(doc: dict) -> str:
    """One layer's weight matmuls per quantization format: time, achieved GB/s and the share of
    the format's own bound (datasheet or measured copy bandwidth; the roof that binds)."""
    return markdown_table(["format", "path", "batch", "ms", "GB/s", "% of bound", "flags"], [
        [md(r["format"]), md(r["path"]), r["batch"], f"{r['median_s'] * 1e3:.3f}", f"{r['GBps']:,.1f}",
         f"{r['pct_of_bound']:.0f} ({r['bound_from']}, {r.get('bound_roof') or 'memory'})"
         if r["pct_of_bound"] is not None else "–", _flags(r)] for r in doc.get("quant", [])], align="llrrrrl")


def speculative_table(doc: dict) -> str:
    """Best gamma per synthetic alpha, from the verify rows and the draft's measured step."""
    spec = doc.get("speculative")
    if not spec:
        return ""
    rows = [[r["mode"], r["batch"], f"{r['draft_cost']:.3f}", f"{r['alpha']:.2f}", r["gamma"],
             f"{r['expected_tokens']:.2f}", f"{r['tokens_per_s']:,.1f}", f"{r['plain_tokens_per_s']:,.1f}",
             f"{r['speedup']:.2f}×"] for r in sorted(spec["best"], key=lambda r: (r["mode"], r["batch"], r["alpha"]))]
    return markdown_table(["mode", "batch", f"c ({md(spec['draft_model'])})", "α (synthetic)", "best γ",
                           "E tokens/step", "tokens/s", "plain tokens/s", "speedup"], rows, align="lrrrrrrrr",
                          escape=False)


def calibration_table(doc: dict) -> str:
    """Predicted vs measured for one results file: chapter 1's bound at the run's own copy
    bandwidth and best matmul, plus a fixed cost fitted on the two smallest points of each sweep.
    Held-out rows test the model; fitted rows do not. Notes follow when nothing can be calibrated."""
    calibrations, notes = calibration.calibrate_document(doc)
    rows = []
    for run in calibrations:
        for p in run.predictions:
            rows.append([md(p.point.label.replace("decode", run.sweep, 1) if p.point.label.startswith("decode")
                            else p.point.label),
                         f"{p.point.weight_bytes / 1e9:,.3f}", f"{p.point.cache_bytes / 1e9:,.3f}",
                         f"{p.point.flops / 1e9:,.1f}", p.bound, f"{run.calibration.fixed_s * 1e3:,.3f}",
                         f"{p.attention_s * 1e3:,.3f}" if p.point.attention_s is not None else "–",
                         f"{p.predicted_s * 1e3:,.3f}", f"{p.point.measured_s * 1e3:,.3f}",
                         f"{p.residual_pct:+.1f} %", "fitted" if p.fitted else "held out"])
    table = markdown_table(["step", "weight GB", "cache GB", "GFLOPs", "bound", "fixed ms", "attention ms (timed)",
                            "predicted ms", "measured ms", "residual", "used for"], rows, align="lrrrlrrrrrl",
                           escape=False) if rows else ""
    return "\n\n".join([table, *(f"- {md(n)}" for n in notes)]).strip()


def profile_table(doc: dict) -> str:
    """The profiled decode step's top kernels by total time (empty when no profile was taken)."""
    prof = doc.get("profile")
    if not prof:
        return ""
    rows = [[md(k["name"]), k["calls"], f"{k['per_step_ms']:,.3f}", f"{k['pct']:.1f} %"] for k in prof["kernels"]]
    return markdown_table([f"kernel ({md(prof['mode'])}, batch {prof['batch']})", "calls", "ms per step",
                           "share"], rows, align="lrrr", escape=False)


# ---- the sections --------------------------------------------------------------------------


@dataclass(frozen=True)
class SectionSchema:
    """One section of a results document: its key, the model of its rows (or of its one object,
    for `profile` and `speculative`), its table, the heading printed above the table in the
    command's summary ("" for none), and the fields that say which point a row measured."""

    key: str
    row_model: type[BaseModel]
    table: Callable[[dict], str]
    heading: str = ""
    identity: tuple[str, ...] = ()

    @property
    def rows(self) -> bool:
        """Whether the section is a list of timed rows (not one object)."""
        return issubclass(self.row_model, _Timed)


def _section(key: str, row_model: type[BaseModel], table: Callable[[dict], str], heading: str = "") -> SectionSchema:
    return SectionSchema(key, row_model, table, heading, result_checks.IDENTITY.get(key, ()))


#: Every section in the order the summary prints them; the bench's document and the summary
#: iterate this, so a new section is one entry here (and its model, table and identity).
SECTIONS = (
    _section("bandwidth", Bandwidth, bandwidth_table), _section("matmul", Matmul, matmul_table),
    _section("decode", DecodeV2, decode_table), _section("prefill", Prefill, prefill_table),
    _section("profile", Profile, profile_table), _section("quant", Quant, quant_table),
    _section("attention", Attention, attention_table, "Attention alone, one layer's call per kernel:"),
    _section("mixed", Mixed, mixed_table, "Mixed steps (a decode batch plus a prefill chunk, timed as one step):"),
    _section("verify", Verify, verify_table,
             "Verify passes T(k) (k tokens per sequence scored in one forward, logits for all k):"),
    _section("speculative", Speculative, speculative_table,
             "Speculative decoding at synthetic acceptance rates (best gamma per alpha; c = draft step / T(1)):"),
)
