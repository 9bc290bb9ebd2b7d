"""How good a Fashion-MNIST generator is, measured offline with our own classifier.

Inception features (the usual FID) need weights downloaded at run time and were made for
photos; for Fashion-MNIST we use the features of the TinyVGG that ships with tensorsight (its
flatten layer, the input of its last dense layer), as MNIST papers do with their own
classifiers. The Fréchet distance compares the Gaussians fitted to the features of generated
and real test images. Two reference points give the number a meaning: the distance of real
training images to the test images (the floor a perfect generator would reach) and that of
the untrained generator (the ceiling). The classifier's class histogram of generated images
shows mode collapse directly.

>>> from tensorsight.training.gan_quality import frechet_distance
>>> x = torch.randn(2000, 3, generator=torch.Generator().manual_seed(0))
>>> round(frechet_distance(x, x), 6)
0.0
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from tensorsight.data import FASHION_MNIST_CLASSES, read_fashion_mnist
from tensorsight.imaging import Preprocessing

if TYPE_CHECKING:
    from torch import nn

    from tensorsight.models import ModelBundle
    from tensorsight.training.gan import GanConfig

MIN_CLASS_FRACTION = 0.03
_BATCH = 500


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to feature rows ``a [N, d]`` and ``b [M, d]``:
    ``|mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^1/2)``, in float64.

    ``tr((S_a S_b)^1/2)`` is the sum of the square roots of the eigenvalues of ``S_a S_b``.
    With ``S = X^T X`` for the centred, scaled rows ``X``, those are the squared singular values
    of ``X_a X_b^T``: with fewer rows than features that small matrix is used; otherwise the
    symmetric form ``S_a^1/2 S_b S_a^1/2`` and ``eigh`` (no scipy needed).

    >>> a = torch.zeros(100, 2); b = torch.ones(100, 2)
    >>> frechet_distance(a, b)
    2.0
    """
    a, b = a.double(), b.double()
    mean_a, mean_b = a.mean(0), b.mean(0)
    rows_a = (a - mean_a) / math.sqrt(max(len(a) - 1, 1))
    rows_b = (b - mean_b) / math.sqrt(max(len(b) - 1, 1))
    if min(len(a), len(b)) < a.shape[1]:
        cross = torch.linalg.svdvals(rows_a @ rows_b.T).sum()
    else:
        cov_a, cov_b = rows_a.T @ rows_a, rows_b.T @ rows_b
        values, vectors = torch.linalg.eigh(cov_a)
        root_a = vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T
        middle = root_a @ cov_b @ root_a
        cross = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    distance = (
        (mean_a - mean_b).square().sum() + rows_a.square().sum() + rows_b.square().sum() - 2 * cross
    )
    return float(distance.clamp(min=0))


