"""Benchmark routines at small sizes on the CPU: counting, schema, CLI, device paths, shrinking.
These check behaviour, never speed: benchmarks are run with `python -m snippets bench`."""

import json
import re

import pytest
import torch

from snippets import __main__ as entry
from snippets.bench import bandwidth, cli, decode, matmul, results
from snippets.bench import device as devmod
from snippets.bench.memory import allocate
from snippets.bench.timing import Timing, time_fn
from vis import bench as bench_entry

CPU, _ = devmod.detect("cpu")


@pytest.mark.parametrize(("name", "spec"), [
    ("NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM"), ("NVIDIA H100 PCIe", "NVIDIA H100 PCIe"),
    ("NVIDIA H200", "NVIDIA H200 SXM"), ("NVIDIA A100-SXM4-80GB", "NVIDIA A100 80GB SXM"),
    ("NVIDIA A100-SXM4-40GB", "NVIDIA A100 40GB SXM"), ("NVIDIA A100 80GB PCIe", "NVIDIA A100 80GB PCIe"),
    ("NVIDIA A100-PCIE-40GB", "NVIDIA A100 40GB PCIe"), ("NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4090"),
    ("NVIDIA L4", "NVIDIA L4"), ("NVIDIA L40S", "NVIDIA L40S"), ("Tesla T4", "NVIDIA T4"),
])
def test_cuda_names_map_to_specs(name, spec):
    assert devmod.spec_for_name(name).name == spec


def test_unknown_device_has_no_spec():
    assert devmod.spec_for_name("Frobnitz X1") is None
    assert "unknown device" in CPU.describe()


def test_no_gpu_path_is_said_aloud(monkeypatch):
    monkeypatch.setattr(devmod, "available", lambda kind: kind == "cpu")
    info, why = devmod.detect("auto")
    assert info.kind == "cpu" and "no GPU found" in why
    with pytest.raises(ValueError, match="not available here; available: cpu"):
        devmod.detect("cuda")
    with pytest.raises(ValueError, match="choose auto"):
        devmod.detect("tpu")


def test_bytes_are_counted_honestly():
    n = 1000
    assert [bandwidth.bytes_moved(k, n) for k in ("read", "write", "copy", "triad")] == [n, n, 2 * n, 3 * n]
    with pytest.raises(ValueError):
        bandwidth.bytes_moved("scale", n)


def test_buffers_defeat_caches():
    assert bandwidth.default_buffer_bytes(CPU, quick=True) >= 4 * (CPU.cache_bytes or 0)
    gpu = devmod.DeviceInfo("cuda", "x", None, None, None, 50 * 2**20, 1)
    assert bandwidth.default_buffer_bytes(gpu, quick=True) >= 2**30


def test_shrinks_on_out_of_memory_and_says_so():
    def alloc(n, dtype, device):
        if n * 4 > 64 * 2**20:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return torch.empty(n, dtype=dtype, device=device)

    arrays, each, notes = allocate(3, 256 * 2**20, torch.float32, torch.device("cpu"), alloc=alloc)
    assert each == 64 * 2**20 and len(arrays) == 3
    assert len(notes) == 2 and all("shrinking" in n for n in notes)


def test_other_errors_are_not_swallowed():
    def alloc(n, dtype, device):
        raise RuntimeError("device-side assert")

    with pytest.raises(RuntimeError, match="assert"):
        allocate(1, 2**20, torch.float32, torch.device("cpu"), alloc=alloc)


def test_timing_helper():
    calls = []
    t = time_fn(lambda: calls.append(1), "cpu", reps=5, warmup=2)
    assert len(calls) == 7 and len(t.samples_s) == 5
    assert Timing((1.0, 2.0, 3.0)).median_s == 2.0 and Timing((1.0, 2.0, 3.0)).spread == 1.0
    with pytest.raises(ValueError):
        time_fn(lambda: None, "cpu", reps=0)


def test_small_measurements_on_cpu():
    bw, _ = bandwidth.measure(CPU, 4 * 2**20, reps=2)
    assert [r.kernel for r in bw] == ["read", "write", "copy", "triad"]
    assert all(r.GBps > 0 and r.pct_of_spec is None for r in bw)
    mm, _ = matmul.measure(CPU, [(64, 32, 16)], ["fp32"], reps=2)
    assert mm[0].flops == 2 * 64 * 32 * 16 and mm[0].best_TFLOPS >= mm[0].TFLOPS


