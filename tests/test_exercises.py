"""End-of-chapter exercises: every answer is recomputed and its verdicts asserted, a data change
that flips a verdict fails, and every exercise is on its page and in the index, collapsed."""

import dataclasses
import importlib
import re
from pathlib import Path

import pytest
from site_pages import built_html

from pages import exercises
from pages.claims import ClaimFailed
from snippets import hardware, models

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
ALL = exercises.all_exercises()


def section(page: str, ex: exercises.Exercise) -> str:
    """The Markdown of one exercise: from its heading to the next heading."""
    text = (DOCS / page).read_text(encoding="utf-8")
    start = text.index(ex.heading)
    following = re.search(r"^#{1,3} ", text[start + len(ex.heading):], re.M)
    return text[start: start + len(ex.heading) + following.start()] if following else text[start:]


@pytest.mark.parametrize("name", [m.__name__.split(".")[-1] for m in exercises.exercise_modules()])
def test_every_answer_is_recomputed_and_its_claims_hold(name):
    module = importlib.reload(importlib.import_module(f"pages.{name}"))
    assert module.EXERCISES


@pytest.mark.parametrize("name", [m.__name__.split(".")[-1] for m in exercises.exercise_modules()])
def test_each_chapter_has_four_to_six_exercises_of_mixed_kinds(name):
    module = importlib.import_module(f"pages.{name}")
    kinds = [ex.kind for ex in module.EXERCISES]
    assert 4 <= len(kinds) <= 6
    assert "practical" in kinds and "judgement" in kinds
    chapter = module.EXERCISES[0].chapter
    assert [ex.id for ex in module.EXERCISES] == [f"{chapter}.{i}" for i in range(1, len(kinds) + 1)]


@pytest.mark.parametrize("page,ex", ALL, ids=[ex.id for _, ex in ALL])
def test_exercise_names_real_unflagged_hardware_and_models(page, ex):
    assert ex.gpus and ex.models
    for name in ex.gpus:
        assert not hardware.get(name).flagged, f"{ex.id} relies on the flagged row {name}"
    for name in ex.models:
        models.get(name)


@pytest.mark.parametrize("page,ex", ALL, ids=[ex.id for _, ex in ALL])
def test_exercise_is_on_its_page_with_a_collapsed_computed_answer(page, ex):
    text = section(page, ex)
    assert text.count('??? success "Answer"') == 1, f"{ex.id}: one collapsed answer block"
    question, answer = text.split('??? success "Answer"')
    assert "#!val " in question and "#!val " in answer
    body = [line for line in answer.splitlines()[1:] if line.strip()]
    assert body and all(line.startswith("    ") for line in body), f"{ex.id}: the answer is indented under its block"
    assert not any(line.lstrip().startswith("```") for line in body), f"{ex.id}: no code fence inside the answer"


def test_index_links_every_exercise_to_its_anchor():
    index = exercises.index_table()
    for page, ex in ALL:
        assert f"]({exercises.page_url(page)}#{ex.anchor})" in index
        assert ex.title in index


def test_an_exercise_kind_is_checked():
    with pytest.raises(ValueError, match="kind"):
        exercises.Exercise("1.9", 1, "t", "t", "essay", (), ())
    with pytest.raises(ValueError, match="chapter"):
        exercises.Exercise("2.1", 1, "t", "t", "number", (), ())


# ---- a changed input that flips a verdict fails ---------------------------------------------

def _patched(getter, name: str, **changes):
    original = getter

    def get(wanted: str):
        found = original(wanted)
        return dataclasses.replace(found, **changes) if found.name == original(name).name else found

    return get


FLIPS = [
    # (module, "hardware" or "models", row, changes, the sentence that must break)
    ("ch2_exercises", "hardware", "NVIDIA H200 SXM", {"memory_GB": 120.0}, "one 32k sequence of Llama-3.1-70B fits"),
    ("ch2_exercises", "hardware", "NVIDIA L40S", {"memory_bandwidth_GBps": 2000.0},
     "the A100 40GB PCIe serves more users"),
    ("ch2_exercises", "models", "Llama-3.1-70B", {"n_kv_heads": 2}, "one 32k sequence of Llama-3.1-70B fits"),
    ("ch1_exercises", "hardware", "NVIDIA A100 80GB PCIe", {"memory_bandwidth_GBps": 1500.0},
     "int8 on the A100 80GB PCIe beats fp16"),
    ("ch1_exercises", "hardware", "NVIDIA L4", {"memory_bandwidth_GBps": 2500.0},
     "stays memory-bound at every batch"),
    ("ch3_exercises", "hardware", "AMD Instinct MI300X", {"memory_GB": 160.0}, "the cache holds every request"),
    ("ch4_exercises", "hardware", "NVIDIA L40S", {"memory_GB": 56.0}, "fewer than eight full-context sequences fit"),
    # the exercise's old premise: the L40S counted without the sixteenth that ECC keeps
    ("ch4_exercises", "hardware", "NVIDIA L40S", {"ecc_reserved_fraction": 0.0}, "an fp8 cache alone does not fit eight"),
]


