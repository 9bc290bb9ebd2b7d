"""The detail views in a real Chromium against a real ``tensorsight serve`` (the default TinyVGG).

Each test opens a view from the overview the way a user does (clicking a layer's map), takes the
detail pack the page itself received, fetches the layer's activation over HTTP, and checks that
the numbers the view shows are the model's: the formula's result equals the activation, the
products shown are the float32 products of the shown inputs and weights, and so on.

Screenshots (1280 px wide) go to ``$TS_SCREENSHOTS`` when set, else to pytest's tmp dir.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from _graph_page import open_detail

from tensorsight.explanation.pack import decode_pack

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOWN_DIGITS_TOLERANCE = 0.0005 + 1e-9  # the views print three decimals


@dataclass
class OpenedView:
    """A detail view open in the page, with the pack the page fetched for it."""

    page: Any
    frame: Any
    run_id: str
    node_id: str
    channel: int
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]


@pytest.fixture(scope="module")
def model_info(live_server) -> dict[str, Any]:
    return httpx.get(live_server.url + "api/model", timeout=60).json()


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    target = Path(os.environ.get("TS_SCREENSHOTS", tmp_path))
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture
def page(live_server, browser_page) -> Iterator[Any]:
    browser_page.goto(live_server.url)
    browser_page.wait_for_selector('body[data-state="ready"]', timeout=90_000)
    yield browser_page


def nodes_of_kind(model_info: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [node for node in model_info["nodes"] if node["kind"] == kind]


def open_view(page, node_id: str, channel: int) -> OpenedView:
    """Click the overview's map of (node, channel) and wait for the detail view it opens."""
    view = open_detail(page, node_id, channel)
    # a vector's strip opens at the clicked position, so the channel comes from the request
    return OpenedView(page, view.frame, view.run_id, node_id, view.channel, view.meta, view.arrays)


def activation(live_server, view: OpenedView) -> np.ndarray:
    """The node's captured activation for the view's channel, as float32 [H, W] or [F]."""
    response = httpx.get(
        f"{live_server.url}api/runs/{view.run_id}/activations",
        params={
            "nodes": view.node_id,
            "channels": f"{view.channel}:{view.channel + 1}",
            "encoding": "f32",
        },
        timeout=60,
    )
    assert response.status_code == 200, response.text
    _, arrays = decode_pack(response.content)
    return arrays[view.node_id][0]


def liveliest_channel(live_server, page, node_id: str) -> int:
    """The channel of the page's current run whose largest value is highest (not a dead one)."""
    run_id = page.locator(".ts-app").get_attribute("data-run-id")
    response = httpx.get(
        f"{live_server.url}api/runs/{run_id}/activations",
        params={"nodes": node_id, "encoding": "f32"},
        timeout=60,
    )
    _, arrays = decode_pack(response.content)
    maps = arrays[node_id]
    return int(maps.reshape(maps.shape[0], -1).max(axis=1).argmax())


def shown(locator) -> float:
    """The exact value behind a number the view shows, after checking the printed digits."""
    value = float(locator.get_attribute("data-value"))
    text = locator.inner_text().strip()
    assert abs(float(text) - value) <= SHOWN_DIGITS_TOLERANCE * max(1.0, abs(value)), (text, value)
    return value


def hover_cell(page, heatmap, rows: int, cols: int, row: int, col: int, pad: int = 0) -> None:
    box = heatmap.locator("canvas").first.bounding_box()
    cell_w = box["width"] / (cols + 2 * pad)
    cell_h = box["height"] / (rows + 2 * pad)
    page.mouse.move(box["x"] + (col + pad + 0.5) * cell_w, box["y"] + (row + pad + 0.5) * cell_h)


def assert_closes_with_escape(view: OpenedView) -> None:
    view.page.keyboard.press("Escape")
    view.page.locator(".tsd-detail").wait_for(state="detached")
    assert view.page.locator(".ts-detail-layer").is_hidden()


