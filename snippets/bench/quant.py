"""The weight matmuls of one decoder layer at decode shapes, in each weight format, each through
the best kernel torch itself offers on the device (no torchao):

- bf16: F.linear (cuBLAS).
- int8-channel (weight-only): on CUDA, torch.compile of "int8 to bf16, matmul, scale" with
  coordinate-descent tuning (for this compile only): at batch 1 inductor turns the matmul into a
  reduction that reads the int8 weights directly; above it the conversion is a kernel of its own
  that writes bf16 weights (torch offers no weight-only int8 matmul on CUDA: that is torchao's).
  On the CPU torch's aten._weight_int8pack_mm.
- int8-w8a8: torch._int_mm (cuBLASLt's int8 matmul, int32 out), the activations quantized per
  token inside the (compiled) step; rows padded to 32 where cuBLASLt needs more than 16.
- int4-g128: torch's packed int4 matmul, aten._weight_int4pack_mm (tinygemm: tuned for batch
  <= 8; torch has no other int4 matmul without torchao).
- fp8-tensor: torch._scaled_mm with fast accumulation, the activation scale static (measured once
  on the activations before timing, as a calibrated engine does), so the step only casts.

On CUDA each step is captured in a CUDA graph, so the per-kernel launch cost of the host is not
timed; where capture fails the step runs eagerly and the row is flagged. The L2 is flushed before
every timed call (a layer's weights are only a few times the L2). Each row: ms, achieved GB/s and
% of its own bound, max(bytes / bandwidth, FLOPs / peak of its compute dtype) (the datasheet's;
the run's copy bandwidth and no compute roof where the device has no datasheet row). A path the
device or build lacks is skipped with the reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from snippets import models, quant_formats, quantization
from snippets.bench.device import DeviceInfo
from snippets.bench.timing import l2_flusher, time_repeats

FORMATS = ("bf16", "int8-channel", "int8-w8a8", "int4-g128", "fp8-tensor")


@dataclass(frozen=True)
class QuantResult:
    model: str
    format: str
    path: str  # the kernel route taken
    batch: int
    median_s: float
    best_s: float
    bytes_per_step: float  # the layer's weights in the format, scales included, plus activations
    GBps: float
    bound_s: float | None
    pct_of_bound: float | None
    bound_from: str | None  # "datasheet" or "copy" (this run's copy bandwidth)
    flags: tuple[str, ...] = ()
    bound_roof: str | None = None  # "memory" or "compute": which side of max(bytes/BW, FLOPs/peak) the bound is
    l2_flushed: bool = False  # the L2 evicted before each timed call
    repeat_medians_s: tuple[float, ...] = ()

    def as_dict(self) -> dict:
        return asdict(self)


def layer_shapes(model_name: str, scale: int = 1) -> list[tuple[int, int]]:
    """(out, in) of one layer's fused matmuls: qkv, o, gate+up, down; every width divided by `scale`."""
    m = models.get(model_name)
    d, q, kv = m.d_model // scale, m.n_heads * m.head_dim // scale, m.n_kv_heads * m.head_dim // scale
    ff = m.d_ff // scale
    return [(q + 2 * kv, d), (d, q), (2 * ff, d), (d, ff)]


