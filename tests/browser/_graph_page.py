"""Driving the overview of a served model in Playwright: what it draws, its edges, detail views.

Shared by the architecture-family browser tests. Every helper reads the page the way a user sees
it (units, maps, SVG edges, the detail frame) and returns plain Python values to compare with
what the server says over HTTP::

    page.goto(server.url)
    run_id = upload_picture(page, width=32, height=32, channels=3)
    units = drawn_units(page)
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from tensorsight.explanation.pack import decode_pack

READY_TIMEOUT_MS = 90_000
DETAIL_URL = re.compile(r"/api/runs/([^/]+)/nodes/([^/]+)/detail\?channel=(\d+)")
# Edge ends are written with one decimal; layout rounding adds a little more.
EDGE_TOLERANCE_PX = 2.5
PRINTED_DIGITS_TOLERANCE = 0.0005 + 1e-9  # the views print three decimals
_ROW_COLUMN = re.compile(r"row (\d+), column (\d+)")


def picture_png(width: int, height: int, channels: int) -> bytes:
    """A real PNG drawn with Pillow: a bright disc and a bar on a gradient, RGB or grayscale."""
    from PIL import Image, ImageDraw

    ramp = np.linspace(0, 200, width * height * 3, dtype=np.float64).reshape(height, width, 3)
    image = Image.fromarray(ramp.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 5, height // 6, width * 3 // 4, height * 5 // 6), fill=(250, 220, 40))
    draw.rectangle(
        (width // 8, height // 2, width * 7 // 8, height // 2 + max(height // 10, 1)),
        fill=(20, 60, 230),
    )
    if channels == 1:
        image = image.convert("L")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def upload_picture(page: Any, *, width: int, height: int, channels: int) -> str:
    """Wait for the page to settle (idle, or showing the first sample photo that colour models
    are offered), upload a picture, wait until its overview is painted; the run id."""
    return upload_png(page, picture_png(width, height, channels))


def upload_png(page: Any, png: bytes) -> str:
    """Upload ``png`` once the page has settled; the new run's id once its overview is painted."""
    page.wait_for_selector(
        "body[data-state=idle], body[data-state=ready]", timeout=READY_TIMEOUT_MS
    )
    before = page.locator(".ts-app").get_attribute("data-run-id") or ""
    page.set_input_files(
        "#ts-file-input", files=[{"name": "picture.png", "mimeType": "image/png", "buffer": png}]
    )
    page.wait_for_function(
        "before => document.body.dataset.state === 'ready' &&"
        " (document.querySelector('.ts-app').dataset.runId || '') !== before",
        arg=before,
        timeout=READY_TIMEOUT_MS,
    )
    return page.locator(".ts-app").get_attribute("data-run-id")


def drawn_units(page: Any) -> list[str]:
    """The ``data-unit`` of every unit the overview draws: a node id, or ``block:<module>``."""
    return page.eval_on_selector_all(".ts-unit", "units => units.map(u => u.dataset.unit)")


def unit_of(node: dict[str, Any], units: set[str]) -> str | None:
    """The drawn unit that shows ``node``: its own, or the collapsed block that holds it."""
    if node["id"] in units:
        return node["id"]
    parts = (node["group"] or "").split(".") if node["group"] else []
    for end in range(1, len(parts) + 1):
        block = "block:" + ".".join(parts[:end])
        if block in units:
            return block
    return None


# For the unit `key`: the unit each base-layer edge into it comes from. The overview anchors
# edges to a unit's body, the first child after the header (maps, list, probabilities). A band
# between neighbouring columns runs from the source body's whole right side (top to bottom) to
# the target body's whole left side: `M x1,top1 C .. .. x2,top2 V bottom2 C .. .. x1,bottom1 Z`.
# A skip edge runs from the source body's right-middle to the target body's left-middle.
_EDGE_SOURCES_JS = """([key, tolerance]) => {
  const origin = document.querySelector('.ts-stage').getBoundingClientRect();
  const bodyOf = (section) => [...section.children].find((child) => child.tagName !== 'HEADER'
    && !child.classList.contains('ts-pager') && !child.classList.contains('ts-note')) || section;
  const sideOf = (section, side) => {
    const box = bodyOf(section).getBoundingClientRect();
    return [(side === 'right' ? box.right : box.left) - origin.left,
            box.top - origin.top, box.bottom - origin.top];
  };
  const middle = ([x, top, bottom]) => [x, (top + bottom) / 2];
  const sections = [...document.querySelectorAll('.ts-unit')];
  const target = sections.find((s) => s.dataset.unit === key);
  const into = sideOf(target, 'left');
  const near = (a, b) => a.length === b.length
    && a.every((v, i) => Math.abs(v - b[i]) <= tolerance);
  const sources = [];
  for (const path of document.querySelectorAll('.ts-edges-base path.ts-edge')) {
    const d = path.getAttribute('d');
    const numbers = [...d.matchAll(/-?[\\d.]+/g)].map((m) => Number(m[0]));
    let from;
    if (path.classList.contains('ts-edge-band')) {
      const [x1, top1, , , , , x2, top2, bottom2, , , , , x3, bottom1] = numbers;
      if (numbers.length !== 15 || x3 !== x1 || !near([x2, top2, bottom2], into)) continue;
      from = sections.find((s) => near([x1, top1, bottom1], sideOf(s, 'right')));
    } else {
      const horizontal = /H(-?[\\d.]+)$/.exec(d);
      const end = [Number(horizontal[1]), numbers[numbers.length - 2]];
      if (!near(end, middle(into))) continue;
      from = sections.find((s) => near([numbers[0], numbers[1]], middle(sideOf(s, 'right'))));
    }
    sources.push(from ? from.dataset.unit : `unmatched edge: ${d}`);
  }
  return sources;
}"""


