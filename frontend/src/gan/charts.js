// Small line charts over epochs, filled from the frames the page receives (one point each).
import { el } from "../detail/dom.js";

const MAX_POINTS = 1500;  // older points are thinned out, keeping the whole run in view

export function createChart(title, series, { width = 300, height = 110, fixed = null } = {}) {
  const canvas = el("canvas", { width, height, class: "tsg-chart" });
  const legend = el("div", { class: "tsg-chart-legend" },
    series.map(([, label, color]) => el("span", { style: { color } }, `— ${label}`)));
  const box = el("figure", { class: "tsg-chart-box" }, el("figcaption", {}, title), canvas, legend);
  let points = [];   // [epoch, v1, v2, ...]

  function add(epoch, meta) {
    if (points.length && epoch < points[points.length - 1][0]) points = [];  // a new run
    if (points.length && epoch === points[points.length - 1][0]) points.pop();
    points.push([epoch, ...series.map(([key]) => meta[key] ?? NaN)]);
    if (points.length > MAX_POINTS) points = points.filter((_, k) => k % 2 === 0);
  }

  function draw() {
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, width, height);
    ctx.fillStyle = "#5b6573";
    ctx.font = "10px system-ui, sans-serif";
    if (points.length < 2) {  // a line needs two epochs: say why the chart is still empty
      ctx.fillText("no epochs yet: press Play or Step", 28, height / 2);
      return;
    }
    let [lo, hi] = fixed ?? [Infinity, -Infinity];
    if (!fixed) {
      for (const p of points) for (const v of p.slice(1)) if (Number.isFinite(v)) {
        lo = Math.min(lo, v); hi = Math.max(hi, v);
      }
      if (!(hi > lo)) { lo -= 1; hi += 1; }
    }
    const [e0, e1] = [points[0][0], points[points.length - 1][0] || 1];
    const x = (e) => 28 + (width - 32) * (e - e0) / (e1 - e0 || 1);
    const y = (v) => height - 14 - (height - 20) * (v - lo) / (hi - lo);
    ctx.fillText(fmtShort(hi), 0, 10);
    ctx.fillText(fmtShort(lo), 0, height - 14);
    ctx.fillText(`epoch ${e1}`, width - 70, height - 2);
    series.forEach(([, , color], s) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      for (const p of points) if (Number.isFinite(p[s + 1])) ctx.lineTo(x(p[0]), y(p[s + 1]));
      ctx.stroke();
    });
  }

  draw();
  return { el: box, add, draw, clear: () => { points = []; draw(); } };
}

function fmtShort(v) {
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2);
}
