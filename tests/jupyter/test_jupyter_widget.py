"""The Jupyter widget: its comm protocol answered by a real Explainer, its module, and show()."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("anywidget")
from PIL import Image  # noqa: E402

from tensorsight.capturing import capture  # noqa: E402
from tensorsight.explanation import Explainer, decode_pack  # noqa: E402
from tensorsight.imaging import Preprocessing  # noqa: E402
from tensorsight.jupyter import (  # noqa: E402
    GIVEN_IMAGE_ID,
    CommHandler,
    ExplainerWidget,
    explainer_widget,
    show,
)
from tensorsight.models import Sample, bundle_from_module  # noqa: E402
from tensorsight.models.tinyvgg import TinyVGG  # noqa: E402
from tensorsight.web import static_dir  # noqa: E402

CLASSES = tuple(f"kind {index}" for index in range(4))
PREPROCESSING = Preprocessing(size=(32, 32), channels=1)


def png_bytes(seed: int, size: tuple[int, int] = (40, 36)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0]), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def model() -> TinyVGG:
    torch.manual_seed(0)
    return TinyVGG(in_channels=1, input_size=32, num_classes=4).eval()


@pytest.fixture
def sample(tmp_path: Path) -> Sample:
    path = tmp_path / "kind-0-1.png"
    path.write_bytes(png_bytes(1))
    return Sample(id="kind-0-1", label="kind 0", path=path)


@pytest.fixture
def handler(model: TinyVGG, sample: Sample) -> CommHandler:
    return CommHandler(
        Explainer(
            model, preprocessing=PREPROCESSING, class_names=CLASSES, name="tiny", samples=[sample]
        )
    )


def ask(
    handler: CommHandler,
    method: str,
    params: dict | None = None,
    buffers: list[bytes] | None = None,
) -> tuple[dict, list[bytes]]:
    reply, reply_buffers = handler.handle(
        {"id": f"ts-{method}", "method": method, "params": params or {}}, buffers or []
    )
    assert reply["id"] == f"ts-{method}"
    return reply, reply_buffers


def test_model_info_and_samples(handler: CommHandler, sample: Sample) -> None:
    reply, buffers = ask(handler, "model_info")
    assert reply["ok"] and buffers == []
    info = reply["result"]
    assert info["name"] == "tiny" and info["classes"] == list(CLASSES)
    assert [node["kind"] for node in info["nodes"]][:3] == ["input", "conv2d", "relu"]
    reply, _ = ask(handler, "samples")
    assert [entry["id"] for entry in reply["result"]] == [sample.id]
    reply, buffers = ask(handler, "sample_png", {"sample_id": sample.id})
    assert reply == {"id": "ts-sample_png", "ok": True, "result": None}
    assert buffers == [sample.path.read_bytes()]


def test_uploaded_image_runs_and_its_packs_hold_the_real_tensors(
    handler: CommHandler, model: TinyVGG
) -> None:
    upload = png_bytes(7, size=(50, 64))
    reply, _ = ask(handler, "run_image", buffers=[upload])
    assert reply["ok"], reply
    overview = reply["result"]
    expected = capture(model, PREPROCESSING.to_tensor(Image.open(io.BytesIO(upload))))
    logits = expected.node(expected.output_id).activation[0]
    np.testing.assert_allclose(overview["output"]["logits"], logits.numpy(), rtol=1e-5, atol=1e-6)

    conv = expected.nodes[1]
    reply, buffers = ask(
        handler,
        "activations",
        {
            "run_id": overview["run_id"],
            "node_ids": [conv.id],
            "channels": [2, 5],
            "encoding": "f32",
        },
    )
    assert reply["ok"] and reply["result"] is None
    meta, arrays = decode_pack(buffers[0])
    assert meta["nodes"][conv.id]["channels"] == [2, 5]
    np.testing.assert_array_equal(arrays[conv.id], conv.activation[0, 2:5].numpy())

    reply, buffers = ask(
        handler, "detail", {"run_id": overview["run_id"], "node_id": conv.id, "channel": 3}
    )
    meta, arrays = decode_pack(buffers[0])
    assert meta["kind"] == "conv2d"
    np.testing.assert_array_equal(arrays["output"], conv.activation[0, 3].numpy())
    np.testing.assert_allclose(
        arrays["intermediate"].sum(0) + meta["bias"], arrays["output"], atol=1e-5
    )


def test_sample_run_and_u8_activations(handler: CommHandler, sample: Sample) -> None:
    reply, _ = ask(handler, "run_sample", {"sample_id": sample.id})
    overview = reply["result"]
    node_id = next(iter(overview["nodes"]))
    reply, buffers = ask(
        handler,
        "activations",
        {"run_id": overview["run_id"], "node_ids": [node_id], "channels": None},
    )
    meta, arrays = decode_pack(buffers[0])
    assert meta["nodes"][node_id]["encoding"] == "u8"
    assert arrays[node_id].dtype == np.uint8


@pytest.mark.parametrize(
    ("method", "params", "buffers", "sentence"),
    [
        ("fly", {}, [], "Unknown method 'fly'"),
        ("run_sample", {}, [], "lacks the parameter 'sample_id'"),
        ("run_sample", {"sample_id": "nope"}, [], "nope"),
        ("run_image", {}, [], "needs the image bytes"),
        ("run_image", {}, [b"not a picture"], "not an image"),
        ("activations", {"run_id": "gone", "node_ids": ["n1"]}, [], "gone"),
        ("detail", {"run_id": "gone", "node_id": "n1"}, [], "gone"),
    ],
)
def test_bad_messages_get_an_error_sentence(
    handler: CommHandler, method: str, params: dict, buffers: list[bytes], sentence: str
) -> None:
    reply, reply_buffers = ask(handler, method, params, buffers)
    assert reply["ok"] is False and reply_buffers == []
    assert sentence in reply["error"]
    assert ask(handler, "samples")[0]["ok"]  # still answering


def test_a_message_that_is_not_an_object(handler: CommHandler) -> None:
    reply, _ = handler.handle(["model_info"], [])
    assert reply == {"id": None, "ok": False, "error": "A widget message must be an object."}
    reply, _ = handler.handle({"id": 4, "method": "samples", "params": [1]}, [])
    assert reply == {"id": 4, "ok": False, "error": "A widget message's params must be an object."}


class FailsOnBrightImages(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.mean() > 0.5:
            raise RuntimeError("too bright for this layer")
        return self.linear(torch.nn.functional.adaptive_avg_pool2d(x, 2).flatten(1))


def test_a_model_failing_on_an_image_is_reported_and_the_widget_goes_on() -> None:
    handler = CommHandler(
        Explainer(
            FailsOnBrightImages(),
            preprocessing=PREPROCESSING,
            class_names=("dark", "light"),
            name="moody",
        )
    )
    white, black = io.BytesIO(), io.BytesIO()
    Image.new("L", (32, 32), 255).save(white, format="PNG")
    Image.new("L", (32, 32), 0).save(black, format="PNG")
    reply, _ = ask(handler, "run_image", buffers=[white.getvalue()])
    assert reply["ok"] is False
    assert "moody" in reply["error"] and "too bright for this layer" in reply["error"]
    reply, _ = ask(handler, "run_image", buffers=[black.getvalue()])
    assert reply["ok"] is True


def test_widget_loads_the_built_module_and_answers_over_its_comm(
    model: TinyVGG, monkeypatch: pytest.MonkeyPatch
) -> None:
    widget = ExplainerWidget(
        Explainer(model, preprocessing=PREPROCESSING, class_names=CLASSES, name="tiny")
    )
    assert widget._esm == (static_dir() / "widget.js").read_text(encoding="utf-8")
    assert "render" in widget._esm
    sent: list[tuple[dict, list]] = []
    monkeypatch.setattr(
        widget, "send", lambda content, buffers=None: sent.append((content, buffers))
    )
    widget._handle_custom_msg(
        {"id": "ts0", "method": "run_image", "params": {}}, [memoryview(png_bytes(3))]
    )
    [(content, buffers)] = sent
    assert content["id"] == "ts0" and content["ok"] is True, content
    assert content["result"]["output"]["node_id"] in content["result"]["nodes"]
    assert buffers == []


def test_the_widget_reports_progress_while_a_long_attribution_runs_and_cancels_it(
    model: TinyVGG, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel answers progress polls and a cancel during a long call (it runs on the
    widget's worker thread); a call made meanwhile waits its turn instead of blocking them."""
    widget = ExplainerWidget(
        Explainer(model, preprocessing=PREPROCESSING, class_names=CLASSES, name="tiny")
    )
    replies: dict[str, dict] = {}
    arrived = threading.Condition()

    def send(content: dict, buffers: list | None = None) -> None:
        with arrived:
            replies[content["id"]] = content
            arrived.notify_all()

    def reply(message_id: str) -> dict:
        with arrived:
            assert arrived.wait_for(lambda: message_id in replies, timeout=120), message_id
            return replies[message_id]

    monkeypatch.setattr(widget, "send", send)
    widget._handle_custom_msg(
        {"id": "run", "method": "run_image", "params": {}}, [memoryview(png_bytes(3))]
    )
    run_id = reply("run")["result"]["run_id"]
    long = {"run_id": run_id, "method": "integrated_gradients", "steps": 4096, "batch_size": 1}
    widget._handle_custom_msg(
        {"id": "ig", "method": "attribution", "params": {**long, "job_id": "j1"}}, []
    )
    stages = {"run_id": run_id}
    widget._handle_custom_msg({"id": "stages", "method": "gradcam_stages", "params": stages}, [])
    done, polls = 0, 0
    while done == 0 and polls < 600:
        polls += 1
        widget._handle_custom_msg(
            {"id": f"p{polls}", "method": "attribution_progress", "params": {"job_id": "j1"}}, []
        )
        progress = reply(f"p{polls}")["result"]  # answered at once, the job still running
        done = progress["done"]
        time.sleep(0.05)
    assert progress["state"] == "running" and 0 < done < progress["total"] == 4096
    assert "ig" not in replies and "stages" not in replies
    widget._handle_custom_msg(
        {"id": "stop", "method": "attribution_cancel", "params": {"job_id": "j1"}}, []
    )
    assert reply("stop")["ok"] is True
    cancelled = reply("ig")
    assert cancelled["ok"] is False and cancelled["status"] == 409
    assert "cancelled" in cancelled["error"]
    assert reply("stages")["ok"] is True  # the queued call ran after the cancelled one
    widget.close()


