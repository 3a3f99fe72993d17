"""The bench's sections as pure functions: what each one plans to time for a given plan (on a CPU
and on a CUDA device, without one), the options each checks, the progress steps, and the loop that
runs them (stub sections: nothing built, nothing timed)."""

from pathlib import Path

import pytest

from snippets import results
from snippets.bench import attention, cli, matmul, mixed, prefill, quant, section, verify
from snippets.bench.device import DeviceInfo, detect
from snippets.bench.plan import SECTIONS, Plan
from snippets.bench.sections import ORDER, with_options
from snippets.bench.sections import attention as attention_section
from snippets.bench.sections import decode as decode_section
from snippets.bench.sections import matmul as matmul_section
from snippets.bench.sections import mixed as mixed_section
from snippets.bench.sections import prefill as prefill_section
from snippets.bench.sections import quant as quant_section
from snippets.bench.sections import verify as verify_section

CPU, _ = detect("cpu")
GPU = DeviceInfo("cuda", "a CUDA device", None, None, None, 50 * 2**20, 100)
GPT2 = "GPT-2 small (gpt2)"


def plan(info=CPU, skip=(), model=GPT2, context=8, **fields) -> Plan:
    """A plan made directly, as cli.plan makes one after its checks."""
    return Plan(info, "test", True, model, 1, "fp32", context, set(skip), Path("unused"), **fields)


def args(*argv: str):
    return cli.parser().parse_args(list(argv))


def options(section_module, p: Plan, *argv: str) -> Plan:
    from dataclasses import replace

    return replace(p, **section_module.SECTION.options(args(*argv), p))


# ---- the sections together -------------------------------------------------------------------


def test_every_results_entry_has_one_section_and_every_skip_name_one_or_more():
    assert sorted(s.schema.key for s in ORDER) == sorted(s.key for s in results.SECTIONS)
    assert {s.skipped_by for s in ORDER} == set(SECTIONS)
    assert [s.name for s in ORDER] == ["bandwidth", "matmul", "decode", "profile", "attention", "prefill", "mixed",
                                       "verify", "draft", "quant"]


def test_decoder_sections_run_together_then_the_draft_once_it_is_freed():
    kinds = "".join({"runs": "R", "after": "A", "": "-"}[s.decoder] for s in ORDER)
    assert kinds == "--RRRRRRA-"


def test_an_empty_run_documents_every_entry_empty():
    doc = {s.schema.key: s.result(section.Measured()) for s in ORDER}
    assert doc["speculative"] is None and doc["profile"] is None
    assert all(doc[s.key] == [] for s in results.SECTIONS if s.rows)


def test_progress_steps_are_one_per_planned_point_of_each_section_not_skipped():
    p = plan(skip={"bandwidth", "quant"}, batches=[1, 4], modes=["eager"], prompts=[4, 8], prefill_modes=["eager"],
             mixed_batches=[1], mixed_chunks=[0, 4], mixed_modes=["eager"])
    steps = [name for name, _ in cli.step_plan(p)]
    for s in ORDER:
        assert steps.count(s.name) == (0 if s.skipped_by in p.skip else len(s.plan(p))), s.name
    assert "profile" not in steps and "bandwidth" not in steps and "quant" not in steps


def test_options_fill_in_each_sections_fields_in_order():
    p = with_options(args("--device", "cpu", "--batches", "2,1", "--profile", "2", "--mixed"), plan(skip={"verify"}))
    assert (p.batches, p.modes, p.profile_batch) == ([1, 2], ["eager"], 2)
    assert p.prompts == prefill.CPU_PROMPTS and p.prefill_modes == ["eager"] and p.attention_contexts == []
    assert (p.mixed_batches, p.mixed_chunks, p.mixed_modes) == (mixed.CPU_BATCHES, mixed.CPU_CHUNKS, ["eager"])
    assert p.draft is None and p.verify_tokens == []


# ---- each section's plan ---------------------------------------------------------------------


def test_bandwidth_times_every_kernel():
    from snippets.bench import bandwidth
    from snippets.bench.sections import bandwidth as bandwidth_section

    assert bandwidth_section.plan(plan()) == list(bandwidth.KERNELS)


