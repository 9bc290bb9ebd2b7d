"""The deformable-convolution detail view on the shipped ``tinyvgg-deformable``, in Chromium.

``tensorsight serve --model tinyvgg-deformable`` from the package, a sample run, then the view
of each deformable layer: the sampling points drawn where the server's pack puts them, the
formula's numbers (fractional positions, neighbours, bilinear weights, interpolated values,
terms, the sum) against the pack and the captured activation, sliding, and the receptive field.
Any console or page error fails the test.
"""

from __future__ import annotations

import math
import os
import re

import numpy as np
import pytest
from _graph_page import fetch_activation, open_detail

pytestmark = [pytest.mark.browser, pytest.mark.slow]
READY_MS = 90_000


@pytest.fixture
def served(server_factory, browser_page):
    server = server_factory(["--model", "tinyvgg-deformable"])
    errors: list[str] = []
    browser_page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    browser_page.on(
        "console",
        lambda message: (
            errors.append(f"console error: {message.text}") if message.type == "error" else None
        ),
    )
    browser_page.goto(server.url)
    browser_page.wait_for_selector("body[data-state=ready]", timeout=READY_MS)
    yield browser_page, server
    assert not errors, "\n".join(errors)


def snapshot(frame, name: str) -> None:
    """Save a screenshot when TS_SCREENSHOTS names a folder (for looking at the view)."""
    folder = os.environ.get("TS_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        frame.screenshot(path=os.path.join(folder, f"deform-{name}.png"))


def deform_nodes(page) -> list[dict]:
    info = page.evaluate("fetch('api/model').then(r => r.json())")
    return [node for node in info["nodes"] if node["kind"] == "deform_conv2d"]


def test_sampling_points_formula_and_receptive_field(served) -> None:
    page, server = served
    nodes = deform_nodes(page)
    assert [node["name"] for node in nodes] == ["conv_2_1", "conv_2_2"]
    node = nodes[1]
    view = open_detail(page, node["id"], 3)
    frame, meta, arrays = view.frame, view.meta, view.arrays
    assert meta["kind"] == "deform_conv2d"
    assert frame.locator("h2").inner_text() == "Deformable convolution"

    # (a) the points level: one ring, one arrow and one dot per tap at the pack's positions.
    assert frame.locator(".tsd-deform-regular").count() == 9
    assert frame.locator(".tsd-deform-point").count() == 9
    assert frame.locator(".tsd-deform-field").count() == 26 * 26  # centre tap's offset field
    rows, cols = arrays["output"].shape
    i, j = rows // 2, cols // 2
    cell = _cell_size(frame.locator(".tsd-detail-views .tsd-heat").first)
    for k, dot in enumerate(frame.locator(".tsd-deform-point").all()):
        cx, cy = float(dot.get_attribute("cx")), float(dot.get_attribute("cy"))
        assert math.isclose(cx, (arrays["sample_x"][0, k, i, j] + 0.5) * cell, abs_tol=1e-3)
        assert math.isclose(cy, (arrays["sample_y"][0, k, i, j] + 0.5) * cell, abs_tol=1e-3)

    snapshot(frame, "points")

    # (b) the formula of the same position, number by number.
    frame.locator('[data-level="formula"]').click()
    table = frame.locator('[data-role="tap-table"]')
    table.wait_for()
    assert table.locator("tbody tr").count() == 9
    row = table.locator('tbody tr[data-tap="5"]')
    sampled = _value(row.locator('[data-part="sampled"]'))
    assert math.isclose(sampled, arrays["sampled"][0, 5, i, j], rel_tol=1e-5, abs_tol=1e-6)
    weights = [_value(cell) for cell in row.locator('[data-part="bilinear"]').all()]
    assert np.allclose(weights, arrays["bilinear"][0, 5, :, i, j], atol=1e-6)
    term = _value(row.locator('[data-part="terms"]'))
    assert math.isclose(
        term, sampled * arrays["kernel"][0].reshape(-1)[5], rel_tol=1e-4, abs_tol=1e-6
    )
    output = _value(frame.locator('[data-role="output-value"]'))
    captured = fetch_activation(server.url, view.run_id, node["id"], 3)
    assert math.isclose(output, captured[i, j], rel_tol=1e-5, abs_tol=1e-6)
    channel_sum = _value(frame.locator('[data-role="channel-sum"]'))
    assert math.isclose(channel_sum, arrays["intermediate"][0, i, j], rel_tol=1e-5, abs_tol=1e-6)

    # Sliding: the next position's output value is the captured one there.
    frame.get_by_role("button", name="Next position").click()
    frame.locator('[data-role="output-value"]').wait_for()
    moved = _value(frame.locator('[data-role="output-value"]'))
    assert math.isclose(moved, captured[i, j + 1], rel_tol=1e-5, abs_tol=1e-6)

    snapshot(frame, "formula")

    # (c) the receptive field: 81 points on the input for both models, where the pack says.
    frame.locator('[data-level="field"]').click()
    learned = frame.locator('[data-role="field-deformable"] circle')
    learned.first.wait_for()
    assert learned.count() == 81
    assert frame.locator('[data-role="field-regular"] circle').count() == 81
    xs = sorted(float(dot.get_attribute("cx")) - 0.5 for dot in learned.all())
    assert np.allclose(xs, np.sort(arrays["field_x"][i, j + 1]), atol=1e-3)
    plain = sorted(
        {
            float(dot.get_attribute("cx")) - 0.5
            for dot in frame.locator('[data-role="field-regular"] circle').all()
        }
    )
    assert np.allclose(plain, [2 * (j + 1) + 2.5 + 2 * step for step in range(5)], atol=1e-4)
    readout = frame.locator('[data-role="field-readout"]').inner_text()
    assert "sampling points on the input" in readout
    snapshot(frame, "field")


def _cell_size(heat) -> float:
    return float(heat.evaluate("node => parseFloat(node.style.width)")) / 28


def _value(locator) -> float:
    return float(locator.first.get_attribute("data-value"))


def test_playground_deformable_mode_follows_a_dragged_point(served) -> None:
    import torch

    from tensorsight.ops import deform_conv2d

    page, _ = served
    page.get_by_role("button", name=re.compile("playground", re.IGNORECASE)).click()
    frame = page.locator(".tsd-playground")
    frame.locator('[data-mode-tab="deformable"]').click()
    point = frame.locator('.tsd-pgd-point[data-tap="4"]')
    point.wait_for()
    values = [
        float(text)
        for text in frame.locator(".tsd-pgd-value").evaluate_all(
            "labels => labels.map(label => label.textContent)"
        )
    ]
    image = torch.tensor(values, dtype=torch.float64).reshape(1, 1, 7, 7)
    weight_cells = frame.locator('[data-role="deformable-terms"] tbody td:nth-child(5)')
    weights = [float(text.removeprefix("× ")) for text in weight_cells.all_inner_texts()]
    kernel = torch.tensor(weights, dtype=torch.float64).reshape(1, 1, 3, 3)

    box = point.bounding_box()
    start_x, start_y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(start_x, start_y)
    page.mouse.down()
    page.mouse.move(start_x + 31, start_y - 17, steps=4)  # CELL is 44 px: (-0.39, +0.70) px
    page.mouse.up()
    point.focus()
    page.keyboard.press("ArrowDown")  # and a quarter pixel down
    y, x = float(point.get_attribute("data-y")), float(point.get_attribute("data-x"))
    assert not (y.is_integer() and x.is_integer())
    offsets = torch.zeros(1, 18, 5, 5, dtype=torch.float64)
    offsets[0, 8], offsets[0, 9] = y - 3, x - 3  # tap 4 sits at (3, 3) for output (2, 2)
    expected = deform_conv2d(image, offsets, kernel, torch.zeros(1, dtype=torch.float64))
    shown = float(frame.locator('[data-role="deformable-value"]').get_attribute("data-value"))
    assert math.isclose(shown, float(expected[0, 0, 2, 2]), abs_tol=1e-9)
    cells = frame.locator('[data-role="deformable-output"] .tsd-pgd-cell')
    assert cells.count() == 25
    grid = [
        float(value)
        for value in cells.evaluate_all("cells => cells.map(cell => cell.dataset.value)")
    ]
    snapshot(frame, "playground")
    assert np.allclose(grid, expected[0, 0].reshape(-1).numpy(), atol=1e-9)
