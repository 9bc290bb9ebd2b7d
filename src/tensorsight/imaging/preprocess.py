"""Turn a decoded image into the tensor a model sees, as its model card describes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageOps

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes a model input: resize, centre crop, channels, scale, normalise.

    ``resize`` scales the shorter side to that many pixels (keeping the aspect ratio) before the
    centre crop to ``size`` (height, width); ``resize=None`` scales the shorter side to fit the
    crop. ``invert_light_background`` inverts images whose border is mostly light, for models
    trained on light objects over dark backgrounds (Fashion-MNIST).

    >>> Preprocessing(size=(64, 64), channels=1).describe()
    'resize shorter side to 64, centre crop 64x64, grayscale, pixel/255'
    """

    size: tuple[int, int]
    channels: int = 3
    resize: int | None = None
    mean: Sequence[float] = field(default=())
    std: Sequence[float] = field(default=())
    invert_light_background: bool = False

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Preprocessing:
        """Build from a model card's ``preprocessing`` mapping (the inverse of ``to_dict``)."""
        return cls(
            size=(int(spec["size"][0]), int(spec["size"][1])),
            channels=int(spec.get("channels", 3)),
            resize=spec.get("resize"),
            mean=tuple(spec.get("mean", ())),
            std=tuple(spec.get("std", ())),
            invert_light_background=bool(spec.get("invert_light_background", False)),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able mapping for a model card."""
        spec = asdict(self)
        spec["size"], spec["mean"], spec["std"] = list(self.size), list(self.mean), list(self.std)
        return spec

    def describe(self) -> str:
        """One line a person can read."""
        height, width = self.size
        steps = [
            f"resize shorter side to {self.resize or min(self.size)}",
            f"centre crop {height}x{width}",
            "grayscale" if self.channels == 1 else "RGB",
        ]
        if self.invert_light_background:
            steps.append("invert if the background is light")
        steps.append("pixel/255")
        if self.mean:
            steps.append(f"normalise mean={list(self.mean)} std={list(self.std)}")
        return ", ".join(steps)

    def model_view(self, image: Image.Image) -> Image.Image:
        """The image exactly as the model sees it, before scaling to floats."""
        image = image.convert("L" if self.channels == 1 else "RGB")
        height, width = self.size
        shorter = self.resize or max(height, width)
        scale = shorter / min(image.size)
        new_size = (
            max(width, round(image.width * scale)),
            max(height, round(image.height * scale)),
        )
        image = image.resize(new_size, Image.Resampling.BILINEAR, reducing_gap=3.0)
        image = ImageOps.fit(image, (width, height), Image.Resampling.BILINEAR)
        if self.invert_light_background and _border_is_light(image):
            image = ImageOps.invert(image)
        return image

    def to_array(self, image: Image.Image) -> np.ndarray:
        """Float32 array ``[channels, height, width]`` ready for the model."""
        return self.view_array(self.model_view(image))

    def view_array(self, view: Image.Image) -> np.ndarray:
        """:meth:`to_array` of an image already made :meth:`model_view` (spares a second resize)."""
        array = np.asarray(view, dtype=np.float32) / 255.0
        array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
        if self.mean:
            mean = np.asarray(self.mean, np.float32)[:, None, None]
            std = np.asarray(self.std, np.float32)[:, None, None]
            array = (array - mean) / std
        return np.ascontiguousarray(array)

    def to_tensor(self, image: Image.Image) -> torch.Tensor:
        """Float32 tensor ``[1, channels, height, width]`` (with a batch dimension)."""
        import torch

        return torch.from_numpy(self.to_array(image))[None]


def _border_is_light(image: Image.Image) -> bool:
    gray = np.asarray(image.convert("L"), dtype=np.float32)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return float(np.median(border)) > 127.5
