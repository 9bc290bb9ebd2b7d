// Transposed convolution, two levels, with the layer's real numbers (computed on the server):
// (a) "Stamps": every input value times the kernel is stamped into a canvas at stride steps,
//     overlapping stamps add up, padding crops the canvas border, output_padding adds rows and
//     columns at the bottom/right; (b) "As a convolution": the same output as an ordinary
//     convolution over the zero-inserted, padded input with the kernel rotated 180°.
// Both levels follow the same output cell, so one cell's value is shown computed both ways.
// Every relation drawn (which input cells stamp onto a cell, which cells a window covers) and
// every number shown comes from the pack: this file only looks them up.
import { fmt } from "../ui/format.js";
import { clear, el, num, term } from "./dom.js";
import { heatmap } from "./heatmap.js";
import { activationScale, weightScale } from "./palette.js";
import { defineView, explain, figure, formulaLine, numberGrid, operator, pair, plane } from "./view.js";

const MAX_TERMS_SHOWN = 16;

// The geometry and numbers of one pack; every index rule lives here.
export function readTransposed(pack) {
  const { meta, arrays } = pack;
  const [cin, inRows, inCols] = arrays.input.shape;
  const [kh, kw] = arrays.kernel.shape.slice(1);
  const [outRows, outCols] = arrays.output.shape;
  const [fullRows, fullCols] = arrays.full.shape;
  const stride = pair(meta.stride, 1);
  const padding = pair(meta.padding);
  const outputPadding = pair(meta.output_padding);
  const dilation = pair(meta.dilation, 1);
  const firstChannel = meta.in_channels ? meta.in_channels[0] : 0;
  const at = (array, c, r, k) => {
    const [, rows, cols] = array.shape;
    return array.data[(c * rows + r) * cols + k];
  };
  // The server's tables: (input index, kernel tap) pairs per output row/column, -1 after the
  // last; window cells of the zero-inserted input per output row/column.
  const axisTaps = (table, out) => {
    const [, slots] = table.shape;
    const found = [];
    for (let slot = 0; slot < slots; slot++) {
      const index = table.data[(out * slots + slot) * 2];
      if (index >= 0) found.push({ index, tap: table.data[(out * slots + slot) * 2 + 1] });
    }
    return found;
  };
  const windowCells = (table, out) => {
    const [, k] = table.shape;
    return Array.from(table.data.subarray(out * k, (out + 1) * k));
  };
  return {
    meta, cin, inRows, inCols, kh, kw, outRows, outCols, fullRows, fullCols,
    stride, padding, outputPadding, dilation, bias: meta.bias || 0,
    channelName: (c) => String(firstChannel + c),
    input: (c, r, k) => at(arrays.input, c, r, k),
    kernel: (c, a, b) => at(arrays.kernel, c, a, b),
    flipped: (c, a, b) => at(arrays.flipped, c, a, b),
    stretched: (c, r, k) => at(arrays.stretched, c, r, k),
    intermediate: (c, r, k) => at(arrays.intermediate, c, r, k),
    output: (r, k) => arrays.output.data[r * outCols + k],
    full: (r, k) => arrays.full.data[r * fullCols + k],
    taps(r, c) {
      const rows = axisTaps(arrays.row_taps, r);
      const cols = axisTaps(arrays.col_taps, c);
      const list = [];
      for (const row of rows) for (const col of cols) list.push({ i: row.index, j: col.index, a: row.tap, b: col.tap });
      return list;
    },
    // Output rows/columns past the canvas come from output_padding: no stamp reaches them.
    canvasRow: (r) => arrays.canvas_rows.data[r],
    canvasCol: (c) => arrays.canvas_cols.data[c],
    inPadding: (r, c) => arrays.canvas_rows.data[r] < 0 || arrays.canvas_cols.data[c] < 0,
    outputOfCanvas: (row, col) => [arrays.canvas_rows.data.indexOf(row), arrays.canvas_cols.data.indexOf(col)],
    stampAt: (i, j) => [arrays.stamp_rows.data[i], arrays.stamp_cols.data[j]],
    span: meta.stamp_span || [1, 1],
    strongest(r, c) {
      let best = 0;
      for (let ch = 1; ch < cin; ch++) {
        if (Math.abs(at(arrays.intermediate, ch, r, c)) > Math.abs(at(arrays.intermediate, best, r, c))) best = ch;
      }
      return best;
    },
    stamped: (r, c) => arrays.stamped.data[r * outCols + c],
    windowRows: (r) => windowCells(arrays.window_rows, r),
    windowCols: (c) => windowCells(arrays.window_cols, c),
  };
}

