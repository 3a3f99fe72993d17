"""Quantize and dequantize weight matrices in the formats of snippets.quant_formats, in plain
PyTorch, and measure the error they introduce.

A matrix is (rows x cols) = (output channels x input width), as torch.nn.Linear stores it.

- int8, per channel (or per tensor), symmetric: scale = max|row| (or max|w|) / 127,
  q = round(w / scale) in [-127, 127]. The same per-row rule quantizes activations per token.
- int4, per group, asymmetric: each group of `group_size` weights of a row spans
  [lo, hi] = [min(min, 0), max(max, 0)]; scale = (hi - lo) / 15, an integer zero-point
  z = round(-lo / scale) in [0, 15], q = clamp(round(w / scale) + z, 0, 15). Two q per byte.
- fp8 e4m3, per tensor: scale = max|w| / 448 (e4m3's largest value), q = (w / scale) in fp8.

Scales are stored in the format's scale dtype, rounded up (never down), so every weight of a
block lies within the grid's reach and |w - dequantize(q)| <= scale / 2 for the integer formats.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from snippets import quant_formats
from snippets.quant_formats import Error, WeightFormat

#: Torch dtypes of the scale dtypes the formats use.
_SCALE_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
E4M3_MAX = 448.0  # largest finite float8_e4m3fn
INT4_LEVELS = 15  # uint4 codes 0..15
INT8_MAX = 127


@dataclass(frozen=True)
class Quantized:
    """A quantized matrix: codes (int4 packed two per byte), scales, zero-points (or None)."""

    format: WeightFormat
    shape: tuple[int, int]
    codes: torch.Tensor
    scales: torch.Tensor
    zeros: torch.Tensor | None = None

    @property
    def nbytes(self) -> int:
        """Bytes of what is stored, as allocated (scales and zero-points in their 16-bit dtype)."""
        zero = self.zeros.numel() * self.scales.element_size() if self.zeros is not None else 0
        return self.codes.numel() * self.codes.element_size() + self.scales.numel() * self.scales.element_size() + zero


def _matrix(w: torch.Tensor) -> torch.Tensor:
    if not isinstance(w, torch.Tensor) or w.dim() != 2 or not w.is_floating_point():
        raise ValueError(f"expected a 2-D floating-point weight matrix, got {getattr(w, 'shape', type(w).__name__)}")
    return w.float()


def _scale_up(scale: torch.Tensor, dtype: str) -> torch.Tensor:
    """`scale` in the scale dtype, rounded up (so the grid never falls short of a block's range);
    zero scales (all-zero blocks) become the smallest positive value."""
    target = _SCALE_DTYPES[dtype]
    stored = scale.clamp(min=torch.finfo(target).tiny).to(target)
    low = stored.float() < scale
    if low.any():
        bumped = torch.nextafter(stored.float(), torch.full_like(scale, float("inf"))).to(target)
        stored = torch.where(low, torch.maximum(bumped, (scale * (1 + 2.0**-7)).to(target)), stored)
    return stored


def pack_int4(codes: torch.Tensor) -> torch.Tensor:
    """Codes 0..15 (last dimension even) as uint8, two per byte: the even index in the high
    nibble, as torch's _convert_weight_to_int4pack expects."""
    if codes.shape[-1] % 2:
        raise ValueError(f"int4 packing needs an even last dimension, got {tuple(codes.shape)}")
    if codes.numel() and (codes.min() < 0 or codes.max() > INT4_LEVELS):
        raise ValueError("int4 codes must lie in 0..15")
    c = codes.to(torch.uint8)
    return (c[..., ::2] << 4) | c[..., 1::2]


def unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    """The inverse of pack_int4: uint8 codes 0..15, twice as many along the last dimension."""
    high, low = packed >> 4, packed & 0xF
    return torch.stack([high, low], dim=-1).flatten(-2)


def quantize(w: torch.Tensor, fmt: str | WeightFormat) -> Quantized:
    """`w` (rows x cols, floating point) in `fmt`: 'int8-channel', 'int4-g32', 'int4-g128',
    'fp8-tensor' or any WeightFormat of those kinds. Unsupported formats raise, listing these."""
    f = quant_formats.get(fmt)
    w = _matrix(w)
    rows, cols = w.shape
    if f.element_dtype == "int8" and f.granularity in ("channel", "tensor") and not f.zero_point:
        peak = w.abs().amax(dim=1) if f.granularity == "channel" else w.abs().amax().reshape(1)
        scales = _scale_up(peak / INT8_MAX, f.scale_dtype)
        per = scales.float()[:, None] if f.granularity == "channel" else scales.float()
        codes = (w / per).round().clamp(-INT8_MAX, INT8_MAX).to(torch.int8)
        return Quantized(f, (rows, cols), codes, scales)
    if f.element_dtype == "int4" and f.granularity == "group" and f.zero_point:
        g = f.group_size
        if cols % g or g % 2:
            raise ValueError(f"{f.name}: the input width {cols} must be a multiple of the group size {g}")
        groups = w.reshape(rows, cols // g, g)
        lo, hi = groups.amin(-1).clamp(max=0), groups.amax(-1).clamp(min=0)
        scales = _scale_up((hi - lo) / INT4_LEVELS, f.scale_dtype)
        zeros = (-lo / scales.float()).round().clamp(0, INT4_LEVELS)
        codes = ((groups / scales.float()[..., None]).round() + zeros[..., None]).clamp(0, INT4_LEVELS)
        return Quantized(f, (rows, cols), pack_int4(codes.reshape(rows, cols)), scales,
                         zeros.to(_SCALE_DTYPES[f.scale_dtype]))
    if f.element_dtype == "fp8" and f.granularity == "tensor":
        if not hasattr(torch, "float8_e4m3fn"):
            raise ValueError(f"{f.name}: this torch build has no float8_e4m3fn dtype")
        scale = _scale_up((w.abs().amax() / E4M3_MAX).reshape(1), f.scale_dtype)
        return Quantized(f, (rows, cols), (w / scale.float()).to(torch.float8_e4m3fn), scale)
    raise ValueError(f"cannot quantize to {f.name!r}; supported: "
                     f"{', '.join(n for n in quant_formats.FORMATS if n != 'bf16')}")


def dequantize(q: Quantized) -> torch.Tensor:
    """The fp32 matrix the codes stand for."""
    rows, cols = q.shape
    scales = q.scales.float()
    if q.format.element_dtype == "int4":
        g = q.format.group_size
        codes = unpack_int4(q.codes).float().reshape(rows, cols // g, g)
        return ((codes - q.zeros.float()[..., None]) * scales[..., None]).reshape(rows, cols)
    if q.format.granularity == "channel":
        return q.codes.float() * scales[:, None]
    return q.codes.float() * scales


def step_size(q: Quantized) -> torch.Tensor:
    """Each weight's grid spacing (its block's scale), shaped like the matrix."""
    rows, cols = q.shape
    s = q.scales.float()
    if q.format.granularity == "group":
        return s.repeat_interleave(q.format.group_size, dim=1)
    if q.format.granularity == "channel":
        return s[:, None].expand(rows, cols)
    return s.expand(rows, cols)


def _rms(t: torch.Tensor) -> float:
    return t.pow(2).mean().sqrt().item()


def error(w: torch.Tensor, x: torch.Tensor, fmt: str | WeightFormat, outliers: torch.Tensor | None = None) -> Error:
    """Reconstruction error of `w` and matmul output error for activations `x` (tokens x cols);
    `outliers` (a boolean mask shaped like `w`) marks the weights left out of ordinary_rms."""
    f = quant_formats.get(fmt)
    w = _matrix(w)
    dq = dequantize(quantize(w, f))
    delta = w - dq
    y, dy = x.float() @ w.T, x.float() @ delta.T
    ordinary = ~outliers if outliers is not None else torch.ones_like(w, dtype=torch.bool)
    return Error(f.name, _rms(delta) / _rms(w), delta.abs().max().item(), _rms(dy) / _rms(y),
                 8 * f.bytes_per_param(*w.shape), _rms(delta[ordinary]) / _rms(w[ordinary]))


def w8a8_output_error(w: torch.Tensor, x: torch.Tensor, fmt: str | WeightFormat,
                      smoothing_alpha: float | None = None) -> float:
    """Relative RMS error of x @ w^T when both the weights and the activations are quantized:
    int8 formats quantize x per token (one scale per row of x), fp8-tensor per tensor. With
    `smoothing_alpha` (SmoothQuant), input channel j is first divided in x and multiplied in w by
    s_j = max|x_j|^alpha / max|w_j|^(1 - alpha), which leaves x @ w^T unchanged."""
    f = quant_formats.get(fmt)
    w, x = _matrix(w), _matrix(x)
    y = x @ w.T
    if smoothing_alpha is not None:
        s = x.abs().amax(0).clamp(min=1e-8) ** smoothing_alpha / w.abs().amax(0).clamp(min=1e-8) ** (1 - smoothing_alpha)
        x, w = x / s, w * s
    act = quant_formats.get("int8-w8a8") if f.element_dtype == "int8" else f
    approx = dequantize(quantize(x, act)) @ dequantize(quantize(w, f)).T
    return _rms(approx - y) / _rms(y)


def outlier_mask(rows: int, cols: int, outlier_channels: int = 4, where: str = "input") -> torch.Tensor:
    """The outliers of outlier_matrix: the first `outlier_channels` input columns (`where` =
    "input") or output rows ("output")."""
    if where not in ("input", "output"):
        raise ValueError(f"where must be 'input' or 'output', got {where!r}")
    mask = torch.zeros(rows, cols, dtype=torch.bool)
    if where == "input":
        mask[:, :outlier_channels] = True
    else:
        mask[:outlier_channels] = True
    return mask


def outlier_matrix(rows: int, cols: int, outlier_channels: int = 4, outlier_scale: float = 20.0,
                   seed: int = 0, where: str = "input") -> torch.Tensor:
    """A seeded Gaussian (rows x cols) matrix, std 0.02, whose first `outlier_channels` input
    columns (where="input": every row holds outliers) or output rows (where="output": a few rows
    hold them all) are `outlier_scale` times larger."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, cols, generator=g) * 0.02
    w[outlier_mask(rows, cols, outlier_channels, where)] *= outlier_scale
    return w