@pytest.mark.parametrize("name,table,row,changes,sentence", FLIPS, ids=[f"{f[2]}-{f[4][:30]}" for f in FLIPS])
def test_a_data_change_that_flips_a_verdict_fails(monkeypatch, name, table, row, changes, sentence):
    source = {"hardware": hardware, "models": models}[table]
    monkeypatch.setattr(source, "get", _patched(source.get, row, **changes))
    try:
        with pytest.raises(ClaimFailed, match=re.escape(sentence)):
            importlib.reload(importlib.import_module(f"pages.{name}"))
    finally:
        monkeypatch.undo()
        importlib.reload(importlib.import_module(f"pages.{name}"))  # restore the true values


def test_exercise_4_2_old_premise_is_rejected():
    from pages import ch4_exercises
    l40s = hardware.get("L40S")
    assert ch4_exercises.ex2_verdict(l40s) == (5, 7, 15)  # with ECC's sixteenth kept (the default)
    with pytest.raises(ClaimFailed, match="an fp8 cache alone does not fit eight"):
        ch4_exercises.ex2_verdict(dataclasses.replace(l40s, ecc_reserved_fraction=0.0))


def test_exercise_3_2_old_premise_is_rejected():
    # 4 requests/s of 2,000-token prompts of Llama-3.1-70B needs about 103 % of the MI300X's dense peak
    from pages import ch3_exercises
    assert 3.8 < ch3_exercises.ex2_ceiling < 3.95
    assert ch3_exercises.ex2_peak_share(ch3_exercises.ex2_rate) <= 1
    with pytest.raises(ClaimFailed, match="within the MI300X's compute ceiling"):
        ch3_exercises.ex2_peak_share(4.0)


def test_exercise_6_3_old_premise_is_rejected():
    # Llama-3.1-70B's bf16 weights (141 GB) on one A100 80GB: nothing fits (max_batch 0); the
    # exercise now splits the model four ways by tensor parallelism, 2 KV heads per GPU
    from pages import ch6_exercises
    assert ch6_exercises.ex3_verdict(4) == 9
    assert ch6_exercises.ex3_kv_heads == 2 and ch6_exercises.ex3_blocks == 4
    with pytest.raises(ClaimFailed, match="fit on each of the A100s"):
        ch6_exercises.ex3_verdict(1)


def test_exercise_7_4_old_premise_is_rejected():
    # decode never flushes: with p microbatches circulating no stage waits. The old answer took
    # GPipe's flush bubble (p - 1)/(m + p - 1) < 10 % and asked for m = 28 microbatches.
    from pages import ch7_exercises
    from snippets import parallel
    p, m = ch7_exercises.ex4_stages, ch7_exercises.ex4_microbatches
    assert m == p == 4 and parallel.pipeline_steady_idle(p, m) == 0
    assert parallel.pipeline_steady_idle(4, 3) == pytest.approx(0.25)
    assert parallel.pipeline_bubble(p, m) == pytest.approx(3 / 7)  # what the flush formula would have said
    old = next(k for k in range(1, 100) if parallel.pipeline_bubble(p, k) < 0.10)
    assert old == 28 and m != old
    text = (Path(__file__).resolve().parents[1] / "docs" / "07_multi_gpu.md").read_text(encoding="utf-8")
    section = text[text.index("{#ex-7-4}"):text.index("{#ex-7-5}")]
    assert "never flushes" in section and "bubble to be under" not in section


# ---- the built site -------------------------------------------------------------------------

def test_built_answers_are_collapsed_and_the_index_anchors_resolve(sites):
    site = sites[0][0]
    for page, ex in ALL:
        html = built_html(site, page).read_text(encoding="utf-8")
        start = html.index(f'id="{ex.anchor}"')
        after = html[start:]
        following = re.search(r"<h[1-3]\b", after[1:])
        block = after[: following.start() + 1] if following else after
        details = re.findall(r"<details\b[^>]*>", block)
        assert details == ['<details class="success">'], f"{ex.id}: {details}"
    index = built_html(site, "exercises.md").read_text(encoding="utf-8")
    for page, ex in ALL:
        href = f'href="../{page.removesuffix(".md")}/#{ex.anchor}"'
        assert href in index, f"the index does not link {ex.id}"
