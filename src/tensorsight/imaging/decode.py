"""Decode image bytes from an untrusted source into one RGB or L frame, or say clearly why not."""

from __future__ import annotations

import io
import struct
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
# What Pillow's readers raise on a damaged or cut-short file while opening (a JPEG cut to 30
# bytes: OSError "Truncated File Read"; a cut WebP: "could not create decoder object"; a PPM
# header: ValueError), loading or converting it.
_DECODER_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    struct.error,
    ZeroDivisionError,
)


class ImageError(ValueError):
    """An image that cannot be used; ``str()`` is a sentence fit to show a user.

    ``status`` is the HTTP status a server should answer with (413 too large, 415 not an image,
    422 an image that cannot be decoded or used).
    """

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def decode_image(
    data: bytes,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> Image.Image:
    """Decode ``data`` into a fully loaded RGB or L image (first frame of an animation).

    Transparency is composited onto white, EXIF orientation is applied, and palette, CMYK and
    16-bit images are converted. Raises :class:`ImageError` for an empty, oversized,
    non-image, truncated or decompression-bomb input.

    >>> decode_image(b"not an image")
    Traceback (most recent call last):
    ...
    tensorsight.imaging.decode.ImageError: This file is not an image that can be read (...).
    """
    if not data:
        raise ImageError("The file is empty.", status=400)
    if len(data) > max_bytes:
        raise ImageError(
            f"The file is {_mebibytes(len(data))}; the limit is {_mebibytes(max_bytes)}.",
            status=413,
        )
    with warnings.catch_warnings():
        # A damaged file makes Pillow warn as it reads ("Truncated File Read"): the error says it.
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = _open(data, max_pixels)
            image.seek(0)
            image.load()
            return _normalise_mode(ImageOps.exif_transpose(image))
        except ImageError:  # a ValueError too, already a sentence
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageError(
                "The image expands to too many pixels to decode safely.", 413
            ) from None
        except _DECODER_ERRORS as error:
            message = f"The image is damaged or truncated and cannot be decoded ({error})."
            raise ImageError(message) from None


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """The lazily opened image, refused before decoding when it is not one or too large."""
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageError(
            "This file is not an image that can be read (PNG, JPEG, GIF, WebP, BMP, TIFF...).",
            status=415,
        ) from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageError(
            f"The image is {width}x{height} pixels; the limit is {max_pixels:,} pixels.",
            status=413,
        )
    return image


def _normalise_mode(image: Image.Image) -> Image.Image:
    if image.mode in ("RGB", "L"):
        return image.copy()
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return image.point(lambda value: value / 256).convert("L")
    if image.mode in ("RGBA", "LA", "PA", "P") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _mebibytes(count: int) -> str:
    return f"{count / 2**20:.1f} MiB"
