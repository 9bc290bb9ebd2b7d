"""The hyper-parameter playground in a real Chromium, opened from the page of a real server.

PyTorch is the oracle for the output size: the playground must agree with ``F.conv2d`` for every
setting tried, warn exactly when the stride does not fit, and slide the window over the cells a
convolution really reads.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SETTINGS = [  # (n, p, k, s, d)
    (7, 0, 3, 1, 1),
    (8, 1, 3, 2, 2),
    (9, 0, 3, 2, 1),
    (10, 2, 5, 3, 1),
    (15, 3, 7, 4, 3),
    (6, 1, 2, 4, 1),
]


def torch_output_size(n: int, p: int, k: int, s: int, d: int) -> int:
    x = torch.zeros(1, 1, n, n)
    w = torch.zeros(1, 1, k, k)
    return F.conv2d(x, w, stride=s, padding=p, dilation=d).shape[-1]


@pytest.fixture
def playground(live_server, browser_page) -> Any:
    page = browser_page
    page.goto(live_server.url)
    page.wait_for_selector('body[data-state="ready"]', timeout=90_000)
    page.get_by_role("button", name=re.compile("playground", re.IGNORECASE)).click()
    frame = page.locator(".tsd-playground")
    frame.wait_for()
    return frame


def set_controls(frame, **values: int) -> None:
    for key, value in values.items():
        frame.locator(f'input[data-control="{key}"]').fill(str(value))


@pytest.mark.parametrize(("n", "p", "k", "s", "d"), SETTINGS)
def test_output_size_and_warning_match_pytorch(playground, n, p, k, s, d):
    set_controls(playground, n=n, p=p, k=k, s=s, d=d)
    expected = torch_output_size(n, p, k, s, d)
    assert playground.locator('[data-role="output-size"]').inner_text() == str(expected)
    reach = n + 2 * p - d * (k - 1) - 1
    assert f"⌊({n} + 2·{p} − {d}·({k} − 1) − 1) / {s}⌋ + 1 = ⌊{reach} / {s}⌋ + 1" in (
        playground.locator('[data-role="size-numbers"]').inner_text()
    )
    assert playground.locator(".tsd-pg-output .tsd-pg-cell").count() == expected * expected
    warning = playground.locator('[data-role="warning"]')
    ignored = reach % s
    if ignored:
        assert warning.is_visible() and "stride does not fit" in warning.inner_text()
        padded = n + 2 * p
        assert playground.locator(".tsd-pg-ignored").count() == padded**2 - (padded - ignored) ** 2
    else:
        assert warning.is_hidden()
        assert playground.locator(".tsd-pg-ignored").count() == 0


def test_window_follows_the_output_cell(playground, browser_page, tmp_path):
    n, p, k, s, d = 8, 1, 3, 2, 2
    set_controls(playground, n=n, p=p, k=k, s=s, d=d)
    out = torch_output_size(n, p, k, s, d)
    padded = n + 2 * p
    i, j = out - 1, 1
    playground.locator(f'.tsd-pg-output .tsd-pg-cell[data-row="{i}"][data-col="{j}"]').hover()
    taps = {
        (int(c.get_attribute("data-row")), int(c.get_attribute("data-col")))
        for c in playground.locator(".tsd-pg-tap").all()
    }
    assert taps == {(i * s + a * d, j * s + b * d) for a in range(k) for b in range(k)}
    assert all(r < padded and c < padded for r, c in taps)
    # The cells a convolution reads are exactly those that change the output: PyTorch says so.
    x = torch.zeros(1, 1, n, n, requires_grad=True)
    F.conv2d(x, torch.ones(1, 1, k, k), stride=s, padding=p, dilation=d)[0, 0, i, j].backward()
    read = {(r + p, c + p) for r, c in (x.grad[0, 0] != 0).nonzero().tolist()}
    assert read == {(r, c) for r, c in taps if p <= r < p + n and p <= c < p + n}

    grid = playground.locator(".tsd-pg-output")
    grid.focus()
    browser_page.keyboard.press("ArrowUp")
    browser_page.keyboard.press("ArrowRight")
    assert grid.get_attribute("data-position") == f"{i - 1},{j + 1}"
    play = playground.locator('[data-role="play"]')
    play.click()
    assert play.get_attribute("aria-pressed") == "true"
    browser_page.wait_for_function(
        f"() => document.querySelector('.tsd-pg-output').dataset.position !== '{i - 1},{j + 1}'"
    )
    play.click()
    assert play.get_attribute("aria-pressed") == "false"
    target = Path(os.environ.get("TS_SCREENSHOTS", tmp_path))
    target.mkdir(parents=True, exist_ok=True)
    browser_page.screenshot(path=str(target / "playground.png"))


def test_kernel_larger_than_input_says_there_is_no_output(playground):
    set_controls(playground, n=3, p=0, k=7, s=1, d=1)
    assert playground.locator('[data-role="output-size"]').inner_text() == "no output"
    assert "no output" in playground.locator('[data-role="warning"]').inner_text()
    assert playground.locator(".tsd-pg-output .tsd-pg-cell").count() == 0


def test_playground_closes_with_escape_and_button(playground, browser_page):
    browser_page.keyboard.press("Escape")
    playground.wait_for(state="detached")
    browser_page.get_by_role("button", name=re.compile("playground", re.IGNORECASE)).click()
    frame = browser_page.locator(".tsd-playground")
    frame.get_by_role("button", name=re.compile("^Close")).click()
    frame.wait_for(state="detached")