class ClassifierFeatures:
    """TinyVGG's features (flatten layer) and predicted classes for generator-range images.

    Images ``[N, 1, S, S]`` in [-1, 1] are turned into uint8 pictures and passed through the
    classifier's own preprocessing (resize to its input size, pixel/255), exactly as a PNG of
    a generated garment would be at inference.

    >>> features, classes = ClassifierFeatures()(torch.zeros(2, 1, 32, 32))  # doctest: +SKIP
    >>> features.shape                                                          # doctest: +SKIP
    torch.Size([2, 1690])
    """

    def __init__(self, bundle: ModelBundle | None = None) -> None:
        if bundle is None:
            from tensorsight.models import load_model

            bundle = load_model("tinyvgg")
        self.bundle = bundle
        self.model: nn.Module = bundle.model
        self.preprocessing: Preprocessing = bundle.preprocessing

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(features [N, d], predicted class [N])`` for images in [-1, 1]."""
        from tensorsight.training.gan import to_uint8

        pixels = to_uint8(images)[:, 0].numpy()
        features, classes = [], []
        for start in range(0, len(pixels), _BATCH):
            batch = torch.from_numpy(
                np.stack(
                    [
                        self.preprocessing.to_array(Image.fromarray(picture))
                        for picture in pixels[start : start + _BATCH]
                    ]
                )
            )
            batch_features, logits = self._forward(batch)
            features.append(batch_features)
            classes.append(logits.argmax(1))
        return torch.cat(features), torch.cat(classes)

    @torch.no_grad()
    def _forward(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        seen: list[torch.Tensor] = []
        hook = self.model.get_submodule("flatten").register_forward_hook(
            lambda _module, _inputs, output: seen.append(output)
        )
        try:
            logits = self.model(batch)
        finally:
            hook.remove()
        return seen[0], logits


def class_histogram(
    classes: torch.Tensor, names: tuple[str, ...] = FASHION_MNIST_CLASSES
) -> dict[str, int]:
    """How many images the classifier puts in each class, every class listed.

    >>> class_histogram(torch.tensor([0, 0, 9]))["T-shirt/top"]
    2
    """
    counts = torch.bincount(classes, minlength=len(names)).tolist()
    return dict(zip(names, counts, strict=True))


@torch.no_grad()
def generate(generator: nn.Module, count: int, latent_dim: int, seed: int) -> torch.Tensor:
    """``count`` images from seeded standard-normal latent vectors, in batches.

    >>> from tensorsight.models.dcgan import Generator
    >>> generate(Generator(latent_dim=4, features=2, image_size=16), 3, 4, seed=0).shape
    torch.Size([3, 1, 16, 16])
    """
    rng = torch.Generator().manual_seed(seed)
    generator.eval()
    images = [
        generator(torch.randn(min(_BATCH, count - start), latent_dim, 1, 1, generator=rng))
        for start in range(0, count, _BATCH)
    ]
    return torch.cat(images)


def measure_quality(
    generator: nn.Module,
    untrained: nn.Module,
    config: GanConfig,
    preprocessing: Preprocessing,
    features: ClassifierFeatures | None = None,
) -> dict[str, Any]:
    """The card's ``quality`` block: Fréchet distance of ``config.quality_samples`` generated
    images to the 10,000 test images, the train-vs-test floor, the untrained ceiling, and the
    class histogram of the generated images.

    >>> measure_quality(generator, untrained, GanConfig(), preprocessing)  # doctest: +SKIP
    {'frechet_distance': 11.8, ...}
    """
    from tensorsight.training.gan import to_gan_range

    features = features or ClassifierFeatures()
    count = config.quality_samples
    test = _real_images(read_fashion_mnist("test", config.data_dir).images, preprocessing)
    train_split = read_fashion_mnist("train", config.data_dir).images
    train_index = torch.randperm(
        len(train_split), generator=torch.Generator().manual_seed(config.seed + 3)
    )
    train = _real_images(train_split[train_index[: len(test)].numpy()], preprocessing)
    test_features, _ = features(to_gan_range(test))
    train_features, _ = features(to_gan_range(train))
    fake_features, fake_classes = features(
        generate(generator, count, config.latent_dim, config.seed + 2)
    )
    untrained_features, _ = features(generate(untrained, count, config.latent_dim, config.seed + 2))
    histogram = class_histogram(fake_classes)
    smallest = min(histogram.values()) / max(count, 1)
    return {
        "frechet_distance": round(frechet_distance(fake_features, test_features), 3),
        "floor_train_vs_test": round(frechet_distance(train_features, test_features), 3),
        "ceiling_untrained_generator": round(
            frechet_distance(untrained_features, test_features), 3
        ),
        "generated_samples": count,
        "reference": f"the {len(test):,} Fashion-MNIST test images; floor: {len(train):,} "
        f"training images",
        "feature_extractor": f"{features.bundle.name}: the {test_features.shape[1]} features "
        f"of its flatten layer (input of its last dense layer)",
        "feature_path": f"generated {config.image_size}x{config.image_size} images -> uint8 -> "
        f"the classifier's preprocessing ({features.preprocessing.describe()})",
        "class_histogram": histogram,
        "smallest_class_fraction": round(smallest, 4),
        "all_classes_at_least_3_percent": smallest >= MIN_CLASS_FRACTION,
    }


def _real_images(pictures: np.ndarray, preprocessing: Preprocessing) -> torch.Tensor:
    """Real 28x28 pictures as the generator's training data saw them, in [0, 1]."""
    return torch.from_numpy(
        np.stack([preprocessing.to_array(Image.fromarray(picture)) for picture in pictures])
    )
