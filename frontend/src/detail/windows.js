// The sliding windows a detail pack describes. The server sends, per axis, one row per output
// index: (start, stop, step) of the input cells that index reads (`rows [Ho, 3]`, `cols [Wo, 3]`
// int32; a tap outside 0..size-1 sits on the padding). This module only reads those tables:
// which cells a window covers, where to draw it, and the input values under it. It computes no
// geometry of its own (frontend/test/windows.test.js holds it against torch's unfold).

// A [N, 3] int32 array (as decodePack returns it) as a lookup: index -> [start, stop, step].
function ranges(table) {
  return (index) => Array.from(table.data.subarray(index * 3, index * 3 + 3));
}

function taps([start, stop, step]) {
  const list = [];
  for (let at = start; at < stop; at += step) list.push(at);
  return list;
}

// windows(pack.arrays.rows, pack.arrays.cols) -> {cells, marks, shape}.
export function windows(rowTable, colTable) {
  const rowRange = ranges(rowTable);
  const colRange = ranges(colTable);
  return {
    // [taps down, taps across] of the window of output (i, j).
    shape(i, j) {
      return [taps(rowRange(i)).length, taps(colRange(j)).length];
    },
    // The input cells [r, c] the window of output (i, j) reads, row by row.
    cells(i, j) {
      const across = taps(colRange(j));
      return taps(rowRange(i)).flatMap((r) => across.map((c) => [r, c]));
    },
    // Heatmap marks: the box the window spans, plus each tap when dilation spreads them apart.
    marks(i, j) {
      const [top, bottom, rowStep] = rowRange(i);
      const [left, right, colStep] = colRange(j);
      const box = { r: top, c: left, h: bottom - top, w: right - left, kind: "window" };
      if (rowStep === 1 && colStep === 1) return [box];
      return [box, ...this.cells(i, j).map(([r, c]) => ({ r, c, kind: "taps" }))];
    },
  };
}

// The values of `map` ({rows, cols, data}) at `cells`; null for a cell on the padding.
export function valuesAt(map, cells) {
  return cells.map(([r, c]) => (r >= 0 && c >= 0 && r < map.rows && c < map.cols
    ? map.data[r * map.cols + c] : null));
}
