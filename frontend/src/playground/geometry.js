// The playground's arithmetic: how one setting decides a convolution's output size. It is the
// one number the page works out itself (a toy's, not a model's), so frontend/test holds it
// against PyTorch's own output sizes and reach.

// span: how many input cells one window covers; reach: how far its first cell can move;
// ignored: padded rows (and columns) at the end that no window reaches.
export function convGeometry({ n, p, k, s, d }) {
  const padded = n + 2 * p;
  const span = d * (k - 1) + 1;
  const reach = padded - span;
  const out = reach < 0 ? 0 : Math.floor(reach / s) + 1;
  return { n, p, k, s, d, padded, span, reach, out, ignored: reach < 0 ? 0 : reach % s };
}