def test_show_a_module_on_a_tensor(model: TinyVGG) -> None:
    x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(5))
    widget = explainer_widget(model, x, class_names=CLASSES)
    explainer = widget.explainer
    assert explainer.preprocessing == Preprocessing(size=(32, 32), channels=1)
    assert [entry["id"] for entry in explainer.samples()] == [GIVEN_IMAGE_ID]
    overview = explainer.run_sample(GIVEN_IMAGE_ID)
    seen = torch.round(x * 255) / 255  # the image is kept as 8-bit pixels
    np.testing.assert_allclose(
        overview["output"]["logits"], model(seen)[0].detach().numpy(), rtol=1e-4, atol=1e-5
    )


def test_show_a_bundle_with_an_image_file(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(png_bytes(9, size=(80, 60)))
    bundle = bundle_from_module(
        TinyVGG(in_channels=3, input_size=64, num_classes=10), name="tiny rgb"
    )
    widget = explainer_widget(bundle, path, class_names=[f"c{i}" for i in range(10)])
    assert widget.explainer.model_info()["classes"][0] == "c0"
    assert widget.explainer.sample_png(GIVEN_IMAGE_ID).startswith(b"\x89PNG")
    assert Path(widget.sample_folder.name, f"{GIVEN_IMAGE_ID}.png").is_file()


def test_show_a_model_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "jupyter_spec_net.py").write_text(
        "from tensorsight.models.tinyvgg import TinyVGG\n\n"
        "def build():\n    return TinyVGG(in_channels=3, input_size=48, num_classes=2)\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    widget = explainer_widget("jupyter_spec_net:build")
    info = widget.explainer.model_info()
    assert info["name"] == "jupyter_spec_net:build"
    assert (info["input"]["height"], info["input"]["width"]) == (48, 48)
    assert info["classes"] == ["class 0", "class 1"]


def test_bad_image_tensor_is_refused(model: TinyVGG) -> None:
    with pytest.raises(ValueError, match=r"\[C, H, W\].*got shape \[2, 2\]"):
        explainer_widget(model, np.zeros((2, 2)))


SHOW_IN_IPYTHON = """
import json, torch
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from tensorsight.models.tinyvgg import TinyVGG
import tensorsight

InteractiveShell.instance()
with capture_output() as captured:
    returned = tensorsight.show(TinyVGG(), torch.rand(1, 1, 64, 64))
print(json.dumps({"returned": repr(returned),
                  "outputs": [sorted(output.data) for output in captured.outputs],
                  "view": captured.outputs[0].data.get(
                      "application/vnd.jupyter.widget-view+json")}))
"""


def test_show_displays_a_widget_view_in_ipython() -> None:
    # A fresh interpreter: the IPython shell is a process-wide singleton.
    completed = subprocess.run(
        [sys.executable, "-c", SHOW_IN_IPYTHON], capture_output=True, text=True, check=True
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["returned"] == "None"  # shown once, not again as the cell's value
    assert result["outputs"] == [["application/vnd.jupyter.widget-view+json", "text/plain"]]
    assert len(result["view"]["model_id"]) == 32


def test_show_is_exported_by_the_package() -> None:
    import tensorsight

    assert tensorsight.show is show
