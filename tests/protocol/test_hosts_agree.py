"""Both hosts adapt one protocol: a refusal and a bug read the same over HTTP and the widget."""

from __future__ import annotations

import logging
import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("starlette")
pytest.importorskip("anywidget")

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

from tensorsight.explanation import Explainer  # noqa: E402
from tensorsight.imaging import Preprocessing  # noqa: E402
from tensorsight.jupyter import CommHandler  # noqa: E402
from tensorsight.models.tinyvgg import TinyVGG  # noqa: E402
from tensorsight.server import create_app  # noqa: E402


@pytest.fixture
def explainer() -> Explainer:
    torch.manual_seed(0)
    model = TinyVGG(in_channels=1, input_size=32, num_classes=3).eval()
    return Explainer(
        model,
        preprocessing=Preprocessing(size=(32, 32), channels=1),
        class_names=("a", "b", "c"),
        name="tiny",
    )


def both(explainer: Explainer, route: str, message: dict) -> tuple[tuple[int, str], str]:
    with TestClient(create_app(explainer), raise_server_exceptions=False) as client:
        response = client.get(route)
    reply, _ = CommHandler(explainer).handle({"id": 1, **message}, [])
    assert reply["ok"] is False
    return (response.status_code, response.json()["error"]), reply["error"]


def test_a_refusal_reads_the_same(explainer: Explainer) -> None:
    (status, http), widget = both(
        explainer,
        "/api/runs/gone/nodes/n1/detail?channel=2",
        {"method": "detail", "params": {"run_id": "gone", "node_id": "n1", "channel": 2}},
    )
    assert status == 404 and http == widget and "'gone'" in http


def test_a_bug_is_logged_and_reported_the_same(explainer: Explainer, monkeypatch, caplog) -> None:
    def broken() -> list:
        return [{}][1]  # an IndexError: a bug, not a bad request

    monkeypatch.setattr(explainer, "samples", broken)
    with caplog.at_level(logging.ERROR, logger="tensorsight.protocol"):
        (status, http), widget = both(
            explainer, "/api/samples", {"method": "samples", "params": {}}
        )
    assert status == 500 and http == widget
    assert http == (
        "tensorsight failed on samples: IndexError: list index out of range "
        "(a bug; the traceback is in the log)."
    )
    assert [record.exc_info[0] for record in caplog.records] == [IndexError, IndexError]
