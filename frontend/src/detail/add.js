// Element-wise add / multiply of several tensors (residual connections, gates): the operands and
// the output side by side, and the hovered cell's a + b = y.
import { clear, el, num, term } from "./dom.js";
import { activationScale } from "./palette.js";
import { asMap, cellName, defineView, explain, formulaLine, linkedMaps, nodeById } from "./view.js";

function combine(kind) {
  const symbol = kind === "mul" ? "×" : "+";
  return defineView(kind === "mul" ? "Element-wise product" : "Addition", (frame, pack, ctx) => {
    const operands = pack.arrays.operands;
    const count = operands.shape[0];
    const names = (pack.meta.operand_nodes || []).map((id) => (nodeById(ctx, id) || {}).name || id);
    const maps = Array.from({ length: count }, (_, index) => asMap(operands, index));
    const output = asMap(pack.arrays.output);
    const color = activationScale(operands.data, output.data);
    const formula = el("div", { class: "tsd-formula-box", "aria-live": "polite" });
    const specs = maps.map((map, index) => ({
      map, color, part: `operand operand-${index}`, caption: names[index] || `operand ${index + 1}`,
      operator: symbol,
    }));
    specs.push({ map: output, caption: "output", part: "output", color, operator: "=" });
    const row = linkedMaps(specs, (r, c) => {
      const at = r * output.cols + c;
      const parts = [];
      maps.forEach((map, index) => {
        if (index) parts.push(` ${symbol} `);
        parts.push(num(map.data[at], { "data-part": `operand operand-${index}`, "data-role": "operand" }));
      });
      parts.push(" = ", num(output.data[at], { "data-part": "output", "data-role": "y" }));
      clear(formula).append(el("div", { class: "tsd-formula-where" }, `cell ${cellName(output, r, c)}`),
        formulaLine(parts, { "data-role": "formula" }));
    }, count > 2 ? 170 : 210);
    frame.views.append(row.el, formula);
    row.move(0, 0);
    explain(frame,
      [kind === "mul"
        ? "This layer multiplies tensors of the same shape cell by cell: each "
        : "This layer adds tensors of the same shape cell by cell (a residual or skip connection adds a block's input back to its output): each ",
      term("output", "output"), " value combines the values at the same place in every ", term("operand", "operand"), "."],
      ["Hover a cell, or focus a map and use the arrow keys, to see the numbers being combined."]);
  });
}

export const addView = combine("add");
export const mulView = combine("mul");
