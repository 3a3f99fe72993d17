"""Weight storage formats with their scales and zero-points: bytes per parameter, and the decode
bound and critical batch of a model stored in each (torch-free; the quantizers themselves are in
snippets.quantization).

A format stores each weight as one element of a dtype from units.BYTES_PER_ELEMENT, plus, for
every block of weights that share them, a scale and (asymmetric formats) a zero-point:

    bytes of a (rows x cols) matrix = rows x cols x element bytes + blocks x (scale + zero bytes)

blocks: 1 per tensor, one per row (output channel), or one per `group_size` weights of a row.

What a model's step reads (weights_read_bytes): the matrices of the transformer layers in the
format; the embedding rows, the LM head, norms and biases in 16 bits (`HIGH_PRECISION`), as this
chapter counts every format. Units: bytes, FLOP/s, bytes/s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from snippets import models, roofline
from snippets.errors import UnknownName
from snippets.hardware import Accelerator
from snippets.models import ModelConfig
from snippets.units import bytes_per_element, dtype_name, require_positive_int

#: Parts of a model no format here quantizes: embedding, LM head, norms, biases.
HIGH_PRECISION = "bf16"
GRANULARITIES = ("none", "tensor", "channel", "group")


@dataclass(frozen=True)
class WeightFormat:
    """How one weight matrix is stored, and in which dtype its matmul computes."""

    name: str
    element_dtype: str  # a units.BYTES_PER_ELEMENT name: the stored weight
    granularity: str  # "none" (no scale), "tensor", "channel" (a row) or "group"
    group_size: int | None = None  # weights of a row sharing one scale ("group" only)
    scale_dtype: str | None = None  # None when there is no scale
    zero_point: bool = False  # asymmetric: a zero-point beside every scale, in scale_dtype
    compute_dtype: str = "bf16"  # the math: bf16 for weight-only formats, fp8 for W8A8
    description: str = ""

    def __post_init__(self) -> None:
        dtype_name(self.element_dtype)
        dtype_name(self.compute_dtype)
        if self.granularity not in GRANULARITIES:
            raise UnknownName(f"unknown granularity {self.granularity!r}; allowed: {', '.join(GRANULARITIES)}")
        if (self.granularity == "group") != (self.group_size is not None):
            raise ValueError("group_size is given exactly when the granularity is 'group'")
        if self.group_size is not None:
            require_positive_int("group_size", self.group_size)
        if (self.granularity == "none") != (self.scale_dtype is None):
            raise ValueError("a scale dtype is given exactly when the format has scales")
        if self.scale_dtype is not None:
            dtype_name(self.scale_dtype)

    @property
    def element_bytes(self) -> float:
        return bytes_per_element(self.element_dtype)

    @property
    def block_bytes(self) -> float:
        """Bytes of the scale (and zero-point) one block of weights shares."""
        if self.scale_dtype is None:
            return 0.0
        return bytes_per_element(self.scale_dtype) * (2 if self.zero_point else 1)

    def blocks(self, rows: int, cols: int) -> int:
        """Scales a (rows x cols) matrix needs: rows are output channels, cols the input width."""
        require_positive_int("rows", rows)
        require_positive_int("cols", cols)
        return {"none": 0, "tensor": 1, "channel": rows}.get(
            self.granularity, rows * math.ceil(cols / (self.group_size or 1)))

    def matrix_bytes(self, rows: int, cols: int) -> float:
        """Stored bytes of a (rows x cols) weight matrix, scales and zero-points included."""
        return rows * cols * self.element_bytes + self.blocks(rows, cols) * self.block_bytes

    def bytes_per_param(self, rows: int, cols: int) -> float:
        """matrix_bytes / weights: e.g. 0.53125 for int4, group 128, bf16 scale and zero."""
        return self.matrix_bytes(rows, cols) / (rows * cols)

    @property
    def overhead_bits(self) -> float:
        """Scale and zero-point bits per weight where they do not depend on the matrix (group formats)."""
        return 8 * self.block_bytes / self.group_size if self.group_size else 0.0


FORMATS: dict[str, WeightFormat] = {f.name: f for f in (
    WeightFormat("bf16", "bf16", "none", description="16-bit weights, no scales"),
    WeightFormat("int8-channel", "int8", "channel", scale_dtype="bf16",
                 description="int8 symmetric, one bf16 scale per output channel (weight-only)"),
    WeightFormat("fp8-tensor", "fp8", "tensor", scale_dtype="fp32", compute_dtype="fp8",
                 description="fp8 e4m3, one fp32 scale per tensor; activations in fp8 too (W8A8)"),
    WeightFormat("int4-g128", "int4", "group", 128, "bf16", zero_point=True,
                 description="int4 asymmetric, a bf16 scale and zero-point per 128 weights (weight-only)"),
    WeightFormat("int4-g64", "int4", "group", 64, "bf16", zero_point=True,
                 description="int4 asymmetric, a bf16 scale and zero-point per 64 weights (weight-only)"),
    WeightFormat("int4-g32", "int4", "group", 32, "bf16", zero_point=True,
                 description="int4 asymmetric, a bf16 scale and zero-point per 32 weights (weight-only)"),
)}


def get(name: str | WeightFormat) -> WeightFormat:
    """A format by name ('int4-g128'); UnknownName lists the supported ones."""
    if isinstance(name, WeightFormat):
        return name
    if name not in FORMATS:
        raise UnknownName(f"unknown weight format {name!r}; supported: {', '.join(FORMATS)}")
    return FORMATS[name]


# ---- a model stored in a format ------------------------------------------------------------


def layer_matrices(m: ModelConfig) -> list[tuple[int, int]]:
    """(rows, cols) = (output, input) width of every weight matrix of one layer of a dense
    attention model: q, k, v, o and the MLP's gate, up and down (up and down for GPT-2 and OPT)."""
    if m.is_moe or m.attention_kind == "MLA":
        raise ValueError(f"{m.name}: formats are counted for dense models with MHA/GQA attention only")
    d, q, kv = m.d_model, m.n_heads * m.head_dim, m.n_kv_heads * m.head_dim
    mlp = [(m.d_ff, d), (d, m.d_ff)] if m.architecture in ("gpt2", "opt") else [(m.d_ff, d), (m.d_ff, d), (d, m.d_ff)]
    return [(q, d), (kv, d), (kv, d), (d, q), *mlp]


