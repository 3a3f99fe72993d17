// Roofline and KV-cache calculator. Plain JavaScript, no network: its data is placed in the page
// at build time by snippets.calculator, and its formulas mirror the Python `snippets` functions
// (the browser tests compare them on vectors computed in Python).
(function () {
  "use strict";

  class InputError extends Error {}

  // ---- formulas (pure functions) -------------------------------------------------------------

  function bytesPerElement(dtypes, dtype) {
    if (!(dtype in dtypes)) throw new InputError(`unknown dtype "${dtype}"; allowed: ${Object.keys(dtypes).join(", ")}`);
    return dtypes[dtype];
  }

  function positiveNumber(value, label) {
    const text = String(value ?? "").trim();
    const x = Number(text);
    if (text === "" || !Number.isFinite(x) || x <= 0) throw new InputError(`${label} must be a positive number (got "${text}")`);
    return x;
  }

  function positiveInteger(value, label) {
    const x = positiveNumber(value, label);
    if (!Number.isInteger(x)) throw new InputError(`${label} must be a whole number (got ${x})`);
    return x;
  }

  // A Llama-style model (RMSNorm, gated MLP, no biases) from a Hugging Face config.json object.
  function modelFromConfig(config, name = "pasted config") {
    if (config === null || typeof config !== "object" || Array.isArray(config)) {
      throw new InputError("config.json must be a JSON object");
    }
    const needed = ["num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size", "vocab_size"];
    const missing = needed.filter((k) => !(k in config));
    if (missing.length) throw new InputError(`config.json lacks ${missing.join(", ")}`);
    const L = positiveInteger(config.num_hidden_layers, "num_hidden_layers");
    const d = positiveInteger(config.hidden_size, "hidden_size");
    const H = positiveInteger(config.num_attention_heads, "num_attention_heads");
    const G = positiveInteger(config.num_key_value_heads ?? H, "num_key_value_heads");
    const ff = positiveInteger(config.intermediate_size, "intermediate_size");
    const V = positiveInteger(config.vocab_size, "vocab_size");
    if (H % G !== 0) throw new InputError(`num_attention_heads (${H}) must be a multiple of num_key_value_heads (${G})`);
    const hd = config.head_dim != null ? positiveInteger(config.head_dim, "head_dim") : d / H;
    if (!Number.isInteger(hd)) throw new InputError(`hidden_size / num_attention_heads = ${hd} is not whole; add "head_dim"`);
    const tied = config.tie_word_embeddings === true;
    const attention = d * H * hd + 2 * d * G * hd + H * hd * d;
    const mlp = 3 * d * ff;
    const norms = 2 * d;
    const total = V * d + L * (attention + mlp + norms) + d + (tied ? 0 : V * d);
    return {
      name,
      kind: G === H ? "MHA" : "GQA",
      params_total: total,
      decode_params: tied ? total : total - (V * d - d),
      matmul_params: tied ? total : total - V * d,
      kv_elements_per_token: 2 * L * G * hd,
      attention_flops_per_context_token: 4 * L * H * hd,
      max_context: config.max_position_embeddings != null ? positiveInteger(config.max_position_embeddings, "max_position_embeddings") : null,
    };
  }

  // Everything the page shows, from validated numbers. Mirrors snippets.calculator.expected().
  function evaluate(dtypes, gpu, model, inputs) {
    const wb = bytesPerElement(dtypes, inputs.weight_dtype);
    const kb = bytesPerElement(dtypes, inputs.kv_dtype);
    const batch = positiveInteger(inputs.batch, "batch size");
    const context = positiveInteger(inputs.context, "context length");
    const bw = positiveNumber(gpu.bandwidth_GBps, "memory bandwidth (GB/s)") * 1e9;
    const peak = positiveNumber(gpu.peak_TFLOPS, "dense bf16 TFLOPS") * 1e12;
    const memory = positiveNumber(gpu.memory_GB, "memory (GB)") * 1e9;
    if (model.max_context && context > model.max_context) {
      throw new InputError(`context ${context.toLocaleString("en")} is beyond ${model.name}'s maximum of ${model.max_context.toLocaleString("en")} tokens`);
    }
    const weight_bytes = model.params_total * wb;
    const kv_bytes_per_token = model.kv_elements_per_token * kb;
    const kv_bytes_per_sequence = kv_bytes_per_token * context;
    const kv_bytes_total = kv_bytes_per_sequence * batch;
    const free = memory - weight_bytes;
    const max_batch = free <= 0 ? 0 : Math.floor(free / kv_bytes_per_sequence);
    const step_weight_bytes = model.decode_params * wb;
    const step_kv_bytes = batch * context * kv_bytes_per_token;
    const step_bytes = step_weight_bytes + step_kv_bytes;
    const step_flops = 2.0 * batch * model.matmul_params + batch * (model.attention_flops_per_context_token * context);
    const memory_time = step_bytes / bw;
    const compute_time = step_flops / peak;
    const step_time_s = Math.max(memory_time, compute_time);
    return {
      weight_bytes, kv_bytes_per_token, kv_bytes_per_sequence, kv_bytes_total, max_batch,
      fits: weight_bytes + kv_bytes_total <= memory,
      memory_bytes: memory,
      ridge: peak / bw,
      step_weight_bytes, step_kv_bytes, step_bytes, step_flops,
      intensity: step_flops / step_bytes,
      memory_time, compute_time, step_time_s,
      tokens_per_s_total: batch / step_time_s,
      tokens_per_s_sequence: 1 / step_time_s,
      memory_bound: memory_time >= compute_time,
      attainable_flops: Math.min(peak, (step_flops / step_bytes) * bw),
      bw, peak, batch, context, wb, kb,
    };
  }

  // ---- the page ------------------------------------------------------------------------------

  const fmt = (x, digits = 2) => x.toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const gb = (bytes) => `${fmt(bytes / 1e9)} GB (${fmt(bytes / 2 ** 30)} GiB)`;
  const int = (x) => Math.round(x).toLocaleString("en");

  function rows(r, model, gpuName) {
    const ms = (s) => `${fmt(s * 1e3, 3)} ms`;
    return [
      ["weight_bytes", "Weights", gb(r.weight_bytes), `${int(model.params_total)} parameters × ${r.wb} B`],
      ["kv_bytes_per_token", "KV cache per token", `${fmt(r.kv_bytes_per_token / 1024, 1)} KiB`, `${int(model.kv_elements_per_token)} elements (2 × layers × KV heads × head_dim, or the MLA latent) × ${r.kb} B`],
      ["kv_bytes_per_sequence", "KV cache per sequence", gb(r.kv_bytes_per_sequence), `per token × ${int(r.context)} tokens`],
      ["kv_bytes_total", "KV cache, whole batch", gb(r.kv_bytes_total), `per sequence × ${int(r.batch)} sequences`],
      ["fits", "Fits in memory?", r.fits ? "yes" : "no", `weights + cache = ${gb(r.weight_bytes + r.kv_bytes_total)} against ${gb(r.memory_bytes)}`],
      ["max_batch", "Largest batch that fits", int(r.max_batch), `⌊(memory − weights) / cache per sequence⌋ (activations ignored)`],
      ["ridge", "Ridge point", `${fmt(r.ridge, 1)} FLOP/byte`, `${fmt(r.peak / 1e12, 1)} TFLOPS ÷ ${fmt(r.bw / 1e9, 0)} GB/s`],
      ["step_bytes", "Bytes per decode step", gb(r.step_bytes), `weights read ${gb(r.step_weight_bytes)} + cache read ${gb(r.step_kv_bytes)}`],
      ["step_flops", "FLOPs per decode step", `${fmt(r.step_flops / 1e9, 1)} GFLOP`, `2 × batch × ${int(model.matmul_params)} matmul weights + attention over ${int(r.context)} tokens`],
      ["step_time_s", "Decode step, lower bound", ms(r.step_time_s), `max(bytes ÷ bandwidth = ${ms(r.memory_time)}, FLOPs ÷ peak = ${ms(r.compute_time)})`],
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
    const W = 600, H = 320, left = 60, right = 20, top = 20, bottom = 45;
    const xMin = -1, xMax = 4.5; // log10 FLOP/byte
    const yMax = Math.log10(r.peak) + 0.4, yMin = yMax - 6; // log10 FLOP/s
    const x = (v) => left + ((Math.log10(v) - xMin) / (xMax - xMin)) * (W - left - right);
    const y = (v) => top + ((yMax - Math.log10(v)) / (yMax - yMin)) * (H - top - bottom);
    el("title", {}, svg).textContent = `Roofline: ${fmt(r.bw / 1e9, 0)} GB/s and ${fmt(r.peak / 1e12, 0)} TFLOPS; this step at ${fmt(r.intensity, 2)} FLOP/byte`;
    el("line", { x1: left, y1: H - bottom, x2: W - right, y2: H - bottom, stroke: "currentColor" }, svg);
    el("line", { x1: left, y1: top, x2: left, y2: H - bottom, stroke: "currentColor" }, svg);
    for (let e = xMin; e <= Math.floor(xMax); e++) {
      const t = el("text", { x: x(10 ** e), y: H - bottom + 16, "text-anchor": "middle", "font-size": 11, fill: "currentColor" }, svg);
      t.textContent = `${10 ** e >= 1 ? (10 ** e).toLocaleString("en") : 10 ** e}`;
    }
    for (let e = Math.ceil(yMin); e <= Math.floor(yMax); e++) {
      const t = el("text", { x: left - 6, y: y(10 ** e) + 4, "text-anchor": "end", "font-size": 11, fill: "currentColor" }, svg);
      t.textContent = `${(10 ** e / 1e12).toLocaleString("en", { maximumSignificantDigits: 3 })}`;
    }
    el("text", { x: (left + W) / 2, y: H - 6, "text-anchor": "middle", "font-size": 12, fill: "currentColor" }, svg).textContent = "arithmetic intensity (FLOP/byte)";
    el("text", { x: 14, y: (top + H - bottom) / 2, "text-anchor": "middle", "font-size": 12, fill: "currentColor", transform: `rotate(-90 14 ${(top + H - bottom) / 2})` }, svg).textContent = "TFLOP/s";
    const x0 = 10 ** xMin, x1 = 10 ** xMax;
    const pts = [[x0, Math.max(x0 * r.bw, 10 ** yMin)], [r.ridge, r.peak], [x1, r.peak]];
    el("polyline", { points: pts.map(([a, b]) => `${x(a)},${y(b)}`).join(" "), fill: "none", stroke: "currentColor", "stroke-width": 2 }, svg);
    el("line", { x1: x(r.ridge), y1: top, x2: x(r.ridge), y2: H - bottom, stroke: "#868e96", "stroke-dasharray": "3 3" }, svg);
    const px = Math.min(Math.max(r.intensity, x0), x1);
    el("circle", { id: "calc-point", cx: x(px), cy: y(r.attainable_flops), r: 6, fill: r.memory_bound ? "#3b82f6" : "#e8590c", "data-intensity": r.intensity }, svg);
  }

  function setupPage(root) {
    const data = JSON.parse(document.getElementById("calculator-data").textContent);
    const $ = (id) => root.querySelector(`#${id}`);
    const gpuSelect = $("calc-gpu"), modelSelect = $("calc-model");
    for (const a of data.accelerators) gpuSelect.add(new Option(a.unverified ? `${a.name} (some figures unverified)` : a.name, a.name));
    gpuSelect.add(new Option("Custom: my own numbers", "custom"));
    for (const m of data.models) modelSelect.add(new Option(m.name, m.name));
    modelSelect.add(new Option("Paste a Hugging Face config.json", "config"));
    for (const id of ["calc-weight-dtype", "calc-kv-dtype"]) {
      for (const d of Object.keys(data.dtypes)) $(id).add(new Option(d, d));
    }
    gpuSelect.value = "NVIDIA H100 SXM";
    modelSelect.value = "Llama-3.1-8B";
    $("calc-weight-dtype").value = "bf16";
    $("calc-kv-dtype").value = "bf16";

    function currentGpu() {
      if (gpuSelect.value === "custom") {
        return { name: "custom GPU", bandwidth_GBps: $("calc-bw").value, peak_TFLOPS: $("calc-tflops").value, memory_GB: $("calc-mem").value };
      }
      const a = data.accelerators.find((g) => g.name === gpuSelect.value);
      if (a.peak_TFLOPS == null) throw new InputError(`the data has no published dense bf16 figure for the ${a.name}; choose "Custom" and enter your own`);
      return a;
    }

    function currentModel() {
      if (modelSelect.value !== "config") return data.models.find((m) => m.name === modelSelect.value);
      const text = $("calc-config").value.trim();
      if (!text) throw new InputError("paste the contents of a config.json");
      let parsed;
      try { parsed = JSON.parse(text); } catch (e) { throw new InputError(`config.json is not valid JSON: ${e.message}`); }
      return modelFromConfig(parsed);
    }

    // Switching to "Custom" starts from the numbers of the GPU chosen before.
    let lastGpu = data.accelerators.find((g) => g.name === gpuSelect.value);
    gpuSelect.addEventListener("change", () => {
      if (gpuSelect.value !== "custom") {
        lastGpu = data.accelerators.find((g) => g.name === gpuSelect.value);
        return;
      }
      for (const [id, key] of [["calc-bw", "bandwidth_GBps"], ["calc-tflops", "peak_TFLOPS"], ["calc-mem", "memory_GB"]]) {
        if ($(id).value.trim() === "" && lastGpu[key] != null) $(id).value = String(lastGpu[key]);
      }
    });

    function update() {
      $("calc-custom-gpu").hidden = gpuSelect.value !== "custom";
      $("calc-config-box").hidden = modelSelect.value !== "config";
      const message = $("calc-message"), table = $("calc-results"), svg = $("calc-chart");
      try {
        const gpu = currentGpu(), model = currentModel();
        const r = evaluate(data.dtypes, gpu, model, {
          weight_dtype: $("calc-weight-dtype").value, kv_dtype: $("calc-kv-dtype").value,
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
        message.textContent = "";
        message.hidden = true;
        table.hidden = false;
        svg.style.display = "";  // an SVG element has no .hidden property
        drawRoofline(svg, r);
      } catch (error) {
        if (!(error instanceof InputError)) throw error;
        message.textContent = error.message;
        message.hidden = false;
        table.hidden = true;
        svg.style.display = "none";
      }
    }

    root.addEventListener("input", update);
    root.addEventListener("change", update);
    update();
  }

  window.Calc = { InputError, bytesPerElement, modelFromConfig, evaluate };
  function start() {
    const root = document.getElementById("calculator");
    if (root && !root.dataset.ready) { root.dataset.ready = "1"; setupPage(root); }
  }
  if (typeof document$ !== "undefined") document$.subscribe(start);
  else document.addEventListener("DOMContentLoaded", start);
})();
