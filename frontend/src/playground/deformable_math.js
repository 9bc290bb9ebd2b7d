// The arithmetic of the playground's deformable mode: bilinear interpolation of a small map and
// a 3x3 deformable convolution whose taps share one set of offsets at every output position.
// Pure functions (no DOM), checked by `node --test frontend/test` against fixtures that
// tests/ops/deformable_fixtures.py computes with tensorsight.ops.deform_conv2d.

// g(a, b) = max(0, 1 - |a - b|): the paper's one-dimensional bilinear kernel.
export function g(a, b) {
  return Math.max(0, 1 - Math.abs(a - b));
}

// The value of `map` (rows x cols, row-major) at fractional (y, x): the four neighbours q of
// (y, x) with G(q, p) = g(qx, px) g(qy, py); outside the map values are 0.
export function bilinear(map, rows, cols, y, x) {
  const y0 = Math.floor(y);
  const x0 = Math.floor(x);
  const corners = [];
  let value = 0;
  for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
    const qy = y0 + dy;
    const qx = x0 + dx;
    const inside = qy >= 0 && qx >= 0 && qy < rows && qx < cols;
    const read = inside ? map[qy * cols + qx] : 0;
    const weight = g(qx, x) * g(qy, y);
    corners.push({ qy, qx, inside, value: read, weight });
    value += weight * read;
  }
  return { value, corners };
}

// Output (i, j) of a deformable kernel of size k (stride 1, no padding) whose tap t reads at
// (i + floor(t / k) + dy[t], j + t % k + dx[t]); offsets = [[dy, dx], ...] per tap.
export function deformTerms(map, rows, cols, kernel, k, offsets, i, j, bias = 0) {
  const taps = [];
  let sum = bias;
  for (let t = 0; t < k * k; t++) {
    const y = i + Math.floor(t / k) + offsets[t][0];
    const x = j + (t % k) + offsets[t][1];
    const read = bilinear(map, rows, cols, y, x);
    const term = read.value * kernel[t];
    taps.push({ tap: t, y, x, ...read, weight: kernel[t], term });
    sum += term;
  }
  return { taps, value: sum };
}

// The whole output map (rows - k + 1) x (cols - k + 1) for the same offsets everywhere.
export function deformOutput(map, rows, cols, kernel, k, offsets, bias = 0) {
  const outRows = rows - k + 1;
  const outCols = cols - k + 1;
  const values = new Float64Array(outRows * outCols);
  for (let i = 0; i < outRows; i++) {
    for (let j = 0; j < outCols; j++) {
      values[i * outCols + j] = deformTerms(map, rows, cols, kernel, k, offsets, i, j, bias).value;
    }
  }
  return { rows: outRows, cols: outCols, values };
}
