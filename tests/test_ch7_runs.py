"""Chapter 7's recorded goodput runs: the file is checked, and the runs that decide the table
are run again and must give the recorded shares (the simulator is deterministic)."""

from __future__ import annotations

import pytest

from pages import ch7_runs

RUNS = ch7_runs.read()
SERVICE_S = ch7_runs.prefill_service_s()
GOODPUT = {s: ch7_runs.goodput(*s, ch7_runs.recorded_met(RUNS), SERVICE_S) for s in ch7_runs.SETUPS}
# The two runs at each goodput that the table prints, and each run that stopped a search.
DECIDING = [(*s, g, n) for s, g in GOODPUT.items() for n in (ch7_runs.GOODPUT_REQUESTS, ch7_runs.GOODPUT_CHECK_REQUESTS)] + [
    k for k, share in RUNS.items() if share < ch7_runs.GOODPUT_ATTAINMENT]


def test_the_file_holds_every_run_the_search_reads_and_nothing_else():
    read = {}

    def met(*k):
        read[k] = RUNS[k]
        return read[k]

    for setup in ch7_runs.SETUPS:
        ch7_runs.goodput(*setup, met, SERVICE_S)
    assert read == RUNS


@pytest.mark.parametrize("run", DECIDING, ids=lambda k: f"{k[0]}:{k[1]}-{k[2]:g}-{k[3]}")
def test_a_deciding_run_gives_its_recorded_share(run):
    assert ch7_runs.attainment(*run) == RUNS[run], f"the simulator changed: {ch7_runs.RECORD_COMMAND}"


def test_the_search_stops_at_the_first_rate_that_misses_or_at_saturation():
    shares = {10.0: 0.95, 20.0: 0.91, 30.0: 0.89, 40.0: 0.99}
    met = lambda p, d, rate, n: shares.get(rate, 1.0)  # noqa: E731
    assert ch7_runs.goodput(1, 1, met, service_s=0.001) == 20.0  # 30 misses; 40 does not count
    assert ch7_runs.goodput(1, 1, lambda *k: 1.0, service_s=1 / 35) == 30.0  # 40 would load it past 1
    assert ch7_runs.goodput(2, 1, lambda *k: 1.0, service_s=1 / 35) == 60.0  # two prefill GPUs share the load


def _write(tmp_path, edit):
    text = ch7_runs.RECORDED.read_text(encoding="utf-8")
    path = tmp_path / "ch7_goodput.csv"
    path.write_text(edit(text), encoding="utf-8")
    return path


@pytest.mark.parametrize("edit, says", [
    (lambda t: t.replace('"seed": 1', '"seed": 2'), "another setting"),
    (lambda t: t.replace('"memory_bandwidth_GBps": 3350.0', '"memory_bandwidth_GBps": 3352.0'), "another setting"),
    (lambda t: t.replace("\n1,1,10,10000,1.0\n", "\n1,1,10,10000,1.5\n"), ":5: not a run of this setting"),
    (lambda t: t.replace("\n1,1,10,10000,1.0\n", "\n1,1,10,10000,1.0\n1,1,10,10000,1.0\n"), ":6: not a run"),
    (lambda t: t.replace("\n1,1,10,10000,1.0\n", "\n1,1,ten,10000,1.0\n"), ":5: expected prefill_gpus"),
    (lambda t: t.replace("\n1,1,10,10000,1.0\n", "\n7,1,10,10000,1.0\n"), ":5: not a run"),
])
def test_a_bad_file_names_its_line_and_the_command_that_records_it(tmp_path, edit, says):
    with pytest.raises(ValueError, match=says) as error:
        ch7_runs.read(_write(tmp_path, edit))
    assert ch7_runs.RECORD_COMMAND in str(error.value)


def test_a_missing_file_or_run_names_the_command(tmp_path):
    with pytest.raises(ValueError, match="missing.*python -m pages.ch7_runs"):
        ch7_runs.read(tmp_path / "none.csv")
    with pytest.raises(ValueError, match="no run of 1:1 at 400 requests/s.*python -m pages.ch7_runs"):
        ch7_runs.recorded_met(RUNS)(1, 1, 400.0, 10_000)
