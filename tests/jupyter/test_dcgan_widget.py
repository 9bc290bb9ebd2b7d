"""show("dcgan") in a notebook: the widget's explainer runs latent vectors with the shipped
generator and asks its discriminator, through the same protocol as the server."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("anywidget")

from tensorsight.jupyter import CommHandler, explainer_widget  # noqa: E402


def test_the_dcgan_widget_runs_latent_vectors_and_keeps_the_discriminator() -> None:
    widget = explainer_widget("dcgan")
    info = widget.explainer.model_info()
    assert info["latent"] == {**info["latent"], "dim": 64, "critic": True}
    handler = CommHandler(widget.explainer)
    reply, _ = handler.handle({"id": "z", "method": "run_latent", "params": {"z": [0.0] * 64}}, [])
    assert reply["ok"], reply
    z = torch.zeros(1, 64, 1, 1)
    with torch.no_grad():
        logit = float(widget.explainer.critic(widget.explainer.model(z)))
    assert reply["result"]["verdict"]["logit"] == pytest.approx(logit, abs=1e-5)
