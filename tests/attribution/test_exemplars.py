"""Channel exemplars: the right images, cropped to the right box, shipped and written by train."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from architectures import build
from tensorsight.attribution import (
    AttributionError,
    channel_crops,
    compute_exemplars,
    receptive_fields,
)
from tensorsight.capturing import capture
from tensorsight.cli import main
from tensorsight.models.tinyvgg import DEFAULT_BUNDLE_DIR
from tensorsight.training import TrainConfig, train

FIXTURES = Path(__file__).parents[1] / "fixtures"


def test_exemplars_are_the_strongest_images_cropped_to_the_field():
    model, _ = build("resnet")
    images = torch.rand(40, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    found = compute_exemplars(model, images, count=4, batch_size=16)  # batches: 16, 16, 8
    graph = capture(model, images)
    node = next(n for n in graph.nodes if n.name == "layer2.conv")
    layer = found.layers["layer2.conv"]
    peaks = node.activation.flatten(2).max(2).values  # [images, channels]
    fields = receptive_fields(graph, node.id)
    for channel in (0, 7):
        expected = peaks[:, channel].argsort(descending=True)[:4].tolist()
        entries = layer.entries[channel]
        assert [entry["image"] for entry in entries] == expected
        best = entries[0]
        assert best["value"] == pytest.approx(float(peaks[expected[0], channel]), rel=1e-5)
        top, left, bottom, right = fields.box(best["y"], best["x"])
        assert best["box"] == [top, left, bottom, right]
        crop = images[expected[0], :, top : bottom + 1, left : right + 1].numpy()
        np.testing.assert_array_equal(
            layer.crops[channel, 0, :, : crop.shape[1], : crop.shape[2]], crop
        )


def test_saved_sheets_give_back_the_crops(tmp_path):
    model, _ = build("tinyvgg")
    images = torch.rand(20, 1, 64, 64, generator=torch.Generator().manual_seed(3))
    found = compute_exemplars(model, images, count=3)
    found.save(tmp_path)
    meta, crops = channel_crops(tmp_path, "conv_2_1", 5)
    layer = found.layers["conv_2_1"]
    assert meta["entries"] == layer.entries[5] and meta["cell"] == [10, 10]
    expected = (layer.crops[5].transpose(0, 2, 3, 1).clip(0, 1) * 255).round()
    np.testing.assert_array_equal(crops, expected.astype(np.uint8))
    with pytest.raises(AttributionError, match="No exemplars were computed for layer 'x'"):
        channel_crops(tmp_path, "x", 0)
    with pytest.raises(AttributionError, match="Channel 10 is out of range"):
        channel_crops(tmp_path, "conv_2_1", 10)


def test_the_shipped_tinyvgg_has_exemplars(tinyvgg):
    index = json.loads((DEFAULT_BUNDLE_DIR / "exemplars" / "index.json").read_text())
    assert index["count"] == 9 and "10000" in index["source"]
    assert list(index["layers"]) == ["conv_1_1", "conv_1_2", "conv_2_1", "conv_2_2"]
    assert tinyvgg.exemplars == DEFAULT_BUNDLE_DIR / "exemplars"
    for spec in index["layers"].values():
        assert spec["channels"] == 10
        for entries in spec["entries"]:
            values = [entry["value"] for entry in entries]
            assert len({entry["image"] for entry in entries}) == 9
            assert values == sorted(values, reverse=True)


def test_shipped_entries_match_the_test_images(tinyvgg):
    from tensorsight.data import DatasetNotFoundError, read_fashion_mnist

    try:
        test_set = read_fashion_mnist("test", None)
    except DatasetNotFoundError as error:
        pytest.skip(str(error))
    index = json.loads((DEFAULT_BUNDLE_DIR / "exemplars" / "index.json").read_text())
    entry = index["layers"]["conv_2_2"]["entries"][3][0]
    x = torch.from_numpy(test_set.to_inputs(tinyvgg.preprocessing)[entry["image"]][None])
    with torch.no_grad():
        activation = _conv_2_2(tinyvgg.model, x)
    assert float(activation[0, 3].max()) == pytest.approx(entry["value"], rel=1e-4)
    assert float(activation[0, 3, entry["y"], entry["x"]]) == pytest.approx(
        entry["value"], rel=1e-4
    )


def _conv_2_2(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model.conv_2_2(
        model.relu_2_1(
            model.conv_2_1(
                model.max_pool_1(model.relu_1_2(model.conv_1_2(model.relu_1_1(model.conv_1_1(x)))))
            )
        )
    )


def test_the_command_computes_them_for_a_folder(tmp_path, capsys):
    code = main(
        [
            "exemplars",
            "--images",
            str(FIXTURES / "image_folder"),
            "--output",
            str(tmp_path),
            "--count",
            "2",
            "--layers",
            "conv_1_1",
            "conv_2_2",
        ]
    )
    assert code == 0
    assert "exemplars of 2 layers" in capsys.readouterr().out
    index = json.loads((tmp_path / "index.json").read_text())
    assert list(index["layers"]) == ["conv_1_1", "conv_2_2"]
    used = (tmp_path / "images.txt").read_text().splitlines()
    assert all(entry["image"] < len(used) for entry in index["layers"]["conv_1_1"]["entries"][0])
    assert (tmp_path / "conv_2_2.png").is_file()


def test_the_command_says_what_is_wrong(tmp_path, capsys):
    assert main(["exemplars", "--images", str(tmp_path)]) == 2
    assert "no images in" in capsys.readouterr().err
    code = main(
        [
            "exemplars",
            "--images",
            str(FIXTURES / "image_folder"),
            "--output",
            str(tmp_path / "o"),
            "--layers",
            "nope",
        ]
    )
    assert code == 2
    assert "no layer 'nope'" in capsys.readouterr().err


def test_train_writes_exemplars(tmp_path):
    result = train(
        TrainConfig(
            output=tmp_path,
            data_dir=FIXTURES / "fashion_mnist",
            input_size=28,
            epochs=1,
            batch_size=32,
            progress=False,
            samples_per_class=1,
        )
    )
    index = json.loads((result.output / "exemplars" / "index.json").read_text())
    assert index["source"].startswith("the ") and index["count"] == 9
    assert list(index["layers"]) == ["conv_1_1", "conv_1_2", "conv_2_1", "conv_2_2"]
