// Deformable convolution, three levels. "Sampling points": one input channel with the regular
// 3x3 grid of the chosen output position and where the learned offsets move each tap (arrows),
// plus the whole offset field of one tap over the map. "Formula": for every tap its fractional
// position, its four neighbouring input values and their bilinear weights G(q, p), the
// interpolated value × mask × weight, then the sums plus the bias = the output value, sliding like
// the convolution formula. "Receptive field": where one output unit's sampling points land on
// the model input through every deformable layer, beside the plain model's fixed grid.
// Every number comes from the server's pack (explanation/deform.py); this file only draws.
import { fmt } from "../ui/format.js";
import { clear, el, num, term } from "./dom.js";
import { heatmap } from "./heatmap.js";
import { activationScale } from "./palette.js";
import { defineView, explain, figure, operator, plane } from "./view.js";
import "./deform_conv2d.css";

const FIELD_SCALES = [1, 5, 10, 20];  // how much longer than true the field arrows may be drawn

const PLAY_INTERVAL_MS = 650;
const SVG = "http://www.w3.org/2000/svg";

export const deformConv2dView = defineView("Deformable convolution", (frame, pack, ctx) => {
  const d = readDeform(pack);
  const state = { i: Math.floor(d.outRows / 2), j: Math.floor(d.outCols / 2), channel: 0,
    tap: Math.floor(d.taps / 2), level: "points", timer: null };
  const tabs = el("div", { class: "tsd-tabs", role: "tablist", "aria-label": "Level of detail" });
  const stage = el("div", { class: "tsd-deform-stage" });
  const levels = { points: "Sampling points", formula: "Formula for one position" };
  if (d.field) levels.field = "Receptive field";
  const buttons = {};
  for (const [level, label] of Object.entries(levels)) {
    buttons[level] = el("button", {
      type: "button", role: "tab", class: "tsd-tab", "data-level": level, onclick: () => show(level),
    }, label);
    tabs.append(buttons[level]);
  }
  frame.views.append(tabs, stage);
  frame.onDestroy(() => stop());

  const listeners = [];
  function setPosition(i, j) {
    state.i = Math.min(Math.max(i, 0), d.outRows - 1);
    state.j = Math.min(Math.max(j, 0), d.outCols - 1);
    for (const listener of listeners) listener();
  }
  function show(level) {
    stop();
    state.level = level;
    listeners.length = 0;
    for (const [name, button] of Object.entries(buttons)) button.setAttribute("aria-selected", String(name === level));
    clear(stage);
    clear(frame.text);
    ({ points: pointsLevel, formula: formulaLevel, field: fieldLevel })[level]();
    setPosition(state.i, state.j);
  }
  function stop() {
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
    if (state.playButton) {
      state.playButton.textContent = "▶ Play";
      state.playButton.setAttribute("aria-pressed", "false");
    }
  }
  function play() {
    state.timer = setInterval(() => step(1), PLAY_INTERVAL_MS);
    state.playButton.textContent = "❚❚ Pause";
    state.playButton.setAttribute("aria-pressed", "true");
  }
  function step(direction) {
    const index = (state.i * d.outCols + state.j + direction + d.outRows * d.outCols) % (d.outRows * d.outCols);
    setPosition(Math.floor(index / d.outCols), index % d.outCols);
  }

  function outputMap(size) {
    const map = heatmap({
      rows: d.outRows, cols: d.outCols, values: d.output, color: d.outputColor, size, part: "output",
      label: "output map (hover or use the arrow keys to choose a position)",
      onCell: (i, j) => { stop(); setPosition(i, j); },
    });
    listeners.push(() => {
      map.mark("cursor", [{ r: state.i, c: state.j, kind: "cursor" }]);
      map.setCursor(state.i, state.j);
    });
    return map;
  }

  function channelSelect() {
    const select = el("select", { "aria-label": "Input channel", "data-part": "input", "data-role": "channel" });
    for (let c = 0; c < d.cin; c++) select.append(el("option", { value: c, selected: c === state.channel }, `input channel ${d.channelName(c)}`));
    select.addEventListener("change", () => { state.channel = Number(select.value); show(state.level); });
    return select;
  }

  // ---- level (a): the sampling points over the input --------------------------------------
  function pointsLevel() {
    const input = plane(pack.arrays.input, state.channel);
    const map = heatmap({ ...input, values: input.data, color: d.inputColor, size: 300, part: "input",
      label: `input channel ${d.channelName(state.channel)}` });
    const points = overlay(map);
    const fieldLayer = overlay(map);
    const tapSelect = el("select", { "aria-label": "Tap whose offset field is drawn", "data-role": "tap" },
      el("option", { value: -1 }, "no offset field"));
    for (let k = 0; k < d.taps; k++) tapSelect.append(el("option", { value: k, selected: k === state.tap }, `offset field of tap ${d.tapName(k)}`));
    tapSelect.addEventListener("change", () => { state.tap = Number(tapSelect.value); drawField(); });
    // Learned offsets are often a fraction of a pixel: the field's arrows can be drawn longer,
    // at most so much that an average arrow spans half a cell (longer ones cross each other).
    if (state.fieldScale === undefined) {
      state.fieldScale = FIELD_SCALES.findLast((scale) => scale * d.meanOffset() <= 0.5) ?? 1;
    }
    const scaleSelect = el("select", { "aria-label": "Length of the offset field's arrows", "data-role": "field-scale" });
    for (const scale of FIELD_SCALES) {
      scaleSelect.append(el("option", { value: scale, selected: scale === state.fieldScale },
        scale === 1 ? "field arrows at true length" : `field arrows drawn ×${scale}`));
    }
    scaleSelect.addEventListener("change", () => { state.fieldScale = Number(scaleSelect.value); drawField(); });
    const readout = el("div", { class: "tsd-formula-where", "aria-live": "polite", "data-role": "points-readout" });
    const out = outputMap(170);
    stage.append(el("div", { class: "tsd-controls" }, channelSelect(), tapSelect, scaleSelect),
      el("div", { class: "tsd-deform-maps" },
        figure(`input channel ${d.channelName(state.channel)}`, map.el), operator("→"), figure("output", out.el)),
      readout);
    function drawField() {
      clear(fieldLayer.svg);
      if (state.tap < 0) return;
      const g = d.groupOf(state.channel);
      for (let i = 0; i < d.outRows; i++) {
        for (let j = 0; j < d.outCols; j++) {
          const [ry, rx] = d.regular(state.tap, i, j);
          const [sy, sx] = d.sample(g, state.tap, i, j);
          const scale = state.fieldScale;
          fieldLayer.arrow(ry, rx, ry + (sy - ry) * scale, rx + (sx - rx) * scale, "tsd-deform-field");
        }
      }
    }
    drawField();
    listeners.push(() => {
      const { i, j } = state;
      const g = d.groupOf(state.channel);
      clear(points.svg);
      const moved = [];
      for (let k = 0; k < d.taps; k++) {
        const [ry, rx] = d.regular(k, i, j);
        const [sy, sx] = d.sample(g, k, i, j);
        points.ring(ry, rx, "tsd-deform-regular");
        points.arrow(ry, rx, sy, sx, "tsd-deform-arrow");
        points.dot(sy, sx, "tsd-deform-point", `tap ${d.tapName(k)}: (${fmt(sy, 2)}, ${fmt(sx, 2)})`);
        moved.push(Math.hypot(sy - ry, sx - rx));
      }
      const mean = moved.reduce((a, b) => a + b, 0) / moved.length;
      clear(readout).append(`output [${i}, ${j}]: the ${d.taps} taps moved ${fmt(mean, 2)} pixels on average (largest `,
        num(Math.max(...moved)), ").");
    });
    explain(frame,
      ["A plain convolution reads its ", term("input", "input"), " on a fixed grid around each output position (",
        term("regular", "hollow circles"), "). A deformable one adds a learned ", term("offset", "offset (dy, dx)"),
        " to every tap and reads there instead (", term("point", "dots"), ", arrows from where the tap would have read)."],
      ["The offsets are not weights: another layer computes them from the same input",
        d.offsetNode ? ` (${nodeName(ctx, d.offsetNode)})` : "", ", so they change with every image and every position."],
      ["The thin arrows show one tap's offset at every output position: the whole ", term("field", "offset field"),
        " (drawn longer than true when the menu says so; the dots and the formula always use the true positions)."],
      [d.settingsSentence()]);
  }

  // ---- level (b): the formula for one position ---------------------------------------------
  function formulaLevel() {
    const playButton = el("button", { type: "button", class: "tsd-play", "data-role": "play", "aria-pressed": "false",
      onclick: () => (state.timer ? stop() : play()) }, "▶ Play");
    state.playButton = playButton;
    const position = el("span", { class: "tsd-position", "aria-live": "polite" });
    const out = outputMap(150);
    const input = plane(pack.arrays.input, state.channel);
    const map = heatmap({ ...input, values: input.data, color: d.inputColor, size: 190, part: "input",
      label: `input channel ${d.channelName(state.channel)}` });
    const points = overlay(map);
    const table = el("div", { class: "tsd-deform-table-wrap" });
    const sums = el("div", { class: "tsd-deform-sums" });
    stage.append(el("div", { class: "tsd-controls" }, playButton,
      el("button", { type: "button", "aria-label": "Previous position", onclick: () => { stop(); step(-1); } }, "◀"),
      el("button", { type: "button", "aria-label": "Next position", onclick: () => { stop(); step(1); } }, "▶|"),
      channelSelect(), position),
    el("div", { class: "tsd-deform-maps" }, figure(`input channel ${d.channelName(state.channel)}`, map.el), operator("→"), figure("output", out.el)),
    table, sums);
    listeners.push(() => {
      const { i, j, channel } = state;
      position.textContent = `output [${i}, ${j}]`;
      clear(points.svg);
      for (let k = 0; k < d.taps; k++) {
        const [sy, sx] = d.sample(d.groupOf(channel), k, i, j);
        points.dot(sy, sx, "tsd-deform-point");
      }
      clear(table).append(tapTable(channel, i, j));
      renderSums(sums, channel, i, j);
    });
    explain(frame,
      ["Each tap reads the input at a fractional ", term("position", "position p"), ". Bilinear interpolation mixes the ",
        term("neighbours", "four pixels q around it"), ", each weighted by ", term("bilinear", "G(q, p) = g(qx, px) · g(qy, py)"),
        " with g(a, b) = max(0, 1 − |a − b|): the closer the pixel, the larger its share; pixels outside the map count as 0."],
      ["The ", term("sampled", "interpolated value"), d.modulated ? [" is scaled by the tap's ", term("mask", "mask"), " (DCNv2) and"] : "",
        " multiplied by the tap's ", term("weight", "weight"), "; the ", term("terms", "terms"), " add up over the taps and over the input channels, plus the ",
        term("bias", "bias"), ", to the ", term("output", "output value"), "."],
      ["Play slides the position over the output; hover the output map to choose one."]);
  }

  function tapTable(c, i, j) {
    const g = d.groupOf(c);
    const head = ["tap", "regular", "offset (dy, dx)", "position p", "neighbours q: x(q) × G(q, p)", "x(p)"];
    if (d.modulated) head.push("× mask");
    head.push("× weight", "= term");
    const rows = [];
    for (let k = 0; k < d.taps; k++) {
      const [ry, rx] = d.regular(k, i, j);
      const [sy, sx] = d.sample(g, k, i, j);
      const neighbours = d.corners.map(([dy, dx], corner) => {
        const qy = d.cornerY(g, k, i, j) + dy;
        const qx = d.cornerX(g, k, i, j) + dx;
        const value = d.inputAt(c, qy, qx);
        return el("span", { class: "tsd-deform-q", "data-part": "neighbours" },
          `(${qy}, ${qx}) `, num(value), " × ", num(d.bilinearAt(g, k, corner, i, j), { "data-part": "bilinear" }));
      });
      const sampled = d.sampledAt(c, k, i, j);
      const mask = d.maskAt(g, k, i, j);
      const weight = d.weightAt(c, k);
      const cells = [d.tapName(k), `(${ry}, ${rx})`, `(${fmt(sy - ry)}, ${fmt(sx - rx)})`, `(${fmt(sy)}, ${fmt(sx)})`,
        el("span", { class: "tsd-deform-qs" }, neighbours), num(sampled, { "data-part": "sampled" })];
      if (d.modulated) cells.push(num(mask, { "data-part": "mask" }));
      cells.push(num(weight, { "data-part": "weight" }), num(Math.fround(sampled * mask * weight), { "data-part": "terms" }));
      rows.push(el("tr", { "data-tap": k }, cells.map((cell) => el("td", {}, cell))));
    }
    return el("table", { class: "tsd-deform-table", "data-role": "tap-table" },
      el("thead", {}, el("tr", {}, head.map((name) => el("th", { scope: "col" }, name)))), el("tbody", {}, rows));
  }

  function renderSums(target, c, i, j) {
    const channels = [];
    for (let other = 0; other < d.cin; other++) {
      channels.push(el("button", {
        type: "button", class: `tsd-chip${other === c ? " tsd-chip-active" : ""}`, "data-part": "sum",
        title: `input channel ${d.channelName(other)}: Σ taps = ${d.middleAt(other, i, j)}`,
        onclick: () => { state.channel = other; show("formula"); },
      }, num(d.middleAt(other, i, j))));
    }
    clear(target).append(
      el("div", {}, `Σ taps of input channel ${d.channelName(c)} = `, num(d.middleAt(c, i, j), { "data-role": "channel-sum" })),
      el("div", { class: "tsd-deform-sumline" }, "Σ over input channels ", channels, " + bias ", num(d.bias, { "data-part": "bias" }),
        " = ", num(d.outAt(i, j), { "data-part": "output", "data-role": "output-value" })));
  }

  // ---- level (c): the adaptive receptive field ---------------------------------------------
  function fieldLevel() {
    const info = ctx.modelInfo && ctx.modelInfo.input;
    const height = (info && info.height) || d.fieldExtent()[0];
    const width = (info && info.width) || d.fieldExtent()[1];
    const picture = (label, role) => {
      const size = 260;
      const scale = size / Math.max(height, width);
      const box = el("div", { class: "tsd-deform-picture", "data-role": role, style: { width: `${width * scale}px`, height: `${height * scale}px` } });
      if (ctx.overview && ctx.overview.input_png_base64) {
        box.append(el("img", { src: `data:image/png;base64,${ctx.overview.input_png_base64}`, alt: "model input" }));
      }
      const svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
      svg.setAttribute("class", "tsd-deform-svg");
      box.append(svg);
      return { el: figure(label, box), svg };
    };
    const learned = picture(`deformable (${d.fieldLevels} deformable layer${d.fieldLevels === 1 ? "" : "s"})`, "field-deformable");
    const plain = picture("plain model (zero offsets)", "field-regular");
    const out = outputMap(150);
    const readout = el("div", { class: "tsd-formula-where", "aria-live": "polite", "data-role": "field-readout" });
    stage.append(el("div", { class: "tsd-deform-maps" }, learned.el, plain.el, figure("output unit", out.el)), readout);
    listeners.push(() => {
      const { i, j } = state;
      for (const [target, ys, xs] of [[learned.svg, d.field.y, d.field.x], [plain.svg, d.field.ry, d.field.rx]]) {
        while (target.firstChild) target.removeChild(target.firstChild);
        const base = (i * d.outCols + j) * d.fieldPoints;
        for (let p = 0; p < d.fieldPoints; p++) {
          const dot = document.createElementNS(SVG, "circle");
          dot.setAttribute("cx", xs[base + p] + 0.5);
          dot.setAttribute("cy", ys[base + p] + 0.5);
          dot.setAttribute("r", Math.max(width, height) / 90);
          dot.setAttribute("class", "tsd-deform-field-point");
          target.append(dot);
        }
      }
      readout.textContent = `output unit [${i}, ${j}]: ${d.fieldPoints} sampling points on the input, `
        + `spread ${fmt(d.spread(d.field.y, d.field.x, i, j), 1)} px (deformable) vs ${fmt(d.spread(d.field.ry, d.field.rx, i, j), 1)} px (plain).`;
    });
    explain(frame,
      ["Stacked deformable layers let a unit choose where it looks. Each dot is one sampling point of this output unit, followed down through ",
        `every deformable layer (${d.fieldLevels}; each tap of a layer reads the taps of the layer below) and mapped to the model input.`],
      ["Right: the same unit of the plain model, whose grid is fixed whatever the image. Hover the output map to choose a unit."]);
  }

  show("points");
});

