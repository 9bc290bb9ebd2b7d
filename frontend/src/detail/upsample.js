// Upsampling (nearest or bilinear) with its real weights: each output cell is a weighted sum of
// at most four input cells, the weights computed on the server with PyTorch's coordinate rules.
import { clear, el, num, term } from "./dom.js";
import { heatmap } from "./heatmap.js";
import { activationScale } from "./palette.js";
import { defineView, explain, figure, formulaLine, operator, plane } from "./view.js";

// The (up to four) input cells behind output cell (r, c) with their row and column weights,
// looked up in the server's tables (corners with a zero weight add nothing and are left out).
export function upsampleTerms(arrays, r, c) {
  const { row_index: ri, row_weight: rw, col_index: ci, col_weight: cw } = arrays;
  const found = [];
  for (let a = 0; a < 2; a++) {
    for (let b = 0; b < 2; b++) {
      const rowWeight = rw.data[r * 2 + a];
      const colWeight = cw.data[c * 2 + b];
      if (rowWeight === 0 || colWeight === 0) continue;
      found.push({ i: ri.data[r * 2 + a], j: ci.data[c * 2 + b], rowWeight, colWeight });
    }
  }
  return found;
}

export const upsampleView = defineView("Upsampling", (frame, pack) => {
  const { meta, arrays } = pack;
  if (!arrays.row_index) {  // a mode without weights (bicubic, 3-D): the maps only
    frame.views.append(el("p", {}, `Mode ${meta.mode || "?"} has no step-by-step view; the maps are its real input and output.`));
  }
  const input = plane(arrays.input);
  const output = plane(arrays.output);
  const color = activationScale(input.data, output.data);
  const formula = el("div", { class: "tsd-formula-box", "aria-live": "polite", "data-role": "formula" });
  const inputMap = heatmap({ ...input, values: input.data, color, size: 160, part: "input", label: "input" });
  const outputMap = heatmap({
    ...output, values: output.data, color, size: 240, part: "output", label: "output (arrow keys move)",
    onCell: (r, c) => move(r, c),
  });
  frame.views.append(el("div", { class: "tsd-maps" }, figure(`input ${input.rows}×${input.cols}`, inputMap.el),
    operator("→"), figure(`output ${output.rows}×${output.cols}`, outputMap.el)), formula);

  function move(r, c) {
    outputMap.mark("cursor", [{ r, c, kind: "cursor" }]);
    outputMap.setCursor(r, c);
    if (!arrays.row_index) return;
    const terms = upsampleTerms(arrays, r, c);
    inputMap.mark("source", terms.map(({ i, j }) => ({ r: i, c: j, kind: "source" })));
    const parts = [];
    terms.forEach(({ i, j, rowWeight, colWeight }, index) => {
      if (index) parts.push(" + ");
      parts.push(num(rowWeight, { "data-part": "weight" }), " × ", num(colWeight, { "data-part": "weight" }),
        " × in[", `${i}, ${j}`, "] ", num(input.data[i * input.cols + j], { "data-part": "input" }));
    });
    parts.push(" = ", num(output.data[r * output.cols + c], { "data-part": "output", "data-role": "y" }));
    clear(formula).append(el("div", { class: "tsd-formula-where" }, `output [${r}, ${c}]`), formulaLine(parts, { "data-role": "formula-line" }));
  }
  move(0, 0);
  const nearest = String(meta.mode || "").startsWith("nearest");
  explain(frame,
    nearest
      ? ["Nearest-neighbour upsampling copies each ", term("input", "input"), " value into a block of ", term("output", "output"),
        " cells: every output cell takes the one input cell its position falls in (weight 1)."]
      : ["Bilinear upsampling places each ", term("output", "output"), " cell between four ", term("input", "input"),
        " cells and mixes them with ", term("weight", "weights"), " that fall off with distance: a row weight times a column weight for each corner, the four products adding up to 1.",
        meta.align_corners ? " With align_corners the corner cells of input and output line up exactly." : " Positions are cell centres (align_corners=False), as PyTorch computes them."],
    ["The layer has no weights of its own to learn: it only resamples. Hover the output to see which input cells each value comes from."]);
});