def edge_sources(page: Any, unit_key: str) -> list[str]:
    """The units joined by a drawn edge into ``unit_key``, found from the SVG paths' end points."""
    return page.evaluate(_EDGE_SOURCES_JS, [unit_key, EDGE_TOLERANCE_PX])


# Skip edges (the dashed routes below the columns) into the unit `key`: the base layer's, each
# with the unit it starts from, and every highlighted path's; each as [left, right, bottom] of
# its drawn geometry.
_SKIP_ROUTES_JS = """([key, tolerance]) => {
  const origin = document.querySelector('.ts-stage').getBoundingClientRect();
  const bodyOf = (section) => [...section.children].find((child) => child.tagName !== 'HEADER'
    && !child.classList.contains('ts-pager') && !child.classList.contains('ts-note')) || section;
  const sections = [...document.querySelectorAll('.ts-unit')];
  const x = (section, side) => bodyOf(section).getBoundingClientRect()[side] - origin.left;
  const into = x(sections.find((s) => s.dataset.unit === key), 'left');
  const box = (path) => {
    const b = path.getBBox();
    return [b.x, b.x + b.width, b.y + b.height];
  };
  const base = [...document.querySelectorAll('.ts-edges-base path.ts-edge-skip')]
    .map(box).filter(([, right]) => Math.abs(right - into) <= tolerance)
    .map((route) => [sections.find((s) => Math.abs(x(s, 'right') - route[0]) <= tolerance)
      ?.dataset.unit ?? null, route]);
  return {base, hot: [...document.querySelectorAll('.ts-edges-hot path')].map(box)};
}"""


def skip_routes(
    page: Any, unit_key: str
) -> tuple[list[tuple[str | None, list[float]]], list[list[float]]]:
    """(source unit, [left, right, bottom]) of the skip edges into ``unit_key``, and the
    [left, right, bottom] of every highlighted edge."""
    found = page.evaluate(_SKIP_ROUTES_JS, [unit_key, EDGE_TOLERANCE_PX])
    return [tuple(entry) for entry in found["base"]], found["hot"]


def open_block(page: Any, block: str) -> None:
    """Open a collapsed module block in the overview and wait until it is replaced."""
    page.click(f".ts-unit[data-unit='block:{block}'] .ts-unit-open")
    page.wait_for_selector(f".ts-unit[data-unit='block:{block}']", state="detached")


@dataclass
class DetailView:
    """A detail view open in the page: its frame, and the pack the page itself received."""

    frame: Any
    run_id: str
    channel: int
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]


def open_detail(page: Any, node_id: str, channel: int) -> DetailView:
    """Click the overview's map of (node, channel) and wait for the detail view it opens."""
    target = page.locator(f'.ts-unit [data-node="{node_id}"][data-channel="{channel}"]').first
    target.scroll_into_view_if_needed()
    with page.expect_response(lambda response: DETAIL_URL.search(response.url) is not None) as info:
        target.click()
    response = info.value
    assert response.status == 200, response.text()
    run_id, got_node, got_channel = DETAIL_URL.search(response.url).groups()
    assert got_node == node_id
    meta, arrays = decode_pack(response.body())
    frame = page.locator(".tsd-detail[data-ready]")
    frame.wait_for()
    return DetailView(frame, run_id, int(got_channel), meta, arrays)


def close_detail(page: Any) -> None:
    page.keyboard.press("Escape")
    page.locator(".tsd-detail").wait_for(state="detached")


