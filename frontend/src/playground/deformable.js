// The playground's deformable mode: a small input map and the 9 sampling points of a 3x3
// kernel at one output position. Drag a point (or focus it and use the arrow keys) and the
// bilinear interpolation of that tap, the sum and the whole output map follow. The offsets
// are shared by every output position, as if the offset layer predicted the same for all.
import { fmt } from "../ui/format.js";
import { clear, el, num, term } from "../detail/dom.js";
import { deformOutput, deformTerms } from "./deformable_math.js";

const SVG = "http://www.w3.org/2000/svg";
const ROWS = 7;
const COLS = 7;
const K = 3;
const CELL = 44;
const KEY_STEP = 0.25;
// A small picture with an edge and a bright spot, and a kernel that finds vertical edges.
const INPUT = [
  0, 0, 1, 2, 6, 8, 8,
  0, 1, 1, 3, 7, 8, 9,
  0, 1, 2, 4, 8, 9, 9,
  1, 1, 2, 5, 9, 9, 8,
  0, 1, 2, 4, 8, 9, 9,
  0, 0, 1, 3, 7, 8, 8,
  0, 0, 1, 2, 6, 7, 8,
];
const KERNEL = [-1, 0, 1, -2, 0, 2, -1, 0, 1];
const BIAS = 0;

