// Fitting the overview to its frame: the map size (--ts-map) shrinks until every column fits
// the width, so a small network such as TinyVGG is seen whole, input to softmax, on a laptop
// screen. Networks too deep to fit even at the smallest size keep full-size maps and scroll.
export const MAP_MAX = 50;   // px, the size maps are drawn at when there is room
export const MAP_MIN = 26;   // px: below this a map's pixels and its titles stop being legible

// Sets --ts-map on `holder` so that `columns` (the flex row of layer columns) fits `available`
// pixels; returns the size chosen. The row's width grows linearly with the map size (every unit
// is a fixed margin plus one map wide), so two measurements give the exact size.
export function fitMapSize(holder, columns, available) {
  const widthAt = (size) => {
    holder.style.setProperty("--ts-map", `${size}px`);
    const last = columns.lastElementChild;
    if (!last) return 0;
    return last.getBoundingClientRect().right - columns.getBoundingClientRect().left;
  };
  const widest = widthAt(MAP_MAX);
  if (widest <= available) return MAP_MAX;
  const narrowest = widthAt(MAP_MIN);
  if (narrowest > available || widest === narrowest) {   // it scrolls anyway: keep maps legible
    widthAt(MAP_MAX);
    return MAP_MAX;
  }
  const size = MAP_MIN + Math.floor(((MAP_MAX - MAP_MIN) * (available - narrowest)) / (widest - narrowest));
  widthAt(size);
  return size;
}
