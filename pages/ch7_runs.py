"""Chapter 7's disaggregation runs: the setting, the runs at each rate, and the goodput runs,
recorded outside the build.

The goodput table sizes disaggregated pools (DistServe's question) with chapter 3's simulator:
rates in steps of 10 requests/s for each setup, a rate counting only if runs of 10,000 and of
20,000 requests both meet the targets. That is about 150 simulations, a minute and a half on two cores,
too slow for a build, so they are recorded in pages/data/ch7_goodput.csv with the setting that made
them, and the page reads the file. A file made with another setting fails the build, naming the
command that records it again; tests/test_ch7_runs.py reruns the runs that decide the table (each
goodput's two and each run that stopped a search), so a change of the simulator that moves them
fails the tests (one that moves only a run below a goodput does not: record again after such a change):

    python -m pages.ch7_runs          # about a minute and a half on two cores
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable

from snippets import comm, disaggregation, hardware, kv_cache, models, serving

GPU = "H100 SXM"  # the chapter's GPU and dtype (weights, cache, activations and math)
DTYPE = "bf16"
IB = "InfiniBand NDR 400 Gb/s (ConnectX-7)"  # the KV cache crosses between servers
DIS_MODEL = "Llama-3.1-8B"  # chapter 3's model and GPU: one GPU holds it, so each pool is one GPU
DIS_WORKLOAD = dict(prompt_min=256, prompt_max=2048, output_mean=128, output_max=1024)  # chapter 3's
DIS_REQUESTS, DIS_SEED = 1000, 1
DIS_SLO = serving.SLO(ttft_s=1.0, tpot_s=0.020)  # chapter 3's targets
DIS_CHUNK = 512  # chapter 3's token budget for the colocated servers' chunked prefill
ITL_PCT, TTFT_PCT = 99, 90
# Goodput: the highest rate of a grid, below the rate at which the prefill GPUs' offered load
# reaches 1, at which 90 % of requests meet both targets, at it and at every lower rate, in runs of
# ten and of twenty times chapter 3's requests alike (long enough for a queue that keeps growing,
# the decode GPU's or a colocated server's, to miss them), for several prefill:decode ratios
# against colocated servers on as many GPUs.
GOODPUT_RATES = tuple(float(r) for r in range(10, 401, 10))
GOODPUT_ATTAINMENT = 0.9
GOODPUT_REQUESTS = 10 * DIS_REQUESTS
GOODPUT_CHECK_REQUESTS = 2 * GOODPUT_REQUESTS
SETUPS = ((1, 1), (2, 1), (3, 1), (2, 0), (3, 0), (4, 0))  # (prefill GPUs, decode GPUs); 0 decode: colocated
RECORDED = Path(__file__).parent / "data" / "ch7_goodput.csv"
COLUMNS = ("prefill_gpus", "decode_gpus", "rate_per_s", "n_requests", "met_share")
RECORD_COMMAND = "python -m pages.ch7_runs"

gpu = hardware.get(GPU)
dis_model = models.get(DIS_MODEL)
ib = comm.get_link(IB)
dis_link_GBps = ib.per_direction_GBps
# One send of a cache: a call's base latency and one network hop (NCCL's figures for InfiniBand).
dis_send_s = (ib.base_latency_us + ib.step_latency_us) * 1e-6

Runs = dict[tuple[int, int, float, int], float]  # (prefill GPUs, decode GPUs, rate, requests) -> met share


def _requests(rate: float, n_requests: int) -> tuple[serving.Request, ...]:
    return serving.Workload(n_requests=n_requests, rate_per_s=rate, seed=DIS_SEED, **DIS_WORKLOAD).requests()


def _step_time() -> serving.RooflineStepTime:
    return serving.RooflineStepTime(dis_model, gpu, DTYPE, DTYPE, DTYPE)


def _transfer_s(r: serving.Request) -> float:
    return disaggregation.kv_transfer_s(dis_model, r.prompt_tokens, DTYPE, dis_link_GBps, dis_send_s)


def served(prefill_gpus: int, decode_gpus: int, rate: float, n_requests: int) -> list[serving.Served]:
    """`n_requests` requests at `rate`: a split of `prefill_gpus`:`decode_gpus` sending whole prompts'
    caches over InfiniBand, or (decode_gpus 0) `prefill_gpus` colocated servers mixing chunks into
    their decode steps, requests dealt out in turn."""
    capacity = kv_cache.max_tokens(dis_model, gpu, DTYPE, DTYPE)
    requests = _requests(rate, n_requests)
    if decode_gpus == 0:
        return disaggregation.serve_pool(requests, serving.Policy("chunked", chunk_tokens=DIS_CHUNK), _step_time(),
                                         capacity, prefill_gpus).served
    whole = serving.Policy("whole prompts")
    return disaggregation.simulate_disaggregated(requests, whole, whole, _step_time(), capacity, prefill_gpus,
                                                 decode_gpus, _transfer_s).served


def prefill_service_s() -> float:
    """The mean time a prompt's prefill takes alone (prompt lengths do not depend on the rate)."""
    requests = _requests(1.0, DIS_REQUESTS)
    return sum(_step_time()(0, 0, ((0, r.prompt_tokens),)) for r in requests) / len(requests)


