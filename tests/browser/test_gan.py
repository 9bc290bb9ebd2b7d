"""GAN Lab in a real Chromium against a real server: play, pause, step, live settings, drawing.

The test fails on any console error or page error.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("torch")

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def gan(live_server, browser_page):
    page = browser_page
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.goto(live_server.url + "gan?preset=gaussians&pretrained=0")
    page.wait_for_selector('body[data-state="ready"]', timeout=60_000)
    yield page
    assert not problems, "\n".join(problems)


def epoch(page) -> int:
    return int(page.locator(".tsg-app").get_attribute("data-epoch"))


def wait_epoch_above(page, value: int) -> None:
    page.wait_for_function(
        f"() => Number(document.querySelector('.tsg-app').dataset.epoch) > {value}", timeout=30_000
    )


def test_play_change_lr_pause_and_step(gan):
    page = gan
    app = page.locator(".tsg-app")
    assert epoch(page) == 0
    fake_before = app.get_attribute("data-fake-x")
    play = page.locator('[data-role="play"]')
    play.click()
    page.wait_for_selector('[data-role="play"][aria-pressed="true"]')
    wait_epoch_above(page, 30)
    assert app.get_attribute("data-fake-x") != fake_before, "the fakes move while training"

    # A learning rate changed while training applies live: same run, training goes on.
    page.locator('select[data-setting="g_lr"]').select_option("0.01")
    page.wait_for_function(
        "() => window.tensorsightGan.frame().meta.settings.g_lr === 0.01", timeout=30_000
    )
    now = epoch(page)
    assert now > 30, "a live setting does not restart the experiment"
    wait_epoch_above(page, now + 20)
    assert play.get_attribute("aria-pressed") == "true"

    play.click()
    page.wait_for_selector('[data-role="play"][aria-pressed="false"]')
    page.wait_for_timeout(300)
    paused = epoch(page)
    page.wait_for_timeout(700)
    assert epoch(page) == paused, "paused means no more epochs"

    page.locator('[data-role="step"]').click()
    wait_epoch_above(page, paused)
    assert epoch(page) == paused + 1
    page.locator('[data-role="step-g"]').click()
    wait_epoch_above(page, paused + 1)
    assert epoch(page) == paused + 2


@pytest.mark.parametrize(("width", "height"), [(1000, 600), (390, 844)])
def test_drawing_lands_where_the_pointer_was_even_scrolled_and_resized(gan, width, height):
    """On a phone the plot is drawn smaller than its 420 pixels: positions still land."""
    page = gan
    page.set_viewport_size({"width": width, "height": height})
    page.locator('[data-role="draw"]').click()
    canvas = page.locator('[data-role="plot"]')
    canvas.scroll_into_view_if_needed()
    page.evaluate("() => document.querySelector('.tsg-app .ts-body').scrollBy(0, 40)")
    box = canvas.bounding_box()
    assert box is not None

    # A stroke along the diagonal from plot (0.2, 0.2) to (0.8, 0.8) (y up), inside the canvas.
    def at(u: float, v: float) -> tuple[float, float]:
        return box["x"] + u * box["width"], box["y"] + (1 - v) * box["height"]

    page.mouse.move(*at(0.2, 0.2))
    page.mouse.down()
    for k in range(1, 31):
        page.mouse.move(*at(0.2 + 0.02 * k, 0.2 + 0.02 * k))
    page.mouse.up()
    assert int(page.locator(".tsg-app").get_attribute("data-drawn")) > 10
    page.locator('[data-role="draw"]').click()  # finish drawing
    page.wait_for_function(
        "() => window.tensorsightGan.frame().meta.distribution === 'drawing'", timeout=30_000
    )
    real = page.evaluate("() => Array.from(window.tensorsightGan.frame().arrays.real.data)")
    points = list(zip(real[0::2], real[1::2], strict=True))
    off_diagonal = [abs(x - y) for x, y in points]
    assert sum(off_diagonal) / len(points) < 0.05, "drawn points sit on the drawn diagonal"
    assert 0.15 < min(x for x, _ in points) < 0.3 and 0.7 < max(x for x, _ in points) < 0.85

    page.locator('[data-role="play"]').click()
    fakes = page.evaluate("() => Array.from(window.tensorsightGan.frame().arrays.fake.data)")
    wait_epoch_above(page, 50)
    moved = page.evaluate("() => Array.from(window.tensorsightGan.frame().arrays.fake.data)")
    assert moved != fakes, "the fakes move towards the drawing"


def test_slow_motion_shows_the_stages_and_pointer_reads_d(gan):
    page = gan
    page.locator('[data-role="slow"]').click()
    stage = page.locator(".tsg-stage")
    stage.wait_for(state="visible", timeout=10_000)
    assert re.match(r"\d+/10 · ", stage.inner_text())
    box = page.locator('[data-role="plot"]').bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.move(box["x"] + box["width"] / 2 + 3, box["y"] + box["height"] / 2)
    page.wait_for_function(
        "() => document.querySelector('[data-role=readout]').dataset.value", timeout=10_000
    )
    value = float(page.locator('[data-role="readout"]').get_attribute("data-value"))
    assert 0 <= value <= 1
    assert "(0.50" in page.locator('[data-role="readout"]').inner_text()


def test_the_explainer_header_links_to_gan_lab(live_server, browser_page):
    browser_page.goto(live_server.url)
    browser_page.wait_for_selector('body[data-state="ready"]', timeout=90_000)
    browser_page.get_by_role("link", name="GAN Lab").click()
    browser_page.wait_for_url(re.compile(r"/gan$"))
    browser_page.wait_for_selector('body[data-state="ready"]', timeout=60_000)


def test_one_d_mode_and_wgan_gp_critic(live_server, browser_page):
    page = browser_page
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(live_server.url + "gan?preset=bimodal1d&pretrained=0")
    page.wait_for_selector('body[data-state="ready"]', timeout=60_000)
    assert page.evaluate("() => window.tensorsightGan.frame().meta.dim") == 1
    page.locator('select[data-setting="loss"]').select_option("minimax")
    page.locator('[data-role="play"]').click()
    wait_epoch_above(page, 20)
    page.locator('select[data-setting="loss"]').select_option("wgan-gp")
    page.wait_for_function(
        "() => window.tensorsightGan.frame().meta.d_scale === 'critic'", timeout=30_000
    )
    page.locator('[data-role="play"]').click()
    page.goto(live_server.url + "gan?preset=ring8&pretrained=0")
    page.wait_for_selector('body[data-state="ready"]', timeout=60_000)
    page.locator('select[data-setting="loss"]').select_option("wgan-gp")
    page.locator('[data-role="step"]').click()
    page.wait_for_function(
        "() => window.tensorsightGan.frame().arrays.interpolate_norms", timeout=30_000
    )
    assert "modes covered" in page.locator('[data-role="numbers"]').inner_text()
    assert page.locator(".ts-legend").count() == 2  # D's critic scale and the |∇D| scale
    assert not problems, "\n".join(problems)


def test_the_charts_sit_beside_the_plot_at_1440_and_the_plot_fits_a_phone(gan):
    page = gan
    page.set_viewport_size({"width": 1440, "height": 900})
    page.wait_for_timeout(200)
    plot = page.locator('[data-role="plot"]').bounding_box()
    charts = [box.bounding_box() for box in page.locator(".tsg-chart-box").all()]
    assert len(charts) == 4
    for chart in charts:  # all four on screen, right of the plot: two columns of two
        assert chart["x"] >= plot["x"] + plot["width"] and chart["y"] + chart["height"] <= 900
    assert len({round(chart["x"]) for chart in charts}) == 2
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(200)
    plot = page.locator('[data-role="plot"]').bounding_box()
    assert plot["x"] >= 0 and plot["x"] + plot["width"] <= 390
    assert plot["width"] == pytest.approx(plot["height"])
