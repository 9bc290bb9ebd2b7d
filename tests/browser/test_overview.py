"""The overview page in a real headless Chromium against a real ``tensorsight serve``.

Everything is checked against the server's own answers: the value the readout prints under the
pointer is the float32 the API sends for that pixel, the probabilities are the run's, the
highlighted feeders follow the graph from ``/api/model``.
"""

from __future__ import annotations

import httpx
import pytest
from _graph_page import layer_name_lines

from tensorsight.explanation.pack import decode_pack

pytestmark = pytest.mark.browser

READY = "body[data-state=ready]"


@pytest.fixture
def model(live_server) -> dict:
    return httpx.get(live_server.url + "api/model", timeout=30).json()


@pytest.fixture
def page(live_server, browser_page):
    browser_page.goto(live_server.url)
    browser_page.wait_for_selector(READY, timeout=60_000)
    return browser_page


def first_node(model: dict, kind: str) -> dict:
    return next(node for node in model["nodes"] if node["kind"] == kind)


def run_id(page) -> str:
    return page.locator(".ts-app").get_attribute("data-run-id")


def map_canvas(page, node_id: str, channel: int):
    return page.locator(f"canvas.ts-map[data-node='{node_id}'][data-channel='{channel}']")


def canvas_summary(page, node_id: str, channel: int) -> dict:
    """Size, number of distinct colours and a checksum of one feature map's pixels."""
    return map_canvas(page, node_id, channel).evaluate("""(canvas) => {
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        const colours = new Set();
        let sum = 0;
        for (let i = 0; i < data.length; i += 4) {
            colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
            sum = (sum * 31 + data[i] + 7 * data[i + 1] + 13 * data[i + 2]) % 1000000007;
        }
        return {width: canvas.width, height: canvas.height, colours: colours.size,
                alpha: data[3], checksum: sum};
    }""")


def f32_channel(live_server, run: str, node_id: str, channel: int):
    response = httpx.get(
        f"{live_server.url}api/runs/{run}/activations",
        params={"nodes": node_id, "channels": f"{channel}:{channel + 1}", "encoding": "f32"},
        timeout=30,
    )
    response.raise_for_status()
    _, arrays = decode_pack(response.content)
    return arrays[node_id][0]


def test_page_draws_every_layer_with_name_and_shape(page, model):
    for node in model["nodes"]:
        unit = page.locator(f".ts-unit[data-node='{node['id']}']")
        assert unit.count() == 1, f"{node['name']} has no column"
        shape = "×".join(str(side) for side in node["shape"][1:])
        assert unit.locator(".ts-shape").text_content() == shape
    first_conv = first_node(model, "conv2d")
    assert (
        page.locator(f".ts-unit[data-node='{first_conv['id']}'] .ts-unit-title").text_content()
        == first_conv["name"]
    )
    assert page.locator(".ts-edges path.ts-edge").count() >= len(model["nodes"]) - 1


def test_clicking_a_sample_draws_its_heatmaps(page, live_server, model):
    conv = first_node(model, "conv2d")
    samples = httpx.get(live_server.url + "api/samples", timeout=30).json()
    assert len(samples) >= 2
    before = canvas_summary(page, conv["id"], 0)
    first_run = run_id(page)

    page.click(f".ts-sample[data-sample='{samples[1]['id']}']")
    page.wait_for_function(
        "(run) => document.querySelector('.ts-app').dataset.runId !== run"
        " && document.body.dataset.state === 'ready'",
        arg=first_run,
    )

    assert (
        page.locator(f".ts-sample[data-sample='{samples[1]['id']}']").get_attribute("aria-pressed")
        == "true"
    )
    after = canvas_summary(page, conv["id"], 0)
    assert (after["width"], after["height"]) == (conv["shape"][3], conv["shape"][2])
    assert after["alpha"] == 255 and after["colours"] > 1, "the feature map was left blank"
    assert after["checksum"] != before["checksum"], "the map did not change with the image"
    for channel in range(conv["shape"][1]):
        assert canvas_summary(page, conv["id"], channel)["alpha"] == 255


