"""Receptive-field boxes from the graph's geometry equal where the gradient is non-zero.

For each checked cell, the gradient of that cell (all its channels) with respect to the input is
taken for a batch of random inputs at once; the union of its non-zero places over the batch
(ReLUs and max pools route any single gradient through only some paths) must have exactly the
geometric box as its bounding box, and nothing outside the box may ever be non-zero.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from architectures import build
from tensorsight.attribution import effective_receptive_field, receptive_fields, spatial_nodes
from tensorsight.attribution.receptive import unit_input_gradient
from tensorsight.capturing import capture


def _support_box(gradient: torch.Tensor) -> tuple[int, int, int, int]:
    nonzero = (gradient != 0).any(0).any(0)
    rows = torch.nonzero(nonzero.any(1)).flatten()
    cols = torch.nonzero(nonzero.any(0)).flatten()
    return int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1])


def _check_cells(model: nn.Module, x: torch.Tensor, node_ids: list[str]) -> int:
    graph = capture(model, x)
    checked = 0
    for node_id in node_ids:
        fields = receptive_fields(graph, node_id)
        assert fields.exact
        height, width = graph.node(node_id).output_shape[2:]
        for y, x_ in {(0, 0), (height - 1, width - 1), (height // 2, width // 3)}:
            gradient = unit_input_gradient(model, x, graph, node_id, y, x_)
            box = fields.box(y, x_)
            assert _support_box(gradient) == box, (graph.node(node_id).name, (y, x_))
            checked += 1
    return checked


def _random_batch(shape: tuple[int, ...], count: int = 12) -> torch.Tensor:
    return torch.randn((count, *shape[1:]), generator=torch.Generator().manual_seed(5))


def test_tinyvgg_every_layer(tinyvgg):
    x = _random_batch((1, 1, 64, 64)).abs()
    graph = capture(tinyvgg.model, x[:1])
    nodes = [node_id for node_id in spatial_nodes(graph) if node_id != "n0"]
    assert _check_cells(tinyvgg.model, x, nodes) == 3 * len(nodes)
    # The last conv's cell sees 2 + 2 + 1 (pool) ... : 3x3, 3x3, /2, 3x3, 3x3 -> 16 pixels wide.
    last = receptive_fields(graph, next(n.id for n in graph.nodes if n.name == "relu_2_2"))
    assert last.box(0, 0) == (0, 0, 13, 13)
    assert last.box(1, 2) == (2, 4, 15, 17)


@pytest.mark.parametrize("family", ["resnet", "unet", "branchy"])
def test_architecture_families(family):
    model, x = build(family)
    graph = capture(model, x)
    nodes = [node_id for node_id in spatial_nodes(graph) if node_id != "n0"]
    assert _check_cells(model, _random_batch(x.shape), nodes[::2] + nodes[-1:]) > 0


def test_an_op_of_unknown_geometry_gives_the_whole_input():
    model, x = build("functional")  # ChannelScale is a user layer: its geometry is unknown
    graph = capture(model, x)
    scaled = next(n for n in graph.nodes if n.module_type == "ChannelScale")
    fields = receptive_fields(graph, scaled.id)
    assert not fields.exact
    assert fields.box(0, 0) == (0, 0, 15, 15)
    assert receptive_fields(graph, "n1").exact  # the conv before it is known


def test_mobilenet_v2():
    from tensorsight.models import ModelLoadError, load_model

    try:
        model = load_model("mobilenet_v2").model
    except ModelLoadError as error:
        pytest.skip(str(error))
    x = _random_batch((1, 3, 64, 64), count=4)
    graph = capture(model, x[:1])
    names = (
        "features.0.2",
        "features.2.conv.1.2",
        "features.4.conv.2",
        "features.7.conv.1.0",
        "features.18.2",
    )
    nodes = [n.id for n in graph.nodes if n.name in names]
    nodes.append(next(n.id for n in graph.nodes if n.kind == "add"))
    assert len(nodes) == 6
    assert _check_cells(model, x, nodes) >= 12
    # The stem's 3x3 stride-2 conv with padding 1: cell (0, 0) reads rows 0-1 (row -1 is padding).
    assert receptive_fields(graph, nodes[0]).box(0, 0) == (0, 0, 1, 1)


def test_effective_receptive_field_is_the_cell_gradient(tinyvgg):
    x = _random_batch((1, 1, 64, 64), count=1).abs()
    graph = capture(tinyvgg.model, x)
    node = next(n for n in graph.nodes if n.name == "conv_2_1")
    heat = effective_receptive_field(tinyvgg.model, x, graph, node.id, 4, 5, channel=2)
    inputs = x.clone().requires_grad_(True)
    m = tinyvgg.model
    out = m.conv_2_1(m.max_pool_1(m.relu_1_2(m.conv_1_2(m.relu_1_1(m.conv_1_1(inputs))))))
    (expected,) = torch.autograd.grad(out[0, 2, 4, 5], inputs)
    np.testing.assert_allclose(heat, expected[0].abs().sum(0).numpy(), rtol=1e-6)
    top, left, bottom, right = receptive_fields(graph, node.id).box(4, 5)
    outside = heat.copy()
    outside[top : bottom + 1, left : right + 1] = 0
    assert not outside.any()


def test_receptive_fields_describe_and_reject_bad_cells(tinyvgg):
    graph = capture(tinyvgg.model, torch.zeros(1, 1, 64, 64))
    fields = receptive_fields(graph, "n1")
    assert fields.describe()["rows"][:2] == [[0, 2], [1, 3]]
    from tensorsight.attribution import AttributionError

    with pytest.raises(AttributionError, match="outside the 62x62 map"):
        fields.box(62, 0)
    with pytest.raises(AttributionError, match="is not a map"):
        receptive_fields(graph, graph.output_id)