def test_convolution_channels_level_shows_every_input_channel(
    live_server, page, model_info, screenshot_dir
):
    conv = nodes_of_kind(model_info, "conv2d")[1]  # the second conv: 10 input channels
    view = open_view(page, conv["id"], 3)
    assert view.frame.get_attribute("aria-label") == "Convolution"
    cin = view.arrays["input"].shape[0]
    assert view.frame.locator(".tsd-conv-row").count() == min(cin, 5)
    rows, cols = view.arrays["output"].shape
    row, col = rows // 2, cols // 3
    output_map = view.frame.locator('.tsd-conv-result .tsd-heat[data-part="output"]')
    hover_cell(page, output_map, rows, cols, row, col)
    value = shown(view.frame.locator('[data-role="output-value"]'))
    truth = activation(live_server, view)
    assert value == float(truth[row, col])
    assert value == float(view.arrays["output"][row, col])
    # Every kernel cell carries its real weight.
    weights = [
        float(cell.get_attribute("data-value"))
        for cell in view.frame.locator(".tsd-conv-row").first.locator(".tsd-cell").all()
    ]
    np.testing.assert_array_equal(np.float32(weights), view.arrays["kernel"][0].ravel())
    kernel_cells = view.frame.locator(".tsd-conv-row").nth(1).locator(".tsd-cell")
    kernel_cells.nth(5).hover()  # row 1, column 2 of input channel 1's 3x3 kernel
    assert shown(view.frame.locator('[data-role="weight"] .tsd-num')) == float(
        view.arrays["kernel"][1, 1, 2]
    )
    page.screenshot(path=str(screenshot_dir / "detail_conv_channels.png"))
    assert_closes_with_escape(view)


def test_convolution_formula_is_the_models_arithmetic(
    live_server, page, model_info, screenshot_dir
):
    conv = nodes_of_kind(model_info, "conv2d")[1]
    view = open_view(page, conv["id"], 2)
    view.frame.get_by_role("tab", name="Formula for one window").click()
    rows, cols = view.arrays["output"].shape
    row, col = rows // 4, cols // 3
    # The input channel that contributes most at this position: a patch of real, non-zero values.
    source = int(np.abs(view.arrays["intermediate"][:, row, col]).argmax())
    channel_select = view.frame.get_by_label("Input channel", exact=True)
    channel_select.select_option(str(source))
    output_map = view.frame.locator('.tsd-conv-formula-maps .tsd-heat[data-part="output"]')
    hover_cell(page, output_map, rows, cols, row, col)
    assert view.frame.locator(".tsd-position").inner_text() == f"window at output [{row}, {col}]"

    # The window's terms come from the server once the window is there.
    formula = view.frame.locator(f'[data-role="conv-formula"][data-at="{row},{col}"]')
    formula.wait_for()
    patch = [
        float(c.get_attribute("data-value"))
        for c in formula.locator('[data-part="input window"] .tsd-cell').all()
    ]
    weights = [
        float(c.get_attribute("data-value"))
        for c in formula.locator('[data-part="kernel"] .tsd-cell').all()
    ]
    products = [
        float(c.get_attribute("data-value"))
        for c in formula.locator('[data-part="products"] .tsd-cell').all()
    ]
    kh, kw = view.arrays["kernel"].shape[1:]
    # The patch is the real input under the window (stride 1, no padding in TinyVGG).
    np.testing.assert_array_equal(
        np.float32(patch), view.arrays["input"][source, row : row + kh, col : col + kw].ravel()
    )
    np.testing.assert_array_equal(np.float32(weights), view.arrays["kernel"][source].ravel())
    np.testing.assert_array_equal(np.float32(products), np.float32(patch) * np.float32(weights))
    intermediate = shown(formula.locator('[data-role="intermediate-value"]'))
    assert intermediate == float(view.arrays["intermediate"][source, row, col])
    assert sum(products) == pytest.approx(intermediate, abs=1e-5)

    # The cross-channel sum: every channel's intermediate value, the bias, and the output.
    chips = view.frame.locator(".tsd-sum-terms button.tsd-chip")
    assert chips.count() == view.arrays["input"].shape[0]
    terms = [shown(chip.locator(".tsd-num")) for chip in chips.all()]
    np.testing.assert_array_equal(np.float32(terms), view.arrays["intermediate"][:, row, col])
    bias = shown(view.frame.locator('[data-role="bias-value"]'))
    assert bias == pytest.approx(view.meta["bias"])
    output = shown(view.frame.locator('.tsd-conv-channel-sum [data-role="output-value"]'))
    assert output == float(activation(live_server, view)[row, col])
    assert sum(terms) + bias == pytest.approx(output, abs=1e-5)
    page.screenshot(path=str(screenshot_dir / "detail_conv_formula.png"))

    # Arrow keys move the window; Play slides it on its own; Pause stops it.
    output_map.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    position = view.frame.locator(".tsd-position")
    assert position.inner_text() == f"window at output [{row + 1}, {col + 1}]"
    play = view.frame.locator('[data-role="play"]')
    play.click()
    assert play.get_attribute("aria-pressed") == "true"
    page.wait_for_function(
        "(before) => document.querySelector('.tsd-position').textContent !== before",
        arg=f"window at output [{row + 1}, {col + 1}]",
    )
    play.click()
    assert play.get_attribute("aria-pressed") == "false"
    assert_closes_with_escape(view)


