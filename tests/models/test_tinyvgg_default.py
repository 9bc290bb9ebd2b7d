"""The default model shipped in the package: it loads offline, its samples are real test images,
and (when Fashion-MNIST is installed) it scores what its card says."""

from __future__ import annotations

import re
import socket

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from tensorsight.data import (
    DEFAULT_FASHION_MNIST_DIR,
    FASHION_MNIST_CLASSES,
    read_fashion_mnist,
)
from tensorsight.imaging import Preprocessing
from tensorsight.models.tinyvgg import DEFAULT_BUNDLE_DIR, TinyVGG, load_default
from tensorsight.training import evaluate

installed = pytest.mark.skipif(
    not (DEFAULT_FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
    reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)",
)


@pytest.fixture(scope="module")
def bundle():
    return load_default()


def test_default_is_a_cnn_explainer_sized_tinyvgg(bundle) -> None:
    assert isinstance(bundle.model, TinyVGG) and not bundle.model.training
    assert bundle.model.filters == 10 and bundle.model.num_classes == 10
    assert bundle.class_names == FASHION_MNIST_CLASSES
    assert bundle.preprocessing == Preprocessing.from_dict(bundle.card["preprocessing"])
    assert bundle.preprocessing.channels == 1 and bundle.preprocessing.invert_light_background
    assert bundle.card["metrics"]["test_count"] == 10_000
    assert bundle.card["metrics"]["test_accuracy"] >= 0.91


def test_loads_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("load_default tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    bundle = load_default()
    assert bundle.model(torch.zeros(1, 1, *bundle.preprocessing.size)).shape == (1, 10)


def test_bundle_holds_only_safe_small_files() -> None:
    files = sorted(p.name for p in DEFAULT_BUNDLE_DIR.rglob("*") if p.is_file())
    assert all(name.endswith((".json", ".png", ".safetensors")) for name in files)
    assert (DEFAULT_BUNDLE_DIR / "weights.safetensors").stat().st_size < 100_000


def test_two_samples_per_class_with_url_safe_ids(bundle) -> None:
    assert len(bundle.samples) == 20
    assert sorted({s.label for s in bundle.samples}) == sorted(FASHION_MNIST_CLASSES)
    assert all(re.fullmatch(r"[a-z0-9-]+", s.id) for s in bundle.samples)
    assert {s.id for s in bundle.samples} >= {"ankle-boot-1", "t-shirt-top-2"}
    for sample in bundle.samples:
        with Image.open(sample.path) as image:
            assert image.format == "PNG" and image.size == (28, 28)


def test_model_classifies_its_samples_about_as_well_as_the_card_says(bundle) -> None:
    correct = 0
    with torch.no_grad():
        for sample in bundle.samples:
            with Image.open(sample.path) as image:
                logits = bundle.model(bundle.preprocessing.to_tensor(image))
            correct += bundle.class_names[int(logits.argmax())] == sample.label
    # 20 draws at the card's accuracy (~0.9) fall 4 or more below the mean well under 1% of
    # the time; broken weights or preprocessing score near chance (2 of 20)
    expected = len(bundle.samples) * bundle.card["metrics"]["test_accuracy"]
    assert correct >= round(expected) - 4


def test_a_dark_on_light_photo_lands_where_training_data_is(bundle) -> None:
    # A photo of a garment on a light background, larger and in colour: after preprocessing it
    # must look like the Fashion-MNIST sample it was made from (light garment on black).
    sample = next(s for s in bundle.samples if s.id == "ankle-boot-1")
    with Image.open(sample.path) as image:
        original = bundle.preprocessing.to_array(image)
        photo = ImageOps.invert(image.convert("L")).convert("RGB").resize((280, 280))
    as_photo = bundle.preprocessing.to_array(photo)
    assert np.abs(as_photo - original).mean() < 0.05


@installed
def test_samples_are_the_first_test_images_of_each_class(bundle) -> None:
    test = read_fashion_mnist("test")
    for sample in bundle.samples:
        number = int(sample.id.rsplit("-", 1)[1])
        index = FASHION_MNIST_CLASSES.index(sample.label)
        expected = test.images[test.labels == index][number - 1]
        np.testing.assert_array_equal(np.asarray(Image.open(sample.path)), expected)


@installed
def test_shipped_weights_reach_the_cards_accuracy(bundle) -> None:
    test = read_fashion_mnist("test")
    card = bundle.card["metrics"]
    count = 2000
    inputs = torch.from_numpy(test.to_inputs(bundle.preprocessing)[:count])
    metrics = evaluate(
        bundle.model, inputs, torch.from_numpy(test.labels[:count]), bundle.class_names
    )
    # the card's figure is on all 10,000; the first 2,000 agree to within sampling noise
    assert abs(metrics["accuracy"] - card["test_accuracy"]) < 0.02
    # and the first 2,000 rows of the card's confusion matrix are a subset of the full one
    assert (np.array(metrics["confusion_matrix"]) <= np.array(card["confusion_matrix"])).all()
