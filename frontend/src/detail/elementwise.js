// Element-wise activations (ReLU and friends): input and output maps side by side, and the
// function applied to the hovered cell with its real numbers.
import { clear, el, num, term } from "./dom.js";
import { activationScale } from "./palette.js";
import { asMap, cellName, defineView, explain, formulaLine, inputOutputMaps } from "./view.js";

// kind -> how y is written in terms of x (x and y are the number elements) and what it does.
const FUNCTIONS = {
  relu: {
    title: "ReLU",
    formula: (x, y) => ["max(0, ", x, ") = ", y],
    idea: "keeps positive values and turns every negative value into 0",
  },
  relu6: {
    title: "ReLU6",
    formula: (x, y) => ["min(max(0, ", x, "), 6) = ", y],
    idea: "keeps values between 0 and 6, clipping everything below to 0 and above to 6",
  },
  leaky_relu: {
    title: "Leaky ReLU",
    formula: (x, y, ctx) => [`x ≥ 0 ? x : ${negativeSlope(ctx)} · x, for x = `, x, " → ", y],
    idea: "keeps positive values and scales negative values down by a small slope",
  },
  sigmoid: {
    title: "Sigmoid",
    formula: (x, y) => ["1 / (1 + exp(−(", x, "))) = ", y],
    idea: "squashes every value into the range 0..1",
  },
  tanh: {
    title: "Tanh",
    formula: (x, y) => ["tanh(", x, ") = ", y],
    idea: "squashes every value into the range −1..1",
  },
  gelu: {
    title: "GELU",
    formula: (x, y) => [x, " · Φ(", x.cloneNode(true), ") = ", y],
    idea: "scales each value by the probability that a standard normal variable is below it",
  },
  silu: {
    title: "SiLU",
    formula: (x, y) => [x, " · σ(", x.cloneNode(true), ") = ", y],
    idea: "multiplies each value by its own sigmoid",
  },
  hardswish: {
    title: "Hard swish",
    formula: (x, y) => [x, " · min(max(0, ", x.cloneNode(true), " + 3), 6) / 6 = ", y],
    idea: "multiplies each value by a piecewise-linear ramp from 0 (below −3) to 1 (above 3)",
  },
};

function negativeSlope(ctx) {
  const slope = ctx.node && ctx.node.config && ctx.node.config.negative_slope;
  return slope ?? 0.01;
}

function elementwise(kind) {
  const fn = FUNCTIONS[kind] || {
    title: kind,
    formula: (x, y) => [`${kind}(`, x, ") = ", y],
    idea: "applies the same function to every value on its own",
  };
  return defineView(fn.title, (frame, pack, ctx) => {
    const input = asMap(pack.arrays.input);
    const output = asMap(pack.arrays.output);
    const color = activationScale(input.data, output.data);
    const formula = el("div", { class: "tsd-formula-box", "aria-live": "polite" });
    const maps = inputOutputMaps(input, output, (r, c) => {
      const at = r * input.cols + c;
      const x = num(input.data[at], { "data-part": "input", "data-role": "x" });
      const y = num(output.data[at], { "data-part": "output", "data-role": "y" });
      clear(formula).append(
        el("div", { class: "tsd-formula-where" }, `cell ${cellName(input, r, c)}`),
        formulaLine(fn.formula(x, y, ctx), { "data-role": "formula" }));
    }, color);
    frame.views.append(maps.el, formula);
    maps.move(...firstInteresting(input.data, input.cols));
    explain(frame,
      [`${fn.title} ${fn.idea}. It looks at one value at a time: each cell of the `, term("output", "output"),
        " depends only on the same cell of the ", term("input", "input"), "."],
      ["Both maps share one colour scale, so you can see which values changed. Hover a cell, or focus a map and use the arrow keys, to see the function applied to its real value."]);
  });
}

// Start on a negative input where there is one: that is where ReLU-like functions do something.
function firstInteresting(values, cols) {
  let at = values.findIndex((value) => value < 0);
  if (at < 0) at = 0;
  return [Math.floor(at / cols), at % cols];
}

export const elementwiseViews = Object.fromEntries(
  Object.keys(FUNCTIONS).map((kind) => [kind, elementwise(kind)]));
export const elementwiseView = elementwise;
