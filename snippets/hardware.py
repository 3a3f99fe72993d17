"""Accelerator specifications, one sourced row per device (data/hardware.csv).

Units: memory in GB (1e9 B), bandwidth in GB/s (1e9 B/s), throughput in TFLOPS (1e12 FLOP/s).
All tensor throughputs are *dense* (without 2:4 structured sparsity).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from snippets._data import find_by_name, optional_float, optional_int, read_csv_rows
from snippets.units import GB, GiB, TERA


@dataclass(frozen=True)
class Accelerator:
    name: str
    vendor: str
    memory_GB: float
    memory_type: str
    memory_bandwidth_GBps: float
    dense_fp16_bf16_TFLOPS: float | None
    dense_fp8_TFLOPS: float | None
    dense_int8_TOPS: float | None
    fp32_TFLOPS: float | None
    cache_MB: float | None
    TDP_W: float | None
    release_year: int | None
    sparsity_handling: str
    source: str
    verified_via: str
    notes: str

    @property
    def memory_bytes(self) -> float:
        """Memory capacity in bytes (datasheet GB x 1e9)."""
        return self.memory_GB * GB

    @property
    def usable_memory_bytes(self) -> float:
        """Bytes a program can allocate: the capacity the device reports (see REPORTED_FRACTION)."""
        return self.memory_GB * GiB * REPORTED_FRACTION

    @property
    def bandwidth_Bps(self) -> float:
        """Peak memory bandwidth in bytes/s."""
        return self.memory_bandwidth_GBps * GB

    @property
    def flagged(self) -> bool:
        """True where the data file marks a figure as unverified."""
        text = f"{self.verified_via} {self.notes}"
        return "FLAG" in text or "NOT VERIFIED" in text or "UNVERIFIED" in text

    def peak_flops(self, dtype: str = "bf16") -> float:
        """Dense peak throughput in FLOP/s for math in `dtype` ('bf16'/'fp16', 'fp8', 'int8', 'fp32')."""
        column = {
            "bf16": self.dense_fp16_bf16_TFLOPS,
            "fp16": self.dense_fp16_bf16_TFLOPS,
            "fp8": self.dense_fp8_TFLOPS,
            "int8": self.dense_int8_TOPS,
            "fp32": self.fp32_TFLOPS,
        }
        if dtype not in column:
            raise ValueError(f"unknown compute dtype {dtype!r}; allowed: {', '.join(column)}")
        value = column[dtype]
        if value is None:
            raise ValueError(f"{self.name} has no published dense {dtype} figure in the data")
        return value * TERA

    def ridge_point(self, dtype: str = "bf16") -> float:
        """FLOP/byte at which the compute roof meets the memory roof."""
        return self.peak_flops(dtype) / self.bandwidth_Bps


def _row_to_accelerator(row: dict[str, str]) -> Accelerator:
    return Accelerator(
        name=row["name"],
        vendor=row["vendor"],
        memory_GB=float(row["memory_GB"]),
        memory_type=row["memory_type"],
        memory_bandwidth_GBps=float(row["memory_bandwidth_GBps"]),
        dense_fp16_bf16_TFLOPS=optional_float(row["dense_fp16_bf16_TFLOPS"]),
        dense_fp8_TFLOPS=optional_float(row["dense_fp8_TFLOPS"]),
        dense_int8_TOPS=optional_float(row["dense_int8_TOPS"]),
        fp32_TFLOPS=optional_float(row["fp32_TFLOPS"]),
        cache_MB=optional_float(row["L2_or_last_level_cache_MB"]),
        TDP_W=optional_float(row["TDP_W"]),
        release_year=optional_int(row["release_year"]),
        sparsity_handling=row["sparsity_handling"],
        source=row["source"],
        verified_via=row["verified_via"],
        notes=row["notes"],
    )


@cache
def all_accelerators() -> tuple[Accelerator, ...]:
    """Every accelerator in the data file, in file order."""
    return tuple(_row_to_accelerator(row) for row in read_csv_rows("hardware.csv"))


def names() -> list[str]:
    return [a.name for a in all_accelerators()]


def get(name: str) -> Accelerator:
    """Look an accelerator up by name: 'A100 80GB SXM', 'nvidia h100 sxm' and 'H200' all work.

    An unknown or ambiguous name raises ValueError listing the candidates.
    """
    found = find_by_name(name, names(), "accelerator")
    return next(a for a in all_accelerators() if a.name == found)


#: Fraction of datasheet bandwidth that streaming kernels (copy, triad) sustain on HBM GPUs:
#: 88 % on an A100 80GB SXM (te42kyfo/gpu-benches, gpu-stream), 89-92 % on H100 and H200
#: (shared/reference/benchmarks.md). Use it for "realistic", never for "bound".
TYPICAL_SUSTAINED_BANDWIDTH_FRACTION = 0.90


#: Share of the nominal capacity (the datasheet's "80 GB" read as 80 GiB) that the device reports
#: as usable after the driver's reservation: PyTorch's total_memory is 85.1e9 B of 85.9e9 on an
#: A100 80GB and 150.1e9 B of 151.4e9 on an H200 (shared/reference/notes.md): 0.99.
REPORTED_FRACTION = 0.99
