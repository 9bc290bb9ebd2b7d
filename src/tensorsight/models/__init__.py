"""Models to explain: TinyVGG, MobileNetV2, your own ``torch.nn.Module``, and their bundles.

This package imports torch when a model is built, so ``import tensorsight`` never imports it.

>>> from tensorsight.models import load_model
>>> bundle = load_model("tinyvgg")
>>> bundle.name, len(bundle.class_names)
('TinyVGG (Fashion-MNIST)', 10)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tensorsight._lazy import lazy_attributes
from tensorsight.models.bundle import (
    CARD_FILE,
    EXEMPLARS_DIR,
    SAMPLES_DIR,
    WEIGHTS_FILE,
    ModelBundle,
    Sample,
    class_slug,
    find_samples,
    folder_samples,
    photo_samples,
)
from tensorsight.models.loading import (
    ModelLoadError,
    builtin_model_name,
    bundle_from_module,
    installed_builtin_models,
    load_model,
)

if TYPE_CHECKING:
    from tensorsight.models.mobilenet_v2 import MobileNetV2
    from tensorsight.models.tinyvgg import TinyVGG

__all__ = [
    "CARD_FILE",
    "EXEMPLARS_DIR",
    "SAMPLES_DIR",
    "WEIGHTS_FILE",
    "MobileNetV2",
    "ModelBundle",
    "ModelLoadError",
    "Sample",
    "TinyVGG",
    "builtin_model_name",
    "bundle_from_module",
    "class_slug",
    "find_samples",
    "folder_samples",
    "installed_builtin_models",
    "load_model",
    "photo_samples",
]

# Model classes import torch: resolve them on first use.
_LAZY_CLASSES = {
    "TinyVGG": "tensorsight.models.tinyvgg",
    "MobileNetV2": "tensorsight.models.mobilenet_v2",
}


__getattr__ = lazy_attributes(__name__, _LAZY_CLASSES)
