"""Quantization error experiments on a seeded matrix (chapter 4's tables).

Importing this module does not import torch, and their result type (quant_formats.Error) does not
either, so reading stored results never does; the experiments import torch when they run.
"""

from __future__ import annotations

from snippets import quant_formats
from snippets.quant_formats import Error, WeightFormat


def weight_format(name: str) -> WeightFormat:
    """A named format, or `int4-g<N>`: asymmetric int4 in groups of N along the input dimension."""
    return quant_formats.FORMATS.get(name) or WeightFormat(name, "int4", "group", int(name[6:]), "bf16", True)


def error_grid(shape: tuple[int, int], tokens: int, outlier_channels: int, outlier_scale: float,
               places: tuple[str, ...], names: tuple[str, ...]) -> dict[tuple[str, str], Error]:
    """{(outlier place, format): Error} of the seeded matrix with outliers in `place` ("none":
    none; "output": a few output rows; "input": a few input columns), for random activations."""
    import torch

    from snippets import quantization

    x = torch.randn(tokens, shape[1], generator=torch.Generator().manual_seed(1))
    out = {}
    for place in places:
        n = 0 if place == "none" else outlier_channels
        where = "input" if place == "none" else place
        w = quantization.outlier_matrix(*shape, outlier_channels=n, outlier_scale=outlier_scale, where=where)
        mask = quantization.outlier_mask(*shape, n, where)
        for name in names:
            out[(place, name)] = quantization.error(w, x, weight_format(name), mask)
    return out


def activation_error_grid(shape: tuple[int, int], tokens: int, outlier_channels: int, outlier_scale: float,
                          alpha: float) -> dict[tuple[int, str, bool], float]:
    """{(activation outlier channels, format, smoothed): relative output error} of W8A8 on the
    clean matrix, with and without SmoothQuant's smoothing at `alpha`; weight-only int8 beside."""
    import torch

    from snippets import quantization

    w = quantization.outlier_matrix(*shape, outlier_channels=0)
    out = {}
    for n in (0, outlier_channels):
        x = torch.randn(tokens, shape[1], generator=torch.Generator().manual_seed(1))
        x[:, :n] *= outlier_scale
        for name in ("int8-w8a8", "fp8-tensor"):
            out[(n, name, False)] = quantization.w8a8_output_error(w, x, name)
            out[(n, name, True)] = quantization.w8a8_output_error(w, x, name, alpha)
        out[(n, "int8-channel (weights only)", False)] = quantization.error(w, x, "int8-channel").output_rms
    return out
