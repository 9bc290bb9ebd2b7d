// The playground's transposed mode: input size, kernel, stride, padding and output_padding of a
// transposed convolution, its output size, and the canvas where every input cell stamps its
// kernel. Each canvas cell shows how many stamps overlap on it: when the kernel size is not a
// multiple of the stride the counts alternate, the checkerboard of early GAN images.
import { clear, el, term } from "../detail/dom.js";
import { openFrame } from "../detail/shell.js";
import { overlapCounts, transposedGeometry } from "./geometry.js";
import "./playground.css";
import { sliderControls } from "./sliders.js";

const CONTROLS = [
  { key: "n", label: "Input size", min: 1, max: 8, value: 4, term: "input" },
  { key: "k", label: "Kernel size", min: 1, max: 6, value: 3, term: "kernel" },
  { key: "s", label: "Stride", min: 1, max: 4, value: 2, term: "stride" },
  { key: "p", label: "Padding", min: 0, max: 3, value: 0, term: "padding" },
  { key: "a", label: "Output padding", min: 0, max: 3, value: 0, term: "output-padding" },
];

const SHADES = ["#f8fafc", "#dbeafe", "#93c5fd", "#3b82f6", "#1d4ed8", "#1e3a8a", "#172554"];

export function openTransposedPlayground(container, options = {}) {
  const frame = openFrame(container, {
    title: "Hyper-parameter playground", subtitle: "transposed convolution", close: options.close,
    className: "tsd-playground tsd-playground-transposed",
  });
  const settings = Object.fromEntries(CONTROLS.map((control) => [control.key, control.value]));
  const controls = sliderControls(CONTROLS, settings, () => update());
  const formula = el("div", { class: "tsd-pg-formula", "data-role": "size-formula", "aria-live": "polite" });
  const notice = el("div", { class: "tsd-pg-warning", role: "status", "data-role": "checkerboard", hidden: true });
  const inputGrid = el("div", { class: "tsd-pg-grid", "data-part": "input", "aria-label": "input" });
  const canvasGrid = el("div", { class: "tsd-pg-grid", "data-part": "canvas", "aria-label": "canvas: stamps per cell" });
  frame.views.append(options.modeSwitch || "", controls, formula, notice,
    el("div", { class: "tsd-pg-grids" },
      el("figure", { class: "tsd-figure" }, inputGrid, el("figcaption", { "data-role": "input-caption" })),
      el("span", { class: "tsd-op" }, "→"),
      el("figure", { class: "tsd-figure" }, canvasGrid, el("figcaption", { "data-role": "canvas-caption" }))));

  let geometry = null;
  let inputCells = [];
  let canvasCells = [];

  function update() {
    geometry = transposedGeometry(settings);
    const { n, k, s, p, a, canvas, out, valid } = geometry;
    clear(formula).append(
      el("div", {}, "output size = (", term("input", "n"), " − 1)·", term("stride", "s"), " + ", term("kernel", "k"),
        " − 2", term("padding", "p"), " + ", term("output-padding", "a")),
      el("div", { "data-role": "size-numbers" }, `= (${n} − 1)·${s} + ${k} − 2·${p} + ${a} = `,
        el("strong", { "data-role": "output-size" }, valid ? String(out) : "not allowed")));
    const rows = overlapCounts(n, k, s, canvas);
    const counts = new Set(rows.slice(k - 1, canvas - k + 1));
    if (!valid) {
      show(a >= s ? `Output padding must be smaller than the stride (${a} ≥ ${s}): PyTorch refuses it.`
        : "The padding crops the whole canvas away: there is no output.");
    } else if (k % s !== 0 && n > 1) {
      show(`Kernel ${k} is not a multiple of stride ${s}: inside the image, canvas rows get ${[...counts].sort().join(" or ")} stamps ` +
        "in turn (columns too), so some cells add up more stamps than their neighbours: the checkerboard pattern.");
    } else {
      notice.hidden = true;
    }
    build(rows);
  }

  function show(text) {
    notice.hidden = false;
    notice.textContent = `⚠ ${text}`;
  }

  function build(rows) {
    const { n, p, a, canvas } = geometry;
    const size = canvas + a;   // output padding rows/columns lie past the canvas
    const cellSize = Math.max(12, Math.min(26, Math.floor(380 / size)));
    inputCells = grid(inputGrid, n, n, cellSize, () => ({ cls: "" }));
    canvasCells = grid(canvasGrid, size, size, cellSize, (r, c) => {
      const count = r < canvas && c < canvas ? rows[r] * rows[c] : 0;
      const cropped = r < p || c < p || r >= canvas - p + a || c >= canvas - p + a;
      return {
        cls: cropped ? " tsd-pg-pad" : "", text: count ? String(count) : "",
        style: cropped ? {} : { background: SHADES[Math.min(count, SHADES.length - 1)], color: count > 2 ? "#fff" : "#111" },
        count,
      };
    });
    frame.frame.querySelector('[data-role="input-caption"]').textContent = `input ${n}×${n}`;
    frame.frame.querySelector('[data-role="canvas-caption"]').textContent =
      `canvas ${canvas}×${canvas}${p ? `, cropped by ${p}` : ""}${a ? `, + ${a} output padding` : ""}: stamps per cell`;
  }

  inputGrid.addEventListener("mouseover", (event) => {
    const cell = event.target.closest(".tsd-pg-cell");
    if (!cell) return;
    const { k, s, canvas, a } = geometry;
    const size = canvas + a;
    for (const node of canvasCells) node.classList.remove("tsd-pg-window");
    for (const node of inputCells) node.classList.remove("tsd-pg-current");
    cell.classList.add("tsd-pg-current");
    const top = Number(cell.dataset.row) * s;
    const left = Number(cell.dataset.col) * s;
    for (let r = top; r < top + k; r++) for (let c = left; c < left + k; c++) canvasCells[r * size + c].classList.add("tsd-pg-window");
  });

  frame.text.append(
    el("p", {}, "A transposed convolution runs a convolution backwards: each ", term("input", "input"), " cell stamps a copy of the ",
      term("kernel", "kernel"), " (scaled by its value) onto a bigger canvas, moving ", term("stride", "stride"), " cells per input cell."),
    el("p", {}, "The numbers count how many stamps land on each canvas cell. With kernel 4 and stride 2 (DCGAN) every inner cell gets the same count; ",
      "with kernel 3 and stride 2 the counts alternate between 1, 2 and 4: that uneven overlap is why generators built from such layers draw checkerboards."),
    el("p", {}, term("padding", "Padding"), " crops the canvas border (hatched); ", term("output-padding", "output padding"),
      " adds rows and columns at the bottom/right, to pick one of the sizes a strided convolution maps to the same input size."),
    el("p", {}, "Hover an input cell to see where its stamp goes."));
  update();
  return { destroy: frame.destroy, close: frame.close, frame: frame.frame };
}

function grid(container, rows, cols, cellSize, describe) {
  clear(container);
  container.style.gridTemplateColumns = `repeat(${cols}, ${cellSize}px)`;
  const cells = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const { cls, text, style, count } = describe(r, c);
      const cell = el("div", {
        class: `tsd-pg-cell${cls}`, "data-row": r, "data-col": c, "data-count": count ?? "",
        style: { width: `${cellSize}px`, height: `${cellSize}px`, fontSize: "10px", textAlign: "center",
          lineHeight: `${cellSize}px`, ...(style || {}) },
      }, text || "");
      cells.push(cell);
      container.append(cell);
    }
  }
  return cells;
}
