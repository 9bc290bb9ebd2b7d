"""Train TinyVGG on Fashion-MNIST or a folder of photos; write safetensors weights + a model card.

The defaults of :class:`TrainConfig` are the recipe of the default model shipped in
``tensorsight/models/bundles/tinyvgg`` (see ``bench/train_tinyvgg.py``).

>>> from tensorsight.training import TrainConfig, train  # doctest: +SKIP
>>> result = train(TrainConfig(output="runs/fashion"))    # doctest: +SKIP
>>> result.card["metrics"]["test_accuracy"]               # doctest: +SKIP
0.91...
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypedDict

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from tensorsight.attribution import write_exemplars
from tensorsight.data import (
    FASHION_MNIST_CLASSES,
    DatasetError,
    ImageFolder,
    read_fashion_mnist,
)
from tensorsight.devices import resolve_device
from tensorsight.imaging import Preprocessing
from tensorsight.models import (
    CARD_FILE,
    EXEMPLARS_DIR,
    SAMPLES_DIR,
    WEIGHTS_FILE,
    TinyVGG,
    class_slug,
)
from tensorsight.models.tinyvgg import DEFAULT_BUNDLE_DIR
from tensorsight.models.tinyvgg_deformable import DeformableTinyVGG

FASHION_MNIST = "fashion-mnist"
CARD_FORMAT = "tensorsight-model-card/1"
_EVAL_BATCH = 1000
_SAMPLE_MAX_SIDE = 256
# `--deformable` fine-tunes the shipped TinyVGG: a short, gentler schedule than from scratch,
# in which the offsets, starting at zero, learn 10 times faster than the weights. At 1x they
# ended at 0.07 px on average (a receptive field that hardly adapts); at 10x, 0.35 px, and the
# test accuracy was 0.9149 (1x 0.9156, 20x 0.9127, 30x 0.9084; 10x for 2 epochs 0.9147).
DEFORMABLE_DEFAULTS: dict[str, Any] = {
    "epochs": 1,
    "learning_rate": 0.002,
    "offset_learning_rate_scale": 10.0,
}


@dataclass(frozen=True)
class TrainConfig:
    """What to train on and how. ``data`` is ``"fashion-mnist"`` or a folder of class folders.

    ``data_dir`` is where the Fashion-MNIST idx.gz files are (default: the Debian path).
    ``limit`` trains on only the first ``limit`` training images (for quick checks).
    ``validation_fraction`` of the training images is held out to report progress; an image
    folder also holds out ``test_fraction`` for the test accuracy (Fashion-MNIST has its own
    test split). Augmentation resamples each training image with a random shift of up to
    ``max_shift`` and zoom of up to ``max_zoom`` (fractions of the input size) and, with
    ``flip``, a random horizontal flip. The defaults keep it light because a 10-filter
    TinyVGG underfits Fashion-MNIST: with flips and 8% shifts and zooms, its training
    accuracy stayed below its validation accuracy.

    ``deformable`` trains a :class:`DeformableTinyVGG` whose last ``deformable_layers``
    convolutions are deformable, starting from ``initial_weights`` (a plain TinyVGG's
    safetensors; default: the shipped TinyVGG when the input fits it, else from scratch).
    Fine-tuning from trained weights keeps the layers before the first deformable one fixed
    (``freeze_before_deformable``): they need no gradients, which halves a step's time. The
    convolutions that predict the offsets learn at ``offset_learning_rate_scale`` times the
    learning rate (Dai et al. 2017 scale theirs too).
    """

    output: str | Path = "tinyvgg-run"
    data: str | Path = FASHION_MNIST
    data_dir: str | Path | None = None
    input_size: int = 64
    channels: int | None = None
    filters: int = 10
    epochs: int = 15
    batch_size: int = 128
    learning_rate: float = 0.01
    weight_decay: float = 1e-4
    label_smoothing: float = 0.05
    augment: bool = True
    max_shift: float = 0.04
    max_zoom: float = 0.0
    flip: bool = False
    seed: int = 0
    validation_fraction: float = 0.05
    test_fraction: float = 0.15
    limit: int | None = None
    samples_per_class: int = 2
    deformable: bool = False
    deformable_layers: int = 2
    initial_weights: str | Path | None = None
    freeze_before_deformable: bool = True
    offset_learning_rate_scale: float = 1.0
    threads: int | None = None
    device: str = "auto"  # where the model trains: cpu, cuda, mps; auto: the first available
    progress: bool = True


@dataclass
class TrainResult:
    """The trained model (eval mode), its card, and where both were written."""

    model: TinyVGG
    card: dict[str, Any]
    output: Path


@dataclass
class _Split:
    inputs: torch.Tensor
    labels: torch.Tensor


@dataclass
class _Prepared:
    preprocessing: Preprocessing
    class_names: tuple[str, ...]
    train: _Split
    validation: _Split
    test: _Split
    source: dict[str, Any]
    write_samples: Callable[[Path, int], None] = field(repr=False)


def train(config: TrainConfig) -> TrainResult:
    """Train TinyVGG as ``config`` says and write ``weights.safetensors``, ``card.json``,
    ``samples/*.png`` and the channel exemplars (``exemplars/``) into ``config.output``.
    Same config and seed -> identical weights (on the CPU; a GPU's kernels may round
    differently). The model trains on ``config.device`` and comes back on the CPU.

    >>> train(TrainConfig(output="runs/shoes", data="photos/"))  # doctest: +SKIP
    """
    config = replace(config, device=resolve_device(config.device))
    if config.threads:
        torch.set_num_threads(config.threads)
    started = time.perf_counter()
    prepared = _prepare(config)
    preparation_seconds = time.perf_counter() - started

    torch.manual_seed(config.seed)
    model, initial = _build_model(prepared, config)
    started = time.perf_counter()
    history = _fit(model, prepared, config)
    training_seconds = time.perf_counter() - started

    predictions = _predict(model, prepared.test.inputs)
    output = Path(config.output)
    output.mkdir(parents=True, exist_ok=True)
    _save_weights(model, output / WEIGHTS_FILE)
    prepared.write_samples(output / SAMPLES_DIR, config.samples_per_class)
    write_exemplars(
        output / EXEMPLARS_DIR,
        model,
        prepared.test.inputs,
        mean=prepared.preprocessing.mean,
        std=prepared.preprocessing.std,
        source=f"the {len(prepared.test.inputs)} test images",
    )
    card = _model_card(
        model,
        prepared,
        config,
        history,
        predictions,
        {
            "training_seconds": round(training_seconds, 1),
            "data_preparation_seconds": round(preparation_seconds, 1),
        },
        weights_sha256=_sha256(output / WEIGHTS_FILE),
    )
    if initial is not None:
        card["training"]["initialised_from"] = {
            "file": _describe_weights(initial),
            "sha256": _sha256(initial),
        }
        card["metrics"]["baseline"] = _baseline(model, initial, prepared)
    (output / CARD_FILE).write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    return TrainResult(model=model, card=card, output=output)


class _Shape(TypedDict):
    in_channels: int
    input_size: tuple[int, int]
    num_classes: int
    filters: int


def _build_model(prepared: _Prepared, config: TrainConfig) -> tuple[TinyVGG, Path | None]:
    """The model to train and, when it starts from trained weights, their file."""
    shape = _Shape(
        in_channels=prepared.preprocessing.channels,
        input_size=prepared.preprocessing.size,
        num_classes=len(prepared.class_names),
        filters=config.filters,
    )
    if not config.deformable:
        return TinyVGG(**shape), None
    model = DeformableTinyVGG(**shape, deformable_layers=config.deformable_layers)
    initial = _initial_weights(model, config)
    if initial is None:
        return model, None
    from safetensors.torch import load_file

    model.load_plain_weights(load_file(initial))
    if config.freeze_before_deformable:
        for name in model.plain_names_before_deformable():
            getattr(model, name).requires_grad_(False)
    return model, initial


def _initial_weights(model: DeformableTinyVGG, config: TrainConfig) -> Path | None:
    if config.initial_weights is not None:
        return Path(config.initial_weights)
    shipped = DEFAULT_BUNDLE_DIR / WEIGHTS_FILE
    card = json.loads((DEFAULT_BUNDLE_DIR / CARD_FILE).read_text(encoding="utf-8"))
    plain = {**model.architecture(), "name": "TinyVGG"}
    plain.pop("deformable_layers")
    fits = card["architecture"] == {**plain, "input_size": list(plain["input_size"])}
    return shipped if fits and str(config.data) == FASHION_MNIST else None


def _describe_weights(path: Path) -> str:
    shipped = DEFAULT_BUNDLE_DIR / WEIGHTS_FILE
    return "the shipped TinyVGG (models/bundles/tinyvgg)" if path == shipped else str(path)


def _baseline(model: TinyVGG, initial: Path, prepared: _Prepared) -> dict[str, Any]:
    """The plain TinyVGG it started from, on the same test set: the accuracy to compare with."""
    from safetensors.torch import load_file

    plain = TinyVGG(model.in_channels, model.input_size, model.num_classes, model.filters)
    plain.load_state_dict(load_file(initial))
    return {
        "model": "TinyVGG",
        "weights": _describe_weights(initial),
        "test_accuracy": round(_accuracy(plain, prepared.test), 4),
    }


def evaluate(
    model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, class_names: tuple[str, ...]
) -> dict[str, Any]:
    """Accuracy, per-class accuracy and confusion matrix (rows: true class, columns: predicted).

    >>> evaluate(model, inputs, labels, FASHION_MNIST_CLASSES)["accuracy"]  # doctest: +SKIP
    0.91...
    """
    predictions = _predict(model, inputs)
    return _metrics(labels, predictions, class_names)


def _prepare(config: TrainConfig) -> _Prepared:
    if str(config.data) == FASHION_MNIST:
        return _prepare_fashion_mnist(config)
    return _prepare_image_folder(config)


def _prepare_fashion_mnist(config: TrainConfig) -> _Prepared:
    # Fashion-MNIST garments are light on black; photos of clothes are usually dark on light,
    # so inference inverts light-background images and training sees exactly that pipeline.
    preprocessing = Preprocessing(
        size=(config.input_size, config.input_size),
        channels=config.channels or 1,
        invert_light_background=True,
    )
    train_set = read_fashion_mnist("train", config.data_dir)
    test_set = read_fashion_mnist("test", config.data_dir)
    order = _permutation(len(train_set.labels), config.seed)
    if config.limit:
        order = order[: config.limit]
    train_index, validation_index = _split_off(order, config.validation_fraction)
    inputs = torch.from_numpy(train_set.to_inputs(preprocessing))
    labels = torch.from_numpy(train_set.labels)

    def write_samples(folder: Path, per_class: int) -> None:
        _write_samples(
            folder,
            test_set.labels,
            FASHION_MNIST_CLASSES,
            per_class,
            lambda index: Image.fromarray(test_set.images[index]),
        )

    return _Prepared(
        preprocessing=preprocessing,
        class_names=FASHION_MNIST_CLASSES,
        train=_Split(inputs[train_index], labels[train_index]),
        validation=_Split(inputs[validation_index], labels[validation_index]),
        test=_Split(
            torch.from_numpy(test_set.to_inputs(preprocessing)), torch.from_numpy(test_set.labels)
        ),
        source={
            "name": "Fashion-MNIST",
            "licence": "MIT (Zalando Research)",
            "path": str(train_set.files[0].parent),
            "sha256": {**train_set.checksums(), **test_set.checksums()},
            "test_split": "the official 10,000-image test set",
            "samples": "the first images of each class in the test set",
        },
        write_samples=write_samples,
    )


def _prepare_image_folder(config: TrainConfig) -> _Prepared:
    folder = ImageFolder(config.data)
    preprocessing = Preprocessing(
        size=(config.input_size, config.input_size), channels=config.channels or 3
    )
    inputs = torch.from_numpy(folder.to_inputs(preprocessing))
    labels = torch.from_numpy(folder.labels)
    order = _permutation(len(labels), config.seed)
    rest, test_index = _split_off(order, config.test_fraction)
    if config.limit:
        rest = rest[: config.limit]
    train_index, validation_index = _split_off(rest, config.validation_fraction)
    if len(train_index) == 0 or len(test_index) == 0:
        raise DatasetError(
            f"{folder.root} has {len(folder)} images: too few to hold some out for testing."
        )

    def write_samples(directory: Path, per_class: int) -> None:
        _write_samples(
            directory,
            folder.labels[test_index],
            folder.class_names,
            per_class,
            lambda index: folder.open(int(test_index[index])),
        )

    return _Prepared(
        preprocessing=preprocessing,
        class_names=folder.class_names,
        train=_Split(inputs[train_index], labels[train_index]),
        validation=_Split(inputs[validation_index], labels[validation_index]),
        test=_Split(inputs[test_index], labels[test_index]),
        source={
            "name": "image folder",
            "path": str(folder.root.resolve()),
            "images": len(folder),
            "sha256": _folder_digest(folder),
            "test_split": f"{config.test_fraction:.0%} of each run's shuffled images (seeded)",
        },
        write_samples=write_samples,
    )


def _fit(model: TinyVGG, data: _Prepared, config: TrainConfig) -> list[dict[str, float]]:
    from tqdm.auto import tqdm

    generator = torch.Generator().manual_seed(config.seed)  # on the CPU: the same draws anywhere
    model.to(config.device)
    count = len(data.train.labels)
    steps_per_epoch = math.ceil(count / config.batch_size)
    optimizer = torch.optim.AdamW(
        _parameter_groups(model, config), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=[group["lr"] for group in optimizer.param_groups],
        total_steps=config.epochs * steps_per_epoch,
    )
    history = []
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.randperm(count, generator=generator)
        total_loss, correct = 0.0, 0
        bar = tqdm(
            range(steps_per_epoch),
            desc=f"epoch {epoch}/{config.epochs}",
            unit="batch",
            disable=not config.progress,
            leave=True,
        )
        for step in bar:
            batch = order[step * config.batch_size : (step + 1) * config.batch_size]
            inputs, labels = data.train.inputs[batch], data.train.labels[batch]
            if config.augment:
                inputs = _augment(inputs, config, generator)
            inputs, labels = inputs.to(config.device), labels.to(config.device)
            logits = model(inputs)
            loss = F.cross_entropy(logits, labels, label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += float(loss.detach()) * len(batch)
            correct += int((logits.argmax(1) == labels).sum())
            seen = step * config.batch_size + len(batch)
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", refresh=False)
        bar.close()
        record = {
            "epoch": epoch,
            "loss": round(total_loss / count, 4),
            "train_accuracy": round(correct / count, 4),
        }
        if len(data.validation.labels):
            record["validation_accuracy"] = round(_accuracy(model, data.validation), 4)
        history.append(record)
        if config.progress:
            print("  ".join(f"{key} {value}" for key, value in record.items()), flush=True)
    model.eval().to("cpu")  # what follows (test metrics, exemplars, saving) reads it there
    return history


def _parameter_groups(model: TinyVGG, config: TrainConfig) -> list[dict[str, Any]]:
    """The optimizer's groups: a deformable model's offset convolutions at their own rate."""
    if not isinstance(model, DeformableTinyVGG):
        return [{"params": list(model.parameters())}]
    offsets = model.offset_parameters()
    chosen = {id(parameter) for parameter in offsets}
    rest = [parameter for parameter in model.parameters() if id(parameter) not in chosen]
    rate = config.learning_rate * config.offset_learning_rate_scale
    return [{"params": rest}, {"params": offsets, "lr": rate}]


def _augment(inputs: torch.Tensor, config: TrainConfig, generator: torch.Generator) -> torch.Tensor:
    """Random shift, zoom and horizontal flip in one affine resampling per image."""
    count = len(inputs)
    zoom = 1 + (torch.rand(count, generator=generator) * 2 - 1) * config.max_zoom
    flip = torch.ones(count)
    if config.flip:
        flip = torch.where(torch.rand(count, generator=generator) < 0.5, -1.0, 1.0)
    # grid coordinates span [-1, 1], so a shift of f of the image is 2f in grid units.
    shift = (torch.rand(count, 2, generator=generator) * 2 - 1) * 2 * config.max_shift
    theta = torch.zeros(count, 2, 3)
    theta[:, 0, 0] = flip / zoom
    theta[:, 1, 1] = 1 / zoom
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(inputs.shape), align_corners=False)
    return F.grid_sample(inputs, grid, mode="bilinear", padding_mode="border", align_corners=False)


@torch.no_grad()
def _predict(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    model.eval()
    weight = next(model.parameters(), None)
    device = weight.device if weight is not None else torch.device("cpu")
    predictions = [
        model(inputs[start : start + _EVAL_BATCH].to(device)).argmax(1).cpu()
        for start in range(0, len(inputs), _EVAL_BATCH)
    ]
    return torch.cat(predictions) if predictions else torch.zeros(0, dtype=torch.long)


def _accuracy(model: nn.Module, split: _Split) -> float:
    return float((_predict(model, split.inputs) == split.labels).float().mean())


def _metrics(
    labels: torch.Tensor, predictions: torch.Tensor, class_names: tuple[str, ...]
) -> dict[str, Any]:
    classes = len(class_names)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (labels.numpy(), predictions.numpy()), 1)
    per_class = confusion.diagonal() / np.maximum(confusion.sum(1), 1)
    return {
        "accuracy": round(float(confusion.trace() / max(confusion.sum(), 1)), 4),
        "count": int(confusion.sum()),
        "per_class_accuracy": {
            name: round(float(value), 4) for name, value in zip(class_names, per_class, strict=True)
        },
        "confusion_matrix": confusion.tolist(),
    }


def _model_card(
    model: TinyVGG,
    data: _Prepared,
    config: TrainConfig,
    history: list[dict[str, float]],
    predictions: torch.Tensor,
    timing: dict[str, float],
    weights_sha256: str,
) -> dict[str, Any]:
    test = _metrics(data.test.labels, predictions, data.class_names)
    settings = asdict(config)
    for key in ("output", "data", "data_dir", "progress", "threads", "initial_weights"):
        settings.pop(key)
    return {
        "format": CARD_FORMAT,
        "architecture": model.architecture(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "class_names": list(data.class_names),
        "preprocessing": data.preprocessing.to_dict(),
        "preprocessing_description": data.preprocessing.describe(),
        "metrics": {
            "test_accuracy": test["accuracy"],
            "test_count": test["count"],
            "per_class_test_accuracy": test["per_class_accuracy"],
            "confusion_matrix": test["confusion_matrix"],
            "confusion_matrix_axes": "rows: true class, columns: predicted class",
        },
        "data": {
            **data.source,
            "train_count": len(data.train.labels),
            "validation_count": len(data.validation.labels),
        },
        "training": {
            **settings,
            "optimizer": "AdamW",
            "schedule": "OneCycleLR",
            "loss": "cross-entropy",
            **timing,
            "threads": torch.get_num_threads(),
            "history": history,
        },
        "weights": {"file": WEIGHTS_FILE, "format": "safetensors", "sha256": weights_sha256},
        "software": {"torch": torch.__version__, "python": platform.python_version()},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _write_samples(
    folder: Path,
    labels: np.ndarray,
    class_names: tuple[str, ...],
    per_class: int,
    open_image: Callable[[int], Image.Image],
) -> None:
    """Save the first ``per_class`` held-out images of each class as ``<class>-<n>.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    written = dict.fromkeys(range(len(class_names)), 0)
    for index, label in enumerate(labels.tolist()):
        if written[label] >= per_class:
            continue
        written[label] += 1
        image = open_image(index)
        image.thumbnail((_SAMPLE_MAX_SIDE, _SAMPLE_MAX_SIDE))
        image.save(folder / f"{class_slug(class_names[label])}-{written[label]}.png")


class _Architected(Protocol):
    """A shipped model: its weights and the constructor arguments its card stores."""

    def state_dict(self) -> dict[str, Any]: ...

    def architecture(self) -> dict[str, Any]: ...


def _save_weights(model: _Architected, path: Path) -> None:
    from safetensors.torch import save_file

    save_file(
        {name: tensor.contiguous() for name, tensor in model.state_dict().items()},
        str(path),
        metadata={"format": "pt", "architecture": model.architecture()["name"]},
    )


def _permutation(count: int, seed: int) -> torch.Tensor:
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed))


def _split_off(order: torch.Tensor, fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    held_out = round(len(order) * fraction)
    return order[held_out:], order[:held_out]


def _folder_digest(folder: ImageFolder) -> str:
    digest = hashlib.sha256()
    for path, label in folder.files:
        digest.update(f"{path.relative_to(folder.root)}\0{label}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
