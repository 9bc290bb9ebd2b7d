"""The attribution methods over HTTP and the protocol, on the shipped TinyVGG."""

from __future__ import annotations

import threading
import time
import warnings

import numpy as np
import pytest
import torch

from tensorsight.attribution import attribute, receptive_fields, with_attribution
from tensorsight.explanation import Explainer, decode_pack
from tensorsight.protocol import ProtocolError, explainer_protocol
from tensorsight.server import create_app

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient


@pytest.fixture(scope="module")
def explainer(tinyvgg):
    return Explainer.from_bundle(tinyvgg)


@pytest.fixture(scope="module")
def client(explainer):
    with TestClient(create_app(explainer)) as client:
        yield client


@pytest.fixture(scope="module")
def run(client, tinyvgg):
    response = client.post("/api/runs", json={"sample": tinyvgg.samples[0].id})
    assert response.status_code == 201
    return response.json()


def _x(explainer, run):
    return explainer.run_graph(run["run_id"]).nodes[0].activation


def test_attribution_route_gives_the_library_answer(client, explainer, run):
    response = client.get(
        f"/api/runs/{run['run_id']}/attribution",
        params={"method": "integrated_gradients", "steps": "8", "target": "3"},
    )
    assert response.status_code == 200, response.text
    meta, arrays = decode_pack(response.content)
    expected = attribute(
        explainer.model, _x(explainer, run), "integrated_gradients", target=3, steps=8
    )
    assert meta["target"] == 3 and meta["target_name"] == "Dress"
    assert meta["settings"]["steps"] == 8
    np.testing.assert_allclose(arrays["map"], expected.map, rtol=1e-5, atol=1e-7)
    assert meta["range"] == [
        pytest.approx(float(expected.map.min())),
        pytest.approx(float(expected.map.max())),
    ]


def test_gradcam_layer_and_stages(client, explainer, run):
    layer = next(
        n["id"] for n in client.get("/api/model").json()["nodes"] if n["name"] == "conv_2_2"
    )
    meta, arrays = decode_pack(
        client.get(
            f"/api/runs/{run['run_id']}/attribution", params={"method": "gradcam", "layer": layer}
        ).content
    )
    assert meta["layer"] == layer and arrays["raw"].shape == (26, 26)
    meta, arrays = decode_pack(client.get(f"/api/runs/{run['run_id']}/gradcam_stages").content)
    names = [stage["name"] for stage in meta["stages"]]
    assert names == ["relu_1_1", "relu_1_2", "max_pool_1", "relu_2_1", "relu_2_2", "max_pool_2"]
    single = attribute(explainer.model, _x(explainer, run), "gradcam", layer="relu_2_2")
    np.testing.assert_allclose(arrays[meta["stages"][4]["node"]], single.raw, rtol=1e-5, atol=1e-7)


def test_receptive_field_routes(client, explainer, run):
    graph = explainer.run_graph(run["run_id"])
    node = next(n for n in graph.nodes if n.name == "relu_2_1")
    base = f"/api/runs/{run['run_id']}/nodes/{node.id}"
    fields = client.get(f"{base}/receptive_field").json()
    assert fields == receptive_fields(graph, node.id).describe()
    meta, arrays = decode_pack(
        client.get(f"{base}/effective_receptive_field", params={"y": "3", "x": "4"}).content
    )
    top, left, bottom, right = meta["box"]
    assert (top, left, bottom, right) == (6, 8, 15, 17)
    heat = arrays["heat"]
    outside = heat.copy()
    outside[top : bottom + 1, left : right + 1] = 0
    assert heat.shape == (64, 64) and heat.max() > 0 and not outside.any()


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("attribution", {"method": "lime"}, 400, "method must be saliency or"),
        ("attribution", {"method": "saliency", "target": "10"}, 400, "out of range"),
        ("attribution", {"method": "occlusion", "value": "x"}, 400, "must be a number"),
        (
            "attribution",
            {"method": "integrated_gradients", "rule": "simpson"},
            400,
            "rule must be adaptive or gauss-legendre",
        ),
        ("attribution", {"method": "gradcam", "layer": "n13"}, 400, "no spatial output"),
        ("nodes/n999/receptive_field", {}, 400, "no node 'n999'"),
        ("nodes/n1/effective_receptive_field", {"y": "99", "x": "0"}, 400, "outside the 62x62"),
    ],
)
def test_bad_requests_are_4xx_sentences(client, run, path, params, status, message):
    response = client.get(f"/api/runs/{run['run_id']}/{path}", params=params)
    assert response.status_code == status
    assert message in response.json()["error"]


def test_unknown_run_is_404(client):
    assert client.get("/api/runs/nope/attribution").status_code == 404


