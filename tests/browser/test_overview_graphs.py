"""The overview of a general graph: collapsed module blocks, channel paging, residual adds.

The server runs a model defined here (``--model test_overview_graphs:wide_resnet``): a wide stem
(24 channels, more than one page), two stages of residual blocks with functional adds (enough
layers that the page starts with its modules collapsed), pooling and a classifier.
"""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest

torch = pytest.importorskip("torch")
from _graph_page import upload_png  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from tensorsight.explanation.pack import decode_pack  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STEM_CHANNELS = 24
PAGE = 16  # channels the overview shows at once


class Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.bn(self.conv(x)))


class WideResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, STEM_CHANNELS, 3, padding=1), nn.BatchNorm2d(STEM_CHANNELS), nn.ReLU()
        )
        self.layer1 = nn.Sequential(*(Residual(STEM_CHANNELS) for _ in range(4)))
        self.layer2 = nn.Sequential(*(Residual(STEM_CHANNELS) for _ in range(3)))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(STEM_CHANNELS, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer2(self.layer1(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


def wide_resnet() -> nn.Module:
    """The factory ``tensorsight serve --model`` calls: seeded, so every run is the same."""
    torch.manual_seed(0)
    return WideResNet()


def drawing() -> bytes:
    image = Image.new("RGB", (48, 48), (240, 240, 230))
    ImageDraw.Draw(image).ellipse((8, 6, 40, 42), fill=(30, 90, 200))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def map_canvas(page, node_id: str, channel: int):
    return page.locator(f"canvas.ts-map[data-node='{node_id}'][data-channel='{channel}']")


def test_blocks_paging_and_residual_adds(server_factory, browser_page):
    server = server_factory(
        ["--model", "test_overview_graphs:wide_resnet", "--input-size", "24x24"],
        env={"PYTHONPATH": str(Path(__file__).parent)},
    )
    model = httpx.get(server.url + "api/model", timeout=30).json()
    by_name = {node["name"]: node for node in model["nodes"]}
    page = browser_page
    page.goto(server.url)
    run = upload_png(page, drawing())  # after the photo colour models open on

    # Many layers: modules start collapsed into blocks, the big stages opened one level, so the
    # page holds a few units rather than hundreds of maps.
    for block in ("stem", "layer1.0", "layer1.3", "layer2.0", "layer2.2"):
        assert page.locator(f".ts-unit.ts-block[data-unit='block:{block}']").count() == 1
    assert page.locator(".ts-unit").count() < len(model["nodes"]) / 2
    assert page.locator("canvas.ts-map").count() <= PAGE * page.locator(".ts-unit").count()

    # A chip closes an open stage into one block; clicking the block opens it again.
    page.click(".ts-blockbar .ts-chip:has-text('layer1')")
    page.wait_for_selector(".ts-unit[data-unit='block:layer1']")
    assert page.locator(".ts-unit[data-unit='block:layer1.0']").count() == 0
    page.click(".ts-unit[data-unit='block:layer1'] .ts-unit-open")
    page.wait_for_selector(".ts-unit[data-unit='block:layer1.0']")

    # Open the stem and the first residual block: every layer inside is drawn.
    page.click(".ts-unit[data-unit='block:stem'] .ts-unit-open")
    page.click(".ts-unit[data-unit='block:layer1.0'] .ts-unit-open")
    add = next(n for n in model["nodes"] if n["kind"] == "add" and n["group"] == "layer1.0")
    page.wait_for_selector(f".ts-unit[data-node='{add['id']}'] canvas.ts-painted")

    # The residual add is fed by the block's input and by the batch norm: the skip edge runs
    # below the columns, and hovering a channel lights that channel in both inputs.
    assert page.locator(".ts-edges path.ts-edge-skip").count() >= 1
    map_canvas(page, add["id"], 5).hover()
    lit = {
        (c.get_attribute("data-node"), c.get_attribute("data-channel"))
        for c in page.locator("canvas.ts-feeds").all()
    }
    assert lit == {(source, "5") for source in add["inputs"]}

    # The stem convolution has more channels than one page: page on, maps are painted, the
    # readout still gives the server's exact float32.
    conv = by_name["stem.0"]
    assert page.locator(f".ts-unit[data-node='{conv['id']}'] canvas.ts-map").count() == PAGE
    pager = page.locator(f".ts-unit[data-node='{conv['id']}'] .ts-pager")
    assert pager.locator(".ts-pager-label").text_content() == f"0–{PAGE - 1}/{STEM_CHANNELS}"
    pager.locator("button").last.click()
    channel = STEM_CHANNELS - 1
    canvas = map_canvas(page, conv["id"], channel)
    page.wait_for_selector(
        f"canvas.ts-map.ts-painted[data-node='{conv['id']}'][data-channel='{channel}']"
    )
    assert (
        page.locator(f".ts-unit[data-node='{conv['id']}'] canvas.ts-map").count()
        == STEM_CHANNELS - PAGE
    )
    canvas.hover(position={"x": 3, "y": 3})
    readout = page.locator(".ts-readout[data-state=value]")
    readout.wait_for()
    row, col = int(readout.get_attribute("data-row")), int(readout.get_attribute("data-col"))
    answer = httpx.get(
        f"{server.url}api/runs/{run}/activations",
        timeout=30,
        params={"nodes": conv["id"], "channels": f"{channel}:{channel + 1}", "encoding": "f32"},
    )
    _, arrays = decode_pack(answer.content)
    assert float(readout.get_attribute("data-value")) == float(arrays[conv["id"]][0, row, col])
