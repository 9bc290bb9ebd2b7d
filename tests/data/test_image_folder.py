"""The image-folder reader on real photos in six formats, and its errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tensorsight.data import DatasetError, DatasetNotFoundError, ImageFolder
from tensorsight.imaging import Preprocessing

FIXTURE = Path(__file__).parents[1] / "fixtures" / "image_folder"


def test_classes_are_the_sorted_sub_folders() -> None:
    folder = ImageFolder(FIXTURE)
    assert folder.class_names == ("bag", "sneaker", "trouser")
    assert len(folder) == 18
    assert np.bincount(folder.labels).tolist() == [6, 6, 6]
    assert {path.suffix for path, _ in folder.files} == {
        ".png",
        ".jpg",
        ".webp",
        ".bmp",
        ".gif",
        ".tiff",
    }


def test_every_format_becomes_a_model_input() -> None:
    preprocessing = Preprocessing(size=(32, 32), channels=1, invert_light_background=True)
    inputs = ImageFolder(FIXTURE).to_inputs(preprocessing)
    assert inputs.shape == (18, 1, 32, 32) and inputs.dtype == np.float32
    # the photos are dark on light; inverted, their borders are dark like Fashion-MNIST's
    assert inputs[:, 0, 0, :].mean() < 0.1 < inputs[:, 0, 12:20, 12:20].mean()


def _copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "photos"))


def test_unreadable_files_are_all_named(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "bag" / "notes.jpg").write_text("not a photo")
    truncated = (root / "sneaker" / "006.png").read_bytes()[:200]
    (root / "sneaker" / "cut.png").write_bytes(truncated)
    folder = ImageFolder(root)
    with pytest.raises(DatasetError) as caught:
        folder.to_inputs(Preprocessing(size=(32, 32)))
    message = str(caught.value)
    assert "2 of 20 files" in message
    assert "notes.jpg" in message and "not an image" in message
    assert "cut.png" in message and "truncated" in message


def test_hidden_files_are_ignored(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "bag" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    assert len(ImageFolder(root)) == 18


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        ImageFolder(tmp_path / "nowhere")


def test_one_class_is_not_enough(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE / "bag", tmp_path / "bag")
    with pytest.raises(DatasetError, match="at least two classes"):
        ImageFolder(tmp_path)


def test_empty_class_folder(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "hat").mkdir()
    with pytest.raises(DatasetError, match="hat has no images"):
        ImageFolder(root)
