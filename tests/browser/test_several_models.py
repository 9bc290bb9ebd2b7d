"""Several models in one server: ``serve --model a --model b``, each with its own samples and
runs, a picker in the page header, and a link that names the model."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from _processes import serving

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TESTS = Path(__file__).resolve().parents[1]
READY_MS = 90_000


@dataclass
class Served:
    url: str
    output: str = ""


def env_with_tests() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
    }


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    command = [
        sys.executable,
        "-m",
        "tensorsight",
        "serve",
        "-p",
        "0",
        "--model",
        "tinyvgg",
        "--model",
        "model_factories:resnet",
    ]
    with serving(command, r"tensorsight: serving .* at (http://\S+/)", env=env_with_tests()) as url:
        yield Served(url)


def test_each_model_keeps_its_own_api_samples_and_runs(server) -> None:
    models = httpx.get(server.url + "api/models", timeout=30).json()
    assert [model["id"] for model in models] == ["tinyvgg", "model_factories-resnet"]
    assert "TinyVGG" in models[0]["name"]
    first = httpx.get(server.url + "models/tinyvgg/api/samples", timeout=30).json()
    second = httpx.get(server.url + "models/model_factories-resnet/api/samples", timeout=30).json()
    assert first[0]["id"] == "ankle-boot-1" and second[0]["id"] == "bannister-1"  # shipped photos
    for model, samples in (("tinyvgg", first), ("model_factories-resnet", second)):
        picture = httpx.get(server.url + samples[0]["url"].lstrip("/"), timeout=30)
        assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
        assert samples[0]["url"].startswith(f"/models/{model}/")
    run = httpx.post(
        server.url + "models/model_factories-resnet/api/runs",
        json={"sample": second[0]["id"]},
        timeout=60,
    ).json()
    # A run belongs to its model: the other model does not know it.
    assert (
        httpx.get(
            f"{server.url}models/model_factories-resnet/api/runs/{run['run_id']}", timeout=30
        ).status_code
        == 200
    )
    assert (
        httpx.get(f"{server.url}models/tinyvgg/api/runs/{run['run_id']}", timeout=30).status_code
        == 404
    )
    # The plain API is the first model's, for clients that know one model.
    assert httpx.get(server.url + "api/model", timeout=30).json()["name"] == models[0]["name"]


def test_the_header_picker_switches_models_and_the_link_names_it(server, browser_page) -> None:
    page = browser_page
    page.goto(server.url)
    page.wait_for_selector("body[data-state=ready]", timeout=READY_MS)
    picker = page.locator("select.ts-model-picker")
    assert picker.locator("option").all_inner_texts() == [
        "TinyVGG (Fashion-MNIST)",
        "model_factories:resnet",
    ]
    assert "TinyVGG" in page.locator(".ts-status").inner_text()
    with page.expect_navigation():
        picker.select_option("model_factories-resnet")
    page.wait_for_selector("body[data-state=ready]", timeout=READY_MS)
    assert "model_factories:resnet" in page.locator(".ts-status").inner_text()
    assert page.locator(".ts-sample[data-sample='bannister-1']").count() == 1
    state = parse_qs(urlsplit(page.url).fragment)
    assert state["model"] == ["model_factories-resnet"] and state["sample"] == ["bannister-1"]
    # The link reopens the same model.
    again = page.context.new_page()
    try:
        again.goto(page.url)
        again.wait_for_selector("body[data-state=ready]", timeout=READY_MS)
        assert "model_factories:resnet" in again.locator(".ts-status").inner_text()
        assert again.locator("select.ts-model-picker").input_value() == "model_factories-resnet"
    finally:
        again.close()


def test_options_for_one_model_are_refused_with_several(tmp_path) -> None:
    classes = tmp_path / "classes.txt"
    classes.write_text("a\nb\n", encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tensorsight",
            "serve",
            "-p",
            "0",
            "--model",
            "tinyvgg",
            "--model",
            "model_factories:resnet",
            "--classes",
            str(classes),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env_with_tests(),
    )
    assert done.returncode == 2
    assert "--classes describe one model" in done.stderr