def quantized_params(m: ModelConfig) -> int:
    """Weights a format stores in low precision: every matrix of every layer."""
    return m.n_layers * sum(r * c for r, c in layer_matrices(m))


def quantized_bytes(m: ModelConfig, fmt: str | WeightFormat) -> float:
    """Bytes of every layer's matrices in `fmt`, scales and zero-points included."""
    f = get(fmt)
    return m.n_layers * sum(f.matrix_bytes(r, c) for r, c in layer_matrices(m))


def weights_read_bytes(m: ModelConfig, fmt: str | WeightFormat, batch: int = 1) -> float:
    """Weight bytes one decode step of `batch` sequences reads: the layers' matrices in `fmt`,
    the rest of models.step_param_count (embedding rows, LM head, norms) in HIGH_PRECISION."""
    rest = models.step_param_count(m, batch) - quantized_params(m)
    return quantized_bytes(m, fmt) + rest * bytes_per_element(HIGH_PRECISION)


def stored_bytes(m: ModelConfig, fmt: str | WeightFormat) -> float:
    """Bytes the whole model occupies in memory in `fmt` (the full embedding table included)."""
    rest = models.param_count(m) - quantized_params(m)
    return quantized_bytes(m, fmt) + rest * bytes_per_element(HIGH_PRECISION)


def decode_step(m: ModelConfig, fmt: str | WeightFormat, batch: int = 1, context: int = 0,
                kv_dtype: str = "bf16") -> roofline.StepCost:
    """roofline.decode_step with the weight bytes of `fmt` (FLOPs and cache unchanged)."""
    step = roofline.decode_step(m, batch, context, HIGH_PRECISION, kv_dtype)
    return replace(step, weight_bytes=weights_read_bytes(m, fmt, batch))


def step_time_s(m: ModelConfig, fmt: str | WeightFormat, accelerator: Accelerator, batch: int = 1,
                context: int = 0, kv_dtype: str = "bf16") -> float:
    """Roofline bound on one decode step, the math at the format's compute dtype."""
    return decode_step(m, fmt, batch, context, kv_dtype).time_s(accelerator, get(fmt).compute_dtype)


def tokens_per_s(m: ModelConfig, fmt: str | WeightFormat, accelerator: Accelerator, batch: int = 1,
                 context: int = 0, kv_dtype: str = "bf16") -> float:
    """Upper bound on tokens/s across the batch."""
    return batch / step_time_s(m, fmt, accelerator, batch, context, kv_dtype)


def critical_batch(accelerator: Accelerator, fmt: str | WeightFormat, rows: int, cols: int) -> float:
    """Batch at which a (rows x cols) weight matmul in `fmt` reaches the ridge of its compute dtype:
    2 x B FLOPs per weight against bytes_per_param bytes (weights only, B << rows, cols)."""
    f = get(fmt)
    return accelerator.ridge_point(f.compute_dtype) * f.bytes_per_param(rows, cols) / 2


def compute_bound_batch(m: ModelConfig, fmt: str | WeightFormat, accelerator: Accelerator, context: int = 0,
                        kv_dtype: str = "bf16", limit: int = 1 << 20) -> int | None:
    """Smallest batch whose whole decode step is compute-bound in `fmt` (None below `limit`)."""
    compute = get(fmt).compute_dtype

    def bound(batch: int) -> bool:
        return not decode_step(m, fmt, batch, context, kv_dtype).is_memory_bound(accelerator, compute)

    if not bound(limit):
        return None
    low, high = 1, limit
    while low < high:  # compute-bound grows with the batch; invariant: high is compute-bound
        middle = (low + high) // 2
        low, high = (middle + 1, high) if not bound(middle) else (low, middle)
    return high
