"""Refused uploads, in process: each gets a JSON error sentence and the next good upload works."""

from __future__ import annotations

import re

import pytest


def assert_still_serving(client, sample_png: bytes) -> None:
    response = client.post("/api/runs", content=sample_png, headers={"content-type": "image/png"})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("how", ["raw", "multipart"])
def test_bad_files_are_refused_with_a_sentence(client, bad_image, sample_png, how):
    data, status = bad_image
    if how == "raw":
        response = client.post(
            "/api/runs", content=data, headers={"content-type": "application/octet-stream"}
        )
    else:
        response = client.post("/api/runs", files={"image": ("upload.png", data, "image/png")})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error.endswith(".") or error.endswith(")")
    assert_still_serving(client, sample_png)


def test_declared_oversize_body_is_refused_before_reading(client, sample_png, upload_limit):
    response = client.post(
        "/api/runs", content=b"\0" * (upload_limit + 1), headers={"content-type": "image/png"}
    )
    assert response.status_code == 413
    assert re.fullmatch(
        r"The upload is [\d.]+ MiB; the limit is [\d.]+ MiB\.", response.json()["error"]
    )
    assert_still_serving(client, sample_png)


def test_streamed_oversize_body_without_length_is_cut_off(client, sample_png, upload_limit):
    def chunks():
        for _ in range(upload_limit // 65536 + 2):
            yield b"\xff" * 65536

    response = client.post("/api/runs", content=chunks(), headers={"content-type": "image/jpeg"})
    assert response.status_code == 413
    assert re.fullmatch(
        r"The upload is more than [\d.]+ MiB; the limit is [\d.]+ MiB\.", response.json()["error"]
    )
    assert_still_serving(client, sample_png)


def test_oversize_multipart_file_is_refused(client, sample_png, upload_limit):
    big = b"\x89PNG" + b"\0" * (upload_limit + 100_000)
    response = client.post("/api/runs", files={"image": ("big.png", big, "image/png")})
    assert response.status_code == 413
    assert_still_serving(client, sample_png)


def test_multipart_without_an_image_field_says_which_field(client, sample_png):
    response = client.post("/api/runs", files={"photo": ("a.png", sample_png, "image/png")})
    assert response.status_code == 400
    assert "'image'" in response.json()["error"]
    assert_still_serving(client, sample_png)


def test_malformed_json_run_request_is_400(client, sample_png):
    response = client.post(
        "/api/runs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert '{"sample"' in response.json()["error"]
    assert_still_serving(client, sample_png)


def test_malformed_multipart_is_400(client, sample_png):
    body = b"--xyz\r\nContent-Disposition: form-data; name=image; filename=a.png\r\n\r\n"
    response = client.post(
        "/api/runs", content=body, headers={"content-type": "multipart/form-data; boundary=xyz"}
    )
    assert response.status_code == 400
    assert "part of the API" not in response.json()["error"]
    assert_still_serving(client, sample_png)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 20_000 + b"]" * 20_000,
        b'{"sample": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
        b'{"sample": ' + b"7" * 5_000 + b"}",
        b"\xff\xfe{}",
    ],
    ids=["nested-20000-deep", "sample-nested-20000-deep", "5000-digit-integer", "not-utf8"],
)
def test_hostile_json_run_requests_are_400(client, sample_png, body):
    response = client.post("/api/runs", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert '{"sample"' in response.json()["error"]
    assert_still_serving(client, sample_png)


def test_a_sample_id_that_is_a_lone_surrogate_is_an_unknown_sample(client, sample_png):
    response = client.post(
        "/api/runs", content=b'{"sample": "\\ud800"}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 404, response.text
    assert "no sample" in response.json()["error"]
    assert_still_serving(client, sample_png)


@pytest.mark.parametrize(
    ("route", "params"),
    [
        ("detail", {"channel": "9" * 5_000}),
        ("activations", {"nodes": "n1", "channels": "0:" + "9" * 5_000}),
    ],
)
def test_huge_numbers_in_a_query_are_400_with_a_short_sentence(client, route, params):
    run_id = client.post("/api/runs", json={"sample": "sneaker-0"}).json()["run_id"]
    path = (
        f"/api/runs/{run_id}/nodes/n1/detail"
        if route == "detail"
        else f"/api/runs/{run_id}/activations"
    )
    response = client.get(path, params=params)
    assert response.status_code == 400
    assert "whole number" in response.json()["error"] and len(response.json()["error"]) < 200