def test_decode_counts_bytes_and_flops(one_call_timing):
    dec, _ = decode.measure(CPU, "GPT-2 small (gpt2)", "fp32", context=8, batches=[1, 2], modes=["eager"],
                            layers=1, reps=2)
    model, cfg = decode.build("GPT-2 small (gpt2)", "fp32", 8, 1, "cpu")
    weights = sum(p.numel() for p in model.parameters()) * 4 - cfg.vocab_size * cfg.d_model * 4
    kv = 2 * 1 * cfg.n_kv_heads * cfg.head_dim * 4 * 8  # one layer, 8 positions, fp32
    assert dec[0].bytes_per_step == weights + cfg.d_model * 4 + kv
    assert dec[1].bytes_per_step == weights + 2 * cfg.d_model * 4 + 2 * kv
    assert dec[1].flops_per_step == pytest.approx(2 * dec[0].flops_per_step)
    with pytest.raises(ValueError, match="need a CUDA GPU"):
        decode.measure(CPU, "GPT-2 small (gpt2)", "fp32", 8, [1], ["graph"], layers=1, reps=1)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """A whole tiny run, each step timed once (tests/conftest.py: what is written, not how fast)."""
    from conftest import _one_call
    from snippets.bench import attention, quant, sweep

    out = tmp_path_factory.mktemp("bench")
    with pytest.MonkeyPatch.context() as patch:
        for module in (sweep, attention, quant):
            patch.setattr(module, "time_repeats", _one_call)
        code = cli.main(["--device", "cpu", "--skip", "bandwidth,matmul", "--model", "GPT-2 small", "--layers", "1",
                         "--batches", "1,2", "--context", "8", "--repeats", "1", "--dtype", "fp32", "--prompts", "4,8",
                         "--out", str(out)], draw=bench_entry.draw)
    return code, out


def test_cli_writes_json_and_svg(cli_run):
    code, out = cli_run
    assert code == 0
    (path,) = out.glob("*.json")
    doc = results.load(path)
    assert doc["device"]["kind"] == "cpu" and doc["device"]["spec_name"] is None
    assert [r["batch"] for r in doc["decode"]] == [1, 2]
    assert doc["settings"]["model"] == "GPT-2 small (gpt2)" and doc["complete"] is True
    assert any("no GPU found" in n or "as asked" in n for n in doc["notes"])
    (svg,) = out.glob("*-roofline.svg")
    text = svg.read_text()
    assert 'role="img"' in text and "<title" in text


@pytest.mark.parametrize("argv", [
    ["--device", "quantum"], ["--model", "Llama-9"], ["--batches", "0"], ["--batches", "a,b"],
    ["--skip", "everything"], ["--modes", "turbo"], ["--context", "0"],
    ["--device", "cpu", "--modes", "graph", "--skip", "bandwidth,matmul"],
])
def test_cli_bad_options_exit_2(argv, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip()


def test_unknown_model_lists_known_ones(capsys, tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["--model", "Llama-9", "--out", str(tmp_path)])
    assert "Llama-3.1-8B" in capsys.readouterr().err


def test_entry_point():
    assert entry.main(["frobnicate"]) == 2
    assert entry.main([]) == 2
    assert entry.main(["--help"]) == 0


def test_results_schema_is_checked(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"schema": "other"}))
    with pytest.raises(ValueError, match="unknown schema version"):
        results.load(path)


def test_recorded_results_load_and_render():
    from pathlib import Path

    from vis import measured

    docs = results.load_folder(Path("docs/results"))
    assert any(d["device"]["kind"] == "cpu" for d in docs)
    table = results.overview_table(docs)
    assert table.count("\n") == len(docs) + 1
    for doc in docs:
        svg = measured.measured_roofline(doc, name="t")
        assert re.search(r"<title id=\"t-title\">Measured roofline", svg)


def test_options_table_lists_every_option():
    table = cli.options_table()
    flags = [o for a in cli.parser()._actions for o in a.option_strings if o not in ("-h", "--help")]
    assert all(f"`{flag}`" in table for flag in flags)
    assert f"{cli.GPU_CONTEXT:,} on GPUs" in table
