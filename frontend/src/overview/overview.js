// The overview: every layer as a column of per-channel heatmaps, edges between layers, the
// class probabilities at the end. Hovering a neuron lights up what feeds it and reads out its
// exact value; clicking it asks the app to open the detail view.
import { clear, el } from "../detail/dom.js";
import {
  absMax, activationColor, cssColor, grayColor, legend, paintCanvas, quantizedLut,
} from "../colors.js";
import { arrowStep, clamp, stepWithin } from "../ui/cursor.js";
import { formatPercent, formatShape } from "../ui/format.js";
import {
  buildUnits, collapsesBlocks, colourBlocks, feeders, initialExpanded, layoutColumns,
} from "./graph.js";
import { MAP_MIN, MAP_MIN_DOCKED, fitMapSize } from "./fit.js";

const PAGE = 16;                // channels shown per layer at once
const LIST_MAX = 32;            // vectors up to this long are drawn as labelled rows
const PROBABILITY_ROWS = 20;    // classes listed at most in the output column
const FETCH_MARGIN = 480;       // px beyond the visible area still fetched eagerly
const BUNDLE_LINES = 16;        // lines drawn at most inside the band between two layers

export const RANGE_MODES = {
  layer: "Per layer",
  block: "Per block",
  global: "Whole network",
};

