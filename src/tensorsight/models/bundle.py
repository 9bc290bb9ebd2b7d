"""A model ready to explain: the network, how images become its input, its classes and samples."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tensorsight.imaging import Preprocessing

if TYPE_CHECKING:
    from torch import nn


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