def test_readout_is_the_servers_float32_under_the_pointer(page, live_server, model):
    conv = first_node(model, "conv2d")
    channel = min(3, conv["shape"][1] - 1)
    height, width = conv["shape"][2], conv["shape"][3]
    values = f32_channel(live_server, run_id(page), conv["id"], channel)
    # Aim at a pixel whose value differs from its neighbours and from its transposed twin, so a
    # readout that is off by a row or column, or swaps them, cannot pass.
    side = min(height, width)
    row, col = max(
        ((r, c) for r in range(1, side - 1) for c in range(1, side - 1)),
        key=lambda rc: (
            min(
                abs(values[rc] - values[rc[0] + dr, rc[1] + dc])
                for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
            )
            + (values[rc] != values[rc[::-1]])
        ),
    )
    # Maps are drawn smaller than one screen pixel per value; enlarge them so that a whole-pixel
    # mouse position lands on one value for sure (!important: over the size fitted to the screen).
    page.add_style_tag(
        content=f".ts-app .ts-overview {{ --ts-map: {4 * width + 2}px !important; }}"
    )
    canvas = map_canvas(page, conv["id"], channel)
    shown_width, shown_height = canvas.evaluate("(c) => [c.clientWidth, c.clientHeight]")
    canvas.hover(
        position={"x": (col + 0.5) * shown_width / width, "y": (row + 0.5) * shown_height / height}
    )
    readout = page.locator(".ts-readout[data-state=value]")
    readout.wait_for()

    assert readout.get_attribute("data-node") == conv["id"]
    assert int(readout.get_attribute("data-channel")) == channel
    assert (int(readout.get_attribute("data-row")), int(readout.get_attribute("data-col"))) == (
        row,
        col,
    )
    assert float(readout.get_attribute("data-value")) == float(values[row, col])
    assert conv["name"] in readout.text_content()


def test_keyboard_moves_the_readout_cursor(page, model):
    relu = first_node(model, "relu")
    canvas = map_canvas(page, relu["id"], 0)
    canvas.focus()
    readout = page.locator(".ts-readout")
    page.wait_for_function("() => document.querySelector('.ts-readout').dataset.col === '0'")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    page.wait_for_function(
        "() => document.querySelector('.ts-readout').dataset.col === '1'"
        " && document.querySelector('.ts-readout').dataset.row === '1'"
    )
    assert readout.get_attribute("data-node") == relu["id"]


def test_hover_lights_up_what_feeds_a_neuron(page, model):
    by_id = {node["id"]: node for node in model["nodes"]}
    relu = first_node(model, "relu")
    conv = by_id[relu["inputs"][0]]
    # Element-wise: exactly the same channel of its input.
    map_canvas(page, relu["id"], 2).hover()
    lit = page.locator("canvas.ts-feeds")
    assert [(c.get_attribute("data-node"), c.get_attribute("data-channel")) for c in lit.all()] == [
        (conv["id"], "2")
    ]
    # Convolution: every channel of its input.
    second_conv = [n for n in model["nodes"] if n["kind"] == "conv2d"][1]
    source = by_id[second_conv["inputs"][0]]
    map_canvas(page, second_conv["id"], 0).hover()
    fed = {(c.get_attribute("data-node"), c.get_attribute("data-channel")) for c in lit.all()}
    assert fed == {(source["id"], str(c)) for c in range(min(source["shape"][1], 16))}
    assert page.locator(".ts-edges-hot path").count() == len(fed)


def test_output_column_shows_the_runs_probabilities(page, live_server, model):
    samples = httpx.get(live_server.url + "api/samples", timeout=30).json()
    overview = httpx.post(
        live_server.url + "api/runs", json={"sample": samples[0]["id"]}, timeout=60
    ).json()
    rows = page.locator(".ts-output .ts-prob")
    assert rows.count() == len(model["classes"])
    names = [row.locator(".ts-prob-name").text_content() for row in rows.all()]
    assert names == model["classes"]
    shown = [float(row.get_attribute("data-probability")) for row in rows.all()]
    assert shown == pytest.approx(overview["output"]["probabilities"], abs=1e-6)
    top = page.locator(".ts-output .ts-prob-top .ts-prob-name").text_content()
    assert top == overview["output"]["top"][0][0]
    assert overview["output"]["top"][0][0] in page.locator(".ts-prediction").text_content()


