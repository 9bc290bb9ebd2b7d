"""Read Fashion-MNIST from its original idx.gz files (Debian: ``apt-get install
dataset-fashion-mnist`` puts them in ``/usr/share/datasets/fashion-mnist/``).

>>> from tensorsight.data import read_fashion_mnist  # doctest: +SKIP
>>> test = read_fashion_mnist("test")                 # doctest: +SKIP
>>> test.images.shape, test.labels[:3].tolist()       # doctest: +SKIP
((10000, 28, 28), [9, 2, 1])
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tensorsight.data.errors import DatasetError, DatasetNotFoundError

if TYPE_CHECKING:
    from tensorsight.imaging import Preprocessing

DEFAULT_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_ENV = "TENSORSIGHT_FASHION_MNIST"
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_SPLIT_PREFIX = {"train": "train", "test": "t10k"}
_UNSIGNED_BYTE = 0x08
_INSTALL_HINT = (
    "Install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or download the "
    "four *-ubyte.gz files from https://github.com/zalandoresearch/fashion-mnist into a folder "
    f"and pass that folder (or set {FASHION_MNIST_ENV})."
)


@dataclass(frozen=True)
class FashionMNIST:
    """One split: ``images`` uint8 ``[N, 28, 28]`` (light garment on black), ``labels`` int64."""

    split: str
    images: np.ndarray
    labels: np.ndarray
    files: tuple[Path, Path]
    class_names: tuple[str, ...] = FASHION_MNIST_CLASSES

    def to_inputs(self, preprocessing: Preprocessing) -> np.ndarray:
        """Float32 ``[N, C, H, W]``: every image through ``preprocessing``, as at inference."""
        from PIL import Image

        return np.stack([preprocessing.to_array(Image.fromarray(image)) for image in self.images])

    def checksums(self) -> dict[str, str]:
        """SHA-256 of each source file, keyed by file name (for a model card)."""
        return {path.name: _sha256(path) for path in self.files}


def fashion_mnist_dir(root: str | Path | None = None) -> Path:
    """Where to read from: ``root``, else ``$TENSORSIGHT_FASHION_MNIST``, else the Debian path."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get(FASHION_MNIST_ENV) or DEFAULT_FASHION_MNIST_DIR)


def read_fashion_mnist(split: str = "train", root: str | Path | None = None) -> FashionMNIST:
    """Read the ``"train"`` (60,000) or ``"test"`` (10,000) split and check it is consistent.

    Raises :class:`DatasetNotFoundError` (saying how to install it) when the files are absent and
    :class:`DatasetError` when a file is corrupt or images and labels disagree.

    >>> read_fashion_mnist("test", root="/nowhere")
    Traceback (most recent call last):
    ...
    tensorsight.data.errors.DatasetNotFoundError: Fashion-MNIST is not in /nowhere ...
    """
    if split not in _SPLIT_PREFIX:
        raise ValueError(f"Unknown Fashion-MNIST split {split!r}; use 'train' or 'test'.")
    folder = fashion_mnist_dir(root)
    prefix = _SPLIT_PREFIX[split]
    image_file = _find(folder, f"{prefix}-images-idx3-ubyte")
    label_file = _find(folder, f"{prefix}-labels-idx1-ubyte")
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3 or labels.ndim != 1:
        raise DatasetError(
            f"{image_file} and {label_file} should hold images [N, H, W] and labels [N]; "
            f"they hold shapes {images.shape} and {labels.shape}."
        )
    if len(images) != len(labels):
        raise DatasetError(
            f"{image_file.name} has {len(images)} images but {label_file.name} has "
            f"{len(labels)} labels."
        )
    if labels.size and labels.max() >= len(FASHION_MNIST_CLASSES):
        raise DatasetError(f"{label_file} has label {labels.max()}; Fashion-MNIST has 10 classes.")
    return FashionMNIST(split, images, labels.astype(np.int64), (image_file, label_file))


def read_idx(path: str | Path) -> np.ndarray:
    """Read one idx file (gzip-compressed or not) of unsigned bytes into an array.

    The idx format: two zero bytes, a type code (0x08 = unsigned byte), the number of
    dimensions, each dimension as a big-endian uint32, then the values.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(f"{path} is damaged and cannot be decompressed ({error}).") from None
    if len(data) < 4 or data[:2] != b"\x00\x00":
        raise DatasetError(f"{path} is not an idx file (its header does not start with 0x0000).")
    type_code, ndim = data[2], data[3]
    if type_code != _UNSIGNED_BYTE:
        raise DatasetError(f"{path} holds idx type 0x{type_code:02x}; only 0x08 (bytes) is read.")
    header_size = 4 + 4 * ndim
    if ndim == 0 or len(data) < header_size:
        raise DatasetError(f"{path} has a truncated idx header.")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=np.int64))
    if len(data) - header_size != expected:
        raise DatasetError(
            f"{path} should hold {expected:,} values for shape {shape} but holds "
            f"{len(data) - header_size:,}: the file is truncated or corrupt."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape).copy()


def _find(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise DatasetNotFoundError(f"Fashion-MNIST is not in {folder} (no {stem}.gz). {_INSTALL_HINT}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
