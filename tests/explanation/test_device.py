"""Runs live on the model's device and cross to the host only when sent.

On the CPU (always run): a run's activations are the tensors the capture recorded, counted by
the cache's budget; every array an activations pack sends went through ``to_host``; a detail
view moves only the nodes it reads; the overview's on-device value ranges equal the host's.
On a CUDA GPU (skipped without one): every number shown equals the CPU's to float32 tolerance.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from PIL import Image

import tensorsight.explanation.explainer as explainer_module
from architectures import build
from tensorsight.explanation import Explainer, host
from tensorsight.imaging import Preprocessing

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def session(family: str, size: int, channels: int, device: str = "cpu") -> Explainer:
    model, _ = build(family)
    return Explainer(
        copy.deepcopy(model).to(device),
        preprocessing=Preprocessing(size=(size, size), channels=channels),
        class_names=[str(index) for index in range(10)],
        name=family,
    )


def picture() -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8))


@pytest.fixture
def crossings(monkeypatch: pytest.MonkeyPatch) -> list[torch.Tensor]:
    """What crossed to the host: every tensor ``to_host`` returned, in order."""
    crossed: list[torch.Tensor] = []

    def spy(tensor: torch.Tensor) -> torch.Tensor:
        result = tensor.detach().cpu()
        crossed.append(result)
        return result

    monkeypatch.setattr(host, "to_host", spy)
    monkeypatch.setattr(explainer_module, "to_host", spy)
    return crossed


def test_a_run_keeps_the_captured_tensors_on_the_model_device_within_the_budget() -> None:
    tinyvgg = session("tinyvgg", 64, 1)
    run_id = tinyvgg.run_image(picture())["run_id"]
    run = tinyvgg._runs.get(run_id)
    assert run is not None
    weight = next(tinyvgg.model.parameters())
    assert {node.activation.device for node in run.graph.nodes} == {weight.device}
    conv = next(node for node in run.graph.nodes if node.kind == "conv2d")
    # the weights a node shows are the model's own (no copy per run), on its device
    assert conv.parameters["weight"].data_ptr() == tinyvgg.model.conv_1_1.weight.data_ptr()
    held = sum(node.activation.numel() * node.activation.element_size() for node in run.graph.nodes)
    assert tinyvgg._runs.nbytes == held


@pytest.mark.parametrize("encoding", ["u8", "f32"])
def test_every_activation_array_sent_crossed_to_the_host(
    crossings: list[torch.Tensor], encoding: str
) -> None:
    tinyvgg = session("tinyvgg", 64, 1)
    run_id = tinyvgg.run_image(picture())["run_id"]
    crossings.clear()
    nodes = [node["id"] for node in tinyvgg.model_info()["nodes"]]
    _, arrays = tinyvgg.activations(run_id, nodes, encoding=encoding)
    sent = [crossed.numpy() for crossed in crossings]
    for node in nodes:
        assert any(np.shares_memory(arrays[node], array) for array in sent), node
    assert len(crossings) == 2 * len(nodes)  # each node: its scales, then its array


def test_a_detail_moves_only_the_nodes_it_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    moved: list[str] = []
    move = host.node_on_host

    def spy(node):
        moved.append(node.id)
        return move(node)

    monkeypatch.setattr(host, "node_on_host", spy)
    tinyvgg = session("tinyvgg", 64, 1)
    run_id = tinyvgg.run_image(picture())["run_id"]
    info = tinyvgg.model_info()["nodes"]
    conv = next(node for node in info if node["kind"] == "conv2d" and node["inputs"] != ["n0"])
    _, arrays = tinyvgg.detail(run_id, conv["id"], channel=1)
    assert sorted(moved) == sorted({conv["id"], *conv["inputs"]})
    assert all(isinstance(array, np.ndarray) for array in arrays.values())
    moved.clear()
    tinyvgg.terms(run_id, conv["id"], 1, 2, 3)
    assert sorted(moved) == sorted({conv["id"], *conv["inputs"]})


def test_value_ranges_computed_on_the_device_equal_the_hosts() -> None:
    rng = np.random.default_rng(1)
    tensors = [
        torch.from_numpy(rng.normal(size=(3, 5, 5)).astype(np.float32)),
        torch.tensor([1.0, float("nan"), -2.0, float("inf")]),
        torch.tensor([float("-inf"), float("nan")]),
        torch.zeros(0),
        torch.tensor([7], dtype=torch.int64),
    ]
    assert host.device_ranges(tensors) == host.value_ranges(tensors)
    assert host.value_ranges(tensors)[1:] == [(-2.0, 1.0), (0.0, 0.0), (0.0, 0.0), (7.0, 7.0)]


@needs_cuda
@pytest.mark.parametrize(("family", "size", "channels"), [("tinyvgg", 64, 1), ("resnet", 32, 3)])
def test_cuda_and_cpu_show_the_same_numbers(family: str, size: int, channels: int) -> None:
    on_cpu, on_cuda = (session(family, size, channels, device) for device in ("cpu", "cuda"))
    cpu, cuda = (explained.run_image(picture()) for explained in (on_cpu, on_cuda))
    assert cpu["run_id"] == cuda["run_id"]  # same weights, same input: the same run
    graph = on_cuda.run_graph(cuda["run_id"])
    assert {node.activation.device.type for node in graph.nodes} == {"cuda"}  # kept there
    np.testing.assert_allclose(
        cuda["output"]["probabilities"], cpu["output"]["probabilities"], rtol=1e-4, atol=1e-6
    )
    for node, stats in cpu["nodes"].items():
        assert cuda["nodes"][node]["shape"] == stats["shape"]
        for end in ("min", "max"):
            assert cuda["nodes"][node][end] == pytest.approx(stats[end], rel=1e-4, abs=1e-5)
    nodes = on_cpu.model_info()["nodes"]
    ids = [node["id"] for node in nodes]
    (_, f32_cpu), (_, f32_cuda) = (
        explained.activations(cpu["run_id"], ids, encoding="f32") for explained in (on_cpu, on_cuda)
    )
    (_, u8_cpu), (_, u8_cuda) = (
        explained.activations(cpu["run_id"], ids) for explained in (on_cpu, on_cuda)
    )
    for node in ids:
        np.testing.assert_allclose(f32_cuda[node], f32_cpu[node], rtol=1e-4, atol=1e-5)
        steps = np.abs(u8_cuda[node].astype(int) - u8_cpu[node].astype(int))
        assert steps.max(initial=0) <= 1, node  # a value on a rounding edge may step once
    for node in nodes:
        (_, cpu_detail), (_, cuda_detail) = (
            explained.detail(cpu["run_id"], node["id"], 0) for explained in (on_cpu, on_cuda)
        )
        for name, array in cpu_detail.items():
            np.testing.assert_allclose(cuda_detail[name], array, rtol=1e-4, atol=1e-5)
        if node["kind"] == "conv2d":
            (_, cpu_terms), (_, cuda_terms) = (
                explained.terms(cpu["run_id"], node["id"], 0, 0, 0)
                for explained in (on_cpu, on_cuda)
            )
            for name, array in cpu_terms.items():
                np.testing.assert_allclose(cuda_terms[name], array, rtol=1e-4, atol=1e-5)
