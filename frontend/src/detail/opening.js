// Where a view opens: at a cell whose numbers say something. Window [0, 0] of a Fashion-MNIST
// image is all zeros, so a view opening there would show 0 × w = 0 everywhere.

// [row, col] of the value largest in magnitude in a row-major map (the first such on ties);
// [0, 0] for an empty or all-zero map.
export function strongestCell(values, cols) {
  let best = 0;
  for (let index = 1; index < values.length; index++) {
    if (Math.abs(values[index]) > Math.abs(values[best])) best = index;
  }
  return [Math.floor(best / cols), best % cols];
}
