"""TinyVGG with its last convolutions deformable, as Dai et al. put deformable layers last.

Each deformable layer keeps its plain twin's name and ``weight``/``bias`` keys (a
:class:`tensorsight.ops.DeformConv2d`) and gets an ordinary 3x3 convolution beside it,
``<name>_offset``, that predicts its offsets (18 channels: ``(dy, dx)`` per tap, torchvision's
order) from the same input. With the offset convolutions at zero the model computes exactly what
the plain TinyVGG does, so ``tensorsight train --deformable`` starts from the shipped TinyVGG
and fine-tunes. The shipped model lives in ``bundles/tinyvgg-deformable/``.

>>> bundle = load_default_deformable()        # doctest: +SKIP
>>> bundle.model.conv_2_2                     # doctest: +SKIP
DeformConv2d(10, 10, kernel_size=(3, 3), stride=(1, 1))
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

import torch
from torch import nn

from tensorsight.models.bundle import ModelBundle
from tensorsight.models.tinyvgg import TinyVGG, load_bundle
from tensorsight.ops import DeformConv2d

DEFORMABLE_BUNDLE_DIR = Path(__file__).with_name("bundles") / "tinyvgg-deformable"
# TinyVGG's convolutions in execution order; the last `deformable_layers` become deformable.
CONVOLUTIONS = ("conv_1_1", "conv_1_2", "conv_2_1", "conv_2_2")
OFFSET_SUFFIX = "_offset"
ARCHITECTURE_NAME = "DeformableTinyVGG"
NAME = "Deformable TinyVGG (Fashion-MNIST)"  # the shipped one's


class DeformableTinyVGG(TinyVGG):
    """TinyVGG whose last ``deformable_layers`` convolutions sample at learned offsets.

    >>> model = DeformableTinyVGG(deformable_layers=2)
    >>> model(torch.zeros(1, 1, 64, 64)).shape
    torch.Size([1, 10])
    >>> [name for name in model.deformable_names()]
    ['conv_2_1', 'conv_2_2']
    """

    def __init__(
        self,
        in_channels: int = 1,
        input_size: int | tuple[int, int] = 64,
        num_classes: int = 10,
        filters: int = 10,
        deformable_layers: int = 2,
    ) -> None:
        super().__init__(in_channels, input_size, num_classes, filters)
        if not 1 <= deformable_layers <= len(CONVOLUTIONS):
            raise ValueError(
                f"deformable_layers must be 1 to {len(CONVOLUTIONS)}, got {deformable_layers}."
            )
        self.deformable_layers = deformable_layers
        for name in self.deformable_names():
            plain: nn.Conv2d = getattr(self, name)
            geometry = _geometry(plain)
            taps = geometry["kernel_size"][0] * geometry["kernel_size"][1]
            offsets = nn.Conv2d(plain.in_channels, 2 * taps, **geometry)
            # Zero offsets at the start: the layer begins as the plain convolution it replaces.
            nn.init.zeros_(offsets.weight)
            if offsets.bias is not None:
                nn.init.zeros_(offsets.bias)
            setattr(self, name + OFFSET_SUFFIX, offsets)
            setattr(self, name, DeformConv2d(plain.in_channels, plain.out_channels, **geometry))

    def deformable_names(self) -> tuple[str, ...]:
        """The attribute names of the deformable convolutions, in execution order."""
        return CONVOLUTIONS[len(CONVOLUTIONS) - self.deformable_layers :]

    def offset_parameters(self) -> list[nn.Parameter]:
        """The weights and biases of the convolutions that predict the offsets.

        >>> len(DeformableTinyVGG(deformable_layers=2).offset_parameters())
        4
        """
        return [
            parameter
            for name in self.deformable_names()
            for parameter in getattr(self, name + OFFSET_SUFFIX).parameters()
        ]

    def plain_names_before_deformable(self) -> tuple[str, ...]:
        """The plain convolutions that run before the first deformable one."""
        return CONVOLUTIONS[: len(CONVOLUTIONS) - self.deformable_layers]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu_1_1(self._convolve("conv_1_1", x))
        x = self.relu_1_2(self._convolve("conv_1_2", x))
        x = self.max_pool_1(x)
        x = self.relu_2_1(self._convolve("conv_2_1", x))
        x = self.relu_2_2(self._convolve("conv_2_2", x))
        x = self.max_pool_2(x)
        logits: torch.Tensor = self.output(self.flatten(x))
        return logits

    def _convolve(self, name: str, x: torch.Tensor) -> torch.Tensor:
        layer = getattr(self, name)
        out: torch.Tensor = (
            layer(x, getattr(self, name + OFFSET_SUFFIX)(x))
            if isinstance(layer, DeformConv2d)
            else layer(x)
        )
        return out

    def architecture(self) -> dict[str, Any]:
        """The constructor arguments, as a model card stores them."""
        return {
            **super().architecture(),
            "name": ARCHITECTURE_NAME,
            "deformable_layers": self.deformable_layers,
        }

    @classmethod
    def from_architecture(cls, spec: Mapping[str, Any]) -> DeformableTinyVGG:
        """Build an untrained model from a card's ``architecture`` mapping."""
        if spec.get("name") != ARCHITECTURE_NAME:
            raise ValueError(
                f"This card describes a {spec.get('name')!r}, not a {ARCHITECTURE_NAME}."
            )
        return cls(
            in_channels=int(spec["in_channels"]),
            input_size=tuple(int(side) for side in spec["input_size"]),  # type: ignore[arg-type]
            num_classes=int(spec["num_classes"]),
            filters=int(spec.get("filters", 10)),
            deformable_layers=int(spec.get("deformable_layers", 2)),
        )

    def load_plain_weights(self, state: Mapping[str, torch.Tensor]) -> None:
        """Start from a plain TinyVGG's weights: every key fits; the offset convolutions stay
        as they are (zero when new)."""
        missing, unexpected = self.load_state_dict(dict(state), strict=False)
        stray = [key for key in missing if OFFSET_SUFFIX + "." not in key]
        if stray or unexpected:
            raise ValueError(
                f"These weights are not a TinyVGG of the same shape: missing "
                f"{stray}, unexpected {list(unexpected)}."
            )


