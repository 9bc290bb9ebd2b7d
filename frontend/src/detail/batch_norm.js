// Batch normalization in inference: one affine map per channel, written out with its real
// running mean, variance, eps, gamma and beta.
import { fmt } from "../ui/format.js";
import { clear, el, num, term } from "./dom.js";
import { asMap, cellName, defineView, explain, formulaLine, inputOutputMaps } from "./view.js";

export const batchNormView = defineView("Batch normalization", (frame, pack, ctx) => {
  const { mean, var: variance, eps, gamma, beta, scale, shift } = pack.meta;
  const input = asMap(pack.arrays.input);
  const output = asMap(pack.arrays.output);
  const formula = el("div", { class: "tsd-formula-box", "aria-live": "polite" });
  const maps = inputOutputMaps(input, output, (r, c) => {
    const at = r * input.cols + c;
    clear(formula).append(
      el("div", { class: "tsd-formula-where" }, `cell ${cellName(input, r, c)}`),
      formulaLine(["(", num(input.data[at], { "data-part": "input", "data-role": "x" }), " − ",
        num(mean, { "data-part": "mean" }), ") / √(", num(variance, { "data-part": "var" }), " + ",
        num(eps, { "data-part": "eps" }), ") × ", num(gamma, { "data-part": "gamma" }), " + ",
        num(beta, { "data-part": "beta" }), " = ",
        num(output.data[at], { "data-part": "output", "data-role": "y" })], { "data-role": "formula" }),
      // The same map as one straight line, its scale and shift worked out by the server.
      formulaLine(["= ", num(input.data[at], { "data-part": "input" }), " × ", num(scale, { "data-role": "scale" }),
        " + ", num(shift, { "data-role": "shift" })], { "data-role": "line" }));
  });
  frame.views.append(maps.el, formula);
  maps.move(0, 0);
  explain(frame,
    ["Batch normalization rescales each channel with numbers learned in training. From the ",
      term("input", "input"), " it subtracts the channel's running ", term("mean", "mean"), ", divides by the square root of its running ",
      term("var", "variance"), " (plus a small ", term("eps", "eps"), " that keeps the division safe), then multiplies by ",
      term("gamma", "gamma"), " and adds ", term("beta", "beta"), "."],
    [`For channel ${pack.meta.channel ?? ctx.channel} this is the same straight line for every cell, input × ${fmt(scale)} + ${fmt(shift)}, so the `,
      term("output", "output"), " map looks like the input with another scale and offset."]);
});
