"""Accelerator specifications, one sourced row per device (data/hardware.csv).

Units: memory capacity in GiB (see MEMORY_CAPACITY_UNIT_BYTES), bandwidth in GB/s (1e9 B/s),
throughput in TFLOPS (1e12 FLOP/s). All tensor throughputs are *dense* (without 2:4
structured sparsity).

How capacity is read: the datasheet's "80 GB" (the `memory_GB` column, kept as printed) is
80 GiB of DRAM. DRAM chips and HBM stacks come in binary densities, so HBM, GDDR and LPDDR
capacities are all binary: an A100 80GB shows 81,920 MiB in `nvidia-smi` (85,899,345,920 B),
an RTX 4090 24,564 of 24,576 MiB, and an H200's "141 GB" is 150.1e9 B (139.8 GiB) to
PyTorch, more than 141e9. Reading "80 GB" as 80e9 B would understate it by 7 %.
The data file's schema accepts only HBM, GDDR and LPDDR memory types, so the rule covers
every row.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path

from snippets._data import find_by_name, read_text
from snippets.errors import UnknownName
from snippets.schema import HardwareRow, parse_rows
from snippets.units import GB, TERA, GiB, dtype_name, require_number, require_positive

#: Bytes per unit of the datasheet's memory capacity: GiB (DRAM capacities are binary).
MEMORY_CAPACITY_UNIT_BYTES = GiB

#: Fraction of capacity the driver keeps for itself before a program allocates: PyTorch's
#: total_memory is 85.1e9 B of an A100 80GB's 85.9e9 B (0.991) and 150.1e9 B of an H200's
#: 141 GiB = 151.4e9 B (0.991) (shared/reference/notes.md). It applies to what the device shows
#: (Accelerator.visible_memory_bytes): data-centre GDDR parts, ECC on by default, first lose
#: the data file's ecc_reserved_fraction (1/16: an L4 shows 23,034 of 24,576 MiB). Apple GPUs
#: get ~75 % of unified memory by default.
DRIVER_RESERVE_FRACTION = 0.01

#: Which column holds the dense throughput of math in each compute dtype (canonical names).
COMPUTE_COLUMNS = {
    "bf16": "dense_fp16_bf16_TFLOPS",
    "fp16": "dense_fp16_bf16_TFLOPS",
    "fp8": "dense_fp8_TFLOPS",
    "int8": "dense_int8_TOPS",
    "fp32": "fp32_TFLOPS",
}


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
    ecc_reserved_fraction: float = 0.0  # share of capacity ECC (on by default) keeps; see the data file
    ecc_source: str = ""

    def __post_init__(self) -> None:
        require_positive("memory_GB", self.memory_GB)
        require_positive("memory_bandwidth_GBps", self.memory_bandwidth_GBps)
        for column in sorted({*COMPUTE_COLUMNS.values(), "cache_MB", "TDP_W"}):
            if getattr(self, column) is not None:
                require_positive(column, getattr(self, column))
        ecc = require_number("ecc_reserved_fraction", self.ecc_reserved_fraction)
        if not 0 <= ecc < 0.5:
            raise ValueError(f"ecc_reserved_fraction must be in [0, 0.5), got {self.ecc_reserved_fraction!r}")

    @property
    def memory_bytes(self) -> float:
        """Memory capacity in bytes: the datasheet figure read as GiB (memory_GB x 2**30).

        An A100 80GB: 80 x 2**30 = 85,899,345,920 B, what `nvidia-smi` shows (81,920 MiB).
        """
        return self.memory_GB * MEMORY_CAPACITY_UNIT_BYTES

    @property
    def visible_memory_bytes(self) -> float:
        """Capacity less what ECC keeps with its default setting: the total `nvidia-smi` shows.

        An A100 80GB (HBM): 81,920 MiB, all of it. An L4 (GDDR6, ECC on): 24,576 MiB x 15/16 =
        23,040 MiB, against 23,034 MiB shown.
        """
        return self.memory_bytes * (1 - self.ecc_reserved_fraction)

    @property
    def ecc_on(self) -> bool:
        """True where ECC, on by default, takes part of the capacity (data-centre GDDR)."""
        return self.ecc_reserved_fraction > 0

    def usable_memory_bytes(self, reserve_fraction: float = DRIVER_RESERVE_FRACTION) -> float:
        """What a program can allocate: the visible capacity (less ECC's share on data-centre
        GDDR) less the driver's reserve, about what PyTorch's total_memory reports (A100 80GB:
        85.0e9 B against 85.1e9 measured). Every "fits" in the course uses this. See
        DRIVER_RESERVE_FRACTION and visible_memory_bytes."""
        reserve = require_number("reserve_fraction", reserve_fraction)
        if not 0 <= reserve < 1:
            raise ValueError(f"reserve_fraction must be in [0, 1), got {reserve_fraction!r}")
        return self.visible_memory_bytes * (1 - reserve)

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
        """Dense peak throughput in FLOP/s for math in `dtype` ('bf16'/'fp16', 'fp8', 'int8', 'fp32';
        any case)."""
        name = dtype_name(dtype)
        if name not in COMPUTE_COLUMNS:
            raise UnknownName(f"no compute throughput for dtype {dtype!r}; allowed: {', '.join(COMPUTE_COLUMNS)}")
        value = getattr(self, COMPUTE_COLUMNS[name])
        if value is None:
            raise ValueError(f"{self.name} has no published dense {name} figure in the data")
        return value * TERA

    def ridge_point(self, dtype: str = "bf16") -> float:
        """FLOP/byte at which the compute roof meets the memory roof."""
        return self.peak_flops(dtype) / self.bandwidth_Bps


def _row_to_accelerator(row: HardwareRow) -> Accelerator:
    """The validated row's cells, by name (the CSV's L2 column is the dataclass's cache_MB)."""
    cells = row.model_dump()
    cells["cache_MB"] = cells.pop("L2_or_last_level_cache_MB")
    cells["ecc_reserved_fraction"] = cells["ecc_reserved_fraction"] or 0.0  # blank: no ECC reserve
    return Accelerator(**{f.name: cells[f.name] for f in fields(Accelerator)})


def load_accelerators(text: str | None = None, path: str | Path | None = None) -> tuple[Accelerator, ...]:
    """Accelerators from CSV `text`, a file at `path`, or (neither) the packaged hardware.csv,
    validated against schema.HardwareRow; a bad cell raises schema.DataFileError."""
    csv_text, file = read_text("hardware.csv", text, path)
    return tuple(_row_to_accelerator(row) for row in parse_rows(csv_text, file, HardwareRow))


@cache
def all_accelerators() -> tuple[Accelerator, ...]:
    """Every accelerator in the packaged data file, in file order (validated once, then cached)."""
    return load_accelerators()


def names() -> list[str]:
    return [a.name for a in all_accelerators()]


def get(name: str) -> Accelerator:
    """Look an accelerator up by name: 'A100 80GB SXM', 'nvidia h100 sxm' and 'H200' all work.

    An unknown or ambiguous name raises UnknownName (a KeyError and a ValueError) listing
    close matches and the candidates.
    """
    found = find_by_name(name, names(), "accelerator")
    return next(a for a in all_accelerators() if a.name == found)


#: Fraction of datasheet bandwidth that streaming kernels (copy, triad) sustain on HBM GPUs:
#: 88 % on an A100 80GB SXM (te42kyfo/gpu-benches, gpu-stream), 89-92 % on H100 and H200
#: (shared/reference/benchmarks.md). Use it for "realistic", never for "bound".
TYPICAL_SUSTAINED_BANDWIDTH_FRACTION = 0.90
