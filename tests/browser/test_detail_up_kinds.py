"""Upsample (bilinear), layer norm and mean detail views in a real Chromium: each view's formula
shows the numbers of the captured tensors for the cell under the cursor. Fails on any console
or page error."""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import pytest
from _graph_page import open_detail

torch = pytest.importorskip("torch")
Image = pytest.importorskip("PIL.Image")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MODEL_SOURCE = textwrap.dedent("""
    import torch
    from torch import nn


    class Upscaler(nn.Module):
        def __init__(self):
            super().__init__()
            self.up = nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1)
            self.resize = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
            self.norm = nn.LayerNorm([4, 16, 16])
            self.head = nn.Linear(4, 3)

        def forward(self, x):
            x = self.norm(self.resize(self.up(x)))
            return self.head(x.mean((2, 3)))


    def build():
        torch.manual_seed(0)
        return Upscaler()
""")


@pytest.fixture
def page(server_factory, browser_page, tmp_path) -> Any:
    problems: list[str] = []
    browser_page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    browser_page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )
    model = tmp_path / "upscaler.py"
    model.write_text(MODEL_SOURCE)
    server = server_factory(["--model", f"{model}:build", "--input-size", "4x4"])
    picture = tmp_path / "picture.png"
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3) * 5, "RGB").save(picture)
    browser_page.goto(server.url)
    browser_page.set_input_files("input[type=file]", str(picture))
    browser_page.wait_for_selector('body[data-state="ready"]', timeout=90_000)
    browser_page.server_url = server.url
    yield browser_page
    assert not problems, problems


def _node(page, kind: str) -> dict[str, Any]:
    info = page.evaluate("fetch('/api/model').then(r => r.json())")
    return next(node for node in info["nodes"] if node["kind"] == kind)


def _move(view, part: str) -> None:
    heat = view.frame.locator(f'.tsd-heat[data-part="{part}"]').first
    heat.focus()
    heat.press("ArrowRight")
    heat.press("ArrowDown")


def _shown(view, selector: str) -> float:
    return float(view.frame.locator(selector).first.get_attribute("data-value"))


def test_upsample_view_shows_the_weights_and_the_output(page: Any) -> None:
    view = open_detail(page, _node(page, "upsample")["id"], 1)
    assert view.frame.get_attribute("aria-label") == "Upsampling"
    _move(view, "output")
    assert _shown(view, '[data-role="y"]') == pytest.approx(float(view.arrays["output"][1, 1]))
    weights = view.frame.locator('.tsd-formula-box [data-part="weight"]')
    assert weights.count() == 8  # four corners, a row and a column weight each
    factors = [float(weights.nth(i).get_attribute("data-value")) for i in range(8)]
    assert sum(factors[i] * factors[i + 1] for i in range(0, 8, 2)) == pytest.approx(1)


def test_layer_norm_view_shows_the_statistics_of_the_cell(page: Any) -> None:
    view = open_detail(page, _node(page, "layer_norm")["id"], 2)
    assert view.frame.get_attribute("aria-label") == "Layer normalization"
    _move(view, "input")
    at = (1, 1)
    assert _shown(view, '[data-part="mean"]') == pytest.approx(float(view.arrays["mean"][at]))
    assert _shown(view, '[data-part="std"]') == pytest.approx(float(view.arrays["std"][at]))
    assert _shown(view, '[data-role="y"]') == pytest.approx(float(view.arrays["output"][at]))


def test_mean_view_shows_the_sum_and_the_count(page: Any) -> None:
    view = open_detail(page, _node(page, "mean")["id"], 0)
    assert view.frame.get_attribute("aria-label") == "Mean"
    assert view.meta["count"] == 16 * 16
    y = _shown(view, '[data-role="y"]')
    total = _shown(view, '[data-part="sum"]')
    assert y == pytest.approx(float(view.arrays["output"][0]))
    assert total == pytest.approx(float(view.arrays["sums"][0]))
    assert total / 256 == pytest.approx(y, rel=1e-5)