// onLegend(node, colourScale, modeLabel): the scale of the layer last pointed at changed.
export function createOverview({
  source, modelInfo, readout, onOpenDetail, onFocusKind, onError, onLegend, onHoverCell = null,
}) {
  const nodes = modelInfo.nodes;
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const blockOf = colourBlocks(nodes);
  const expanded = initialExpanded(nodes);
  const collapses = collapsesBlocks(nodes);

  const scroller = el("div", { class: "ts-stage-scroll", tabindex: -1 });
  const edges = svg("svg", { class: "ts-edges", "aria-hidden": "true" });
  const baseEdges = svg("g", { class: "ts-edges-base" });
  const hotEdges = svg("g", { class: "ts-edges-hot" });
  edges.append(baseEdges, hotEdges);
  const columnsEl = el("div", { class: "ts-columns" },
    el("p", { class: "ts-empty" }, "Choose a sample or upload an image to see every layer's activations."));
  const stage = el("div", { class: "ts-stage" }, edges, columnsEl);
  scroller.append(stage);
  const blockBar = el("div", { class: "ts-blockbar", hidden: true });
  const root = el("div", { class: "ts-overview" }, blockBar, scroller);

  let run = null;
  let rangeMode = "layer";
  let units = [];
  let unitOf = new Map();
  const pages = new Map();                 // node id -> first channel shown
  const views = new Map();                 // unit key -> {unit, section, neurons: Map channel -> el}
  const drawn = new Map();                 // node id -> {channel -> paint info} for repaints
  const exact = new Map();                 // `${run}|${node}|${channel}` -> Promise<Float32Array>
  const quantized = new Map();             // `${node}|${start}` -> Promise<{meta, array}> (u8)
  const painted = new Set();               // `${node}|${start}` painted in the current DOM
  const skipFloors = new Map();             // "from unit>to unit" -> y of a skip edge's route
  let hover = null;
  let choice = null;       // what an open attribution panel explains: {target, layer}
  let legendNode = null;   // the layer whose colours the big legend explains: the last pointed at

  // ---- colour ranges ------------------------------------------------------------------------
  function statsOf(id) {
    return run?.nodes?.[id];
  }

  function activationRange(nodeId) {
    const own = statsOf(nodeId);
    if (!own) return 1;
    if (rangeMode === "layer") return absMax(own.min, own.max);
    // Maps share ranges with maps and vectors with vectors: logits would wash out every map.
    const rank = byId.get(nodeId).shape.length;
    const members = nodes.filter((node) => node.kind !== "input" && node.kind !== "softmax"
      && node.shape.length === rank
      && (rangeMode === "global" || blockOf.get(node.id) === blockOf.get(nodeId)));
    const spans = members.map((node) => statsOf(node.id)).filter(Boolean)
      .map((stats) => absMax(stats.min, stats.max));
    return spans.length ? Math.max(...spans) : absMax(own.min, own.max);
  }

  function colourFor(node) {
    if (node.kind === "input") {
      const stats = statsOf(node.id);
      return grayColor(stats?.min ?? 0, stats?.max ?? 1);
    }
    return activationColor(activationRange(node.id));
  }

  // ---- building the DOM -----------------------------------------------------------------------
  function render() {
    ({ units, unitOf } = buildUnits(nodes, expanded));
    if (!units.some((unit) => unit.node.id === legendNode)) {
      legendNode = units.find((unit) => unit.node.kind !== "input" && unit.node.shape.length === 4)?.node.id;
    }
    views.clear();
    drawn.clear();
    painted.clear();
    clear(columnsEl);
    for (const [index, column] of layoutColumns(units).entries()) {
      const columnEl = el("div", { class: "ts-column" });
      for (const unit of column) columnEl.append(renderUnit(unit, index));
      columnsEl.append(columnEl);
    }
    renderBlockBar();
    showChoice();
    fitWidth();
    requestAnimationFrame(drawEdges);
  }

  // The stage's own padding is not room for columns.
  function fitWidth() {
    const padding = parseFloat(getComputedStyle(stage).paddingLeft) + parseFloat(getComputedStyle(stage).paddingRight);
    const smallest = root.closest(".ts-has-dock") ? MAP_MIN_DOCKED : MAP_MIN;
    if (scroller.clientWidth) fitMapSize(root, columnsEl, scroller.clientWidth - padding, smallest);
  }

  function renderUnit(unit, column) {
    const node = unit.node;
    const probabilities = run?.output?.probabilities;
    const isOutput = node.id === run?.output?.node_id && node.shape.length === 2
      && probabilities?.length === node.shape[1];
    const title = unit.block || node.name;
    const [group, tail] = splitTitle(title, expanded);
    const label = (...before) => [
      group ? el("span", { class: "ts-unit-group" }, group) : null,
      // its length sizes the type (see .ts-unit-name), a caret counting as two characters
      el("span", { class: "ts-unit-name", style: `--ts-name-chars: ${tail.length + 2 * before.length}` },
        ...before, ...breakable(tail))];
    const heading = unit.block
      ? el("button", {
        class: "ts-unit-title ts-unit-open", type: "button", title: `Open ${unit.block}: ${unit.nodes.length} layers`,
        onclick: () => { expanded.add(unit.block); refresh(); },
      }, ...label(el("span", { class: "ts-caret", "aria-hidden": "true" }, "▸")))
      : el("div", { class: "ts-unit-title", title: `${node.name} (${node.module_type || node.kind})` }, ...label());
    const section = el("section", {
      class: `ts-unit ts-kind-${node.kind}${unit.block ? " ts-block" : ""}${isOutput ? " ts-output" : ""}`,
      dataset: { unit: unit.key, node: node.id, kind: node.kind },
      "aria-label": `${title}, ${node.kind}, shape ${formatShape(node.shape)}`,
      onmouseenter: () => onFocusKind(unit.block ? "block" : node.kind),
    },
    el("header", {},
      heading,
      el("div", { class: "ts-unit-meta" }, unit.block ? `${unit.nodes.length} layers` : node.module_type || node.kind),
      el("div", { class: "ts-unit-meta ts-shape" }, formatShape(node.shape)),
      el("div", { class: "ts-unit-legend" })));
    const view = { unit, section, column, neurons: new Map(), body: null };
    views.set(unit.key, view);
    if (isOutput) renderProbabilities(view);
    else if (node.shape.length === 4) renderMaps(view);
    else if (node.shape.length === 2) renderVector(view);
    else section.append(el("p", { class: "ts-note" }, "This shape is not drawn."));
    return section;
  }

  function renderMaps(view) {
    const node = view.unit.node;
    const [, count, height, width] = node.shape;
    const start = pages.get(node.id) || 0;
    const stop = Math.min(start + PAGE, count);
    const body = el("div", { class: "ts-maps" });
    for (let channel = start; channel < stop; channel++) {
      const canvas = el("canvas", {
        class: "ts-map", width, height, tabindex: 0,
        dataset: { node: node.id, channel: String(channel) },
        "aria-label": `${node.name} channel ${channel}: press Enter for details, arrows to move`,
      });
      canvas.style.aspectRatio = `${width} / ${height}`;
      wireNeuron(canvas, node, channel, { rows: height, cols: width });
      view.neurons.set(channel, canvas);
      body.append(el("div", { class: "ts-map-cell" }, canvas,
        el("span", { class: "ts-map-index", "aria-hidden": "true" }, String(channel))));
    }
    view.body = body;
    view.section.append(body);
    if (count > PAGE) view.section.append(pager(node, start, stop, count));
  }

  function pager(node, start, stop, count) {
    const go = (first) => () => {
      pages.set(node.id, first);
      refresh();
    };
    return el("div", { class: "ts-pager" },
      el("button", { type: "button", disabled: start === 0, onclick: go(Math.max(start - PAGE, 0)),
        "aria-label": `Previous channels of ${node.name}` }, "‹"),
      el("span", { class: "ts-pager-label", title: `channels ${start} to ${stop - 1} of ${count}` },
        `${start}–${stop - 1}/${count}`),
      el("button", { type: "button", disabled: stop >= count, onclick: go(stop),
        "aria-label": `Next channels of ${node.name}` }, "›"));
  }

  function renderVector(view) {
    const node = view.unit.node;
    const length = node.shape[1];
    if (length <= LIST_MAX) {
      const names = length === modelInfo.classes.length ? modelInfo.classes : null;
      const body = el("ol", { class: "ts-units-list" });
      if (names) view.section.classList.add("ts-named-vector");   // wide enough for the names
      for (let index = 0; index < length; index++) {
        const swatch = el("span", { class: "ts-swatch" });
        const row = el("li", {
          class: "ts-vector-row", tabindex: 0, dataset: { node: node.id, channel: String(index) },
          "aria-label": `${node.name} unit ${index}${names ? ` (${names[index]})` : ""}`,
        }, swatch, el("span", { class: "ts-vector-label" }, names ? names[index] : String(index)));
        wireNeuron(row, node, index, { rows: 1, cols: 1, vector: true });
        view.neurons.set(index, row);
        body.append(row);
      }
      view.body = body;
    } else {
      const canvas = el("canvas", {
        class: "ts-strip", width: 1, height: length, tabindex: 0,
        dataset: { node: node.id, channel: "0" },
        "aria-label": `${node.name}: ${length} values; press Enter for details`,
      });
      wireNeuron(canvas, node, 0, { rows: length, cols: 1, vector: true, strip: true });
      view.neurons.set(0, canvas);
      view.body = el("div", { class: "ts-strip-wrap" }, canvas);
    }
    view.section.append(view.body);
  }

  // One row per class, or the most probable few when there are many (ImageNet has 1000).
  function renderProbabilities(view) {
    const node = view.unit.node;
    const probabilities = run.output.probabilities;
    const order = probabilities.map((p, index) => index);
    const shown = probabilities.length > PROBABILITY_ROWS
      ? order.sort((a, b) => probabilities[b] - probabilities[a]).slice(0, PROBABILITY_ROWS) : order;
    const best = order.reduce((a, b) => (probabilities[b] > probabilities[a] ? b : a), 0);
    const body = el("ol", { class: "ts-probs" });
    for (const index of shown) {
      const p = probabilities[index];
      const name = modelInfo.classes[index] ?? String(index);
      const row = el("li", {
        class: `ts-prob${index === best ? " ts-prob-top" : ""}`, tabindex: 0,
        dataset: { node: node.id, channel: String(index), probability: String(p) },
        "aria-label": `${name}: ${formatPercent(p)}`, title: name,
      },
      el("span", { class: "ts-prob-name" }, name),
      el("span", { class: "ts-prob-bar" }, el("span", { style: { width: `${(p * 100).toFixed(2)}%` } })),
      el("span", { class: "ts-prob-value" }, formatPercent(p)));
      wireNeuron(row, node, index, { rows: 1, cols: 1, vector: true });
      view.neurons.set(index, row);
      body.append(row);
    }
    view.body = body;
    view.section.append(body);
    if (shown.length < probabilities.length) {
      view.section.append(el("p", { class: "ts-note" }, `top ${shown.length} of ${probabilities.length} classes`));
    }
    view.static = true;
  }

  // Outlines the attribution panel's class (its output row) and Grad-CAM layer (its column).
  function showChoice() {
    for (const marked of columnsEl.querySelectorAll(".ts-chosen")) marked.classList.remove("ts-chosen");
    if (!choice) return;
    const rows = columnsEl.querySelectorAll(`.ts-output .ts-prob[data-channel="${choice.target}"]`);
    const layer = choice.layer ? columnsEl.querySelectorAll(`.ts-unit[data-node="${choice.layer}"]`) : [];
    for (const marked of [...rows, ...layer]) marked.classList.add("ts-chosen");
  }

  function renderBlockBar() {
    clear(blockBar);
    blockBar.hidden = !collapses;
    if (!collapses) return;
    const open = [...expanded].sort();
    blockBar.append(el("span", { class: "ts-blockbar-label" },
      open.length ? "Open blocks (click to close):" : "Blocks are collapsed: click one to open it."));
    for (const prefix of open) {
      blockBar.append(el("button", {
        type: "button", class: "ts-chip", title: `Collapse ${prefix}`,
        onclick: () => {
          for (const p of [...expanded]) if (p === prefix || p.startsWith(`${prefix}.`)) expanded.delete(p);
          refresh();
        },
      }, prefix, el("span", { "aria-hidden": "true" }, " ✕")));
    }
  }

  // ---- neurons: hover, keyboard, click ----------------------------------------------------------
  function wireNeuron(target, node, channel, shape) {
    let cursor = [0, 0];
    const point = (event) => {   // inside the content box: the border is not part of the map
      const box = target.getBoundingClientRect();
      const y = event.clientY - box.top - target.clientTop;
      const x = event.clientX - box.left - target.clientLeft;
      const row = Math.floor((y / (target.clientHeight || 1)) * shape.rows);
      const col = Math.floor((x / (target.clientWidth || 1)) * shape.cols);
      return [clamp(row, 0, shape.rows - 1), clamp(col, 0, shape.cols - 1)];
    };
    const at = ([row, col]) => {
      cursor = [row, col];
      setHover({ node, channel, row, col, shape, target });
    };
    target.addEventListener("mousemove", (event) => at(point(event)));
    target.addEventListener("mouseleave", () => setHover(null));
    target.addEventListener("focus", () => at(cursor));
    target.addEventListener("blur", () => setHover(null));
    target.addEventListener("click", (event) => {
      at(point(event));
      onOpenDetail(node, shape.strip ? cursor[0] : channel);
    });
    target.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        onOpenDetail(node, shape.strip ? cursor[0] : channel);
        return;
      }
      const step = arrowStep(event);
      if (!step || (shape.rows === 1 && shape.cols === 1)) return;
      event.preventDefault();
      at(stepWithin(cursor, step, shape.rows, shape.cols));
    });
  }

  function setHover(next) {
    const same = hover && next && hover.node.id === next.node.id && hover.channel === next.channel;
    if (!same) {
      clearHighlight();
      hover = next;
      if (next) highlight(next);
      if (next && next.node.id !== legendNode && drawn.has(next.node.id)) {
        legendNode = next.node.id;
        onLegend(next.node, colourFor(next.node), RANGE_MODES[rangeMode]);
      }
    } else {
      hover = next;
    }
    showReadout(next);
    if (onHoverCell) onHoverCell(next);   // e.g. the receptive-field outline (attribution/)
  }

  function clearHighlight() {
    for (const lit of root.querySelectorAll(".ts-lit, .ts-feeds, .ts-feeds-unit")) {
      lit.classList.remove("ts-lit", "ts-feeds", "ts-feeds-unit");
    }
    clear(hotEdges);
  }

  // Lights up what feeds the neuron: the exact channels where the feeding layer is drawn, the
  // whole unit where it is hidden in a collapsed block (or shows other channels).
  function highlight({ node, channel, target }) {
    target.classList.add("ts-lit");
    const to = anchor(target, "left");
    const own = views.get(unitOf.get(node.id));
    // A feeder in a column next to this one is joined directly; one further back takes the
    // skip edge's own route below the columns in between.
    const hotEdge = (view, from) => {
      const floor = skipFloors.get(`${view.unit.key}>${own.unit.key}`);
      hotEdges.append(floor === undefined ? edgePath(from, to, "ts-edge-hot")
        : skipPath(from, to, floor, "ts-edge-hot ts-edge-hot-skip"));
    };
    const lightUnit = (view) => {
      view.section.classList.add("ts-feeds-unit");
      hotEdge(view, anchor(view.body || view.section, "right"));
    };
    if (own.unit.block) {       // a block's output: what feeds the block from outside
      for (const key of own.unit.inputs) lightUnit(views.get(key));
      return;
    }
    for (const { nodeId, channels } of feeders(node, channel)) {
      const view = views.get(unitOf.get(nodeId));
      if (!view) continue;
      const shown = view.unit.node.id !== nodeId ? []
        : channels === "all" ? [...view.neurons.keys()] : channels.filter((c) => view.neurons.has(c));
      for (const c of shown) {
        const neuron = view.neurons.get(c);
        neuron.classList.add("ts-feeds");
        hotEdge(view, anchor(neuron, "right"));
      }
      if (!shown.length) lightUnit(view);
    }
  }

  // ---- exact values ---------------------------------------------------------------------------
  function exactValues(node, channel) {
    const perChannel = node.shape.length === 4;
    const key = `${run.run_id}|${node.id}|${perChannel ? channel : "all"}`;
    if (!exact.has(key)) {
      const channels = perChannel ? [channel, channel + 1] : null;
      const request = source.activations(run.run_id, [node.id], { channels, encoding: "f32" })
        .then((pack) => pack.arrays[node.id].data);
      request.catch(() => exact.delete(key));
      exact.set(key, request);
    }
    return exact.get(key);
  }

  async function showReadout(point) {
    if (!point || !run) {
      readout.clear();
      return;
    }
    const { node, channel, row, col, shape } = point;
    const index = shape.vector ? (shape.strip ? row : channel) : row * shape.cols + col;
    const where = shape.vector ? `[${index}]` : `ch ${channel} · (${row}, ${col})`;
    readout.pending(node, where);
    try {
      const values = await exactValues(node, channel);
      if (hover !== point) return;
      readout.show(node, where, values[index], {
        channel: shape.vector ? index : channel, row: shape.vector ? null : row, col: shape.vector ? null : col,
      });
    } catch (error) {
      if (hover === point) readout.failed(error.message);
    }
  }

  // ---- fetching and painting -------------------------------------------------------------------
  function visibleViews() {
    const frame = scroller.getBoundingClientRect();
    return [...views.values()].filter((view) => {
      if (view.static) return false;
      const box = view.section.getBoundingClientRect();
      return box.right >= frame.left - FETCH_MARGIN && box.left <= frame.right + FETCH_MARGIN
        && box.bottom >= frame.top - FETCH_MARGIN && box.top <= frame.bottom + FETCH_MARGIN;
    });
  }

  // Paint every visible unit not painted yet, fetching the u8 maps it lacks: one request per
  // channel window, each answer cached for the run (paging back and forth fetches nothing new).
  async function fillVisible() {
    if (!run) return;
    const runId = run.run_id;
    const waiting = [];
    const wanted = new Map();   // "start:stop" or "all" -> [node ids]
    for (const view of visibleViews()) {
      const node = view.unit.node;
      const start = node.shape.length === 4 ? pages.get(node.id) || 0 : 0;
      const key = `${node.id}|${start}`;
      if (painted.has(key)) continue;
      painted.add(key);
      if (!quantized.has(key)) {
        const window = node.shape.length === 4
          ? `${start}:${Math.min(start + PAGE, node.shape[1])}` : "all";
        if (!wanted.has(window)) wanted.set(window, []);
        wanted.get(window).push(node.id);
      }
      waiting.push([node, key]);
    }
    for (const [window, ids] of wanted) {
      const channels = window === "all" ? null : window.split(":").map(Number);
      const pack = source.activations(runId, ids, { channels, encoding: "u8" });
      for (const id of ids) {
        const key = `${id}|${channels ? channels[0] : 0}`;
        quantized.set(key, pack.then((answer) => ({ meta: answer.meta.nodes[id], array: answer.arrays[id] })));
      }
    }
    await Promise.all(waiting.map(async ([node, key]) => {
      let maps;
      try {
        maps = await quantized.get(key);
      } catch (error) {
        quantized.delete(key);
        painted.delete(key);
        throw error;
      }
      if (run?.run_id === runId) paintNode(node, maps.meta, maps.array);
    }));
  }

  function paintNode(node, meta, array) {
    const view = views.get(unitOf.get(node.id));
    if (!view || !meta || !array) return;
    const info = new Map();
    drawn.set(node.id, info);
    const [first] = meta.channels || [0];
    if (node.shape.length === 4) {
      const [rows, cols] = array.shape.slice(-2);
      const size = rows * cols;
      meta.scale.forEach(([low, high], i) => {
        const canvas = view.neurons.get(first + i);
        if (!canvas) return;
        info.set(first + i, { canvas, data: array.data.subarray(i * size, (i + 1) * size), low, high, rows, cols });
      });
    } else {
      const [low, high] = meta.scale[0];
      info.set("vector", { data: array.data, low, high });
    }
    repaintNode(node);
  }

  function repaintNode(node) {
    const info = drawn.get(node.id);
    const view = views.get(unitOf.get(node.id));
    if (!info || !view) return;
    const color = colourFor(node);
    const legendHolder = view.section.querySelector(".ts-unit-legend");
    clear(legendHolder).append(legend(color, { width: 72, compact: true }));
    if (node.id === legendNode) onLegend(node, color, RANGE_MODES[rangeMode]);
    for (const [channel, paint] of info) {
      const lut = quantizedLut(paint.low, paint.high, color);
      if (channel === "vector") {
        if (view.neurons.size === 1 && view.neurons.get(0)?.tagName === "CANVAS") {
          paintCanvas(view.neurons.get(0), paint.data, paint.data.length, 1, { lut });
        } else {
          for (const [index, row] of view.neurons) {
            const rgb = lut.subarray(paint.data[index] * 4, paint.data[index] * 4 + 3);
            row.querySelector(".ts-swatch").style.background = cssColor(rgb);
          }
        }
      } else {
        paintCanvas(paint.canvas, paint.data, paint.rows, paint.cols, { lut });
        paint.canvas.classList.add("ts-painted");
      }
    }
  }

  // ---- edges ------------------------------------------------------------------------------------
  // [x, top, bottom] of one side of an element, in stage coordinates.
  function side(element, which) {
    const box = element.getBoundingClientRect();
    const origin = stage.getBoundingClientRect();
    return [(which === "right" ? box.right : box.left) - origin.left, box.top - origin.top, box.bottom - origin.top];
  }

  function anchor(element, which) {
    const [x, top, bottom] = side(element, which);
    return [x, (top + bottom) / 2];
  }

  // The middle of every neuron drawn in a unit on one side (the body's middle when it has none).
  function neuronAnchors(view, which) {
    const neurons = [...view.neurons.values()];
    return neurons.length ? neurons.map((neuron) => anchor(neuron, which)) : [anchor(view.body || view.section, which)];
  }

  // Neighbouring columns are joined by a band from the whole height of one stack of maps to the
  // whole height of the next; an edge that skips columns (a residual or U-Net skip) runs below
  // the columns it passes (and its ends) so it never hides behind a layer.
  function drawEdges() {
    clear(baseEdges);
    skipFloors.clear();
    const origin = stage.getBoundingClientRect();
    const bottomOf = (view) => view.section.getBoundingClientRect().bottom - origin.top;
    let skips = 0;
    let lowest = 0;
    for (const view of views.values()) {
      for (const input of view.unit.inputs) {
        const from = views.get(input);
        if (!from) continue;
        const source = from.body || from.section;
        const target = view.body || view.section;
        if (view.column - from.column <= 1) {
          baseEdges.append(bandPath(side(source, "right"), side(target, "left")),
            bundlePath(neuronAnchors(from, "right"), neuronAnchors(view, "left")));
          continue;
        }
        const passed = [...views.values()].filter((v) => v.column > from.column && v.column < view.column);
        const floor = Math.max(...[from, view, ...passed].map(bottomOf)) + 16 + 10 * (skips++ % 4);
        lowest = Math.max(lowest, floor);
        skipFloors.set(`${from.unit.key}>${view.unit.key}`, floor);
        baseEdges.append(skipPath(anchor(source, "right"), anchor(target, "left"), floor, "ts-edge ts-edge-skip"));
      }
    }
    const contentBottom = columnsEl.getBoundingClientRect().bottom - origin.top;
    stage.style.paddingBottom = `${Math.max(lowest - contentBottom + 16, 0) + 20}px`;
    // The stage's size without the old edges: sized to it, they would keep a narrowed (refitted)
    // overview as wide as it was, scrolled, with blank room at the end.
    edges.setAttribute("width", 0);
    edges.setAttribute("height", 0);
    edges.setAttribute("width", stage.scrollWidth);
    edges.setAttribute("height", stage.scrollHeight);
  }

  const fillLater = () => fillVisible().catch((error) => onError(error.message));

  function refresh() {
    render();
    requestAnimationFrame(fillLater);
  }

  let scrollTimer = null;
  const onScroll = () => {
    clearTimeout(scrollTimer);
    scrollTimer = setTimeout(fillLater, 80);
  };
  scroller.addEventListener("scroll", onScroll);
  let destroyed = false;
  const resize = new ResizeObserver(() => requestAnimationFrame(() => {
    if (destroyed) return;   // a frame already asked for when the overview went away
    fitWidth();
    drawEdges();
    fillLater();
  }));
  resize.observe(scroller);

  return {
    el: root,
    // Show a run's overview; resolves once every visible layer is painted.
    async show(overview) {
      run = overview;
      exact.clear();
      quantized.clear();
      hover = null;
      readout.clear();
      render();
      await nextFrame();
      drawEdges();
      await fillVisible();
    },
    setRangeMode(mode) {
      rangeMode = mode;
      for (const node of nodes) repaintNode(node);
    },
    activationRange,
    // choice: {target, layer} to outline, or null.
    markChoice(next) {
      // The docked panel narrows the overview: bring the output column, whose classes it
      // picks, into view when the panel opens.
      if (next && !choice) requestAnimationFrame(() => scroller.scrollTo({ left: scroller.scrollWidth }));
      choice = next;
      showChoice();
    },
    // Releases what outlives the element otherwise: the scroll listener, its timer, the observer.
    destroy() {
      scroller.removeEventListener("scroll", onScroll);
      clearTimeout(scrollTimer);
      resize.disconnect();
      destroyed = true;
    },
  };
}

