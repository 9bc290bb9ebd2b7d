// Moving a cursor over a grid with the arrow keys, the same way in every view and the overview.

export function clamp(value, low, high) {
  return Math.min(Math.max(value, low), high);
}

const ARROW_STEPS = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };

// [rows, cols] to move for an arrow key; null for any other key.
export function arrowStep(event) {
  return ARROW_STEPS[event.key] || null;
}

// The cell `step` away from [row, col], kept inside a rows × cols grid.
export function stepWithin([row, col], [dRow, dCol], rows, cols) {
  return [clamp(row + dRow, 0, rows - 1), clamp(col + dCol, 0, cols - 1)];
}
