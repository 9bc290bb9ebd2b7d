// The hyper-parameter playground: how input size, padding, kernel size, stride and dilation
// decide a convolution's output size, with the window sliding over the padded input in step with
// the output cell it produces.
import { clear, el, term } from "../detail/dom.js";
import { arrowStep, clamp } from "../ui/cursor.js";
import { convGeometry } from "./geometry.js";
import { openFrame } from "../detail/shell.js";
import { addDeformableMode } from "./deformable.js";
import "./playground.css";
import { openTransposedPlayground } from "./transposed.js";
import { sliderControls } from "./sliders.js";

const CONTROLS = [
  { key: "n", label: "Input size", min: 1, max: 15, value: 7, term: "input" },
  { key: "p", label: "Padding", min: 0, max: 3, value: 0, term: "padding" },
  { key: "k", label: "Kernel size", min: 1, max: 7, value: 3, term: "kernel" },
  { key: "s", label: "Stride", min: 1, max: 4, value: 1, term: "stride" },
  { key: "d", label: "Dilation", min: 1, max: 3, value: 1, term: "dilation" },
];
const PLAY_INTERVAL_MS = 600;

// Opens the playground inside `container`; options.close is called when the user closes it
// (Escape, the close button or a click outside). Returns {destroy, close, frame}. Two modes,
// ordinary and transposed convolution, switched by the tabs at the top.
export function openPlayground(container, options = {}) {
  let current = null;
  const open = (mode) => {
    if (current) { current.destroy(); current.frame.remove(); }
    const modeSwitch = modeTabs(mode, open);
    current = mode === "transposed" ? openTransposedPlayground(container, { ...options, modeSwitch })
      : openConvPlayground(container, { ...options, modeSwitch });
  };
  open(options.mode || "conv");
  return { destroy: () => current.destroy(), close: () => current.close(), get frame() { return current.frame; } };
}

function modeTabs(mode, open) {
  const tabs = el("div", { class: "tsd-tabs", role: "tablist", "aria-label": "Playground mode" });
  for (const [name, label] of [["conv", "Convolution"], ["transposed", "Transposed convolution"]]) {
    tabs.append(el("button", {
      type: "button", role: "tab", class: "tsd-tab", "data-mode": name, "aria-selected": String(name === mode),
      onclick: () => { if (name !== mode) open(name); },
    }, label));
  }
  return tabs;
}

