// A mean over some dimensions: each output cell is the plain average of a group of input values.
import { fmt } from "../ui/format.js";
import { clear, el, num, term } from "./dom.js";
import { activationScale } from "./palette.js";
import { asMap, cellName, defineView, explain, formulaLine, linkedMaps } from "./view.js";

const SHOWN_VALUES = 12;

export const meanView = defineView("Mean", (frame, pack) => {
  const { meta, arrays } = pack;
  const count = meta.count;
  const output = asMap(arrays.output);
  const formula = el("div", { class: "tsd-formula-box", "aria-live": "polite" });
  const maps = linkedMaps([
    { map: output, caption: `output ${meta.output_shape.join(" × ") || "scalar"}`, part: "output", color: activationScale(output.data) },
  ], (r, c) => {
    const k = r * output.cols + c;
    if (k >= arrays.output.data.length) return;
    const group = arrays.groups.data.subarray(k * count, (k + 1) * count);
    const total = arrays.sums.data[k];
    const shown = [];
    for (let index = 0; index < Math.min(SHOWN_VALUES, count); index++) {
      if (index) shown.push(" + ");
      shown.push(num(group[index], { "data-part": "input" }));
    }
    if (count > SHOWN_VALUES) shown.push(` + … (${count - SHOWN_VALUES} more)`);
    clear(formula).append(
      el("div", { class: "tsd-formula-where" }, `output ${cellName(output, r, c)}: the average of ${count} input values`),
      formulaLine(["(", ...shown, ") = ", num(total, { "data-part": "sum" })]),
      formulaLine([num(total, { "data-part": "sum" }), ` / ${count} = `, num(arrays.output.data[k], { "data-part": "output", "data-role": "y" })],
        { "data-role": "formula" }));
  });
  frame.views.append(maps.el, formula);
  maps.move(0, 0);
  explain(frame,
    ["A mean adds up a group of ", term("input", "input values"), " and divides the ", term("sum", "sum"),
      ` by how many there are (${count}). This one averages over dimension(s) ${meta.dim.join(", ") || "all"} of the ${meta.input_shape.join(" × ")} input`,
      meta.keepdim ? ", keeping them as size 1." : "."],
    [`Averaging over the height and width of a map is global average pooling: each channel becomes one number. Hover an `,
      term("output", "output"), ` cell to see its ${fmt(count, 0)} values.`]);
});
