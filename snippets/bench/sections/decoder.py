"""The decoder the model sections share (decode, profile, attention, prefill, mixed, verify):
built once, at the first of them the run reaches, as long as every one of them needs."""

from __future__ import annotations

from snippets import models
from snippets.bench import decode
from snippets.bench.memory import is_out_of_memory
from snippets.bench.plan import Plan
from snippets.bench.section import Run
from snippets.bench.steps import attention_check


def length(p: Plan) -> int:
    """Positions the shared decoder needs: the longest context, prompt, chunk or verify pass."""
    return max([p.context] + (p.prompts if "prefill" not in p.skip else [])
               + (p.mixed_chunks if "mixed" not in p.skip else [])
               + ([p.verify_context + max(p.verify_tokens)] if "verify" not in p.skip else []))


def build(r: Run) -> bool:
    """Build the decoder (fewer layers where the weights do not fit, said); False if none fits."""
    p, m = r.p, r.m
    m.section = "building the model"
    try:
        r.model, r.cfg, built = decode.build_fitting(p.info, p.model, p.dtype, length(p), p.layers)
    except (MemoryError, RuntimeError) as error:  # the fit check's refusal, or an allocation that failed anyway
        if not is_out_of_memory(error):
            raise
        also = " and ".join(s for s in ("mixed", "verify") if s not in p.skip)
        m.notes.append(f"skipped decode and prefill{f' (and {also})' if also else ''}: {error}")
        return False
    m.notes += built
    m.notes.append(_attention_check(r))
    whole = models.get(p.model).n_layers
    if r.cfg.n_layers < whole:
        m.notes.append(f"decode, prefill, mixed and verify steps ran {r.cfg.n_layers} of {p.model}'s {whole} "
                       "layers: their times are for that many layers, not the whole model")
    return True


def _attention_check(r: Run) -> str:
    """The note saying how far the mask-free attention is from SDPA with the mask built."""
    try:
        check = attention_check(r.p.info.torch_device, r.model.lm_head.weight.dtype)
    except Exception as error:  # noqa: BLE001 - a check, not a section
        return f"attention check failed: {type(error).__name__}: {str(error)[:200]}"
    kernel = "FlashAttention-2, aten._scaled_dot_product_flash_attention" if r.cuda and r.p.dtype != "fp32" else "SDPA"
    return (f"attention without a mask ({kernel}): largest difference from SDPA with the mask built, "
            "on small random tensors: " + ", ".join(f"{k} {v:.2g}" for k, v in check.items()))
