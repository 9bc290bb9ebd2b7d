// Colour scales for the detail views. The scales themselves belong to ../colors.js; this module
// only picks the range each map is shown with (symmetric around zero, shared by maps compared
// side by side) and turns a value into [r, g, b] for the canvas.
import { activationColor, weightColor } from "../colors.js";

// The largest |value| over several arrays, so maps shown together share one scale.
export function extent(...arrays) {
  let largest = 0;
  for (const values of arrays) {
    for (let i = 0; i < values.length; i++) {
      const magnitude = Math.abs(values[i]);
      if (magnitude > largest && Number.isFinite(magnitude)) largest = magnitude;
    }
  }
  return largest || 1;
}

export function activationScale(...arrays) {
  return activationColor(extent(...arrays));
}

export function weightScale(...arrays) {
  return weightColor(extent(...arrays));
}

// Black or white text, whichever reads better on the cell colour.
export function inkFor([r, g, b]) {
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? "#111" : "#fff";
}