def test_matmul_adds_the_models_layer_shapes_on_gpus_where_prefill_or_mixed_runs():
    on_cpu = matmul_section.plan(plan())
    assert [pt.dtype for pt in on_cpu] == ["bf16", "fp32"] and all(len(pt.shape) == 3 for pt in on_cpu)
    on_gpu = matmul_section.plan(plan(GPU))
    assert len(on_gpu) == len(matmul.default_shapes(GPU, True)) + len(matmul.model_layer_shapes(GPT2))
    assert {pt.shape[3] for pt in on_gpu if len(pt.shape) == 4} >= {f"{GPT2} qkv at 256 tokens"}
    assert len(matmul_section.plan(plan(GPU, skip={"prefill", "mixed"}))) == len(matmul.default_shapes(GPU, True))


def test_decode_defaults_and_the_first_two_batches_compile():
    assert options(decode_section, plan(), "--device", "cpu").batches == decode_section.CPU_BATCHES
    assert options(decode_section, plan(GPU), "--full").batches == decode_section.GPU_BATCHES_FULL
    gpu = options(decode_section, plan(GPU))
    assert gpu.batches == decode_section.GPU_BATCHES_QUICK and gpu.modes == ["eager", "graph", "compile"]
    points = decode_section.plan(gpu)
    assert points[:3] == [(1, "eager"), (1, "graph"), (1, "compile")] and len(points) == 3 * len(gpu.batches)
    compiles = [s for pt, s in zip(points, decode_section.seconds(gpu, points)) if pt.mode == "compile"]
    assert compiles == [25, 25] + [4] * (len(gpu.batches) - 2)
    with pytest.raises(ValueError, match="need a CUDA GPU"):
        options(decode_section, plan(), "--modes", "graph")


def test_profile_takes_a_measured_batch_or_plans_nothing():
    p = plan(batches=[1, 4])
    assert decode_section.PROFILE.plan(p) == []
    assert decode_section.PROFILE.options(args("--profile", "4"), p) == {"profile_batch": 4}
    assert decode_section.PROFILE.plan(plan(batches=[1, 4], profile_batch=4)) == [4]
    with pytest.raises(ValueError, match=r"--profile takes one of the batches measured \(1,4\); got 3"):
        decode_section.PROFILE.options(args("--profile", "3"), p)


def test_attention_covers_decode_and_mixed_batches_prompts_and_chunks():
    p = plan(batches=[1, 4], prompts=[16], mixed_batches=[2], mixed_chunks=[0, 8], attention_contexts=[64])
    cases = [(pt.case.case, pt.case.batch, pt.case.tokens, pt.case.context) for pt in attention_section.plan(p)]
    assert cases == [("decode", 1, 1, 8), ("decode", 2, 1, 8), ("decode", 4, 1, 8), ("decode", 1, 1, 64),
                     ("decode", 32, 1, 64), ("prefill", 1, 8, 8), ("prefill", 1, 16, 16)]
    without_prefill = attention_section.plan(plan(skip={"prefill"}, batches=[1], prompts=[16]))
    assert [pt.case.case for pt in without_prefill] == ["decode"]
    on_gpu = attention_section.plan(plan(GPU, batches=[1]))
    assert [pt.kernel for pt in on_gpu] == list(attention.KERNELS)


def test_attention_context_sweep_defaults_on_gpus_up_to_the_models_maximum():
    assert options(attention_section, plan(GPU)).attention_contexts == [1024]  # GPT-2: 1,024 positions
    assert options(attention_section, plan()).attention_contexts == []
    assert options(attention_section, plan(), "--attention-contexts", "16,4096").attention_contexts == [16]
    assert options(attention_section, plan(skip={"attention"}), "--attention-contexts", "16").attention_contexts == []


def test_prefill_prompts_stop_at_the_models_maximum_and_modes_follow_the_device():
    gpu = options(prefill_section, plan(GPU))
    assert gpu.prompts == [t for t in prefill.GPU_PROMPTS if t <= 1024] and gpu.prefill_modes == ["eager", "graph", "compile"]
    assert prefill_section.plan(gpu)[:2] == [(128, "eager"), (128, "graph")]
    skipped = options(prefill_section, plan(skip={"prefill"}))
    assert skipped.prompts == prefill.CPU_PROMPTS and skipped.prefill_modes == [] and not prefill_section.plan(skipped)


