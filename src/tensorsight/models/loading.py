"""Resolve a ``--model`` spec (and optional weights) into a :class:`ModelBundle` ready to explain.

Three kinds of spec:

* ``tinyvgg``: the TinyVGG trained on Fashion-MNIST that ships with tensorsight;
* ``tinyvgg-deformable``: the same TinyVGG with its last two convolutions deformable (shipped);
* ``mobilenet_v2``: MobileNetV2 with torchvision's ImageNet weights (found locally, never
  downloaded);
* ``package.module:factory`` (or ``path/to/file.py:factory``): your own model, built by calling
  ``factory()`` with no arguments.

Weights are read from ``.safetensors`` files, or from torch pickle files (``.pt``, ``.pth``,
``.bin``, ``.ckpt``) when the caller says it trusts them (``trust_pickle=True``, the CLI's
``--trust-pickle``). Even then they are read with ``torch.load(weights_only=True)``, which rebuilds
tensors without running code; the flag records the user's intent, because a pickle file is a
program format and tensorsight will not open one by default.

A model card, a JSON file next to the weights (``<weights>.json`` or ``card.json``), may give
``name``, ``class_names``, ``input_size`` (``[height, width]``), ``preprocessing`` (the mapping
:meth:`tensorsight.imaging.Preprocessing.to_dict` writes) and, for TinyVGG, ``architecture``.

>>> from tensorsight.models import load_model             # doctest: +SKIP
>>> bundle = load_model("mynet.models:build", weights="mynet.safetensors")  # doctest: +SKIP
>>> bundle.class_names[:2]                                 # doctest: +SKIP
('cat', 'dog')
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tensorsight.imaging import Preprocessing
from tensorsight.models.bundle import (
    CARD_FILE,
    EXEMPLARS_DIR,
    SAMPLES_DIR,
    ModelBundle,
    Sample,
    find_samples,
    folder_samples,
    photo_samples,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

BUILTIN_MODELS = ("tinyvgg", "mobilenet_v2", "tinyvgg-deformable", "dcgan", "dcgan-discriminator")
_TINYVGGS = ("tinyvgg", "tinyvgg-deformable")
GAN_MODELS = ("dcgan", "dcgan-discriminator")
SAFETENSORS_SUFFIXES = (".safetensors",)
PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
DEFAULT_INPUT_SIZE = (224, 224)
# How many offending keys an error message names before it says "and N more".
_LISTED_KEYS = 3
# Checkpoint dicts that wrap the state dict under one of these keys are unwrapped.
_STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")
# A BatchNorm counter that does not affect inference; files saved without it still fit.
_OPTIONAL_BUFFER = "num_batches_tracked"


class ModelLoadError(Exception):
    """A model that cannot be loaded; ``str()`` is one sentence fit to show on a command line."""


def load_model(
    spec: str,
    *,
    weights: str | Path | None = None,
    class_names: Sequence[str] | None = None,
    input_size: tuple[int, int] | None = None,
    trust_pickle: bool = False,
    samples: str | Path | None = None,
) -> ModelBundle:
    """The model named by ``spec``, in eval mode, with its preprocessing, class names and samples.

    ``class_names`` and ``input_size`` (height, width) override what the bundle or the card
    says. ``samples`` is a folder of images to offer instead of the model's own; a model with
    none of its own that takes 3-channel images is offered the photos shipped with
    MobileNetV2, so every page opens on a picture. The model is run once on a zero image of
    the final input size, so a model that cannot take that input, or whose outputs do not
    match the class names, fails here with a clear message rather than later in the browser.
    Every failure is a :class:`ModelLoadError`.

    >>> load_model("tinyvgg").class_names[0]
    'T-shirt/top'
    >>> load_model("resnet")
    Traceback (most recent call last):
    tensorsight.models.loading.ModelLoadError: Unknown model 'resnet': use tinyvgg, ...
    """
    bundle = _load_bundle(
        spec,
        weights=weights,
        class_names=class_names,
        input_size=input_size,
        trust_pickle=trust_pickle,
    )
    return replace(bundle, samples=_offered_samples(bundle, samples))


def _offered_samples(bundle: ModelBundle, folder: str | Path | None) -> tuple[Sample, ...]:
    """``--samples DIR`` if given, else the bundle's own, else the shipped photos (3 channels)."""
    if folder is not None:
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise ModelLoadError(f"The samples folder {path} does not exist.")
        chosen = folder_samples(path, bundle.class_names)
        if not chosen:
            raise ModelLoadError(
                f"The samples folder {path} holds no images (.png, .jpg, .jpeg, .webp, .bmp, .gif)."
            )
        return chosen
    if bundle.samples or bundle.preprocessing.channels != 3:
        return bundle.samples
    return photo_samples()


