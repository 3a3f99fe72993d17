"""Model architectures, one sourced row per model (data/models.csv), and parameter counts
computed from the shapes (never copied from the published figure, which tests compare against)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache, lru_cache
from pathlib import Path

from snippets import formulas
from snippets._data import find_by_name, read_text
from snippets.schema import ARCHITECTURES, ModelRow, parse_rows  # noqa: F401 - ARCHITECTURES is re-exported
from snippets.units import bytes_per_element, require_positive_int


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
# Each block's parameters are split into matrices (used in matmuls: 2 FLOPs per weight per
# token) and vectors (biases and norm weights: read, but elementwise).


def _attention_matrices(m: ModelConfig) -> int:
    """Weight-matrix parameters of one attention block."""
    d, h, kv, hd = m.d_model, m.n_heads, m.n_kv_heads, m.head_dim
    if m.architecture == "deepseek_v3":  # multi-head latent attention
        rope, nope = m.qk_rope_head_dim, m.head_dim - m.qk_rope_head_dim
        q = d * m.q_lora_rank + m.q_lora_rank * h * (nope + rope)
        kv_down = d * (m.kv_lora_rank + rope)
        kv_up = m.kv_lora_rank * h * (nope + m.v_head_dim)
        return q + kv_down + kv_up + h * m.v_head_dim * d
    return d * h * hd + 2 * d * kv * hd + h * hd * d


def _attention_vectors(m: ModelConfig) -> int:
    """Biases and norm weights inside one attention block."""
    h, kv, hd = m.n_heads, m.n_kv_heads, m.head_dim
    if m.architecture == "deepseek_v3":
        return m.q_lora_rank + m.kv_lora_rank  # the latent norms
    if m.architecture in ("gpt2", "opt"):
        return h * hd + 2 * kv * hd + m.d_model  # biases on q, k, v and output
    if m.architecture == "qwen2":
        return h * hd + 2 * kv * hd  # biases on q, k, v only
    return 0


def _mlp_matrices(m: ModelConfig, d_ff: int) -> int:
    """Weight-matrix parameters of one dense MLP of width `d_ff`."""
    if m.architecture in ("gpt2", "opt"):
        return 2 * m.d_model * d_ff  # up and down
    return 3 * m.d_model * d_ff  # gated: gate, up and down projections


def _mlp_vectors(m: ModelConfig, d_ff: int) -> int:
    return d_ff + m.d_model if m.architecture in ("gpt2", "opt") else 0


def _norm_params(m: ModelConfig) -> int:
    """Parameters of one normalisation layer: LayerNorm has weight and bias, RMSNorm a weight."""
    return 2 * m.d_model if m.architecture in ("gpt2", "opt") else m.d_model


def _is_moe_layer(m: ModelConfig, layer: int) -> bool:
    return m.is_moe and layer >= (m.first_dense_layers or 0)


def _ffn_matrices(m: ModelConfig, layer: int, experts: float) -> float:
    """Feed-forward matrices of `layer`: a dense MLP, or the router plus `experts` routed
    experts (and the shared ones) of an MoE layer."""
    if not _is_moe_layer(m, layer):
        return _mlp_matrices(m, m.d_ff)
    router = m.d_model * m.n_routed_experts
    return router + (experts + (m.n_shared_experts or 0)) * _mlp_matrices(m, m.moe_d_ff_per_expert)


def _ffn_vectors(m: ModelConfig, layer: int) -> int:
    if not _is_moe_layer(m, layer):
        return _mlp_vectors(m, m.d_ff)
    return m.n_routed_experts if m.architecture == "deepseek_v3" else 0  # score-correction bias


def embedding_params(m: ModelConfig) -> int:
    """Input token embedding (plus learned positions for GPT-2 and OPT)."""
    return m.vocab_size * m.d_model + _position_rows(m) * m.d_model


def _position_rows(m: ModelConfig) -> int:
    if m.architecture == "gpt2":
        return m.max_position_embeddings
    if m.architecture == "opt":
        return m.max_position_embeddings + 2  # OPT offsets positions by 2
    return 0


def lm_head_params(m: ModelConfig) -> int:
    """Output projection; zero extra parameters when tied to the input embedding."""
    return 0 if m.tied_embeddings else m.vocab_size * m.d_model


def _layer_norms(m: ModelConfig) -> int:
    """Norms inside one layer: two, or four in Gemma-2 (MLA's latent norms sit in attention)."""
    per_layer = 4 if m.architecture == "gemma2" else 2
    return per_layer * _norm_params(m)


def _layer_params(m: ModelConfig, layer: int, experts: float) -> float:
    return (_attention_matrices(m) + _attention_vectors(m) + _ffn_matrices(m, layer, experts)
            + _ffn_vectors(m, layer) + _layer_norms(m))


@lru_cache(maxsize=4096)  # a dense model has one answer however many tokens a step holds
def _all_layer_params(m: ModelConfig, experts: float) -> float:
    return sum(_layer_params(m, layer, experts) for layer in range(m.n_layers))


def _experts(m: ModelConfig, active_only: bool) -> int:
    if not m.is_moe:
        return 0
    return m.experts_per_token if active_only else m.n_routed_experts


def param_count(m: ModelConfig, active_only: bool = False) -> int:
    """Total parameters (or, with active_only, those one token touches in an MoE model)."""
    per_layer = _all_layer_params(m, _experts(m, active_only))
    return int(embedding_params(m) + per_layer + _norm_params(m) + lm_head_params(m))


def weight_bytes(m: ModelConfig, dtype: str = "fp16", active_only: bool = False) -> float:
    """Bytes of all (or all active) weights stored in `dtype`: what must fit in memory, and
    the simple story's "bytes read per token" (every parameter once)."""
    return param_count(m, active_only) * bytes_per_element(dtype)


@cache  # pure, and called for every step of the serving simulator (snippets.serving)
def matmul_weights_per_token(m: ModelConfig) -> int:
    """Weights one token multiplies in matmuls (2 FLOPs each): attention and MLP matrices of
    its active experts, the router and the LM head. Not the embedding gather, norms or biases."""
    experts = _experts(m, active_only=True)
    layers = sum(_attention_matrices(m) + _ffn_matrices(m, layer, experts) for layer in range(m.n_layers))
    return int(layers + lm_head_matmul_weights(m))


def lm_head_matmul_weights(m: ModelConfig) -> int:
    """Weights of the LM head matmul: vocab x d_model (a tied table serves as it)."""
    return m.vocab_size * m.d_model


def expected_experts_touched(n_experts: int, experts_per_token: int, tokens: int) -> float:
    """Expected distinct routed experts of one layer that `tokens` tokens select, each token
    choosing `experts_per_token` of `n_experts` uniformly: E x (1 - (1 - k/E)^B).

    1 token touches k experts; a large batch touches nearly all E. Real routers are not
    uniform, so this is the typical case, not a bound.
    """
    return formulas.expected_experts_touched(n_experts, experts_per_token, tokens)


@lru_cache(maxsize=4096)  # pure; the serving simulator asks for the same step sizes thousands of times
def step_param_count(m: ModelConfig, tokens: int = 1) -> float:
    """Parameters one forward step over `tokens` tokens physically reads: a decode step of
    `tokens` sequences, or a prefill of a `tokens`-token prompt.

    Every weight matrix, norm and bias once for the whole step; of an untied input embedding
    table one row per token (a tied table is read in full as the LM head); of a learned
    position table one row per token; of an MoE layer's routed experts the expected number
    the tokens select (expected_experts_touched).
    """
    require_positive_int("tokens", tokens)
    experts = expected_experts_touched(m.n_routed_experts, m.experts_per_token, tokens) if m.is_moe else 0
    layers = _all_layer_params(m, experts)
    table = m.vocab_size * m.d_model if m.tied_embeddings else min(tokens, m.vocab_size) * m.d_model
    positions = min(tokens, _position_rows(m)) * m.d_model
    return table + positions + layers + _norm_params(m) + lm_head_params(m)


def step_weight_bytes(m: ModelConfig, dtype: str = "fp16", tokens: int = 1) -> float:
    """Weight bytes one forward step over `tokens` tokens reads (see step_param_count)."""
    return step_param_count(m, tokens) * bytes_per_element(dtype)


@cache  # pure; asked for at every prefill chunk the serving simulator costs
def activation_elements_per_token(m: ModelConfig) -> int:
    """Elements each token's activations move through the weight matmuls of one forward
    pass: every matrix's input read and output written once (fused QKV and gate/up)."""
    d = m.d_model
    if m.architecture == "deepseek_v3":
        rope, nope = m.qk_rope_head_dim, m.head_dim - m.qk_rope_head_dim
        attention = (d + m.q_lora_rank) + (m.q_lora_rank + m.n_heads * (nope + rope)) \
            + (d + m.kv_lora_rank + rope) + (m.kv_lora_rank + m.n_heads * (nope + m.v_head_dim)) \
            + (m.n_heads * m.v_head_dim + d)
    else:
        q, kv = m.n_heads * m.head_dim, m.n_kv_heads * m.head_dim
        attention = (d + q + 2 * kv) + (q + d)
    gated = m.architecture not in ("gpt2", "opt")
    experts = _experts(m, active_only=True) + (m.n_shared_experts or 0)
    total = 0
    for layer in range(m.n_layers):
        width, count = (m.moe_d_ff_per_expert, experts) if _is_moe_layer(m, layer) else (m.d_ff, 1)
        mlp = (d + (2 if gated else 1) * width) + (width + d)
        total += attention + count * mlp
    return total + d + m.vocab_size  # the LM head


# ---- data ----------------------------------------------------------------------------------

def _row_to_model(row: ModelRow) -> ModelConfig:
    """The validated row's cells, by name (columns such as the published totals stay in the row)."""
    cells = row.model_dump()
    return ModelConfig(**{f.name: cells[f.name] for f in fields(ModelConfig)})


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
