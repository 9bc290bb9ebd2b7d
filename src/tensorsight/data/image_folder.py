"""Read a folder of photos with one sub-folder per class, to train on one's own images.

::

    my-photos/
        cat/   001.jpg  002.png ...
        dog/   a.webp   b.jpeg ...

>>> from tensorsight.data import ImageFolder  # doctest: +SKIP
>>> folder = ImageFolder("my-photos")          # doctest: +SKIP
>>> folder.class_names                         # doctest: +SKIP
('cat', 'dog')
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tensorsight.data.errors import DatasetError, DatasetNotFoundError

if TYPE_CHECKING:
    from PIL import Image

    from tensorsight.imaging import Preprocessing

_MAX_LISTED = 5


class ImageFolder:
    """The labelled images under ``root``: class names are the sub-folder names, sorted.

    Every non-hidden file in a class folder must be an image Pillow can read (any format:
    PNG, JPEG, WebP, GIF, BMP, TIFF...); unreadable files are reported together, by name.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetNotFoundError(f"The image folder {self.root} does not exist.")
        class_dirs = sorted(p for p in self.root.iterdir() if p.is_dir() and _visible(p))
        if len(class_dirs) < 2:
            raise DatasetError(
                f"{self.root} should hold one sub-folder of images per class (at least two "
                f"classes); it has {len(class_dirs)}."
            )
        self.class_names = tuple(p.name for p in class_dirs)
        files: list[tuple[Path, int]] = []
        for label, class_dir in enumerate(class_dirs):
            found = sorted(p for p in class_dir.rglob("*") if p.is_file() and _visible(p))
            if not found:
                raise DatasetError(f"The class folder {class_dir} has no images.")
            files.extend((path, label) for path in found)
        self.files = tuple(files)

    def __len__(self) -> int:
        return len(self.files)

    @property
    def labels(self) -> np.ndarray:
        """The class index of every file, int64 ``[N]``."""
        return np.array([label for _, label in self.files], dtype=np.int64)

    def open(self, index: int) -> Image.Image:
        """Decode file ``index`` safely (size and pixel limits); :class:`DatasetError` if not."""
        from tensorsight.imaging import ImageError, decode_image

        path = self.files[index][0]
        try:
            return decode_image(path.read_bytes())
        except (ImageError, OSError) as error:
            raise DatasetError(f"{path}: {error}") from None

    def to_inputs(self, preprocessing: Preprocessing) -> np.ndarray:
        """Float32 ``[N, C, H, W]``: every image through ``preprocessing``, as at inference.

        Reads every file first, then raises one :class:`DatasetError` naming the unreadable ones.
        """
        arrays, problems = [], []
        for index in range(len(self.files)):
            try:
                arrays.append(preprocessing.to_array(self.open(index)))
            except DatasetError as error:
                problems.append(str(error))
        if problems:
            listed = "\n  ".join(problems[:_MAX_LISTED])
            more = f"\n  ... and {len(problems) - _MAX_LISTED} more" if len(problems) > 5 else ""
            raise DatasetError(
                f"{len(problems)} of {len(self.files)} files in {self.root} cannot be read as "
                f"images; remove or fix them:\n  {listed}{more}"
            )
        return np.stack(arrays)


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")
