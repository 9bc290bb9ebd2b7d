// The attribution panel: where the network looked for a class, by any method, over the input;
// and Grad-CAM of every spatial stage side by side. Maps are computed in Python (the protocol's
// `attribution` and `gradcam_stages`); long methods report progress by a job id and can be
// cancelled. Opened from the app's header; it docks beside the overview, where clicking the
// output column picks the class and clicking a column with a spatial output the Grad-CAM layer.
import { clear, el } from "../detail/dom.js";
import { openFrame } from "../detail/shell.js";
import "./attribution.css";

export const METHODS = {
  saliency: "Saliency (input gradient)",
  gradient_x_input: "Gradient × input",
  smoothgrad: "SmoothGrad",
  integrated_gradients: "Integrated gradients",
  gradcam: "Grad-CAM",
  "gradcam++": "Grad-CAM++",
  occlusion: "Occlusion",
};
const LONG = new Set(["smoothgrad", "integrated_gradients", "occlusion"]);
const LAYERED = new Set(["gradcam", "gradcam++"]);
const POLL_MS = 200;
// The blurred baseline's default gaussian in input pixels (DEFAULT_BLUR_SIGMA in methods.py).
const BLUR_SIGMA = 4;
const SIZE = 256;

let jobCounter = 0;

// options: {source, runId, modelInfo, overview, colors, close, onChoice}; onChoice({target, layer})
// hears the class and layer in use. Returns {destroy, close, frame, choose}: choose(node, channel)
// takes an overview click (the output node's row: its class; a spatial node: its layer).
export function openAttribution(container, options) {
  const { source, runId, modelInfo, overview, colors } = options;
  const frame = openFrame(container, {
    title: "What the network looks at", subtitle: "attribution maps", close: options.close,
    className: "tsa-panel", modal: false,
  });
  const spatial = modelInfo.nodes.filter((node) => node.shape.length === 4 && node.kind !== "input"
    && node.shape[2] * node.shape[3] > 1);
  const outputNode = overview.output?.node_id;
  const predicted = overview.output?.top?.[0]?.[0];
  const state = { destroyed: false, job: null, request: 0 };
  frame.onDestroy(() => { state.destroyed = true; cancelJob(); });

  const method = select("tsa-method", Object.entries(METHODS), "saliency");
  const target = select("tsa-target", modelInfo.classes.map((name, index) => [String(index), name]),
    String(Math.max(0, modelInfo.classes.indexOf(predicted))));
  const layer = select("tsa-layer", spatial.map((node) => [node.id, node.name]),
    spatial.length ? spatial[spatial.length - 1].id : "");
  const steps = el("input", { type: "number", class: "tsa-steps", min: 1, max: 4096, value: 32 });
  const baseline = select("tsa-baseline", [["black", "black"], ["blur", "blurred input"]], "black");
  // Where the steps go on the path (methods.py PATH_RULES); past its memory (a photo's 445
  // steps) adaptive takes each gradient twice, and its progress counts both passes.
  const rule = select("tsa-rule", [["adaptive", "adaptive"], ["gauss-legendre", "Gauss-Legendre"]],
    "adaptive");
  const sigma = el("input", { type: "number", class: "tsa-blur-sigma", min: 0.5, max: 64, step: 0.5,
    value: BLUR_SIGMA });
  const opacity = el("input", { type: "range", class: "tsa-opacity", min: 0, max: 100, value: 60,
    "aria-label": "Overlay opacity" });
  const progress = el("progress", { class: "tsa-progress", max: 1, value: 0, hidden: true });
  const cancel = el("button", { type: "button", class: "tsa-cancel", hidden: true, onclick: cancelJob }, "Cancel");
  const status = el("p", { class: "tsa-status", "aria-live": "polite" });
  const choice = el("p", { class: "tsa-choice" });
  const base = el("img", { class: "tsa-input", alt: "the input", width: SIZE, height: SIZE,
    src: `data:image/png;base64,${overview.input_png_base64}` });
  const overlay = el("canvas", { class: "tsa-overlay", width: SIZE, height: SIZE });
  const legendHolder = el("div", { class: "tsa-legend" });
  const stages = el("div", { class: "tsa-stages" });
  const layerRow = el("label", {}, "Grad-CAM layer ", layer);
  const classes = el("ol", { class: "tsa-classes", "aria-label": "Output: click a class to explain it" });
  for (const [name, probability] of overview.output?.top || []) {
    const index = modelInfo.classes.indexOf(name);
    classes.append(el("li", {}, el("button", {
      type: "button", class: "tsa-class", dataset: { target: String(index) },
      onclick: () => useTarget(index),
    }, `${name} ${(probability * 100).toFixed(1)}%`)));
  }
  const stepsRow = el("label", {}, "Steps ", steps);
  const ruleRow = el("label", {}, "Points ", rule);
  const baselineRow = el("label", {}, "Baseline ", baseline);
  const sigmaRow = el("label", {}, "Blur σ (pixels) ", sigma);

  frame.views.append(
    el("div", { class: "tsa-controls" },
      el("label", {}, "Method ", method), el("label", {}, "Class ", target), layerRow, stepsRow,
      ruleRow, baselineRow, sigmaRow,
      el("button", { type: "button", class: "tsa-run", onclick: run }, "Show"),
      el("label", {}, "Opacity ", opacity), progress, cancel),
    choice,
    status,
    el("div", { class: "tsa-main" }, el("div", { class: "tsa-figure" }, base, overlay), classes),
    legendHolder,
    el("h3", {}, "Grad-CAM of every spatial stage (click one to use its layer)"),
    stages);
  frame.text.append(el("p", {}, "Each map says which pixels made the network score the chosen class. "
    + "Saliency and SmoothGrad show how strongly each pixel's change would move the score; gradient × input "
    + "and integrated gradients split the score among the pixels (red raised it, blue lowered it); Grad-CAM "
    + "weighs a layer's channels by their gradients; occlusion covers patches and measures the drop."));

  method.addEventListener("change", () => { showRows(); run(); });
  target.addEventListener("change", () => { run(); loadStages(); });
  layer.addEventListener("change", run);
  baseline.addEventListener("change", () => { showRows(); run(); });
  rule.addEventListener("change", run);
  for (const control of [method, target, layer]) control.addEventListener("change", showChoice);
  opacity.addEventListener("input", () => { overlay.style.opacity = String(opacity.value / 100); });
  overlay.style.opacity = String(opacity.value / 100);
  showRows();
  showChoice();
  run();
  loadStages();

  function select(className, entries, value) {
    const node = el("select", { class: className });
    for (const [key, label] of entries) node.append(el("option", { value: key }, label));
    node.value = value;
    return node;
  }

  // Which class and layer the maps explain, in words and as outlines in the overview.
  function showChoice() {
    const layered = LAYERED.has(method.value);
    const layerName = spatial.find((node) => node.id === layer.value)?.name;
    clear(choice).append("Class ", el("strong", { class: "tsa-chosen-class" }, modelInfo.classes[target.value] ?? target.value),
      " (click a class in the output column)");
    if (layerName) {
      choice.append(" · Grad-CAM layer ", el("strong", { class: "tsa-chosen-layer" }, layerName),
        layered ? " (click a column to change it)" : " (click a column to use Grad-CAM there)");
    }
    options.onChoice?.({ target: target.value, layer: layered ? layer.value : null });
  }

  function useTarget(index) {
    target.value = String(index);
    showChoice();
    run();
    loadStages();
  }

  // An overview click: a class of the output column, or a column with a spatial output.
  function choose(node, channel) {
    if (node.id === outputNode) useTarget(channel);
    else if (spatial.some((candidate) => candidate.id === node.id)) useLayer(node.id);
    else status.textContent = `${node.name} has no spatial output: Grad-CAM needs a column of maps.`;
  }

  function showRows() {
    layerRow.hidden = !LAYERED.has(method.value);
    const integrated = method.value === "integrated_gradients";
    stepsRow.hidden = !integrated;
    ruleRow.hidden = !integrated;
    baselineRow.hidden = !integrated;
    sigmaRow.hidden = !integrated || baseline.value !== "blur";
  }

  async function run() {
    const mine = ++state.request;
    cancelJob();
    const params = { method: method.value, target: target.value };
    if (LAYERED.has(method.value) && layer.value) params.layer = layer.value;
    if (method.value === "integrated_gradients") {
      params.steps = String(steps.value);
      params.rule = rule.value;
      params.baseline = baseline.value;
      if (baseline.value === "blur") params.blur_sigma = String(sigma.value);
    }
    if (LONG.has(method.value)) params.job_id = `job-${Date.now()}-${jobCounter++}`;
    frame.frame.dataset.state = "loading";
    status.textContent = `Computing ${METHODS[method.value]}…`;
    const polling = params.job_id ? poll(params.job_id) : null;
    try {
      const pack = await source.attribution(runId, params);
      if (mine !== state.request || state.destroyed) return;
      paint(pack);
      status.textContent = `${METHODS[pack.meta.method]} for “${pack.meta.target_name}”`
        + (pack.meta.layer_name ? ` at ${pack.meta.layer_name}` : "") + completeness(pack.meta);
      frame.frame.dataset.state = "ready";
    } catch (error) {
      if (mine !== state.request || state.destroyed) return;
      status.textContent = error.status === 409 ? "Cancelled." : error.message;
      frame.frame.dataset.state = error.status === 409 ? "cancelled" : "error";
    } finally {
      if (polling) polling.stop();
    }
  }

  // Integrated gradients: how far the attributions' sum is from the score change they split.
  function completeness(meta) {
    const { delta, score, baseline_score: baselineScore } = meta.details || {};
    if (delta === undefined) return "";
    const change = Math.abs(score - baselineScore);
    const percent = change > 0 ? `${(100 * Math.abs(delta) / change).toFixed(2)}%` : "n/a";
    const { baseline: from, blur_sigma: blurSigma, rule: placed } = meta.settings;
    const named = from === "blur" ? `blurred baseline, σ ${blurSigma}`
      : from === null || from === undefined ? "black baseline" : `baseline ${from}`;
    const points = placed ? `, ${placed === "gauss-legendre" ? "Gauss-Legendre" : placed} points` : "";
    return ` (${named}${points}; the map sums to the score change within ${percent})`;
  }

  function poll(jobId) {
    state.job = jobId;
    progress.hidden = false;
    cancel.hidden = false;
    progress.value = 0;
    const timer = setInterval(async () => {
      try {
        const { done, total } = await source.attributionProgress(jobId);
        if (total) progress.value = done / total;
      } catch {
        // progress is a hint: a failed poll is retried at the next tick
      }
    }, POLL_MS);
    return {
      stop() {
        clearInterval(timer);
        if (state.job === jobId) state.job = null;
        progress.hidden = true;
        cancel.hidden = true;
      },
    };
  }

  function cancelJob() {
    if (state.job) source.cancelAttribution(state.job).catch(() => {});
  }

  function paint(pack) {
    const map = pack.arrays.map;
    const [rows, cols] = map.shape;
    const [min, max] = pack.meta.range;
    const limit = colors.absMax(min, max);
    const scale = colors.activationColor(limit);
    paintOverlay(overlay, map.data, rows, cols, scale, limit);
    Object.assign(overlay.dataset, { min: String(min), max: String(max), rows: String(rows),
      cols: String(cols), target: String(pack.meta.target), method: pack.meta.method });
    clear(legendHolder).append(colors.legend(scale, { label: METHODS[pack.meta.method], width: SIZE, ticks: 5 }));
  }

  function useLayer(nodeId) {
    if (!LAYERED.has(method.value)) method.value = "gradcam";
    layer.value = nodeId;
    showRows();
    showChoice();
    run();
  }

  async function loadStages() {
    const mine = state.request;
    try {
      const pack = await source.gradcamStages(runId, target.value);
      if (state.destroyed || mine !== state.request) return;
      clear(stages);
      for (const stage of pack.meta.stages) {
        const values = pack.arrays[stage.node];
        const limit = colors.absMax(stage.range[0], stage.range[1]);
        const canvas = el("canvas", { class: "tsa-stage-map" });
        paintOverlay(canvas, values.data, values.shape[0], values.shape[1], colors.activationColor(limit), limit);
        canvas.dataset.node = stage.node;
        stages.append(el("figure", { class: "tsa-stage", tabindex: 0, dataset: { node: stage.node },
          onclick: () => useLayer(stage.node),
          onkeydown: (event) => { if (event.key === "Enter") useLayer(stage.node); } },
          el("div", { class: "tsa-stage-figure" },
            el("img", { src: base.src, alt: "", width: 96, height: 96 }), canvas),
          el("figcaption", {}, stage.name)));
      }
    } catch (error) {
      if (!state.destroyed) stages.textContent = error.message;
    }
  }

  frame.onDestroy(() => options.onChoice?.(null));
  return { destroy: frame.destroy, close: frame.close, frame: frame.frame, choose };
}

// Paints a map with zero transparent: alpha follows |value| / limit, so the input shows through.
export function paintOverlay(canvas, values, rows, cols, scale, limit) {
  canvas.width = cols;
  canvas.height = rows;
  const context = canvas.getContext("2d");
  const image = context.createImageData(cols, rows);
  for (let i = 0; i < rows * cols; i++) {
    const [r, g, b] = scale(values[i]);
    image.data.set([r, g, b, Math.round(255 * Math.min(1, Math.abs(values[i]) / limit))], i * 4);
  }
  context.putImageData(image, 0, 0);
}
