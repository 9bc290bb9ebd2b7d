// Fitting the overview to its frame: the map size (--ts-map) shrinks until every column fits
// the width, so a small network such as TinyVGG is seen whole, input to softmax, on a laptop
// screen. Networks too deep to fit even at the smallest size keep full-size maps and scroll.
export const MAP_MAX = 50;   // px, the size maps are drawn at when there is room
export const MAP_MIN = 26;   // px: below this a map's pixels and its titles stop being legible
// Beside the docked attribution panel, seeing every column (the classes it picks in the output
// column, the layers in the others) matters more than the maps' detail: they may shrink further.
export const MAP_MIN_DOCKED = 20;

// Sets --ts-map on `holder` so that `columns` (the flex row of layer columns) fits `available`
// pixels, with maps no smaller than `smallest`; returns the size chosen. The row's width grows linearly with the map size (every unit
// is a fixed margin plus one map wide), so two measurements give the exact size.
export function fitMapSize(holder, columns, available, smallest = MAP_MIN) {
  const widthAt = (size) => {
    holder.style.setProperty("--ts-map", `${size}px`);
    const last = columns.lastElementChild;
    if (!last) return 0;
    return last.getBoundingClientRect().right - columns.getBoundingClientRect().left;
  };
  const widest = widthAt(MAP_MAX);
  if (widest <= available) return MAP_MAX;
  const narrowest = widthAt(smallest);
  if (narrowest > available || widest === narrowest) {   // it scrolls anyway: keep maps legible
    widthAt(MAP_MAX);
    return MAP_MAX;
  }
  const size = smallest + Math.floor(((MAP_MAX - smallest) * (available - narrowest)) / (widest - narrowest));
  widthAt(size);
  return size;
}
