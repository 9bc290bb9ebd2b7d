"""The attribution panel in a real Chromium over a real server (the shipped TinyVGG).

The overlay must paint exactly the map the server computes (its range, and full opacity where the
map is largest), Grad-CAM must show every spatial stage, and a long integrated-gradients run
must show progress and stop when cancelled. Any console error fails the test (``browser_page``).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import numpy as np
import pytest
from _graph_page import layer_name_lines, name_line_tops

from tensorsight.explanation import decode_pack

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _open_panel(page, url: str) -> Any:
    page.goto(url)
    page.wait_for_selector('body[data-state="ready"]', timeout=90_000)
    page.get_by_role("button", name=re.compile("What it looks at")).click()
    frame = page.locator(".tsa-panel")
    frame.wait_for()
    page.wait_for_selector('.tsa-panel[data-state="ready"]', timeout=60_000)
    return page, frame


@pytest.fixture
def panel(live_server, browser_page) -> Any:
    return _open_panel(browser_page, live_server.url)


def _server_map(live_server, run_id: str, **params: str) -> tuple[dict, np.ndarray]:
    response = httpx.get(
        f"{live_server.url}api/runs/{run_id}/attribution", params=params, timeout=60
    )
    meta, arrays = decode_pack(response.content)
    return meta, arrays["map"]


def _alpha(page, x: int, y: int) -> int:
    return page.evaluate(
        """([x, y]) => {
        const canvas = document.querySelector('.tsa-overlay');
        return canvas.getContext('2d').getImageData(x, y, 1, 1).data[3];
    }""",
        [x, y],
    )


def test_the_overlay_paints_the_servers_map(panel, live_server):
    page, frame = panel
    overlay = frame.locator(".tsa-overlay")
    assert overlay.get_attribute("data-method") == "saliency"
    run_id = page.locator(".ts-app").get_attribute("data-run-id")
    target = overlay.get_attribute("data-target")
    meta, values = _server_map(live_server, run_id, method="saliency", target=target)
    assert float(overlay.get_attribute("data-min")) == pytest.approx(meta["range"][0])
    assert float(overlay.get_attribute("data-max")) == pytest.approx(meta["range"][1])
    assert (overlay.get_attribute("data-rows"), overlay.get_attribute("data-cols")) == ("64", "64")
    y, x = np.unravel_index(np.abs(values).argmax(), values.shape)
    assert _alpha(page, int(x), int(y)) == 255
    zero = np.argwhere(values == 0)
    if len(zero):
        assert _alpha(page, int(zero[0][1]), int(zero[0][0])) == 0
    assert frame.locator(".tsa-legend .ts-legend").count() == 1
    # The predicted class is the default target, as the page's prediction says.
    prediction = page.locator(".ts-prediction strong").inner_text()
    assert frame.locator(".tsa-target option:checked").inner_text() == prediction
    frame.locator(".tsa-opacity").fill("25")
    assert overlay.evaluate("canvas => canvas.style.opacity") == "0.25"


def test_gradcam_at_a_chosen_layer_and_every_stage(panel, live_server):
    page, frame = panel
    frame.locator(".tsa-method").select_option("gradcam")
    frame.locator(".tsa-layer").select_option(label="conv_2_2")
    page.wait_for_function(
        """() => {
        const o = document.querySelector('.tsa-overlay');
        return o.dataset.method === 'gradcam' && o.dataset.rows === '64'
            && document.querySelector('.tsa-status').textContent.includes('conv_2_2');
    }""",
        timeout=60_000,
    )
    captions = frame.locator(".tsa-stage figcaption").all_inner_texts()
    assert captions == ["relu_1_1", "relu_1_2", "max_pool_1", "relu_2_1", "relu_2_2", "max_pool_2"]
    run_id = page.locator(".ts-app").get_attribute("data-run-id")
    meta, _ = _server_map(
        live_server,
        run_id,
        method="gradcam",
        layer=meta_layer(frame),
        target=frame.locator(".tsa-overlay").get_attribute("data-target"),
    )
    assert float(frame.locator(".tsa-overlay").get_attribute("data-max")) == pytest.approx(
        meta["range"][1]
    )


def meta_layer(frame) -> str:
    return frame.locator(".tsa-layer").input_value()


@pytest.mark.allow_console_error(r"status of 409 \(Conflict\)")  # a new choice cancels the last run
def test_only_the_chosen_methods_settings_are_shown(panel):
    page, frame = panel
    rows = {".tsa-layer": "layer", ".tsa-steps": "steps", ".tsa-baseline": "baseline"}
    rows |= {".tsa-rule": "rule", ".tsa-blur-sigma": "blur"}

    def shown() -> set[str]:
        return {name for selector, name in rows.items() if frame.locator(selector).is_visible()}

    assert shown() == set()  # saliency, the default, has no settings
    frame.locator(".tsa-method").select_option("gradcam")
    assert shown() == {"layer"}
    frame.locator(".tsa-method").select_option("integrated_gradients")
    assert shown() == {"steps", "rule", "baseline"}
    frame.locator(".tsa-baseline").select_option("blur")
    assert shown() == {"steps", "rule", "baseline", "blur"}
    page.wait_for_selector('.tsa-panel[data-state="ready"]', timeout=60_000)


@pytest.mark.allow_console_error(r"status of 409 \(Conflict\)")  # a new choice cancels the last run
def test_integrated_gradients_by_either_rule_paint_the_servers_map(panel, live_server):
    page, frame = panel
    frame.locator(".tsa-method").select_option("integrated_gradients")
    page.wait_for_selector('.tsa-panel[data-state="ready"]', timeout=60_000)
    run_id = page.locator(".ts-app").get_attribute("data-run-id")
    target = frame.locator(".tsa-overlay").get_attribute("data-target")
    for rule in ("adaptive", "gauss-legendre"):
        frame.locator(".tsa-rule").select_option(rule)
        page.wait_for_selector('.tsa-panel[data-state="ready"]', timeout=60_000)
        meta, _ = _server_map(
            live_server,
            run_id,
            method="integrated_gradients",
            target=target,
            steps="32",
            baseline="black",
            rule=rule,
        )
        assert meta["settings"]["rule"] == rule
        overlay = frame.locator(".tsa-overlay")
        assert float(overlay.get_attribute("data-max")) == pytest.approx(meta["range"][1])
        gap = abs(meta["details"]["delta"]) / abs(
            meta["details"]["score"] - meta["details"]["baseline_score"]
        )
        assert f"within {100 * gap:.2f}%" in frame.locator(".tsa-status").inner_text()


@pytest.mark.allow_console_error(r"status of 409 \(Conflict\)")  # the cancelled request's answer
def test_a_long_run_shows_progress_and_can_be_cancelled(panel):
    page, frame = panel
    frame.locator(".tsa-method").select_option("integrated_gradients")
    page.wait_for_selector('.tsa-panel[data-state="ready"]', timeout=60_000)
    frame.locator(".tsa-steps").fill("4096")
    frame.locator(".tsa-run").click()
    page.wait_for_function(
        "() => document.querySelector('.tsa-progress').value > 0", timeout=60_000
    )
    frame.locator(".tsa-cancel").click()
    page.wait_for_selector('.tsa-panel[data-state="cancelled"]', timeout=60_000)
    assert frame.locator(".tsa-status").inner_text() == "Cancelled."
    assert frame.locator(".tsa-progress").is_hidden()


@pytest.fixture
def overview_page(live_server, browser_page) -> Any:
    page = browser_page
    page.goto(live_server.url)
    page.wait_for_selector('body[data-state="ready"]', timeout=90_000)
    return page


def _node_id(live_server, name: str) -> str:
    nodes = httpx.get(f"{live_server.url}api/model", timeout=30).json()["nodes"]
    return next(node["id"] for node in nodes if node["name"] == name)


def test_hovering_a_cell_outlines_its_receptive_field(overview_page, live_server):
    page = overview_page
    node = _node_id(live_server, "relu_2_1")
    canvas = page.locator(f'canvas.ts-map[data-node="{node}"][data-channel="0"]')
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    rows = cols = 28
    row, col = 7, 20
    page.mouse.move(
        box["x"] + (col + 0.5) * box["width"] / cols, box["y"] + (row + 0.5) * box["height"] / rows
    )
    outline = page.locator(".tsa-rf-box").first
    outline.wait_for(timeout=30_000)
    run_id = page.locator(".ts-app").get_attribute("data-run-id")
    table = httpx.get(
        f"{live_server.url}api/runs/{run_id}/nodes/{node}/receptive_field", timeout=30
    ).json()
    (top, bottom), (left, right) = table["rows"][row], table["cols"][col]
    assert [
        int(outline.get_attribute(f"data-{side}")) for side in ("top", "left", "bottom", "right")
    ] == [top, left, bottom, right]
    assert (bottom - top, right - left) == (9, 9)  # 3x3, 3x3, pool 2, 3x3: 10 pixels
    page.mouse.move(0, 0)
    page.wait_for_selector(".tsa-rf-box", state="detached", timeout=10_000)


def test_a_channels_detail_shows_its_exemplars(overview_page, live_server):
    page = overview_page
    node = _node_id(live_server, "conv_2_1")
    canvas = page.locator(f'canvas.ts-map[data-node="{node}"][data-channel="2"]')
    canvas.scroll_into_view_if_needed()
    canvas.click()
    crops = page.locator(".tsa-exemplars canvas.tsa-exemplar")
    crops.first.wait_for(timeout=30_000)
    assert crops.count() == 9
    assert crops.first.get_attribute("width") == "10"
    assert "10000" in page.locator(".tsa-exemplar-section").inner_text()


def test_class_and_layer_by_clicking(panel):
    page, frame = panel
    second = frame.locator(".tsa-class").nth(1)
    wanted = second.get_attribute("data-target")
    second.click()
    page.wait_for_function(
        f"() => document.querySelector('.tsa-overlay').dataset.target === '{wanted}'"
        " && document.querySelector('.tsa-panel').dataset.state === 'ready'",
        timeout=60_000,
    )
    stage = frame.locator(".tsa-stage").nth(2)
    stage.wait_for(timeout=60_000)
    node = stage.get_attribute("data-node")
    stage.click()
    page.wait_for_function(
        "() => document.querySelector('.tsa-overlay').dataset.method === 'gradcam'"
        " && document.querySelector('.tsa-panel').dataset.state === 'ready'",
        timeout=60_000,
    )
    assert frame.locator(".tsa-layer").input_value() == node
    assert "max_pool_1" in frame.locator(".tsa-status").inner_text()
    assert frame.locator(".tsa-overlay").get_attribute("data-target") == wanted


def test_the_effective_field_is_the_cells_gradient(overview_page, live_server):
    page = overview_page
    page.locator(".tsa-erf-toggle").check()
    node = _node_id(live_server, "conv_1_2")
    canvas = page.locator(f'canvas.ts-map[data-node="{node}"][data-channel="1"]')
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 30.5 * box["width"] / 60, box["y"] + 10.5 * box["height"] / 60)
    heat = page.locator(".tsa-erf-heat").first
    heat.wait_for(timeout=30_000)
    run_id = page.locator(".ts-app").get_attribute("data-run-id")
    url = f"{live_server.url}api/runs/{run_id}/nodes/{node}/effective_receptive_field"
    response = httpx.get(url, params={"y": "10", "x": "30", "channel": "1"}, timeout=30)
    meta, arrays = decode_pack(response.content)
    assert float(heat.get_attribute("data-max")) == pytest.approx(meta["max"])
    assert meta["box"] == [10, 30, 14, 34]
    outside = arrays["heat"].copy()
    outside[10:15, 30:35] = 0
    assert not outside.any()


def _wait_ready(page, condition: str) -> None:
    page.wait_for_function(
        "() => { const o = document.querySelector('.tsa-overlay');"
        " return document.querySelector('.tsa-panel').dataset.state === 'ready'"
        f" && ({condition}); }}",
        timeout=60_000,
    )


def test_class_and_layer_by_clicking_the_overview(panel, live_server):
    """With the panel docked, the output column picks the class and a column the layer."""
    page, frame = panel
    run_id = page.locator(".ts-app").get_attribute("data-run-id")
    overlay = frame.locator(".tsa-overlay")
    predicted = overlay.get_attribute("data-target")
    assert (
        page.locator(f'.ts-output .ts-prob[data-channel="{predicted}"]')
        .get_attribute("class")
        .split()
        .count("ts-chosen")
        == 1
    )
    # Another class, clicked in the overview's output column: the map is the server's for it.
    wanted = page.locator(".ts-output .ts-prob:not(.ts-chosen)").first.get_attribute("data-channel")
    other = page.locator(f'.ts-output .ts-prob[data-channel="{wanted}"]')
    other.click()
    _wait_ready(page, f"o.dataset.target === '{wanted}'")
    meta, _ = _server_map(live_server, run_id, method="saliency", target=wanted)
    assert float(overlay.get_attribute("data-max")) == pytest.approx(meta["range"][1])
    assert frame.locator(".tsa-chosen-class").inner_text() == meta["target_name"]
    assert "ts-chosen" in other.get_attribute("class").split()
    assert frame.is_visible()  # a click beside a docked panel leaves it open
    # A column of maps, clicked in the overview: Grad-CAM at that layer, for the chosen class.
    node = _node_id(live_server, "relu_2_1")
    page.locator(f'canvas.ts-map[data-node="{node}"]').first.click()
    _wait_ready(page, "o.dataset.method === 'gradcam'")
    assert frame.locator(".tsa-layer").input_value() == node
    assert frame.locator(".tsa-chosen-layer").inner_text() == "relu_2_1"
    assert page.locator(f'.ts-unit.ts-chosen[data-node="{node}"]').count() == 1
    meta, _ = _server_map(live_server, run_id, method="gradcam", layer=node, target=wanted)
    assert meta["layer_name"] == "relu_2_1"
    assert float(overlay.get_attribute("data-max")) == pytest.approx(meta["range"][1])
    last, _ = _server_map(live_server, run_id, method="gradcam", target=wanted)
    assert last["range"][1] != pytest.approx(meta["range"][1])  # the layer made a difference
    # A column without maps changes nothing and says why.
    flatten = _node_id(live_server, "flatten")
    page.locator(f'.ts-unit[data-node="{flatten}"] [data-channel]').first.click()
    assert "no spatial output" in frame.locator(".tsa-status").inner_text()
    assert frame.locator(".tsa-layer").input_value() == node


def _box(page, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box


@pytest.mark.parametrize(("width", "height"), [(1440, 900), (390, 844)])
def test_the_docked_panel_leaves_the_overview_whole_through_softmax(
    live_server, browser_page, width, height
):
    """At 1440x900 TinyVGG is seen whole beside the docked panel, input to softmax, unscrolled;
    on a phone the panel docks below and the page itself never scrolls sideways."""
    page = browser_page
    page.set_viewport_size({"width": width, "height": height})
    _open_panel(page, live_server.url)
    page.wait_for_function(
        "() => { const s = document.querySelector('.ts-stage-scroll');"
        " return s.scrollWidth <= s.clientWidth || s.scrollLeft > 0; }"
    )
    page.wait_for_timeout(300)  # the refit and the scroll to the output column, a frame each
    softmax = _box(page, ".ts-unit.ts-output")
    panel = _box(page, ".tsa-panel")
    assert softmax["x"] >= 0 and softmax["x"] + softmax["width"] <= width
    assert softmax["y"] >= 0 and softmax["y"] + softmax["height"] <= height
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    if width >= 1440:
        assert softmax["x"] + softmax["width"] <= panel["x"]  # beside the panel, not under it
        scroller = _box(page, ".ts-stage-scroll")
        first = _box(page, ".ts-unit")  # the input column
        assert first["x"] >= scroller["x"]
        assert page.evaluate(
            "(() => { const s = document.querySelector('.ts-stage-scroll');"
            " return s.scrollWidth <= s.clientWidth; })()"
        )
        # narrow columns: conv_1_1 on one line, max_pool_1 in two even halves, nothing cut off
        lines = layer_name_lines(page)
        assert lines["conv_1_1"] == (1, False) and lines["max_pool_1"] == (2, False), lines
        tops = name_line_tops(page, "max_pool_1")
        assert tops["max_"] < tops["pool_"] == tops["1"], tops  # not max_pool_ over 1
    else:
        assert panel["y"] > 0 and panel["x"] == 0  # docked along the bottom
