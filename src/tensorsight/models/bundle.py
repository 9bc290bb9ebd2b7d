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
    if not folder.is_dir():
        return ()
    label_by_slug = {class_slug(name): name for name in class_names}
    samples = []
    for path in sorted(folder.glob("*.png")):
        slug = path.stem.rsplit("-", 1)[0]
        if slug in label_by_slug:
            samples.append(Sample(id=path.stem, label=label_by_slug[slug], path=path))
    return tuple(samples)