export function openDeformable(container) {
  const offsets = Array.from({ length: K * K }, () => [0, 0]);
  const position = { i: 2, j: 2 };
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${COLS * CELL} ${ROWS * CELL}`);
  svg.setAttribute("width", COLS * CELL);
  svg.setAttribute("height", ROWS * CELL);
  svg.setAttribute("class", "tsd-pgd-svg");
  svg.setAttribute("role", "group");
  svg.setAttribute("aria-label", "input map with the 9 sampling points; drag them");
  const table = el("div", { class: "tsd-pgd-table", "data-role": "deformable-terms", "aria-live": "polite" });
  const outputBox = el("div", { class: "tsd-pgd-output", "data-part": "output", "data-role": "deformable-output" });
  const reset = el("button", { type: "button", "data-role": "reset", onclick: () => { for (const o of offsets) { o[0] = 0; o[1] = 0; } draw(); } },
    "Reset to the regular grid");
  container.append(el("div", { class: "tsd-pgd" },
    el("div", { class: "tsd-pgd-left" }, svg, reset),
    el("div", { class: "tsd-pgd-right" }, table, el("div", { class: "tsd-pgd-caption" }, "output map (same offsets at every position)"), outputBox)));

  drawInput();
  const layer = document.createElementNS(SVG, "g");
  svg.append(layer);
  const handles = [];
  for (let t = 0; t < K * K; t++) handles.push(makeHandle(t));

  function drawInput() {
    for (let r = 0; r < ROWS; r++) {
      for (let c = 0; c < COLS; c++) {
        const shade = Math.round(255 - (INPUT[r * COLS + c] / 9) * 200);
        add(svg, "rect", { x: c * CELL, y: r * CELL, width: CELL, height: CELL, fill: `rgb(${shade}, ${shade}, 255)`, stroke: "#c7ccd3" });
        const label = add(svg, "text", { x: c * CELL + CELL / 2, y: r * CELL + CELL / 2 + 4, class: "tsd-pgd-value" });
        label.textContent = String(INPUT[r * COLS + c]);
      }
    }
  }

  function regular(t) {
    return [position.i + Math.floor(t / K), position.j + (t % K)];
  }

  function makeHandle(t) {
    const line = add(layer, "line", { class: "tsd-pgd-arrow" });
    const ring = add(layer, "circle", { r: 5, class: "tsd-pgd-regular" });
    const dot = add(layer, "circle", { r: 9, class: "tsd-pgd-point", tabindex: 0, "data-tap": t, role: "slider",
      "aria-label": `sampling point of tap ${t}` });
    dot.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      dot.setPointerCapture(event.pointerId);
      const move = (moveEvent) => {
        const box = svg.getBoundingClientRect();
        const x = ((moveEvent.clientX - box.left) / box.width) * COLS - 0.5;
        const y = ((moveEvent.clientY - box.top) / box.height) * ROWS - 0.5;
        const [ry, rx] = regular(t);
        offsets[t] = [clamp(y, -1, ROWS) - ry, clamp(x, -1, COLS) - rx];
        draw();
      };
      const up = () => {
        dot.removeEventListener("pointermove", move);
        dot.removeEventListener("pointerup", up);
      };
      dot.addEventListener("pointermove", move);
      dot.addEventListener("pointerup", up);
    });
    dot.addEventListener("keydown", (event) => {
      const step = { ArrowUp: [-KEY_STEP, 0], ArrowDown: [KEY_STEP, 0], ArrowLeft: [0, -KEY_STEP], ArrowRight: [0, KEY_STEP] }[event.key];
      if (!step) return;
      event.preventDefault();
      offsets[t] = [offsets[t][0] + step[0], offsets[t][1] + step[1]];
      draw();
    });
    return { line, ring, dot };
  }

  function draw() {
    const { taps, value } = deformTerms(INPUT, ROWS, COLS, KERNEL, K, offsets, position.i, position.j, BIAS);
    taps.forEach((tap, t) => {
      const [ry, rx] = regular(t);
      const { line, ring, dot } = handles[t];
      const at = (v) => (v + 0.5) * CELL;
      setAttrs(ring, { cx: at(rx), cy: at(ry) });
      setAttrs(line, { x1: at(rx), y1: at(ry), x2: at(tap.x), y2: at(tap.y) });
      setAttrs(dot, { cx: at(tap.x), cy: at(tap.y), "aria-valuetext": `row ${fmt(tap.y, 2)}, column ${fmt(tap.x, 2)}, reads ${fmt(tap.value)}` });
      dot.dataset.y = tap.y;
      dot.dataset.x = tap.x;
    });
    renderTable(taps, value);
    renderOutput();
  }

  function renderTable(taps, value) {
    const rows = taps.map((tap) => el("tr", { "data-tap": tap.tap },
      el("td", {}, `(${Math.floor(tap.tap / K)}, ${tap.tap % K})`),
      el("td", {}, `(${fmt(tap.y, 2)}, ${fmt(tap.x, 2)})`),
      el("td", { class: "tsd-pgd-corners" }, tap.corners.map((corner) => el("span", {},
        `${corner.inside ? corner.value : 0} × ${fmt(corner.weight, 3)}`))),
      el("td", {}, num(tap.value, { "data-part": "sampled" })),
      el("td", {}, `× ${tap.weight}`),
      el("td", {}, num(tap.term, { "data-part": "terms" }))));
    clear(table).append(
      el("table", {},
        el("thead", {}, el("tr", {}, ["tap", "position p", "x(q) × G(q, p)", "x(p)", "weight", "term"].map((h) => el("th", {}, h)))),
        el("tbody", {}, rows)),
      el("div", { class: "tsd-pgd-sum" }, `output [${position.i}, ${position.j}] = Σ terms + bias ${BIAS} = `,
        num(value, { "data-role": "deformable-value" })));
  }

  function renderOutput() {
    const out = deformOutput(INPUT, ROWS, COLS, KERNEL, K, offsets, BIAS);
    const grid = el("div", { class: "tsd-pgd-grid", style: { gridTemplateColumns: `repeat(${out.cols}, 38px)` } });
    for (let i = 0; i < out.rows; i++) {
      for (let j = 0; j < out.cols; j++) {
        const current = i === position.i && j === position.j;
        grid.append(el("button", {
          type: "button", class: `tsd-pgd-cell${current ? " tsd-pgd-current" : ""}`, "data-row": i, "data-col": j,
          "data-value": out.values[i * out.cols + j], title: `output [${i}, ${j}]`,
          onclick: () => { position.i = i; position.j = j; draw(); },
        }, fmt(out.values[i * out.cols + j], 1)));
      }
    }
    clear(outputBox).append(grid);
  }

  draw();
  return {
    text: [
      el("p", {}, "A deformable convolution moves each of its kernel's ", term("input", "sampling points"),
        " by a learned offset. A point between pixels reads the four pixels around it, each weighted by ",
        "G(q, p) = g(qx, px) · g(qy, py), g(a, b) = max(0, 1 − |a − b|)."),
      el("p", {}, "Drag a red point (or focus it and press the arrow keys) to move it; its interpolated value, its term (value × weight) and the ",
        term("output", "output"), " update. Click an output cell to move the kernel there."),
    ],
  };
}

// Adds the mode tabs to an open playground frame: "Output size" (what the frame already shows)
// and "Deformable" (built on first use). The one hook playground/index.js needs.
export function addDeformableMode(frame) {
  const sizeView = el("div", { "data-mode": "size" }, ...frame.views.childNodes);
  const sizeText = el("div", { "data-mode": "size" }, ...frame.text.childNodes);
  const deformView = el("div", { "data-mode": "deformable", hidden: true });
  const deformText = el("div", { "data-mode": "deformable", hidden: true });
  let built = false;
  const buttons = {};
  const select = (mode) => {
    if (mode === "deformable" && !built) {
      built = true;
      deformText.append(...openDeformable(deformView).text);
    }
    for (const node of [sizeView, sizeText]) node.hidden = mode !== "size";
    for (const node of [deformView, deformText]) node.hidden = mode !== "deformable";
    for (const [name, button] of Object.entries(buttons)) button.setAttribute("aria-selected", String(name === mode));
  };
  const tabs = el("div", { class: "tsd-tabs", role: "tablist", "aria-label": "Playground mode" });
  for (const [mode, label] of [["size", "Output size"], ["deformable", "Deformable"]]) {
    buttons[mode] = el("button", { type: "button", role: "tab", class: "tsd-tab", "data-mode-tab": mode, onclick: () => select(mode) }, label);
    tabs.append(buttons[mode]);
  }
  frame.views.append(tabs, sizeView, deformView);
  frame.text.append(sizeText, deformText);
  select("size");
}

function add(parent, tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  setAttrs(node, attrs);
  parent.append(node);
  return node;
}

function setAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
}

function clamp(value, low, high) {
  return Math.min(Math.max(value, low), high);
}
