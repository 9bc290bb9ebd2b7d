"""Uploading pictures in the page (file picker and drag and drop), against a real server.

The pictures are made with Pillow; the page must show the image exactly as the server says the
model sees it, and a file that is not an image must produce the server's own error sentence in
the page while the server keeps answering.
"""

from __future__ import annotations

import base64
import io

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFilter

pytestmark = pytest.mark.browser

READY = "body[data-state=ready]"


def photo_of_a_shoe() -> bytes:
    """A JPEG 'photo': a dark sneaker shape on a light, noisy, gradient background."""
    image = Image.linear_gradient("L").resize((320, 240)).convert("RGB")
    image = Image.blend(image, Image.new("RGB", image.size, (235, 228, 215)), 0.7)
    draw = ImageDraw.Draw(image)
    draw.polygon(
        [(40, 170), (70, 110), (150, 120), (230, 150), (285, 165), (285, 195), (40, 195)],
        fill=(40, 45, 60),
    )
    draw.rectangle((40, 195, 285, 208), fill=(230, 230, 230))
    image = image.filter(ImageFilter.GaussianBlur(1.2))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture
def page(live_server, browser_page):
    browser_page.goto(live_server.url)
    browser_page.wait_for_selector(READY, timeout=60_000)
    return browser_page


def expected_model_view(live_server, data: bytes, name: str) -> str:
    response = httpx.post(live_server.url + "api/runs", files={"image": (name, data)}, timeout=60)
    assert response.status_code == 201, response.text
    return response.json()["input_png_base64"]


def wait_for_new_run(page, previous: str) -> None:
    page.wait_for_function(
        "(run) => document.body.dataset.state === 'ready'"
        " && document.querySelector('.ts-app').dataset.runId !== run",
        arg=previous,
        timeout=60_000,
    )


def shown_model_view(page) -> str:
    return (
        page.locator(".ts-model-view").get_attribute("src").removeprefix("data:image/png;base64,")
    )


def test_uploaded_photo_is_shown_as_the_model_sees_it(page, live_server):
    data = photo_of_a_shoe()
    previous = page.locator(".ts-app").get_attribute("data-run-id")
    page.set_input_files(
        "#ts-file-input", files=[{"name": "shoe.jpg", "mimeType": "image/jpeg", "buffer": data}]
    )
    wait_for_new_run(page, previous)

    assert shown_model_view(page) == expected_model_view(live_server, data, "shoe.jpg")
    model = httpx.get(live_server.url + "api/model", timeout=30).json()
    seen = Image.open(io.BytesIO(base64.b64decode(shown_model_view(page))))
    assert seen.size == (model["input"]["width"], model["input"]["height"])
    assert page.locator(".ts-alert").is_hidden()
    assert page.locator(".ts-sample[aria-pressed=true]").count() == 0
    assert page.locator("canvas.ts-map.ts-painted").count() > 0


def test_dropping_an_image_file_runs_it(page, live_server):
    data = photo_of_a_shoe()
    previous = page.locator(".ts-app").get_attribute("data-run-id")
    page.locator(".ts-upload").evaluate(
        """(zone, encoded) => {
        const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], 'dropped.jpg', {type: 'image/jpeg'}));
        for (const type of ['dragenter', 'dragover', 'drop']) {
            zone.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true,
                                                    cancelable: true}));
        }
    }""",
        base64.b64encode(data).decode(),
    )
    wait_for_new_run(page, previous)
    assert shown_model_view(page) == expected_model_view(live_server, data, "dropped.jpg")


@pytest.mark.allow_console_error(r"status of 415")
def test_a_file_that_is_not_an_image_shows_the_servers_error(page, live_server):
    junk = b"%PDF-1.4 this is not a picture\n" * 20
    refused = httpx.post(
        live_server.url + "api/runs", files={"image": ("notes.pdf", junk)}, timeout=30
    )
    assert 400 <= refused.status_code < 500

    page.set_input_files(
        "#ts-file-input",
        files=[{"name": "notes.pdf", "mimeType": "application/pdf", "buffer": junk}],
    )
    page.wait_for_selector("body[data-state=error]")
    alert = page.locator(".ts-alert[role=alert]")
    assert alert.is_visible()
    assert refused.json()["error"] in alert.text_content()

    # The page and the server both carry on: the next sample runs and clears the message.
    previous = page.locator(".ts-app").get_attribute("data-run-id")
    page.locator(".ts-sample").last.click()
    wait_for_new_run(page, previous)
    assert alert.is_hidden()


def test_samples_are_reachable_with_the_keyboard(page):
    previous = page.locator(".ts-app").get_attribute("data-run-id")
    page.locator(".ts-sample").last.focus()
    page.keyboard.press("Enter")
    wait_for_new_run(page, previous)
    assert page.locator(".ts-sample").last.get_attribute("aria-pressed") == "true"