function openConvPlayground(container, options) {
  const frame = openFrame(container, {
    title: "Hyper-parameter playground", subtitle: "convolution output size", close: options.close,
    className: "tsd-playground",
  });
  const settings = Object.fromEntries(CONTROLS.map((control) => [control.key, control.value]));
  const state = { i: 0, j: 0, timer: null };

  const controls = sliderControls(CONTROLS, settings, () => update());
  const playButton = el("button", {
    type: "button", class: "tsd-play", "aria-pressed": "false", "data-role": "play",
    onclick: () => (state.timer ? stop() : play()),
  }, "▶ Play");
  const formula = el("div", { class: "tsd-pg-formula", "data-role": "size-formula", "aria-live": "polite" });
  const warning = el("div", { class: "tsd-pg-warning", role: "alert", "data-role": "warning", hidden: true });
  const inputGrid = el("div", { class: "tsd-pg-grid", "data-part": "input", "aria-label": "padded input" });
  const outputGrid = el("div", {
    class: "tsd-pg-grid tsd-pg-output", "data-part": "output", role: "grid", tabindex: 0,
    "aria-label": "output (arrow keys move the window)",
  });
  frame.views.append(options.modeSwitch || "", controls, formula, warning,
    el("div", { class: "tsd-pg-grids" },
      el("figure", { class: "tsd-figure" }, inputGrid, el("figcaption", { "data-role": "input-caption" })),
      el("div", { class: "tsd-pg-middle" }, playButton, el("span", { class: "tsd-op" }, "→")),
      el("figure", { class: "tsd-figure" }, outputGrid, el("figcaption", { "data-role": "output-caption" }))));
  frame.onDestroy(() => stop());

  outputGrid.addEventListener("mouseover", (event) => {
    const cell = event.target.closest(".tsd-pg-cell");
    if (cell) { stop(); moveTo(Number(cell.dataset.row), Number(cell.dataset.col)); }
  });
  outputGrid.addEventListener("keydown", (event) => {
    const move = arrowStep(event);
    if (!move) return;
    event.preventDefault();
    stop();
    moveTo(state.i + move[0], state.j + move[1]);
  });

  let geometry = null;
  let inputCells = [];
  let outputCells = [];

  function update() {
    geometry = convGeometry(settings);
    const { n, p, k, s, d, padded, span, reach, out, ignored } = geometry;
    clear(formula).append(
      el("div", {}, "output size = ⌊(", term("input", "n"), " + 2", term("padding", "p"), " − ", term("dilation", "d"),
        "(", term("kernel", "k"), " − 1) − 1) / ", term("stride", "s"), "⌋ + 1"),
      el("div", { "data-role": "size-numbers" },
        `= ⌊(${n} + 2·${p} − ${d}·(${k} − 1) − 1) / ${s}⌋ + 1 = ⌊${reach} / ${s}⌋ + 1 = `,
        el("strong", { "data-role": "output-size" }, reach < 0 ? "no output" : String(out))));
    if (reach < 0) {
      showWarning(`The window spans ${span} cells (d·(k − 1) + 1), more than the ${padded} cells of the padded input: ` +
        "there is no position where it fits, so this convolution has no output. Lower the kernel size or dilation, or add padding.");
    } else if (ignored) {
      const lostInput = Math.max(ignored - p, 0);
      const rowsAndCols = (count) => (count === 1 ? "row and column" : `${count} rows and columns`);
      showWarning(`The stride does not fit: ${reach} (n + 2p − d(k − 1) − 1) is not a multiple of the stride ${s}. ` +
        `The window stops ${ignored} cell${ignored === 1 ? "" : "s"} short of the end, so the last ${rowsAndCols(ignored)} ` +
        "of the padded input are never read (marked red): " +
        (lostInput ? `the last ${rowsAndCols(lostInput)} of real input values are ignored.`
          : "they are padding zeros, so no input value is lost."));
    } else {
      warning.hidden = true;
    }
    buildGrids();
    moveTo(Math.min(state.i, out - 1), Math.min(state.j, out - 1));
  }

  function showWarning(text) {
    warning.hidden = false;
    warning.textContent = `⚠ ${text}`;
  }

  function buildGrids() {
    const { n, p, padded, out, ignored } = geometry;
    const cellSize = Math.max(12, Math.min(26, Math.floor(360 / padded)));
    inputCells = grid(inputGrid, padded, cellSize, (r, c) => {
      const pad = r < p || c < p || r >= p + n || c >= p + n;
      const lost = out > 0 && (r >= padded - ignored || c >= padded - ignored);
      return `${pad ? " tsd-pg-pad" : ""}${lost ? " tsd-pg-ignored" : ""}`;
    });
    outputCells = grid(outputGrid, out, cellSize, () => "");
    frame.frame.querySelector('[data-role="input-caption"]').textContent =
      `input ${n}×${n}${p ? ` padded to ${padded}×${padded}` : ""}`;
    frame.frame.querySelector('[data-role="output-caption"]').textContent = out ? `output ${out}×${out}` : "no output";
  }

  function moveTo(i, j) {
    const { out, s, d, k, padded } = geometry;
    for (const cell of inputCells) cell.classList.remove("tsd-pg-window", "tsd-pg-tap");
    for (const cell of outputCells) cell.classList.remove("tsd-pg-current");
    if (!out) return;
    state.i = clamp(i, 0, out - 1);
    state.j = clamp(j, 0, out - 1);
    outputCells[state.i * out + state.j].classList.add("tsd-pg-current");
    const top = state.i * s;
    const left = state.j * s;
    for (let a = 0; a <= d * (k - 1); a++) {
      for (let b = 0; b <= d * (k - 1); b++) {
        const cell = inputCells[(top + a) * padded + left + b];
        cell.classList.add("tsd-pg-window");
        if (a % d === 0 && b % d === 0) cell.classList.add("tsd-pg-tap");
      }
    }
    outputGrid.setAttribute("aria-label", `output row ${state.i}, column ${state.j}: window at padded input rows ` +
      `${top}..${top + d * (k - 1)}, columns ${left}..${left + d * (k - 1)}`);
    outputGrid.dataset.position = `${state.i},${state.j}`;
  }

  function play() {
    state.timer = setInterval(() => {
      const { out } = geometry;
      if (!out) return;
      const next = (state.i * out + state.j + 1) % (out * out);
      moveTo(Math.floor(next / out), next % out);
    }, PLAY_INTERVAL_MS);
    playButton.textContent = "❚❚ Pause";
    playButton.setAttribute("aria-pressed", "true");
  }
  function stop() {
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
    playButton.textContent = "▶ Play";
    playButton.setAttribute("aria-pressed", "false");
  }

  frame.text.append(
    el("p", {}, "A convolution slides a ", term("kernel", "kernel"), " over its ", term("input", "input"),
      "; every position of the window gives one cell of the ", term("output", "output"), "."),
    el("p", {}, term("padding", "Padding"), " adds rings of zeros around the input so the window can also sit on the edges. ",
      term("stride", "Stride"), " is how many cells the window jumps per step. ", term("dilation", "Dilation"),
      " spreads the kernel's taps apart, so a 3×3 kernel with dilation 2 covers 5×5 cells."),
    el("p", {}, "The output size follows from these numbers. When the stride does not divide the distance the window can travel, ",
      "the last rows and columns are never visited: their values are silently ignored."),
    el("p", {}, "Hover an output cell (or focus the output grid and use the arrow keys), or press Play, to see which input cells it reads."));
  update();
  addDeformableMode(frame);
  return { destroy: frame.destroy, close: frame.close, frame: frame.frame };
}

function grid(container, size, cellSize, classes) {
  clear(container);
  container.style.gridTemplateColumns = `repeat(${size}, ${cellSize}px)`;
  const cells = [];
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      const cell = el("div", {
        class: `tsd-pg-cell${classes(r, c)}`, "data-row": r, "data-col": c,
        style: { width: `${cellSize}px`, height: `${cellSize}px` },
      });
      cells.push(cell);
      container.append(cell);
    }
  }
  return cells;
}
