// GAN Lab served by Python: the page at /gan. The server trains; this view shows each frame it
// receives (the newest one at the next animation frame, so nothing queues) and sends commands.
import "./gan.css";
import { legend } from "../colors.js";
import { clear, el } from "../detail/dom.js";
import { fmt } from "../ui/format.js";
import { createChart } from "./charts.js";
import { createSettings } from "./controls.js";
import { LAYERS, createPlot } from "./plot.js";
import { FAKE, REAL, normScale } from "./scales.js";
import { ganSocket } from "./socket.js";

const PLOT_SIZE = 420;

export function mountGan(root, { url = socketUrl(), page = true } = {}) {
  const setState = (state) => {
    root.dataset.state = state;
    if (page) document.body.dataset.state = state;
  };
  setState("loading");
  clear(root).classList.add("ts-app", "tsg-app");
  let latest = null;       // newest frame not yet drawn
  let shown = null;        // frame on screen
  let received = 0;
  let drawn = 0;
  let drawing = null;      // pen points while drawing
  const visible = Object.fromEntries(Object.keys(LAYERS).map((k) => [k, true]));

  const alert = el("div", { class: "ts-alert", role: "alert", hidden: true });
  const status = el("span", { class: "ts-status", "aria-live": "polite" }, "GAN Lab");
  root.append(el("header", { class: "ts-top" }, el("span", { class: "ts-logo" }, "tensorsight"),
    status, el("a", { class: "ts-top-button tsg-link", href: "./" }, "CNN explainer")), alert);

  const socket = ganSocket(url, {
    onFrame: (frame) => { latest = frame; received++; root.dataset.received = received; },
    onClose: (error) => { if (error) showAlert(error); else if (root.isConnected) showAlert("The GAN session has ended. Reload the page to start another."); setState(error ? "error" : root.dataset.state); },
  });
  const call = (method, params) => socket.request(method, params).then(showState, (e) => showAlert(e.message));

  // controls
  const presetSelect = el("select", { "aria-label": "Distribution", onchange: () => start() });
  const pretrained = el("input", { type: "checkbox", onchange: () => start(),
    checked: new URLSearchParams(location.search).get("pretrained") !== "0" });
  const play = el("button", { type: "button", class: "tsg-play", "data-role": "play", "aria-pressed": "false",
    onclick: () => call(play.getAttribute("aria-pressed") === "true" ? "gan_pause" : "gan_play") }, "▶ Play");
  const button = (label, role, onclick) => el("button", { type: "button", "data-role": role, onclick }, label);
  const steps = el("div", { class: "tsg-buttons" },
    button("Step both", "step", () => call("gan_step", { which: "both" })),
    button("Step D", "step-d", () => call("gan_step", { which: "d" })),
    button("Step G", "step-g", () => call("gan_step", { which: "g" })),
    button("Slow motion", "slow", () => call("gan_slow_step")),
    button("Reset", "reset", () => call("gan_reset")),
    button("Make it collapse", "collapse", () => call("gan_collapse")));
  const drawButton = button("Draw a distribution", "draw", () => toggleDrawing());
  const settings = createSettings((name, value) => call("gan_configure", { [name]: value }));
  const toggles = el("div", { class: "tsg-toggles" }, Object.entries(LAYERS).map(([key, label]) =>
    el("label", {}, el("input", { type: "checkbox", checked: true, "data-layer": key,
      onchange: (e) => { visible[key] = e.target.checked; redraw(); } }), ` ${label}`)));

  // the distributions view
  const canvas = el("canvas", { width: PLOT_SIZE, height: PLOT_SIZE, class: "tsg-plot", "data-role": "plot" });
  const plot = createPlot(canvas);
  const readout = el("div", { class: "tsg-readout", "data-role": "readout" }, "Point at the plot to read D there.");
  const stage = el("div", { class: "tsg-stage", "aria-live": "polite", hidden: true });
  const legendHolder = el("div", { class: "tsg-legend" });
  const numbers = el("dl", { class: "tsg-numbers", "data-role": "numbers" });
  const graph = overviewGraph();

  const charts = [
    createChart("Losses", [["d_loss", "D", "#1f6feb"], ["g_loss", "G", FAKE]]),
    createChart("KL and JS (bits; dashed: real vs real)", [["kl", "KL", "#e4572e"], ["js", "JS", "#333"], ["js_floor", "JS floor", "#aaa"]]),
    createChart("Gradient norms", [["d_grad_norm", "D", "#1f6feb"], ["g_grad_norm", "G", FAKE]]),
    createChart("D's accuracy", [["d_real_accuracy", "on real", REAL], ["d_fake_accuracy", "on fake", FAKE]], { fixed: [0, 1] }),
  ];

  root.append(el("div", { class: "ts-body tsg-body" },
    el("aside", { class: "ts-side tsg-side" },
      el("section", { class: "ts-card" }, el("h2", {}, "Data"), presetSelect,
        el("label", { class: "tsg-check" }, pretrained, " start from our pretrained weights"), drawButton),
      el("section", { class: "ts-card" }, el("h2", {}, "Training"), play, steps),
      el("section", { class: "ts-card" }, el("h2", {}, "Settings (live)"), settings.el,
        el("p", { class: "ts-note" }, "Layers, neurons and noise restart the experiment; the rest apply while training."))),
    el("main", { class: "ts-content tsg-content" },
      graph.el,
      el("div", { class: "tsg-row" },
        el("div", { class: "tsg-plot-box" }, canvas, readout, stage, legendHolder, toggles),
        el("div", { class: "tsg-side-charts" }, numbers, charts.map((c) => c.el))))));

  // pointer: readout of D, and drawing
  let probing = false;
  canvas.addEventListener("pointermove", (event) => {
    const [x, y] = plot.toPlot(event);
    if (drawing && event.buttons) { addPen(x, y); return; }
    if (probing || !shown) return;
    probing = true;
    const one = shown.meta.dim === 1;
    socket.request("gan_probe", one ? { x } : { x, y }).then((r) => {
      const what = shown.meta.d_scale === "critic" ? "critic score" : "D(x) = P(real)";
      readout.textContent = `${one ? `x ${fmt(x)}` : `(${fmt(x)}, ${fmt(y)})`}: ${what} ${fmt(r.d)}`;
      readout.dataset.value = String(r.d);
    }, () => {}).finally(() => { probing = false; });
  });
  canvas.addEventListener("pointerdown", (event) => {
    if (!drawing) return;
    canvas.setPointerCapture(event.pointerId);
    addPen(...plot.toPlot(event));
  });
  canvas.style.touchAction = "none";   // touch draws instead of scrolling

  function addPen(x, y) {
    if (x < 0 || x > 1 || y < 0 || y > 1) return;
    drawing.push([x, y]);
    root.dataset.drawn = drawing.length;
    redraw();
  }

  function toggleDrawing() {
    if (!drawing) {
      drawing = [];
      call("gan_pause");
      drawButton.textContent = "Finish drawing";
      canvas.classList.add("tsg-drawing");
      return;
    }
    const points = drawing;
    if (!points.length) { showAlert("Draw something on the plot first."); return; }
    drawing = null;
    drawButton.textContent = "Draw a distribution";
    canvas.classList.remove("tsg-drawing");
    call("gan_draw", { points });
  }

  function start() {
    call("gan_start", { preset: presetSelect.value, pretrained: pretrained.checked });
  }

  function showAlert(message) {
    alert.textContent = message || "";
    alert.hidden = !message;
  }

  function showState(state) {
    if (!state) return;
    showAlert("");
    if (!presetSelect.options.length) {
      for (const [name, title] of Object.entries(state.presets)) presetSelect.append(el("option", { value: name }, title));
    }
    if (state.distribution !== "drawing") presetSelect.value = state.distribution;
    play.setAttribute("aria-pressed", String(state.playing));
    play.textContent = state.playing ? "❚❚ Pause" : "▶ Play";
    settings.show(state.settings);
    root.dataset.playing = String(state.playing);
  }

  function redraw() {
    if (shown) plot.draw(shown, visible, drawing ?? []);
  }

  function paint(frame) {
    const { meta, arrays } = frame;
    shown = frame;
    drawn++;
    plot.draw(frame, visible, drawing ?? []);
    root.dataset.epoch = meta.epoch;
    root.dataset.drawnFrames = drawn;
    root.dataset.fakeX = arrays.fake.data[0].toFixed(6);
    status.textContent = `GAN Lab · ${meta.distribution} · epoch ${meta.epoch}`;
    stage.hidden = !meta.stage;
    stage.textContent = meta.stage ? `${meta.stage_index}/10 · ${meta.stage_text}` : "";
    stage.dataset.stage = meta.stage ?? "";
    graph.update(frame);
    showNumbers(meta);
    for (const chart of charts) { chart.add(meta.epoch, meta); chart.draw(); }
    clear(legendHolder).append(legend(plot.scale(), { label: meta.d_scale === "critic" ? "critic score (unbounded)" : "D(x): fake … real", width: 160, ticks: 3 }));
    if (arrays.interpolate_norms) legendHolder.append(legend(normScale(arrays.interpolate_norms.data), { label: "GP interpolates: |∇D|", width: 160, ticks: 3 }));
    if (root.dataset.state !== "ready") setState("ready");
  }

  function showNumbers(meta) {
    const rows = [["epoch", meta.epoch], ["KL", fmt(meta.kl)], ["JS", `${fmt(meta.js)} (floor ${fmt(meta.js_floor)})`]];
    if (meta.modes) rows.push(["modes covered", `${meta.modes_covered} / ${meta.modes}`], ["good samples", `${(100 * meta.good_share).toFixed(0)}%`]);
    clear(numbers).append(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { "data-key": k }, String(v))]));
  }

  function tick() {
    if (!root.isConnected) { socket.close(); return; }
    if (latest) { const frame = latest; latest = null; paint(frame); }
    requestAnimationFrame(tick);
  }
  requestAnimationFrame(tick);
  addEventListener("pagehide", () => socket.close());
  socket.request("gan_state").then(showState, (e) => { showAlert(e.message); setState("error"); });
  // For the browser tests and the bench: the frame on screen and the view's counters.
  const handle = { close: () => socket.close(), frame: () => shown, counts: () => ({ received, drawn, bytes: socket.stats.bytes }) };
  if (page) window.tensorsightGan = handle;
  return handle;
}

