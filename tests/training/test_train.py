"""Training on real images: determinism, what is written (safetensors + card + samples, never a
pickle), image folders, and the ``tensorsight train`` command."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from tensorsight.cli import main
from tensorsight.data import FASHION_MNIST_CLASSES, DatasetError, read_fashion_mnist
from tensorsight.devices import resolve_device
from tensorsight.imaging import Preprocessing
from tensorsight.models import load_model
from tensorsight.models.tinyvgg import load_bundle
from tensorsight.training import TrainConfig, evaluate, train

FIXTURES = Path(__file__).parents[1] / "fixtures"
FASHION = FIXTURES / "fashion_mnist"


def _config(output: Path, **changes) -> TrainConfig:
    settings = {
        "data_dir": FASHION,
        "input_size": 28,
        "epochs": 2,
        "batch_size": 32,
        "progress": False,
        "samples_per_class": 1,
    }
    return TrainConfig(output=output, **{**settings, **changes})


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    return train(_config(tmp_path_factory.mktemp("run"), epochs=6, learning_rate=0.02))


def test_same_seed_gives_identical_weights(tmp_path: Path) -> None:
    first = load_file(train(_config(tmp_path / "a")).output / "weights.safetensors")
    second = load_file(train(_config(tmp_path / "b")).output / "weights.safetensors")
    other = load_file(train(_config(tmp_path / "c", seed=1)).output / "weights.safetensors")
    assert first.keys() == second.keys()
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert not torch.equal(first["output.weight"], other["output.weight"])


def test_writes_weights_card_and_samples_and_no_pickle(trained) -> None:
    files = sorted(
        p.relative_to(trained.output).as_posix() for p in trained.output.rglob("*") if p.is_file()
    )
    exemplars = [name for name in files if name.startswith("exemplars/")]
    assert exemplars[0] == "exemplars/conv_1_1.png" and "exemplars/index.json" in exemplars
    files = [name for name in files if name not in exemplars]
    assert files[:2] == ["card.json", "samples/ankle-boot-1.png"]
    assert files[-1] == "weights.safetensors"
    assert all(name.endswith((".json", ".png", ".safetensors")) for name in files)
    assert len([name for name in files if name.startswith("samples/")]) == 10


def test_model_learns_from_real_images(trained) -> None:
    # 285 training images, 6 epochs: far above the 10% of guessing on the 100 test images
    assert trained.card["metrics"]["test_accuracy"] > 0.5


def test_card_describes_the_run(trained) -> None:
    card = json.loads((trained.output / "card.json").read_text())
    assert card == trained.card
    assert card["architecture"] == {
        "name": "TinyVGG",
        "in_channels": 1,
        "input_size": [28, 28],
        "num_classes": 10,
        "filters": 10,
    }
    assert card["class_names"] == list(FASHION_MNIST_CLASSES)
    assert Preprocessing.from_dict(card["preprocessing"]) == Preprocessing(
        size=(28, 28), channels=1, invert_light_background=True
    )
    assert card["data"]["train_count"] == 285 and card["data"]["validation_count"] == 15
    for name, digest in card["data"]["sha256"].items():
        assert hashlib.sha256((FASHION / name).read_bytes()).hexdigest() == digest
    metrics = card["metrics"]
    confusion = torch.tensor(metrics["confusion_matrix"])
    assert confusion.sum() == metrics["test_count"] == 100
    assert round(float(confusion.trace()) / 100, 4) == metrics["test_accuracy"]
    assert len(card["training"]["history"]) == 6 and card["training"]["training_seconds"] > 0
    assert card["training"]["device"] == resolve_device()  # the default: auto, resolved
    weights = (trained.output / "weights.safetensors").read_bytes()
    assert card["weights"]["sha256"] == hashlib.sha256(weights).hexdigest()


def test_bundle_reloads_and_scores_as_the_card_says(trained) -> None:
    bundle = load_bundle(trained.output)
    assert not bundle.model.training
    test = read_fashion_mnist("test", FASHION)
    inputs = torch.from_numpy(test.to_inputs(bundle.preprocessing))
    metrics = evaluate(bundle.model, inputs, torch.from_numpy(test.labels), bundle.class_names)
    assert metrics["accuracy"] == trained.card["metrics"]["test_accuracy"]
    assert metrics["confusion_matrix"] == trained.card["metrics"]["confusion_matrix"]


def test_samples_come_from_the_test_split(trained) -> None:
    bundle = load_bundle(trained.output)
    test = read_fashion_mnist("test", FASHION)
    for sample in bundle.samples:
        label = FASHION_MNIST_CLASSES.index(sample.label)
        first = test.images[test.labels == label][0]
        np.testing.assert_array_equal(np.asarray(Image.open(sample.path)), first)


def test_serving_a_trained_run_offers_its_samples(trained) -> None:
    bundle = load_model("tinyvgg", weights=trained.output / "weights.safetensors")
    assert bundle.class_names == tuple(trained.card["class_names"])
    assert [sample.id for sample in bundle.samples] == [
        sample.id for sample in load_bundle(trained.output).samples
    ]
    assert len(bundle.samples) == len(FASHION_MNIST_CLASSES)


def test_trains_on_an_image_folder(tmp_path: Path) -> None:
    result = train(
        TrainConfig(
            output=tmp_path,
            data=FIXTURES / "image_folder",
            input_size=32,
            epochs=3,
            batch_size=8,
            test_fraction=0.35,
            validation_fraction=0.0,
            progress=False,
        )
    )
    card = result.card
    assert card["class_names"] == ["bag", "sneaker", "trouser"]
    assert card["architecture"]["in_channels"] == 3
    assert card["data"]["name"] == "image folder" and card["metrics"]["test_count"] == 6
    assert len(card["data"]["sha256"]) == 64
    bundle = load_bundle(tmp_path)
    assert {sample.label for sample in bundle.samples} <= {"bag", "sneaker", "trouser"}


def test_unreadable_photo_stops_training_with_its_name(tmp_path: Path) -> None:
    import shutil

    root = Path(shutil.copytree(FIXTURES / "image_folder", tmp_path / "photos"))
    (root / "bag" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(DatasetError, match=r"broken\.jpg"):
        train(TrainConfig(output=tmp_path / "out", data=root, progress=False))


def test_command_line_trains_and_reports(tmp_path: Path, capsys) -> None:
    code = main(
        [
            "train",
            "--data-dir",
            str(FASHION),
            "--output",
            str(tmp_path),
            "--epochs",
            "1",
            "--input-size",
            "28",
            "--limit",
            "64",
            "--quiet",
        ]
    )
    assert code == 0
    assert "test accuracy" in capsys.readouterr().out
    assert json.loads((tmp_path / "card.json").read_text())["data"]["train_count"] == 61


def test_command_line_explains_a_missing_dataset(tmp_path: Path, capsys) -> None:
    code = main(
        ["train", "--data-dir", str(tmp_path), "--output", str(tmp_path / "out"), "--quiet"]
    )
    assert code == 1
    assert "apt-get install dataset-fashion-mnist" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
