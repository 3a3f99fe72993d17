"""The bench command loses nothing: every option checked before measuring, Ctrl-C saves an
incomplete file, out-of-memory shrinks and says so, runs never overwrite each other, and the
program name matches how it was called. Tiny CPU runs; no timed assertions."""

import json
import sys

import pytest

from snippets import __main__ as entry
from snippets import results
from snippets.bench import cli, decode, memory, prefill, section, sections
from snippets.bench.device import detect
from vis import bench as bench_entry

TINY = ["--device", "cpu", "--model", "GPT-2 small", "--layers", "1", "--batches", "1,2", "--context", "8", "--repeats", "1",
        "--dtype", "fp32", "--prompts", "4,8"]


@pytest.fixture
def no_measuring(monkeypatch):
    """Fail loudly if anything is measured."""
    def forbidden(*args, **kwargs):
        raise AssertionError("measured before the options were checked")

    monkeypatch.setattr(cli, "run", forbidden)


@pytest.mark.parametrize(("argv", "message"), [
    (["--layers", "0"], "--layers must be between 1 and 12"),
    (["--layers", "-1"], "--layers must be between 1 and 12"),
    (["--layers", "13"], "--layers must be between 1 and 12"),
    (["--context", "1025"], "maximum of 1,024 tokens"),
    (["--prompts", "2048"], "maximum of 1,024 tokens"),
    (["--model", "GPT-2 smal1"], "Did you mean"),
    (["--profile", "3"], "--profile takes one of the batches measured"),
    (["--modes", "graph"], "need a CUDA GPU"),
    (["--skip", "everything"], "--skip takes"),
    (["--skip", "bandwidth,matmul,decode,attention,prefill"], "nothing left to run"),
    (["--draft", "GPT-2 small"], "--draft needs the verify section"),
    (["--verify", "--draft", "Llama-3.1-8B"], "larger than the target"),
])
def test_bad_options_exit_2_before_measuring(argv, message, no_measuring, tmp_path, capsys):
    args = [*TINY, *argv] if argv[0] != "--model" else [a for a in TINY if a not in ("GPT-2 small",)][:2] + [
        *argv, *TINY[4:]]
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*args, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_context_beyond_the_model_is_refused(no_measuring, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--device", "cpu", "--context", "140000", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "Llama-3.1-8B's maximum of 131,072 tokens" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["file", "under-file", "unwritable"])
def test_bad_out_folder_exits_2(where, no_measuring, tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    out = {"file": a_file, "under-file": a_file / "sub", "unwritable": "/proc/llm-course-bench"}[where]
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*TINY, "--out", str(out)])
    assert exit_info.value.code == 2
    assert "--out" in capsys.readouterr().err


def test_canonical_model_name_is_stored(tmp_path):
    chosen = cli.plan(cli.parser().parse_args(["--device", "cpu", "--model", "llama 3.1 8b", "--out", str(tmp_path)]))
    assert chosen.model == "Llama-3.1-8B"


def test_an_interrupt_saves_what_was_measured(one_call_timing, monkeypatch, tmp_path, capsys):
    """SIGTERM (a batch system's stop; a closed session's SIGHUP likewise) ends the run as Ctrl-C
    does (the handler raises KeyboardInterrupt): status 130, what was measured saved and marked
    incomplete. By then the earlier sections' rows are on disk already: the file is rewritten after
    every section."""
    import os
    import signal

    checkpoints = []

    def interrupt(*args, **kwargs):
        checkpoints.extend(results.load(p) for p in tmp_path.glob("*.json"))
        os.kill(os.getpid(), signal.SIGTERM)

    before = {name: signal.getsignal(getattr(signal, name)) for name in ("SIGTERM", "SIGHUP")}
    monkeypatch.setattr(prefill, "measure", interrupt)
    try:
        code = cli.main([*TINY, "--skip", "bandwidth,matmul", "--out", str(tmp_path)])
    finally:
        for name, handler in before.items():
            signal.signal(getattr(signal, name), handler)
    assert code == 130
    err = capsys.readouterr().err
    assert "interrupted during prefill" in err and "Traceback" not in err
    (path,) = tmp_path.glob("*.json")
    doc = results.load(path)
    assert doc["complete"] is False and doc["interrupted_during"] == "prefill"
    assert [r["batch"] for r in doc["decode"]] == [1, 2] and doc["prefill"] == [] and doc["attention"]
    (saved,) = checkpoints
    assert saved["complete"] is False and saved["decode"] and saved["attention"] and not list(tmp_path.glob(".*.tmp"))


def test_sigterm_and_sighup_raise_keyboard_interrupt():
    """The handlers the command installs (the run above: what happens next)."""
    import os
    import signal

    before = {name: signal.getsignal(getattr(signal, name)) for name in ("SIGTERM", "SIGHUP")}
    try:
        cli.interrupt_on_signals()
        for name in before:
            with pytest.raises(KeyboardInterrupt, match=name):
                os.kill(os.getpid(), getattr(signal, name))
    finally:
        for name, handler in before.items():
            signal.signal(getattr(signal, name), handler)