def test_views_close_with_button_and_click_outside(page, model_info):
    relu = nodes_of_kind(model_info, "relu")[0]
    view = open_view(page, relu["id"], 0)
    view.frame.get_by_role("button", name=re.compile("^Close")).click()
    page.locator(".tsd-detail").wait_for(state="detached")
    view = open_view(page, relu["id"], 1)
    page.mouse.click(5, 5)  # the dimmed page around the frame
    page.locator(".tsd-detail").wait_for(state="detached")
    assert page.locator(".ts-detail-layer").is_hidden()


@pytest.mark.parametrize(("width", "words_below"), [(390, True), (1440, False)])
def test_on_a_phone_the_words_go_under_the_views(page, model_info, width, words_below):
    """A narrow frame stacks the explanation under the views, which keep the frame's width."""
    page.set_viewport_size({"width": width, "height": 844})
    conv = nodes_of_kind(model_info, "conv2d")[0]
    view = open_view(page, conv["id"], 0)
    views = view.frame.locator(".tsd-detail-views").bounding_box()
    words = view.frame.locator(".tsd-detail-text").bounding_box()
    frame = view.frame.bounding_box()
    assert (words["y"] >= views["y"] + views["height"]) is words_below
    if words_below:
        assert views["width"] > 0.85 * frame["width"] and frame["x"] + frame["width"] <= width
    else:
        assert words["x"] >= views["x"] + views["width"]


