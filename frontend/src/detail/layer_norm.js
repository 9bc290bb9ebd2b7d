// Layer normalization: each group of values (the last dimensions) is shifted by its own mean and
// divided by its own standard deviation, then scaled by gamma and shifted by beta.
import { clear, el, num, term } from "./dom.js";
import { asMap, cellName, defineView, explain, formulaLine, inputOutputMaps } from "./view.js";

export const layerNormView = defineView("Layer normalization", (frame, pack) => {
  const { meta, arrays } = pack;
  const input = asMap(arrays.input);
  const output = asMap(arrays.output);
  const formula = el("div", { class: "tsd-formula-box", "aria-live": "polite" });
  const maps = inputOutputMaps(input, output, (r, c) => {
    const at = r * input.cols + c;
    if (at >= input.data.length) return;
    clear(formula).append(
      el("div", { class: "tsd-formula-where" }, `cell ${cellName(input, r, c)}`),
      formulaLine(["(", num(input.data[at], { "data-part": "input" }), " − ", num(arrays.mean.data[at], { "data-part": "mean" }),
        ") / ", num(arrays.std.data[at], { "data-part": "std" }), " × ", num(arrays.gamma.data[at], { "data-part": "gamma" }),
        " + ", num(arrays.beta.data[at], { "data-part": "beta" }), " = ", num(output.data[at], { "data-part": "output", "data-role": "y" })],
      { "data-role": "formula" }));
  });
  frame.views.append(maps.el, formula);
  maps.move(0, 0);
  explain(frame,
    ["Layer normalization looks at one group of values at a time: here the last ", String(meta.normalized_shape.length),
      ` dimension(s), ${meta.group_size} values (shape ${meta.normalized_shape.join(" × ")}). It subtracts the group's `,
      term("mean", "mean"), " and divides by its ", term("std", "standard deviation"), ` (√(variance + eps), eps = ${meta.eps}).`],
    ["Unlike batch norm, the statistics come from this one image, not from training. Then each position has its own learned ",
      term("gamma", "gamma"), " (scale) and ", term("beta", "beta"), " (shift)."]);
});