def test_a_section_that_raises_is_noted_and_the_run_goes_on(one_call_timing, monkeypatch, tmp_path, capsys):
    """A broken path (say, a kernel this torch build lacks) loses only its own section (the loop alone:
    tests/test_bench_sections.py); the command says so and exits with status 1."""
    def broken(*args, **kwargs):
        raise RuntimeError("no kernel image is available")

    monkeypatch.setattr(prefill, "measure", broken)
    code = cli.main([*TINY, "--skip", "bandwidth,matmul,attention", "--out", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "section(s) failed and were skipped: prefill" in err
    (path,) = tmp_path.glob("*.json")
    doc = results.load(path)
    assert doc["complete"] is True and [r["batch"] for r in doc["decode"]] == [1, 2] and doc["prefill"] == []
    assert "prefill failed and was skipped: RuntimeError: no kernel image is available" in doc["notes"]


def test_cpu_out_of_memory_is_recognised():
    assert memory.is_out_of_memory(RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. "
                                                "DefaultCPUAllocator: not enough memory: you tried to allocate 1 bytes."))
    assert memory.is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8"))
    assert not memory.is_out_of_memory(RuntimeError("device-side assert"))


def test_a_huge_batch_is_refused_before_its_cache_is_allocated(monkeypatch):
    """The issue's input, --batches 100000 at context 1,024, used to end in a traceback: the decode
    point now says it does not fit (and the sweep stops there with that note: tests/test_bench_sweep.py)."""
    model, _ = decode.build("GPT-2 small (gpt2)", "fp32", 1024, 1, "cpu")
    info, _ = detect("cpu")
    monkeypatch.setattr(decode, "free_bytes", lambda kind: 16 * 10**9)
    assert decode.sweep_point(info, model, "GPT-2 small (gpt2)", "fp32", 1024, 1, None).too_big() is None
    reason = decode.sweep_point(info, model, "GPT-2 small (gpt2)", "fp32", 1024, 100_000, None).too_big()
    assert reason == "its KV cache (629.1 GB) does not fit in 16.0 GB free"


def test_weights_that_do_not_fit_build_fewer_layers(monkeypatch):
    """The decision alone (decode.build_fitting), no run: 3 of 12 layers fit, said in a note."""
    cfg = decode.TransformerConfig.from_model(decode.models.get("GPT-2 small"), max_seq_len=8)
    per_layer, outside = decode.decoder_weight_bytes(cfg, 4)
    info, _ = detect("cpu")
    monkeypatch.setattr(decode, "free_bytes", lambda kind: int((outside + 3 * per_layer) / 0.6))
    model, built, notes = decode.build_fitting(info, "GPT-2 small", "fp32", 8, 12)
    assert built.n_layers == 3 and any("built 3 of 12 layers" in n for n in notes)
    monkeypatch.setattr(decode, "free_bytes", lambda kind: int(outside / 2))
    with pytest.raises(MemoryError, match="not even one layer"):
        decode.build_fitting(info, "GPT-2 small", "fp32", 8, 12)


@pytest.mark.parametrize("error", [MemoryError("not even one layer of GPT-2 small in fp32 fits"),
                                   RuntimeError("CUDA out of memory. Tried to allocate 16.00 GiB")])
def test_no_layer_fitting_skips_the_model_sections_with_a_note(monkeypatch, tmp_path, error):
    """What the run does with that decision, or with an allocation that fails anyway: a note, and
    no model section measured."""
    def none_fit(*args, **kwargs):
        raise error

    monkeypatch.setattr(decode, "build_fitting", none_fit)
    chosen = cli.plan(cli.parser().parse_args([*TINY, "--skip", "bandwidth,matmul", "--out", str(tmp_path)]))
    measured = cli.Measured()
    section.run_sections(section.Run(chosen, measured, build_decoder=sections.decoder.build), sections.ORDER)
    assert any(n.startswith("skipped decode and prefill") and str(error) in n for n in measured.notes)
    assert not measured.decode and not measured.prefill and not measured.attention


def test_second_run_does_not_overwrite_the_first(tmp_path):
    doc = results.load(sorted(p for p in __import__("pathlib").Path("docs/results").glob("*.json"))[0])
    first, _ = cli.write(doc, tmp_path, draw=bench_entry.draw)
    second, _ = cli.write(doc, tmp_path, draw=bench_entry.draw)
    assert first != second and first.exists() and second.exists()
    assert len(list(tmp_path.glob("*.json"))) == 2 and len(list(tmp_path.glob("*.svg"))) == 2


def test_help_names_the_program_it_was_called_as(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/llm-course", "bench", "--help"])
    with pytest.raises(SystemExit):
        entry.main()
    assert capsys.readouterr().out.startswith("usage: llm-course bench")
    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/llm-course", "--help"])
    assert entry.main() == 0
    assert capsys.readouterr().out.startswith("usage: llm-course bench")
    monkeypatch.setattr(sys, "argv", ["/x/snippets/__main__.py", "--help"])
    entry.main()
    assert capsys.readouterr().out.startswith("usage: python -m snippets bench")


def test_written_file_is_strict_json(tmp_path):
    """The writer alone (no run): a recorded document written back is strict JSON, atomically."""
    from pathlib import Path

    recorded = max(Path("docs/results").glob("nvidia-h200-*.json"))
    path = cli.Writer(tmp_path).save(results.load(recorded))
    text = path.read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in results file"))
    doc = json.loads(text)
    assert doc["schema"] == results.SCHEMA and doc["prefill"] and doc["environment"]["start"]["torch"]
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_full_disk_is_refused_before_writing(monkeypatch, tmp_path):
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10, 10, 10))
    with pytest.raises(OSError, match="bytes free"):
        cli.write_atomic(tmp_path / "x.json", "{}" * 1000)
    assert not list(tmp_path.iterdir())
