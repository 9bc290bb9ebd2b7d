"""Train a DCGAN on Fashion-MNIST or a folder of photos; write both networks and a card.

The defaults of :class:`GanConfig` are the recipe of the pair shipped in
``tensorsight/models/bundles/dcgan`` (see ``bench/train_gan.py``): 32x32 grayscale, 32 base
filters, a 64-number latent vector, Adam 2e-4 with beta1 0.5, batch 128, the non-saturating
loss. Measured on 2 CPU cores that reaches recognisable garments in ~5 minutes.

>>> from tensorsight.training import GanConfig, train_gan        # doctest: +SKIP
>>> result = train_gan(GanConfig(output="runs/dcgan", epochs=4))  # doctest: +SKIP
>>> result.card["quality"]["frechet_distance"]                     # doctest: +SKIP
12.3
"""

from __future__ import annotations

import copy
import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from tensorsight.data import ImageFolder, read_fashion_mnist
from tensorsight.imaging import Preprocessing
from tensorsight.models.dcgan import (
    DISCRIMINATOR_FILE,
    GAN_CARD_FILE,
    GENERATOR_FILE,
    GRIDS_DIR,
    Discriminator,
    Generator,
    initialise,
)
from tensorsight.training.trainer import _folder_digest, _save_weights, _sha256

FASHION_MNIST = "fashion-mnist"
GAN_CARD_FORMAT = "tensorsight-gan-card/1"
_GRID_SIDE = 8  # an 8x8 grid of the fixed latent vectors, written after every epoch


@dataclass(frozen=True)
class GanConfig:
    """What to train on and how. ``data`` is ``"fashion-mnist"`` or a folder of images (its
    sub-folders are read as classes, as ``tensorsight train`` does, but labels are unused).

    ``limit`` trains on only the first ``limit`` images of a seeded shuffle (quick checks);
    ``measure_quality`` computes the Fréchet distance and class histogram (Fashion-MNIST only)
    with ``quality_samples`` generated images.
    """

    output: str | Path = "dcgan-run"
    data: str | Path = FASHION_MNIST
    data_dir: str | Path | None = None
    image_size: int = 32
    channels: int | None = None
    latent_dim: int = 64
    features: int = 32
    epochs: int = 4
    batch_size: int = 128
    learning_rate: float = 2e-4
    beta1: float = 0.5
    seed: int = 0
    limit: int | None = None
    threads: int | None = None
    progress: bool = True
    measure_quality: bool = True
    quality_samples: int = 10_000


@dataclass
class GanResult:
    """The trained pair (eval mode), the card, and where everything was written."""

    generator: Generator
    discriminator: Discriminator
    card: dict[str, Any]
    output: Path


@dataclass
class _GanData:
    images: torch.Tensor  # [N, C, S, S] in [-1, 1]
    source: dict[str, Any]
    preprocessing: Preprocessing


def train_gan(
    config: GanConfig, *, on_epoch: Callable[[int, Generator], None] | None = None
) -> GanResult:
    """Train a DCGAN as ``config`` says; write ``generator.safetensors``,
    ``discriminator.safetensors``, ``card.json`` and ``grids/epoch-NN.png`` into
    ``config.output``. Same config and seed on the same machine -> identical weights.

    >>> train_gan(GanConfig(output="runs/tiny", epochs=1, limit=512))  # doctest: +SKIP
    """
    if config.threads:
        torch.set_num_threads(config.threads)
    started = time.perf_counter()
    data = _prepare(config)
    preparation_seconds = time.perf_counter() - started

    torch.manual_seed(config.seed)
    channels = data.images.shape[1]
    generator = Generator(config.latent_dim, config.features, channels, config.image_size)
    discriminator = Discriminator(config.features, channels, config.image_size)
    generator.apply(initialise)
    discriminator.apply(initialise)
    untrained = copy.deepcopy(generator).eval()
    output = Path(config.output)
    (output / GRIDS_DIR).mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    timing = {"data_preparation_seconds": round(preparation_seconds, 1)}

    def checkpoint(history: list[dict[str, float]]) -> None:
        # Every finished epoch leaves a complete, loadable pair: a run stopped later keeps it,
        # and since nothing depends on the epoch count, it equals a run of that many epochs.
        _save_weights(generator, output / GENERATOR_FILE)
        _save_weights(discriminator, output / DISCRIMINATOR_FILE)
        timing["training_seconds"] = round(time.perf_counter() - started, 1)
        _write_card(
            _gan_card(generator, discriminator, data, config, history, None, timing, output), output
        )
        if on_epoch is not None:
            on_epoch(len(history), generator)

    history = _fit(generator, discriminator, data.images, config, output, checkpoint)
    generator.eval()
    discriminator.eval()
    quality = None
    quality_seconds = 0.0
    if config.measure_quality and str(config.data) == FASHION_MNIST:
        from tensorsight.training.gan_quality import measure_quality

        started = time.perf_counter()
        quality = measure_quality(generator, untrained, config, data.preprocessing)
        quality_seconds = time.perf_counter() - started
    timing["quality_seconds"] = round(quality_seconds, 1)
    card = _gan_card(generator, discriminator, data, config, history, quality, timing, output)
    _write_card(card, output)
    return GanResult(generator, discriminator, card, output)


