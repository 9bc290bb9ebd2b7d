// What every detail view shares: the registry entry shape, fetching the pack when the host did
// not pass one, the explanation text, tensor helpers and small number grids.
import { cssColor } from "../colors.js";
import { arrowStep, stepWithin } from "../ui/cursor.js";
import { fmt } from "../ui/format.js";
import { clear, el } from "./dom.js";
import { heatmap } from "./heatmap.js";
import { activationScale, inkFor } from "./palette.js";
import { openFrame } from "./shell.js";

// defineView(title, build) -> {title, render(container, pack, ctx)}. `build(frame, pack, ctx)`
// fills frame.views and frame.text. render returns {destroy, close, frame} at once; when `pack`
// is null the view fetches it through ctx.source.detail(runId, node.id, channel) first.
export function defineView(title, build) {
  return {
    title,
    render(container, pack, ctx) {
      const frame = openFrame(container, {
        title, subtitle: describeNode(ctx), close: ctx.close, className: `tsd-detail-${slug(title)}`,
      });
      const fill = (decoded) => {
        clear(frame.views);
        try {
          build(frame, decoded, ctx);
        } catch (error) {
          showError(frame, error);
        }
        frame.frame.dataset.ready = "true";
      };
      if (pack) {
        fill(pack);
      } else {
        frame.views.append(el("p", { class: "tsd-loading" }, "Loading the layer's numbers…"));
        ctx.source.detail(ctx.runId, ctx.node.id, ctx.channel).then(fill, (error) => {
          clear(frame.views);
          showError(frame, error);
        });
      }
      return { destroy: frame.destroy, close: frame.close, frame: frame.frame };
    },
  };
}

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

function showError(frame, error) {
  frame.views.append(el("p", { class: "tsd-error", role: "alert" },
    `This view could not be shown: ${error && error.message ? error.message : error}`));
}

// Kinds whose view is about the whole vector, not one channel of it.
const WHOLE_TENSOR_KINDS = new Set(["flatten", "reshape", "softmax"]);

function describeNode(ctx) {
  const node = ctx.node || {};
  const parts = [node.name || node.id];
  if (ctx.channel !== undefined && ctx.channel !== null && !WHOLE_TENSOR_KINDS.has(node.kind)) {
    parts.push(`${node.kind === "linear" ? "unit" : "channel"} ${ctx.channel}`);
  }
  if (node.shape) parts.push(`output ${node.shape.slice(1).join(" × ")}`);
  return parts.filter(Boolean).join(" · ");
}

// The explanation beside a view: paragraphs of strings and linked terms.
export function explain(frame, ...paragraphs) {
  for (const paragraph of paragraphs) {
    frame.text.append(el("p", {}, paragraph));
  }
}

// One [H, W] plane of an array shaped [N, H, W] (or the array itself when it is 2-D).
export function plane(array, index = 0) {
  const { shape, data } = array;
  if (shape.length === 2) return { rows: shape[0], cols: shape[1], data };
  const [rows, cols] = shape.slice(-2);
  return { rows, cols, data: data.subarray(index * rows * cols, (index + 1) * rows * cols) };
}

// Any array as something a heatmap can draw: one plane of a 2-D/3-D array, or a 1-D vector
// wrapped into rows (flat: true).
export function asMap(array, index = 0) {
  if (array.shape.length >= 2) return { ...plane(array, index), flat: false };
  const length = array.data.length;
  const cols = Math.min(length, Math.max(8, Math.ceil(Math.sqrt(length))));
  return { rows: Math.ceil(length / cols), cols, data: array.data, flat: true };
}

// The flat index of cell (r, c) of a map, as a label: "[r, c]" or "[k]" for vectors.
export function cellName(map, r, c) {
  return map.flat ? `[${r * map.cols + c}]` : `[${r}, ${c}]`;
}

// A stride/padding/... value as [vertical, horizontal].
export function pair(value, fallback = 0) {
  if (value === undefined || value === null) return [fallback, fallback];
  return Array.isArray(value) ? [value[0], value.length > 1 ? value[1] : value[0]] : [value, value];
}

