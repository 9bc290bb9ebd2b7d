"""First impressions on a laptop: TinyVGG seen whole at 1440x900 and 1600x900, detail views that
open where the numbers say something, texts that match the layer.

Set TS_SCREENSHOTS=DIR to keep the screenshots (1440x900, 1600x900 and a 390x844 phone).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from _graph_page import open_detail, upload_png

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LAPTOPS = [(1440, 900), (1600, 900)]
READY_MS = 90_000


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    target = Path(os.environ.get("TS_SCREENSHOTS", tmp_path))
    target.mkdir(parents=True, exist_ok=True)
    return target


def open_page(browser: Any, url: str, width: int, height: int) -> Any:
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    page.wait_for_selector("body[data-state=ready]", timeout=READY_MS)
    return page


def box(locator: Any) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None, f"{locator} is not drawn"
    return found


def assert_on_screen(locator: Any, width: int, height: int, what: str) -> None:
    where = box(locator)
    assert where["x"] >= 0 and where["y"] >= 0, (what, where)
    assert where["x"] + where["width"] <= width, f"{what} ends right of the screen: {where}"
    assert where["y"] + where["height"] <= height, f"{what} ends below the screen: {where}"


def assert_text_whole(locator: Any, what: str) -> None:
    cut = locator.evaluate("e => e.scrollWidth > e.clientWidth + 0.5")
    assert not cut, f"{what} is cut short: {locator.inner_text()!r}"


@pytest.mark.parametrize(("width", "height"), LAPTOPS)
def test_the_whole_tinyvgg_fits_a_laptop_screen(
    live_server, _browser, screenshots, width, height
) -> None:
    model = httpx.get(live_server.url + "api/model", timeout=30).json()
    page = open_page(_browser, live_server.url, width, height)
    try:
        page.screenshot(path=str(screenshots / f"first_impression_{width}x{height}.png"))
        units = page.locator(".ts-unit")
        assert units.count() == len(model["nodes"])  # every layer has its column
        for node in model["nodes"]:
            unit = page.locator(f".ts-unit[data-node='{node['id']}']")
            assert_on_screen(unit.locator("header"), width, height, f"{node['name']}'s title")
        for kind in ("flatten", "softmax"):
            assert_on_screen(page.locator(f".ts-unit[data-kind='{kind}']"), width, height, kind)
        output = page.locator(".ts-unit.ts-named-vector")
        assert_on_screen(output, width, height, "the output layer")
        # Every class name is whole, in the output layer and next to its probability.
        for name in model["classes"]:
            for where in (
                output.locator(".ts-vector-label", has_text=name),
                page.locator(".ts-prob-name", has_text=name),
            ):
                label = where.first
                assert_on_screen(label, width, height, f"class {name!r}")
                assert_text_whole(label, f"class {name!r}")
        # Maps are shrunk to fit, but stay big enough to read.
        map_width = box(page.locator("canvas.ts-map").nth(1))["width"]
        assert map_width >= 26
        # Nothing scrolls sideways.
        assert page.locator(".ts-stage-scroll").evaluate("e => e.scrollWidth <= e.clientWidth")
    finally:
        page.close()


def test_a_phone_shows_the_page_without_sideways_page_scroll(
    live_server, _browser, screenshots
) -> None:
    page = open_page(_browser, live_server.url, 390, 844)
    try:
        page.screenshot(path=str(screenshots / "first_impression_390x844.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert_on_screen(page.locator(".ts-prediction"), 390, 844, "the prediction")
    finally:
        page.close()


def test_convolution_formula_opens_at_the_strongest_output_cell(
    live_server, browser_page, screenshots
) -> None:
    page = browser_page
    page.goto(live_server.url)
    page.wait_for_selector("body[data-state=ready]", timeout=READY_MS)
    model = httpx.get(live_server.url + "api/model", timeout=30).json()
    conv = next(node for node in model["nodes"] if node["kind"] == "conv2d")
    assert conv["config"]["padding"] in ([0, 0], 0, "valid")  # TinyVGG pads nothing
    view = open_detail(page, conv["id"], 3)
    view.frame.get_by_role("tab", name="Formula for one window").click()
    output = view.arrays["output"]
    row, col = np.unravel_index(int(np.abs(output).argmax()), output.shape)
    position = view.frame.locator(".tsd-position")
    assert position.inner_text() == f"window at output [{row}, {col}]"
    patch = [
        float(cell.get_attribute("data-value"))
        for cell in view.frame.locator(
            '[data-role="conv-formula"] [data-part="input window"] .tsd-cell'
        ).all()
    ]
    assert any(patch), "the window opens on real input, not a patch of zeros"
    # The text speaks of this layer: no padding, so no grey padding cells either.
    text = view.frame.inner_text()
    assert "padding zeros" not in text and "Grey cells" not in text
    assert view.frame.locator(".tsd-cell-pad").count() == 0
    page.screenshot(path=str(screenshots / "first_impression_conv_formula.png"))


def test_padded_convolution_says_its_grey_cells_are_padding(server_factory, browser_page) -> None:
    server = server_factory(
        ["--model", "model_factories:resnet"],
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    page = browser_page
    page.goto(server.url)
    upload_png(page, _photo_png())
    model = httpx.get(server.url + "api/model", timeout=30).json()
    padded = next(
        node
        for node in model["nodes"]
        if node["kind"] == "conv2d" and any(side for side in node["config"]["padding"])
    )
    page.locator(f".ts-unit[data-node='{padded['id']}']").first.scroll_into_view_if_needed()
    view = open_detail(page, padded["id"], 0)
    view.frame.get_by_role("tab", name="Formula for one window").click()
    assert "Grey cells are padding zeros." in view.frame.inner_text()


def _photo_png() -> bytes:
    from tensorsight.models import photo_samples

    return photo_samples()[-1].path.read_bytes()  # not the sample the page opens on
