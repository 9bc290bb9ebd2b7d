"""capture() records deformable convolutions as their own kind, with the offsets that fed them."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tensorsight.capturing import capture
from tensorsight.ops import DeformConv2d, deform_conv2d, torchvision_deform_conv2d


class OffsetsFromAConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.offsets = nn.Conv2d(2, 18, 3, padding=1)
        self.deform = DeformConv2d(2, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.deform(x, self.offsets(x)))


def test_module_node_keeps_offsets_and_their_producer() -> None:
    torch.manual_seed(0)
    model = OffsetsFromAConv().eval()
    x = torch.randn(1, 2, 6, 6)
    graph = capture(model, x)
    node = next(node for node in graph.nodes if node.kind == "deform_conv2d")
    producer = graph.node(node.config["offset_node"])
    assert producer.name == "offsets" and node.inputs == ("n0", producer.id)
    assert node.module_type == "DeformConv2d"
    assert node.config["offset_groups"] == 1 and node.config["modulated"] is False
    assert node.config["mask_node"] is None and node.config["bias"] is True
    assert node.config["kernel_size"] == [3, 3] and node.config["padding"] == [1, 1]
    assert torch.equal(node.parameters["offset"], producer.activation)
    assert "mask" not in node.parameters
    with torch.no_grad():
        expected = model.deform(x, model.offsets(x))
    assert torch.allclose(node.activation, expected)


def test_functional_op_with_a_mask_is_one_node() -> None:
    weight = torch.randn(6, 1, 3, 3)  # 3 groups of 1 input channel
    offset = torch.randn(1, 2 * 9, 4, 4)  # not produced by a node: kept as a parameter

    class Functional(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            mask = torch.sigmoid(x[:, :1, 1:5, 1:5]).expand(1, 9, 4, 4)
            return deform_conv2d(x, offset, weight, stride=1, mask=mask)

    graph = capture(Functional(), torch.randn(1, 3, 6, 6))
    node = graph.output
    assert node.kind == "deform_conv2d" and node.name == "deform_conv2d_1"
    assert node.config["groups"] == 3 and node.config["in_channels"] == 3
    assert node.config["out_channels"] == 6 and node.config["modulated"] is True
    assert node.config["offset_node"] is None
    assert graph.node(node.config["mask_node"]).kind == "other"  # the expand
    assert torch.equal(node.parameters["offset"], offset)
    assert node.parameters["mask"].shape == (1, 9, 4, 4)
    assert not any(other.kind in ("mul", "matmul") for other in graph.nodes)  # no inner ops


@pytest.mark.skipif(
    torchvision_deform_conv2d() is None, reason="torchvision does not import beside this torch"
)
def test_torchvision_layers_are_deformable_kind() -> None:
    import torchvision.ops as ops

    model = nn.Sequential()
    model.offsets = nn.Conv2d(1, 18, 3)
    model.deform = ops.DeformConv2d(1, 2, 3)

    class Wrapper(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner.deform(x, self.inner.offsets(x))

    graph = capture(Wrapper(), torch.randn(1, 1, 7, 7))
    assert graph.output.kind == "deform_conv2d"
    assert graph.node(graph.output.config["offset_node"]).name == "inner.offsets"
