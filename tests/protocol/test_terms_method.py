"""The conv formula's per-window terms travel like every other pack, over both hosts."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("starlette")
pytest.importorskip("anywidget")

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

from tensorsight.explanation import Explainer, decode_pack  # noqa: E402
from tensorsight.imaging import Preprocessing  # noqa: E402
from tensorsight.jupyter import CommHandler  # noqa: E402
from tensorsight.models.tinyvgg import TinyVGG  # noqa: E402
from tensorsight.server import create_app  # noqa: E402


def test_terms_over_http_and_the_widget_are_the_same_pack() -> None:
    torch.manual_seed(0)
    model = TinyVGG(in_channels=1, input_size=32, num_classes=3).eval()
    explainer = Explainer(
        model,
        preprocessing=Preprocessing(size=(32, 32), channels=1),
        class_names=("a", "b", "c"),
        name="tiny",
    )
    with TestClient(create_app(explainer)) as client:
        run_id = client.post("/api/runs", content=_png()).json()["run_id"]
        conv = next(
            node for node in client.get("/api/model").json()["nodes"] if node["kind"] == "conv2d"
        )
        route = f"/api/runs/{run_id}/nodes/{conv['id']}/terms"
        response = client.get(route, params={"channel": 1, "row": 2, "col": 3})
        refused = client.get(route, params={"channel": 1, "row": 99, "col": 3})
    assert response.status_code == 200, response.text
    assert refused.status_code == 400 and "row 99" in refused.json()["error"]
    reply, buffers = CommHandler(explainer).handle(
        {
            "id": 1,
            "method": "terms",
            "params": {"run_id": run_id, "node_id": conv["id"], "channel": 1, "row": 2, "col": 3},
        },
        [],
    )
    assert reply["ok"] is True and bytes(buffers[0]) == response.content
    meta, arrays = decode_pack(response.content)
    assert (meta["row"], meta["col"]) == (2, 3)
    np.testing.assert_array_equal(
        arrays["products"], arrays["patch"] * explainer.detail(run_id, conv["id"], 1)[1]["kernel"]
    )


def _png() -> bytes:
    import io

    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