function nextFrame() {
  return new Promise((resolve) => requestAnimationFrame(() => resolve()));
}

const SVG_NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function skipPath([x1, y1], [x2, y2], floor, className) {
  const r = 10;
  return svg("path", {
    class: className,
    d: `M${x1.toFixed(1)},${y1.toFixed(1)} h${r} Q${(x1 + 2 * r).toFixed(1)},${y1.toFixed(1)} ${(x1 + 2 * r).toFixed(1)},${(y1 + r).toFixed(1)} V${(floor - r).toFixed(1)} Q${(x1 + 2 * r).toFixed(1)},${floor.toFixed(1)} ${(x1 + 3 * r).toFixed(1)},${floor.toFixed(1)} H${(x2 - 3 * r).toFixed(1)} Q${(x2 - 2 * r).toFixed(1)},${floor.toFixed(1)} ${(x2 - 2 * r).toFixed(1)},${(floor - r).toFixed(1)} V${(y2 + r).toFixed(1)} Q${(x2 - 2 * r).toFixed(1)},${y2.toFixed(1)} ${(x2 - r).toFixed(1)},${y2.toFixed(1)} H${x2.toFixed(1)}`,
  });
}

// A band between two sides [x, top, bottom]: smooth curves along its top and bottom edges.
function bandPath([x1, top1, bottom1], [x2, top2, bottom2]) {
  const middle = ((x1 + x2) / 2).toFixed(1);
  const [a, b, c, d, e, f] = [x1, top1, x2, top2, bottom2, bottom1].map((v) => v.toFixed(1));
  return svg("path", {
    class: "ts-edge ts-edge-band",
    d: `M${a},${b} C${middle},${b} ${middle},${d} ${c},${d} V${e} C${middle},${e} ${middle},${f} ${a},${f} Z`,
  });
}

