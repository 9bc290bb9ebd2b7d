"""The Fashion-MNIST reader on real idx.gz files: the committed fixture and, when installed,
the Debian dataset."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from tensorsight.data import (
    DEFAULT_FASHION_MNIST_DIR,
    FASHION_MNIST_CLASSES,
    DatasetError,
    DatasetNotFoundError,
    read_fashion_mnist,
    read_idx,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "fashion_mnist"
installed = pytest.mark.skipif(
    not (DEFAULT_FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
    reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)",
)


def test_reads_the_fixture_splits() -> None:
    train = read_fashion_mnist("train", FIXTURE)
    test = read_fashion_mnist("test", FIXTURE)
    assert train.images.shape == (300, 28, 28) and train.images.dtype == np.uint8
    assert test.images.shape == (100, 28, 28)
    assert train.labels.dtype == np.int64 and set(train.labels.tolist()) == set(range(10))
    # the official test set starts with an ankle boot, a pullover and a trouser
    assert [FASHION_MNIST_CLASSES[i] for i in test.labels[:3]] == [
        "Ankle boot",
        "Pullover",
        "Trouser",
    ]
    # garments are light on a black background
    assert np.median(test.images[:, 0, :]) == 0 and test.images[:, 10:18, 10:18].mean() > 60


def test_checksums_are_the_files_sha256() -> None:
    test = read_fashion_mnist("test", FIXTURE)
    sums = test.checksums()
    path = FIXTURE / "t10k-labels-idx1-ubyte.gz"
    assert sums[path.name] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_environment_variable_points_at_the_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENSORSIGHT_FASHION_MNIST", str(FIXTURE))
    assert len(read_fashion_mnist("test").labels) == 100


def test_reads_uncompressed_idx_files(tmp_path: Path) -> None:
    raw = gzip.decompress((FIXTURE / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (tmp_path / "labels").write_bytes(raw)
    assert (
        read_idx(tmp_path / "labels").tolist()
        == read_fashion_mnist("test", FIXTURE).labels.tolist()
    )


@installed
def test_fixture_holds_the_first_real_images() -> None:
    real, fixture = read_fashion_mnist("test"), read_fashion_mnist("test", FIXTURE)
    assert len(real.labels) == 10_000
    np.testing.assert_array_equal(real.images[:100], fixture.images)
    np.testing.assert_array_equal(real.labels[:100], fixture.labels)


def test_missing_dataset_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="apt-get install dataset-fashion-mnist"):
        read_fashion_mnist("train", tmp_path)


def test_unknown_split_is_refused() -> None:
    with pytest.raises(ValueError, match="'train' or 'test'"):
        read_fashion_mnist("validation", FIXTURE)


def _copy_fixture(tmp_path: Path) -> Path:
    for path in FIXTURE.glob("*.gz"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    return tmp_path


def test_truncated_gzip_is_reported(tmp_path: Path) -> None:
    folder = _copy_fixture(tmp_path)
    path = folder / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DatasetError, match="damaged and cannot be decompressed"):
        read_fashion_mnist("test", folder)


def test_idx_with_missing_values_is_reported(tmp_path: Path) -> None:
    folder = _copy_fixture(tmp_path)
    path = folder / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-100]))
    with pytest.raises(DatasetError, match="truncated or corrupt"):
        read_fashion_mnist("test", folder)


def test_file_that_is_not_idx_is_reported(tmp_path: Path) -> None:
    folder = _copy_fixture(tmp_path)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"<html>not found</html>"))
    with pytest.raises(DatasetError, match="not an idx file"):
        read_fashion_mnist("test", folder)


def test_images_and_labels_that_disagree_are_reported(tmp_path: Path) -> None:
    folder = _copy_fixture(tmp_path)
    train_labels = (folder / "train-labels-idx1-ubyte.gz").read_bytes()
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(train_labels)
    with pytest.raises(DatasetError, match=r"100 images but .* has 300 labels"):
        read_fashion_mnist("test", folder)
