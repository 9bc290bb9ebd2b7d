"""A real ``tensorsight serve`` subprocess on loopback, hit over HTTP with httpx."""

from __future__ import annotations

import re
import threading
import time

import httpx
import numpy as np
import pytest

from tensorsight.web import static_dir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def http(live_server):
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        yield client


def assert_still_serving(http, sample_png: bytes) -> None:
    response = http.post("/api/runs", content=sample_png, headers={"content-type": "image/png"})
    assert response.status_code == 201, response.text


def test_serves_on_loopback_and_says_so(live_server):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", live_server.url)
    assert "this computer only" in live_server.output


def test_model_and_samples(http):
    info = http.get("/api/model").json()
    assert info["nodes"][0]["kind"] == "input" and info["nodes"][-1]["kind"] == "softmax"
    samples = http.get("/api/samples").json()
    assert samples, "the default model ships sample images"
    png = http.get(samples[0]["url"])
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    run = http.post("/api/runs", json={"sample": samples[0]["id"]})
    assert run.status_code == 201
    assert len(run.json()["output"]["probabilities"]) == len(info["classes"])


@pytest.mark.parametrize("how", ["raw", "multipart"])
def test_real_image_files_are_explained(http, upload, good_image, how):
    response = upload(http, *good_image, how)
    assert response.status_code == 201, response.text
    overview = response.json()
    assert np.isclose(sum(overview["output"]["probabilities"]), 1.0, atol=1e-5)
    nodes = http.get("/api/model").json()["nodes"]
    first_conv = next(node["id"] for node in nodes if node["kind"] == "conv2d")
    assert first_conv in overview["nodes"]
    pack = http.get(
        f"/api/runs/{overview['run_id']}/activations",
        params={"nodes": first_conv, "channels": "0:1"},
    )
    assert pack.status_code == 200 and pack.content.startswith(b"TSP1")


def test_bad_files_are_refused_and_the_server_keeps_serving(http, bad_image, sample_png):
    data, status = bad_image
    response = http.post("/api/runs", files={"image": ("upload.png", data, "image/png")})
    assert response.status_code == status, response.text
    assert response.json()["error"]
    assert_still_serving(http, sample_png)


def test_oversize_upload_is_refused_by_declared_length(http, sample_png):
    response = http.post(
        "/api/runs", content=b"\0" * 25_000_000, headers={"content-type": "image/png"}
    )
    assert response.status_code == 413
    assert "the limit is 20.0 MiB" in response.json()["error"]
    assert_still_serving(http, sample_png)


def test_oversize_upload_without_length_is_cut_off(http, sample_png):
    def chunks():
        for _ in range(350):  # 22.9 MB in 64 KiB pieces, sent chunked (no Content-Length)
            yield b"\0" * 65536

    try:
        response = http.post("/api/runs", content=chunks(), headers={"content-type": "image/png"})
    except httpx.WriteError:
        pass  # the server may answer and close before the client finishes sending
    else:
        assert response.status_code == 413
        assert "the limit is 20.0 MiB" in response.json()["error"]
    assert_still_serving(http, sample_png)


def test_other_host_names_are_refused(live_server, sample_png):
    # A page elsewhere that rebinds its own name to 127.0.0.1 must not reach the API.
    response = httpx.get(live_server.url + "api/model", headers={"host": "attacker.example"})
    assert response.status_code == 400


def test_json_is_gzipped(http):
    response = http.get("/api/model", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["nodes"]


@pytest.mark.skipif(not (static_dir() / "index.html").is_file(), reason="front end not built")
def test_page_and_every_asset_it_names_are_served_locally(http):
    page = http.get("/")
    assert page.status_code == 200
    assert page.text == (static_dir() / "index.html").read_text(encoding="utf-8")
    references = [
        ref
        for ref in re.findall(r'(?:src|href)="([^"#]+)"', page.text)
        if not ref.startswith("data:")
    ]
    assert references, "the page loads its script from /static"
    for reference in references:
        assert not re.match(r"(https?:)?//", reference), f"{reference} is not served locally"
        asset = http.get(reference)
        assert asset.status_code == 200, reference
        assert "cache-control" in asset.headers


@pytest.mark.browser
@pytest.mark.skipif(not (static_dir() / "index.html").is_file(), reason="front end not built")
def test_the_page_renders_a_run_from_local_requests_only(live_server, browser_page):
    requested: list[str] = []
    browser_page.on("request", lambda request: requested.append(request.url))
    browser_page.goto(live_server.url)
    browser_page.wait_for_function("document.body.dataset.state === 'ready'", timeout=30_000)
    outside = [
        url
        for url in requested
        if not url.startswith(live_server.url) and not url.startswith("data:")
    ]
    assert outside == []
    assert any("/activations?" in url for url in requested)


SLOW_MODULE = '''
import time

from tensorsight.models.tinyvgg import TinyVGG


class SlowTinyVGG(TinyVGG):
    """A network that takes 3 s on any real image (the blank probe at start-up stays fast)."""

    def forward(self, x):
        if bool(x.abs().sum() > 0):
            time.sleep(3)
        return super().forward(x)


def build():
    return SlowTinyVGG(in_channels=3, input_size=32)
'''


def test_the_page_is_served_while_a_model_runs(tmp_path, server_factory, sample_png):
    (tmp_path / "slow_net.py").write_text(SLOW_MODULE)
    server = server_factory(["--model", "slow_net:build"], env={"PYTHONPATH": str(tmp_path)})
    finished: dict[str, float] = {}

    def upload() -> None:
        response = httpx.post(
            server.url + "api/runs",
            content=sample_png,
            timeout=60,
            headers={"content-type": "image/png"},
        )
        assert response.status_code == 201
        finished["upload"] = time.monotonic()

    uploader = threading.Thread(target=upload)
    uploader.start()
    time.sleep(0.5)  # let the upload reach the model
    page = httpx.get(server.url, timeout=60)
    finished["page"] = time.monotonic()
    uploader.join()
    assert page.status_code in (200, 503)  # 503: the front end is not built
    assert finished["page"] < finished["upload"]