def fetch_detail(
    server_url: str, run_id: str, node_id: str, channel: int
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The detail pack of (node, channel) fetched over HTTP, decoded."""
    response = httpx.get(
        f"{server_url}api/runs/{run_id}/nodes/{node_id}/detail",
        params={"channel": channel},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return decode_pack(response.content)


def fetch_activation(server_url: str, run_id: str, node_id: str, channel: int) -> np.ndarray:
    """One channel of a node's captured activation, float32 ``[H, W]``."""
    response = httpx.get(
        f"{server_url}api/runs/{run_id}/activations",
        timeout=60,
        params={"nodes": node_id, "channels": f"{channel}:{channel + 1}", "encoding": "f32"},
    )
    assert response.status_code == 200, response.text
    return decode_pack(response.content)[1][node_id][0]


def hover_cell(
    page: Any, heatmap: Any, rows: int, cols: int, row: int, col: int, within: float = 0.5
) -> tuple[int, int]:
    """Move the mouse into cell (row, col) of a detail view's heatmap as drawn on its canvas
    (the whole pixel nearest ``within`` of the way across the cell, down and right: the browser
    reports whole-pixel positions, and cells may be less than 2 px); return the cell the heatmap
    then says is under the pointer (its aria-label)."""
    box = heatmap.locator("canvas").first.bounding_box()
    page.mouse.move(
        _pixel_inside(box["x"], box["width"] / cols, col, within),
        _pixel_inside(box["y"], box["height"] / rows, row, within),
    )
    label = heatmap.get_attribute("aria-label")
    found = _ROW_COLUMN.search(label)
    assert found, f"the heatmap names no cell after hovering: {label!r}"
    return int(found[1]), int(found[2])


# The cell at the centre of what a heatmap's overlay draws, when that is one cell's mark (the
# cursor reaches at most a few px past its cell); a description of the drawing otherwise.
_CURSOR_BOX_JS = """(heat, [rows, cols]) => {
  const overlay = heat.querySelector('.tsd-heat-overlay');
  const data = overlay.getContext('2d').getImageData(0, 0, overlay.width, overlay.height).data;
  let [left, top, right, bottom] = [Infinity, Infinity, -1, -1];
  for (let y = 0; y < overlay.height; y++) {
    for (let x = 0; x < overlay.width; x++) {
      if (!data[(y * overlay.width + x) * 4 + 3]) continue;
      left = Math.min(left, x); right = Math.max(right, x);
      top = Math.min(top, y); bottom = Math.max(bottom, y);
    }
  }
  if (right < 0) return 'nothing drawn';
  const scale = overlay.width / overlay.clientWidth;
  const cellW = overlay.clientWidth / cols, cellH = overlay.clientHeight / rows;
  const [w, h] = [(right - left + 1) / scale, (bottom - top + 1) / scale];
  if (w > cellW + 12 || h > cellH + 12) return `a mark of ${w}x${h} px, cells of ${cellW} px`;
  return [Math.floor((top + bottom + 1) / 2 / scale / cellH),
          Math.floor((left + right + 1) / 2 / scale / cellW)];
}"""


def cursor_box(heatmap: Any, rows: int, cols: int) -> tuple[int, int] | str:
    """The (row, col) a detail heatmap's overlay marks, read from its pixels."""
    found = heatmap.evaluate(_CURSOR_BOX_JS, [rows, cols])
    return tuple(found) if isinstance(found, list) else found


def _pixel_inside(origin: float, cell: float, index: int, within: float) -> int:
    """The whole pixel coordinate inside cell ``index`` (from ``origin``, ``cell`` px each)
    nearest to ``within`` of the way across it."""
    start, stop = origin + index * cell, origin + (index + 1) * cell
    pixel = round(start + within * cell)
    return min(max(pixel, math.ceil(start)), math.ceil(stop) - 1)


def shown(locator: Any) -> float:
    """The exact value behind a number the page prints, after checking the printed digits."""
    value = float(locator.get_attribute("data-value"))
    text = locator.inner_text().strip()
    tolerance = PRINTED_DIGITS_TOLERANCE * max(1.0, abs(value))
    assert abs(float(text) - value) <= tolerance, (text, value)
    return value


NAME_LINES = """() => [...document.querySelectorAll('.ts-unit-name')].map((name) => ({
    name: name.textContent,
    lines: Math.round(name.getBoundingClientRect().height
                      / parseFloat(getComputedStyle(name).lineHeight)),
    clipped: name.scrollHeight > name.clientHeight + 1 || name.scrollWidth > name.clientWidth + 1,
}))"""


def layer_name_lines(page) -> dict[str, tuple[int, bool]]:
    """Each overview column's layer name: (lines it takes, whether any of it is cut off)."""
    entries = page.evaluate(NAME_LINES)
    return {entry["name"]: (entry["lines"], entry["clipped"]) for entry in entries}


def name_line_tops(page, name: str) -> dict[str, int]:
    """The top of the line each underscore-separated part of layer ``name`` sits on."""
    return dict(
        page.locator(".ts-unit-name", has_text=name).first.evaluate(
            """(name) => [...name.childNodes].filter((part) => part.nodeType === 3).map((part) => {
                const range = document.createRange();
                range.selectNodeContents(part);
                return [part.textContent, Math.round(range.getBoundingClientRect().top)];
            })"""
        )
    )
