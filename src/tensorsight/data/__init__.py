"""Dataset readers for training TinyVGG: Fashion-MNIST idx.gz files and folders of photos.

>>> from tensorsight.data import read_fashion_mnist, ImageFolder  # doctest: +SKIP
>>> train = read_fashion_mnist("train")                           # doctest: +SKIP
"""

from tensorsight.data.errors import DatasetError, DatasetNotFoundError
from tensorsight.data.fashion_mnist import (
    DEFAULT_FASHION_MNIST_DIR,
    FASHION_MNIST_CLASSES,
    FashionMNIST,
    read_fashion_mnist,
    read_idx,
)
from tensorsight.data.image_folder import ImageFolder

__all__ = [
    "DEFAULT_FASHION_MNIST_DIR",
    "FASHION_MNIST_CLASSES",
    "DatasetError",
    "DatasetNotFoundError",
    "FashionMNIST",
    "ImageFolder",
    "read_fashion_mnist",
    "read_idx",
]
