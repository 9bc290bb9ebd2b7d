"""Share and save: the URL says what is shown and reopening it restores that view; the overview
and every detail view save as PNG and SVG with legible numbers."""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest
from _graph_page import open_detail, picture_png, upload_png
from PIL import Image

pytestmark = [pytest.mark.browser, pytest.mark.slow]

READY_MS = 90_000


def fragment(page: Any) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(page.url).fragment).items()}


def ready(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-state=ready]", timeout=READY_MS)


@pytest.fixture
def model(live_server) -> dict[str, Any]:
    return httpx.get(live_server.url + "api/model", timeout=30).json()


def test_a_link_reopens_sample_view_channel_window_and_colours(
    live_server, browser_page, model
) -> None:
    page = browser_page
    ready(page, live_server.url)
    samples = httpx.get(live_server.url + "api/samples", timeout=30).json()
    page.click(f".ts-sample[data-sample='{samples[3]['id']}']")
    page.wait_for_function(
        "id => document.querySelector('.ts-sample[aria-pressed=true]')?.dataset.sample === id"
        " && document.body.dataset.state === 'ready'",
        arg=samples[3]["id"],
    )
    page.click("label[for=ts-range-block]")
    conv = [node for node in model["nodes"] if node["kind"] == "conv2d"][1]
    view = open_detail(page, conv["id"], 4)
    view.frame.get_by_role("tab", name="Formula for one window").click()
    output_map = view.frame.locator('.tsd-conv-formula-maps .tsd-heat[data-part="output"]')
    output_map.focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowUp")
    where = view.frame.locator(".tsd-position").inner_text()
    row, col = map(int, re.findall(r"\d+", where))
    state = fragment(page)
    # The model is named by its id where the server offers several, else by its name.
    models = httpx.get(live_server.url + "api/models", timeout=30).json()
    shown_model = models[0]["id"] if len(models) > 1 else model["name"]
    assert state == {
        "model": shown_model,
        "sample": samples[3]["id"],
        "node": conv["id"],
        "channel": "4",
        "at": f"{row},{col}",
        "tab": "formula",
        "range": "block",
    }

    link = page.url
    again = page.context.new_page()
    try:
        ready(again, link)
        frame = again.locator(".tsd-detail[data-ready]")
        frame.wait_for()
        assert (
            again.locator(".ts-sample[aria-pressed=true]").get_attribute("data-sample")
            == samples[3]["id"]
        )
        assert again.locator("#ts-range-block").is_checked()
        assert conv["name"] in frame.locator(".tsd-detail-sub").inner_text()
        assert "channel 4" in frame.locator(".tsd-detail-sub").inner_text()
        assert (
            frame.get_by_role("tab", name="Formula for one window").get_attribute("aria-selected")
            == "true"
        )
        assert frame.locator(".tsd-position").inner_text() == where
        assert fragment(again) == state
        # Closing the view takes it out of the link.
        again.keyboard.press("Escape")
        frame.wait_for(state="detached")
        assert "node" not in fragment(again) and fragment(again)["sample"] == samples[3]["id"]
    finally:
        again.close()


def test_a_link_to_an_upload_reopens_the_run_while_the_server_keeps_it(
    live_server, browser_page
) -> None:
    page = browser_page
    ready(page, live_server.url)
    run_id = upload_png(page, picture_png(64, 64, 1))
    state = fragment(page)
    assert state["run"] == run_id and "sample" not in state
    again = page.context.new_page()
    try:
        ready(again, page.url)
        assert again.locator(".ts-app").get_attribute("data-run-id") == run_id
        assert again.locator(".ts-sample[aria-pressed=true]").count() == 0
        # A run the server no longer has: the first sample, and a sentence saying why.
        again.goto("about:blank")  # a new document, not a jump within this one
        ready(again, live_server.url + "#run=000000000000")
        alert = again.locator(".ts-alert:not([hidden])")
        alert.wait_for()
        assert "no longer kept" in alert.inner_text()
        assert again.locator(".ts-sample[aria-pressed=true]").count() == 1
    finally:
        again.close()


def saved(page: Any, button: Any) -> tuple[str, bytes]:
    with page.expect_download() as info:
        button.click()
    download = info.value
    return download.suggested_filename, download.path().read_bytes()


def assert_png_picture(data: bytes, min_width: int) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG" and image.width >= min_width, image.size
    pixels = np.asarray(image.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # drawn maps, not a blank page
    return image


def test_overview_and_detail_views_save_as_png_and_svg(live_server, browser_page, model) -> None:
    page = browser_page
    ready(page, live_server.url)
    top = page.locator(".ts-prob-top .ts-prob-value").inner_text()  # e.g. "93.9%"
    toolbar = page.locator(".ts-toolbar")
    name, data = saved(page, toolbar.locator(".ts-save[data-format=svg]"))
    assert name.endswith("-overview.svg")
    svg = data.decode("utf-8")
    assert svg.startswith("<svg") and "<foreignObject" in svg
    assert top in svg and model["classes"][0] in svg  # the numbers travel as text
    assert svg.count("data:image/png;base64,") >= 10  # every drawn map is embedded
    name, data = saved(page, toolbar.locator(".ts-save[data-format=png]"))
    stage_width = page.locator(".ts-stage").evaluate("e => e.scrollWidth")
    image = assert_png_picture(data, min_width=2 * stage_width - 2)  # twice the size: legible

    conv = next(node for node in model["nodes"] if node["kind"] == "conv2d")
    view = open_detail(page, conv["id"], 1)
    view.frame.get_by_role("tab", name="Formula for one window").click()
    output = view.frame.locator('.tsd-conv-channel-sum [data-role="output-value"]').inner_text()
    foot = view.frame.locator(".ts-detail-foot")
    name, data = saved(page, foot.locator(".ts-save[data-format=svg]"))
    assert name.endswith(".svg") and conv["name"].replace("_", "-") in name
    svg = data.decode("utf-8")
    assert output in svg and "window at output" in svg
    name, data = saved(page, foot.locator(".ts-save[data-format=png]"))
    frame_width = view.frame.evaluate("e => e.getBoundingClientRect().width")
    assert_png_picture(data, min_width=int(2 * frame_width) - 2)
    assert image.width > 0
    # Saving leaves the view open and the page working.
    assert view.frame.is_visible()
