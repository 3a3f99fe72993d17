// Roofline and KV-cache calculator. Plain JavaScript, no network: its data is placed in the page
// at build time by snippets.calculator, and its formulas mirror the Python `snippets` functions.
// The math is in pure functions that also run under Node (module.exports at the end): the tests
// compare them with Python on snippets.calculator.test_vectors(), in Node and in Chromium.
(function () {
  "use strict";

  class InputError extends Error {
    constructor(message, field) {
      super(message);
      this.field = field;  // id of the control the message is about, if any
    }
  }

  // ---- checked numbers -----------------------------------------------------------------------

  const LIMITS = {
    batch: [1, 1e6],
    context: [1, 1e9],
    bandwidth_GBps: [1, 1e5],  // 1 GB/s to 100 TB/s
    TFLOPS: [0.01, 1e5],  // 10 GFLOPS to 100 PFLOPS dense
    memory_GB: [0.1, 1e5],
  };

  // A number as a message prints it: grouped digits, or short exponential form (1.23e+21) when
  // it is very large or very small, so an out-of-range value never prints as a page of digits.
  const plain = (x) => (Number.isFinite(x) && x !== 0 && (Math.abs(x) > 1e9 || Math.abs(x) < 1e-6))
    ? Number(x.toPrecision(3)).toExponential()
    : x.toLocaleString("en", { maximumFractionDigits: 6 });

  // Decimal notation only: "0x10", "0b1", "0o7" and "Infinity" are not numbers a person means.
  const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

  function describe(value) {
    if (value === null) return "null";
    if (Array.isArray(value)) return "a list";
    if (typeof value === "object") return "an object";
    if (typeof value === "string") return `"${value.length > 40 ? value.slice(0, 40) + "…" : value}"`;
    return String(value);
  }

  function inRange(x, label, min, max, field) {
    if (!(x >= min && x <= max)) {
      throw new InputError(`${label} must be between ${plain(min)} and ${plain(max)} (got ${plain(x)})`, field);
    }
    return x;
  }

  // A number typed into a text field (or passed as a number): finite and within [min, max].
  function numberIn(value, label, min, max, field) {
    const text = String(value ?? "").trim();
    const x = typeof value === "number" ? value : (DECIMAL.test(text) ? Number(text) : NaN);
    if (text === "" || !Number.isFinite(x)) throw new InputError(`${label} must be a number (got ${describe(text)})`, field);
    return inRange(x, label, min, max, field);
  }

  function integerIn(value, label, min, max, field) {
    const x = numberIn(value, label, min, max, field);
    if (!Number.isInteger(x)) throw new InputError(`${label} must be a whole number (got ${plain(x)})`, field);
    return x;
  }

  function bytesPerElement(dtypes, dtype) {
    if (!Object.prototype.hasOwnProperty.call(dtypes, dtype)) {
      throw new InputError(`unknown dtype "${dtype}"; allowed: ${Object.keys(dtypes).join(", ")}`);
    }
    return dtypes[dtype];
  }

  // ---- a pasted config.json --------------------------------------------------------------------

  const CONFIG_FIELD = "calc-config";

  // A config value that must be a JSON number, whole, within [min, max].
  function configInt(config, key, min, max) {
    const v = config[key];
    if (typeof v !== "number" || !Number.isFinite(v) || !Number.isInteger(v)) {
      throw new InputError(`config.json: "${key}" must be a whole number (got ${describe(v)})`, CONFIG_FIELD);
    }
    return inRange(v, `config.json: "${key}"`, min, max, CONFIG_FIELD);
  }

  const has = (config, key) => Object.prototype.hasOwnProperty.call(config, key) && config[key] !== null;
  const first = (config, keys) => keys.find((k) => has(config, k));

  function configIntOf(config, keys, min, max, fallback) {
    const key = first(config, keys);
    if (key === undefined) {
      if (fallback !== undefined) return fallback;
      throw new InputError(`config.json lacks ${keys.join(" or ")}`, CONFIG_FIELD);
    }
    return configInt(config, key, min, max);
  }

  function configBool(config, key, fallback) {
    if (!has(config, key)) return fallback;
    if (typeof config[key] !== "boolean") throw new InputError(`config.json: "${key}" must be true or false (got ${describe(config[key])})`, CONFIG_FIELD);
    return config[key];
  }

  // Architectures by model_type: which parameter-count rules apply.
  const FAMILIES = {
    llama: {}, mistral: {}, phi3: {}, mixtral: {},
    qwen2: { qkvBias: true }, qwen2_moe: { qkvBias: true }, qwen3: {}, qwen3_moe: {},
    gemma2: { normsPerLayer: 4, alternatingWindows: true, tied: true },
    deepseek_v2: {}, deepseek_v3: { expertBias: true },
    gpt2: { layerNorm: true, positionOffset: 0, tied: true },
    opt: { layerNorm: true, positionOffset: 2, tied: true },
  };

  // Fields the calculator reads nothing from but that change what the model is: each present
  // one gives a warning naming it. [field, applies(value, config), what is not modelled]
  const UNMODELLED = [
    ["num_nextn_predict_layers", (v) => v > 0, "multi-token-prediction layers are not counted"],
    ["moe_layer_freq", (v) => v !== 1, "MoE on only every n-th layer is not modelled; every layer after the dense ones is counted as MoE"],
    ["decoder_sparse_step", (v) => v !== 1, "MoE on only every n-th layer is not modelled; every layer is counted as MoE"],
    ["mlp_only_layers", (v) => Array.isArray(v) && v.length > 0, "dense layers listed by index are not modelled"],
    ["shared_expert_intermediate_size", () => true, "a shared expert of its own width is not counted"],
    ["word_embed_proj_dim", (v, c) => v !== (c.hidden_size ?? v), "projected embeddings (word_embed_proj_dim ≠ hidden_size) are not counted"],
    ["layer_types", () => true, "per-layer attention types are not modelled"],
    ["sliding_window_pattern", () => true, "a per-layer window pattern is not modelled"],
    ["max_window_layers", (v, c) => c.use_sliding_window === true && v < (c.num_hidden_layers ?? v), "windows on only some layers are not modelled; every layer is windowed"],
    ["quantization_config", () => true, "pre-quantised weights: the weight dtype you choose sets the bytes; scales and zero-points are not counted"],
    ["num_experts", (v, c) => has(c, "num_local_experts") || has(c, "n_routed_experts"), "two expert counts given; the other one is used"],
  ];

  // The summary the calculator needs (the shape of snippets.calculator.model_summary) for a
  // Hugging Face config.json object, and warnings for what it cannot model.
  function modelFromConfig(config, name) {
    if (config === null || typeof config !== "object" || Array.isArray(config)) {
      throw new InputError("config.json must be a JSON object", CONFIG_FIELD);
    }
    const warnings = [];
    const type = typeof config.model_type === "string" ? config.model_type : "";
    const family = FAMILIES[type];
    if (!family) {
      warnings.push(type ? `model_type "${type.slice(0, 60)}" is not one the calculator knows: read as Llama-style (RMSNorm, gated MLP, no biases)`
        : "model_type is missing: read as Llama-style (RMSNorm, gated MLP, no biases)");
    }
    const f = family || {};
    const needed = [["num_hidden_layers", "n_layer"], ["hidden_size", "n_embd"], ["num_attention_heads", "n_head"],
      ...(f.layerNorm ? [] : [["intermediate_size", "ffn_dim", "moe_intermediate_size"]]), ["vocab_size"]];
    const missing = needed.filter((keys) => first(config, keys) === undefined).map((keys) => keys[0]);
    if (missing.length) throw new InputError(`config.json lacks ${missing.join(", ")}`, CONFIG_FIELD);

    const L = configIntOf(config, ["num_hidden_layers", "n_layer"], 1, 10000);
    const d = configIntOf(config, ["hidden_size", "n_embd"], 1, 1e6);
    const H = configIntOf(config, ["num_attention_heads", "n_head"], 1, 1e5);
    const V = configInt(config, "vocab_size", 1, 1e7);
    const maxContext = configIntOf(config, ["max_position_embeddings", "n_positions"], 1, 1e9, null);
    const mla = has(config, "kv_lora_rank");
    const G = mla ? H : configIntOf(config, ["num_key_value_heads"], 1, H, H);
    if (H % G !== 0) throw new InputError(`num_attention_heads (${H}) must be a multiple of num_key_value_heads (${G})`, CONFIG_FIELD);

    // attention
    let hd, kvPerPosition, attnFlopsPerPosition, attnMatrices, attnVectors;
    if (mla) {
      const kvr = configInt(config, "kv_lora_rank", 1, 1e6);
      const rope = configInt(config, "qk_rope_head_dim", 1, 1e5);
      const nope = configInt(config, "qk_nope_head_dim", 0, 1e5);
      const vd = configInt(config, "v_head_dim", 1, 1e5);
      const qlr = has(config, "q_lora_rank") ? configInt(config, "q_lora_rank", 1, 1e6) : 0;
      hd = nope + rope;
      const q = qlr ? d * qlr + qlr * H * hd : d * H * hd;
      attnMatrices = q + d * (kvr + rope) + kvr * H * (nope + vd) + H * vd * d;
      attnVectors = qlr + kvr;  // the latent norms
      kvPerPosition = kvr + rope;
      attnFlopsPerPosition = 2 * H * (kvr + rope) + 2 * H * kvr;
    } else {
      hd = has(config, "head_dim") ? configInt(config, "head_dim", 1, 1e5) : d / H;
      if (!Number.isInteger(hd)) throw new InputError(`hidden_size / num_attention_heads = ${plain(hd)} is not whole; add "head_dim"`, CONFIG_FIELD);
      attnMatrices = d * H * hd + 2 * d * G * hd + H * hd * d;
      const oBias = f.layerNorm || (!f.qkvBias && configBool(config, "attention_bias", false));
      const qkvBias = oBias || f.qkvBias;
      attnVectors = (qkvBias ? H * hd + 2 * G * hd : 0) + (oBias ? d : 0);
      kvPerPosition = 2 * G * hd;
      attnFlopsPerPosition = 2 * 2 * H * hd;
    }

    // feed-forward
    const gated = !f.layerNorm;
    const mlpMatrices = (ff) => (gated ? 3 : 2) * d * ff;
    const mlpBias = !f.layerNorm && configBool(config, "mlp_bias", false);
    const mlpVectors = (ff) => (f.layerNorm ? ff + d : mlpBias ? 2 * ff + d : 0);
    const ffKey = first(config, ["intermediate_size", "ffn_dim", "n_inner"]);
    const ff = ffKey !== undefined ? configInt(config, ffKey, 1, 1e7) : f.layerNorm ? 4 * d : 0;
    const expertsKey = first(config, ["num_local_experts", "n_routed_experts", "num_experts"]);
    const E = expertsKey !== undefined ? configInt(config, expertsKey, 0, 1e5) : 0;
    let k = 0, shared = 0, moeFF = 0, dense = L;
    if (E > 0) {
      k = configIntOf(config, ["num_experts_per_tok"], 1, E);
      moeFF = configIntOf(config, ["moe_intermediate_size", "intermediate_size"], 1, 1e7);
      shared = configIntOf(config, ["n_shared_experts"], 0, 1e4, 0);
      dense = configIntOf(config, ["first_k_dense_replace"], 0, L, 0);
    }
    if (dense > 0 && ff === 0) throw new InputError("config.json lacks intermediate_size", CONFIG_FIELD);
    const moeLayers = L - dense;
    const norm = f.layerNorm ? 2 * d : d;
    const layerNorms = (f.normsPerLayer || 2) * norm;
    const denseLayer = attnMatrices + attnVectors + mlpMatrices(ff) + mlpVectors(ff) + layerNorms;
    const router = d * E;
    const moeLayerFixed = attnMatrices + attnVectors + router + shared * mlpMatrices(moeFF)
      + (f.expertBias ? E : 0) + layerNorms;
    const expert = E > 0 ? mlpMatrices(moeFF) : 0;

    // embeddings, windows
    const tied = configBool(config, "tie_word_embeddings", f.tied === true);
    if (!family && !has(config, "tie_word_embeddings")) warnings.push("tie_word_embeddings is missing: read as untied (a separate LM head)");
    const positionRows = f.layerNorm ? (maxContext ?? 0) + f.positionOffset : 0;
    if (f.layerNorm && maxContext === null) throw new InputError("config.json lacks max_position_embeddings or n_positions", CONFIG_FIELD);
    const windowOn = has(config, "sliding_window") && configBool(config, "use_sliding_window", true);
    const window = windowOn ? configInt(config, "sliding_window", 1, 1e9) : 0;
    const windowedLayers = window ? (f.alternatingWindows ? Math.floor(L / 2) : L) : 0;

    for (const [key, applies, what] of UNMODELLED) {
      if (has(config, key) && applies(config[key], config)) warnings.push(`${key}: ${what}`);
    }

    const table = V * d;
    return {
      name: typeof name === "string" && name ? name.slice(0, 200) : "pasted config",
      kind: mla ? "MLA" : G === H ? "MHA" : "GQA",
      params_total: table + positionRows * d + dense * denseLayer + moeLayers * (moeLayerFixed + E * expert)
        + norm + (tied ? 0 : table),
      fixed_step_params: dense * denseLayer + moeLayers * moeLayerFixed + norm + table,
      routed_expert_params: expert,
      n_routed_experts: E,
      experts_per_token: k,
      moe_layers: E > 0 ? moeLayers : 0,
      vocab_size: V,
      d_model: d,
      tied_embeddings: tied,
      position_rows: positionRows,
      matmul_params: dense * (attnMatrices + mlpMatrices(ff))
        + moeLayers * (attnMatrices + router + (k + shared) * expert) + table,
      n_layers: L,
      kv_elements_per_position: kvPerPosition,
      windowed_layers: windowedLayers,
      sliding_window: window,
      attention_flops_per_position: attnFlopsPerPosition,
      max_context: maxContext,
      warnings,
    };
  }

  // ---- the formulas (mirrors of the Python functions) ------------------------------------------

  // models.expected_experts_touched
  function expectedExpertsTouched(nExperts, perToken, tokens) {
    return nExperts * (1 - (1 - perToken / nExperts) ** tokens);
  }

  // models.step_param_count
  function stepParams(model, tokens) {
    const experts = model.moe_layers ? expectedExpertsTouched(model.n_routed_experts, model.experts_per_token, tokens) : 0;
    const rows = (model.tied_embeddings ? 0 : Math.min(tokens, model.vocab_size)) + Math.min(tokens, model.position_rows);
    return model.fixed_step_params + rows * model.d_model + model.moe_layers * experts * model.routed_expert_params;
  }

  // kv_cache.cached_positions
  function cachedPositions(model, context) {
    const w = model.windowed_layers;
    const held = w ? Math.min(context, model.sliding_window) : context;
    return (model.n_layers - w) * context + w * held;
  }

  // snippets.calculator.compute_dtype: [dtype, note]
  function computeDtype(data, peaks, weightDtype, requested, gpuName) {
    const wanted = requested === "auto" ? data.auto_compute[weightDtype] : requested;
    if (!data.compute_dtypes.includes(wanted)) throw new InputError(`no compute throughput for dtype "${wanted}"; allowed: ${data.compute_dtypes.join(", ")}`, "calc-compute-dtype");
    const note = requested === "auto" && weightDtype === "int4" ? "int4 weights are dequantised: the math runs in bf16" : "";
    if (peaks[wanted] != null) return [wanted, note];
    if (peaks.bf16 == null) {
      throw new InputError(`the data has no published dense ${wanted} or bf16 figure for the ${gpuName}; choose "Custom" and enter your own`, "calc-gpu");
    }
    return ["bf16", `the data has no dense ${wanted} figure for the ${gpuName} (no ${wanted} tensor-core rate published), so the compute roof falls back to bf16`];
  }

  // A GPU of the data, or {custom: true, bandwidth_GBps, peak_TFLOPS, memory_GB} as typed.
  function resolveGpu(data, gpu) {
    if (!gpu.custom) return gpu;
    const bw = numberIn(gpu.bandwidth_GBps, "memory bandwidth (GB/s)", ...LIMITS.bandwidth_GBps, "calc-bw");
    const tflops = numberIn(gpu.peak_TFLOPS, "dense TFLOPS", ...LIMITS.TFLOPS, "calc-tflops");
    const memory = numberIn(gpu.memory_GB, "memory (GB)", ...LIMITS.memory_GB, "calc-mem");
    const peaks = Object.fromEntries(data.compute_dtypes.map((dt) => [dt, tflops]));
    const bytes = memory * data.memory_unit_bytes;
    return { name: gpu.name || "custom GPU", custom: true, bandwidth_GBps: bw, peak_TFLOPS: peaks, memory_GB: memory,
      memory_bytes: bytes, ecc_reserved_fraction: 0, usable_memory_bytes: bytes * (1 - data.driver_reserve_fraction) };
  }

  // Everything the page shows. Mirrors snippets.calculator.expected().
  function evaluate(data, gpuIn, model, inputs) {
    const wb = bytesPerElement(data.dtypes, inputs.weight_dtype);
    const kb = bytesPerElement(data.dtypes, inputs.kv_dtype);
    const gpu = resolveGpu(data, gpuIn);
    const [compute_dtype, compute_note] = computeDtype(data, gpu.peak_TFLOPS, inputs.weight_dtype, inputs.compute ?? "auto", gpu.name);
    const batch = integerIn(inputs.batch, "batch size", ...LIMITS.batch, "calc-batch");
    const maxContext = Math.min(model.max_context ?? LIMITS.context[1], LIMITS.context[1]);
    const context = integerIn(inputs.context, "context length", LIMITS.context[0], Infinity, "calc-context");
    if (context > maxContext) {
      throw new InputError(`context ${plain(context)} is beyond ${model.name}'s maximum of ${plain(maxContext)} tokens`, "calc-context");
    }
    const bw = gpu.bandwidth_GBps * 1e9;
    const peak = gpu.peak_TFLOPS[compute_dtype] * 1e12;
    const usable = gpu.usable_memory_bytes;
    const weight_bytes = model.params_total * wb;
    const kv_bytes_per_token = model.kv_elements_per_position * model.n_layers * kb;
    const positions = cachedPositions(model, context);
    const kv_bytes_per_sequence = kv_bytes_per_token / model.n_layers * positions;
    const kv_bytes_total = kv_bytes_per_sequence * batch;
    const free = usable - weight_bytes;
    const max_batch = free <= 0 ? 0 : Math.floor(free / kv_bytes_per_sequence);
    const step_params = stepParams(model, batch);
    const step_weight_bytes = step_params * wb;
    const step_kv_bytes = batch * kv_bytes_per_token / model.n_layers * positions;
    const step_bytes = step_weight_bytes + step_kv_bytes;
    const step_flops = 2.0 * batch * model.matmul_params + batch * (model.attention_flops_per_position * positions);
    const memory_time = step_bytes / bw;
    const compute_time = step_flops / peak;
    const step_time_s = Math.max(compute_time, memory_time);
    return {
      compute_dtype, compute_note,
      weight_bytes, kv_bytes_per_token, kv_bytes_per_sequence, kv_bytes_total, max_batch,
      usable_memory_bytes: usable, ecc_reserved_fraction: gpu.ecc_reserved_fraction ?? 0,
      fits: weight_bytes + kv_bytes_total <= usable,
      ridge: peak / bw,
      step_params, step_weight_bytes, step_kv_bytes, step_bytes, step_flops,
      intensity: step_flops / step_bytes,
      memory_time, compute_time, step_time_s,
      tokens_per_s_total: batch / step_time_s,
      tokens_per_s_sequence: 1 / step_time_s,
      memory_bound: memory_time >= compute_time,
      attainable_flops: Math.min(peak, (step_flops / step_bytes) * bw),
      bw, peak, batch, context, positions, wb, kb,
    };
  }

  // JSON.parse with the calculator's message on failure.
  function parseConfig(text) {
    const trimmed = text.trim();
    if (!trimmed) throw new InputError("paste the contents of a config.json", CONFIG_FIELD);
    let parsed;
    try { parsed = JSON.parse(trimmed); } catch (e) { throw new InputError(`config.json is not valid JSON: ${e.message}`, CONFIG_FIELD); }
    const name = parsed && typeof parsed === "object" && typeof parsed._name_or_path === "string" ? parsed._name_or_path : "pasted config";
    return modelFromConfig(parsed, name);
  }

  const api = { InputError, LIMITS, bytesPerElement, numberIn, integerIn, modelFromConfig, parseConfig,
    expectedExpertsTouched, stepParams, cachedPositions, computeDtype, resolveGpu, evaluate };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  if (typeof window === "undefined" || typeof document === "undefined") return;

  // ---- the page ------------------------------------------------------------------------------

  const fmt = (x, digits = 2) => x.toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const gb = (bytes) => `${fmt(bytes / 1e9)} GB (${fmt(bytes / 2 ** 30)} GiB)`;
  const int = (x) => Math.round(x).toLocaleString("en");

  function rows(r, model, gpuName) {
    const ms = (s) => `${fmt(s * 1e3, 3)} ms`;
    const moe = model.moe_layers
      ? ` (${fmt(expectedExpertsTouched(model.n_routed_experts, model.experts_per_token, r.batch), 2)} of ${model.n_routed_experts} routed experts per MoE layer touched by the batch)`
      : "";
    const window = model.windowed_layers ? `; ${model.windowed_layers} of ${model.n_layers} layers keep at most ${int(model.sliding_window)} tokens` : "";
    return [
      ["weight_bytes", "Weights", gb(r.weight_bytes), `${int(model.params_total)} parameters × ${r.wb} B`],
      ["kv_bytes_per_token", "KV cache per token", `${fmt(r.kv_bytes_per_token / 1024, 1)} KiB`, `${int(model.kv_elements_per_position * model.n_layers)} elements (2 × layers × KV heads × head_dim, or the MLA latent) × ${r.kb} B`],
      ["kv_bytes_per_sequence", "KV cache per sequence", gb(r.kv_bytes_per_sequence), `${int(r.positions)} cached layer-positions × ${int(model.kv_elements_per_position)} elements × ${r.kb} B${window}`],
      ["kv_bytes_total", "KV cache, whole batch", gb(r.kv_bytes_total), `per sequence × ${int(r.batch)} sequences`],
      ["fits", "Fits in memory?", r.fits ? "yes" : "no", `weights + cache = ${gb(r.weight_bytes + r.kv_bytes_total)} against ${gb(r.usable_memory_bytes)} usable (capacity in GiB${r.ecc_reserved_fraction ? `, less the ${plain(r.ecc_reserved_fraction * 100)} % that ECC keeps (on by default)` : ""}, less the driver's 1 %)`],
      ["max_batch", "Largest batch that fits", int(r.max_batch), `⌊(usable memory − weights) / cache per sequence⌋ (activations ignored)`],
      ["compute_dtype", "Compute roof", `${r.compute_dtype}: ${fmt(r.peak / 1e12, 1)} TFLOPS`, r.compute_note || `dense ${r.compute_dtype} peak of the ${gpuName}`],
      ["ridge", "Ridge point", `${fmt(r.ridge, 1)} FLOP/byte`, `${fmt(r.peak / 1e12, 1)} TFLOPS ÷ ${fmt(r.bw / 1e9, 0)} GB/s`],
      ["step_bytes", "Bytes per decode step", gb(r.step_bytes), `weights read ${gb(r.step_weight_bytes)}${moe} + cache read ${gb(r.step_kv_bytes)}`],
      ["step_flops", "FLOPs per decode step", `${fmt(r.step_flops / 1e9, 1)} GFLOP`, `2 × batch × ${int(model.matmul_params)} matmul weights + attention over ${int(r.context)} tokens`],
      ["step_time_s", "Decode step, lower bound", ms(r.step_time_s), `max(bytes ÷ bandwidth = ${ms(r.memory_time)}, FLOPs ÷ ${r.compute_dtype} peak = ${ms(r.compute_time)})`],
      ["tokens_per_s_sequence", "Tokens/s per sequence", fmt(r.tokens_per_s_sequence, 1), "1 ÷ step time (upper bound)"],
      ["tokens_per_s_total", "Tokens/s, whole batch", fmt(r.tokens_per_s_total, 0), "batch ÷ step time (upper bound)"],
      ["memory_bound", "Bound by", r.memory_bound ? "memory bandwidth" : "compute", `intensity ${fmt(r.intensity, 2)} FLOP/byte vs ridge ${fmt(r.ridge, 1)} on the ${gpuName}`],
    ];
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG_NS, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  function drawRoofline(svg, r) {
    svg.replaceChildren();
    if (![r.peak, r.bw, r.intensity, r.attainable_flops].every((v) => Number.isFinite(v) && v > 0)) return;
    const W = 600, H = 320, left = 60, right = 20, top = 20, bottom = 45;
    const xMin = -1, xMax = 4.5; // log10 FLOP/byte
    const yMax = Math.log10(r.peak) + 0.4, yMin = yMax - 6; // log10 FLOP/s: six decades, so six ticks
    const clampY = (v) => Math.min(Math.max(v, 10 ** yMin), 10 ** yMax);
    const x = (v) => left + ((Math.log10(v) - xMin) / (xMax - xMin)) * (W - left - right);
    const y = (v) => top + ((yMax - Math.log10(clampY(v))) / (yMax - yMin)) * (H - top - bottom);
    el("title", {}, svg).textContent = `Roofline: ${fmt(r.bw / 1e9, 0)} GB/s and ${fmt(r.peak / 1e12, 0)} ${r.compute_dtype} TFLOPS; this step at ${fmt(r.intensity, 2)} FLOP/byte`;
    el("line", { x1: left, y1: H - bottom, x2: W - right, y2: H - bottom, stroke: "currentColor" }, svg);
    el("line", { x1: left, y1: top, x2: left, y2: H - bottom, stroke: "currentColor" }, svg);
    for (let e = xMin; e <= Math.floor(xMax); e++) {
      const t = el("text", { x: x(10 ** e), y: H - bottom + 16, "text-anchor": "middle", "font-size": 11, fill: "currentColor" }, svg);
      t.textContent = `${10 ** e >= 1 ? (10 ** e).toLocaleString("en") : 10 ** e}`;
    }
    const firstTick = Math.ceil(yMin);
    for (let i = 0; i <= 6; i++) {
      const e = firstTick + i;
      if (e > yMax) break;
      const t = el("text", { x: left - 6, y: y(10 ** e) + 4, "text-anchor": "end", "font-size": 11, fill: "currentColor" }, svg);
      t.textContent = `${(10 ** e / 1e12).toLocaleString("en", { maximumSignificantDigits: 3 })}`;
    }
    el("text", { x: (left + W) / 2, y: H - 6, "text-anchor": "middle", "font-size": 12, fill: "currentColor" }, svg).textContent = "arithmetic intensity (FLOP/byte)";
    el("text", { x: 14, y: (top + H - bottom) / 2, "text-anchor": "middle", "font-size": 12, fill: "currentColor", transform: `rotate(-90 14 ${(top + H - bottom) / 2})` }, svg).textContent = `${r.compute_dtype} TFLOP/s`;
    const x0 = 10 ** xMin, x1 = 10 ** xMax;
    const ridge = Math.min(Math.max(r.ridge, x0), x1);
    const pts = [[x0, x0 * r.bw], [ridge, Math.min(r.peak, ridge * r.bw)], [x1, r.peak]];
    el("polyline", { points: pts.map(([a, b]) => `${x(a)},${y(b)}`).join(" "), fill: "none", stroke: "currentColor", "stroke-width": 2 }, svg);
    el("line", { x1: x(ridge), y1: top, x2: x(ridge), y2: H - bottom, stroke: "#868e96", "stroke-dasharray": "3 3" }, svg);
    const px = Math.min(Math.max(r.intensity, x0), x1);
    el("circle", { id: "calc-point", cx: x(px), cy: y(r.attainable_flops), r: 6, fill: r.memory_bound ? "#3b82f6" : "#e8590c", "data-intensity": r.intensity }, svg);
  }

  const CONFIG_DEBOUNCE_MS = 250;

  function setupPage(root) {
    const data = JSON.parse(document.getElementById("calculator-data").textContent);
    const $ = (id) => root.querySelector(`#${id}`);
    const gpuSelect = $("calc-gpu"), modelSelect = $("calc-model"), configBox = $("calc-config");
    for (const a of data.accelerators) gpuSelect.add(new Option(a.unverified ? `${a.name} (some figures unverified)` : a.name, a.name));
    gpuSelect.add(new Option("Custom: my own numbers", "custom"));
    for (const m of data.models) modelSelect.add(new Option(m.name, m.name));
    modelSelect.add(new Option("Paste a Hugging Face config.json", "config"));
    for (const id of ["calc-weight-dtype", "calc-kv-dtype"]) {
      for (const d of Object.keys(data.dtypes)) $(id).add(new Option(d, d));
    }
    const computeSelect = $("calc-compute-dtype");
    computeSelect.add(new Option("same as the weights", "auto"));
    for (const d of data.compute_dtypes) computeSelect.add(new Option(d, d));
    gpuSelect.value = "NVIDIA H100 SXM";
    modelSelect.value = "Llama-3.1-8B";
    $("calc-weight-dtype").value = "bf16";
    $("calc-kv-dtype").value = "bf16";
    computeSelect.value = "auto";

    // An inline message after each control, tied to it for screen readers.
    const controls = [...root.querySelectorAll("input, select, textarea")];
    for (const control of controls) {
      const note = document.createElement("span");
      note.id = `${control.id}-error`;
      note.className = "calc-message calc-field-message";
      note.hidden = true;
      control.after(note);
      control.setAttribute("aria-describedby", note.id);
    }

    const findGpu = (name) => data.accelerators.find((g) => g.name === name);
    function currentGpu() {
      if (gpuSelect.value === "custom") {
        return { name: "custom GPU", custom: true, bandwidth_GBps: $("calc-bw").value, peak_TFLOPS: $("calc-tflops").value, memory_GB: $("calc-mem").value };
      }
      return findGpu(gpuSelect.value);
    }

    // The pasted config is read and parsed once per change of the text area (debounced), never
    // on keystrokes in other fields.
    const pasted = { dirty: true, model: null, error: null, timer: null };
    function readConfig() {
      if (!pasted.dirty) return;
      pasted.dirty = false;
      try { pasted.model = parseConfig(configBox.value); pasted.error = null; } catch (e) { pasted.model = null; pasted.error = e; }
    }
    function currentModel() {
      if (modelSelect.value !== "config") return data.models.find((m) => m.name === modelSelect.value);
      readConfig();
      if (pasted.error) throw pasted.error;
      return pasted.model;
    }

    // Switching to "Custom" starts from the numbers of the GPU chosen before.
    let lastGpu = findGpu(gpuSelect.value);
    gpuSelect.addEventListener("change", () => {
      if (gpuSelect.value !== "custom") { lastGpu = findGpu(gpuSelect.value); return; }
      const wanted = computeSelect.value === "auto" ? data.auto_compute[$("calc-weight-dtype").value] : computeSelect.value;
      const tflops = lastGpu.peak_TFLOPS[wanted] ?? lastGpu.peak_TFLOPS.bf16;
      for (const [id, value] of [["calc-bw", lastGpu.bandwidth_GBps], ["calc-tflops", tflops], ["calc-mem", lastGpu.memory_GB]]) {
        if ($(id).value.trim() === "" && value != null) $(id).value = String(value);
      }
    });

    const message = $("calc-message"), notes = $("calc-notes"), table = $("calc-results"), svg = $("calc-chart");
    function showNotes(lines) {
      notes.replaceChildren(...lines.map((line) => { const li = document.createElement("li"); li.textContent = line; return li; }));
      notes.hidden = lines.length === 0;
    }
    function clearFieldMessages() {
      for (const control of controls) {
        control.removeAttribute("aria-invalid");
        const note = $(`${control.id}-error`);
        note.textContent = "";
        note.hidden = true;
      }
    }
    function showError(error) {
      table.querySelector("tbody").replaceChildren();
      svg.replaceChildren();
      table.hidden = true;
      svg.style.display = "none";  // an SVG element has no .hidden property
      message.textContent = error instanceof InputError ? error.message : `the calculator failed: ${error.message}`;
      message.hidden = false;
      const control = error.field && $(error.field);
      if (control && !control.closest("[hidden]")) {
        control.setAttribute("aria-invalid", "true");
        const note = $(`${control.id}-error`);
        note.textContent = error.message;
        note.hidden = false;
      }
      if (!(error instanceof InputError)) console.error(error);
    }

    function update() {
      $("calc-custom-gpu").hidden = gpuSelect.value !== "custom";
      $("calc-config-box").hidden = modelSelect.value !== "config";
      clearFieldMessages();
      let model = null;
      try {
        const gpu = currentGpu();
        model = currentModel();
        const r = evaluate(data, gpu, model, {
          weight_dtype: $("calc-weight-dtype").value, kv_dtype: $("calc-kv-dtype").value, compute: computeSelect.value,
          batch: $("calc-batch").value, context: $("calc-context").value,
        });
        const body = table.querySelector("tbody");
        body.replaceChildren();
        for (const [key, label, value, formula] of rows(r, model, gpu.name)) {
          const tr = body.insertRow();
          tr.insertCell().textContent = label;
          const cell = tr.insertCell();
          cell.textContent = value;
          cell.dataset.key = key;
          cell.dataset.value = String(r[key]);
          tr.insertCell().textContent = formula;
        }
        table.querySelector("caption").textContent = `Results for ${model.name} on the ${gpu.name}, each with its formula`;
        showNotes([...(model.warnings || []), ...(r.compute_note ? [r.compute_note] : [])]);
        message.textContent = "";
        message.hidden = true;
        table.hidden = false;
        svg.style.display = "";
        drawRoofline(svg, r);
      } catch (error) {
        showNotes(model && model.warnings ? model.warnings : []);
        showError(error);
      }
    }

    configBox.addEventListener("input", () => {
      pasted.dirty = true;
      root.dataset.pending = "1";
      clearTimeout(pasted.timer);
      pasted.timer = setTimeout(() => { delete root.dataset.pending; update(); }, CONFIG_DEBOUNCE_MS);
    });
    const immediate = (event) => { if (event.target !== configBox) update(); };
    root.addEventListener("input", immediate);
    root.addEventListener("change", immediate);
    update();
  }

  window.Calc = api;
  function start() {
    const root = document.getElementById("calculator");
    if (root && !root.dataset.ready) { root.dataset.ready = "1"; setupPage(root); }
  }
  if (typeof document$ !== "undefined") document$.subscribe(start);
  else document.addEventListener("DOMContentLoaded", start);
})();
