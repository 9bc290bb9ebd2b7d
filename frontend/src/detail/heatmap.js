// A 2-D map drawn on a canvas (one canvas pixel per value, scaled up without smoothing) with an
// overlay for windows and cursors, a value tooltip on hover, and arrow-key navigation.
import { arrowStep, stepWithin } from "../ui/cursor.js";
import { fmt } from "../ui/format.js";
import { el } from "./dom.js";

const MARK_STYLES = {
  window: { stroke: "#111", width: 2, fill: "rgba(255,255,255,0.18)" },
  taps: { stroke: "#111", width: 1, fill: "rgba(255,255,255,0.35)" },
  cursor: { stroke: "#111", width: 3, fill: null, inner: "#fff" },
  source: { stroke: "#1f6feb", width: 2, fill: "rgba(31,111,235,0.15)" },
};

// values: row-major numbers (typed array) of rows*cols; color(v) -> [r, g, b];
// pad: rings of padding drawn around the map (shown as zeros, hatched grey);
// onCell(row, col, how): called when the pointer or the arrow keys reach a cell;
// flat: a 1-D vector wrapped into rows, so the tooltip names the flat index.
export function heatmap({ values, rows, cols, color, size = 160, pad = 0, label = "map",
  part = null, onCell = null, flat = false }) {
  const shownRows = rows + 2 * pad;
  const shownCols = cols + 2 * pad;
  const cell = size / Math.max(shownRows, shownCols);
  const width = cell * shownCols;
  const height = cell * shownRows;

  const base = el("canvas", { class: "tsd-heat-base", width: shownCols, height: shownRows });
  const overlay = el("canvas", { class: "tsd-heat-overlay" });
  const tip = el("div", { class: "tsd-heat-tip", role: "status", hidden: true });
  const wrap = el("div", {
    class: "tsd-heat", tabindex: 0, role: "img", "aria-label": label,
    dataset: part ? { part } : {},
    style: { width: `${width}px`, height: `${height}px` },
  }, base, overlay, tip);
  for (const canvas of [base, overlay]) {
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
  }
  paintBase(base, values, rows, cols, pad, color);

  const marks = new Map();
  let cursor = null;

  function redraw() {
    const ratio = window.devicePixelRatio || 1;
    overlay.width = Math.round(width * ratio);
    overlay.height = Math.round(height * ratio);
    const g = overlay.getContext("2d");
    g.scale(ratio, ratio);
    for (const list of marks.values()) {
      for (const mark of list) {
        const style = MARK_STYLES[mark.kind || "window"];
        // Cursors reach a little outside their cell, so a cell of 2 px still shows one.
        const grow = style.inner ? Math.max(0, 6 - cell) / 2 + style.width / 2 : 0;
        const x = (mark.c + pad) * cell - grow;
        const y = (mark.r + pad) * cell - grow;
        const w = (mark.w || 1) * cell + 2 * grow;
        const h = (mark.h || 1) * cell + 2 * grow;
        if (style.fill) {
          g.fillStyle = style.fill;
          g.fillRect(x, y, w, h);
        }
        g.lineWidth = style.width;
        g.strokeStyle = style.stroke;
        g.strokeRect(x + style.width / 2, y + style.width / 2,
          Math.max(w - style.width, 1), Math.max(h - style.width, 1));
        if (style.inner) {  // a light line inside the dark one reads on any colour
          g.lineWidth = 1;
          g.strokeStyle = style.inner;
          g.strokeRect(x + style.width, y + style.width,
            Math.max(w - 2 * style.width, 0.5), Math.max(h - 2 * style.width, 0.5));
        }
      }
    }
  }

  function valueAt(r, c) {
    return values[r * cols + c];
  }

  function showTip(r, c) {
    const value = valueAt(r, c);
    tip.hidden = false;
    tip.textContent = `[${flat ? r * cols + c : `${r}, ${c}`}] ${fmt(value)}`;
    tip.dataset.value = value;
    const left = Math.min((c + pad + 1) * cell + 4, width - 10);
    tip.style.left = `${left}px`;
    tip.style.top = `${(r + pad + 1) * cell + 4}px`;
    tip.classList.toggle("tsd-heat-tip-left", left > width * 0.55);
  }

  function go(r, c, how) {
    if (r < 0 || c < 0 || r >= rows || c >= cols || r * cols + c >= values.length) return;
    cursor = [r, c];
    wrap.setAttribute("aria-label", `${label}: row ${r}, column ${c}, value ${fmt(valueAt(r, c))}`);
    showTip(r, c);
    if (onCell) onCell(r, c, how);
  }

  wrap.addEventListener("mousemove", (event) => {
    // The map starts inside the frame's border: measure from the canvas, not from the frame.
    const box = base.getBoundingClientRect();
    const r = Math.floor((event.clientY - box.top) / cell) - pad;
    const c = Math.floor((event.clientX - box.left) / cell) - pad;
    if (cursor && cursor[0] === r && cursor[1] === c) return;
    go(r, c, "pointer");
  });
  wrap.addEventListener("mouseleave", () => { tip.hidden = true; });
  wrap.addEventListener("blur", () => { tip.hidden = true; });
  wrap.addEventListener("keydown", (event) => {
    const step = arrowStep(event);
    if (!step) return;
    event.preventDefault();
    go(...(cursor ? stepWithin(cursor, step, rows, cols) : [0, 0]), "key");
  });

  redraw();
  return {
    el: wrap,
    cell,
    // Replace one named layer of marks: [{r, c, h, w, kind}] in map coordinates.
    mark(name, list) {
      if (list && list.length) marks.set(name, list);
      else marks.delete(name);
      redraw();
    },
    // Move the keyboard cursor without calling onCell (keeps linked maps in step).
    setCursor(r, c) { cursor = [r, c]; },
    hideTip() { tip.hidden = true; },
    showTip,
  };
}

function paintBase(canvas, values, rows, cols, pad, color) {
  const shownCols = cols + 2 * pad;
  const g = canvas.getContext("2d");
  const image = g.createImageData(shownCols, rows + 2 * pad);
  const pixels = image.data;
  for (let r = -pad; r < rows + pad; r++) {
    for (let c = -pad; c < cols + pad; c++) {
      const inside = r >= 0 && c >= 0 && r < rows && c < cols && r * cols + c < values.length;
      const [red, green, blue] = inside ? color(values[r * cols + c])
        : ((r + c) % 2 ? [214, 214, 214] : [232, 232, 232]);
      const at = ((r + pad) * shownCols + (c + pad)) * 4;
      pixels[at] = red;
      pixels[at + 1] = green;
      pixels[at + 2] = blue;
      pixels[at + 3] = 255;
    }
  }
  g.putImageData(image, 0, 0);
}
