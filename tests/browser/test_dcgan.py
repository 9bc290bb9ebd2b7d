"""`tensorsight serve --model dcgan` in a real Chromium: the shipped generator's images, the
latent vector as input (new z, sliders, a walk), the transposed-convolution view showing
torch's numbers, the discriminator's verdict, and the playground's transposed mode.

Every test fails on any console or page error.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from _graph_page import open_detail

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from tensorsight.models import load_model  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LATENT_URL = re.compile(r"/api/latent-runs$")


@pytest.fixture(scope="module")
def generator() -> Any:
    return load_model("dcgan")


@pytest.fixture
def page(server_factory, browser_page) -> Any:
    problems: list[str] = []
    browser_page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    browser_page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )
    server = server_factory(["--model", "dcgan"])
    with browser_page.expect_response(lambda r: LATENT_URL.search(r.url)) as first:
        browser_page.goto(server.url)
    browser_page.wait_for_selector('body[data-state="ready"]', timeout=90_000)
    browser_page.first_run = first.value.json()
    yield browser_page
    assert not problems, problems


def _latent_run(page: Any, action) -> dict:
    with page.expect_response(lambda r: LATENT_URL.search(r.url)) as info:
        action()
    page.wait_for_selector('body[data-state="ready"]')
    assert info.value.status == 201, info.value.text()
    return info.value.json()


def test_the_generated_garment_and_its_latent_numbers_are_shown(page, generator) -> None:
    run = page.first_run
    latent = generator.card["latent_dim"]
    cells = page.locator('[data-role="latent-numbers"] .ts-latent-cell')
    assert cells.count() == latent
    shown = [float(cells.nth(i).get_attribute("data-value")) for i in range(latent)]
    assert shown == pytest.approx(run["latent"], abs=1e-6)
    for i in range(latent):  # each cell on one line, its number rounded to what fits
        text = cells.nth(i).inner_text()
        assert "e" not in text and "\n" not in text
        assert float(text) == pytest.approx(
            run["latent"][i], abs=0.051 if abs(float(text)) >= 0.1 else 0.0051
        )
    width = page.locator('[data-role="generated"]').evaluate("img => img.naturalWidth")
    assert width == generator.card["architecture"]["generator"]["image_size"]
    verdict = page.locator('[data-role="verdict"]').inner_text()
    assert f"{100 * run['verdict']['p_real']:.1f}%" in verdict
    kinds = {
        node["kind"] for node in page.evaluate("fetch('/api/model').then(r => r.json())")["nodes"]
    }
    assert {"conv_transpose2d", "batch_norm", "relu", "tanh"} <= kinds


def test_new_z_sliders_and_a_walk_rerun_every_layer(page) -> None:
    first = page.first_run
    fresh = _latent_run(page, lambda: page.locator('[data-role="new-z"]').click())
    assert fresh["latent"] != first["latent"]
    slider = page.locator('[data-role="latent-slider"]').first
    moved = _latent_run(page, lambda: slider.fill("2.5"))
    assert moved["latent"][0] == pytest.approx(2.5)
    assert moved["latent"][1:] == pytest.approx(fresh["latent"][1:])
    seen: list[dict] = []
    page.on("response", lambda r: seen.append(r) if LATENT_URL.search(r.url) else None)
    page.locator('[data-role="walk"]').click()
    page.wait_for_function(
        "() => document.querySelector('[data-role=walk]').getAttribute('aria-pressed') === 'false'",
        timeout=120_000,
    )
    latents = [response.json()["latent"] for response in seen]
    assert len(latents) >= 24
    # A straight line from the slider's z: the first step is 1/24 of the way.
    end = torch.tensor(latents[23])
    start = torch.tensor(moved["latent"])
    torch.testing.assert_close(
        torch.tensor(latents[0]), start + (end - start) / 24, atol=1e-5, rtol=1e-5
    )


def test_transposed_convolution_view_shows_torchs_numbers(page, generator) -> None:
    run = page.first_run
    nodes = page.evaluate("fetch('/api/model').then(r => r.json())")["nodes"]
    node = next(n for n in nodes if n["module_path"] == "conv_t_2")
    view = open_detail(page, node["id"], 0)
    z = torch.tensor(run["latent"]).reshape(1, -1, 1, 1)
    model = generator.model
    with torch.no_grad():
        before = model.relu_1(model.batch_norm_1(model.conv_t_1(z)))
        expected = F.conv_transpose2d(before, model.conv_t_2.weight, stride=2, padding=1)[0, 0]
    torch.testing.assert_close(torch.tensor(view.arrays["output"]), expected, atol=1e-5, rtol=1e-5)
    canvas = view.frame.locator('[data-part="output"].tsd-heat')
    canvas.first.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    shown = view.frame.locator('[data-role="output-value"]').first.get_attribute("data-value")
    assert float(shown) == pytest.approx(float(expected[1, 1]), abs=1e-5)
    scatter_value = view.frame.locator('[data-role="channel-value"]').first.get_attribute(
        "data-value"
    )
    view.frame.locator('[data-level="conv"]').click()
    conv_value = view.frame.locator('[data-role="channel-value"]').first.get_attribute("data-value")
    assert float(conv_value) == pytest.approx(float(scatter_value), abs=1e-6)
    assert (
        view.frame.locator('[data-role="output-value"]').first.get_attribute("data-value") == shown
    )


def test_playground_transposed_mode_shows_the_checkerboard(page) -> None:
    page.get_by_role("button", name=re.compile("playground", re.IGNORECASE)).click()
    page.locator('[data-mode="transposed"]').click()
    frame = page.locator(".tsd-playground-transposed")
    frame.wait_for()
    for n, k, s, p, a in [(4, 3, 2, 0, 0), (4, 4, 2, 1, 0), (5, 3, 2, 1, 1), (3, 5, 3, 2, 2)]:
        for key, value in {"n": n, "k": k, "s": s, "p": p, "a": a}.items():
            frame.locator(f'input[data-control="{key}"]').fill(str(value))
        expected = F.conv_transpose2d(
            torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p, output_padding=a
        ).shape[-1]
        assert frame.locator('[data-role="output-size"]').inner_text() == str(expected)
        checkerboard = frame.locator('[data-role="checkerboard"]')
        assert checkerboard.is_visible() == (k % s != 0)
    page.locator('[data-mode="conv"]').click()
    page.locator(".tsd-playground:not(.tsd-playground-transposed)").wait_for()


def test_a_photo_is_judged_by_the_discriminator_with_an_honest_note(page, tmp_path) -> None:
    from PIL import Image

    photo = tmp_path / "shirt.png"
    Image.new("RGB", (60, 80), (235, 235, 235)).save(photo)
    page.locator(".ts-latent-judge summary").click()
    with page.expect_response(lambda r: r.url.endswith("/api/verdicts")) as info:
        page.locator('[data-role="judge-upload"]').set_input_files(str(photo))
    answer = info.value.json()
    page.wait_for_function(
        "() => document.querySelector('[data-role=photo-verdict]')"
        ".textContent.startsWith('Discriminator')"
    )
    text = page.locator('[data-role="photo-verdict"]').inner_text()
    assert f"{100 * answer['p_real']:.1f}%" in text
    assert (
        "not whether a photo is genuine" in page.locator('[data-role="verdict-note"]').inner_text()
    )
