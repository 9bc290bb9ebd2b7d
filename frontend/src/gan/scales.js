// Colour scales of the GAN view: D's probability (purple = fake, green = real, white = 0.5), a
// critic's unbounded score centred on zero, and gradient norms from zero to the largest shown.
import { weightColor } from "../colors.js";

export const REAL = "#1b9e4b";
export const FAKE = "#7b3294";

// D(x) in [0, 1] -> [r, g, b]; `domain` is for the legend.
export function probabilityScale() {
  const ramp = weightColor(1);
  const scale = (p) => ramp(2 * p - 1);
  scale.domain = [0, 1];
  return scale;
}

// A critic's score has no bounds: the ramp spans the largest |score| in this frame.
export function criticScale(values) {
  let limit = 0;
  for (const v of values) limit = Math.max(limit, Math.abs(v));
  return weightColor(limit || 1);
}

// Gradient norms: light to dark orange over [0, max], max being this frame's largest.
export function normScale(values) {
  let max = 0;
  for (const v of values) max = Math.max(max, v);
  const scale = (norm) => {
    const t = Math.min(1, norm / (max || 1));
    return [Math.round(253 - 130 * t), Math.round(208 - 178 * t), Math.round(162 - 158 * t)];
  };
  scale.domain = [0, max || 1];
  return scale;
}