def _load_bundle(
    spec: str,
    *,
    weights: str | Path | None,
    class_names: Sequence[str] | None,
    input_size: tuple[int, int] | None,
    trust_pickle: bool,
) -> ModelBundle:
    weights_path = _existing_file(weights) if weights is not None else None
    if spec in GAN_MODELS:
        bundle = _gan_bundle(spec, weights_path)
    elif spec == "mobilenet_v2":
        from tensorsight.models.mobilenet_v2 import load_pretrained

        bundle = load_pretrained(weights_path, trust_pickle=trust_pickle)
    elif spec in _TINYVGGS and weights_path is None:
        bundle = _default_tinyvgg(deformable=spec == "tinyvgg-deformable")
    else:
        card = read_card(weights_path) if weights_path is not None else {}
        model = _build_tinyvgg(card, spec) if spec in _TINYVGGS else _call_factory(spec)
        if weights_path is not None:
            load_weights(model, weights_path, trust_pickle=trust_pickle)
        card_preprocessing, card_input_size = _card_input(card)
        class_names = class_names or card.get("class_names")
        # `tensorsight train` writes samples/ beside the weights: offer them as samples.
        samples = (
            find_samples(weights_path.parent / SAMPLES_DIR, class_names)
            if weights_path is not None and class_names
            else ()
        )
        loaded = bundle_from_module(
            model,
            name=card.get("name", spec),
            preprocessing=card_preprocessing,
            class_names=class_names,
            input_size=input_size or card_input_size,
            card=card,
            samples=samples,
        )
        # ... and exemplars/ (tensorsight.attribution.exemplars): offer them too.
        exemplars = weights_path.parent / EXEMPLARS_DIR if weights_path is not None else None
        return replace(loaded, exemplars=exemplars if exemplars and exemplars.is_dir() else None)
    loaded = bundle_from_module(
        bundle.model,
        name=bundle.name,
        preprocessing=bundle.preprocessing,
        class_names=class_names or bundle.class_names,
        input_size=input_size,
        card=bundle.card,
        samples=bundle.samples,
        critic=bundle.critic,
    )
    return replace(loaded, exemplars=bundle.exemplars)


def installed_builtin_models() -> tuple[str, ...]:
    """The built-in models ready to load: the TinyVGGs (they ship with tensorsight), and
    mobilenet_v2 when its weights are found locally.

    >>> installed_builtin_models()[0]
    'tinyvgg'
    """
    from tensorsight.models.mobilenet_v2 import find_weights

    try:
        find_weights()
    except ModelLoadError:
        return tuple(spec for spec in BUILTIN_MODELS if spec != "mobilenet_v2")
    return BUILTIN_MODELS


