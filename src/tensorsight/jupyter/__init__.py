"""The network explainer inline in Jupyter (and VS Code, Colab): the same front end via anywidget.

>>> import tensorsight                                   # doctest: +SKIP
>>> tensorsight.show("mobilenet_v2", "cat.jpg")          # doctest: +SKIP
>>> tensorsight.show(my_model, x)   # x: a [C, H, W] tensor in 0..1  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tensorsight.devices import resolve_device
from tensorsight.imaging import Preprocessing, decode_image
from tensorsight.jupyter.comm import CommHandler
from tensorsight.jupyter.widget import ExplainerWidget, widget_module
from tensorsight.models import ModelBundle, Sample, bundle_from_module, load_model

if TYPE_CHECKING:
    from PIL import Image
    from torch import nn

__all__ = ["CommHandler", "ExplainerWidget", "explainer_widget", "show", "widget_module"]

#: The id and label under which the image given to :func:`show` appears among the samples.
GIVEN_IMAGE_ID = "your-image"
GIVEN_IMAGE_LABEL = "your image"


def show(
    model_or_bundle: nn.Module | ModelBundle | str,
    image: Any = None,
    *,
    preprocessing: Preprocessing | None = None,
    class_names: Sequence[str] | None = None,
    device: str = "auto",
) -> None:
    """Display the explainer for a model in the notebook, opened on ``image`` if one is given.

    ``model_or_bundle`` is a ``torch.nn.Module``, a :class:`~tensorsight.models.ModelBundle`, or
    a ``--model`` spec (``"tinyvgg"``, ``"mobilenet_v2"``, ``"package.module:factory"``).
    ``image`` is a path, image bytes, a PIL image, or a float array/tensor ``[C, H, W]`` (or
    ``[1, C, H, W]``) with values in 0..1. A bare module without ``preprocessing`` takes the
    tensor's size, else its ``input_size`` attribute, else 224x224, with no normalisation.
    ``device`` is where the model runs (``"cpu"``, ``"cuda"``, ``"mps"``; ``"auto"``: the first
    available of those): the model is moved there, and an unavailable one raises
    :class:`~tensorsight.devices.DeviceError`.

    >>> show("tinyvgg")                          # doctest: +SKIP
    >>> show(my_model, x, device="cuda")         # doctest: +SKIP
    """
    from IPython.display import display

    display(
        explainer_widget(
            model_or_bundle,
            image,
            preprocessing=preprocessing,
            class_names=class_names,
            device=device,
        )
    )


def explainer_widget(
    model_or_bundle: nn.Module | ModelBundle | str,
    image: Any = None,
    *,
    preprocessing: Preprocessing | None = None,
    class_names: Sequence[str] | None = None,
    device: str = "auto",
) -> ExplainerWidget:
    """The widget :func:`show` displays, to place in a layout or to drive from code.

    >>> widget = explainer_widget("tinyvgg")     # doctest: +SKIP
    >>> widget.explainer.model_info()["name"]    # doctest: +SKIP
    'tinyvgg'
    """
    from tensorsight.explanation import Explainer

    target = resolve_device(device)  # first: a wrong device fails before a slow load
    picture, tensor_size = _as_image(image) if image is not None else (None, None)
    bundle = _as_bundle(model_or_bundle, preprocessing, class_names, tensor_size)
    bundle.model.to(target)
    samples = bundle.samples
    folder = None
    if picture is not None:
        # Samples are files the explainer reads; the folder lives as long as the widget.
        folder = tempfile.TemporaryDirectory(prefix="tensorsight-")
        path = Path(folder.name) / f"{GIVEN_IMAGE_ID}.png"
        picture.save(path, format="PNG")
        samples = (Sample(id=GIVEN_IMAGE_ID, label=GIVEN_IMAGE_LABEL, path=path), *samples)
    # from_bundle keeps what the bundle knows beyond samples (a generator's latent size, its
    # discriminator).
    explainer = Explainer.from_bundle(dataclasses.replace(bundle, samples=tuple(samples)))
    widget = ExplainerWidget(explainer)
    widget.sample_folder = folder
    return widget


def _as_bundle(
    model_or_bundle: nn.Module | ModelBundle | str,
    preprocessing: Preprocessing | None,
    class_names: Sequence[str] | None,
    tensor_size: tuple[int, int] | None,
) -> ModelBundle:
    if isinstance(model_or_bundle, str):
        bundle = load_model(model_or_bundle)
    elif isinstance(model_or_bundle, ModelBundle):
        bundle = model_or_bundle
    else:
        return bundle_from_module(
            model_or_bundle,
            preprocessing=preprocessing,
            class_names=class_names,
            input_size=tensor_size,
        )
    if preprocessing is None and class_names is None:
        return bundle
    return bundle_from_module(
        bundle.model,
        name=bundle.name,
        preprocessing=preprocessing or bundle.preprocessing,
        class_names=class_names or bundle.class_names,
        card=bundle.card,
        samples=bundle.samples,
    )


def _as_image(image: Any) -> tuple[Image.Image, tuple[int, int] | None]:
    """A PIL image, and the (height, width) to feed the model when ``image`` was a tensor."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return image, None
    if isinstance(image, bytes | bytearray | memoryview):
        return decode_image(bytes(image)), None
    if isinstance(image, str | Path):
        return decode_image(Path(image).expanduser().read_bytes()), None
    return _tensor_image(image)


def _tensor_image(values: Any) -> tuple[Image.Image, tuple[int, int]]:
    import numpy as np
    from PIL import Image

    array = np.asarray(
        values.detach().cpu() if hasattr(values, "detach") else values, dtype=np.float32
    )
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3 or array.shape[0] not in (1, 3):
        raise ValueError(
            f"An image tensor must be [C, H, W] or [1, C, H, W] with 1 or 3 channels, "
            f"got shape {list(array.shape)}."
        )
    pixels = np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)
    picture = Image.fromarray(pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0))
    return picture, (array.shape[1], array.shape[2])
