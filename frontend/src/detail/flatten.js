// Flatten: where each cell of the [C, H, W] input lands in the 1-D output vector,
// flat index = c·H·W + h·W + w, in both directions (hover the maps or the vector).
import { clear, el, num, term } from "./dom.js";
import { heatmap } from "./heatmap.js";
import { activationScale } from "./palette.js";
import { defineView, explain, figure, plane } from "./view.js";

const MAX_CHANNEL_MAPS = 16;

export const flattenView = defineView("Flatten", (frame, pack, ctx) => {
  const input = pack.arrays.input;
  const output = pack.arrays.output;
  const [channels, rows, cols] = input.shape.length === 3 ? input.shape : [1, ...input.shape.slice(-2)];
  const area = rows * cols;
  const color = activationScale(input.data);
  const formula = el("div", { class: "tsd-formula-box", "aria-live": "polite" });
  const channelMaps = [];
  const shownChannels = Math.min(channels, MAX_CHANNEL_MAPS);
  const grid = el("div", { class: "tsd-flatten-channels" });
  for (let c = 0; c < shownChannels; c++) {
    const map = plane(input, c);
    const hm = heatmap({
      rows, cols, values: map.data, color, size: Math.max(56, Math.min(84, 8 * Math.max(rows, cols))),
      part: "input", label: `input channel ${c}`, onCell: (h, w) => show(c, h, w),
    });
    channelMaps.push(hm);
    grid.append(figure(`channel ${c}`, hm.el));
  }
  // One row of the vector per channel when channels are maps; otherwise a wrapped strip.
  const vectorCols = area >= 4 ? area : Math.min(output.data.length, 32);
  const vectorRows = Math.ceil(output.data.length / vectorCols);
  const vector = heatmap({
    rows: vectorRows, cols: vectorCols, values: output.data, color, flat: true,
    size: Math.min(560, Math.max(240, vectorCols * 3)), part: "output", label: "flattened output vector",
    onCell: (r, k) => {
      const index = r * vectorCols + k;
      show(Math.floor(index / area), Math.floor((index % area) / cols), index % cols);
    },
  });

  function show(c, h, w) {
    const index = c * area + h * cols + w;
    channelMaps.forEach((map, k) => map.mark("cursor", k === c ? [{ r: h, c: w, kind: "cursor" }] : []));
    vector.mark("cursor", [{ r: Math.floor(index / vectorCols), c: index % vectorCols, kind: "cursor" }]);
    clear(formula).append(
      el("div", { class: "tsd-formula-line", "data-role": "index-formula", "data-part": "index" },
        "flat index = c·H·W + h·W + w = ", `${c}·${rows}·${cols} + ${h}·${cols} + ${w} = `,
        el("strong", { "data-role": "flat-index" }, String(index))),
      el("div", { class: "tsd-formula-line", "data-role": "formula" },
        `input[${c}, ${h}, ${w}] = `, num(input.data[index], { "data-part": "input" }),
        `  →  output[${index}] = `, num(output.data[index], { "data-part": "output", "data-role": "y" })));
  }

  frame.views.append(
    figure(`input ${channels} × ${rows} × ${cols}${channels > shownChannels ? ` (first ${shownChannels} channels shown)` : ""}`, grid),
    figure(`output vector of ${output.data.length} values${area >= 4 ? ` (one row per channel, ${area} values each)` : ""}`, vector.el),
    formula);
  // The overview opens a vector at the position that was clicked: start there.
  const start = Number.isInteger(ctx.channel) && ctx.channel < output.data.length ? ctx.channel : 0;
  show(Math.floor(start / area), Math.floor((start % area) / cols), start % cols);
  explain(frame,
    ["Flatten changes no value: it lays the ", term("input", "input"), "'s channels out one after another as one long ",
      term("output", "vector"), ", row by row inside each channel, so a linear layer can take them."],
    ["The cell at channel c, row h, column w lands at ", term("index", "c·H·W + h·W + w"),
      ` (here H = ${rows}, W = ${cols}). Hover a map or the vector to follow one value.`]);
});
