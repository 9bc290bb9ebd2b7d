"""A model ready to explain: the network, how images become its input, its classes and samples."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tensorsight.imaging import Preprocessing

if TYPE_CHECKING:
    from torch import nn


# The files of a bundle folder, as `tensorsight train` writes it.
WEIGHTS_FILE = "weights.safetensors"
CARD_FILE = "card.json"
SAMPLES_DIR = "samples"
EXEMPLARS_DIR = "exemplars"  # channel exemplars (tensorsight.attribution.exemplars)
# Image files a samples folder may hold (decode_image reads each of them safely).
SAMPLE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
# The public-domain / CC0 photos shipped with MobileNetV2 (names and licences in LICENSES.md),
# also offered to any model that takes 3-channel images and has no samples of its own.
PHOTOS_DIR = Path(__file__).parent / "bundles" / "mobilenet_v2" / SAMPLES_DIR


@dataclass(frozen=True)
class Sample:
    """A sample image shipped with a model: ``id`` is URL-safe, ``label`` its true class."""

    id: str
    label: str
    path: Path


@dataclass(frozen=True)
class ModelBundle:
    """Everything the explainer needs about one model.

    >>> from tensorsight.models import load_model   # doctest: +SKIP
    >>> bundle = load_model("tinyvgg")              # doctest: +SKIP
    >>> bundle.model(bundle.preprocessing.to_tensor(image)).shape  # doctest: +SKIP
    torch.Size([1, 10])
    """

    name: str
    model: nn.Module
    preprocessing: Preprocessing
    class_names: tuple[str, ...]
    samples: tuple[Sample, ...] = ()
    card: dict[str, Any] = field(default_factory=dict)
    # For a generator: the discriminator trained against it, which judges its images.
    critic: nn.Module | None = None
    exemplars: Path | None = None  # a folder with the channel exemplars' index.json, if any


def class_slug(class_name: str) -> str:
    """URL-safe lower-case name for a class, used in sample file names and ids.

    >>> class_slug("T-shirt/top"), class_slug("Ankle boot")
    ('t-shirt-top', 'ankle-boot')
    """
    return re.sub(r"[^a-z0-9]+", "-", class_name.lower()).strip("-") or "class"


def find_samples(folder: Path, class_names: Sequence[str]) -> tuple[Sample, ...]:
    """The sample images in ``folder``, named ``<class-slug>-<n>.png`` as ``tensorsight train``
    writes them; files whose slug names no class are ignored.

    >>> find_samples(Path("/nonexistent"), ["Bag"])
    ()
    """
    return tuple(
        sample for sample in _labelled_files(folder, class_names, (".png",)) if sample.label
    )


def folder_samples(folder: Path, class_names: Sequence[str] = ()) -> tuple[Sample, ...]:
    """Every image in ``folder`` as a sample (``--samples DIR``): a file named
    ``<class-slug>[-<n>]`` is labelled with that class, any other with its own name.

    >>> folder_samples(Path("/nonexistent"))
    ()
    """
    return tuple(
        sample if sample.label else Sample(sample.id, _readable(sample.path.stem), sample.path)
        for sample in _labelled_files(folder, class_names, SAMPLE_SUFFIXES)
    )


def photo_samples() -> tuple[Sample, ...]:
    """The photos shipped with MobileNetV2, labelled with the ImageNet class each shows.

    >>> [sample.label for sample in photo_samples()][:2]
    ['bannister', 'bow tie']
    """
    return folder_samples(PHOTOS_DIR)


def _labelled_files(
    folder: Path, class_names: Sequence[str], suffixes: tuple[str, ...]
) -> list[Sample]:
    """Image files in ``folder`` (sorted), labelled with the class their name starts with, or
    with ``""`` when it names no class; ids are URL-safe and unique."""
    if not folder.is_dir():
        return []
    label_by_slug = {class_slug(name): name for name in class_names}
    samples: list[Sample] = []
    seen: set[str] = set()
    for path in sorted(folder.iterdir(), key=lambda path: path.name.lower()):
        if not path.is_file() or path.suffix.lower() not in suffixes:
            continue
        slug = class_slug(path.stem)
        # "<class-slug>-<n>" as tensorsight train writes it, or just "<class-slug>".
        label = label_by_slug.get(slug.rsplit("-", 1)[0]) or label_by_slug.get(slug, "")
        sample_id = _unique(slug, seen)
        samples.append(Sample(id=sample_id, label=label, path=path))
    return samples


def _unique(slug: str, seen: set[str]) -> str:
    """``slug``, or ``slug-2``, ``slug-3``... when two files share a name (a.png and a.jpg)."""
    candidate, index = slug, 1
    while candidate in seen:
        index += 1
        candidate = f"{slug}-{index}"
    seen.add(candidate)
    return candidate


def _readable(stem: str) -> str:
    """A file name as a label: ``"bow-tie-1"`` -> ``"bow tie"`` (a trailing number dropped)."""
    words = re.split(r"[-_\s]+", stem.strip())
    if len(words) > 1 and words[-1].isdigit():
        words = words[:-1]
    return " ".join(word for word in words if word) or stem
