// Colour scales. Activations use a diverging scale centred on zero (blue below, red above);
// weights use a different diverging scale (purple below, green above) so the two never read
// alike; the input image is grey. A scale is a function value -> [r, g, b] (0..255), which is
// what canvases need, with its `domain` [min, max] attached for legends.

import { el } from "./detail/dom.js";
import { clamp } from "./ui/cursor.js";
import { shortNumber } from "./ui/format.js";

// ColorBrewer RdBu (reversed so negative is blue) and PRGn stops, low to high.
const ACTIVATION_STOPS = ["#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7",
  "#fddbc7", "#f4a582", "#d6604d", "#b2182b", "#67001f"];
const WEIGHT_STOPS = ["#40004b", "#762a83", "#9970ab", "#c2a5cf", "#e7d4e8", "#f7f7f7",
  "#d9f0d3", "#a6dba0", "#5aae61", "#1b7837", "#00441b"];

function parseHex(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

// t in [0, 1] -> [r, g, b], linear between evenly spaced stops.
function interpolator(stops) {
  const rgb = stops.map(parseHex);
  const last = rgb.length - 1;
  return (t) => {
    const x = clamp(Number.isFinite(t) ? t : 0.5, 0, 1) * last;
    const i = Math.min(Math.floor(x), last - 1);
    const f = x - i;
    const [a, b] = [rgb[i], rgb[i + 1]];
    return [0, 1, 2].map((k) => Math.round(a[k] + (b[k] - a[k]) * f));
  };
}

const activationRamp = interpolator(ACTIVATION_STOPS);
const weightRamp = interpolator(WEIGHT_STOPS);

// Where `value` sits on a zero-centred ramp spanning [-limit, limit]: 0 .. 0.5 (zero) .. 1.
function centred(value, limit) {
  return 0.5 + value / (2 * (limit > 0 ? limit : 1));
}

function diverging(ramp, limit) {
  const scale = (value) => ramp(centred(value, limit));
  scale.domain = limit > 0 ? [-limit, limit] : [-1, 1];
  return scale;
}

// Activations in [-absMax, absMax] (zero is white).
export function activationColor(absMax) {
  return diverging(activationRamp, absMax);
}

// Weights and kernels in [-absMax, absMax] (zero is white).
export function weightColor(absMax) {
  return diverging(weightRamp, absMax);
}

// Plain grey, black at min: how the input image itself is shown.
export function grayColor(min, max) {
  const span = max - min || 1;
  const scale = (value) => {
    const level = Math.round(clamp((value - min) / span, 0, 1) * 255);
    return [level, level, level];
  };
  scale.domain = [min, max];
  return scale;
}

export function cssColor([r, g, b]) {
  return `rgb(${r},${g},${b})`;
}

// The largest magnitude of a range: the half-width of a zero-centred diverging scale.
export function absMax(min, max) {
  return Math.max(Math.abs(min), Math.abs(max)) || 1;
}

// RGBA lookup table for uint8 values quantized to [low, high]: value(q) = low + q/255*(high-low).
export function quantizedLut(low, high, color) {
  const lut = new Uint8ClampedArray(256 * 4);
  for (let q = 0; q < 256; q++) {
    const [r, g, b] = color(low + (q / 255) * (high - low));
    lut.set([r, g, b, 255], q * 4);
  }
  return lut;
}

// Paint rows x cols values onto a canvas at one canvas pixel per value.
// `values` is uint8 with `lut` (from quantizedLut) or any numbers with `color`.
export function paintCanvas(canvas, values, rows, cols, { lut = null, color = null } = {}) {
  canvas.width = cols;
  canvas.height = rows;
  const context = canvas.getContext("2d");
  const image = context.createImageData(cols, rows);
  const pixels = image.data;
  for (let i = 0; i < rows * cols; i++) {
    if (lut) {
      pixels.set(lut.subarray(values[i] * 4, values[i] * 4 + 4), i * 4);
    } else {
      pixels.set(color(values[i]), i * 4);
      pixels[i * 4 + 3] = 255;
    }
  }
  context.putImageData(image, 0, 0);
}

// About `count` round tick values covering [min, max] (0 included when inside).
export function niceTicks(min, max, count = 5) {
  if (!(max > min)) return [min];
  const raw = (max - min) / Math.max(count - 1, 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) {
    ticks.push(Math.abs(t) < step * 1e-9 ? 0 : Number(t.toPrecision(12)));
  }
  return ticks;
}

// A horizontal legend: gradient bar, then tick values under it (`ticks` of them, ends included),
// or with `compact` one caption: "±R" for a zero-centred scale, "min … max" otherwise.
export function legend(scale, { label = "", width = 160, ticks = 3, compact = false,
  format = shortNumber } = {}) {
  const [min, max] = scale.domain;
  const box = el("div", { class: "ts-legend" });
  box.dataset.min = String(min);
  box.dataset.max = String(max);
  if (label) box.append(el("div", { class: "ts-legend-label" }, label));
  const bar = el("canvas", { class: "ts-legend-bar" });
  bar.style.width = `${width}px`;
  const steps = Array.from({ length: 128 }, (_, i) => min + ((i + 0.5) / 128) * (max - min));
  paintCanvas(bar, steps, 1, 128, { color: scale });
  box.append(bar);
  if (compact) {
    const text = min === -max ? `±${format(max)}` : `${format(min)} … ${format(max)}`;
    box.append(el("div", { class: "ts-legend-caption" }, text));
    return box;
  }
  const axis = el("div", { class: "ts-legend-ticks" });
  axis.style.width = `${width}px`;
  for (const value of [min, ...interiorTicks(min, max, ticks - 2, width), max]) {
    const tick = el("span", { class: "ts-legend-tick" }, format(value));
    tick.style.left = `${((value - min) / (max - min || 1)) * 100}%`;
    tick.dataset.value = String(value);
    axis.append(tick);
  }
  box.append(axis);
  return box;
}

// Up to `count` round values strictly inside (min, max), zero first, each at least `gap` pixels
// (on a bar `width` wide) from the ends and from each other, so their labels never overlap.
function interiorTicks(min, max, count, width, gap = 46) {
  if (count <= 0) return [];
  const at = (t) => ((t - min) / (max - min)) * width;
  const chosen = [];
  const candidates = [...(min < 0 && max > 0 ? [0] : []),
    ...niceTicks(min, max, count + 2).filter((t) => t !== 0)];
  for (const t of candidates) {
    const room = at(t) >= gap && width - at(t) >= gap && chosen.every((c) => Math.abs(at(c) - at(t)) >= gap);
    if (room && chosen.length < count) chosen.push(t);
  }
  return chosen.sort((a, b) => a - b);
}
