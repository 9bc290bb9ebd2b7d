"""Detail views for layers TinyVGG lacks (batch norm, residual add, concatenation, ReLU6, sigmoid,
a strided, padded, dilated convolution), on a small model of our own served the way a user serves
theirs: ``tensorsight serve --model file.py:build``, with an uploaded image.

The numbers shown are checked against the same model rebuilt in the test (its batch-norm buffers)
and against the activations the server captured.
"""

from __future__ import annotations

import importlib.util
import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from _graph_page import open_detail

from tensorsight.explanation.pack import decode_pack

torch = pytest.importorskip("torch")
Image = pytest.importorskip("PIL.Image")

pytestmark = [pytest.mark.browser, pytest.mark.slow]


MODEL_SOURCE = textwrap.dedent("""
    import torch
    from torch import nn


    class ResidualNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 6, 3, stride=2, padding=2, dilation=2)
            self.norm = nn.BatchNorm2d(6)
            self.act = nn.ReLU6()
            self.branch = nn.Conv2d(6, 6, 3, padding=1)
            self.gate = nn.Sigmoid()
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.head = nn.Linear(12, 4)

        def forward(self, x):
            y = self.act(self.norm(self.stem(x)))
            z = y + self.branch(y)
            both = torch.cat([z, self.gate(y)], dim=1)
            return self.head(self.pool(both).flatten(1))


    def build():
        torch.manual_seed(7)
        model = ResidualNet()
        with torch.no_grad():
            model.norm.running_mean.uniform_(-0.3, 0.3)
            model.norm.running_var.uniform_(0.5, 2.0)
            model.norm.weight.uniform_(0.5, 1.5)
            model.norm.bias.uniform_(-0.2, 0.2)
        return model
""")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "residual_net.py"
    path.write_text(MODEL_SOURCE)
    return path


@dataclass
class Served:
    """The page showing our model, and the server's URL (ends in ``/``)."""

    page: Any
    server_url: str

    def __getattr__(self, name: str) -> Any:  # act as the Playwright page
        return getattr(self.page, name)


@pytest.fixture
def page(server_factory, browser_page, model_file, tmp_path) -> Any:
    server = server_factory(["--model", f"{model_file}:build", "--input-size", "24x24"])
    picture = tmp_path / "picture.png"
    gradient = np.linspace(0, 255, 24 * 24 * 3).reshape(24, 24, 3)
    Image.fromarray(((gradient * 7) % 256).astype(np.uint8), "RGB").save(picture)
    browser_page.goto(server.url)
    browser_page.set_input_files("input[type=file]", str(picture))
    browser_page.wait_for_selector('body[data-state="ready"]', timeout=90_000)
    return Served(browser_page, server.url)


