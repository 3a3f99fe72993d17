"""The verify section of the bench (chapter 5): T(k) rows whose bytes and FLOPs are verify_cost's
for the shape built, logits for all k, the draft's step, the E-based combination, the CLI,
old files, --skip. Tiny CPU runs; no timed assertions."""

import json
import math

import pytest
import torch

from snippets import kv_cache, models, results, roofline, speculative
from snippets.bench import cli, decode, section, verify
from snippets.bench import device as devmod
from snippets.bench.sections import decoder
from snippets.bench.sections import verify as verify_section
from snippets.transformer import KVCache

CPU, _ = devmod.detect("cpu")
GPT2 = "GPT-2 small (gpt2)"
TINY = ["--device", "cpu", "--model", GPT2, "--draft", GPT2, "--layers", "1", "--batches", "1", "--context", "8", "--repeats", "1",
        "--dtype", "fp32"]


def test_rows_count_the_chapter_formula_for_the_shape_built(one_call_timing):
    model, cfg = decode.build(GPT2, "fp32", 16, 1, "cpu")
    rows, _ = verify.measure(CPU, model, GPT2, "fp32", 8, [1, 2], [1, 4], reps=2, settle_rounds=0)
    assert [(r.batch, r.tokens) for r in rows] == [(1, 1), (1, 4), (2, 1), (2, 4)]
    m = verify.shape(GPT2, 1)
    head = models.lm_head_matmul_weights(m)
    for r in rows:
        b, k = r.batch, r.tokens
        weights = 2.0 * b * (k * (models.matmul_weights_per_token(m) - head) + k * head)  # LM head for all k
        assert r.flops == weights + b * kv_cache.chunk_attention_flops(m, 8, k)
        assert r.weight_bytes == models.step_weight_bytes(m, "fp32", b * k)
        assert r.cache_bytes == b * kv_cache.chunk_kv_bytes(m, 8, k, "fp32")
        assert r.activation_bytes == b * roofline.prompt_activation_elements(m, k, k) * 4
        assert r.layers == 1 and r.predicted_s is None and r.median_s >= r.best_s > 0
    # k = 1 is a plain decode step at context + 1, counted as chapter 1 counts it (plus activations)
    plain = roofline.decode_step(m, 2, 9, "fp32", "fp32")
    assert rows[2].flops == pytest.approx(plain.flops) and rows[2].cache_bytes == pytest.approx(plain.kv_bytes)


def test_verify_cost_agrees_with_speculative_verify_step_but_the_lm_head():
    m = models.get("Llama-3.1-8B")
    ours, theirs = verify.verify_cost(m, 4, 1024, 8), speculative.verify_step(m, 4, 1024, 8)
    assert (ours.weight_bytes, ours.kv_bytes, ours.attention_flops) == pytest.approx(
        (theirs.weight_bytes, theirs.kv_bytes, theirs.attention_flops))
    head = models.lm_head_matmul_weights(m)
    # verify_step counts the LM head for the last position (a pending fix counts all k): either way
    assert ours.weight_flops - theirs.weight_flops in (pytest.approx(0), pytest.approx(4 * 2.0 * 7 * head))


