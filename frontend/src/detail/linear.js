// Linear layer, one output unit: the flattened input times the unit's row of weights. The
// largest contributions x·w are listed with their real numbers, then the bias, then the unit's
// value (for the last layer: the class logit). Units can be switched without leaving the view.
import { fmt } from "../ui/format.js";
import { clear, el, num, term } from "./dom.js";
import { heatmap } from "./heatmap.js";
import { activationScale, weightScale } from "./palette.js";
import { className, defineView, explain, figure, nodeById } from "./view.js";

const TOP_TERMS = 12;
const MAX_CHANNEL_COLUMNS = 16;

export const linearView = defineView("Linear layer", function build(frame, pack, ctx) {
  const { meta, arrays } = pack;
  const unit = meta.channel ?? ctx.channel ?? 0;
  const x = arrays.input.data;
  const w = arrays.weight.data;
  const outputs = arrays.output.data;
  const isClassifier = isOutputLayer(ctx, outputs.length);
  const unitName = (k) => (isClassifier ? className(ctx, k) : `unit ${k}`);
  const products = arrays.products.data;   // input × weight, computed by the server
  const order = Array.from(products.keys()).sort((a, b) => Math.abs(products[b]) - Math.abs(products[a]));
  const sourceShape = flattenedShape(ctx, x.length);

  const rows = el("tbody");
  for (const i of order.slice(0, TOP_TERMS)) {
    rows.append(el("tr", { "data-index": i },
      el("td", {}, sourceShape ? `${i} ${position(sourceShape, i)}` : String(i)),
      el("td", { "data-part": "input" }, num(x[i])),
      el("td", { class: "tsd-op" }, "×"),
      el("td", { "data-part": "weight" }, num(w[i])),
      el("td", { class: "tsd-op" }, "="),
      el("td", { "data-part": "contribution" }, num(products[i], { "data-role": "product" })),
      el("td", {}, bar(products[i], Math.abs(products[order[0]]) || 1))));
  }
  const rest = x.length - Math.min(TOP_TERMS, x.length);
  const table = el("table", { class: "tsd-terms", "data-role": "terms" },
    el("thead", {}, el("tr", {}, el("th", {}, "input index"), el("th", {}, "x"), el("th"), el("th", {}, "weight"),
      el("th"), el("th", {}, "x · w"), el("th"))),
    rows,
    el("tfoot", {},
      rest > 0 ? el("tr", {}, el("td", { colspan: 7, class: "tsd-muted" },
        `+ ${rest} smaller terms (all ${x.length} are in the maps)`)) : null,
      el("tr", { "data-part": "bias" }, el("td", { colspan: 5 }, "+ bias"),
        el("td", {}, num(meta.bias, { "data-role": "bias-value" })), el("td")),
      el("tr", { class: "tsd-total", "data-part": "output" }, el("td", { colspan: 5 }, `= ${isClassifier ? "logit of" : "value of"} ${unitName(unit)}`),
        el("td", {}, num(outputs[unit], { "data-role": "output-value" })), el("td"))));

  const maps = sourceShape && sourceShape[0] <= MAX_CHANNEL_COLUMNS && sourceShape[1] * sourceShape[2] >= 4
    ? channelColumns(sourceShape, x, w, products, showTerm)
    : strips(x, w, products, showTerm, unitName(unit));
  const readout = el("div", { class: "tsd-formula-line", "data-role": "term", "aria-live": "polite" },
    "Hover a map to read one input × weight.");
  function showTerm(i) {
    clear(readout).append(`x[${i}]${sourceShape ? ` ${position(sourceShape, i)}` : ""} × w[${i}] = `,
      num(x[i], { "data-part": "input" }), " × ", num(w[i], { "data-part": "weight" }), " = ",
      num(products[i], { "data-part": "contribution" }));
  }

  const units = el("div", { class: "tsd-units", role: "group", "aria-label": "Output units" });
  outputs.forEach((value, k) => {
    units.append(el("button", {
      type: "button", class: `tsd-chip${k === unit ? " tsd-chip-current" : ""}`, "data-unit": k,
      "aria-pressed": String(k === unit), "data-part": k === unit ? "output" : null,
      onclick: () => switchUnit(k),
    }, el("small", {}, `${unitName(k)} `), num(value)));
  });

  function switchUnit(k) {
    if (k === unit || !ctx.source) return;
    ctx.source.detail(ctx.runId, ctx.node.id, k).then((next) => {
      clear(frame.views);
      clear(frame.text);
      const subtitle = frame.frame.querySelector(".tsd-detail-sub");
      if (subtitle) subtitle.textContent = subtitle.textContent.replace(/unit \d+/, `unit ${k}`);
      build(frame, next, { ...ctx, channel: k });
    }, (error) => {
      frame.views.prepend(el("p", { class: "tsd-error", role: "alert" },
        `Could not load ${unitName(k)}: ${error && error.message ? error.message : error}`));
    });
  }

  frame.views.append(
    el("div", { class: "tsd-formula-line" }, `${unitName(unit)} = Σ x·w over ${x.length} inputs + bias`),
    el("div", { class: "tsd-linear-layout" }, table, el("div", {}, maps, readout)),
    figure(isClassifier ? "all logits (pick a class)" : "all units of this layer (pick one)", units));
  explain(frame,
    ["Each output of a linear layer multiplies every ", term("input", "input"), " value by its own ", term("weight", "weight"),
      " and adds the ", term("contribution", "products"), " up, plus a ", term("bias", "bias"), "."],
    ["The table lists the contributions that matter most for ", term("output", unitName(unit)),
      `: positive ones push its value up, negative ones pull it down.${isClassifier ? " The logits then go through softmax to become probabilities." : ""}`],
    [`Here the sum of all ${x.length} products plus the bias is ${fmt(outputs[unit])}.`]);
});

