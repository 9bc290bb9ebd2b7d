"""The deformable-convolution detail pack: every number against torch's own operations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tensorsight.capturing import capture
from tensorsight.explanation import Explainer, decode_pack, encode_pack
from tensorsight.explanation.deform import (
    bilinear_read,
    channel_offset_groups,
    deform_sampling,
    neighbour_values,
)
from tensorsight.explanation.details import detail_pack
from tensorsight.imaging import Preprocessing
from tensorsight.models.tinyvgg_deformable import DeformableTinyVGG
from tensorsight.ops import DeformConv2d, deform_conv2d

TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}


def learned_model(seed: int = 0) -> DeformableTinyVGG:
    """A DeformableTinyVGG whose offset convolutions are not zero (as after training)."""
    torch.manual_seed(seed)
    model = DeformableTinyVGG()
    for name in model.deformable_names():
        nn.init.normal_(getattr(model, name + "_offset").weight, std=0.15)
    return model.eval()


class Modulated(nn.Module):
    """DCNv2 with groups and two offset groups, offsets and mask from one convolution."""

    def __init__(self) -> None:
        super().__init__()
        self.offsets = nn.Conv2d(4, 3 * 2 * 9, 3, padding=1)
        self.deform = DeformConv2d(4, 6, 3, padding=1, stride=2, groups=2)
        nn.init.normal_(self.offsets.weight, std=0.3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        predicted = self.offsets(x)[:, :, ::2, ::2]
        offset, mask = predicted[:, :36], torch.sigmoid(predicted[:, 36:])
        return self.deform(x, offset, mask)


def test_bilinear_weights_are_the_papers_separable_kernel() -> None:
    offset = torch.randn(18, 4, 4, generator=torch.Generator().manual_seed(1)) * 2
    sampling = deform_sampling(offset, (3, 3))
    for corner, (dy, dx) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        qy, qx = sampling.y0 + dy, sampling.x0 + dx
        expected = torch.clamp(1 - (qx - sampling.x).abs(), min=0) * torch.clamp(
            1 - (qy - sampling.y).abs(), min=0
        )
        assert torch.allclose(sampling.weights[:, :, corner], expected)
    assert torch.allclose(sampling.weights.sum(dim=2), torch.ones(1, 9, 4, 4, dtype=offset.dtype))


def test_bilinear_read_matches_grid_sample() -> None:
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(3, 6, 7, generator=generator, dtype=torch.float64)
    offset = torch.randn(18, 4, 5, generator=generator, dtype=torch.float64) * 1.5
    sampling = deform_sampling(offset, (3, 3))
    grid = torch.stack(((2 * sampling.x[0] + 1) / 7 - 1, (2 * sampling.y[0] + 1) / 6 - 1), -1)
    expected = F.grid_sample(x.unsqueeze(0), grid.reshape(1, 9 * 4, 5, 2), align_corners=False)
    assert torch.allclose(bilinear_read(x, sampling), expected.reshape(3, 9, 4, 5))
    corners = neighbour_values(x, sampling)
    assert corners.shape == (3, 9, 4, 4, 5)


def test_channel_offset_groups_are_contiguous_blocks() -> None:
    assert channel_offset_groups(range(0, 6), in_channels=6, offset_groups=3).tolist() == [
        0,
        0,
        1,
        1,
        2,
        2,
    ]


@pytest.mark.parametrize("channel", [0, 7])
def test_tinyvgg_pack_adds_up_to_the_captured_output(channel: int) -> None:
    model = learned_model()
    graph = capture(model, torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(3)))
    node = next(node for node in graph.nodes if node.name == "conv_2_2")
    meta, arrays = detail_pack(graph, node, channel)
    assert meta["kind"] == "deform_conv2d" and meta["modulated"] is False
    assert meta["offset_node"] == graph.node(node.inputs[1]).id
    assert graph.node(meta["offset_node"]).name == "conv_2_2_offset"
    assert np.allclose(arrays["intermediate"].sum(0) + meta["bias"], arrays["output"], **TOLERANCE)
    # The terms themselves: sampled x weight per tap, summed, is the intermediate map.
    kernel = arrays["kernel"].reshape(10, 9, 1, 1)
    assert np.allclose((arrays["sampled"] * kernel).sum(1), arrays["intermediate"], **TOLERANCE)
    # The sampled values are what the op itself reads: a one-tap kernel returns them.
    x = torch.from_numpy(arrays["input"]).unsqueeze(0)
    offset = torch.from_numpy(arrays["offset"]).reshape(1, -1, 26, 26)
    weight = torch.zeros(1, 10, 3, 3)
    weight[0, 4, 1, 2] = 1.0  # input channel 4, tap (1, 2) = k 5
    read = deform_conv2d(x, offset, weight)[0, 0].numpy()
    assert np.allclose(arrays["sampled"][4, 5], read, **TOLERANCE)
    # Neighbour lookups: the four values and their weights give the sampled value.
    assert meta["corners"] == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert np.allclose(arrays["bilinear"].sum(2), 1.0, **TOLERANCE)


def test_modulated_grouped_pack_uses_the_mask_and_the_right_offset_groups() -> None:
    torch.manual_seed(4)
    model = Modulated().eval()
    graph = capture(model, torch.randn(1, 4, 9, 9))
    node = graph.output
    assert node.kind == "deform_conv2d"
    assert node.config["offset_groups"] == 2 and node.config["modulated"] is True
    assert graph.node(node.config["mask_node"]).kind == "sigmoid"
    for channel in (1, 4):
        meta, arrays = detail_pack(graph, node, channel)
        assert meta["in_channels"] == ([0, 2] if channel < 3 else [2, 4])
        assert meta["channel_offset_groups"] == ([0, 0] if channel < 3 else [1, 1])
        groups = np.array(meta["channel_offset_groups"])
        terms = arrays["sampled"] * arrays["mask"][groups] * arrays["kernel"].reshape(2, 9, 1, 1)
        assert np.allclose(terms.sum((0, 1)) + meta["bias"], arrays["output"], **TOLERANCE)
        assert np.allclose(
            arrays["intermediate"].sum(0) + meta["bias"], arrays["output"], **TOLERANCE
        )
    # It reads the model input directly: one level, the sampling points of offset group 0.
    assert meta["field_levels"] == 1
    assert np.allclose(arrays["field_y"].reshape(5, 5, 9), arrays["sample_y"][0].transpose(1, 2, 0))


def test_receptive_field_of_the_plain_model_is_the_regular_grid() -> None:
    model = DeformableTinyVGG().eval()  # zero offsets: exactly the plain TinyVGG
    graph = capture(model, torch.rand(1, 1, 64, 64))
    node = next(node for node in graph.nodes if node.name == "conv_2_2")
    meta, arrays = detail_pack(graph, node, 0)
    assert meta["field_levels"] == 2
    assert arrays["field_y"].shape == (26, 26, 81)
    assert np.array_equal(arrays["field_y"], arrays["regular_y"])
    # output (r, c) of conv_2_2 covers rows 2r + 2.5 ... 2r + 10.5 of the 64x64 input in
    # steps of 2: five rows (pool 1 halves) of window centres.
    rows = sorted(set(arrays["regular_y"][3, 5].tolist()))
    assert rows == [2 * 3 + 2.5 + 2 * step for step in range(5)]
    cols = sorted(set(arrays["regular_x"][3, 5].tolist()))
    assert cols == [2 * 5 + 2.5 + 2 * step for step in range(5)]


def test_learned_offsets_move_the_receptive_field() -> None:
    graph = capture(learned_model(), torch.rand(1, 1, 64, 64))
    node = next(node for node in graph.nodes if node.name == "conv_2_2")
    _, arrays = detail_pack(graph, node, 0)
    assert not np.allclose(arrays["field_y"], arrays["regular_y"])


def test_one_deformed_level_expands_its_taps_through_the_plain_layers() -> None:
    model = DeformableTinyVGG()
    torch.manual_seed(5)
    nn.init.normal_(model.conv_2_2_offset.weight, std=0.15)
    graph = capture(model.eval(), torch.rand(1, 1, 64, 64))
    node = next(node for node in graph.nodes if node.name == "conv_2_2")
    _, arrays = detail_pack(graph, node, 0)
    row, col = 4, 7
    # Each conv_2_2 tap lands at a fractional row y of conv_2_1's output; conv_2_1 (zero
    # offsets) reads pool rows round(y) + i, and pool row r is centred on input row 2r + 2.5.
    taps_y = arrays["sample_y"][0, :, row, col].astype(np.float64)
    taps_x = arrays["sample_x"][0, :, row, col].astype(np.float64)
    expected_y = [2 * (np.round(y) + i) + 2.5 for y in taps_y for i in range(3) for _ in range(3)]
    expected_x = [2 * (np.round(x) + j) + 2.5 for x in taps_x for _ in range(3) for j in range(3)]
    assert np.allclose(arrays["field_y"][row, col], expected_y, atol=1e-5)
    assert np.allclose(arrays["field_x"][row, col], expected_x, atol=1e-5)


def test_explainer_serves_the_deform_pack() -> None:
    explainer = Explainer(
        learned_model(),
        preprocessing=Preprocessing(size=(64, 64), channels=1),
        class_names=tuple(str(index) for index in range(10)),
        name="deform",
    )
    kinds = {node["name"]: node["kind"] for node in explainer.model_info()["nodes"]}
    assert kinds["conv_2_1"] == kinds["conv_2_2"] == "deform_conv2d"
    image = torch.rand(64, 64).mul(255).byte().numpy()
    from PIL import Image

    overview = explainer.run_image(Image.fromarray(image))
    node_id = next(
        node["id"] for node in explainer.model_info()["nodes"] if node["name"] == "conv_2_1"
    )
    meta, arrays = explainer.detail(overview["run_id"], node_id, 2)
    decoded_meta, decoded = decode_pack(encode_pack(meta, arrays))
    assert decoded_meta["kind"] == "deform_conv2d"
    assert all(array.dtype == np.float32 for array in decoded.values())
    assert decoded["field_y"].shape == (28, 28, 9)