def _write_card(card: dict[str, Any], output: Path) -> None:
    (output / GAN_CARD_FILE).write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")


def to_gan_range(inputs: torch.Tensor) -> torch.Tensor:
    """Pixels scaled to [0, 1] (the preprocessing's output) -> [-1, 1], the generator's range.

    >>> to_gan_range(torch.tensor([0.0, 0.5, 1.0])).tolist()
    [-1.0, 0.0, 1.0]
    """
    return inputs * 2 - 1


def gan_preprocessing(image_size: int, channels: int) -> Preprocessing:
    """How a photo becomes a discriminator input (before :func:`to_gan_range`).

    >>> gan_preprocessing(32, 1).describe()
    'resize shorter side to 32, centre crop 32x32, grayscale, pixel/255'
    """
    return Preprocessing(size=(image_size, image_size), channels=channels)


def fixed_latents(config: GanConfig, count: int = _GRID_SIDE**2) -> torch.Tensor:
    """The latent vectors drawn for the per-epoch grids: seeded apart from training's stream.

    >>> fixed_latents(GanConfig(latent_dim=8), count=4).shape
    torch.Size([4, 8, 1, 1])
    """
    generator = torch.Generator().manual_seed(config.seed + 1)
    return torch.randn(count, config.latent_dim, 1, 1, generator=generator)


