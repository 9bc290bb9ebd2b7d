// How numbers and shapes are printed, everywhere in the front end.

// "10×62×62" for [1, 10, 62, 62] (the batch dimension is left out).
export function formatShape(shape) {
  return shape.slice(1).join("×") || "scalar";
}

// `digits` significant digits without trailing zeros; exponent form (with `expDigits` after the
// point) for magnitudes at or above `above` or below `below`.
function significant(value, digits, { below, above, expDigits }) {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  if (magnitude >= above || magnitude < below) return value.toExponential(expDigits);
  return String(Number(value.toPrecision(digits)));
}

// An exact activation as the readout prints it: enough digits to tell float32 values apart.
export function formatValue(value) {
  return significant(value, 7, { below: 1e-4, above: 1e5, expDigits: 6 });
}

// Compact number for axes and legends: 3 significant digits.
export function shortNumber(value) {
  return significant(value, 3, { below: 1e-3, above: 1e4, expDigits: 1 });
}

// A number as the detail views print it: `digits` decimals, wide numbers shortened, no "-0.000".
export function fmt(value, digits = 3) {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude >= 1e5 || magnitude < 10 ** -digits / 2)) {
    return value.toExponential(2);
  }
  const text = value.toFixed(magnitude >= 1000 ? 1 : digits);
  return /^-0\.?0*$/.test(text) ? text.slice(1) : text;
}

export function formatPercent(probability) {
  return `${(probability * 100).toFixed(1)}%`;
}