def dis_run(rate: float) -> dict:
    """One prefill GPU and one decode GPU against two colocated servers at one rate, DIS_REQUESTS
    requests: p90 TTFT, p99 inter-token latency, p90 TPOT and the share meeting both targets."""
    def stats(done):
        return {"ttft": serving.percentile([s.ttft_s for s in done], TTFT_PCT),
                "itl": serving.percentile([g for s in done for g in s.itl_s], ITL_PCT),
                "tpot": serving.percentile([s.tpot_s for s in done], TTFT_PCT),
                "met": serving.slo_attainment(done, DIS_SLO)}

    return {"split": stats(served(1, 1, rate, DIS_REQUESTS)), "together": stats(served(2, 0, rate, DIS_REQUESTS))}


def attainment(prefill_gpus: int, decode_gpus: int, rate: float, n_requests: int) -> float:
    """Share of the requests meeting both targets in one run (see `served`)."""
    return serving.slo_attainment(served(prefill_gpus, decode_gpus, rate, n_requests), DIS_SLO)


def prefill_load(prefill_gpus: int, rate: float, service_s: float) -> float:
    """The offered load of `rate` requests/s on `prefill_gpus` GPUs' prefills: each GPU's share of
    the rate x the mean time a prefill takes alone. At 1 or more the queue grows without end."""
    return rate * service_s / prefill_gpus


def goodput(prefill_gpus: int, decode_gpus: int, met: Callable[[int, int, float, int], float],
            service_s: float) -> float:
    """The highest rate of GOODPUT_RATES below the prefill GPUs' saturation at which `met` gives at
    least GOODPUT_ATTAINMENT, at it and at every lower rate, for GOODPUT_REQUESTS and
    GOODPUT_CHECK_REQUESTS requests alike (0 if none)."""
    best = 0.0
    for rate in (r for r in GOODPUT_RATES if prefill_load(prefill_gpus, r, service_s) < 1):
        if any(met(prefill_gpus, decode_gpus, rate, n) < GOODPUT_ATTAINMENT
               for n in (GOODPUT_REQUESTS, GOODPUT_CHECK_REQUESTS)):
            break
        best = rate
    return best


def setting() -> dict:
    """Everything the recorded runs depend on besides the simulator's code: the page's choices, the
    model's config and the GPU's numbers as the data files give them, as JSON reads them back."""
    gpu_numbers = {k: v for k, v in dataclasses.asdict(gpu).items() if not isinstance(v, str) or k == "name"}
    model_config = {k: v for k, v in dataclasses.asdict(dis_model).items() if k not in ("source", "notes")}
    chosen = {"model": model_config, "gpu": gpu_numbers, "dtype": DTYPE, "workload": DIS_WORKLOAD, "seed": DIS_SEED,
              "capacity_tokens": kv_cache.max_tokens(dis_model, gpu, DTYPE, DTYPE),
              "slo": [DIS_SLO.ttft_s, DIS_SLO.tpot_s], "chunk_tokens": DIS_CHUNK, "link_GBps": dis_link_GBps,
              "send_s": dis_send_s, "rates": list(GOODPUT_RATES), "attainment": GOODPUT_ATTAINMENT,
              "requests": [GOODPUT_REQUESTS, GOODPUT_CHECK_REQUESTS], "setups": [list(s) for s in SETUPS]}
    return json.loads(json.dumps(chosen, sort_keys=True, default=str))


