"""The mixed section of the bench: a decode batch plus a prefill chunk timed as one step, its
bytes and FLOPs from roofline.mixed_step for the shape built, off by default on CPUs, skippable,
saved in the results file. Tiny CPU runs; no timed assertions."""

import json
from dataclasses import replace

import pytest
import torch

from snippets import models, results, roofline
from snippets.bench import cli, decode, mixed, section
from snippets.bench import device as devmod
from snippets.bench.sections import decoder
from snippets.bench.sections import mixed as mixed_section
from snippets.transformer import KVCache, last_token_logits

CPU, _ = devmod.detect("cpu")
TINY = ["--device", "cpu", "--model", "GPT-2 small", "--layers", "1", "--batches", "1", "--context", "8", "--repeats", "1",
        "--dtype", "fp32"]


def test_rows_count_what_roofline_mixed_step_counts(one_call_timing):
    model, cfg = decode.build("GPT-2 small (gpt2)", "fp32", 16, 1, "cpu")
    rows, _ = mixed.measure(CPU, model, "GPT-2 small (gpt2)", "fp32", 8, [1, 2], [0, 4], reps=2, settle_rounds=0)
    assert [(r.batch, r.chunk_tokens, r.mode) for r in rows] == [(1, 0, "eager"), (1, 4, "eager"), (2, 0, "eager"),
                                                                  (2, 4, "eager")]
    for r in rows:
        step = mixed.step_cost("GPT-2 small (gpt2)", 1, r.batch, 8, r.chunk_tokens, 0, "fp32")
        assert (r.weight_bytes, r.cache_bytes, r.activation_bytes, r.flops) == (
            step.weight_bytes, step.kv_bytes, step.activation_bytes, step.flops)
        assert r.layers == 1 and r.predicted_s is None and r.median_s >= r.best_s > 0
    decode_only = roofline.decode_step(replace(models.get("GPT-2 small (gpt2)"), n_layers=1), 2, 8, "fp32", "fp32")
    assert rows[2].flops == decode_only.flops and rows[2].activation_bytes == 0
    assert rows[3].flops > rows[2].flops and rows[3].bytes > rows[2].bytes


def test_chunk_logits_are_the_last_row_of_the_full_forward():
    model, cfg = decode.build("GPT-2 small (gpt2)", "fp32", 16, 1, "cpu")
    tokens, positions = torch.randint(0, cfg.vocab_size, (1, 6)), torch.arange(6)
    with torch.inference_mode():
        full = model(tokens, positions, KVCache(cfg, 1, 6, torch.float32, "cpu"))
        last = last_token_logits(model, tokens, positions, KVCache(cfg, 1, 6, torch.float32, "cpu"))
    assert last.shape == (1, 1, cfg.vocab_size)
    torch.testing.assert_close(last, full[:, -1:])


def test_graph_mode_needs_cuda():
    model, _ = decode.build("GPT-2 small (gpt2)", "fp32", 16, 1, "cpu")
    with pytest.raises(ValueError, match="mixed modes graph and compile need a CUDA GPU"):
        mixed.measure(CPU, model, "GPT-2 small (gpt2)", "fp32", 8, [1], [0], modes=["graph"], reps=1)


def _plan(argv, tmp_path):
    return cli.plan(cli.parser().parse_args([*argv, "--out", str(tmp_path)]))


def test_off_on_cpus_unless_asked_and_skippable(tmp_path):
    assert "mixed" in _plan(TINY, tmp_path).skip
    asked = _plan([*TINY, "--mixed"], tmp_path)
    assert "mixed" not in asked.skip and asked.mixed_chunks == mixed.CPU_CHUNKS
    assert [s for s, _ in cli.step_plan(asked)].count("mixed") == len(mixed.CPU_BATCHES) * len(mixed.CPU_CHUNKS)
    skipped = _plan([*TINY, "--mixed", "--skip", "mixed"], tmp_path)
    assert "mixed" in skipped.skip and "mixed" not in [s for s, _ in cli.step_plan(skipped)]


def test_the_mixed_section_writes_its_rows(one_call_timing, monkeypatch, tmp_path):
    """The section alone, through the loop a run uses, into the document the command writes."""
    monkeypatch.setattr(mixed, "CPU_BATCHES", [1, 2])
    monkeypatch.setattr(mixed, "CPU_CHUNKS", [0, 4])
    chosen = _plan([*TINY, "--mixed", "--skip", "bandwidth,matmul,decode,prefill"], tmp_path)
    measured = section.Measured()
    section.run_sections(section.Run(chosen, measured, build_decoder=decoder.build), [mixed_section.SECTION])
    doc = cli.document(chosen, measured)
    assert [(r["batch"], r["chunk_tokens"]) for r in doc["mixed"]] == [(1, 0), (1, 4), (2, 0), (2, 4)]
    assert doc["settings"]["mixed_chunks"] == [0, 4] and not doc["decode"]
    assert any("in one forward pass" in n for n in doc["notes"])
    assert all(r["one_pass"] and len(r["repeat_medians_s"]) == 1 for r in doc["mixed"])
    assert "chunk tokens" in cli.summary(doc)
    assert "| eager | one | 2 | 8 | 4 |" in results.mixed_table(doc)
    json.dumps(doc, allow_nan=False)  # strict JSON


def test_old_documents_without_mixed_still_load():
    doc = results.load(cli.Path(__file__).resolve().parents[1] / "docs" / "results" / "nvidia-h200-2026-11-26.json")
    raw = {k: v for k, v in doc.items() if k != "mixed"}
    assert results.validate(raw)["mixed"] == []