def test_mixed_grid_and_modes_per_device():
    gpu = options(mixed_section, plan(GPU))
    assert (gpu.mixed_batches, gpu.mixed_chunks, gpu.mixed_modes) == (mixed.GPU_BATCHES, mixed.GPU_CHUNKS, ["graph", "compile"])
    points = mixed_section.plan(options(mixed_section, plan()))
    assert len(points) == len(mixed.CPU_BATCHES) * len(mixed.CPU_CHUNKS) and points[1] == (1, 16, "eager")
    assert options(mixed_section, plan(skip={"mixed"})).mixed_batches == []


def test_verify_context_tokens_and_draft():
    cpu = options(verify_section, plan(context=200), "--draft", GPT2)
    assert (cpu.verify_context, cpu.verify_tokens, cpu.draft) == (verify.CPU_CONTEXT, verify.CPU_TOKENS, GPT2)
    assert len(verify_section.plan(cpu)) == len(verify.CPU_BATCHES) * len(verify.CPU_TOKENS)
    assert verify_section.DRAFT.plan(cpu) == [(b, "eager") for b in verify.CPU_BATCHES]
    at_the_limit = options(verify_section, plan(GPU, context=1020), "--draft", GPT2)
    assert at_the_limit.verify_context == 1020 and at_the_limit.verify_tokens == [1, 2, 4]  # 1,020 + k <= 1,024
    with pytest.raises(ValueError, match="--draft needs the verify section: it is skipped \\(add --verify on a cpu\\)"):
        options(verify_section, plan(skip={"verify"}), "--draft", GPT2)
    with pytest.raises(ValueError, match="larger than the target"):
        options(verify_section, plan(), "--draft", "Llama-3.1-8B")
    skipped = options(verify_section, plan(skip={"verify"}))
    assert skipped.draft is None and not verify_section.plan(skipped) and not verify_section.DRAFT.plan(skipped)


def test_quant_times_every_format_at_every_batch():
    points = quant_section.plan(plan())
    assert len(points) == len(quant.FORMATS) * len(quant_section.BATCHES) and points[0] == ("bf16", 1)


def test_a_grids_axes_come_back_from_its_points():
    points = mixed_section.plan(plan(mixed_batches=[1, 4], mixed_chunks=[0, 16], mixed_modes=["graph", "compile"]))
    assert [section.axis(points, f) for f in ("batch", "chunk", "mode")] == [[1, 4], [0, 16], ["graph", "compile"]]


# ---- the loop --------------------------------------------------------------------------------


def _stub(name, log, decoder="", points=(1,), fails=False):
    def measure(r, planned):
        log.append((name, r.model))
        if fails:
            raise RuntimeError(f"{name} broke")

    return section.Section(name, lambda p: list(points), measure, lambda m: None, section.schema("decode"),
                           section.each(1, 1), decoder=decoder)


def test_the_decoder_is_built_once_for_its_sections_and_freed_before_the_draft():
    log, builds = [], []

    def build(r):
        builds.append(r.p)
        r.model = "decoder"
        return True

    stubs = [_stub("a", log), _stub("b", log, "runs"), _stub("c", log, "runs"), _stub("empty", log, "runs", points=()),
             _stub("draft", log, "after"), _stub("d", log)]
    section.run_sections(section.Run(plan(), section.Measured(), build_decoder=build), stubs)
    assert log == [("a", None), ("b", "decoder"), ("c", "decoder"), ("draft", None), ("d", None)]
    assert len(builds) == 1


def test_without_a_decoder_its_sections_and_the_draft_are_skipped():
    log = []
    section.run_sections(section.Run(plan(), section.Measured(), build_decoder=lambda r: False),
                         [_stub("b", log, "runs"), _stub("c", log, "runs"), _stub("draft", log, "after"), _stub("d", log)])
    assert log == [("d", None)]


def test_a_section_that_raises_is_noted_and_the_next_one_runs(capsys):
    log = []
    r = section.Run(plan(), section.Measured())
    section.run_sections(r, [_stub("a", log, fails=True), _stub("b", log)])
    assert [name for name, _ in log] == ["a", "b"] and r.m.failed == ["a"]
    assert r.m.notes == ["a failed and was skipped: RuntimeError: a broke"]
    assert "Traceback" in capsys.readouterr().err
