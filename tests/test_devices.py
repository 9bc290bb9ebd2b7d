"""One device rule for every entry point: serve, train, show and capture (tensorsight.devices)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tensorsight import capture
from tensorsight.cli import main
from tensorsight.devices import DeviceError, available_devices, resolve_device

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this computer has CUDA")


def test_auto_is_the_first_available_accelerator_else_the_cpu() -> None:
    available = available_devices()
    assert list(available) == ["cuda", "mps", "cpu"] and available["cpu"]
    assert resolve_device() == next(name for name, here in available.items() if here)
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(DeviceError, match="must be one of auto, cpu, cuda, mps, not 'tpu'"):
        resolve_device("tpu")


@no_cuda
def test_an_absent_device_names_the_ones_present() -> None:
    with pytest.raises(DeviceError, match=r"device cuda is not available on this computer \(it"):
        resolve_device("cuda")


@no_cuda
def test_train_refuses_an_absent_device_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--device", "cuda", "--output", "never-written"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("tensorsight train: error: --device cuda is not available")
    assert error.count("\n") == 1


@no_cuda
def test_show_refuses_an_absent_device_before_loading() -> None:
    pytest.importorskip("anywidget")
    from tensorsight.jupyter import explainer_widget

    with pytest.raises(DeviceError, match="device cuda is not available"):
        explainer_widget("tinyvgg", device="cuda")


def test_show_runs_the_model_on_the_device_named() -> None:
    pytest.importorskip("anywidget")
    from tensorsight.jupyter import explainer_widget

    widget = explainer_widget(nn.Sequential(nn.Conv2d(3, 2, 3), nn.ReLU()), device="cpu")
    assert {p.device.type for p in widget.explainer.model.parameters()} == {"cpu"}
    assert widget.explainer.model_info()["nodes"][1]["kind"] == "conv2d"


def test_capture_on_a_device_moves_the_model_back() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(inplace=True))
    graph = capture(model, torch.ones(1, 1, 5, 5), device="auto")
    where = torch.device(resolve_device())
    assert {node.activation.device.type for node in graph.nodes} == {where.type}
    assert {p.device.type for p in model.parameters()} == {"cpu"}
    if torch.cuda.is_available():
        torch.testing.assert_close(graph.nodes[-1].activation.cpu(), model(torch.ones(1, 1, 5, 5)))


@no_cuda
def test_capture_refuses_an_absent_device() -> None:
    with pytest.raises(DeviceError, match="device cuda is not available"):
        capture(nn.ReLU(), torch.ones(1, 2), device="cuda")