// A small grid of numbers or coloured cells with a roving keyboard cursor.
// cells(r, c) -> {value, color: [r,g,b] | null, cls, label}; onCell(r, c) on hover/focus/keys.
export function numberGrid({ rows, cols, cells, part = null, label, showNumbers = true,
  onCell = null, cellSize = null }) {
  const grid = el("div", {
    class: `tsd-grid${showNumbers ? "" : " tsd-grid-swatches"}`, role: "grid", tabindex: 0,
    "aria-label": label, dataset: part ? { part } : {},
    style: { gridTemplateColumns: `repeat(${cols}, ${cellSize ? `${cellSize}px` : "auto"})` },
  });
  const nodes = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const cell = cells(r, c);
      const node = el("div", {
        class: `tsd-cell ${cell.cls || ""}`.trim(), role: "gridcell",
        "data-value": cell.value, "data-row": r, "data-col": c,
        title: cell.label || String(cell.value),
        style: cell.color ? { background: cssColor(cell.color), color: inkFor(cell.color) } : {},
      }, showNumbers ? fmt(cell.value) : "");
      if (cellSize) Object.assign(node.style, { width: `${cellSize}px`, height: `${cellSize}px` });
      nodes.push(node);
      grid.append(node);
    }
  }
  let active = -1;
  const activate = (index) => {
    if (active >= 0) nodes[active].classList.remove("tsd-cell-active");
    active = index;
    nodes[index].classList.add("tsd-cell-active");
    grid.setAttribute("aria-label", `${label}: row ${Math.floor(index / cols)}, column ${index % cols}, ${nodes[index].title}`);
    if (onCell) onCell(Math.floor(index / cols), index % cols);
  };
  grid.addEventListener("mouseover", (event) => {
    const node = event.target.closest(".tsd-cell");
    if (node && grid.contains(node)) activate(nodes.indexOf(node));
  });
  grid.addEventListener("keydown", (event) => {
    const step = arrowStep(event);
    if (!step) return;
    event.preventDefault();
    if (active < 0) {
      activate(0);
      return;
    }
    const [r, c] = stepWithin([Math.floor(active / cols), active % cols], step, rows, cols);
    activate(r * cols + c);
  });
  return { el: grid, cells: nodes };
}

// "label" over a map or grid, as used everywhere in the views.
export function figure(caption, content, attrs = {}) {
  return el("figure", { class: "tsd-figure", ...attrs }, content, el("figcaption", {}, caption));
}

export function operator(symbol, attrs = {}) {
  return el("span", { class: "tsd-op", "aria-hidden": "true", ...attrs }, symbol);
}

// The class names of the model, or "class k" when the model has none.
export function className(ctx, index) {
  const classes = ctx.modelInfo && ctx.modelInfo.classes;
  return classes && classes[index] !== undefined ? classes[index] : `class ${index}`;
}

export function nodeById(ctx, id) {
  const nodes = (ctx.modelInfo && ctx.modelInfo.nodes) || [];
  return nodes.find((node) => node.id === id) || null;
}

// Maps of the same size side by side that follow one cursor: hovering (or arrow keys on) any of
// them moves the cursor on all and calls onCell(r, c). specs: [{map, caption, part, color}].
// A one-input layer's input and output maps side by side, "input → output", linked as
// linkedMaps links them; each has its own colour scale unless `color` is given for both.
export function inputOutputMaps(input, output, onCell, color = null) {
  return linkedMaps([
    { map: input, caption: "input", part: "input", color: color ?? activationScale(input.data) },
    { map: output, caption: "output", part: "output", color: color ?? activationScale(output.data), operator: "→" },
  ], onCell);
}

export function linkedMaps(specs, onCell, size = 230) {
  const maps = [];
  const move = (r, c) => {
    for (const map of maps) {
      map.mark("cursor", [{ r, c, kind: "cursor" }]);
      map.setCursor(r, c);
    }
    onCell(r, c);
  };
  const row = el("div", { class: "tsd-maps" });
  specs.forEach((spec, index) => {
    if (index > 0 && spec.operator) row.append(operator(spec.operator));
    const map = heatmap({
      rows: spec.map.rows, cols: spec.map.cols, values: spec.map.data, flat: spec.map.flat,
      color: spec.color, size, part: spec.part, label: spec.caption, onCell: move,
    });
    maps.push(map);
    row.append(figure(spec.caption, map.el));
  });
  return { el: row, maps, move };
}

// One line of arithmetic: parts are strings and num() elements.
export function formulaLine(parts, attrs = {}) {
  return el("div", { class: "tsd-formula-line", ...attrs }, parts);
}
