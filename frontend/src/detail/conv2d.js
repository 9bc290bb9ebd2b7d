// Convolution, two levels. "Channels": every input channel with its own kernel and the
// intermediate map it produces, their sum plus the bias, the output map. "Formula": for one
// window position, the real input patch × kernel = intermediate value, for every channel, then
// the cross-channel sum plus the bias = the output value, with the window sliding over the input.
// Every number is the server's: the maps and kernels come with the detail pack, the window
// tables too (./windows.js), and one window's patch and products are fetched as it moves
// (source.terms): all windows at once would be Cin·kh·kw times the output map.
import { arrowStep, clamp } from "../ui/cursor.js";
import { fmt } from "../ui/format.js";
import { clear, el, num, term } from "./dom.js";
import { heatmap } from "./heatmap.js";
import { strongestCell } from "./opening.js";
import { activationScale, weightScale } from "./palette.js";
import { defineView, explain, figure, numberGrid, operator, pair, plane } from "./view.js";
import { windows } from "./windows.js";

const CHANNELS_PER_PAGE = 5;
const PLAY_INTERVAL_MS = 550;

export const conv2dView = defineView("Convolution", (frame, pack, ctx) => {
  const conv = readConv(pack);
  const terms = termsLoader(ctx, pack.meta.channel ?? ctx.channel, conv);
  // channel: the input channel the formula shows; null until the user picks one, and then the
  // one that contributes most at the current position is shown.
  // The window opens on the output's strongest cell: there every term of the sum means something.
  // A shared link (ctx.initial) reopens the window where it was.
  const [i0, j0] = ctx.initial?.at ?? strongestCell(conv.output, conv.outCols);
  const state = { i: i0, j: j0, channel: null, page: 0, level: "channels", timer: null };

  const tabs = el("div", { class: "tsd-tabs", role: "tablist", "aria-label": "Level of detail" });
  const stage = el("div", { class: "tsd-conv-stage" });
  const levels = { channels: "All input channels", formula: "Formula for one window" };
  const tabButtons = {};
  for (const [level, label] of Object.entries(levels)) {
    tabButtons[level] = el("button", {
      type: "button", role: "tab", class: "tsd-tab", "data-level": level,
      onclick: () => show(level),
    }, label);
    tabs.append(tabButtons[level]);
  }
  frame.views.append(tabs, stage);
  frame.onDestroy(() => stop());
  // In the formula, arrow keys move the window wherever the focus is (maps handle their own).
  stage.addEventListener("keydown", (event) => {
    if (state.level !== "formula" || event.target.closest(".tsd-heat, .tsd-grid, select")) return;
    const move = arrowStep(event);
    if (!move) return;
    event.preventDefault();
    stop();
    setPosition(state.i + move[0], state.j + move[1]);
  });

  const moveListeners = [];
  function setPosition(i, j) {
    state.i = clamp(i, 0, conv.outRows - 1);
    state.j = clamp(j, 0, conv.outCols - 1);
    for (const listener of moveListeners) listener();
    ctx.onState?.({ at: [state.i, state.j], tab: state.level });
  }

  function show(level) {
    stop();
    state.level = level;
    moveListeners.length = 0;
    for (const [name, button] of Object.entries(tabButtons)) {
      button.setAttribute("aria-selected", String(name === level));
    }
    clear(stage);
    clear(frame.text);
    if (level === "channels") channelsLevel();
    else formulaLevel();
    setPosition(state.i, state.j);
  }

  // ---- level (a): every input channel ------------------------------------------------------
  function channelsLevel() {
    const first = state.page * CHANNELS_PER_PAGE;
    const last = Math.min(first + CHANNELS_PER_PAGE, conv.cin);
    const mapSize = 84;
    const rows = el("div", { class: "tsd-conv-rows" });
    const weightReadout = el("div", { class: "tsd-formula-where", "aria-live": "polite", "data-role": "weight" },
      "Hover a kernel cell to read its weight.");
    const inputMaps = [];
    const middleMaps = [];
    for (let c = first; c < last; c++) {
      const input = plane(pack.arrays.input, c);
      const middle = plane(pack.arrays.intermediate, c);
      const inputMap = heatmap({
        ...input, values: input.data, color: conv.inputColor, size: mapSize, part: "input",
        label: `input channel ${conv.channelName(c)}`,
      });
      const middleMap = heatmap({
        ...middle, values: middle.data, color: conv.middleColor, size: mapSize, part: "intermediate",
        label: `intermediate map of input channel ${conv.channelName(c)}`,
        onCell: (i, j) => setPosition(i, j),
      });
      inputMaps.push(inputMap);
      middleMaps.push(middleMap);
      rows.append(el("div", { class: "tsd-conv-row", "data-channel": c },
        figure(`in ${conv.channelName(c)}`, inputMap.el),
        operator("∗"),
        figure("kernel", kernelGrid(c, (r, k, value) => clear(weightReadout).append(
          `weight [${r}, ${k}] for input ${conv.channelName(c)} = `, num(value, { "data-part": "kernel" })))),
        operator("="),
        figure("intermediate", middleMap.el),
        el("button", {
          type: "button", class: "tsd-link-button", "aria-label": `Formula for input channel ${conv.channelName(c)}`,
          onclick: () => { state.channel = c; show("formula"); },
        }, "formula →")));
    }
    const outputMap = heatmap({
      rows: conv.outRows, cols: conv.outCols, values: conv.output, color: conv.outputColor,
      size: 150, part: "output", label: "output map", onCell: (i, j) => setPosition(i, j),
    });
    const summary = el("div", { class: "tsd-conv-sum" });
    const pager = conv.cin > CHANNELS_PER_PAGE ? channelPager(first, last) : null;
    stage.append(el("div", { class: "tsd-conv-channels" },
      el("div", {}, pager, rows, weightReadout),
      el("div", { class: "tsd-conv-result" },
        el("div", { class: "tsd-conv-sumsign", "data-part": "sum" }, "Σ"),
        el("div", { class: "tsd-conv-bias", "data-part": "bias" }, "+ bias ", num(conv.bias)),
        figure("output", outputMap.el),
        summary)));

    moveListeners.push(() => {
      const { i, j } = state;
      for (const map of inputMaps) map.mark("window", conv.windows.marks(i, j));
      for (const map of middleMaps) map.mark("cursor", [{ r: i, c: j, kind: "cursor" }]);
      outputMap.mark("cursor", [{ r: i, c: j, kind: "cursor" }]);
      outputMap.setCursor(i, j);
      clear(summary).append(
        el("div", {}, `output[${i}, ${j}] = Σ intermediate[${i}, ${j}] + bias`),
        el("div", { class: "tsd-conv-sumvalue", "data-part": "output" }, "= ", num(conv.outAt(i, j), { "data-role": "output-value" })));
    });

    explain(frame,
      ["A convolution neuron looks at every ", term("input", "input channel"), " through its own small grid of weights, its ",
        term("kernel", "kernel"), ". Sliding the kernel over the channel and adding up input × weight under the ",
        term("window", "window"), " at each position gives that channel's ", term("intermediate", "intermediate map"), "."],
      ["The neuron's ", term("output", "output map"), " is the ", term("sum", "sum"), " of all ", String(conv.cin),
        " intermediate maps plus one number, the ", term("bias", "bias"), ` (${fmt(conv.bias)}).`],
      [conv.settingsSentence()],
      ["Hover a map (or focus it and use the arrow keys) to follow one position; open the formula to see the arithmetic."]);
  }

  function channelPager(first, last) {
    const pages = Math.ceil(conv.cin / CHANNELS_PER_PAGE);
    const go = (page) => { state.page = page; show("channels"); };
    return el("div", { class: "tsd-pager" },
      el("button", { type: "button", disabled: state.page === 0, onclick: () => go(state.page - 1) }, "‹ previous"),
      el("span", {}, `input channels ${first}–${last - 1} of ${conv.cin}`),
      el("button", { type: "button", disabled: state.page >= pages - 1, onclick: () => go(state.page + 1) }, "next ›"));
  }

  function kernelGrid(c, onWeight) {
    const [kh, kw] = conv.kernelSize;
    const weights = plane(pack.arrays.kernel, c).data;
    return numberGrid({
      rows: kh, cols: kw, part: "kernel", showNumbers: false, label: `kernel for input channel ${conv.channelName(c)}`,
      onCell: (r, k) => onWeight(r, k, weights[r * kw + k]),
      cellSize: Math.max(8, Math.min(18, Math.floor(60 / Math.max(kh, kw)))),
      cells: (r, k) => {
        const value = weights[r * kw + k];
        return { value, color: conv.weightColor(value), label: `weight [${r}, ${k}] = ${value}` };
      },
    }).el;
  }

  // ---- level (b): the formula for one window -----------------------------------------------
  function formulaLevel() {
    if (state.channel === null) state.channel = conv.strongestChannel(state.i, state.j);
    const [pr, pc] = conv.padding;
    const controls = el("div", { class: "tsd-controls" });
    const playButton = el("button", {
      type: "button", class: "tsd-play", "aria-pressed": "false", onclick: () => (state.timer ? stop() : play()),
    }, "▶ Play");
    const channelSelect = el("select", { "aria-label": "Input channel", "data-part": "input" });
    for (let c = 0; c < conv.cin; c++) {
      channelSelect.append(el("option", { value: c, selected: c === state.channel }, `input channel ${conv.channelName(c)}`));
    }
    channelSelect.addEventListener("change", () => { state.channel = Number(channelSelect.value); show("formula"); });
    const position = el("span", { class: "tsd-position", "aria-live": "polite" });
    controls.append(playButton,
      el("button", { type: "button", "aria-label": "Previous position", onclick: () => { stop(); step(-1); } }, "◀"),
      el("button", { type: "button", "aria-label": "Next position", onclick: () => { stop(); step(1); } }, "▶|"),
      channelSelect, position);

    const input = plane(pack.arrays.input, state.channel);
    const inputMap = heatmap({
      ...input, values: input.data, color: conv.inputColor, size: 230, pad: Math.max(pr, pc),
      part: "input", label: `input channel ${conv.channelName(state.channel)}${pr || pc ? " with its padding" : ""}`,
    });
    const outputMap = heatmap({
      rows: conv.outRows, cols: conv.outCols, values: conv.output, color: conv.outputColor, size: 170,
      part: "output", label: "output map (arrow keys move the window)",
      onCell: (i, j) => { stop(); setPosition(i, j); },
    });
    const arithmetic = el("div", { class: "tsd-conv-arithmetic" });
    const channelSum = el("div", { class: "tsd-conv-channel-sum" });
    stage.append(controls,
      el("div", { class: "tsd-conv-formula-maps" },
        figure(`input channel ${conv.channelName(state.channel)}${pr || pc ? " (padded)" : ""}`, inputMap.el),
        operator("→"),
        figure("output", outputMap.el)),
      arithmetic, channelSum);

    playButton.dataset.role = "play";
    state.playButton = playButton;

    moveListeners.push(() => {
      const { i, j, channel } = state;
      position.textContent = `window at output [${i}, ${j}]`;
      inputMap.mark("window", conv.windows.marks(i, j));
      outputMap.mark("cursor", [{ r: i, c: j, kind: "cursor" }]);
      outputMap.setCursor(i, j);
      renderArithmetic(arithmetic, channel, i, j);
      renderChannelSum(channelSum, channel, i, j);
    });

    explain(frame,
      ["The ", term("window", "window"), " covers a patch of the ", term("input", "input channel"),
        ". Each input value is multiplied by the ", term("kernel", "weight"), " over it; the ",
        term("products", "products"), " add up to one value of the channel's ", term("intermediate", "intermediate map"), "."],
      ["Doing the same for every input channel and adding the channel values (the ", term("sum", "cross-channel sum"),
        ") plus the ", term("bias", "bias"), " gives one value of the ", term("output", "output map"), "."],
      [conv.settingsSentence()],
      ["Play slides the window; hover the output map, or focus it and use the arrow keys, to move it yourself. ",
        paddingSentence(conv, pr || pc)]);
  }

  // The patch and products arrive from the server; until then the last ones stay, greyed.
  function renderArithmetic(target, c, i, j) {
    target.classList.add("tsd-pending");
    // An answer for a window the view has since left is dropped, success or failure alike.
    const current = () => state.level === "formula" && state.i === i && state.j === j && state.channel === c;
    terms.at(i, j).then((found) => {
      if (!current()) return;
      target.classList.remove("tsd-pending");
      drawArithmetic(target, c, i, j, found);
    }, (error) => {
      if (!current()) return;
      target.classList.remove("tsd-pending");
      clear(target).append(el("p", { class: "tsd-error", role: "alert" },
        `The terms of this window could not be loaded: ${error && error.message ? error.message : error}`));
    });
  }

  function drawArithmetic(target, c, i, j, found) {
    const [kh, kw] = conv.kernelSize;
    const weights = plane(pack.arrays.kernel, c).data;
    const patch = plane(found.arrays.patch, c).data;
    const products = plane(found.arrays.products, c).data;
    const onPadding = conv.windows.cells(i, j).map(([r, k]) => r < 0 || k < 0 || r >= conv.rows || k >= conv.cols);
    const padLabel = conv.paddingMode === "zeros" ? "padding" : `${conv.paddingMode} padding`;
    const patchGrid = numberGrid({
      rows: kh, cols: kw, part: "input window", label: "input patch under the window",
      cells: (r, k) => {
        const x = patch[r * kw + k];
        return onPadding[r * kw + k]
          ? { value: x, cls: "tsd-cell-pad", label: `${padLabel}: ${x}` }
          : { value: x, color: conv.inputColor(x), label: `input ${x}` };
      },
    });
    const kernel = numberGrid({
      rows: kh, cols: kw, part: "kernel", label: "kernel weights",
      cells: (r, k) => {
        const value = weights[r * kw + k];
        return { value, color: conv.weightColor(value), label: `weight ${value}` };
      },
    });
    const productGrid = numberGrid({
      rows: kh, cols: kw, part: "products", label: "input × weight for each cell",
      cells: (r, k) => {
        const index = r * kw + k;
        return { value: products[index], label: `${patch[index]} × ${weights[index]} = ${products[index]}` };
      },
    });
    clear(target).append(
      el("div", { class: "tsd-formula", "data-role": "conv-formula", "data-at": `${i},${j}` },
        figure("input patch", patchGrid.el), operator("⊙"),
        figure("kernel", kernel.el), operator("="),
        figure("products", productGrid.el), operator("→ Σ ="),
        el("div", { class: "tsd-result", "data-part": "intermediate" },
          num(found.arrays.channel_sums.data[c], { "data-role": "intermediate-value" }),
          el("small", {}, `intermediate[${i}, ${j}] of input ${conv.channelName(c)}`))));
  }

  function renderChannelSum(target, current, i, j) {
    const terms = el("div", { class: "tsd-sum-terms", "data-part": "sum" });
    for (let c = 0; c < conv.cin; c++) {
      if (c > 0) terms.append(operator("+"));
      terms.append(el("button", {
        type: "button", class: `tsd-chip${c === current ? " tsd-chip-current" : ""}`, "data-channel": c,
        title: `intermediate[${i}, ${j}] of input channel ${conv.channelName(c)}; click to show its formula`,
        onclick: () => { state.channel = c; show("formula"); },
      }, el("small", {}, `in ${conv.channelName(c)} `), num(conv.middleAt(c, i, j))));
    }
    terms.append(operator("+"), el("span", { class: "tsd-chip tsd-chip-bias", "data-part": "bias" },
      el("small", {}, "bias "), num(conv.bias, { "data-role": "bias-value" })));
    clear(target).append(
      el("div", { class: "tsd-sum-title" }, `output[${i}, ${j}] = sum over the ${conv.cin} input channels + bias`),
      terms,
      el("div", { class: "tsd-sum-result", "data-part": "output" }, "= ",
        num(conv.outAt(i, j), { "data-role": "output-value" })));
  }

  function step(direction) {
    const total = conv.outRows * conv.outCols;
    const index = (state.i * conv.outCols + state.j + direction + total) % total;
    setPosition(Math.floor(index / conv.outCols), index % conv.outCols);
  }
  function play() {
    if (!state.playButton) return;
    state.timer = setInterval(() => step(1), PLAY_INTERVAL_MS);
    state.playButton.textContent = "❚❚ Pause";
    state.playButton.setAttribute("aria-pressed", "true");
  }
  function stop() {
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
    if (state.playButton && state.playButton.isConnected) {
      state.playButton.textContent = "▶ Play";
      state.playButton.setAttribute("aria-pressed", "false");
    }
  }

  show(ctx.initial?.tab in levels ? ctx.initial.tab : "channels");
});