function nodeName(ctx, id) {
  const nodes = (ctx.modelInfo && ctx.modelInfo.nodes) || [];
  const node = nodes.find((candidate) => candidate.id === id);
  return node ? node.name : id;
}

// An SVG layer over a heatmap, in map coordinates (rows, columns; pixel centres at +0.5).
function overlay(map) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "tsd-deform-svg");
  const size = map.el.style;
  svg.setAttribute("width", size.width);
  svg.setAttribute("height", size.height);
  map.el.append(svg);
  const at = (value) => (value + 0.5) * map.cell;
  const add = (tag, attrs, title) => {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    if (title) {
      const tip = document.createElementNS(SVG, "title");
      tip.textContent = title;
      node.append(tip);
    }
    svg.append(node);
    return node;
  };
  return {
    svg,
    dot: (y, x, cls, title) => add("circle", { cx: at(x), cy: at(y), r: Math.max(2, map.cell / 4), class: cls }, title),
    ring: (y, x, cls) => add("circle", { cx: at(x), cy: at(y), r: Math.max(2, map.cell / 4), class: cls }),
    arrow: (y0, x0, y1, x1, cls) => add("line", { x1: at(x0), y1: at(y0), x2: at(x1), y2: at(y1), class: cls }),
  };
}

function readDeform(pack) {
  const { meta, arrays } = pack;
  const [kh, kw] = meta.kernel_size;
  const taps = kh * kw;
  const [cin, rows, cols] = arrays.input.shape;
  const [outRows, outCols] = arrays.output.shape;
  const area = outRows * outCols;
  const inputColor = activationScale(arrays.input.data);
  const outputColor = activationScale(arrays.output.data);
  const [sh, sw] = meta.stride;
  const [ph, pw] = meta.padding;
  const [dh, dw] = meta.dilation;
  const at4 = (array, g, k, i, j) => array.data[((g * taps + k) * outRows + i) * outCols + j];
  const firstChannel = meta.in_channels[0];
  const field = arrays.field_y ? {
    y: arrays.field_y.data, x: arrays.field_x.data, ry: arrays.regular_y.data, rx: arrays.regular_x.data,
  } : null;
  const fieldPoints = field ? arrays.field_y.shape[2] : 0;
  return {
    cin, taps, outRows, outCols, inputColor, outputColor, field, fieldPoints,
    fieldLevels: meta.field_levels || 0,
    modulated: meta.modulated,
    bias: meta.bias,
    corners: meta.corners,
    offsetNode: meta.offset_node,
    output: arrays.output.data,
    channelName: (c) => String(firstChannel + c),
    tapName: (k) => `(${Math.floor(k / kw)}, ${k % kw})`,
    groupOf: (c) => meta.channel_offset_groups[c],
    regular: (k, i, j) => [i * sh - ph + Math.floor(k / kw) * dh, j * sw - pw + (k % kw) * dw],
    sample: (g, k, i, j) => [at4(arrays.sample_y, g, k, i, j), at4(arrays.sample_x, g, k, i, j)],
    cornerY: (g, k, i, j) => at4(arrays.corner_y, g, k, i, j),
    cornerX: (g, k, i, j) => at4(arrays.corner_x, g, k, i, j),
    bilinearAt: (g, k, corner, i, j) => arrays.bilinear.data[(((g * taps + k) * 4 + corner) * outRows + i) * outCols + j],
    maskAt: (g, k, i, j) => at4(arrays.mask, g, k, i, j),
    sampledAt: (c, k, i, j) => at4(arrays.sampled, c, k, i, j),
    weightAt: (c, k) => arrays.kernel.data[c * taps + k],
    middleAt: (c, i, j) => arrays.intermediate.data[c * area + i * outCols + j],
    outAt: (i, j) => arrays.output.data[i * outCols + j],
    inputAt: (c, y, x) => (y < 0 || x < 0 || y >= rows || x >= cols ? 0 : arrays.input.data[(c * rows + y) * cols + x]),
    fieldExtent: () => [rows, cols],
    meanOffset() {
      const values = arrays.offset.data;
      let total = 0;
      for (let index = 0; index < values.length; index++) total += Math.abs(values[index]);
      return values.length ? total / values.length : 0;
    },
    spread(ys, xs, i, j) {
      const base = (i * outCols + j) * fieldPoints;
      let minY = Infinity; let maxY = -Infinity; let minX = Infinity; let maxX = -Infinity;
      for (let p = 0; p < fieldPoints; p++) {
        minY = Math.min(minY, ys[base + p]); maxY = Math.max(maxY, ys[base + p]);
        minX = Math.min(minX, xs[base + p]); maxX = Math.max(maxX, xs[base + p]);
      }
      return Math.max(maxY - minY, maxX - minX);
    },
    settingsSentence() {
      const parts = [`Kernel ${kh}×${kw}`, `stride ${sh}×${sw}`, `padding ${ph}×${pw}`, `dilation ${dh}×${dw}`];
      if (meta.groups > 1) parts.push(`${meta.groups} groups`);
      if (meta.offset_groups > 1) parts.push(`${meta.offset_groups} offset groups`);
      parts.push(meta.modulated ? "with a modulation mask (DCNv2)" : "no mask (DCNv1)");
      return `${parts.join(", ")}.`;
    },
  };
}
