// Softmax: every logit, its exponential term exp(z − max), the sum of the terms, and each
// probability = term / sum. Hovering a term lights its logit and the other way round.
import { clear, el, num, term } from "./dom.js";
import { className, defineView, explain, formulaLine } from "./view.js";

export const softmaxView = defineView("Softmax", (frame, pack, ctx) => {
  const { logits, exp, probabilities } = Object.fromEntries(
    Object.entries(pack.arrays).map(([name, array]) => [name, array.data]));
  const { sum_exp: sumExp, max_logit: maxLogit } = pack.meta;
  const count = logits.length;
  const formula = el("div", { class: "tsd-formula-box", "aria-live": "polite" });
  const rows = el("tbody");
  const order = Array.from(logits.keys());
  const best = order.reduce((a, b) => (probabilities[b] > probabilities[a] ? b : a), 0);

  for (const k of order) {
    const part = `class-${k}`;
    const row = el("tr", { "data-part": part, "data-class": k, tabindex: 0, class: k === best ? "tsd-top" : "" },
      el("th", { scope: "row" }, className(ctx, k)),
      el("td", { "data-part": "logit" }, num(logits[k], { "data-role": "logit" })),
      el("td", { "data-part": "exp" }, num(exp[k], { "data-role": "exp" })),
      el("td", { "data-part": "probability" }, num(probabilities[k], { "data-role": "probability" })),
      el("td", {}, el("span", {
        class: "tsd-bar tsd-bar-prob", style: { width: `${Math.max(1, Math.round(probabilities[k] * 120))}px` },
      })));
    row.addEventListener("mouseenter", () => show(k));
    row.addEventListener("focus", () => show(k));
    rows.append(row);
  }
  const table = el("table", { class: "tsd-terms tsd-softmax", "data-role": "softmax-table" },
    el("thead", {}, el("tr", {}, el("th", {}, "class"), el("th", {}, "logit z"),
      el("th", {}, "exp(z − max z)"), el("th", {}, "probability"), el("th"))),
    rows);

  const chips = el("div", { class: "tsd-sum-terms", "data-part": "sum" });
  order.forEach((k) => {
    if (k) chips.append(el("span", { class: "tsd-op" }, "+"));
    chips.append(el("span", { class: "tsd-chip", "data-part": `class-${k}`, title: className(ctx, k) }, num(exp[k])));
  });
  chips.append(el("span", { class: "tsd-op" }, "="), el("span", { class: "tsd-chip tsd-chip-bias" },
    num(sumExp, { "data-role": "sum-exp" })));

  function show(k) {
    for (const row of rows.children) row.classList.toggle("tsd-current", Number(row.dataset.class) === k);
    clear(formula).append(
      el("div", { class: "tsd-formula-where" }, className(ctx, k)),
      formulaLine(["exp(", num(logits[k], { "data-part": "logit" }), " − ", num(maxLogit, { "data-part": "max" }), ") = ",
        num(exp[k], { "data-part": "exp" })]),
      formulaLine(["p = ", num(exp[k], { "data-part": "exp" }), " / ", num(sumExp, { "data-part": "sum" }), " = ",
        num(probabilities[k], { "data-part": "probability", "data-role": "y" })], { "data-role": "formula" }));
  }

  frame.views.append(table,
    el("div", { class: "tsd-formula-line" }, `sum of the ${count} terms:`), chips, formula);
  show(ctx.channel !== undefined && ctx.channel !== null && ctx.channel < count ? ctx.channel : best);
  explain(frame,
    ["Softmax turns the last layer's scores, the ", term("logit", "logits"), ", into probabilities that are positive and add up to 1."],
    ["Each logit goes through the exponential, giving a ", term("exp", "term"), "; every term is divided by the ",
      term("sum", "sum of all terms"), " to give the class's ", term("probability", "probability"), "."],
    ["Subtracting the largest logit (", term("max", "max z"), ") first changes nothing in the result but keeps the exponentials from overflowing."],
    [pack.meta.synthetic ? "This model returns logits; tensorsight adds this softmax so you can read them as probabilities." : ""]);
});