def build_tinyvgg(spec: Mapping[str, Any]) -> TinyVGG:
    """A TinyVGG or DeformableTinyVGG, whichever the card's ``architecture`` names.

    >>> type(build_tinyvgg({"name": "DeformableTinyVGG", "in_channels": 1,
    ...                     "input_size": [64, 64], "num_classes": 10})).__name__
    'DeformableTinyVGG'
    """
    if spec.get("name") == ARCHITECTURE_NAME:
        return DeformableTinyVGG.from_architecture(spec)
    return TinyVGG.from_architecture(spec)


def load_default_deformable() -> ModelBundle:
    """The deformable TinyVGG trained on Fashion-MNIST that ships inside the package.

    >>> load_default_deformable().model.deformable_layers   # doctest: +SKIP
    2
    """
    return load_bundle(DEFORMABLE_BUNDLE_DIR, name=NAME)


class _Geometry(TypedDict):
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]


def _geometry(conv: nn.Conv2d) -> _Geometry:
    """A plain convolution's window geometry as the pairs ``DeformConv2d`` takes."""
    if isinstance(conv.padding, str):
        raise ValueError(f"padding={conv.padding!r} has no deformable counterpart; give numbers.")

    def pair(value: tuple[int, ...]) -> tuple[int, int]:
        return int(value[0]), int(value[1])

    return _Geometry(
        kernel_size=pair(conv.kernel_size),
        stride=pair(conv.stride),
        padding=pair(conv.padding),
        dilation=pair(conv.dilation),
    )