def test_relu_formula_matches_activation(live_server, page, model_info, screenshot_dir):
    relu = nodes_of_kind(model_info, "relu")[1]
    view = open_view(page, relu["id"], liveliest_channel(live_server, page, relu["id"]))
    x = view.arrays["input"]
    negative = np.argwhere(x < 0)
    row, col = (int(v) for v in negative[len(negative) // 2])
    hover_cell(page, view.frame.locator('.tsd-heat[data-part="input"]'), *x.shape, row, col)
    formula = view.frame.locator('[data-role="formula"]')
    assert formula.inner_text().startswith("max(0,")
    assert shown(formula.locator('[data-role="x"]')) == float(x[row, col])
    assert shown(formula.locator('[data-role="y"]')) == 0.0
    positive = np.argwhere(x > 0)[0]
    hover_cell(page, view.frame.locator('.tsd-heat[data-part="output"]'), *x.shape, *positive)
    truth = activation(live_server, view)
    assert shown(formula.locator('[data-role="y"]')) == float(truth[tuple(positive)])
    # Hovering a term of the explanation lights the matching map, and the other way round.
    view.frame.locator('.tsd-detail-text [data-term="output"]').hover()
    output_map = view.frame.locator('.tsd-heat[data-part="output"]')
    assert "tsd-linked" in output_map.get_attribute("class")
    view.frame.locator('.tsd-heat[data-part="input"]').hover()
    input_term = view.frame.locator('.tsd-detail-text [data-term="input"]')
    assert "tsd-linked" in input_term.get_attribute("class")
    page.screenshot(path=str(screenshot_dir / "detail_relu.png"))
    # From the keyboard alone: Tab reaches the close button, then the input map; arrows move.
    view.frame.focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')").startswith("Close")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.part") == "input"
    page.keyboard.press("ArrowRight")
    where = view.frame.locator(".tsd-formula-where").inner_text()
    r, c = (int(v) for v in re.findall(r"\d+", where))
    assert shown(formula.locator('[data-role="x"]')) == float(x[r, c])
    assert_closes_with_escape(view)


def test_max_pool_window_and_maximum(live_server, page, model_info, screenshot_dir):
    pool = nodes_of_kind(model_info, "max_pool2d")[0]
    view = open_view(page, pool["id"], liveliest_channel(live_server, page, pool["id"]))
    x, y = view.arrays["input"], view.arrays["output"]
    row, col = (int(v) for v in np.unravel_index(int(y.argmax()), y.shape))  # a lively window
    output_map = view.frame.locator('.tsd-heat[data-part="output"]')
    hover_cell(page, output_map, *y.shape, row, col)
    formula = view.frame.locator('[data-role="formula"]')
    patch = [float(c.get_attribute("data-value")) for c in formula.locator(".tsd-cell").all()]
    window = x[2 * row : 2 * row + 2, 2 * col : 2 * col + 2]
    np.testing.assert_array_equal(np.float32(patch), window.ravel())
    best = formula.locator(".tsd-cell-best")
    assert best.count() == 1 and float(best.get_attribute("data-value")) == max(patch)
    truth = activation(live_server, view)
    assert shown(formula.locator('[data-role="y"]')) == float(truth[row, col])
    output_map.focus()
    page.keyboard.press("ArrowLeft" if col > 0 else "ArrowRight")
    moved = col - 1 if col > 0 else col + 1
    assert f"output [{row}, {moved}]" in view.frame.locator(".tsd-formula-where").inner_text()
    page.screenshot(path=str(screenshot_dir / "detail_max_pool.png"))
    assert_closes_with_escape(view)


def test_flatten_maps_cells_to_flat_indices(page, model_info, screenshot_dir):
    flatten = nodes_of_kind(model_info, "flatten")[0]
    view = open_view(page, flatten["id"], 0)
    channels, rows, cols = view.arrays["input"].shape
    c, h, w = min(2, channels - 1), rows // 2, cols - 1
    hover_cell(page, view.frame.locator(".tsd-flatten-channels .tsd-heat").nth(c), rows, cols, h, w)
    index = c * rows * cols + h * cols + w
    assert view.frame.locator('[data-role="flat-index"]').inner_text() == str(index)
    index_formula = view.frame.locator('[data-role="index-formula"]').inner_text()
    assert f"{c}·{rows}·{cols} + {h}·{cols} + {w}" in index_formula
    assert shown(view.frame.locator('[data-role="y"]')) == float(view.arrays["output"][index])
    assert view.arrays["output"][index] == view.arrays["input"][c, h, w]
    page.screenshot(path=str(screenshot_dir / "detail_flatten.png"))
    assert_closes_with_escape(view)


def test_linear_top_contributions_bias_and_logit(live_server, page, model_info, screenshot_dir):
    linear = nodes_of_kind(model_info, "linear")[-1]
    view = open_view(page, linear["id"], 0)
    x, w = view.arrays["input"], view.arrays["weight"]
    products = x * w
    table = view.frame.locator('[data-role="terms"]')
    shown_products = [shown(p) for p in table.locator('[data-role="product"]').all()]
    largest = np.sort(np.abs(products))[::-1][: len(shown_products)]
    np.testing.assert_array_equal(np.abs(np.float32(shown_products)), largest)
    assert shown(table.locator('[data-role="bias-value"]')) == pytest.approx(view.meta["bias"])
    logit = shown(table.locator('[data-role="output-value"]'))
    overview_logits = view.arrays["output"]
    assert logit == float(overview_logits[view.meta["channel"]])
    assert float(np.float64(products).sum() + view.meta["bias"]) == pytest.approx(logit, abs=1e-4)
    page.screenshot(path=str(screenshot_dir / "detail_linear.png"))
    # Another class, picked in the view: its own row of weights and bias, fetched from the server.
    with page.expect_response(lambda response: "channel=3" in response.url) as info:
        view.frame.locator('button[data-unit="3"]').click()
    meta, _ = decode_pack(info.value.body())
    view.frame.locator('button[data-unit="3"][aria-pressed="true"]').wait_for()
    assert shown(table.locator('[data-role="bias-value"]')) == pytest.approx(meta["bias"])
    assert shown(table.locator('[data-role="output-value"]')) == float(overview_logits[3])
    assert_closes_with_escape(view)


def test_softmax_terms_sum_and_probabilities(live_server, page, model_info, screenshot_dir):
    softmax = nodes_of_kind(model_info, "softmax")[0]
    view = open_view(page, softmax["id"], 0)
    table = view.frame.locator('[data-role="softmax-table"]')
    logits = [shown(v) for v in table.locator('[data-role="logit"]').all()]
    terms = [shown(v) for v in table.locator('[data-role="exp"]').all()]
    probabilities = [shown(v) for v in table.locator('[data-role="probability"]').all()]
    np.testing.assert_array_equal(np.float32(logits), view.arrays["logits"])
    np.testing.assert_allclose(terms, np.exp(np.float64(logits) - max(logits)), rtol=1e-5)
    sum_exp = shown(view.frame.locator('[data-role="sum-exp"]'))
    np.testing.assert_allclose(np.float64(terms) / sum_exp, probabilities, rtol=1e-5)
    overview = httpx.get(
        f"{live_server.url}api/runs/{view.run_id}/activations",
        params={"nodes": view.node_id, "encoding": "f32"},
        timeout=60,
    )
    _, arrays = decode_pack(overview.content)
    np.testing.assert_array_equal(np.float32(probabilities), view.arrays["probabilities"])
    np.testing.assert_allclose(probabilities, arrays[view.node_id].ravel(), rtol=1e-6)
    # Hovering a class row writes its formula and lights its term in the sum.
    row = table.locator("tbody tr").nth(3)
    row.hover()
    formula = view.frame.locator('[data-role="formula"]')
    assert shown(formula.locator('[data-role="y"]')) == probabilities[3]
    chip = view.frame.locator('.tsd-sum-terms [data-part="class-3"]')
    assert "tsd-linked" in chip.get_attribute("class")
    page.screenshot(path=str(screenshot_dir / "detail_softmax.png"))
    assert_closes_with_escape(view)


def test_views_fit_a_1024_pixel_window(page, model_info, screenshot_dir):
    page.set_viewport_size({"width": 1024, "height": 768})
    conv = nodes_of_kind(model_info, "conv2d")[2]
    view = open_view(page, conv["id"], 0)
    for level in ("All input channels", "Formula for one window"):
        view.frame.get_by_role("tab", name=level).click()
        box = view.frame.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1024
        views = view.frame.locator(".tsd-detail-views")
        assert views.evaluate("element => element.scrollWidth <= element.clientWidth + 1")
    page.screenshot(path=str(screenshot_dir / "detail_conv_formula_1024.png"))
    assert_closes_with_escape(view)
