"""The declared schemas of the data files (snippets/data/*.csv), checked at load with pydantic.

Every column of a file is declared here with its type and range. A blank cell in an optional
column means "not published" and becomes None, never zero. Loading fails with a
DataFileError that names, for every bad cell, the file, the line and row name, the column
and what is wrong: NaN, infinity, a size <= 0, text in a numeric column, a blank required
cell, an unknown architecture or attention kind, a missing or unknown column, a name that
duplicates another one after the normalisation lookups use.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Annotated, Iterator, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from snippets._data import normalise_name

#: Architectures the parameter counts know (kept equal to snippets.models.ARCHITECTURES by a test).
ARCHITECTURES = ("gpt2", "opt", "llama", "qwen2", "gemma2", "mixtral", "deepseek_v3")
#: Attention kinds the KV-cache formulas know.
ATTENTION_KINDS = ("MHA", "GQA", "MQA", "MLA")
#: Memory technologies whose capacity is read as binary GiB (DRAM densities are powers of two).
DRAM_PREFIXES = ("HBM", "GDDR", "LPDDR")

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Year = Annotated[int, Field(ge=1990, le=2100)]
Text = Annotated[str, Field(min_length=1)]


class CrossCheck(ValueError):
    """A row whose cells disagree with each other; `column` is the cell to look at."""

    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column = column


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Text


class HardwareRow(_Row):
    """One accelerator (hardware.csv). Units: GB, GB/s, TFLOPS/TOPS (dense), MB, W."""

    vendor: Text
    memory_GB: Positive
    memory_type: Text
    memory_bandwidth_GBps: Positive
    dense_fp16_bf16_TFLOPS: Positive | None = None
    dense_fp8_TFLOPS: Positive | None = None
    dense_int8_TOPS: Positive | None = None
    fp32_TFLOPS: Positive | None = None
    L2_or_last_level_cache_MB: Positive | None = None
    TDP_W: Positive | None = None
    release_year: Year | None = None
    ridge_point_dense16_FLOP_per_byte: Positive | None = None
    sparsity_handling: Text
    source: Text
    verified_via: str = ""
    notes: str = ""
    #: Share of capacity that ECC, on by default, keeps from programs. Data-centre GDDR parts store
    #: ECC bits in the same DRAM (1/16, CUDA C++ Best Practices Guide); HBM keeps them in extra
    #: bits beside the data, and GeForce GDDR ships with ECC off: blank (none).
    ecc_reserved_fraction: Annotated[float, Field(gt=0, lt=0.5, allow_inf_nan=False)] | None = None
    ecc_source: str = ""

    @field_validator("memory_type")
    @classmethod
    def _dram(cls, value: str) -> str:
        if not value.upper().startswith(DRAM_PREFIXES):
            raise ValueError(f"must start with {', '.join(DRAM_PREFIXES)} (capacity is read as GiB of DRAM)")
        return value

    @model_validator(mode="after")
    def _ecc_is_sourced(self) -> HardwareRow:
        if self.ecc_reserved_fraction is None:
            if self.ecc_source:
                raise CrossCheck("ecc_source", "given, but ecc_reserved_fraction is blank")
            return self
        if not self.ecc_source.strip():
            raise CrossCheck("ecc_source", "blank, but ecc_reserved_fraction is given: say where it comes from")
        if not self.memory_type.upper().startswith("GDDR"):
            raise CrossCheck("ecc_reserved_fraction", f"given for {self.memory_type}, but only GDDR keeps ECC bits "
                                                      "in its own capacity")
        return self

    @model_validator(mode="after")
    def _ridge_point_agrees(self) -> HardwareRow:
        ridge = self.ridge_point_dense16_FLOP_per_byte
        if ridge is None:
            return self
        if self.dense_fp16_bf16_TFLOPS is None:
            raise CrossCheck("ridge_point_dense16_FLOP_per_byte", "given, but dense_fp16_bf16_TFLOPS is blank")
        computed = self.dense_fp16_bf16_TFLOPS * 1e3 / self.memory_bandwidth_GBps
        if abs(computed - ridge) > 0.051:
            raise CrossCheck("ridge_point_dense16_FLOP_per_byte",
                             f"{ridge} disagrees with dense_fp16_bf16_TFLOPS / memory_bandwidth_GBps = {computed:.1f}")
        return self


class ModelRow(_Row):
    """One model (models.csv): config.json shapes, published counts in billions."""

    params_total_B: Positive
    params_active_B: Positive
    n_layers: PositiveInt
    d_model: PositiveInt
    n_heads: PositiveInt
    n_kv_heads: PositiveInt
    head_dim: PositiveInt
    d_ff: PositiveInt
    vocab_size: PositiveInt
    max_position_embeddings: PositiveInt
    tied_embeddings: bool
    attention_kind: Literal[ATTENTION_KINDS]
    architecture: Literal[ARCHITECTURES]
    n_routed_experts: PositiveInt | None = None
    n_shared_experts: NonNegativeInt | None = None
    experts_per_token: PositiveInt | None = None
    moe_d_ff_per_expert: PositiveInt | None = None
    kv_lora_rank: PositiveInt | None = None
    qk_rope_head_dim: PositiveInt | None = None
    q_lora_rank: PositiveInt | None = None
    sliding_window: PositiveInt | None = None
    v_head_dim: PositiveInt | None = None
    first_dense_layers: NonNegativeInt | None = None
    kv_cache_bytes_per_token_fp16: PositiveInt | None = None
    params_note: str = ""
    published_params: str = ""
    notes: str = ""
    source: Text

    @model_validator(mode="after")
    def _shapes_agree(self) -> ModelRow:
        if self.params_active_B > self.params_total_B:
            raise CrossCheck("params_active_B", f"{self.params_active_B} is more than params_total_B")
        if self.n_heads % self.n_kv_heads:
            raise CrossCheck("n_kv_heads", f"{self.n_kv_heads} does not divide n_heads = {self.n_heads}")
        kind = {1: "MQA", self.n_heads: "MHA"}.get(self.n_kv_heads, "GQA")
        if self.attention_kind != "MLA" and self.attention_kind != kind:
            raise CrossCheck("attention_kind", f"{self.n_heads} query heads and {self.n_kv_heads} KV heads "
                                               f"make {kind}, not {self.attention_kind}")
        needed = {
            "MLA": ("kv_lora_rank", "qk_rope_head_dim"),
            "deepseek_v3": ("kv_lora_rank", "qk_rope_head_dim", "q_lora_rank", "v_head_dim"),
            "moe": ("experts_per_token", "moe_d_ff_per_expert"),
        }
        for needs in (self.attention_kind, self.architecture, "moe" if self.n_routed_experts else ""):
            for column in needed.get(needs, ()):
                if getattr(self, column) is None:
                    raise CrossCheck(column, f"blank, but {needs} needs it")
        if self.n_routed_experts and self.experts_per_token > self.n_routed_experts:
            raise CrossCheck("experts_per_token", f"{self.experts_per_token} is more than n_routed_experts")
        return self


class QuantMeasurementRow(_Row):
    """One published measurement of a quantized model (quant_measurements.csv): tokens/s at a batch,
    and/or a perplexity, with its setup. Blank cells are "not published"."""

    source: Text
    gpu: str = ""
    spec_name: str = ""  # the hardware.csv row the GPU is, where the source says which
    spec_candidates: str = ""  # where it does not: the hardware.csv rows it may be, separated by "|"
    power_limit_W: Positive | None = None
    model: Text
    spec_model: Text  # the models.csv row with the model's shapes
    technique: Text  # as the source names it
    format: str = ""  # a snippets.quant_formats name, where the source's format is one of them
    lm_head_quantized: bool = False  # the source quantizes the LM head with the layers (its code says)
    batch: PositiveInt | None = None
    tokens_per_s: Positive | None = None
    reported_GBps: Positive | None = None
    source_peak_GBps: Positive | None = None  # the source's own estimate of the bandwidth its GPU reaches
    perplexity: Positive | None = None
    perplexity_task: str = ""
    notes: str = ""

    @model_validator(mode="after")
    def _measured_something(self) -> QuantMeasurementRow:
        if self.tokens_per_s is None and self.perplexity is None:
            raise CrossCheck("tokens_per_s", "blank, and so is perplexity: the row measures nothing")
        if self.tokens_per_s is not None and (self.batch is None or not self.gpu):
            raise CrossCheck("batch", "tokens_per_s needs the batch and the gpu it was measured at")
        if self.perplexity is not None and not self.perplexity_task:
            raise CrossCheck("perplexity_task", "blank, but a perplexity needs the text it was measured on")
        if self.spec_name and self.spec_candidates:
            raise CrossCheck("spec_candidates", "give spec_name or spec_candidates, not both")
        return self


class SMRow(_Row):
    """Streaming multiprocessors and on-chip shared memory of one GPU (gpu_sms.csv); `name` is the
    hardware.csv row. Shared memory is the most one SM can give its thread blocks, in KiB."""

    sms: PositiveInt
    compute_capability: Text
    smem_per_sm_KiB: PositiveInt
    source: Text
    notes: str = ""


class AttentionKernelRow(_Row):
    """One published attention-kernel throughput (attention_kernels.csv): a forward pass at one
    shape on one GPU (`spec_name`, a hardware.csv row), in TFLOPS as the source counts them (4 x
    head_dim per query-key pair, causal: half)."""

    kernel: Text
    spec_name: Text
    dtype: Text
    head_dim: PositiveInt | None = None  # blank: the source does not say which head dimension reaches the figure
    seq_len: PositiveInt | None = None  # blank: the source gives no single length for the figure
    causal: bool
    TFLOPS: Positive
    source: Text
    notes: str = ""


#: Where a link sits: inside a server or rack (scale-up), between servers (scale-out), or to the host.
LINK_KINDS = ("scale-up", "scale-out", "host")


class InterconnectRow(_Row):
    """One GPU interconnect (interconnects.csv): the bandwidth one GPU has to its peers, per
    direction and as the datasheet's bidirectional total, in GB/s (1e9 B/s)."""

    kind: Literal[LINK_KINDS]
    per_direction_GBps: Positive  # what one GPU can send while it receives as much
    bidirectional_GBps: Positive  # the datasheet's total: send plus receive
    gpus_in_domain: PositiveInt | None = None  # GPUs one switch domain joins at this bandwidth
    effective_busbw_GBps: Positive | None = None  # a maintainer's or vendor's measured NCCL figure, where published
    in_network_reduction: str = ""  # the switch-side reduction it offers (NVLS, SHARP), named by its vendor
    base_latency_us: Positive | None = None  # NCCL's fixed latency per call (ring, LL protocol)
    step_latency_us: Positive | None = None  # NCCL's latency per ring hop over this kind of link (LL protocol)
    tree_base_latency_us: Positive | None = None  # NCCL's fixed latency per call of its tree (LL protocol)
    tree_step_latency_us: Positive | None = None  # NCCL's latency per tree hop over this link (LL protocol)
    net_overhead_us: Positive | None = None  # a network's: the least NCCL counts per in-server hop of a ring across servers
    source: Text
    notes: str = ""

    @model_validator(mode="after")
    def _latencies_together(self) -> InterconnectRow:
        if (self.base_latency_us is None) != (self.step_latency_us is None):
            raise CrossCheck("step_latency_us", "base_latency_us and step_latency_us come together or not at all")
        if len({self.base_latency_us is None, self.tree_base_latency_us is None, self.tree_step_latency_us is None}) > 1:
            raise CrossCheck("tree_base_latency_us", "the tree's latencies come with the ring's, or none of them")
        return self

    @model_validator(mode="after")
    def _directions_agree(self) -> InterconnectRow:
        if abs(self.bidirectional_GBps - 2 * self.per_direction_GBps) > 1e-6 * self.bidirectional_GBps:
            raise CrossCheck("bidirectional_GBps", f"{self.bidirectional_GBps} is not twice per_direction_GBps = "
                                                   f"{self.per_direction_GBps}")
        return self


