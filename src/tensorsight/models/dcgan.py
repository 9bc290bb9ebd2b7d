"""DCGAN (Radford et al. 2015) sized for a CPU: a generator that turns a latent vector into a
garment and the discriminator that learned to tell its images from real ones.

The layout follows PyTorch's DCGAN tutorial shrunk to 32x32 (or 64x64) images: the generator
projects ``z [B, latent_dim, 1, 1]`` to a 4x4 map with one transposed convolution, then doubles
the side with ``ConvTranspose2d(4, stride 2, padding 1)`` blocks (batch norm + ReLU) and ends in
``tanh``, so pixels lie in [-1, 1]. The discriminator mirrors it with strided convolutions and
leaky ReLUs and returns one logit per image (positive = "looks real").

Modules are flat, named attributes (``conv_t_1``, ``batch_norm_1``, ``relu_1`` ...), so the
explainer's layer names read like the architecture. The pair trained on Fashion-MNIST by
``tensorsight train-gan`` ships in ``bundles/dcgan/``.

>>> generator = Generator(latent_dim=64, features=32)
>>> generator(torch.zeros(2, 64, 1, 1)).shape
torch.Size([2, 1, 32, 32])
>>> Discriminator(features=32)(torch.zeros(2, 1, 32, 32)).shape
torch.Size([2, 1])
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

DEFAULT_BUNDLE_DIR = Path(__file__).with_name("bundles") / "dcgan"
GENERATOR_FILE = "generator.safetensors"
DISCRIMINATOR_FILE = "discriminator.safetensors"
GAN_CARD_FILE = "card.json"
GRIDS_DIR = "grids"
# The 4x4 map the latent vector is projected to; each stride-2 block doubles its side.
_BASE_SIDE = 4
_SUPPORTED_SIDES = (16, 32, 64, 128)


def _upsampling_blocks(image_size: int) -> int:
    if image_size not in _SUPPORTED_SIDES:
        raise ValueError(
            f"A DCGAN here makes square images of side {', '.join(map(str, _SUPPORTED_SIDES))};"
            f" got {image_size}."
        )
    return (image_size // _BASE_SIDE).bit_length() - 1


class Generator(nn.Module):
    """``z [B, latent_dim, 1, 1]`` -> image ``[B, channels, image_size, image_size]`` in [-1, 1].

    Widths halve block by block from ``features * 2**(blocks - 1)`` down to ``features``.

    >>> Generator(latent_dim=8, features=4, image_size=16)(torch.zeros(1, 8, 1, 1)).shape
    torch.Size([1, 1, 16, 16])
    """

    def __init__(
        self, latent_dim: int = 64, features: int = 32, channels: int = 1, image_size: int = 32
    ) -> None:
        super().__init__()
        self.latent_dim, self.features = latent_dim, features
        self.channels, self.image_size = channels, image_size
        blocks = _upsampling_blocks(image_size)
        widths = [features * 2 ** (blocks - 1 - index) for index in range(blocks)]
        self.conv_t_1 = nn.ConvTranspose2d(latent_dim, widths[0], _BASE_SIDE, 1, 0, bias=False)
        self.batch_norm_1 = nn.BatchNorm2d(widths[0])
        self.relu_1 = nn.ReLU()
        for index in range(1, blocks):
            number = index + 1
            self.add_module(
                f"conv_t_{number}",
                nn.ConvTranspose2d(widths[index - 1], widths[index], 4, 2, 1, bias=False),
            )
            self.add_module(f"batch_norm_{number}", nn.BatchNorm2d(widths[index]))
            self.add_module(f"relu_{number}", nn.ReLU())
        self.add_module(
            f"conv_t_{blocks + 1}", nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False)
        )
        self.tanh = nn.Tanh()

    @property
    def input_size(self) -> tuple[int, int]:
        """The latent vector's spatial size: ``(1, 1)`` (the explainer reads this)."""
        return (1, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        for layer in self.children():
            z = layer(z)
        return z

    def architecture(self) -> dict[str, Any]:
        """The constructor arguments as a model card stores them (``Generator(**arch)``)."""
        return {
            "name": "DCGAN generator",
            "latent_dim": self.latent_dim,
            "features": self.features,
            "channels": self.channels,
            "image_size": self.image_size,
        }


class Discriminator(nn.Module):
    """Image ``[B, channels, S, S]`` -> one logit per image ``[B, 1]`` (sigmoid = P(real)).

    >>> Discriminator(features=4, image_size=16)(torch.zeros(3, 1, 16, 16)).shape
    torch.Size([3, 1])
    """

    def __init__(self, features: int = 32, channels: int = 1, image_size: int = 32) -> None:
        super().__init__()
        self.features, self.channels, self.image_size = features, channels, image_size
        blocks = _upsampling_blocks(image_size)
        self.conv_1 = nn.Conv2d(channels, features, 4, 2, 1, bias=False)
        self.leaky_relu_1 = nn.LeakyReLU(0.2)
        width = features
        for index in range(1, blocks):
            number = index + 1
            self.add_module(f"conv_{number}", nn.Conv2d(width, width * 2, 4, 2, 1, bias=False))
            self.add_module(f"batch_norm_{number}", nn.BatchNorm2d(width * 2))
            self.add_module(f"leaky_relu_{number}", nn.LeakyReLU(0.2))
            width *= 2
        self.add_module(f"conv_{blocks + 1}", nn.Conv2d(width, 1, _BASE_SIDE, 1, 0, bias=False))
        self.flatten = nn.Flatten()

    @property
    def input_size(self) -> tuple[int, int]:
        return (self.image_size, self.image_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.children():
            x = layer(x)
        return x

    def architecture(self) -> dict[str, Any]:
        """The constructor arguments as a model card stores them (``Discriminator(**arch)``)."""
        return {
            "name": "DCGAN discriminator",
            "features": self.features,
            "channels": self.channels,
            "image_size": self.image_size,
        }


def initialise(module: nn.Module) -> None:
    """DCGAN's initialisation: convolutions N(0, 0.02), batch norm scale N(1, 0.02), shift 0.

    >>> Generator(latent_dim=4, features=2, image_size=16).apply(initialise).tanh
    Tanh()
    """
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def generator_from_architecture(spec: Mapping[str, Any]) -> Generator:
    """An untrained generator shaped as a card's ``generator`` architecture says."""
    return Generator(
        latent_dim=int(spec["latent_dim"]),
        features=int(spec["features"]),
        channels=int(spec["channels"]),
        image_size=int(spec["image_size"]),
    )


def discriminator_from_architecture(spec: Mapping[str, Any]) -> Discriminator:
    """An untrained discriminator shaped as a card's ``discriminator`` architecture says."""
    return Discriminator(
        features=int(spec["features"]),
        channels=int(spec["channels"]),
        image_size=int(spec["image_size"]),
    )


@dataclass(frozen=True)
class GanPair:
    """A trained generator and discriminator (eval mode) with their card."""

    generator: Generator
    discriminator: Discriminator
    card: dict[str, Any]
    directory: Path

    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim


def load_gan(directory: str | Path = DEFAULT_BUNDLE_DIR) -> GanPair:
    """Load a pair written by ``tensorsight train-gan`` (the shipped one by default).

    >>> pair = load_gan()
    >>> pair.generator(torch.zeros(1, pair.latent_dim, 1, 1)).shape
    torch.Size([1, 1, 32, 32])
    """
    from safetensors.torch import load_file

    directory = Path(directory)
    card = json.loads((directory / GAN_CARD_FILE).read_text(encoding="utf-8"))
    generator = generator_from_architecture(card["architecture"]["generator"])
    generator.load_state_dict(load_file(directory / GENERATOR_FILE))
    discriminator = discriminator_from_architecture(card["architecture"]["discriminator"])
    discriminator.load_state_dict(load_file(directory / DISCRIMINATOR_FILE))
    return GanPair(generator.eval(), discriminator.eval(), card, directory)