def builtin_model_name(spec: str) -> str | None:
    """The name an installed built-in model is served under, known without building it (a
    server lists it before its first use loads it); ``None`` for any other spec.

    >>> builtin_model_name("tinyvgg"), builtin_model_name("mynet.py:build")
    ('TinyVGG (Fashion-MNIST)', None)
    """
    if spec not in installed_builtin_models():
        return None
    if spec in GAN_MODELS:
        from tensorsight.models.dcgan import DEFAULT_BUNDLE_DIR, GAN_CARD_FILE

        try:
            card = json.loads((DEFAULT_BUNDLE_DIR / GAN_CARD_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # loading it says what is wrong
        return _gan_name(spec, card)
    from tensorsight.models import mobilenet_v2, tinyvgg, tinyvgg_deformable

    return {
        "tinyvgg": tinyvgg.NAME,
        "tinyvgg-deformable": tinyvgg_deformable.NAME,
        "mobilenet_v2": mobilenet_v2.NAME,
    }[spec]


def bundle_from_module(
    model: nn.Module,
    *,
    name: str | None = None,
    preprocessing: Preprocessing | None = None,
    class_names: Sequence[str] | None = None,
    input_size: tuple[int, int] | None = None,
    card: Mapping[str, Any] | None = None,
    samples: Sequence[Sample] = (),
    critic: nn.Module | None = None,
) -> ModelBundle:
    """Wrap a ``torch.nn.Module`` (put in eval mode) into a bundle, filling in what is missing.

    The input size is ``input_size``, else ``preprocessing.size``, else the model's
    ``input_size`` attribute, else 224x224; channels come from the first convolution. Without
    class names the classes are called ``class 0``, ``class 1``, ... after the output size.

    >>> from torch import nn
    >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.LazyLinear(3))
    >>> bundle = bundle_from_module(model, input_size=(28, 28))
    >>> bundle.class_names, bundle.preprocessing.channels
    (('class 0', 'class 1', 'class 2'), 1)
    """
    from torch import nn

    if not isinstance(model, nn.Module):
        raise ModelLoadError(f"Expected a torch.nn.Module to explain, got {type(model).__name__}.")
    model.eval()
    if preprocessing is None:
        size = input_size or _declared_input_size(model) or DEFAULT_INPUT_SIZE
        preprocessing = Preprocessing(size=size, channels=_input_channels(model))
    elif input_size is not None:
        preprocessing = replace(preprocessing, size=input_size)
    display_name = name or type(model).__name__
    outputs = _probe(model, preprocessing, display_name)
    if outputs is None:  # an image-to-image model (segmenter, generator): no classes to name
        if class_names:
            raise ModelLoadError(
                f"{display_name} returns an image, not class scores, so it takes no class names."
            )
        class_names = []
    elif class_names is None:
        class_names = [f"class {index}" for index in range(outputs)]
    elif len(class_names) != outputs:
        raise ModelLoadError(
            f"{display_name} has {outputs} outputs but {len(class_names)} class names were "
            f"given; give exactly one name per output."
        )
    return ModelBundle(
        name=display_name,
        model=model,
        preprocessing=preprocessing,
        class_names=tuple(str(label) for label in class_names),
        samples=tuple(samples),
        card=dict(card or {}),
        critic=critic.eval() if critic is not None else None,
    )


def read_card(weights: Path) -> dict[str, Any]:
    """The model card next to a weights file (``<weights>.json``, else ``card.json``), or ``{}``.

    >>> read_card(Path("/nonexistent/model.safetensors"))
    {}
    """
    for path in (weights.with_name(weights.name + ".json"), weights.with_name(CARD_FILE)):
        if path.is_file():
            try:
                card = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
                raise ModelLoadError(f"Cannot read the model card {path}: {error}") from error
            if not isinstance(card, dict):
                raise ModelLoadError(f"The model card {path} must hold a JSON object.")
            return card
    return {}


def load_weights(model: nn.Module, path: Path, *, trust_pickle: bool = False) -> None:
    """Load a state dict file into ``model``, insisting that every key and shape fits.

    >>> from torch import nn
    >>> load_weights(nn.Linear(2, 2), Path("model.pth"))      # doctest: +SKIP
    Traceback (most recent call last):
    ...
    ModelLoadError: model.pth is a torch pickle file, ...
    """
    state = _read_state_dict(path, trust_pickle=trust_pickle)
    expected = model.state_dict()
    missing = [key for key in expected if key not in state and not key.endswith(_OPTIONAL_BUFFER)]
    unexpected = [key for key in state if key not in expected]
    mismatched = [
        f"{key} (file {list(state[key].shape)}, model {list(expected[key].shape)})"
        for key in expected
        if key in state and state[key].shape != expected[key].shape
    ]
    problems = [
        _listing(missing, "missing key"),
        _listing(unexpected, "unexpected key"),
        _listing(mismatched, "shape mismatch", plural="shape mismatches"),
    ]
    problems = [problem for problem in problems if problem]
    if problems:
        raise ModelLoadError(
            f"The weights in {path} do not fit {type(model).__name__}: {'; '.join(problems)}."
        )
    model.load_state_dict(state, strict=False)


def _read_state_dict(path: Path, *, trust_pickle: bool) -> dict[str, torch.Tensor]:
    import torch

    suffix = path.suffix.lower()
    if suffix in SAFETENSORS_SUFFIXES:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            state: Any = load_file(path)
        except (SafetensorError, OSError) as error:
            raise ModelLoadError(f"Cannot read {path} as safetensors: {error}") from error
    elif suffix in PICKLE_SUFFIXES:
        if not trust_pickle:
            raise ModelLoadError(
                f"{path} is a torch pickle file, and unpickling an untrusted file can run code. "
                f"If you trust it, pass --trust-pickle (trust_pickle=True); tensorsight then "
                f"reads it with torch.load(weights_only=True). Or convert it to .safetensors."
            )
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
            raise ModelLoadError(
                f"Cannot read {path} as plain tensors ({type(error).__name__}); save the "
                f"model's state_dict() rather than the model object."
            ) from error
    else:
        known = ", ".join(SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES)
        raise ModelLoadError(f"Cannot tell the format of {path}: weights files end in {known}.")
    return _plain_state_dict(state, path)


def _plain_state_dict(state: Any, path: Path) -> dict[str, torch.Tensor]:
    """Unwrap checkpoint dicts and DataParallel's ``module.`` prefix; insist on tensors."""
    import torch

    while isinstance(state, Mapping):
        wrapped = [key for key in _STATE_DICT_KEYS if isinstance(state.get(key), Mapping)]
        if not wrapped:
            break
        state = state[wrapped[0]]
    if not isinstance(state, Mapping) or not all(
        isinstance(value, torch.Tensor) for value in state.values()
    ):
        raise ModelLoadError(f"{path} does not hold a state dict (a mapping of names to tensors).")
    state = dict(state)
    if state and all(key.startswith("module.") for key in state):
        state = {key.removeprefix("module."): value for key, value in state.items()}
    tensors: dict[str, torch.Tensor] = state
    return tensors


def _listing(keys: list[str], noun: str, *, plural: str | None = None) -> str:
    if not keys:
        return ""
    shown = ", ".join(keys[:_LISTED_KEYS])
    more = f" and {len(keys) - _LISTED_KEYS} more" if len(keys) > _LISTED_KEYS else ""
    name = noun if len(keys) == 1 else (plural or noun + "s")
    return f"{len(keys)} {name} ({shown}{more})"


def _existing_file(weights: str | Path) -> Path:
    path = Path(weights).expanduser()
    if not path.is_file():
        reason = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise ModelLoadError(f"Weights file {path} {reason}.")
    return path


def _card_input(card: Mapping[str, Any]) -> tuple[Preprocessing | None, tuple[int, int] | None]:
    """The card's ``preprocessing`` and ``input_size`` (height, width), each None when absent."""
    try:
        preprocessing = (
            Preprocessing.from_dict(card["preprocessing"]) if "preprocessing" in card else None
        )
        input_size = None
        if "input_size" in card:
            height, width = card["input_size"]
            input_size = int(height), int(width)
    except (KeyError, TypeError, ValueError) as error:
        raise ModelLoadError(
            f"The model card's preprocessing or input_size is unusable ({type(error).__name__}: "
            f"{error}); input_size is [height, width]."
        ) from error
    return preprocessing, input_size


def _default_tinyvgg(*, deformable: bool = False) -> ModelBundle:
    from tensorsight.models.tinyvgg import DEFAULT_BUNDLE_DIR, load_default
    from tensorsight.models.tinyvgg_deformable import (
        DEFORMABLE_BUNDLE_DIR,
        load_default_deformable,
    )

    directory = DEFORMABLE_BUNDLE_DIR if deformable else DEFAULT_BUNDLE_DIR
    try:
        return load_default_deformable() if deformable else load_default()
    except (OSError, KeyError, ValueError) as error:  # a missing file, a damaged card or weights
        raise ModelLoadError(
            f"The TinyVGG shipped in {directory} cannot be loaded "
            f"({type(error).__name__}: {error}); reinstall tensorsight."
        ) from error


def _gan_bundle(spec: str, weights: Path | None) -> ModelBundle:
    """The shipped DCGAN's generator (input: a latent vector) or its discriminator (input: a
    32x32 image in [-1, 1]); ``weights`` may point into a ``tensorsight train-gan`` run."""
    from tensorsight.models.dcgan import DEFAULT_BUNDLE_DIR, load_gan

    directory = weights.parent if weights is not None else DEFAULT_BUNDLE_DIR
    try:
        pair = load_gan(directory)
    except (OSError, KeyError, ValueError, RuntimeError) as error:
        raise ModelLoadError(
            f"The DCGAN in {directory} cannot be loaded ({type(error).__name__}: {error}); it "
            f"needs generator.safetensors, discriminator.safetensors and card.json as "
            f"`tensorsight train-gan` writes them."
        ) from error
    if spec == "dcgan":
        latent = Preprocessing(size=(1, 1), channels=pair.latent_dim)
        return ModelBundle(
            name=_gan_name(spec, pair.card),
            model=pair.generator,
            preprocessing=latent,
            class_names=(),
            card=pair.card,
            critic=pair.discriminator,
        )
    side = pair.discriminator.image_size
    # Photos are judged as the training images looked: light garment on black, x*2-1.
    seen = Preprocessing(
        size=(side, side),
        channels=pair.discriminator.channels,
        mean=(0.5,) * pair.discriminator.channels,
        std=(0.5,) * pair.discriminator.channels,
        invert_light_background=True,
    )
    card = {key: value for key, value in pair.card.items() if key != "latent_dim"}
    return ModelBundle(
        name=_gan_name(spec, pair.card),
        model=pair.discriminator,
        preprocessing=seen,
        class_names=("real",),
        card=card,
        samples=find_samples(directory / SAMPLES_DIR, ("real",)),
    )


def _gan_name(spec: str, card: Mapping[str, Any]) -> str:
    """``"DCGAN (Fashion-MNIST) generator"``: the card's name and the half ``spec`` serves."""
    half = "generator" if spec == "dcgan" else "discriminator"
    return f"{card.get('name', 'DCGAN')} {half}"


def _build_tinyvgg(card: Mapping[str, Any], spec: str = "tinyvgg") -> nn.Module:
    """An untrained TinyVGG (plain or deformable) shaped as the card's ``architecture`` says
    (Fashion-MNIST's default without one)."""
    from tensorsight.models.tinyvgg import TinyVGG
    from tensorsight.models.tinyvgg_deformable import DeformableTinyVGG, build_tinyvgg

    if "architecture" not in card:
        return DeformableTinyVGG() if spec == "tinyvgg-deformable" else TinyVGG()
    try:
        return build_tinyvgg(card["architecture"])
    except (KeyError, TypeError, ValueError) as error:
        raise ModelLoadError(f"The card's TinyVGG architecture is unusable: {error}") from error


def _call_factory(spec: str) -> nn.Module:
    from torch import nn

    module_name, colon, factory_name = spec.partition(":")
    if not (colon and module_name and factory_name):
        raise ModelLoadError(
            f"Unknown model {spec!r}: use {', '.join(BUILTIN_MODELS)}, or package.module:factory "
            f"(a function returning a torch.nn.Module)."
        )
    factory = _resolve_factory(_import_user_module(module_name), module_name, factory_name)
    try:
        model = factory()
    except Exception as error:
        raise ModelLoadError(f"{spec}() raised {type(error).__name__}: {error}") from error
    if not isinstance(model, nn.Module):
        raise ModelLoadError(f"{spec}() returned a {type(model).__name__}, not a torch.nn.Module.")
    return model


def _import_user_module(module_name: str) -> Any:
    """Import ``package.module`` (the current folder is searched too) or a ``.py`` file."""
    try:
        if module_name.endswith(".py"):
            return _import_file(Path(module_name))
        _search_current_folder()
        return importlib.import_module(module_name)
    except ModelLoadError:
        raise
    except ModuleNotFoundError as error:
        raise ModelLoadError(
            f"Cannot import {module_name!r}: {error}. Install it, or run tensorsight from the "
            f"folder that holds it."
        ) from error
    except Exception as error:
        raise ModelLoadError(
            f"Importing {module_name!r} failed with {type(error).__name__}: {error}"
        ) from error


def _search_current_folder() -> None:
    # `python -m` puts the working folder on sys.path but console scripts do not; users expect
    # `tensorsight serve --model mynet:build` to find mynet.py where they run it.
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise ModelLoadError(f"Cannot import {path}: the file does not exist.")
    spec = importlib.util.spec_from_file_location(f"tensorsight_user_model.{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"Cannot import {path} as a Python module.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look their module up there
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module


def _resolve_factory(module: Any, module_name: str, factory_name: str) -> Callable[[], Any]:
    target: Any = module
    for part in factory_name.split("."):
        if not hasattr(target, part):
            callables = sorted(
                name
                for name, value in vars(module).items()
                if callable(value) and not name.startswith("_")
            )
            hint = f" It defines: {', '.join(callables[:8])}." if callables else ""
            raise ModelLoadError(f"{module_name!r} has no {factory_name!r}.{hint}")
        target = getattr(target, part)
    if not callable(target):
        raise ModelLoadError(
            f"{module_name}:{factory_name} is a {type(target).__name__}, not a function."
        )
    factory: Callable[[], Any] = target
    return factory


def _declared_input_size(model: nn.Module) -> tuple[int, int] | None:
    size = getattr(model, "input_size", None)
    if isinstance(size, int):
        return size, size
    if isinstance(size, tuple | list) and len(size) == 2:
        return int(size[0]), int(size[1])
    return None


def _input_channels(model: nn.Module) -> int:
    from torch import nn

    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
            return module.in_channels
    return 3


def _probe(model: nn.Module, preprocessing: Preprocessing, name: str) -> int | None:
    """Run the model on one zero image; return its number of classes, None for image outputs."""
    import torch

    shape = (1, preprocessing.channels, *preprocessing.size)
    try:
        with torch.no_grad():
            output = model(torch.zeros(shape))
    except Exception as error:
        size = "x".join(str(side) for side in shape)
        raise ModelLoadError(
            f"{name} fails on a {size} input ({type(error).__name__}: {error}); give the input "
            f"size it expects (--input-size HxW or the card's input_size)."
        ) from error
    if not isinstance(output, torch.Tensor) or output.ndim not in (2, 4) or output.shape[0] != 1:
        raise ModelLoadError(
            f"{name} must return one tensor: class scores [batch, classes] or an image "
            f"[batch, channels, height, width]; it returned {_describe_output(output)}."
        )
    return int(output.shape[1]) if output.ndim == 2 else None


def _describe_output(output: Any) -> str:
    shape = getattr(output, "shape", None)
    return f"a tensor of shape {list(shape)}" if shape is not None else f"a {type(output).__name__}"