def test_a_long_call_reports_progress_and_can_be_cancelled(explainer, run):
    protocol = with_attribution(explainer_protocol(explainer), explainer)
    outcome: dict[str, object] = {}

    def long_call() -> None:
        try:
            protocol.call(
                "attribution",
                {
                    "run_id": run["run_id"],
                    "job_id": "job-1",
                    "method": "integrated_gradients",
                    "steps": 4000,
                    "batch_size": 4,
                },
            )
        except ProtocolError as error:
            outcome["error"] = error

    thread = threading.Thread(target=long_call)
    thread.start()
    deadline = time.monotonic() + 60
    progress = {"done": 0}
    while progress["done"] == 0 and time.monotonic() < deadline:
        progress = protocol.call("attribution_progress", {"job_id": "job-1"}).value
        time.sleep(0.05)
    assert progress["state"] == "running" and progress["total"] == 4000
    protocol.call("attribution_cancel", {"job_id": "job-1"})
    thread.join(60)
    error = outcome["error"]
    assert isinstance(error, ProtocolError) and error.status == 409
    assert protocol.call("attribution_progress", {"job_id": "job-1"}).value["state"] == "cancelled"


def test_the_widget_answers_attribution_too(explainer, run):
    from tensorsight.jupyter.comm import CommHandler

    content, buffers = CommHandler(explainer).handle(
        {
            "id": "a1",
            "method": "attribution",
            "params": {"run_id": run["run_id"], "method": "saliency"},
        },
        [],
    )
    assert content["ok"], content
    meta, arrays = decode_pack(bytes(buffers[0]))
    assert meta["method"] == "saliency" and arrays["map"].shape == (64, 64)
    assert torch.is_tensor(_x(explainer, run))


def test_channel_exemplars_route(client, explainer, run):
    assert client.get("/api/exemplars").json() == ["conv_1_1", "conv_1_2", "conv_2_1", "conv_2_2"]
    graph = explainer.run_graph(run["run_id"])
    node = next(n for n in graph.nodes if n.name == "conv_2_1")
    response = client.get(
        f"/api/runs/{run['run_id']}/nodes/{node.id}/exemplars", params={"channel": "4"}
    )
    assert response.status_code == 200, response.text
    meta, arrays = decode_pack(response.content)
    assert meta["layer"] == "conv_2_1" and len(meta["entries"]) == 9
    assert arrays["crops"].shape == (9, 10, 10, 1) and arrays["crops"].dtype == np.uint8
    relu = next(n for n in graph.nodes if n.name == "relu_2_1")
    response = client.get(
        f"/api/runs/{run['run_id']}/nodes/{relu.id}/exemplars", params={"channel": "4"}
    )
    assert response.status_code == 400
    assert "No exemplars were computed for layer 'relu_2_1'" in response.json()["error"]


def test_the_blurred_baseline_over_http(client, explainer, run):
    url = f"/api/runs/{run['run_id']}/attribution"
    params = {"method": "integrated_gradients", "steps": "8", "baseline": "blur"}
    meta, arrays = decode_pack(client.get(url, params={**params, "blur_sigma": "2.5"}).content)
    expected = attribute(
        explainer.model,
        _x(explainer, run),
        "integrated_gradients",
        steps=8,
        baseline="blur",
        blur_sigma=2.5,
    )
    assert meta["settings"]["baseline"] == "blur" and meta["settings"]["blur_sigma"] == 2.5
    assert meta["details"]["baseline_score"] == pytest.approx(expected.details["baseline_score"])
    np.testing.assert_allclose(arrays["map"], expected.map, rtol=1e-5, atol=1e-7)
    black, _ = decode_pack(client.get(url, params={**params, "baseline": "black"}).content)
    assert black["settings"]["baseline"] is None
    response = client.get(url, params={**params, "baseline": "gray"})
    assert response.status_code == 400
    assert "must be black, blur or a number" in response.json()["error"]


def test_the_path_rule_over_http(client, explainer, run):
    url = f"/api/runs/{run['run_id']}/attribution"
    params = {"method": "integrated_gradients", "steps": "12", "rule": "gauss-legendre"}
    meta, arrays = decode_pack(client.get(url, params=params).content)
    expected = attribute(
        explainer.model, _x(explainer, run), "integrated_gradients", steps=12, rule="gauss-legendre"
    )
    assert meta["settings"]["rule"] == "gauss-legendre"
    np.testing.assert_allclose(arrays["map"], expected.map, rtol=1e-5, atol=1e-7)
    default, _ = decode_pack(client.get(url, params={"method": "integrated_gradients"}).content)
    assert default["settings"]["rule"] == "adaptive"
