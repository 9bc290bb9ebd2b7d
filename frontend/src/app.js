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
import { saveButtons } from "./share/save.js";
import { readState, urlKeeper } from "./share/url-state.js";
import { modelPicker } from "./share/models.js";

// mount(el, source, {page, signal}): builds the app in `el` and runs the first sample. `page`
// also reports the state on document.body (the bench and the browser tests wait for
// body[data-state="ready"]); inside a notebook only `el` carries it. States: loading, ready
// (the current run is painted), idle (no samples: waiting for an upload), error. Aborting
// `signal` tears the app down: the open view closes, the overview drops its listeners and
// observer (the widget does this when the notebook removes its output). models/modelId: the
// server's models and the one shown (share/models.js): a picker in the header.
export async function mount(root, source, { page = false, gan = false, signal = null, models = null, modelId = null } = {}) {
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
  // The page keeps what it shows in the URL (share/url-state.js); a notebook's URL is not ours.
  const url = page ? urlKeeper() : null;
  const wanted = page ? readState() : {};

  let current = null;   // the overview of the run on screen
  let ticket = 0;       // the newest run request: older answers are dropped
  let detail = null;    // the open detail view or playground
  const detailLayer = el("div", { class: "ts-detail-layer", hidden: true });
  const alert = el("div", { class: "ts-alert", role: "alert", hidden: true });
  const status = el("span", { class: "ts-status", "aria-live": "polite" });
  const playgroundButton = el("button", {
    type: "button", class: "ts-top-button", onclick: () => showPanel((layer, close) => openPlayground(layer, { close })),
  }, "Convolution playground");
  // Attribution runs the model backwards: a static copy of the page (no server) has no such method.
  // The attribution panel docks beside the overview: clicks in the overview then choose its
  // class (the output column) and its Grad-CAM layer (any column with a spatial output).
  const attributionButton = source.attribution ? el("button", {
    type: "button", class: "ts-top-button ts-attribution-button", onclick: () => current && showPanel((layer, close) =>
      openAttribution(layer, {
        source, runId: current.run_id, modelInfo, overview: current, colors, close,
        onChoice: (choice) => overview.markChoice(choice),
      }), { docked: true }),
  }, "What it looks at") : null;
  const modelChoice = models && models.length > 1 ? modelPicker(models, modelId) : null;
  // The GAN Lab link shows only on a served page (a notebook or a static copy has no /gan).
  const ganLink = gan ? el("a", { class: "ts-top-button", href: "gan" }, "GAN Lab") : null;
  root.append(el("header", { class: "ts-top" },
    el("span", { class: "ts-logo" }, "tensorsight"), modelChoice, status, attributionButton, playgroundButton, ganLink), alert, detailLayer);
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
    onOpenDetail: (node, channel) => (detail?.choose ? detail.choose(node, channel) : showDetail(node, channel)),
    onFocusKind: (kind) => explain(kind),
    onError: (message) => showAlert(message),
    onLegend: (node, scale, mode) => clear(legendHolder).append(
      colors.legend(scale, { label: `${node.name} · ${mode.toLowerCase()}`, width: 180, ticks: 5 })),
  });
  teardown.push(() => overview.destroy());
  const picker = createPicker({
    onSample: (id) => start(() => source.runSample(id), id),
    onUpload: (file) => start(() => source.runUpload(file), null),
    uploadsOff: source.canUpload === false ? source.uploadsOff : null,
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
      el("div", { class: "ts-toolbar" }, readout.el, fields.toggle, legendHolder,
        saveButtons(() => overview.el.querySelector(".ts-stage"), () => `tensorsight-${slug(modelInfo.name)}-overview`)),
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
        onchange: () => setRange(mode),
      });
      group.append(input, el("label", { for: `ts-range-${mode}` }, label));
    }
    return group;
  }

  function setRange(mode) {
    overview.setRangeMode(mode);
    const input = root.querySelector(`#ts-range-${mode}`);
    if (input) input.checked = true;
    url?.update({ range: mode === "layer" ? undefined : mode });
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
      url?.update({ model: modelId ?? modelInfo.name, sample: sampleId ?? undefined, run: sampleId ? undefined : result.run_id });
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

  // initial: {at, tab} from a shared link, where the view reopens.
  function showDetail(node, channel, initial = null) {
    if (!current) return;
    showPanel((layer, close) => openDetail(layer, null, {
      source, runId: current.run_id, node, channel, modelInfo, overview: current, colors,
      range: overview.activationRange(node.id), close, initial,
      onState: (changes) => { if (detail) url?.update(changes); },
    }));
    attachExemplars(detailLayer, { source, runId: current.run_id, node, channel, layers: exemplarLayers })
      .catch((error) => showAlert(error.message));
    url?.update({ node: node.id, channel });   // the view itself reports {at, tab} (onState)
    // At the frame's foot: after the view in the keyboard's order, and kept when a view
    // redraws its own text.
    detail?.frame?.append(el("footer", { class: "ts-detail-foot" }, saveButtons(() => detail?.frame,
      () => `tensorsight-${slug(modelInfo.name)}-${slug(node.name)}-${channel}`)));
  }

  // Opens a detail view or the playground on the layer above the overview, one at a time.
  function showPanel(open, { docked = false } = {}) {
    closeDetail();
    detailLayer.hidden = false;
    detailLayer.classList.toggle("ts-docked", docked);
    root.classList.toggle("ts-has-dock", docked);
    detail = open(detailLayer, closeDetail);
  }

  function closeDetail() {
    if (!detail) return;
    const open = detail;
    detail = null;
    open.destroy?.();
    clear(detailLayer).hidden = true;
    root.classList.remove("ts-has-dock");
    url?.update({ node: undefined, channel: undefined, at: undefined, tab: undefined });
  }

  // Reopens what a shared link shows: its colour range, its run (a sample, or an upload the
  // server still keeps) and its detail view. False when the link names no run to show.
  async function restore() {
    if (wanted.range && wanted.range in RANGE_MODES) setRange(wanted.range);
    let shown = false;
    if (wanted.run && source.overview) {
      let kept = null;
      try {
        kept = await source.overview(wanted.run);
      } catch {
        kept = null;
      }
      if (kept) {
        await start(async () => kept, null);
        shown = true;
      } else {
        await startFirst();
        showAlert("The upload this link shows is no longer kept by the server (runs expire): upload the image again.");
        return true;
      }
    } else if (wanted.sample && samples.some((sample) => sample.id === wanted.sample)) {
      await start(() => source.runSample(wanted.sample), wanted.sample);
      shown = true;
    }
    if (!shown) return false;
    const node = wanted.node && modelInfo.nodes.find((candidate) => candidate.id === wanted.node);
    if (node && current) showDetail(node, wanted.channel ?? 0, { at: wanted.at, tab: wanted.tab });
    return true;
  }

  async function startFirst() {
    if (samples.length) await start(() => source.runSample(samples[0].id), samples[0].id);
    else setState("idle");
  }

  picker.setSamples(samples);
  if (latent) await latent.start();
  else if (!(await restore())) await startFirst();
}

function slug(text) {
  return String(text).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "view";
}
