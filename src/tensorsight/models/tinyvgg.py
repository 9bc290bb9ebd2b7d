"""TinyVGG, the small CNN of CNN Explainer, and the default model tensorsight ships.

The architecture follows CNN Explainer (poloclub) layer for layer, with its layer names as
module attributes: two blocks of two unpadded 3x3 convolutions with ReLU and a 2x2 max pool,
then flatten and one dense layer. The shipped default was trained on Fashion-MNIST by
``tensorsight train``; its weights, model card and sample images live in ``bundles/tinyvgg/``.

>>> from tensorsight.models.tinyvgg import load_default  # doctest: +SKIP
>>> bundle = load_default()                              # doctest: +SKIP
>>> bundle.class_names[0]                                # doctest: +SKIP
'T-shirt/top'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tensorsight.imaging import Preprocessing
from tensorsight.models.bundle import (
    CARD_FILE,
    EXEMPLARS_DIR,
    SAMPLES_DIR,
    WEIGHTS_FILE,
    ModelBundle,
    find_samples,
)

DEFAULT_BUNDLE_DIR = Path(__file__).with_name("bundles") / "tinyvgg"
NAME = "TinyVGG (Fashion-MNIST)"  # the shipped one's


class TinyVGG(nn.Module):
    """CNN Explainer's TinyVGG: ``[conv-relu-conv-relu-maxpool] x 2 -> flatten -> dense``.

    Convolutions are 3x3, stride 1, unpadded ("valid"), so each shrinks the map by 2 pixels;
    pools halve it (flooring). ``output`` returns logits (no softmax).

    >>> model = TinyVGG(in_channels=3, input_size=64, num_classes=10)
    >>> model(torch.zeros(1, 3, 64, 64)).shape
    torch.Size([1, 10])
    >>> sum(p.numel() for p in model.parameters())  # the anchor's 19,920
    19920
    """

    def __init__(
        self,
        in_channels: int = 1,
        input_size: int | tuple[int, int] = 64,
        num_classes: int = 10,
        filters: int = 10,
    ) -> None:
        super().__init__()
        height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
        self.in_channels = in_channels
        self.input_size = (int(height), int(width))
        self.num_classes = num_classes
        self.filters = filters
        self.conv_1_1 = nn.Conv2d(in_channels, filters, kernel_size=3)
        self.relu_1_1 = nn.ReLU()
        self.conv_1_2 = nn.Conv2d(filters, filters, kernel_size=3)
        self.relu_1_2 = nn.ReLU()
        self.max_pool_1 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.conv_2_1 = nn.Conv2d(filters, filters, kernel_size=3)
        self.relu_2_1 = nn.ReLU()
        self.conv_2_2 = nn.Conv2d(filters, filters, kernel_size=3)
        self.relu_2_2 = nn.ReLU()
        self.max_pool_2 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.flatten = nn.Flatten()
        final_height, final_width = _feature_map_size(height), _feature_map_size(width)
        if final_height < 1 or final_width < 1:
            raise ValueError(
                f"TinyVGG needs an input of at least 16x16 pixels, got {height}x{width}."
            )
        self.output = nn.Linear(filters * final_height * final_width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu_1_1(self.conv_1_1(x))
        x = self.relu_1_2(self.conv_1_2(x))
        x = self.max_pool_1(x)
        x = self.relu_2_1(self.conv_2_1(x))
        x = self.relu_2_2(self.conv_2_2(x))
        x = self.max_pool_2(x)
        logits: torch.Tensor = self.output(self.flatten(x))
        return logits

    def architecture(self) -> dict[str, Any]:
        """The constructor arguments, as a model card stores them (``TinyVGG(**arch)``)."""
        return {
            "name": "TinyVGG",
            "in_channels": self.in_channels,
            "input_size": list(self.input_size),
            "num_classes": self.num_classes,
            "filters": self.filters,
        }

    @classmethod
    def from_architecture(cls, spec: Mapping[str, Any]) -> TinyVGG:
        """Build an untrained model from a card's ``architecture`` mapping."""
        if spec.get("name", "TinyVGG") != "TinyVGG":
            raise ValueError(f"This card describes a {spec['name']!r}, not a TinyVGG.")
        return cls(
            in_channels=int(spec["in_channels"]),
            input_size=tuple(int(side) for side in spec["input_size"]),  # type: ignore[arg-type]
            num_classes=int(spec["num_classes"]),
            filters=int(spec.get("filters", 10)),
        )


def _feature_map_size(side: int) -> int:
    """Side length after the two blocks: each conv removes 2 pixels, each pool halves."""
    side = (side - 4) // 2
    return (side - 4) // 2


def load_bundle(directory: str | Path, name: str = "TinyVGG") -> ModelBundle:
    """Load a TinyVGG (plain or deformable) written by ``tensorsight train``: weights, card
    and optional samples.

    ``directory`` holds ``weights.safetensors``, ``card.json`` and, optionally, ``samples/*.png``
    named ``<class-slug>-<n>.png``.

    >>> bundle = load_bundle("runs/my-photos")  # doctest: +SKIP
    """
    from safetensors.torch import load_file

    # The deformable variant subclasses TinyVGG: imported here to avoid an import cycle.
    from tensorsight.models.tinyvgg_deformable import build_tinyvgg

    directory = Path(directory)
    card = json.loads((directory / CARD_FILE).read_text(encoding="utf-8"))
    model = build_tinyvgg(card["architecture"])
    model.load_state_dict(load_file(directory / WEIGHTS_FILE))
    model.eval()
    class_names = tuple(card["class_names"])
    return ModelBundle(
        name=name,
        model=model,
        preprocessing=Preprocessing.from_dict(card["preprocessing"]),
        class_names=class_names,
        samples=find_samples(directory / SAMPLES_DIR, class_names),
        card=card,
        exemplars=exemplars if (exemplars := directory / EXEMPLARS_DIR).is_dir() else None,
    )


def load_default() -> ModelBundle:
    """The TinyVGG trained on Fashion-MNIST that ships inside the package (no download).

    >>> bundle = load_default()
    >>> bundle.class_names[-1], len(bundle.samples) > 0
    ('Ankle boot', True)
    """
    return load_bundle(DEFAULT_BUNDLE_DIR, name=NAME)