@dataclass(frozen=True)
class Problem:
    """One bad cell (or row, or header) of a data file."""

    file: str
    line: int
    row_name: str
    column: str
    message: str

    def __str__(self) -> str:
        row = f" ({self.row_name})" if self.row_name else ""
        return f"{self.file}, line {self.line}{row}, column {self.column}: {self.message}"


class DataFileError(ValueError):
    """A data file that does not match its schema; `problems` lists every bad cell found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


Row = TypeVar("Row", bound=_Row)
_EXTRA = "\0cells beyond the header"


def _problems(error: ValidationError, file: str, line: int, name: str) -> list[Problem]:
    found = []
    for e in error.errors():
        column = str(e["loc"][0]) if e["loc"] else "?"
        cause = (e.get("ctx") or {}).get("error")
        if isinstance(cause, CrossCheck):
            column, message = cause.column, str(cause)
        elif e["type"] == "missing":
            message = "blank, but a value is required"
        else:
            message = f"{e['msg'].removeprefix('Value error, ')}; got {e['input']!r}"
        found.append(Problem(file, line, name, column, message))
    return found


def _records(reader: csv.DictReader, file: str) -> Iterator[dict]:
    """The reader's records; a record the csv module cannot read (a cell over its field size limit,
    an unclosed quote at the end) raises DataFileError naming the file and the line it starts on."""
    while True:
        line = reader.line_num + 1  # the line the next record starts on
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise DataFileError([Problem(file, line, "", "-", f"cannot be read as CSV: {error}")]) from None


def parse_rows(text: str, file: str, row_type: type[Row]) -> list[Row]:
    """Every row of CSV `text` validated as `row_type`, in order; `file` names it in errors.

    Raises DataFileError listing every problem found (not just the first).
    """
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey=_EXTRA)
    header = reader.fieldnames or []
    declared = list(row_type.model_fields)
    problems = [Problem(file, 1, "", c, "missing column") for c in declared if c not in header]
    problems += [Problem(file, 1, "", c, f"unknown column (known: {', '.join(declared)})")
                 for c in header if c not in declared]
    problems += [Problem(file, 1, "", c, "column appears twice") for c in sorted(set(header)) if header.count(c) > 1]
    if problems:
        raise DataFileError(problems)
    rows: list[Row] = []
    seen: dict[str, tuple[int, str]] = {}
    line = reader.line_num + 1  # the line the next record starts on
    for record in _records(reader, file):
        name = (record.get("name") or "").strip()
        extra = record.pop(_EXTRA, None)
        short = [column for column, value in record.items() if value is None]
        if extra:
            problems.append(Problem(file, line, name, header[-1],
                                    f"{len(extra)} cell(s) beyond the header's {len(header)} columns"))
        elif short:
            problems.append(Problem(file, line, name, short[0], f"row ends early: no cells for {', '.join(short)}"))
        else:
            cells = {column: value.strip() for column, value in record.items() if value.strip()}
            try:
                rows.append(row_type.model_validate(cells))
            except ValidationError as error:
                problems += _problems(error, file, line, name)
            key = normalise_name(name)
            if name and not key:
                problems.append(Problem(file, line, name, "name", "has no letters or digits to look it up by"))
            elif key in seen:
                first_line, first_name = seen[key]
                problems.append(Problem(file, line, name, "name",
                                        f"duplicates line {first_line} ({first_name}): both look up as {key!r}"))
            elif key:
                seen[key] = (line, name)
        line = reader.line_num + 1
    if problems:
        raise DataFileError(problems)
    return rows
