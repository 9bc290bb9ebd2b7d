"""Property-based fuzzing of the upload and JSON routes: no input, however broken, gets a 5xx."""

from __future__ import annotations

import json

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from _images import encode, photo  # noqa: E402

# Bounded so that CI spends seconds here; deadline=None because a shared CPU makes timing noisy.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FORMATS = {
    "PNG": {},
    "JPEG": {"quality": 80},
    "GIF": {},
    "WEBP": {},
    "BMP": {},
    "TIFF": {},
    "PPM": {},
    "ICO": {},
}
VALID = {name: encode(photo(48, 40, seed=3), name, **options) for name, options in FORMATS.items()}


@st.composite
def damaged_images(draw: st.DrawFn) -> bytes:
    """A valid file of an accepted format, cut short and with a few bytes overwritten."""
    data = bytearray(VALID[draw(st.sampled_from(sorted(VALID)))])
    del data[draw(st.integers(0, len(data))) :]
    for _ in range(draw(st.integers(0, 4))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


uploads = st.one_of(damaged_images(), st.binary(max_size=512))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["sample", "image", "x", ""]), children, max_size=3)
    ),
    max_leaves=20,
)


def assert_no_server_error(response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert isinstance(response.json()["error"], str)


@FUZZ
@given(data=uploads, how=st.sampled_from(["raw", "multipart"]))
def test_uploads_never_get_a_5xx(client, upload, data: bytes, how: str) -> None:
    assert_no_server_error(upload(client, data, "application/octet-stream", how))


@FUZZ
@given(value=json_values)
def test_json_run_requests_never_get_a_5xx(client, value) -> None:
    body = json.dumps(value, allow_nan=True).encode()
    response = client.post("/api/runs", content=body, headers={"content-type": "application/json"})
    assert_no_server_error(response)


@FUZZ
@given(body=st.binary(max_size=256) | st.text(max_size=64).map(str.encode))
def test_json_bodies_that_are_not_json_never_get_a_5xx(client, body: bytes) -> None:
    response = client.post("/api/runs", content=body, headers={"content-type": "application/json"})
    assert_no_server_error(response)


@FUZZ
@given(
    nodes=st.text(max_size=12),
    channels=st.text(max_size=12),
    encoding=st.text(max_size=4),
    channel=st.text(max_size=12),
)
def test_activation_and_detail_queries_never_get_a_5xx(
    client, nodes, channels, encoding, channel
) -> None:
    run_id = client.post("/api/runs", json={"sample": "sneaker-0"}).json()["run_id"]
    assert_no_server_error(
        client.get(
            f"/api/runs/{run_id}/activations",
            params={"nodes": nodes or "n1", "channels": channels, "encoding": encoding},
        )
    )
    assert_no_server_error(
        client.get(f"/api/runs/{run_id}/nodes/n1/detail", params={"channel": channel})
    )
