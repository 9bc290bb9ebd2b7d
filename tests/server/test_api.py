"""The HTTP API in process (Starlette's TestClient) over a real Explainer and a real TinyVGG."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from tensorsight.explanation import decode_pack


def node_by_module(client, module_path: str) -> dict:
    nodes = client.get("/api/model").json()["nodes"]
    return next(node for node in nodes if node["module_path"] == module_path)


def run_sample(client, sample_id: str = "sneaker-0") -> dict:
    response = client.post("/api/runs", json={"sample": sample_id})
    assert response.status_code == 201, response.text
    return response.json()


def test_model_describes_the_network(client, class_names):
    info = client.get("/api/model").json()
    assert info["name"] == "TinyVGG (test)"
    assert info["classes"] == list(class_names)
    size = info["input"]
    assert (size["channels"], size["height"], size["width"]) == (1, 64, 64)
    kinds = [node["kind"] for node in info["nodes"]]
    assert kinds[0] == "input" and kinds[-1] == "softmax"
    assert kinds.count("conv2d") == 4 and kinds.count("max_pool2d") == 2
    assert {"relu", "flatten", "linear"} <= set(kinds)
    conv = node_by_module(client, "conv_1_1")
    assert conv["shape"] == [1, 10, 62, 62] and conv["config"]["kernel_size"] in ([3, 3], 3)


def test_samples_list_urls_that_serve_the_stored_png(client, sample_dir):
    samples = client.get("/api/samples").json()
    assert [(s["id"], s["label"]) for s in samples] == [("sneaker-0", "Sneaker"), ("bag-1", "Bag")]
    for sample in samples:
        response = client.get(sample["url"])
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/png"
        stored = Image.open(sample_dir / f"{sample['id']}.png")
        served = Image.open(io.BytesIO(response.content))
        assert np.array_equal(np.asarray(served), np.asarray(stored))


def test_run_sample_matches_the_model_in_pytorch(
    client, sample_dir, oracle_model, preprocessing, class_names
):
    overview = run_sample(client)
    image = Image.open(sample_dir / "sneaker-0.png")
    with torch.no_grad():
        logits = oracle_model(preprocessing.to_tensor(image))[0]
    output = overview["output"]
    np.testing.assert_allclose(output["logits"], logits.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        output["probabilities"], torch.softmax(logits, 0).numpy(), rtol=1e-5, atol=1e-6
    )
    best = int(torch.argmax(logits))
    assert output["top"][0][0] == class_names[best]
    input_png = Image.open(io.BytesIO(base64.b64decode(overview["input_png_base64"])))
    assert input_png.size == (64, 64)
    conv = node_by_module(client, "conv_1_1")
    summary = overview["nodes"][conv["id"]]
    assert summary["shape"] == [1, 10, 62, 62] and summary["min"] <= summary["max"]


@pytest.mark.parametrize("how", ["raw", "multipart"])
def test_uploads_give_the_models_own_answer(client, upload, good_image, oracle, how):
    response = upload(client, *good_image, how)
    assert response.status_code == 201, response.text
    probabilities = response.json()["output"]["probabilities"]
    np.testing.assert_allclose(probabilities, oracle(good_image[0]), rtol=1e-5, atol=1e-6)


def test_activations_are_the_real_tensors(client, sample_dir, oracle_model, preprocessing):
    overview = run_sample(client)
    conv, pool = node_by_module(client, "conv_1_1"), node_by_module(client, "max_pool_2")
    response = client.get(
        f"/api/runs/{overview['run_id']}/activations",
        params={"nodes": f"{conv['id']},{pool['id']}", "channels": "2:5", "encoding": "f32"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    meta, arrays = decode_pack(response.content)
    with torch.no_grad():
        x = preprocessing.to_tensor(Image.open(sample_dir / "sneaker-0.png"))
        expected_conv = oracle_model.conv_1_1(x)[0, 2:5].numpy()
    np.testing.assert_allclose(arrays[conv["id"]], expected_conv, rtol=1e-5, atol=1e-6)
    assert arrays[pool["id"]].shape == (3, 13, 13)
    assert meta["nodes"][conv["id"]]["channels"] == [2, 5]


def test_u8_activations_dequantise_to_the_f32_ones(client):
    run_id = run_sample(client)["run_id"]
    conv = node_by_module(client, "conv_1_2")
    url = f"/api/runs/{run_id}/activations"
    meta, u8 = decode_pack(client.get(url, params={"nodes": conv["id"]}).content)
    _, f32 = decode_pack(client.get(url, params={"nodes": conv["id"], "encoding": "f32"}).content)
    assert u8[conv["id"]].dtype == np.uint8
    scale = np.asarray(meta["nodes"][conv["id"]]["scale"], np.float32)
    low, high = scale[:, 0, None, None], scale[:, 1, None, None]
    restored = low + u8[conv["id"]].astype(np.float32) / 255 * (high - low)
    step = ((high - low) / 255).max()
    np.testing.assert_allclose(restored, f32[conv["id"]], atol=step)


def test_conv_detail_adds_up_to_the_activation(client):
    run_id = run_sample(client)["run_id"]
    conv = node_by_module(client, "conv_2_1")
    response = client.get(f"/api/runs/{run_id}/nodes/{conv['id']}/detail", params={"channel": 3})
    assert response.status_code == 200
    meta, arrays = decode_pack(response.content)
    assert meta["kind"] == "conv2d" and meta["channel"] == 3
    np.testing.assert_allclose(
        arrays["intermediate"].sum(0) + meta["bias"], arrays["output"], atol=1e-5
    )
    _, activations = decode_pack(
        client.get(
            f"/api/runs/{run_id}/activations",
            params={"nodes": conv["id"], "channels": "3:4", "encoding": "f32"},
        ).content
    )
    np.testing.assert_allclose(arrays["output"], activations[conv["id"]][0], atol=1e-6)


@pytest.mark.parametrize(
    ("method", "url", "body", "status"),
    [
        ("get", "/api/runs/no-such-run/activations?nodes=n1", None, 404),
        ("get", "/api/runs/no-such-run/nodes/n1/detail", None, 404),
        ("get", "/api/samples/no-such-sample.png", None, 404),
        ("post", "/api/runs", {"sample": "no-such-sample"}, 404),
        ("post", "/api/runs", {"picture": "sneaker-0"}, 400),
        ("post", "/api/runs", ["sneaker-0"], 400),
        ("get", "/api/no-such-route", None, 404),
        ("delete", "/api/model", None, 405),
    ],
)
def test_unknown_things_answer_json_errors(client, method, url, body, status):
    response = client.request(method, url, json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert isinstance(error, str) and len(error) > 10


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({}, "nodes"),
        ({"nodes": "NODE", "channels": "3"}, "start:stop"),
        ({"nodes": "NODE", "channels": "a:b"}, "whole number"),
        ({"nodes": "NODE", "channels": "5:2"}, "start must be below stop"),
        ({"nodes": "NODE", "encoding": "f16"}, "u8 or f32"),
    ],
)
def test_bad_activation_queries_say_what_is_wrong(client, params, fragment):
    run_id = run_sample(client)["run_id"]
    node_id = node_by_module(client, "conv_1_1")["id"]
    params = {key: value.replace("NODE", node_id) for key, value in params.items()}
    response = client.get(f"/api/runs/{run_id}/activations", params=params)
    assert response.status_code == 400
    assert fragment in response.json()["error"]


def test_unknown_node_in_a_known_run_is_404(client):
    run_id = run_sample(client)["run_id"]
    response = client.get(f"/api/runs/{run_id}/activations", params={"nodes": "no-such-node"})
    assert response.status_code == 404
    response = client.get(f"/api/runs/{run_id}/nodes/no-such-node/detail")
    assert response.status_code == 404


def test_bad_detail_channel_is_400(client):
    run_id = run_sample(client)["run_id"]
    node_id = node_by_module(client, "conv_1_1")["id"]
    response = client.get(f"/api/runs/{run_id}/nodes/{node_id}/detail?channel=three")
    assert response.status_code == 400
    assert "whole number" in response.json()["error"]


def test_json_is_gzipped_for_clients_that_accept_it(client):
    response = client.get("/api/model", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    raw = client.get("/api/model", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert json.loads(raw.content) == response.json()
    assert response.num_bytes_downloaded < len(raw.content) / 2


def test_page_and_assets_come_from_the_static_folder_with_cache_headers(client):
    page = client.get("/")
    assert page.status_code == 200 and "<title>tensorsight</title>" in page.text
    assert page.headers["cache-control"] == "no-cache"
    hashed = client.get("/static/app-5FJ2K3QX.js")
    assert hashed.status_code == 200 and "answer = 42" in hashed.text
    assert "immutable" in hashed.headers["cache-control"]
    plain = client.get("/static/style.css")
    assert plain.headers["cache-control"] == "no-cache"
    again = client.get("/static/style.css", headers={"if-none-match": plain.headers["etag"]})
    assert again.status_code == 304
    assert client.get("/static/missing.js").status_code == 404


def test_a_runs_answers_are_kept_gzipped_and_sent_again_without_recomputing(
    client, explainer, monkeypatch
):
    run_id = client.post("/api/runs", json={"sample": "bag-1"}).json()["run_id"]
    url = f"/api/runs/{run_id}/activations?nodes=n1,n2&channels=0:3"
    first = client.get(url, headers={"accept-encoding": "gzip"})
    assert first.headers["content-encoding"] == "gzip"
    assert first.headers["vary"] == "Accept-Encoding"
    calls = []
    real = type(explainer).activations
    monkeypatch.setattr(
        type(explainer), "activations", lambda *a, **k: calls.append(a) or real(*a, **k)
    )
    again = client.get(url, headers={"accept-encoding": "gzip"})
    assert again.content == first.content and calls == []  # the same bytes, not recomputed
    plain = client.get(url, headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and len(calls) == 1  # kept apart
    assert plain.content == first.content  # httpx unzipped the first
    other = client.get(url.replace("0:3", "1:3"), headers={"accept-encoding": "gzip"})
    assert other.status_code == 200 and len(calls) == 2  # other parameters: another answer
    detail = f"/api/runs/{run_id}/nodes/n1/detail?channel=1"
    assert client.get(detail).content == client.get(detail).content