def test_logits_for_all_k_match_a_full_forward():
    model, cfg = decode.build(GPT2, "fp32", 16, 1, "cpu")
    context, k = 6, 4
    tokens = torch.randint(0, cfg.vocab_size, (2, context + k), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        full = model(tokens, torch.arange(context + k), KVCache(cfg, 2, context + k, torch.float32, "cpu"))
        cache = KVCache(cfg, 2, context + k, torch.float32, "cpu")
        model(tokens[:, :context], torch.arange(context), cache)  # the prefix, cached
        scored = model(tokens[:, context:], torch.arange(context, context + k), cache)  # one verify pass
    assert scored.shape == (2, k, cfg.vocab_size)
    torch.testing.assert_close(scored, full[:, context:], rtol=1e-4, atol=1e-4)


def test_tokens_per_s_by_hand():
    # alpha 0.8, gamma 3: E = 1 + .8 + .64 + .512 = 2.952; batch 4; draft 2 ms; T(4) = 12 ms
    assert verify.tokens_per_s(0.8, 3, 4, 0.002, 0.012) == pytest.approx(4 * 2.952 / 0.018)
    times = {1: 0.010, 2: 0.011, 4: 0.012, 8: 0.020}
    assert verify.interpolate(times, 3) == pytest.approx(0.0115)
    assert verify.interpolate(times, 6) == pytest.approx(0.016)
    (g1, r1), (g2, r2), *_ = verify.curve(times, 0.001, 1, 0.6)
    assert (g1, g2) == (1, 2) and r1 == pytest.approx(1.6 / 0.012) and r2 == pytest.approx(1.96 / 0.0135)
    assert len(verify.curve(times, 0.001, 1, 0.6)) == 7  # gamma up to the largest k - 1
    drafts = [{"mode": "eager", "batch": 1, "median_s": 0.001}]
    rows = [{"mode": "eager", "batch": 1, "tokens": k, "median_s": t} for k, t in times.items()]
    (best,) = verify.summarize(rows, drafts, alphas=(0.6,))
    expected = max(verify.curve(times, 0.001, 1, 0.6), key=lambda p: p[1])
    assert (best["gamma"], best["tokens_per_s"]) == expected
    assert best["plain_tokens_per_s"] == pytest.approx(100) and best["draft_cost"] == pytest.approx(0.1)
    assert best["speedup"] == pytest.approx(expected[1] / 100)
    # a free draft and a verify as cheap as a step: the gain model's own speedup
    flat = {1: 0.01, 17: 0.01}
    assert verify.tokens_per_s(0.9, 5, 1, 0.0, verify.interpolate(flat, 6)) * 0.01 == pytest.approx(
        speculative.speedup(0.9, 5, 0.0))


def _plan(argv, tmp_path):
    return cli.plan(cli.parser().parse_args([*argv, "--out", str(tmp_path)]))


NO_DRAFT = [a for i, a in enumerate(TINY) if a != "--draft" and (i == 0 or TINY[i - 1] != "--draft")]


def test_off_on_cpus_unless_asked_and_skippable(tmp_path):
    assert "verify" in _plan(NO_DRAFT, tmp_path).skip
    with pytest.raises(ValueError, match="--draft needs the verify section"):
        _plan(TINY, tmp_path)
    asked = _plan([*TINY, "--verify"], tmp_path)
    assert "verify" not in asked.skip and asked.verify_tokens == verify.CPU_TOKENS and asked.verify_context == 8
    assert asked.draft == GPT2
    steps = [s for s, _ in cli.step_plan(asked)]
    assert steps.count("verify") == len(verify.CPU_BATCHES) * len(verify.CPU_TOKENS)
    assert steps.count("draft") == len(verify.CPU_BATCHES)
    skipped = _plan([*NO_DRAFT, "--verify", "--skip", "verify"], tmp_path)
    assert "verify" in skipped.skip and not {"verify", "draft"} & {s for s, _ in cli.step_plan(skipped)}
    assert skipped.settings()["verify_tokens"] == [] and skipped.draft is None
    with pytest.raises(ValueError):
        _plan([*TINY, "--verify", "--draft", "no such model"], tmp_path)


def test_the_verify_and_draft_sections_write_rows_and_the_summary(one_call_timing, monkeypatch, tmp_path):
    """The two sections alone, through the loop a run uses, into the document the command writes."""
    monkeypatch.setattr(verify, "CPU_BATCHES", [1, 2])
    monkeypatch.setattr(verify, "CPU_TOKENS", [1, 2, 4])
    chosen = _plan([*TINY, "--verify", "--skip", "bandwidth,matmul,decode,prefill,mixed"], tmp_path)
    measured = section.Measured()
    section.run_sections(section.Run(chosen, measured, build_decoder=decoder.build), [verify_section.SECTION, verify_section.DRAFT])
    doc = cli.document(chosen, measured)
    assert [(r["batch"], r["tokens"]) for r in doc["verify"]] == [(1, 1), (1, 2), (1, 4), (2, 1), (2, 2), (2, 4)]
    assert doc["settings"]["verify_tokens"] == [1, 2, 4] and doc["settings"]["draft_model"] == GPT2
    assert not doc["decode"] and not doc["mixed"]
    spec = doc["speculative"]
    assert [d["batch"] for d in spec["drafts"]] == [1, 2] and spec["draft_layers"] == 1
    assert "synthetic" in spec["acceptance"]
    assert sorted((r["batch"], r["alpha"]) for r in spec["best"]) == [(b, a) for b in (1, 2) for a in verify.ALPHAS]
    for r in spec["best"]:
        times = {v["tokens"]: v["median_s"] for v in doc["verify"] if v["batch"] == r["batch"]}
        draft = next(d for d in spec["drafts"] if d["batch"] == r["batch"])
        assert math.isclose(r["draft_cost"], draft["median_s"] / times[1])
        assert 1 <= r["gamma"] <= 3
    assert any("synthetic" in n for n in doc["notes"])
    out = cli.summary(doc)
    assert "Verify passes T(k)" in out and "best γ" in out
    assert "| eager | 2 | 8 | 4 |" in results.verify_table(doc)
    json.dumps(doc, allow_nan=False)  # strict JSON


def test_skip_verify_leaves_the_section_empty(tmp_path):
    """Skipped, the verify and draft sections plan nothing and their entries are empty."""
    chosen = _plan([*NO_DRAFT, "--verify", "--skip", "verify"], tmp_path)
    assert not verify_section.SECTION.plan(chosen) and not verify_section.DRAFT.plan(chosen)
    doc = cli.document(chosen, section.Measured())
    assert doc["verify"] == [] and doc["speculative"] is None and results.verify_table(doc).count("\n") == 1
    assert results.speculative_table(doc) == ""


def test_old_documents_without_verify_still_load():
    folder = cli.Path(__file__).resolve().parents[1] / "docs" / "results"
    old = 0
    for path in folder.glob("*.json"):
        raw = json.loads(path.read_text())
        raw.pop("verify", None), raw.pop("speculative", None)
        doc = results.validate(raw)
        assert doc["verify"] == [] and doc["speculative"] is None
        if "verify_tokens" not in raw["settings"]:  # recorded before the verify section existed
            old += 1
            assert doc["settings"]["verify_tokens"] == []
    assert old, "no recorded file predates the verify section"
