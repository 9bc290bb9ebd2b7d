"""Entry points for ``tensorsight serve --model model_factories:<family>``: one per test family.

Each factory returns the seeded model of :mod:`architectures` (same weights on every call), the
way a user's ``package.module:factory`` does. Run the server with ``tests/`` on ``PYTHONPATH``.
The families that map an image to an image (a U-Net segmenter, a generator) come as they are and,
for servers that only take classifiers, also behind a classification head.

>>> unet().down1[0].in_channels
3
"""

from __future__ import annotations

from torch import nn

from architectures import Generator, build


def tinyvgg() -> nn.Module:
    """TinyVGG-like (1 channel, 64x64), ten classes."""
    return build("tinyvgg")[0]


def resnet() -> nn.Module:
    """ResNet-like with functional residual adds and a strided shortcut (3x32x32), five classes."""
    return build("resnet")[0]


def unet() -> nn.Module:
    """The U-Net segmenter as users write it: image in, two-class map out (3x32x32)."""
    return build("unet")[0]


def unet_classifier() -> nn.Module:
    """The same U-Net, its two-class map averaged into two class scores."""
    return nn.Sequential(build("unet")[0], nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()


class ImageConditionedGenerator(nn.Module):
    """A generator driven by an image: a strided convolution squeezes a 1x16x16 image into the
    16-value latent vector that :class:`architectures.Generator` expands back into a 3x16x16
    picture with transposed convolutions."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self.encode = nn.Conv2d(1, 1, 4, stride=4)
        self.flatten = nn.Flatten()
        self.generator = generator

    def forward(self, image):
        return self.generator(self.flatten(self.encode(image)))


def generator() -> nn.Module:
    """The transposed-convolution generator behind an image encoder: image in, image out."""
    model = ImageConditionedGenerator(build("generator")[0])
    with_weights(model.encode)
    return model.eval()


def generator_classifier() -> nn.Module:
    """The generator's picture averaged per colour channel: three scores, one per channel."""
    return nn.Sequential(generator(), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()


def branchy() -> nn.Module:
    """Shape-dependent branch, dilated depthwise conv, batch norm, GELU, mean, softmax (3x32x32)."""
    return build("branchy")[0]


def with_weights(layer: nn.Module) -> None:
    """Seeded weights for a layer added here (the families' own come from ``build``)."""
    import torch

    seeded = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for tensor in layer.parameters():
            tensor.copy_(torch.rand(tensor.shape, generator=seeded) * 0.2)