def _record_setup(setup: tuple[int, int]) -> Runs:
    """The runs the goodput search of `setup` reads, in the order it reads them."""
    runs: Runs = {}

    def met(p: int, d: int, rate: float, n: int) -> float:
        runs[(p, d, rate, n)] = attainment(p, d, rate, n)
        return runs[(p, d, rate, n)]

    goodput(*setup, met, prefill_service_s())
    return runs


def record(path: Path = RECORDED, workers: int | None = None) -> Runs:
    """Run the goodput searches (a setup per process) and write their runs to `path`."""
    with ProcessPoolExecutor(workers) as pool:
        runs = {k: v for found in pool.map(_record_setup, SETUPS) for k, v in found.items()}
    lines = [f"# Chapter 7's goodput runs, recorded by `{RECORD_COMMAND}` (pages/ch7_runs.py): the share of",
             "# requests meeting both targets in each run the goodput search reads. Do not edit by hand.",
             f"# setting: {json.dumps(setting(), sort_keys=True)}", ",".join(COLUMNS)]
    lines += [f"{p},{d},{rate:g},{n},{share!r}" for (p, d, rate, n), share in runs.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return runs


def read(path: Path = RECORDED) -> Runs:
    """The recorded runs, checked: made with this setting, every row whole and in range."""
    again = f"record them again: {RECORD_COMMAND}"
    if not path.is_file():
        raise ValueError(f"{path}: chapter 7's goodput runs are missing; {again}")
    text = path.read_text(encoding="utf-8")
    found = [line for line in text.splitlines() if line.startswith("# setting: ")]
    if not found or json.loads(found[0].removeprefix("# setting: ")) != setting():
        raise ValueError(f"{path}: made with another setting than pages/ch7_runs.py's; {again}")
    rows = csv.reader(io.StringIO(text))
    runs: Runs = {}
    for line, row in enumerate(rows, 1):
        if not row or row[0].startswith("#") or tuple(row) == COLUMNS:
            continue
        try:
            p, d, rate, n, share = int(row[0]), int(row[1]), float(row[2]), int(row[3]), float(row[4])
        except (ValueError, IndexError):
            raise ValueError(f"{path}:{line}: expected {', '.join(COLUMNS)}, got {row!r}; {again}") from None
        if len(row) != len(COLUMNS) or (p, d) not in SETUPS or rate not in GOODPUT_RATES or not 0 <= share <= 1 \
                or n not in (GOODPUT_REQUESTS, GOODPUT_CHECK_REQUESTS) or (p, d, rate, n) in runs:
            raise ValueError(f"{path}:{line}: not a run of this setting, or repeated: {row!r}; {again}")
        runs[(p, d, rate, n)] = share
    return runs


def recorded_met(runs: Runs, path: Path = RECORDED) -> Callable[[int, int, float, int], float]:
    """`met` for `goodput`, from the runs recorded in `path`; a run they lack fails naming the command."""
    def met(p: int, d: int, rate: float, n: int) -> float:
        if (p, d, rate, n) not in runs:
            raise ValueError(f"{path}: no run of {p}:{d} at {rate:g} requests/s, {n:,} requests; "
                            f"record them again: {RECORD_COMMAND}")
        return runs[(p, d, rate, n)]
    return met


if __name__ == "__main__":
    print(f"recording chapter 7's goodput runs into {RECORDED} (about a minute and a half on two cores) ...", flush=True)
    print(f"{len(record())} runs recorded", file=sys.stderr)
