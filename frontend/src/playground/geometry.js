// The playground's arithmetic: how one setting decides a convolution's (or a transposed one's)
// output size. It is the one number the page works out itself (a toy's, not a model's), so
// frontend/test holds it against PyTorch's own output sizes, reach and stamp counts.

// span: how many input cells one window covers; reach: how far its first cell can move;
// ignored: padded rows (and columns) at the end that no window reaches.
export function convGeometry({ n, p, k, s, d }) {
  const padded = n + 2 * p;
  const span = d * (k - 1) + 1;
  const reach = padded - span;
  const out = reach < 0 ? 0 : Math.floor(reach / s) + 1;
  return { n, p, k, s, d, padded, span, reach, out, ignored: reach < 0 ? 0 : reach % s };
}

// The transposed mode's arithmetic (dilation 1): the canvas holds every stamp, the output is the
// canvas cropped by p on each side plus a rows/columns of output padding (torch needs a < s).
export function transposedGeometry({ n, k, s, p, a }) {
  const canvas = (n - 1) * s + k;
  const out = canvas - 2 * p + a;
  return { n, k, s, p, a, canvas, out, valid: a < s && out > 0 };
}

// How many stamps cover each canvas cell along one axis (the 2-D count is rows × columns):
// the playground's toy numbers, held against torch's transposed convolution of ones.
export function overlapCounts(n, k, s, length) {
  const counts = new Array(length).fill(0);
  for (let i = 0; i < n; i++) for (let t = 0; t < k; t++) if (i * s + t < length) counts[i * s + t] += 1;
  return counts;
}