def built_model() -> Any:
    spec = importlib.util.spec_from_loader("residual_net", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(MODEL_SOURCE, module.__dict__)
    return module.build().eval()


def node_named(page, name: str) -> dict[str, Any]:
    info = httpx.get(page.server_url + "api/model", timeout=60).json()
    return next(node for node in info["nodes"] if node["name"] == name)


def open_view(page, node: dict[str, Any], channel: int):
    view = open_detail(page, node["id"], channel)
    return view.frame, view.run_id, view.meta, view.arrays


def captured(page, run_id: str, node: dict[str, Any], channel: int) -> np.ndarray:
    response = httpx.get(
        f"{page.server_url}api/runs/{run_id}/activations",
        timeout=60,
        params={"nodes": node["id"], "channels": f"{channel}:{channel + 1}", "encoding": "f32"},
    )
    return decode_pack(response.content)[1][node["id"]][0]


def value_of(locator) -> float:
    value = float(locator.get_attribute("data-value"))
    assert abs(float(locator.inner_text()) - value) <= 0.0005 * max(1.0, abs(value))
    return value


def close(page) -> None:
    page.keyboard.press("Escape")
    page.locator(".tsd-detail").wait_for(state="detached")


def test_views_of_a_residual_model(page, tmp_path):
    screenshots = Path(os.environ.get("TS_SCREENSHOTS", tmp_path))
    screenshots.mkdir(parents=True, exist_ok=True)
    model = built_model()

    # Batch norm: the formula carries the layer's own running statistics and affine numbers.
    norm = node_named(page, "norm")
    frame, run_id, meta, arrays = open_view(page, norm, 2)
    formula = frame.locator('[data-role="formula"]')
    layer = {name: tensor.detach() for name, tensor in model.norm.state_dict().items()}
    for part, expected in [
        ("mean", layer["running_mean"][2]),
        ("var", layer["running_var"][2]),
        ("gamma", layer["weight"][2]),
        ("beta", layer["bias"][2]),
    ]:
        shown_value = value_of(formula.locator(f'[data-part="{part}"]'))
        assert shown_value == pytest.approx(float(expected), rel=1e-6)
    assert value_of(formula.locator('[data-part="eps"]')) == pytest.approx(model.norm.eps)
    x = value_of(formula.locator('[data-role="x"]'))
    y = value_of(formula.locator('[data-role="y"]'))
    assert y == float(captured(page, run_id, norm, 2)[0, 0])
    scale = meta["gamma"] / np.sqrt(meta["var"] + meta["eps"])
    assert y == pytest.approx((x - meta["mean"]) * scale + meta["beta"], abs=1e-5)
    page.screenshot(path=str(screenshots / "detail_batch_norm.png"))
    close(page)

    # The stem convolution (stride 2, padding 2, dilation 2): the patch comes from the padded input.
    stem = node_named(page, "stem")
    frame, run_id, meta, arrays = open_view(page, stem, 1)
    assert meta["stride"] == [2, 2] and meta["dilation"] == [2, 2] and meta["padding"] == [2, 2]
    frame.get_by_role("tab", name="Formula for one window").click()
    output_map = frame.locator('.tsd-conv-formula-maps .tsd-heat[data-part="output"]')
    output_map.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    # The window opens on the output's strongest cell; the arrows moved it one down and right.
    rows, cols = arrays["output"].shape
    start = np.unravel_index(int(np.abs(arrays["output"]).argmax()), (rows, cols))
    row, col = min(int(start[0]) + 1, rows - 1), min(int(start[1]) + 1, cols - 1)
    assert frame.locator(".tsd-position").inner_text() == f"window at output [{row}, {col}]"
    source = int(frame.get_by_label("Input channel", exact=True).input_value())
    padded = np.pad(arrays["input"][source], 2)
    expected_patch = padded[row * 2 : row * 2 + 5 : 2, col * 2 : col * 2 + 5 : 2].ravel()
    cells = frame.locator('[data-role="conv-formula"] [data-part="input window"] .tsd-cell')
    np.testing.assert_array_equal(
        np.float32([float(c.get_attribute("data-value")) for c in cells.all()]), expected_patch
    )
    output = value_of(frame.locator('.tsd-conv-channel-sum [data-role="output-value"]'))
    assert output == float(captured(page, run_id, stem, 1)[row, col])
    page.screenshot(path=str(screenshots / "detail_conv_strided_dilated.png"))
    close(page)

    # Residual add: operand values and their sum at the hovered cell.
    add = next(
        node
        for node in httpx.get(page.server_url + "api/model").json()["nodes"]
        if node["kind"] == "add"
    )
    frame, run_id, meta, arrays = open_view(page, add, 3)
    operands = [value_of(v) for v in frame.locator('[data-role="operand"]').all()]
    total = value_of(frame.locator('[data-role="y"]'))
    assert len(operands) == 2
    assert total == float(captured(page, run_id, add, 3)[0, 0])
    assert sum(operands) == pytest.approx(total, abs=1e-6)
    page.screenshot(path=str(screenshots / "detail_add.png"))
    close(page)

    # Concatenation: channel 8 of the output is channel 2 of the sigmoid branch.
    cat = next(
        node
        for node in httpx.get(page.server_url + "api/model").json()["nodes"]
        if node["kind"] == "cat"
    )
    frame, run_id, meta, arrays = open_view(page, cat, 8)
    ranges = frame.locator(".tsd-cat-range")
    assert ranges.count() == 2
    assert "6–11" in ranges.nth(1).inner_text()
    assert "tsd-cat-current" in ranges.nth(1).get_attribute("class")
    assert "channel 2 of gate" in frame.locator(".tsd-detail-text").inner_text()
    page.screenshot(path=str(screenshots / "detail_cat.png"))
    close(page)

    # ReLU6 and sigmoid: their own formulas, with the captured output.
    for name, start in [("act", "min(max(0,"), ("gate", "1 / (1 + exp(")]:
        node = node_named(page, name)
        frame, run_id, meta, arrays = open_view(page, node, 0)
        formula = frame.locator('[data-role="formula"]')
        assert formula.inner_text().startswith(start)
        cell = frame.locator(".tsd-formula-where").inner_text()
        r, c = (int(v) for v in re.findall(r"\d+", cell))
        truth = captured(page, run_id, node, 0)
        assert value_of(formula.locator('[data-role="y"]')) == float(truth[r, c])
        page.screenshot(path=str(screenshots / f"detail_{name}.png"))
        close(page)
