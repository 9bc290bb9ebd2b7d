"""``tensorsight export``: the site a plain static file server serves, walked view by view.

The site is served by ``python -m http.server`` on loopback: no tensorsight code runs while the
browser reads it.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from _processes import serving
from tensorsight.explanation.pack import decode_pack

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SAMPLES = ("ankle-boot-1", "bag-1")
READY_MS = 90_000


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("export") / "site"
    command = [sys.executable, "-m", "tensorsight", "export", str(folder)]
    for sample in SAMPLES:
        command += ["--sample", sample]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert f"{len(SAMPLES)} samples" in done.stdout and "http.server" in done.stdout
    return folder


@pytest.fixture(scope="module")
def static_url(site: Path) -> Iterator[str]:
    command = [
        sys.executable,
        "-u",
        "-m",
        "http.server",
        "--bind",
        "127.0.0.1",
        "--directory",
        str(site),
        "0",
    ]
    with serving(command, r"Serving HTTP on \S+ port (\d+)", timeout_s=30) as port:
        yield f"http://127.0.0.1:{port}/"


def test_the_site_is_plain_files(site: Path) -> None:
    assert (site / "index.html").read_text(encoding="utf-8").count('data-source="static"') == 1
    assert (site / "static" / "app.js").is_file() and (site / "data" / "model.json").is_file()
    assert sorted(path.stem for path in (site / "data" / "samples").glob("*.png")) == sorted(
        SAMPLES
    )
    assert not list(site.rglob("*.py"))


def test_a_static_server_shows_every_view(static_url: str, browser_page) -> None:
    page = browser_page
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(static_url)
    page.wait_for_selector("body[data-state=ready]", timeout=READY_MS)
    # Uploads are off, and the page says why.
    assert page.locator("#ts-file-input").count() == 0
    assert "static copy" in page.locator(".ts-uploads-off").inner_text()
    model = httpx.get(static_url + "data/model.json", timeout=30).json()
    assert page.locator("canvas.ts-map.ts-painted").count() > 20

    # Every layer's detail view opens with the numbers of the exported pack.
    for node in model["nodes"]:
        target = page.locator(f".ts-unit [data-node='{node['id']}'][data-channel]").first
        with page.expect_response(lambda response: "/detail/" in response.url) as info:
            target.click()
        response = info.value
        assert response.status == 200, (node["name"], response.url)
        frame = page.locator(".tsd-detail[data-ready]")
        frame.wait_for()
        assert frame.locator(".tsd-error").count() == 0, frame.inner_text()
        assert node["name"] in frame.locator(".tsd-detail-sub").inner_text()
        page.keyboard.press("Escape")
        frame.wait_for(state="detached")

    # The convolution formula: its window terms come from the exported pack.
    conv = next(node for node in model["nodes"] if node["kind"] == "conv2d")
    page.locator(f".ts-unit [data-node='{conv['id']}'][data-channel='1']").click()
    frame = page.locator(".tsd-detail[data-ready]")
    frame.get_by_role("tab", name="Formula for one window").click()
    products = frame.locator('[data-role="conv-formula"] [data-part="products"] .tsd-cell')
    products.first.wait_for()
    assert frame.locator(".tsd-error").count() == 0
    assert any(float(cell.get_attribute("data-value")) for cell in products.all())
    page.keyboard.press("Escape")
    frame.wait_for(state="detached")

    # The other sample's run, and the hover readout's exact values.
    page.click(f".ts-sample[data-sample='{SAMPLES[1]}']")
    page.wait_for_function(
        "id => document.querySelector('.ts-app').dataset.runId === id"
        " && document.body.dataset.state === 'ready'",
        arg=SAMPLES[1],
    )
    conv = next(node for node in model["nodes"] if node["kind"] == "conv2d")
    canvas = page.locator(f"canvas.ts-map[data-node='{conv['id']}'][data-channel='2']")
    canvas.hover()
    readout = page.locator(".ts-readout[data-state=value]")
    readout.wait_for()
    row, col = int(readout.get_attribute("data-row")), int(readout.get_attribute("data-col"))
    packed = httpx.get(
        f"{static_url}data/runs/{SAMPLES[1]}/f32/{conv['id']}/2.pack.gz", timeout=30
    ).content
    _, arrays = decode_pack(gzip.decompress(packed))
    assert float(readout.get_attribute("data-value")) == float(arrays[conv["id"]][0][row, col])
    assert not problems, problems