def _int4_operands(w: torch.Tensor, group: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Packed weight and [K/group, N, 2] scales-and-zeros in tinygemm's convention
    (w = (code - 8) x scale + zero)."""
    q = quantization.quantize(w, quant_formats.WeightFormat(f"int4-g{group}", "int4", "group", group, "bf16", True))
    codes = quantization.unpack_int4(q.codes)
    s = q.scales.float()
    zero = (8 - q.zeros.float()) * s
    sz = torch.stack([s.t(), zero.t()], dim=-1).to(torch.bfloat16).contiguous().to(device)
    if device.type == "cpu":
        packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(codes.to(torch.int32), 1)
    else:  # uint8 [n, k/2] packing: torch >= 2.5 (2.4 took int32 [n, k])
        packed = torch.ops.aten._convert_weight_to_int4pack(q.codes.to(device), 8)
    return packed, sz


def _torch_at_least(major: int, minor: int) -> bool:
    version = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2] if p.isdigit())
    return version >= (major, minor)


Kernel = tuple[Callable[[list[torch.Tensor]], list], str]  # (one activation per matrix -> outputs, path name)


def _bf16(weights, info: DeviceInfo) -> Kernel:
    ws = [w.to(info.torch_device, torch.bfloat16) for w in weights]
    return (lambda xs: [F.linear(x, w) for x, w in zip(xs, ws)]), "F.linear"


def _int8_channel(weights, info: DeviceInfo) -> Kernel:
    qs = [quantization.quantize(w, "int8-channel") for w in weights]
    codes, scales = [q.codes.to(info.torch_device) for q in qs], [q.scales.to(info.torch_device) for q in qs]
    if info.kind == "cuda":
        def layer(xs):
            return [F.linear(x, c.to(x.dtype)) * s for x, c, s in zip(xs, codes, scales)]

        # One compile of the whole layer, static shapes: one specialised graph per batch, never a
        # dynamic-shape kernel. The option applies to this compile only.
        fused = torch.compile(layer, dynamic=False, options={"coordinate_descent_tuning": True})
        return fused, "torch.compile of the layer, static shapes (int8 to bf16, matmul, scale; fusion is inductor's choice)"
    if info.kind != "cpu" or not hasattr(torch.ops.aten, "_weight_int8pack_mm"):
        raise NotImplementedError(f"no int8 weight-only matmul for {info.kind} in this build")
    return (lambda xs: [torch.ops.aten._weight_int8pack_mm(x, c, s) for x, c, s in zip(xs, codes, scales)]), \
        "aten._weight_int8pack_mm"


def _int4_g128(weights, info: DeviceInfo) -> Kernel:
    cuda = info.kind == "cuda"
    name = "_weight_int4pack_mm" if cuda else "_weight_int4pack_mm_for_cpu"
    if info.kind not in ("cuda", "cpu") or not hasattr(torch.ops.aten, name):
        raise NotImplementedError(f"this torch build has no {name} for {info.kind}")
    if cuda and not _torch_at_least(2, 5):
        raise NotImplementedError(f"the uint8 int4 packing used here needs torch >= 2.5 (this is {torch.__version__})")
    ops = [_int4_operands(w, 128, info.torch_device) for w in weights]
    mm = getattr(torch.ops.aten, name)
    return (lambda xs: [mm(x, p, 128, sz) for x, (p, sz) in zip(xs, ops)]), f"aten.{name}"


def _w8a8_matmul(x: torch.Tensor, w: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """x [M, K] bf16 @ int8 w [K, N] (per-channel scales s): x quantized per token, cuBLASLt's int8
    matmul (rows padded to 32: it wants more than 16), rescaled to bf16."""
    rows = x.shape[0]
    padded = max(32, -(-rows // 8) * 8)
    xp = F.pad(x, (0, 0, 0, padded - rows)) if padded != rows else x
    a_scale = xp.abs().amax(dim=1, keepdim=True).float().clamp(min=1e-8) / 127.0
    a = (xp.float() / a_scale).round().clamp(-127, 127).to(torch.int8)
    return (torch._int_mm(a, w).float() * a_scale * s)[:rows].to(torch.bfloat16)


def _int8_w8a8(weights, info: DeviceInfo) -> Kernel:
    if info.kind != "cuda" or not hasattr(torch, "_int_mm"):
        raise NotImplementedError("int8 x int8 matmul (torch._int_mm) is timed on CUDA GPUs only")
    qs = [quantization.quantize(w, "int8-w8a8") for w in weights]
    # torch._int_mm takes [M, K] @ [K, N]: the weight transposed (a column-major view, as cuBLASLt wants)
    ws = [(q.codes.to(info.torch_device).t(), q.scales.to(info.torch_device).float()) for q in qs]
    fused = torch.compile(lambda xs: [_w8a8_matmul(x, w, s) for x, (w, s) in zip(xs, ws)], dynamic=False,
                          options={"coordinate_descent_tuning": True})
    return fused, "torch._int_mm (cuBLASLt int8), activations quantized per token in the compiled step"


def _fp8_tensor(weights, info: DeviceInfo) -> Kernel:
    if info.kind != "cuda" or torch.cuda.get_device_capability() < (8, 9):
        raise NotImplementedError("fp8 matmul (torch._scaled_mm) needs an NVIDIA GPU of compute capability 8.9+")
    qs = [quantization.quantize(w, "fp8-tensor") for w in weights]
    ws = [(q.codes.to(info.torch_device).t(), q.scales.to(info.torch_device).float().reshape(())) for q in qs]
    static: dict[int, torch.Tensor] = {}  # activation scale per matrix, set on the first call (calibration)

    def run(xs):
        out = []
        for i, (x, (w, s)) in enumerate(zip(xs, ws)):
            if i not in static:
                static[i] = (x.abs().amax().float() / quantization.E4M3_MAX).clamp(min=1e-12).reshape(())
            a = (x / static[i]).to(torch.float8_e4m3fn)
            out.append(torch._scaled_mm(a, w, scale_a=static[i], scale_b=s, out_dtype=torch.bfloat16,
                                        use_fast_accum=True))
        return out
    return run, "torch._scaled_mm, fast accumulation; activation scale static (calibrated once before timing)"


KERNELS: dict[str, Callable[[list, DeviceInfo], Kernel]] = {
    "bf16": _bf16, "int8-channel": _int8_channel, "int8-w8a8": _int8_w8a8, "int4-g128": _int4_g128,
    "fp8-tensor": _fp8_tensor}


def kernel(fmt: str, weights: list[torch.Tensor], info: DeviceInfo) -> Kernel:
    """(a function of one activation per matrix running every matmul in `fmt`, the path's name). Raises
    NotImplementedError with the reason where this device or build lacks the path (measure also
    skips a path whose set-up raises RuntimeError, with torch's message)."""
    if fmt not in KERNELS:
        raise ValueError(f"unknown format {fmt!r}; supported: {', '.join(FORMATS)}")
    return KERNELS[fmt](weights, info)


@torch.inference_mode()
def measure(info: DeviceInfo, model_name: str, batches, formats=FORMATS, scale: int = 1, copy_GBps: float | None = None,
            rows: list | None = None, notes: list | None = None, progress=None, reps: int = 20,
            settle_rounds: int = 5, repeats: int = 3) -> tuple[list[QuantResult], list[str]]:
    """Time one layer's weight matmuls per (format, batch); `scale` divides every width (tests)."""
    rows = [] if rows is None else rows
    notes = [] if notes is None else notes
    g = torch.Generator().manual_seed(0)
    weights = [torch.randn(o, i, generator=g) * 0.02 for o, i in layer_shapes(model_name, scale)]
    flush = l2_flusher(info.kind)
    for fmt in formats:
        try:
            fn, path = kernel(fmt, weights, info)
        except (NotImplementedError, RuntimeError) as reason:
            notes.append(f"skipped quant {fmt}: {str(reason)[:300]}")
            continue
        f = quant_formats.get(fmt)
        weight_bytes = sum(f.matrix_bytes(o, i) for o, i in (w.shape for w in weights))
        for batch in batches:
            if progress:
                progress(f"quant: {model_name} layer, {fmt} ({path}), batch {batch}")
            xs = [torch.randn(batch, w.shape[1], generator=g).to(info.torch_device, torch.bfloat16) for w in weights]
            extra: tuple[str, ...] = ()
            try:
                step, extra = _step(fn, xs, info.kind)
                timing = time_repeats(step, info.kind, repeats, reps=reps, warmup=3, flush=flush,
                                      settle_rounds=settle_rounds)
            except Exception as error:  # noqa: BLE001 - one failed path must not lose the others
                notes.append(f"quant {fmt} at batch {batch} failed: {type(error).__name__}: {str(error)[:200]}")
                break
            nbytes = weight_bytes + sum(batch * (o + i) * 2 for o, i in (w.shape for w in weights))
            flops = sum(2.0 * batch * o * i for o, i in (w.shape for w in weights))
            bound, roof, source = bound_s(info, f.compute_dtype, nbytes, flops, copy_GBps)
            rows.append(QuantResult(model_name, fmt, path, batch, timing.median_s, timing.best_s, nbytes,
                                    nbytes / timing.median_s / 1e9, bound,
                                    100 * bound / timing.median_s if bound else None, source,
                                    (*extra, *timing.flags()), roof, flush is not None, timing.repeat_medians_s))
    return rows, notes


def bound_s(info: DeviceInfo, compute_dtype: str, nbytes: float, flops: float,
            copy_GBps: float | None = None) -> tuple[float | None, str | None, str | None]:
    """(bound, "memory" or "compute", "datasheet" or "copy"): max(bytes / bandwidth, FLOPs / peak)
    with the datasheet's bandwidth and peak; without a datasheet row, the copy bandwidth alone."""
    if info.spec is not None:
        memory = nbytes / info.spec.bandwidth_Bps
        try:
            compute = flops / info.spec.peak_flops(compute_dtype)
        except ValueError:  # no published figure for this dtype
            compute = 0.0
        return (compute, "compute", "datasheet") if compute > memory else (memory, "memory", "datasheet")
    if copy_GBps:
        return nbytes / (copy_GBps * 1e9), "memory", "copy"
    return None, None, None


def _step(fn: Callable[[list[torch.Tensor]], list], xs: list[torch.Tensor], kind: str
          ) -> tuple[Callable[[], object], tuple[str, ...]]:
    """A zero-argument step: on CUDA a CUDA graph of fn(xs) (warmed up, and compiled, outside the
    capture), so host launch cost is not timed; elsewhere, or where capture fails, fn(xs) itself."""
    step = lambda: fn(xs)  # noqa: E731
    if kind != "cuda":
        return step, ()
    try:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                fn(xs)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            fn(xs)
        return graph.replay, ()
    except RuntimeError as error:
        torch.cuda.synchronize()
        return step, (f"no CUDA graph ({str(error)[:80]}): host launch cost included",)
