"""Pictures made with Pillow for upload tests: real encoded files of every accepted format."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def encode(image: Image.Image, format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def photo(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    """A picture with structure (a bright ellipse on a dark gradient, plus noise)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    inside = ((xs - width / 2) / (width / 3)) ** 2 + ((ys - height / 2) / (height / 3)) ** 2 < 1
    gray = 40 + 60 * xs / max(width - 1, 1) + 140 * inside + rng.normal(0, 8, (height, width))
    rgb = np.stack([gray, gray * 0.8, gray * 0.6], axis=-1).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(rgb, "RGB")
    if mode == "RGBA":
        alpha = Image.fromarray((255 * inside).astype(np.uint8), "L")
        image = image.convert("RGBA")
        image.putalpha(alpha)
        return image
    return image.convert(mode)