// Said only for a layer that pads: a convolution without padding has no grey cells.
function paddingSentence(conv, padded) {
  if (!padded) return "";
  return conv.paddingMode === "zeros" ? "Grey cells are padding zeros."
    : `Grey cells are padding; in ${conv.paddingMode} mode they repeat input values.`;
}

// Everything the two levels need from the pack; the window tables come with it.
function readConv(pack) {
  const { meta, arrays } = pack;
  const [cin, rows, cols] = arrays.input.shape;
  const kernelSize = arrays.kernel.shape.slice(1);
  const [outRows, outCols] = arrays.output.shape;
  const stride = pair(meta.stride, 1);
  const dilation = pair(meta.dilation, 1);
  const padding = pair(meta.padding, 0);
  const output = arrays.output.data;
  const middle = arrays.intermediate.data;
  const bias = typeof meta.bias === "number" ? meta.bias : 0;
  const inChannels = meta.in_channels || [];
  const paddingMode = meta.padding_mode || "zeros";
  return {
    cin, rows, cols, kernelSize, outRows, outCols, stride, padding, dilation, output, bias,
    windows: windows(arrays.rows, arrays.cols),
    inputColor: activationScale(arrays.input.data),
    middleColor: activationScale(middle),
    outputColor: activationScale(output),
    weightColor: weightScale(arrays.kernel.data),
    channelName: (c) => String(inChannels[c] ?? c),
    outAt: (i, j) => output[i * outCols + j],
    middleAt: (c, i, j) => middle[(c * outRows + i) * outCols + j],
    strongestChannel(i, j) {
      let best = 0;
      for (let c = 1; c < cin; c++) {
        if (Math.abs(this.middleAt(c, i, j)) > Math.abs(this.middleAt(best, i, j))) best = c;
      }
      return best;
    },
    paddingMode,
    settingsSentence() {
      const same = (p) => (p[0] === p[1] ? String(p[0]) : `${p[0]}×${p[1]}`);
      const cells = (p) => `${same(p)} cell${p[0] === 1 && p[1] === 1 ? "" : "s"}`;
      const pad = padding[0] || padding[1]
        ? `the input gets ${same(padding)} ring${padding[0] === 1 && padding[1] === 1 ? "" : "s"} of ${paddingMode === "zeros" ? "zeros" : `${paddingMode} padding`} (padding)`
        : "there is no padding";
      const taps = dilation[0] > 1 || dilation[1] > 1
        ? `its taps are ${cells(dilation)} apart (dilation)` : "its taps touch (dilation 1)";
      const groups = meta.groups > 1 ? ` The ${meta.groups} groups each see only their own input channels.` : "";
      return `Here the kernel is ${kernelSize[0]}×${kernelSize[1]} and ${taps}; the window moves ${cells(stride)} ` +
        `per step (stride) and ${pad}: ${rows}×${cols} in, ${outRows}×${outCols} out.${groups}`;
    },
  };
}

// One window's terms from the server, each position asked for once (playing and arrow keys
// come back to positions already seen).
function termsLoader(ctx, channel, conv) {
  const cache = new Map();
  return {
    at(i, j) {
      const key = i * conv.outCols + j;
      if (!cache.has(key)) {
        const request = ctx.source && ctx.source.terms
          ? ctx.source.terms(ctx.runId, ctx.node.id, channel, i, j)
          : Promise.reject(new Error("this host cannot fetch a window's terms"));
        request.catch(() => cache.delete(key));
        cache.set(key, request);
      }
      return cache.get(key);
    },
  };
}