// The model overview: noise -> G -> fakes -> D -> prediction, real -> D, losses as bars; the
// generator, sample and discriminator boxes carry small live plots of the same frame.
const MINI = {   // box -> the layers its small plot shows
  g: { manifold: true }, fake: { fake: true }, real: { real: true }, d: { surface: true },
};

function overviewGraph() {
  const minis = Object.fromEntries(Object.keys(MINI).map((key) => {
    const canvas = el("canvas", { width: 64, height: 64, class: "tsg-mini", "data-mini": key });
    return [key, { canvas, plot: createPlot(canvas) }];
  }));
  const box = (label, extra = "", mini = null) => el("div", { class: `tsg-node ${extra}` },
    label, mini ? minis[mini].canvas : null);
  const dBar = el("div", { class: "tsg-bar", style: { background: "#1f6feb" } });
  const gBar = el("div", { class: "tsg-bar", style: { background: FAKE } });
  const dValue = el("span", {});
  const gValue = el("span", {});
  const prediction = el("span", { class: "tsg-pred" });
  const elGraph = el("div", { class: "tsg-graph", "data-role": "graph" },
    el("div", { class: "tsg-lane" }, box("Noise z"), "→", box("Generator G", "tsg-g", "g"), "→",
      box("Fake samples", "tsg-fake", "fake"), "→", box("Discriminator D", "tsg-d", "d"), "→",
      box(el("span", {}, "Prediction ", prediction))),
    el("div", { class: "tsg-lane" }, box("Real samples", "tsg-real", "real"), "↗ D",
      el("div", { class: "tsg-losses" },
        el("div", {}, "D loss ", dValue, el("div", { class: "tsg-track" }, dBar)),
        el("div", {}, "G loss ", gValue, el("div", { class: "tsg-track" }, gBar)))));
  return {
    el: elGraph,
    update(frame) {
      const { meta } = frame;
      for (const [key, { plot }] of Object.entries(minis)) plot.draw(frame, MINI[key]);
      const width = (v) => `${Math.min(100, 40 * Math.abs(v ?? 0))}%`;
      dBar.style.width = width(meta.d_loss); gBar.style.width = width(meta.g_loss);
      // Losses and accuracies come from an update: a fresh or reloaded GAN has none yet.
      const measured = (v) => v != null && !Number.isNaN(v);
      dValue.textContent = measured(meta.d_loss) ? fmt(meta.d_loss) : "—";
      gValue.textContent = measured(meta.g_loss) ? fmt(meta.g_loss) : "—";
      const percent = (v) => `${(100 * v).toFixed(0)}%`;
      prediction.textContent = measured(meta.d_real_accuracy)
        ? `real ${percent(meta.d_real_accuracy)} right · fake ${percent(meta.d_fake_accuracy)} right`
        : "right or wrong: after D's first update";
      elGraph.dataset.stage = meta.stage ?? "";
    },
  };
}

function socketUrl() {
  const query = new URLSearchParams(location.search);
  const params = new URLSearchParams({ preset: query.get("preset") ?? "ring", pretrained: query.get("pretrained") ?? "1" });
  const base = new URL("api/gan/ws", new URL(".", location.href));
  base.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  return `${base.href}?${params}`;
}
