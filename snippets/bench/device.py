"""Which device to measure, and what its datasheet says (when we know it)."""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from snippets import hardware

#: torch.cuda.get_device_name() patterns -> the data file's accelerator name.
CUDA_NAMES: tuple[tuple[str, str], ...] = (
    (r"H200", "H200 SXM"),
    (r"H100.*NVL", "H100 NVL"),
    (r"H100.*PCIe", "H100 PCIe"),
    (r"H100", "H100 SXM"),  # "NVIDIA H100 80GB HBM3" is the SXM part
    (r"A100.*SXM.*80GB|A100.*80GB.*SXM", "A100 80GB SXM"),
    (r"A100.*SXM.*40GB|A100.*40GB.*SXM|A100-SXM4", "A100 40GB SXM"),
    (r"A100.*80GB", "A100 80GB PCIe"),
    (r"A100", "A100 40GB PCIe"),
    (r"RTX 4090", "RTX 4090"),
    (r"RTX 3090", "RTX 3090"),
    (r"L40S", "L40S"),
    (r"\bL4\b", "L4"),
    (r"A10G", "A10G"),
    (r"\bA10\b", "NVIDIA A10"),
    (r"\bT4\b", "T4"),
    (r"V100", "V100 SXM2 32GB"),
    (r"MI300X", "MI300X"),
)


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # "cuda", "mps" or "cpu"
    name: str  # as the system reports it
    spec: hardware.Accelerator | None  # the data file's row, when the device is recognised
    memory_bytes: int | None
    bandwidth_from_clock_GBps: float | None  # CUDA: memory clock x 2 x bus width / 8
    cache_bytes: int | None  # L2 (GPU) or last-level cache (CPU)
    threads: int

    @property
    def torch_device(self) -> torch.device:
        return torch.device(self.kind)

    def describe(self) -> str:
        spec = f"spec: {self.spec.name}" if self.spec else "unknown device: no % of spec"
        return f"{self.kind}: {self.name} ({spec})"


def spec_for_name(device_name: str) -> hardware.Accelerator | None:
    for pattern, spec_name in CUDA_NAMES:
        if re.search(pattern, device_name, re.I):
            return hardware.get(spec_name)
    return None


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_last_level_cache_bytes() -> int | None:
    """Largest cache level reported by Linux sysfs, in bytes (None when unknown)."""
    sizes = []
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            text = (index / "size").read_text().strip()
        except OSError:
            continue
        match = re.fullmatch(r"(\d+)([KMG]?)", text)
        if match:
            sizes.append(int(match.group(1)) * {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}[match.group(2)])
    return max(sizes) if sizes else None


def cpu_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def available(kind: str) -> bool:
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    return kind == "cpu"


def detect(requested: str = "auto") -> tuple[DeviceInfo, str]:
    """The device to measure and a sentence saying why it was chosen.

    "auto" prefers CUDA, then MPS, then the CPU (said aloud). Asking for a device that is not
    there raises ValueError naming the ones that are.
    """
    kinds = ("cuda", "mps", "cpu")
    if requested not in ("auto", *kinds):
        raise ValueError(f"unknown device {requested!r}; choose auto, {', '.join(kinds)}")
    present = [k for k in kinds if available(k)]
    if requested != "auto" and requested not in present:
        raise ValueError(f"device {requested!r} is not available here; available: {', '.join(present)}")
    kind = present[0] if requested == "auto" else requested
    if kind == "cuda":
        props = torch.cuda.get_device_properties(0)
        clock_khz = getattr(props, "memory_clock_rate", 0)
        bus_bits = getattr(props, "memory_bus_width", 0)
        from_clock = clock_khz * 1e3 * 2 * bus_bits / 8 / 1e9 if clock_khz and bus_bits else None
        info = DeviceInfo("cuda", props.name, spec_for_name(props.name), props.total_memory, from_clock,
                          getattr(props, "L2_cache_size", None), props.multi_processor_count)
    elif kind == "mps":
        info = DeviceInfo("mps", f"Apple GPU ({platform.machine()})", None, cpu_memory_bytes(), None, None,
                          torch.get_num_threads())
    else:
        info = DeviceInfo("cpu", cpu_name(), None, cpu_memory_bytes(), None, cpu_last_level_cache_bytes(),
                          torch.get_num_threads())
    why = "as asked" if requested != "auto" else (
        "found a CUDA GPU" if kind == "cuda" else
        "found Apple's MPS" if kind == "mps" else
        "no GPU found: measuring the CPU instead")
    return info, why