def save_grid(images: torch.Tensor, path: Path, columns: int = _GRID_SIDE) -> None:
    """Write images ``[N, C, S, S]`` in [-1, 1] as one PNG grid with 2-pixel gutters.

    >>> save_grid(torch.zeros(64, 1, 32, 32), Path("grid.png"))  # doctest: +SKIP
    """
    count, channels, side, _ = images.shape
    rows = -(-count // columns)
    gutter = 2
    canvas = np.zeros(
        (rows * (side + gutter) + gutter, columns * (side + gutter) + gutter, channels),
        dtype=np.uint8,
    )
    pixels = to_uint8(images).permute(0, 2, 3, 1).numpy()
    for index in range(count):
        top = gutter + (index // columns) * (side + gutter)
        left = gutter + (index % columns) * (side + gutter)
        canvas[top : top + side, left : left + side] = pixels[index]
    Image.fromarray(canvas[..., 0] if channels == 1 else canvas).save(path)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> uint8 pixels, rounded, as a PNG would store them.

    >>> to_uint8(torch.tensor([-1.0, 0.0, 1.0])).tolist()
    [0, 128, 255]
    """
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def _prepare(config: GanConfig) -> _GanData:
    source: dict[str, Any]
    if str(config.data) == FASHION_MNIST:
        preprocessing = gan_preprocessing(config.image_size, config.channels or 1)
        split = read_fashion_mnist("train", config.data_dir)
        order = _shuffled(len(split.labels), config)
        images = np.stack(
            [
                preprocessing.to_array(Image.fromarray(split.images[index]))
                for index in order.tolist()
            ]
        )
        test = read_fashion_mnist("test", config.data_dir)
        source = {
            "name": "Fashion-MNIST",
            "licence": "MIT (Zalando Research)",
            "path": str(split.files[0].parent),
            "sha256": {**split.checksums(), **test.checksums()},
        }
    else:
        folder = ImageFolder(config.data)
        preprocessing = gan_preprocessing(config.image_size, config.channels or 3)
        inputs = folder.to_inputs(preprocessing)
        images = inputs[_shuffled(len(inputs), config).numpy()]
        source = {
            "name": "image folder",
            "path": str(folder.root.resolve()),
            "images": len(folder),
            "sha256": _folder_digest(folder),
        }
    return _GanData(to_gan_range(torch.from_numpy(images)), source, preprocessing)


def _shuffled(count: int, config: GanConfig) -> torch.Tensor:
    order = torch.randperm(count, generator=torch.Generator().manual_seed(config.seed))
    return order[: config.limit] if config.limit else order


def _fit(
    generator: Generator,
    discriminator: Discriminator,
    images: torch.Tensor,
    config: GanConfig,
    output: Path,
    checkpoint: Callable[[list[dict[str, float]]], None],
) -> list[dict[str, float]]:
    from tqdm.auto import tqdm

    rng = torch.Generator().manual_seed(config.seed)
    adam: dict[str, Any] = {"lr": config.learning_rate, "betas": (config.beta1, 0.999)}
    g_optimizer = torch.optim.Adam(generator.parameters(), **adam)
    d_optimizer = torch.optim.Adam(discriminator.parameters(), **adam)
    fixed = fixed_latents(config)
    batch_size = min(config.batch_size, len(images))
    # Only full batches: batch norm statistics of a 3-image tail batch would be noise.
    steps = len(images) // batch_size
    history = []
    for epoch in range(1, config.epochs + 1):
        generator.train()
        discriminator.train()
        order = torch.randperm(len(images), generator=rng)
        totals = {"d_loss": 0.0, "g_loss": 0.0, "d_real": 0.0, "d_fake": 0.0}
        bar = tqdm(
            range(steps),
            desc=f"epoch {epoch}/{config.epochs}",
            unit="batch",
            disable=not config.progress,
            leave=True,
        )
        for step in bar:
            real = images[order[step * batch_size : (step + 1) * batch_size]]
            z = torch.randn(len(real), config.latent_dim, 1, 1, generator=rng)
            figures = _step(generator, discriminator, real, z, g_optimizer, d_optimizer)
            for key, value in figures.items():
                totals[key] += value
            bar.set_postfix(
                d=f"{figures['d_loss']:.2f}", g=f"{figures['g_loss']:.2f}", refresh=False
            )
        bar.close()
        record = {
            "epoch": epoch,
            **{key: round(value / max(steps, 1), 4) for key, value in totals.items()},
        }
        history.append(record)
        generator.eval()
        with torch.no_grad():
            save_grid(generator(fixed), output / GRIDS_DIR / f"epoch-{epoch:02d}.png")
        checkpoint(history)
        if config.progress:
            print("  ".join(f"{key} {value}" for key, value in record.items()), flush=True)
    return history


def _step(
    generator: Generator,
    discriminator: Discriminator,
    real: torch.Tensor,
    z: torch.Tensor,
    g_optimizer: torch.optim.Optimizer,
    d_optimizer: torch.optim.Optimizer,
) -> dict[str, float]:
    """One discriminator update then one generator update (non-saturating loss)."""
    ones = torch.ones(len(real), 1)
    zeros = torch.zeros(len(real), 1)
    fake = generator(z)
    real_logits = discriminator(real)
    fake_logits = discriminator(fake.detach())
    d_loss = F.binary_cross_entropy_with_logits(
        real_logits, ones
    ) + F.binary_cross_entropy_with_logits(fake_logits, zeros)
    d_optimizer.zero_grad(set_to_none=True)
    d_loss.backward()
    d_optimizer.step()
    # The generator is scored by the discriminator just updated, as in the DCGAN tutorial.
    g_loss = F.binary_cross_entropy_with_logits(discriminator(fake), ones)
    g_optimizer.zero_grad(set_to_none=True)
    g_loss.backward()
    g_optimizer.step()
    return {
        "d_loss": float(d_loss.detach()),
        "g_loss": float(g_loss.detach()),
        "d_real": float(torch.sigmoid(real_logits.detach()).mean()),
        "d_fake": float(torch.sigmoid(fake_logits.detach()).mean()),
    }


def _gan_card(
    generator: Generator,
    discriminator: Discriminator,
    data: _GanData,
    config: GanConfig,
    history: list[dict[str, float]],
    quality: dict[str, Any] | None,
    timing: dict[str, float],
    output: Path,
) -> dict[str, Any]:
    settings = asdict(config)
    for key in ("output", "data", "data_dir", "progress", "threads", "measure_quality"):
        settings.pop(key)
    return {
        "format": GAN_CARD_FORMAT,
        "name": "DCGAN (Fashion-MNIST)"
        if data.source["name"] == "Fashion-MNIST"
        else "DCGAN (image folder)",
        "architecture": {
            "generator": generator.architecture(),
            "discriminator": discriminator.architecture(),
        },
        "latent_dim": generator.latent_dim,
        "latent_distribution": "standard normal, shape [B, latent_dim, 1, 1]",
        "output_range": [-1, 1],
        "parameters": {
            "generator": sum(p.numel() for p in generator.parameters()),
            "discriminator": sum(p.numel() for p in discriminator.parameters()),
        },
        "preprocessing": data.preprocessing.to_dict(),
        "preprocessing_description": data.preprocessing.describe() + ", then x*2-1",
        "data": {**data.source, "train_count": len(data.images)},
        "training": {
            **settings,
            "optimizer": "Adam",
            "loss": "non-saturating BCE (logits)",
            "updates": "one discriminator then one generator update per batch",
            **timing,
            "epochs_completed": len(history),
            "iterations": len(history)
            * (len(data.images) // min(config.batch_size, len(data.images))),
            "threads": torch.get_num_threads(),
            "history": history,
        },
        "quality": quality,
        "grids": sorted(path.name for path in (output / GRIDS_DIR).glob("epoch-*.png")),
        "weights": {
            "generator": {
                "file": GENERATOR_FILE,
                "format": "safetensors",
                "sha256": _sha256(output / GENERATOR_FILE),
            },
            "discriminator": {
                "file": DISCRIMINATOR_FILE,
                "format": "safetensors",
                "sha256": _sha256(output / DISCRIMINATOR_FILE),
            },
        },
        "software": {"torch": torch.__version__, "python": platform.python_version()},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
