"""Quantize one weight matrix to int4 (group 128) and check what the format promises."""

import torch

from snippets import quant_formats, quantization

w = quantization.outlier_matrix(256, 512, outlier_channels=0)  # seeded, std 0.02
q = quantization.quantize(w, "int4-g128")
error = (w - quantization.dequantize(q)).abs()

print(f"stored: {q.nbytes:,} B for {w.numel():,} weights = {8 * q.nbytes / w.numel():.3f} bits each")
print(f"format: {quant_formats.get('int4-g128').matrix_bytes(256, 512):,.0f} B by the formula")
ratio = (error / (quantization.step_size(q) / 2)).max().item()  # <= 1, up to fp32 rounding
print(f"largest error / half its group's scale: {ratio:.7f}, within 1 + 1e-6: {ratio <= 1 + 1e-6}")
codes = quantization.unpack_int4(q.codes)
print(f"two codes per byte, unpacked exactly: {torch.equal(quantization.pack_int4(codes), q.codes)}")