def _nvml_readings(index: int = 0) -> dict:
    """Clocks, power limit, temperature and driver from NVML, when pynvml is importable (never required)."""
    try:
        import pynvml
    except ImportError:
        return {}
    try:
        pynvml.nvmlInit()
        try:
            h = pynvml.nvmlDeviceGetHandleByIndex(index)
            driver = pynvml.nvmlSystemGetDriverVersion()
            return {
                "driver": driver.decode() if isinstance(driver, bytes) else driver,
                "sm_clock_MHz": pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM),
                "sm_clock_max_MHz": pynvml.nvmlDeviceGetMaxClockInfo(h, pynvml.NVML_CLOCK_SM),
                "memory_clock_MHz": pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_MEM),
                "power_limit_W": pynvml.nvmlDeviceGetEnforcedPowerLimit(h) / 1e3,
                "power_draw_W": pynvml.nvmlDeviceGetPowerUsage(h) / 1e3,
                "temperature_C": pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU),
            }
        finally:
            pynvml.nvmlShutdown()
    except Exception as error:  # noqa: BLE001 - readings are extras; a driver quirk must not stop the run
        return {"nvml_error": f"{type(error).__name__}: {error}"[:200]}


def environment(info: DeviceInfo) -> dict:
    """What the run ran on, beyond the device's name: versions, memory capacity and (CUDA, with
    pynvml) clocks and power limit. Taken at the start and the end of a run."""
    env: dict = {"torch": torch.__version__, "python": platform.python_version(),
                 "memory_capacity_bytes": info.memory_bytes}
    if info.kind == "cuda":
        props = torch.cuda.get_device_properties(0)
        env.update({"cuda": torch.version.cuda, "memory_capacity_bytes": props.total_memory,
                    "compute_capability": f"{props.major}.{props.minor}"})
        readings = _nvml_readings(0)
        if "driver" not in readings:
            try:  # torch's own binding (private, hence the guard): e.g. 12080 for driver API 12.8
                version = torch._C._cuda_getDriverVersion()
                readings["driver_api"] = f"{version // 1000}.{version % 1000 // 10}"
            except Exception:  # noqa: BLE001
                pass
        env.update(readings)
    elif info.kind == "cpu":
        env["threads"] = torch.get_num_threads()
    return env


def summarize_samples(samples: list[dict]) -> dict:
    """Min, median and max of each reading over a section's samples (NVML readings: clocks in MHz,
    power in W, temperature in C), plus how many samples there were."""
    import statistics

    out: dict = {"samples": len(samples)}
    for key in sorted({k for s in samples for k in s}):
        values = [s[key] for s in samples if key in s]
        out.update({f"{key}_min": min(values), f"{key}_median": statistics.median(values), f"{key}_max": max(values)})
    return out


class ClockSampler:
    """Reads the GPU's SM and memory clocks, power draw and temperature every `interval_s` on a
    thread while a section runs (NVML via pynvml, where importable; nothing elsewhere).
    `section(name)` starts a section's samples; `stop()` returns {name: summary} of every section."""

    def __init__(self, kind: str, interval_s: float = 0.25):
        import threading

        self.summaries: dict[str, dict] = {}
        self._name, self._samples, self._lock = None, [], threading.Lock()
        self._stop = threading.Event()
        self._handle, self._nvml = None, None
        if kind == "cuda":
            try:
                import pynvml

                pynvml.nvmlInit()
                self._nvml, self._handle = pynvml, pynvml.nvmlDeviceGetHandleByIndex(0)
            except Exception:  # noqa: BLE001 - readings are extras: no NVML, no samples
                self._nvml = None
        self._thread = threading.Thread(target=self._run, args=(interval_s,), daemon=True)
        if self._nvml is not None:
            self._thread.start()

    def _read(self) -> dict:
        n, h = self._nvml, self._handle
        return {"sm_clock_MHz": n.nvmlDeviceGetClockInfo(h, n.NVML_CLOCK_SM),
                "memory_clock_MHz": n.nvmlDeviceGetClockInfo(h, n.NVML_CLOCK_MEM),
                "power_W": n.nvmlDeviceGetPowerUsage(h) / 1e3,
                "temperature_C": n.nvmlDeviceGetTemperature(h, n.NVML_TEMPERATURE_GPU)}

    def _run(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                reading = self._read()
            except Exception:  # noqa: BLE001
                continue
            with self._lock:
                if self._name is not None:
                    self._samples.append(reading)

    def section(self, name: str | None) -> None:
        """Close the current section's samples (summarised) and start `name`'s (None: none)."""
        with self._lock:
            if self._name is not None and self._samples:
                self.summaries[self._name] = summarize_samples(self._samples)
            self._name, self._samples = name, []

    def stop(self) -> dict[str, dict]:
        self.section(None)
        self._stop.set()
        if self._nvml is not None:
            self._thread.join(timeout=2)
            try:
                self._nvml.nvmlShutdown()
            except Exception:  # noqa: BLE001
                pass
        return dict(self.summaries)
