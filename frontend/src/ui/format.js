// How numbers and shapes are printed in the shell.

// "10×62×62" for [1, 10, 62, 62] (the batch dimension is left out).
export function formatShape(shape) {
  return shape.slice(1).join("×") || "scalar";
}

// An exact activation as the readout prints it: enough digits to tell float32 values apart.
export function formatValue(value) {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  if (magnitude >= 1e5 || magnitude < 1e-4) return value.toExponential(6);
  return String(Number(value.toPrecision(7)));
}

export function formatPercent(probability) {
  return `${(probability * 100).toFixed(1)}%`;
}
