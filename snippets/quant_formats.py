"""Weight storage formats with their scales and zero-points: bytes per parameter, and the decode
bound and critical batch of a model stored in each (torch-free; the quantizers themselves are in
snippets.quantization).

A format stores each weight as one element of a dtype from units.BYTES_PER_ELEMENT, plus, for
every block of weights that share them, a scale and (asymmetric formats) a zero-point:

    bytes of a (rows x cols) matrix = rows x cols x element bytes + blocks x (scale + zero bytes)

blocks: 1 per tensor, one per row (output channel), or one per `group_size` weights of a row.

What a model's step reads (weights_read_bytes): the matrices of the transformer layers in the
format; the embedding rows, norms and biases in 16 bits (`HIGH_PRECISION`); the LM head in 16 bits
too unless `quantize_head` (gpt-fast and torchao quantize it; this chapter's own tables do not).
The step's compute time runs the layers' matmuls at the format's compute dtype and the LM head
(unless quantized) and attention at HIGH_PRECISION. Activations and the ALU cost of dequantizing
are left out, as in roofline.decode_step. Units: bytes, FLOP/s, bytes/s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from snippets import kv_cache, models, roofline
from snippets.errors import UnknownName
from snippets.hardware import Accelerator
from snippets.models import ModelConfig
from snippets.units import bytes_per_element, dtype_name, require_positive_int

#: The two fp8 formats of Micikevicius et al., "FP8 Formats for Deep Learning" (arXiv:2209.05433):
#: (exponent bits, mantissa bits, largest finite value). e4m3 has no infinities and one NaN code,
#: so its range reaches 448; e5m2 follows IEEE rules (checked against torch.finfo by a test).
FP8_FORMATS = {"e4m3": (4, 3, 448.0), "e5m2": (5, 2, 57344.0)}


def fp8_relative_error(name: str) -> float:
    """Largest relative rounding error of a normal fp8 value: half a step, 2^-(mantissa bits + 1)."""
    return 2.0 ** -(FP8_FORMATS[name][1] + 1)


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
    zero_point: bool = False  # asymmetric: a zero-point beside every scale
    compute_dtype: str = "bf16"  # the math: bf16 for weight-only formats, fp8 for W8A8
    description: str = ""
    zero_dtype: str | None = None  # the zero-point's dtype; None: the scale's (a float zero)

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
        if self.zero_dtype is not None:
            dtype_name(self.zero_dtype)
            if not self.zero_point:
                raise ValueError("a zero-point dtype is given only when the format has zero-points")

    @property
    def element_bytes(self) -> float:
        return bytes_per_element(self.element_dtype)

    @property
    def block_bytes(self) -> float:
        """Bytes of the scale (and zero-point) one block of weights shares."""
        if self.scale_dtype is None:
            return 0.0
        zero = bytes_per_element(self.zero_dtype or self.scale_dtype) if self.zero_point else 0.0
        return bytes_per_element(self.scale_dtype) + zero

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
    WeightFormat("int8-w8a8", "int8", "channel", scale_dtype="bf16", compute_dtype="int8",
                 description="int8 symmetric, one bf16 scale per output channel; activations in int8 with "
                             "one scale per token (W8A8, SmoothQuant's and torchao int8dq's scheme)"),
    WeightFormat("int8-tensor", "int8", "tensor", scale_dtype="fp32",
                 description="int8 symmetric, one fp32 scale per tensor (weight-only; the error demo's foil)"),
)}

#: Three storage layouts of "int4, group 128": the tinygemm/HQQ layout of gpt-fast and torchao
#: (a 16-bit scale and a 16-bit float zero-point per group: FORMATS' int4-g128), GPTQ and AWQ
#: checkpoints (a 16-bit scale and a packed 4-bit integer zero-point) and Marlin (symmetric:
#: a 16-bit scale, no zero-point).
INT4_LAYOUTS: dict[str, WeightFormat] = {
    "tinygemm / HQQ (gpt-fast, torchao)": FORMATS["int4-g128"],
    "GPTQ / AWQ checkpoints": WeightFormat("int4-g128-int-zero", "int4", "group", 128, "fp16", zero_point=True,
                                          zero_dtype="int4", description="fp16 scale, packed 4-bit zero-point"),
    "Marlin (symmetric)": WeightFormat("int4-g128-sym", "int4", "group", 128, "fp16",
                                       description="fp16 scale, no zero-point"),
}


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


def _head_bytes(m: ModelConfig, fmt: str | WeightFormat, quantize_head: bool) -> float:
    """Bytes of the LM head's matrix (vocab x d_model) in `fmt` if `quantize_head`, else in
    HIGH_PRECISION (0 for a tied head: the embedding table is it, and stays 16-bit)."""
    if not models.lm_head_params(m):
        return 0.0
    if quantize_head:
        return get(fmt).matrix_bytes(m.vocab_size, m.d_model)
    return models.lm_head_params(m) * bytes_per_element(HIGH_PRECISION)


def weights_read_bytes(m: ModelConfig, fmt: str | WeightFormat, batch: int = 1, quantize_head: bool = False) -> float:
    """Weight bytes one decode step of `batch` sequences reads: the layers' matrices in `fmt`, the
    LM head in `fmt` if `quantize_head` (else HIGH_PRECISION), the rest of models.step_param_count
    (embedding rows, norms) in HIGH_PRECISION."""
    rest = models.step_param_count(m, batch) - quantized_params(m) - models.lm_head_params(m)
    return quantized_bytes(m, fmt) + _head_bytes(m, fmt, quantize_head) + rest * bytes_per_element(HIGH_PRECISION)


def stored_bytes(m: ModelConfig, fmt: str | WeightFormat, quantize_head: bool = False) -> float:
    """Bytes the whole model occupies in memory in `fmt` (the full embedding table included)."""
    rest = models.param_count(m) - quantized_params(m) - models.lm_head_params(m)
    return quantized_bytes(m, fmt) + _head_bytes(m, fmt, quantize_head) + rest * bytes_per_element(HIGH_PRECISION)


def decode_step(m: ModelConfig, fmt: str | WeightFormat, batch: int = 1, context: int = 0,
                kv_dtype: str = "bf16", quantize_head: bool = False) -> roofline.StepCost:
    """roofline.decode_step with the weight bytes of `fmt` (FLOPs and cache unchanged)."""
    step = roofline.decode_step(m, batch, context, HIGH_PRECISION, kv_dtype)
    return replace(step, weight_bytes=weights_read_bytes(m, fmt, batch, quantize_head))


def compute_time_s(m: ModelConfig, fmt: str | WeightFormat, accelerator: Accelerator, batch: int = 1,
                   context: int = 0, quantize_head: bool = False) -> float:
    """FLOPs over peak, each at its own dtype: the layers' matmuls at the format's compute dtype,
    the LM head at it only if `quantize_head` (else at HIGH_PRECISION), attention at HIGH_PRECISION."""
    step = roofline.decode_step(m, batch, context, HIGH_PRECISION, HIGH_PRECISION)
    low = get(fmt).compute_dtype
    head_flops = 2.0 * batch * models.lm_head_matmul_weights(m)
    layer_flops = step.weight_flops - head_flops
    high_flops = step.attention_flops + (0.0 if quantize_head else head_flops)
    low_flops = layer_flops + (head_flops if quantize_head else 0.0)
    return low_flops / accelerator.peak_flops(low) + high_flops / accelerator.peak_flops(HIGH_PRECISION)


def step_time_s(m: ModelConfig, fmt: str | WeightFormat, accelerator: Accelerator, batch: int = 1,
                context: int = 0, kv_dtype: str = "bf16", quantize_head: bool = False) -> float:
    """Roofline bound on one decode step: max(bytes / bandwidth, compute_time_s)."""
    memory = decode_step(m, fmt, batch, context, kv_dtype, quantize_head).memory_time_s(accelerator)
    return max(memory, compute_time_s(m, fmt, accelerator, batch, context, quantize_head))


def is_memory_bound(m: ModelConfig, fmt: str | WeightFormat, accelerator: Accelerator, batch: int = 1,
                    context: int = 0, kv_dtype: str = "bf16", quantize_head: bool = False) -> bool:
    memory = decode_step(m, fmt, batch, context, kv_dtype, quantize_head).memory_time_s(accelerator)
    return memory >= compute_time_s(m, fmt, accelerator, batch, context, quantize_head)


def tokens_per_s(m: ModelConfig, fmt: str | WeightFormat, accelerator: Accelerator, batch: int = 1,
                 context: int = 0, kv_dtype: str = "bf16", quantize_head: bool = False) -> float:
    """Upper bound on tokens/s across the batch."""
    return batch / step_time_s(m, fmt, accelerator, batch, context, kv_dtype, quantize_head)


def max_batch(m: ModelConfig, fmt: str | WeightFormat, accelerator: Accelerator, context: int,
              kv_dtype: str = "bf16") -> int:
    """Largest batch of `context`-token sequences whose cache fits beside the weights stored in
    `fmt` (kv_cache.max_batch with stored_bytes; activations and workspace not counted)."""
    free = accelerator.usable_memory_bytes() - stored_bytes(m, fmt)
    return max(0, int(free // kv_cache.bytes_per_sequence(m, context, kv_dtype)))


def headroom_bytes(m: ModelConfig, fmt: str | WeightFormat, accelerator: Accelerator, context: int, batch: int,
                   kv_dtype: str = "bf16") -> float:
    """Usable memory left beside the weights and the cache of `batch` sequences: all that remains
    for activations, workspace and the allocator."""
    return accelerator.usable_memory_bytes() - stored_bytes(m, fmt) - kv_cache.bytes_for_batch(m, context, batch, kv_dtype)


def critical_batch(accelerator: Accelerator, fmt: str | WeightFormat, rows: int, cols: int,
                   activation_bytes: float = 0.0) -> float:
    """Batch at which a (rows x cols) weight matmul in `fmt` reaches the ridge of its compute dtype.
    Weights only (activation_bytes 0): 2 x B FLOPs per weight against bytes_per_param bytes,
    B = ridge x bytes_per_param / 2. With `activation_bytes` per activation element (B x cols read,
    B x rows written): 2BKN / (KN b + a B (K + N)) = ridge, so B = ridge b / 2 / (1 - ridge a (K + N) / 2KN);
    infinite where the activations alone keep the matmul under the ridge. Dequantization and
    activation quantization are taken as free."""
    f = get(fmt)
    ridge = accelerator.ridge_point(f.compute_dtype)
    weights_only = ridge * f.bytes_per_param(rows, cols) / 2
    if not activation_bytes:
        return weights_only
    denominator = 1 - ridge * activation_bytes * (rows + cols) / (2 * rows * cols)
    return weights_only / denominator if denominator > 0 else math.inf


def compute_bound_batch(m: ModelConfig, fmt: str | WeightFormat, accelerator: Accelerator, context: int = 0,
                        kv_dtype: str = "bf16", limit: int = 1 << 20) -> int | None:
    """Smallest batch whose whole decode step is compute-bound in `fmt` (None below `limit`)."""
    def bound(batch: int) -> bool:
        return not is_memory_bound(m, fmt, accelerator, batch, context, kv_dtype)

    return roofline.first_int_where(bound, 1, limit)


@dataclass(frozen=True)
class Error:
    """Quantization error of one matrix in one format (what snippets.quantization.error measures;
    here so that reading it needs no torch)."""

    format: str
    weight_rms: float  # relative: RMS(w - dq) / RMS(w)
    weight_max: float  # absolute: max |w - dq|
    output_rms: float  # relative: RMS(x @ (w - dq)^T) / RMS(x @ w^T), for the given activations
    bits_per_weight: float  # stored bits, scales and zero-points included
    ordinary_rms: float  # relative, over the ordinary weights only (those outside the outlier mask)