def test_range_mode_changes_the_legends(page, model):
    maps = {
        node["id"] for node in model["nodes"] if len(node["shape"]) == 4 and node["kind"] != "input"
    }

    def legend_ranges() -> dict[str, float]:
        """The colour range (half-width) each feature-map layer's legend shows."""
        ranges = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
            '.ts-unit-legend .ts-legend')].map((legend) => [
            legend.closest('.ts-unit').dataset.node, Number(legend.dataset.max)]))""")
        return {node: value for node, value in ranges.items() if node in maps}

    per_layer = legend_ranges()
    assert len(per_layer) >= 3
    page.click("label[for=ts-range-global]")
    whole = legend_ranges()
    assert set(whole.values()) == {max(per_layer.values())}
    page.click("label[for=ts-range-block]")
    per_block = legend_ranges()
    assert all(per_layer[node] <= per_block[node] <= whole[node] for node in per_layer)
    assert per_block != per_layer or per_block != whole
    # The big legend explains the layer last pointed at, with tick values, in the current mode.
    conv = first_node(model, "conv2d")
    map_canvas(page, conv["id"], 0).hover()
    big = page.locator(".ts-toolbar-legend .ts-legend")
    assert conv["name"] in big.text_content() and "per block" in big.text_content()
    assert float(big.get_attribute("data-max")) == per_block[conv["id"]]
    ticks = [
        float(t)
        for t in big.locator(".ts-legend-tick").evaluate_all(
            "(ticks) => ticks.map((tick) => tick.dataset.value)"
        )
    ]
    assert ticks[0] == -ticks[-1] == -per_block[conv["id"]] and 0 in ticks
    page.click("label[for=ts-range-layer]")
    assert float(big.get_attribute("data-max")) == per_layer[conv["id"]]


def test_clicking_a_neuron_opens_its_detail_view(page, model):
    conv = first_node(model, "conv2d")
    map_canvas(page, conv["id"], 1).click()
    layer = page.locator(".ts-detail-layer")
    layer.wait_for(state="visible")
    dialog = layer.locator("[role=dialog]")
    dialog.wait_for()
    assert conv["name"] in dialog.text_content()
    page.keyboard.press("Escape")
    layer.wait_for(state="hidden")


@pytest.mark.parametrize("width", [1280, 1920])
def test_screenshots_at_desktop_widths(page, width, tmp_path_factory):
    page.set_viewport_size({"width": width, "height": 900})
    page.wait_for_timeout(200)
    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "the page scrolls sideways; only the overview should"
    shot = tmp_path_factory.mktemp("screenshots") / f"overview-{width}.png"
    page.screenshot(path=str(shot))
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000


@pytest.mark.parametrize("width", [1024, 600])
def test_narrow_windows_keep_the_controls_usable(page, width):
    page.set_viewport_size({"width": width, "height": 800})
    page.wait_for_timeout(200)
    assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
    for selector in (".ts-sample", ".ts-drop", "label[for=ts-range-global]", ".ts-readout"):
        box = page.locator(selector).first.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, selector


def test_a_long_model_name_stays_on_one_header_line(page, model):
    status = page.locator(".ts-status")
    assert model["name"] in status.get_attribute("title") == status.text_content()
    header = page.locator(".ts-top")
    height = header.bounding_box()["height"]
    status.evaluate("(el, name) => { el.textContent = name; }", "TinyVGG (Fashion-MNIST) " * 12)
    assert header.bounding_box()["height"] == height
    for locator in page.locator(".ts-top-button").all():  # the header's buttons all stay visible
        button = locator.bounding_box()
        assert button["x"] + button["width"] <= page.viewport_size["width"]
    assert status.evaluate("(el) => el.scrollWidth > el.clientWidth"), "cut short, not wrapped"


def test_layer_names_keep_to_one_line_at_1440(page, model):
    """A name a little wider than its column (max_pool_1) takes smaller type, not two lines."""
    page.set_viewport_size({"width": 1440, "height": 900})
    page.wait_for_timeout(200)
    lines = layer_name_lines(page)
    assert {"max_pool_1", "conv_1_1"} <= set(lines)
    assert all(entry == (1, False) for entry in lines.values()), lines
