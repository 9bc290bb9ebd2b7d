"""Running a generator: a latent vector in, every layer recorded, the image out, and the
discriminator's verdict on it. :class:`~tensorsight.explanation.explainer.Explainer` calls these
for models whose bundle card gives a ``latent_dim`` (``run_latent``, ``judge_image``).

>>> z = latent_vector(4, seed=0)
>>> z.shape
torch.Size([1, 4, 1, 1])
"""

from __future__ import annotations

import base64
import io
import math
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from tensorsight.explanation.errors import BadParameterError

if TYPE_CHECKING:
    from PIL import Image
    from torch import nn

# |z_i| beyond this is not a draw from N(0, 1) (p < 1e-20): refuse rather than explain noise.
MAX_LATENT_ABS = 10.0
MAX_SEED = 2**63 - 1
VERDICT_NOTE = (
    "A discriminator only learned to tell this generator's images from the Fashion-MNIST "
    "pictures it trained on (32x32, light garment on black). Its score says how much an image "
    "looks like that training set to it: not whether a photo is genuine, edited or made by "
    "another generator."
)


def latent_vector(
    latent_dim: int, z: Sequence[float] | None = None, seed: int | None = None
) -> torch.Tensor:
    """``z`` as the generator's input ``[1, latent_dim, 1, 1]``, or a seeded N(0, 1) draw.

    >>> latent_vector(2, z=[0.5, -1.0]).flatten().tolist()
    [0.5, -1.0]
    >>> latent_vector(2, z=[1.0])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tensorsight.explanation.errors.BadParameterError: z must hold 2 numbers (the latent ...
    """
    if z is None:
        if seed is not None and (
            not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED
        ):
            raise BadParameterError(f"seed must be a whole number from 0 to {MAX_SEED}.")
        generator = torch.Generator()
        # A fresh draw must not reseed torch's global generator (the user's code owns it).
        generator.manual_seed(seed if seed is not None else secrets.randbits(62))
        return torch.randn(1, latent_dim, 1, 1, generator=generator)
    if not isinstance(z, Sequence) or isinstance(z, str):
        raise BadParameterError("z must be a list of numbers.")
    if len(z) != latent_dim:
        raise BadParameterError(
            f"z must hold {latent_dim} numbers (the latent size), not {len(z)}."
        )
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in z):
        raise BadParameterError("z must hold numbers only.")
    if not all(math.isfinite(v) and abs(v) <= MAX_LATENT_ABS for v in z):
        raise BadParameterError(
            f"every number of z must be finite and within ±{MAX_LATENT_ABS:g} (z is drawn from "
            "a standard normal distribution)."
        )
    return torch.tensor([float(v) for v in z], dtype=torch.float32).reshape(1, latent_dim, 1, 1)


def image_png_base64(image: torch.Tensor) -> str:
    """A generated image ``[1, C, H, W]`` in [-1, 1] as a base64 PNG (grayscale or RGB).

    >>> image_png_base64(torch.zeros(1, 1, 2, 2))[:8]
    'iVBORw0K'
    """
    from PIL import Image

    pixels = ((image[0].detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    array = pixels.permute(1, 2, 0).numpy()
    picture = Image.fromarray(
        array[..., 0] if array.shape[2] == 1 else np.ascontiguousarray(array[..., :3])
    )
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@torch.no_grad()
def verdict(critic: nn.Module, image: torch.Tensor) -> dict[str, Any]:
    """The discriminator's score for ``image [1, C, H, W]`` in [-1, 1]: logit and P(real).

    >>> from torch import nn
    >>> verdict(nn.Flatten(), torch.zeros(1, 1, 1, 1))["p_real"]   # logit 0: undecided
    0.5
    """
    weight = next(critic.parameters(), None)
    if weight is not None:
        image = image.to(device=weight.device, dtype=weight.dtype)
    logit = float(critic(image).reshape(-1)[0])
    p_real = 1 / (1 + math.exp(-logit)) if logit > -700 else 0.0
    return {
        "logit": logit,
        "p_real": p_real,
        "label": "real" if p_real >= 0.5 else "fake",
        "note": VERDICT_NOTE,
    }


def critic_input(image: Image.Image, size: tuple[int, int], channels: int) -> torch.Tensor:
    """A photo as the discriminator sees it: resized, grayscale or RGB, light backgrounds
    inverted (the garments it knows are light on black), scaled to [-1, 1].

    >>> from PIL import Image
    >>> critic_input(Image.new("L", (40, 30), 255), (16, 16), 1).unique().tolist()
    [-1.0]
    """
    from tensorsight.imaging import Preprocessing

    preprocessing = Preprocessing(size=size, channels=channels, invert_light_background=True)
    return preprocessing.to_tensor(image) * 2 - 1
