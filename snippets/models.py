"""Model architectures, one sourced row per model (data/models.csv), and parameter counts
computed from the shapes (never copied from the published figure, which tests compare against)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from snippets._data import find_by_name, read_text
from snippets.schema import ModelRow, parse_rows
from snippets.units import bytes_per_element

ARCHITECTURES = ("gpt2", "opt", "llama", "qwen2", "gemma2", "mixtral", "deepseek_v3")


@dataclass(frozen=True)
class ModelConfig:
    name: str
    architecture: str  # one of ARCHITECTURES: decides biases, norms and MLP shape
    attention_kind: str  # MHA, GQA or MLA
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    d_ff: int
    vocab_size: int
    max_position_embeddings: int
    tied_embeddings: bool
    n_routed_experts: int | None = None
    n_shared_experts: int | None = None
    experts_per_token: int | None = None
    moe_d_ff_per_expert: int | None = None
    kv_lora_rank: int | None = None
    qk_rope_head_dim: int | None = None
    q_lora_rank: int | None = None
    sliding_window: int | None = None
    v_head_dim: int | None = None
    first_dense_layers: int | None = None
    published_params: str = ""
    source: str = ""
    notes: str = ""

    @property
    def d_attn(self) -> int:
        """Width of the concatenated query heads: n_heads x head_dim."""
        return self.n_heads * self.head_dim

    @property
    def is_moe(self) -> bool:
        return bool(self.n_routed_experts)


# ---- parameter counts --------------------------------------------------------------------


def _attention_params(m: ModelConfig) -> int:
    """Parameters of one attention block (projections and their biases)."""
    d, h, kv, hd = m.d_model, m.n_heads, m.n_kv_heads, m.head_dim
    if m.architecture == "deepseek_v3":  # multi-head latent attention
        rope, nope = m.qk_rope_head_dim, m.head_dim - m.qk_rope_head_dim
        q = d * m.q_lora_rank + m.q_lora_rank + m.q_lora_rank * h * (nope + rope)
        kv_down = d * (m.kv_lora_rank + rope) + m.kv_lora_rank
        kv_up = m.kv_lora_rank * h * (nope + m.v_head_dim)
        return q + kv_down + kv_up + h * m.v_head_dim * d
    weights = d * h * hd + 2 * d * kv * hd + h * hd * d
    if m.architecture in ("gpt2", "opt"):
        return weights + h * hd + 2 * kv * hd + d  # biases on q, k, v and output
    if m.architecture == "qwen2":
        return weights + h * hd + 2 * kv * hd  # biases on q, k, v only
    return weights


def _mlp_params(m: ModelConfig, d_ff: int) -> int:
    """Parameters of one dense MLP of width `d_ff`."""
    if m.architecture in ("gpt2", "opt"):
        return 2 * m.d_model * d_ff + d_ff + m.d_model  # up and down, with biases
    return 3 * m.d_model * d_ff  # gated: gate, up and down projections


def _norm_params(m: ModelConfig) -> int:
    """Parameters of one normalisation layer: LayerNorm has weight and bias, RMSNorm a weight."""
    return 2 * m.d_model if m.architecture in ("gpt2", "opt") else m.d_model


def _ffn_params(m: ModelConfig, layer: int, active_only: bool) -> int:
    """Feed-forward parameters of layer `layer`: dense MLP, or router + experts for MoE."""
    if not m.is_moe or layer < (m.first_dense_layers or 0):
        return _mlp_params(m, m.d_ff)
    experts = m.experts_per_token if active_only else m.n_routed_experts
    router = m.d_model * m.n_routed_experts
    if m.architecture == "deepseek_v3":
        router += m.n_routed_experts  # score-correction bias
    n_mlps = experts + (m.n_shared_experts or 0)
    return router + n_mlps * _mlp_params(m, m.moe_d_ff_per_expert)


def embedding_params(m: ModelConfig) -> int:
    """Input token embedding (plus learned positions for GPT-2 and OPT)."""
    params = m.vocab_size * m.d_model
    if m.architecture == "gpt2":
        params += m.max_position_embeddings * m.d_model
    elif m.architecture == "opt":
        params += (m.max_position_embeddings + 2) * m.d_model  # OPT offsets positions by 2
    return params


def lm_head_params(m: ModelConfig) -> int:
    """Output projection; zero extra parameters when tied to the input embedding."""
    return 0 if m.tied_embeddings else m.vocab_size * m.d_model


def _layer_norms(m: ModelConfig) -> int:
    """Norms inside one layer: two, or four in Gemma-2 (MLA's latent norms sit in attention)."""
    per_layer = 4 if m.architecture == "gemma2" else 2
    return per_layer * _norm_params(m)


def param_count(m: ModelConfig, active_only: bool = False) -> int:
    """Total parameters (or, with active_only, those one token touches in an MoE model)."""
    per_layer = sum(
        _attention_params(m) + _ffn_params(m, layer, active_only) + _layer_norms(m)
        for layer in range(m.n_layers)
    )
    return embedding_params(m) + per_layer + _norm_params(m) + lm_head_params(m)


def weight_bytes(m: ModelConfig, dtype: str = "fp16", active_only: bool = False) -> float:
    """Bytes of all (or all active) weights stored in `dtype`."""
    return param_count(m, active_only) * bytes_per_element(dtype)


def decode_param_count(m: ModelConfig, exact: bool = False) -> int:
    """Parameters one decode step reads at batch 1.

    Simple story (exact=False): every active parameter once.
    exact=True: an untied input embedding contributes one row, not the whole table,
    while the LM head is streamed in full.
    """
    params = param_count(m, active_only=True)
    if exact and not m.tied_embeddings:
        params -= m.vocab_size * m.d_model - m.d_model
    return params


def decode_weight_bytes(m: ModelConfig, dtype: str = "fp16", exact: bool = False) -> float:
    """Weight bytes one decode step reads at batch 1 (see decode_param_count)."""
    return decode_param_count(m, exact) * bytes_per_element(dtype)


# ---- data ----------------------------------------------------------------------------------

_OPTIONAL_SHAPES = (
    "n_routed_experts", "n_shared_experts", "experts_per_token", "moe_d_ff_per_expert",
    "kv_lora_rank", "qk_rope_head_dim", "q_lora_rank", "sliding_window",
    "v_head_dim", "first_dense_layers",
)


def _row_to_model(row: ModelRow) -> ModelConfig:
    return ModelConfig(
        name=row.name,
        architecture=row.architecture,
        attention_kind=row.attention_kind,
        n_layers=row.n_layers,
        d_model=row.d_model,
        n_heads=row.n_heads,
        n_kv_heads=row.n_kv_heads,
        head_dim=row.head_dim,
        d_ff=row.d_ff,
        vocab_size=row.vocab_size,
        max_position_embeddings=row.max_position_embeddings,
        tied_embeddings=row.tied_embeddings,
        published_params=row.published_params,
        source=row.source,
        notes=row.notes,
        **{key: getattr(row, key) for key in _OPTIONAL_SHAPES},
    )


def load_model_rows(text: str | None = None, path: str | Path | None = None) -> tuple[ModelRow, ...]:
    """Rows of CSV `text`, a file at `path`, or (neither) the packaged models.csv, validated
    against schema.ModelRow; a bad cell raises schema.DataFileError."""
    csv_text, file = read_text("models.csv", text, path)
    return tuple(parse_rows(csv_text, file, ModelRow))


def load_models(text: str | None = None, path: str | Path | None = None) -> tuple[ModelConfig, ...]:
    """Models from CSV `text`, a file at `path`, or the packaged models.csv (see load_model_rows)."""
    return tuple(_row_to_model(row) for row in load_model_rows(text, path))


@cache
def _packaged_rows() -> tuple[ModelRow, ...]:
    return load_model_rows()


@cache
def all_models() -> tuple[ModelConfig, ...]:
    """Every model in the packaged data file, in file order (validated once, then cached)."""
    return tuple(_row_to_model(row) for row in _packaged_rows())


def names() -> list[str]:
    return [m.name for m in all_models()]


def get(name: str) -> ModelConfig:
    """Look a model up by name ('Llama-2-7B', 'llama 3.1 8b'); an unknown name raises
    UnknownName (a KeyError and a ValueError) listing close matches and the known ones."""
    found = find_by_name(name, names(), "model")
    return next(m for m in all_models() if m.name == found)


def published_total_B(name: str) -> float:
    """The data file's params_total_B column (billions), for comparison with param_count.
    Looked up like get()."""
    found = find_by_name(name, names(), "model")
    return next(row.params_total_B for row in _packaged_rows() if row.name == found)
