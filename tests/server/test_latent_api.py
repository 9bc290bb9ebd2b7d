"""The generator routes in process: POST /api/latent-runs and POST /api/verdicts over a real
(seeded, tiny) DCGAN, and the widget protocol answering the same methods."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image
from starlette.testclient import TestClient

from _dcgan import tiny_dcgan_explainer
from tensorsight.explanation import Explainer, decode_pack
from tensorsight.jupyter.comm import CommHandler
from tensorsight.server import create_app


@pytest.fixture(scope="module")
def explainer() -> Explainer:
    return tiny_dcgan_explainer("tiny DCGAN")


@pytest.fixture(scope="module")
def client(explainer: Explainer) -> TestClient:
    return TestClient(create_app(explainer))


def _png(color: int = 200) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (30, 40), (color, color, color)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_latent_run_by_seed_and_by_vector(client) -> None:
    seeded = client.post("/api/latent-runs", json={"seed": 3})
    assert seeded.status_code == 201, seeded.text
    body = seeded.json()
    assert len(body["latent"]) == 8 and 0 <= body["verdict"]["p_real"] <= 1
    image = Image.open(io.BytesIO(base64.b64decode(body["image_png_base64"])))
    assert image.size == (16, 16)
    again = client.post("/api/latent-runs", json={"z": body["latent"]}).json()
    assert again["verdict"]["logit"] == pytest.approx(body["verdict"]["logit"], abs=1e-5)
    info = client.get("/api/model").json()
    last = info["nodes"][-1]["id"]
    pack = decode_pack(
        client.get(
            f"/api/runs/{again['run_id']}/nodes/{info['nodes'][1]['id']}/detail?channel=0"
        ).content
    )
    assert pack[0]["kind"] == "conv_transpose2d"
    assert last in again["nodes"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"z": [1, 2]}, "8 numbers"),
        ({"z": "abc"}, "list of numbers"),
        ({"z": [True] * 8}, "list of numbers"),
        ({"seed": "x"}, "whole number"),
        ({"seed": -1}, "seed must be"),
    ],
)
def test_bad_latent_requests_are_400_with_a_sentence(client, body, fragment) -> None:
    response = client.post("/api/latent-runs", json=body)
    assert response.status_code == 400
    assert fragment in response.json()["error"]


def test_not_json_is_refused(client) -> None:
    response = client.post(
        "/api/latent-runs", content=b"[1, 2", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


def test_verdict_on_an_uploaded_photo(client) -> None:
    response = client.post("/api/verdicts", files={"image": ("photo.png", _png(), "image/png")})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["label"] in ("real", "fake") and "note" in answer
    assert client.post("/api/verdicts", content=b"not an image").status_code == 415


def test_an_image_run_on_a_generator_is_refused(client) -> None:
    response = client.post("/api/runs", content=_png())
    assert response.status_code == 400
    assert "latent vector" in response.json()["error"]


def test_the_widget_answers_the_same_methods(explainer) -> None:
    handler = CommHandler(explainer)
    reply, _ = handler.handle({"id": "a", "method": "run_latent", "params": {"seed": 3}}, [])
    assert reply["ok"] and len(reply["result"]["latent"]) == 8
    reply, _ = handler.handle({"id": "b", "method": "judge_image", "params": {}}, [_png()])
    assert reply["ok"] and reply["result"]["label"] in ("real", "fake")
