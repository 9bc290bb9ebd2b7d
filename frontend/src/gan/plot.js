// The layered distributions view: D's surface, G's manifold, real and fake points, gradient
// arrows and WGAN-GP's interpolates, on one canvas; each layer can be switched off.
// Plot coordinates: the unit square, y up (as GAN Lab draws it).
import { cssColor } from "../colors.js";
import { FAKE, REAL, criticScale, normScale, probabilityScale } from "./scales.js";

export const LAYERS = {
  surface: "D's decision surface",
  manifold: "G's manifold",
  real: "Real samples",
  fake: "Fake samples",
  gradients: "G's gradients",
  interpolates: "GP interpolates",
};
const ARROW_UNIT = 0.15;  // arrow length per unit of gradient (GAN Lab's)...
const ARROW_MAX = 0.12;   // ...unless that would make the longest arrow longer than this
const CELLS = 30;

export function createPlot(canvas) {
  const ctx = canvas.getContext("2d");
  const size = canvas.width;
  const px = (x) => x * size;
  const py = (y) => (1 - y) * size;
  let surfaceScale = probabilityScale();

  function draw(frame, visible, drawing = []) {
    const { meta, arrays } = frame;
    ctx.clearRect(0, 0, size, size);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, size, size);
    if (meta.dim === 1) return drawOneD(frame, visible);
    if (visible.surface && arrays.d_grid) surface(arrays.d_grid.data, meta.d_scale);
    if (visible.manifold && arrays.manifold) manifold(arrays, meta.settings.noise_dim);
    if (visible.real) dots(arrays.real.data, REAL, 2.2, 0.55);
    if (visible.interpolates && arrays.interpolates) interpolates(arrays);
    if (visible.fake) dots(arrays.fake.data, FAKE, 2.6, 0.9);
    if (visible.gradients) arrows(arrays.fake.data, arrays.gradients.data);
    if (drawing.length) dots(drawing.flat(), "#0a7d33", 5, 0.3);
  }

  function surface(grid, kind) {
    surfaceScale = kind === "critic" ? criticScale(grid) : probabilityScale();
    const cell = size / CELLS;
    for (let i = 0; i < CELLS; i++) {
      for (let j = 0; j < CELLS; j++) {   // grid[i, j] = D at (x_i, y_j)
        ctx.fillStyle = cssColor(surfaceScale(grid[i * CELLS + j]));
        ctx.fillRect(i * cell, size - (j + 1) * cell, cell + 0.5, cell + 0.5);
      }
    }
  }

  function manifold(arrays, noiseDim) {
    const m = arrays.manifold.data;
    ctx.strokeStyle = FAKE;
    if (noiseDim === 1) {
      ctx.lineWidth = 2;
      ctx.beginPath();
      for (let k = 0; k < m.length / 2; k++) ctx.lineTo(px(m[2 * k]), py(m[2 * k + 1]));
      ctx.stroke();
      return;
    }
    const n = 21;
    const density = arrays.manifold_density?.data;
    const at = (a, b) => [px(m[2 * (a * n + b)]), py(m[2 * (a * n + b) + 1])];
    ctx.fillStyle = FAKE;
    for (let a = 0; a < n - 1; a++) {
      for (let b = 0; b < n - 1; b++) {
        // Opacity grows with the fakes' density in the warped cell (log scale, clamped).
        const d = density ? density[a * (n - 1) + b] : 1;
        ctx.globalAlpha = Math.min(0.75, Math.max(0.04, 0.12 * Math.log10(1 + d)));
        const corners = [at(a, b), at(a + 1, b), at(a + 1, b + 1), at(a, b + 1)];
        ctx.beginPath();
        corners.forEach(([x, y]) => ctx.lineTo(x, y));
        ctx.closePath();
        ctx.fill();
      }
    }
    ctx.globalAlpha = 1;
  }

  function dots(points, color, radius, alpha) {
    ctx.fillStyle = color;
    ctx.globalAlpha = alpha;
    for (let k = 0; k < points.length; k += 2) {
      ctx.beginPath();
      ctx.arc(px(points[k]), py(points[k + 1]), radius, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
  }

  // A sharp discriminator has steep gradients: arrows keep their directions and relative
  // lengths, but the longest is at most ARROW_MAX of the plot.
  function arrows(points, grads) {
    let longest = 0;
    for (let k = 0; k < grads.length; k += 2) longest = Math.max(longest, Math.hypot(grads[k], grads[k + 1]));
    const unit = Math.min(ARROW_UNIT, ARROW_MAX / (longest || 1));
    ctx.strokeStyle = "#333";
    ctx.lineWidth = 1;
    for (let k = 0; k < points.length; k += 2) {
      const [x0, y0] = [points[k], points[k + 1]];
      const [x1, y1] = [x0 + unit * grads[k], y0 + unit * grads[k + 1]];
      ctx.beginPath();
      ctx.moveTo(px(x0), py(y0));
      ctx.lineTo(px(x1), py(y1));
      ctx.stroke();
    }
  }

  function interpolates(arrays) {
    const points = arrays.interpolates.data;
    const scale = normScale(arrays.interpolate_norms.data);
    for (let k = 0; k < points.length / 2; k++) {
      ctx.fillStyle = cssColor(scale(arrays.interpolate_norms.data[k]));
      ctx.fillRect(px(points[2 * k]) - 2.5, py(points[2 * k + 1]) - 2.5, 5, 5);
    }
    return scale;
  }

  // The original paper's figure: data density (green), G's density (purple), D's curve
  // (dashed) and the z -> x mapping lines from the noise line at the bottom.
  function drawOneD({ arrays }, visible) {
    const bins = (data, color) => {
      const max = 12;   // density units shown up to 12
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      data.forEach((d, k) => {
        const y = 0.25 + 0.7 * Math.min(d, max) / max;
        ctx.lineTo(px(k / data.length), py(y));
        ctx.lineTo(px((k + 1) / data.length), py(y));
      });
      ctx.stroke();
    };
    if (visible.manifold) {
      const z = arrays.noise_lattice.data;
      const x = arrays.manifold.data;
      ctx.strokeStyle = "#999";
      ctx.lineWidth = 1;
      for (let k = 0; k < x.length; k++) {
        ctx.beginPath();
        ctx.moveTo(px(z[k * (z.length / x.length)]), py(0.02));
        ctx.lineTo(px(x[k]), py(0.22));
        ctx.stroke();
      }
    }
    if (visible.real) bins(arrays.real_density.data, REAL);
    if (visible.fake) bins(arrays.fake_density.data, FAKE);
    if (visible.surface) {
      const xs = arrays.curve_x.data;
      const ds = arrays.d_curve.data;
      ctx.setLineDash([6, 4]);
      ctx.strokeStyle = "#1f6feb";
      ctx.beginPath();
      xs.forEach((x, k) => ctx.lineTo(px(x), py(0.25 + 0.7 * Math.min(Math.max(ds[k], 0), 1))));
      ctx.stroke();
      ctx.setLineDash([]);
    }
  }

  // Pointer position in plot units, right whatever the page's scroll, zoom or layout.
  function toPlot(event) {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) / box.width, 1 - (event.clientY - box.top) / box.height];
  }

  return { draw, toPlot, scale: () => surfaceScale };
}