function isOutputLayer(ctx, units) {
  const classes = ctx.modelInfo && ctx.modelInfo.classes;
  return Boolean(classes && classes.length === units);
}

// [C, H, W] of the tensor that was flattened into this layer's input, when the graph says so.
function flattenedShape(ctx, length) {
  const inputs = (ctx.node && ctx.node.inputs) || [];
  const flatten = inputs.length ? nodeById(ctx, inputs[0]) : null;
  if (!flatten || !["flatten", "reshape"].includes(flatten.kind)) return null;
  const source = nodeById(ctx, (flatten.inputs || [])[0]);
  const shape = source && source.shape ? source.shape.slice(1) : null;
  if (!shape || shape.length !== 3 || shape[0] * shape[1] * shape[2] !== length) return null;
  return shape;
}

function position([, rows, cols], index) {
  const area = rows * cols;
  return `(c${Math.floor(index / area)}, ${Math.floor((index % area) / cols)}, ${index % cols})`;
}

function bar(value, largest) {
  const width = Math.max(1, Math.round((Math.abs(value) / largest) * 60));
  return el("span", { class: `tsd-bar ${value < 0 ? "tsd-bar-neg" : "tsd-bar-pos"}`, style: { width: `${width}px` } });
}

// One column per channel of the flattened map: its input values, the weights that read them and
// their products, each drawn in the channel's own H × W layout.
function channelColumns([channels, rows, cols], x, w, products, onIndex) {
  const area = rows * cols;
  const colors = [activationScale(x), weightScale(w), activationScale(products)];
  const parts = ["input", "weight", "contribution"];
  const grid = el("div", { class: "tsd-linear-columns" },
    el("div", { class: "tsd-linear-labels" }, el("span", {}, "input x"), el("span", {}, "weights w"), el("span", {}, "x · w")));
  for (let c = 0; c < channels; c++) {
    const column = el("div", { class: "tsd-linear-column" });
    [x, w, products].forEach((values, k) => {
      const map = heatmap({
        rows, cols, values: values.subarray(c * area, (c + 1) * area), color: colors[k], size: 52,
        part: parts[k], label: `${parts[k]} of channel ${c}`,
        onCell: (r, q) => onIndex(c * area + r * cols + q),
      });
      column.append(map.el);
    });
    grid.append(figure(`c${c}`, column));
  }
  return grid;
}

// Three wrapped strips (input, weights, products) when the input is a plain vector.
function strips(x, w, products, onIndex, unitLabel) {
  const cols = Math.min(x.length, 32);
  const rows = Math.ceil(x.length / cols);
  const strip = (values, color, part, label) => heatmap({
    rows, cols, values, color, flat: true, part, label, size: Math.min(360, Math.max(160, cols * 6)),
    onCell: (r, c) => onIndex(r * cols + c),
  }).el;
  return el("div", { class: "tsd-maps" },
    figure("input x", strip(x, activationScale(x), "input", "input vector")),
    figure(`weights into ${unitLabel}`, strip(w, weightScale(w), "weight", "weights")),
    figure("contributions x · w", strip(products, activationScale(products), "contribution", "contributions")));
}
