// The app shell: image picker, colour controls, explanations, the overview, and the detail views
// (from ./detail/index.js) opened on top of it. One app, two hosts: main.js mounts it in the page
// with the HTTP source, widget.js inside a notebook with the anywidget comm source.
//
// Styles: any module may `import "./something.css"`; the build gathers them all into app.css.
import "./styles/app.css";
import * as colors from "./colors.js";
import { clear, el } from "./detail/dom.js";
import { openDetail } from "./detail/index.js";
import { createPicker } from "./images/picker.js";
import { createLatentPanel } from "./latent/panel.js";
import { openPlayground } from "./playground/index.js";
import { openAttribution } from "./attribution/index.js";
import { createReceptiveOutline } from "./attribution/receptive.js";
import { attachExemplars } from "./attribution/exemplars.js";
import { explanation } from "./overview/explain.js";
import { createOverview, RANGE_MODES } from "./overview/overview.js";
import { formatPercent } from "./ui/format.js";
import { createReadout } from "./ui/readout.js";

// mount(el, source, {page, signal}): builds the app in `el` and runs the first sample. `page`
// also reports the state on document.body (the bench and the browser tests wait for
// body[data-state="ready"]); inside a notebook only `el` carries it. States: loading, ready
// (the current run is painted), idle (no samples: waiting for an upload), error. Aborting
// `signal` tears the app down: the open view closes, the overview drops its listeners and
// observer (the widget does this when the notebook removes its output).
export async function mount(root, source, { page = false, signal = null } = {}) {
  const teardown = [];
  signal?.addEventListener("abort", () => {
    for (const release of teardown.splice(0)) release();
  }, { once: true });
  const setState = (state) => {
    root.dataset.state = state;
    if (page) document.body.dataset.state = state;
  };
  setState("loading");
  clear(root).classList.add("ts-app");

  let current = null;   // the overview of the run on screen
  let ticket = 0;       // the newest run request: older answers are dropped
  let detail = null;    // the open detail view or playground
  const detailLayer = el("div", { class: "ts-detail-layer", hidden: true });
  const alert = el("div", { class: "ts-alert", role: "alert", hidden: true });
  const status = el("span", { class: "ts-status", "aria-live": "polite" });
  const playgroundButton = el("button", {
    type: "button", class: "ts-top-button", onclick: () => showPanel((layer, close) => openPlayground(layer, { close })),
  }, "Convolution playground");
  const attributionButton = el("button", {
    type: "button", class: "ts-top-button ts-attribution-button", onclick: () => current && showPanel((layer, close) =>
      openAttribution(layer, { source, runId: current.run_id, modelInfo, overview: current, colors, close })),
  }, "What it looks at");
  // The GAN Lab link shows only on the page (a notebook has no /gan to go to).
  const ganLink = page ? el("a", { class: "ts-top-button", href: "gan" }, "GAN Lab") : null;
  root.append(el("header", { class: "ts-top" },
    el("span", { class: "ts-logo" }, "tensorsight"), status, attributionButton, playgroundButton, ganLink), alert, detailLayer);
  teardown.push(() => closeDetail());

  let modelInfo;
  let samples;
  let exemplarLayers;   // layers with channel exemplars (attribution/exemplars.js)
  try {
    [modelInfo, samples, exemplarLayers] = await Promise.all([source.modelInfo(), source.samples(),
      source.exemplarLayers ? source.exemplarLayers() : []]);
  } catch (error) {
    showAlert(error.message);
    setState("error");
    return;
  }
  if (signal?.aborted) return;
  status.textContent = `${modelInfo.name} · input ${modelInfo.input.channels}×${modelInfo.input.height}×${modelInfo.input.width}`;
  status.title = status.textContent;   // a long model name is cut short in the header

  const readout = createReadout();
  const legendHolder = el("div", { class: "ts-toolbar-legend" });
  const explainTitle = el("h2", {});
  const explainBody = el("p", {});
  const fields = createReceptiveOutline({ source, root, modelInfo });
  const overview = createOverview({
    source, modelInfo, readout,
    onHoverCell: (hover) => fields.show(current?.run_id, hover),
    onOpenDetail: (node, channel) => showDetail(node, channel),
    onFocusKind: (kind) => explain(kind),
    onError: (message) => showAlert(message),
    onLegend: (node, scale, mode) => clear(legendHolder).append(
      colors.legend(scale, { label: `${node.name} · ${mode.toLowerCase()}`, width: 180, ticks: 5 })),
  });
  teardown.push(() => overview.destroy());
  const picker = createPicker({
    onSample: (id) => start(() => source.runSample(id), id),
    onUpload: (file) => start(() => source.runUpload(file), null),
  });
  // A generator's input is a latent vector: its panel takes the image picker's place.
  const latent = modelInfo.latent ? createLatentPanel({
    latent: modelInfo.latent, source, run: (params) => start(() => source.runLatent(params), null),
  }) : null;
  const modelView = el("img", { class: "ts-model-view", alt: "The image as the model sees it", width: 96, height: 96 });
  const prediction = el("p", { class: "ts-prediction" });

  root.append(el("div", { class: "ts-body" },
    el("aside", { class: "ts-side" },
      latent ? latent.el : null,
      el("section", { class: "ts-card", hidden: Boolean(latent) }, el("h2", {}, "Image"), picker.el,
        el("div", { class: "ts-seen", hidden: true },
          el("figure", {}, modelView, el("figcaption", {}, "as the model sees it")),
          prediction)),
      el("section", { class: "ts-card" }, el("h2", {}, "Colour range"), rangeControl(),
        el("p", { class: "ts-note" }, "Red is positive, blue negative, white zero. Each layer's legend shows the range its colours span.")),
      el("section", { class: "ts-card ts-explain", "aria-live": "polite" }, explainTitle, explainBody)),
    el("main", { class: "ts-content" },
      el("div", { class: "ts-toolbar" }, readout.el, fields.toggle, legendHolder),
      overview.el)));
  explain("overview");

  function showAlert(message) {
    alert.textContent = message;
    alert.hidden = !message;
  }

  function explain(kind) {
    const { title, body } = explanation(kind);
    explainTitle.textContent = title;
    explainBody.textContent = body;
  }

  function rangeControl() {
    const group = el("div", { class: "ts-segmented", role: "radiogroup", "aria-label": "Colour range" });
    for (const [mode, label] of Object.entries(RANGE_MODES)) {
      const input = el("input", {
        type: "radio", name: "ts-range", value: mode, id: `ts-range-${mode}`, checked: mode === "layer",
        onchange: () => overview.setRangeMode(mode),
      });
      group.append(input, el("label", { for: `ts-range-${mode}` }, label));
    }
    return group;
  }

  // Runs an image (sample or upload); the newest request wins if several overlap.
  async function start(request, sampleId) {
    const mine = ++ticket;
    setState("loading");
    showAlert("");
    closeDetail();
    try {
      const result = await request();
      if (mine !== ticket) return;
      current = result;
      root.dataset.runId = result.run_id;
      picker.setCurrent(sampleId);
      modelView.src = `data:image/png;base64,${result.input_png_base64}`;
      modelView.closest(".ts-seen").hidden = false;
      const top = result.output?.top?.[0];   // absent for models whose output is not classes
      clear(prediction);
      if (top) prediction.append("Prediction: ", el("strong", {}, top[0]), ` (${formatPercent(top[1])})`);
      if (latent) latent.show(result);
      await overview.show(result);
      if (mine === ticket) setState("ready");
    } catch (error) {
      if (mine !== ticket) return;
      showAlert(error.message);
      setState("error");
    }
  }

  function showDetail(node, channel) {
    if (!current) return;
    showPanel((layer, close) => openDetail(layer, null, {
      source, runId: current.run_id, node, channel, modelInfo, overview: current, colors,
      range: overview.activationRange(node.id), close,
    }));
    attachExemplars(detailLayer, { source, runId: current.run_id, node, channel, layers: exemplarLayers })
      .catch((error) => showAlert(error.message));
  }

  // Opens a detail view or the playground on the layer above the overview, one at a time.
  function showPanel(open) {
    closeDetail();
    detailLayer.hidden = false;
    detail = open(detailLayer, closeDetail);
  }

  function closeDetail() {
    if (!detail) return;
    const open = detail;
    detail = null;
    open.destroy?.();
    clear(detailLayer).hidden = true;
  }

  picker.setSamples(samples);
  if (latent) await latent.start();
  else if (samples.length) await start(() => source.runSample(samples[0].id), samples[0].id);
  else setState("idle");
}
