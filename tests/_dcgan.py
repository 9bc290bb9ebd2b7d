"""A seeded, tiny DCGAN (generator and critic) behind an Explainer, for the generator tests."""

from __future__ import annotations

import torch

from tensorsight.explanation import Explainer
from tensorsight.imaging import Preprocessing
from tensorsight.models.dcgan import Discriminator, Generator, initialise


def tiny_dcgan_explainer(name: str) -> Explainer:
    """A 16x16 generator with an 8-number latent and its critic, the same on every call."""
    torch.manual_seed(0)
    generator = Generator(latent_dim=8, features=4, image_size=16).apply(initialise).eval()
    critic = Discriminator(features=4, image_size=16).apply(initialise)
    return Explainer(
        generator,
        preprocessing=Preprocessing(size=(1, 1), channels=8),
        class_names=(),
        name=name,
        latent_dim=8,
        critic=critic,
    )