export const convTranspose2dView = defineView("Transposed convolution", (frame, pack, ctx) => {
  const t = readTransposed(pack);
  const state = { r: 0, c: 0, channel: null, level: "scatter" };
  const inputColor = activationScale(pack.arrays.input.data);
  const weightColor = weightScale(pack.arrays.kernel.data);
  const outputColor = activationScale(pack.arrays.output.data, pack.arrays.full.data);

  const tabs = el("div", { class: "tsd-tabs", role: "tablist", "aria-label": "Level of detail" });
  const stage = el("div", { class: "tsd-ct-stage" });
  const buttons = {};
  for (const [level, label] of [["scatter", "Stamps (scatter)"], ["conv", "As a convolution"]]) {
    buttons[level] = el("button", {
      type: "button", role: "tab", class: "tsd-tab", "data-level": level, onclick: () => show(level),
    }, label);
    tabs.append(buttons[level]);
  }
  const channelSelect = el("select", { "aria-label": "Input channel", "data-part": "input" });
  for (let c = 0; c < t.cin; c++) channelSelect.append(el("option", { value: c }, `input channel ${t.channelName(c)}`));
  channelSelect.addEventListener("change", () => { state.channel = Number(channelSelect.value); show(state.level); });
  frame.views.append(tabs, el("div", { class: "tsd-controls" }, channelSelect), stage);

  let listeners = [];
  function moveTo(r, c) {
    state.r = Math.min(Math.max(r, 0), t.outRows - 1);
    state.c = Math.min(Math.max(c, 0), t.outCols - 1);
    for (const listener of listeners) listener();
  }

  function show(level) {
    state.level = level;
    if (state.channel === null) state.channel = t.strongest(state.r, state.c);
    channelSelect.value = String(state.channel);
    for (const [name, button] of Object.entries(buttons)) button.setAttribute("aria-selected", String(name === level));
    listeners = [];
    clear(stage);
    clear(frame.text);
    if (level === "scatter") scatterLevel();
    else convLevel();
    moveTo(state.r, state.c);
  }

  function kernelGrid(valueAt, label, part, onCell) {
    return numberGrid({
      rows: t.kh, cols: t.kw, part, label, showNumbers: t.kh * t.kw <= 25,
      cellSize: t.kh * t.kw <= 25 ? null : 12, onCell,
      cells: (a, b) => {
        const value = valueAt(a, b);
        return { value, color: weightColor(value), label: `${label} [${a}, ${b}] = ${value}` };
      },
    });
  }

  function outputMap() {
    return heatmap({
      rows: t.outRows, cols: t.outCols, values: pack.arrays.output.data, color: outputColor, size: 180,
      part: "output", label: "output map (arrow keys pick the cell)", onCell: (r, c) => moveTo(r, c),
    });
  }

  // ---- (a) stamps ----------------------------------------------------------------------------
  function scatterLevel() {
    const ch = state.channel;
    const input = plane(pack.arrays.input, ch);
    const inputMap = heatmap({
      ...input, values: input.data, color: inputColor, size: 150, part: "input",
      label: `input channel ${t.channelName(ch)}`,
    });
    const canvas = heatmap({
      rows: t.fullRows, cols: t.fullCols, values: pack.arrays.full.data, color: outputColor, size: 220,
      part: "canvas", label: "canvas: every stamp of every input channel added, before the crop",
      onCell: (row, col) => {
        const [r, c] = t.outputOfCanvas(row, col);
        if (r >= 0 && c >= 0) moveTo(r, c);   // a cropped border cell is in no output cell
      },
    });
    const output = outputMap();
    const kernel = kernelGrid((a, b) => t.kernel(ch, a, b), `kernel for input channel ${t.channelName(ch)}`, "kernel");
    const arithmetic = el("div", { class: "tsd-formula-box", "aria-live": "polite", "data-role": "scatter-formula" });
    stage.append(el("div", { class: "tsd-maps tsd-ct-maps" },
      figure(`input channel ${t.channelName(ch)}`, inputMap.el), operator("×"),
      figure("kernel (the stamp)", kernel.el), operator("→"),
      figure(`canvas ${t.fullRows}×${t.fullCols} (crop: padding ${t.padding.join(", ")})`, canvas.el), operator("→"),
      figure(`output ${t.outRows}×${t.outCols}`, output.el)), arithmetic);

    const [spanH, spanW] = t.span;
    const kept = (table) => Array.from(table.data).filter((cell) => cell >= 0);
    const keptRows = kept(pack.arrays.canvas_rows);
    const keptCols = kept(pack.arrays.canvas_cols);
    listeners.push(() => {
      const { r, c } = state;
      const taps = t.taps(r, c);
      inputMap.mark("source", taps.map(({ i, j }) => ({ r: i, c: j, kind: "source" })));
      canvas.mark("crop", keptRows.length && keptCols.length
        ? [{ r: keptRows[0], c: keptCols[0], h: keptRows.length, w: keptCols.length, kind: "taps" }] : []);
      canvas.mark("stamps", taps.map(({ i, j }) => {
        const [top, left] = t.stampAt(i, j);
        return { r: top, c: left, h: spanH, w: spanW, kind: "source" };
      }));
      canvas.mark("cursor", t.inPadding(r, c) ? [] : [{ r: t.canvasRow(r), c: t.canvasCol(c), kind: "cursor" }]);
      output.mark("cursor", [{ r, c, kind: "cursor" }]);
      output.setCursor(r, c);
      for (const cell of kernel.cells) cell.classList.remove("tsd-cell-active");
      for (const { a, b } of taps) kernel.cells[a * t.kw + b].classList.add("tsd-cell-active");
      clear(arithmetic).append(...scatterFormula(r, c, taps));
    });

    explain(frame,
      ["A transposed convolution makes a map bigger. Each value of the ", term("input", "input"), " multiplies the whole ",
        term("kernel", "kernel"), " and the result, a stamp, is added onto a ", term("canvas", "canvas"),
        ` at ${t.stride[0]}×${t.stride[1]} steps (the stride): input cell (i, j) lands at row i·${t.stride[0]}, column j·${t.stride[1]}.`],
      ["Where stamps overlap they add up. When the kernel size is not a multiple of the stride, some canvas cells get more stamps than their neighbours: the checkerboard pattern early GAN images show (open the playground's transposed mode to see it)."],
      [`Padding ${t.padding.join("×")} crops that many rows and columns from each side of the canvas`,
        t.outputPadding[0] || t.outputPadding[1] ? `, output_padding ${t.outputPadding.join("×")} adds rows/columns at the bottom/right that no stamp reaches` : "",
        `; every input channel stamps its own kernel and the `, term("output", "output"), ` is the sum of all ${t.cin} channels' stamps plus the bias (${fmt(t.bias)}).`],
      ["Hover the output or the canvas to see which input cells stamp onto a cell, and with which kernel weights."]);
  }

  function scatterFormula(r, c, taps) {
    const ch = state.channel;
    const lines = [el("div", { class: "tsd-formula-where" },
      t.inPadding(r, c) ? `output [${r}, ${c}]` : `output [${r}, ${c}] is canvas [${t.canvasRow(r)}, ${t.canvasCol(c)}] + bias`)];
    if (t.inPadding(r, c)) {
      lines.push(el("div", {}, "This cell is output padding: no stamp reaches it, so it holds only the bias."));
    } else if (!taps.length) {
      lines.push(el("div", {}, "No stamp of this channel covers this cell (a gap between stride steps)."));
    }
    const shown = taps.slice(0, MAX_TERMS_SHOWN);
    if (taps.length) {
      const parts = [];
      shown.forEach(({ i, j, a, b }, index) => {
        if (index) parts.push(" + ");
        parts.push("in[", `${i},${j}`, "] ", num(t.input(ch, i, j), { "data-part": "input" }), " × w[", `${a},${b}`, "] ",
          num(t.kernel(ch, a, b), { "data-part": "kernel" }));
      });
      if (taps.length > shown.length) parts.push(` + … (${taps.length - shown.length} more)`);
      parts.push(" = ", num(t.intermediate(ch, r, c), { "data-role": "channel-value" }));
      lines.push(el("div", { class: "tsd-formula-where" }, `stamps of input channel ${t.channelName(ch)}:`), formulaLine(parts));
    }
    lines.push(totalLine(r, c));
    return lines;
  }

  function totalLine(r, c) {
    return formulaLine([`Σ over the ${t.cin} input channels `, num(t.stamped(r, c), { "data-part": "canvas" }),
      " + bias ", num(t.bias, { "data-part": "bias" }), " = ", num(t.output(r, c), { "data-part": "output", "data-role": "output-value" })],
    { "data-role": "total" });
  }

  // ---- (b) the same as an ordinary convolution --------------------------------------------
  function convLevel() {
    const ch = state.channel;
    const stretched = plane(pack.arrays.stretched, ch);
    const stretchedMap = heatmap({
      ...stretched, values: stretched.data, color: inputColor, size: 230, part: "stretched",
      label: `input channel ${t.channelName(ch)} with zeros inserted and padded`,
      onCell: (r, c) => moveTo(r, c),
    });
    const flipped = kernelGrid((a, b) => t.flipped(ch, a, b), `kernel rotated 180° for input channel ${t.channelName(ch)}`, "flipped");
    const output = outputMap();
    const arithmetic = el("div", { class: "tsd-formula-box", "aria-live": "polite", "data-role": "conv-formula" });
    stage.append(el("div", { class: "tsd-maps tsd-ct-maps" },
      figure(`zero-inserted input ${stretched.rows}×${stretched.cols}`, stretchedMap.el), operator("∗"),
      figure("kernel rotated 180°", flipped.el), operator("="),
      figure("output", output.el)), arithmetic);

    listeners.push(() => {
      const { r, c } = state;
      const marks = [];
      for (const row of t.windowRows(r)) for (const col of t.windowCols(c)) marks.push({ r: row, c: col, kind: "taps" });
      stretchedMap.mark("window", marks);
      output.mark("cursor", [{ r, c, kind: "cursor" }]);
      output.setCursor(r, c);
      clear(arithmetic).append(...convFormula(r, c));
    });

    const [top, bottom, left, right] = t.meta.equivalent_padding || [0, 0, 0, 0];
    explain(frame,
      ["The same numbers come out of an ordinary convolution (stride 1). Put ", String(t.stride[0] - 1),
        " zero(s) between neighbouring ", term("stretched", "input cells"), `, pad the result with ${top} row(s) on top, ${bottom} below, ${left} column(s) left and ${right} right`,
        " (dilation × (kernel − 1) − padding, plus output_padding at the bottom/right; a negative number crops), and slide the ",
        term("flipped", "kernel rotated by 180°"), " over it."],
      ["Each window covers the zeros and the few real input values that would have stamped onto that cell: the products that remain are exactly the stamps of the other view."],
      ["Hover the zero-inserted input or the output to move the window."]);
  }

  function convFormula(r, c) {
    const ch = state.channel;
    const parts = [];
    let nonzero = 0;
    const rows = t.windowRows(r);
    const cols = t.windowCols(c);
    for (let a = 0; a < t.kh; a++) {
      for (let b = 0; b < t.kw; b++) {
        const x = t.stretched(ch, rows[a], cols[b]);
        if (x === 0) continue;   // inserted or padding zeros add nothing
        if (nonzero++ >= MAX_TERMS_SHOWN) continue;
        if (parts.length) parts.push(" + ");
        parts.push(num(x, { "data-part": "stretched" }), " × ", num(t.flipped(ch, a, b), { "data-part": "flipped" }));
      }
    }
    if (!parts.length) parts.push("every covered cell is a zero: 0");
    if (nonzero > MAX_TERMS_SHOWN) parts.push(` + … (${nonzero - MAX_TERMS_SHOWN} more)`);
    parts.push(" = ", num(t.intermediate(ch, r, c), { "data-role": "channel-value" }));
    return [
      el("div", { class: "tsd-formula-where" },
        `window at [${r}, ${c}] over input channel ${t.channelName(ch)}: ${t.kh * t.kw} products, ${t.kh * t.kw - nonzero} of them with a zero`),
      formulaLine(parts),
      totalLine(r, c),
    ];
  }

  show("scatter");
});