// Light lines inside a band, neuron to neuron where both sides have as many, fanning out or in
// where they differ; one path, at most BUNDLE_LINES lines, however wide the layers.
function bundlePath(starts, ends) {
  const count = Math.min(Math.max(starts.length, ends.length), BUNDLE_LINES);
  const pick = (points, i) => points[count < 2 ? 0 : Math.round((i * (points.length - 1)) / (count - 1))];
  const curves = Array.from({ length: count }, (_, i) => {
    const [[x1, y1], [x2, y2]] = [pick(starts, i), pick(ends, i)];
    const middle = ((x1 + x2) / 2).toFixed(1);
    return `M${x1.toFixed(1)},${y1.toFixed(1)} C${middle},${y1.toFixed(1)} ${middle},${y2.toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`;
  });
  return svg("path", { class: "ts-edge-lines", d: curves.join(" ") });
}

// The title of a unit split where an open block it sits in ends: ["layer1.0", ".conv"], so
// neighbouring columns inside one block differ in what is shown; [null, title] outside blocks.
function splitTitle(title, expanded) {
  const group = [...expanded].filter((prefix) => title.startsWith(`${prefix}.`))
    .sort((a, b) => b.length - a.length)[0];
  return group ? [group, title.slice(group.length)] : [null, title];
}

// A layer name that wraps after "_" and "." (conv_1_ / 1, not conv_1 / _1 nor cut anywhere),
// never after a leading one (".encode" stays whole), so narrow columns keep names readable.
function breakable(name) {
  return name.split(/(?<=[^_.][_.])/).flatMap((part, i) => (i ? [el("wbr"), part] : [part]));
}

function edgePath([x1, y1], [x2, y2], className) {
  const bend = Math.max((x2 - x1) / 2, 12);
  return svg("path", {
    class: className,
    d: `M${x1.toFixed(1)},${y1.toFixed(1)} C${(x1 + bend).toFixed(1)},${y1.toFixed(1)} ${(x2 - bend).toFixed(1)},${y2.toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`,
  });
}
