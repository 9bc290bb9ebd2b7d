"""Small model families that exercise what real CNNs do, for tests across the project.

Each family is a plain ``nn.Module`` with seeded random weights (batch-norm statistics too, so
no layer is an identity) and an input shape; ``build(name)`` returns both. Together they cover
plain stacks, functional residual adds, concatenated skips with upsampling and transposed
convolutions, a generator that starts from a vector, shape-dependent control flow, depthwise
convolutions, GELU, batch norm, adaptive pooling, flatten/view and mean, and layers written
with ``torch.nn.functional`` on a model's own weights.

>>> model, x = build("tinyvgg")
>>> model(x).shape
torch.Size([1, 10])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


class TinyVGGLike(nn.Module):
    """CNN Explainer's TinyVGG layout: [conv-relu-conv-relu-maxpool] x 2, flatten, linear."""

    def __init__(
        self, in_channels: int = 1, size: int = 64, classes: int = 10, filters: int = 10
    ) -> None:
        super().__init__()
        self.conv_1_1 = nn.Conv2d(in_channels, filters, 3)
        self.relu_1_1 = nn.ReLU()
        self.conv_1_2 = nn.Conv2d(filters, filters, 3)
        self.relu_1_2 = nn.ReLU()
        self.max_pool_1 = nn.MaxPool2d(2)
        self.conv_2_1 = nn.Conv2d(filters, filters, 3)
        self.relu_2_1 = nn.ReLU()
        self.conv_2_2 = nn.Conv2d(filters, filters, 3)
        self.relu_2_2 = nn.ReLU()
        self.max_pool_2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        side = ((size - 4) // 2 - 4) // 2
        self.output = nn.Linear(filters * side * side, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.max_pool_1(self.relu_1_2(self.conv_1_2(self.relu_1_1(self.conv_1_1(x)))))
        x = self.max_pool_2(self.relu_2_2(self.conv_2_2(self.relu_2_1(self.conv_2_1(x)))))
        return self.output(self.flatten(x))


class ResidualBlock(nn.Module):
    """``out = relu(x + conv(x))``: the residual add is functional, outside any leaf."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.bn(self.conv(x)))


class DownBlock(nn.Module):
    """A strided block whose shortcut is a 1x1 strided convolution; in-place ReLU at the end."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=2)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        out += self.shortcut(x)
        return self.relu(out)


class ResNetLike(nn.Module):
    """Stem, residual blocks with functional adds, a strided block, global pooling, linear."""

    def __init__(self, in_channels: int = 3, classes: int = 5) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()
        )
        self.layer1 = nn.Sequential(ResidualBlock(8), ResidualBlock(8))
        self.layer2 = DownBlock(8, 16)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer2(self.layer1(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


class UNetLike(nn.Module):
    """Two levels down, back up with a transposed convolution and interpolation, cat skips."""

    def __init__(self, in_channels: int = 3, classes: int = 2) -> None:
        super().__init__()
        self.down1 = nn.Sequential(nn.Conv2d(in_channels, 8, 3, padding=1), nn.ReLU())
        self.down2 = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
        self.bottom = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.ReLU())
        self.pool = nn.MaxPool2d(2)
        self.up2 = nn.ConvTranspose2d(16, 16, 2, stride=2)
        self.merge2 = nn.Conv2d(32, 8, 3, padding=1)
        self.merge1 = nn.Conv2d(16, 8, 3, padding=1)
        self.head = nn.Conv2d(8, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip1 = self.down1(x)
        skip2 = self.down2(self.pool(skip1))
        x = self.bottom(self.pool(skip2))
        x = F.relu(self.merge2(torch.cat([self.up2(x), skip2], dim=1)))
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = F.relu(self.merge1(torch.cat([x, skip1], dim=1)))
        return self.head(x)


class Generator(nn.Module):
    """DCGAN-style: a vector, a linear layer, ``view`` to a map, transposed convs up to tanh."""

    def __init__(self, latent: int = 16, channels: int = 3) -> None:
        super().__init__()
        self.project = nn.Linear(latent, 32 * 4 * 4)
        self.up1 = nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.up2 = nn.ConvTranspose2d(16, channels, 4, stride=2, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.project(z).view(z.shape[0], 32, 4, 4)
        x = F.relu(self.bn1(self.up1(x)))
        return torch.tanh(self.up2(x))


class BranchyDepthwise(nn.Module):
    """Shape-dependent branch, depthwise conv (groups = channels) with GELU, batch norm, mean."""

    def __init__(self, in_channels: int = 3, classes: int = 4) -> None:
        super().__init__()
        self.expand = nn.Conv2d(in_channels, 12, 1)
        self.pool = nn.AvgPool2d(2)
        self.depthwise = nn.Conv2d(12, 12, 3, padding=2, dilation=2, groups=12)
        self.bn = nn.BatchNorm2d(12)
        self.act = nn.GELU()
        self.classify = nn.Linear(12, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.expand(x)
        if x.shape[-1] > 16:
            x = self.pool(x)
        x = self.act(self.bn(self.depthwise(x)))
        return torch.softmax(self.classify(x.mean(dim=(2, 3))), dim=-1)


class ChannelScale(nn.Module):
    """A user-defined layer: own weight, no sub-modules, so capture treats it as one leaf."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gain


class FunctionalNet(nn.Module):
    """Layers written with torch.nn.functional on the model's own weights, plus a user leaf."""

    def __init__(self, in_channels: int = 3, classes: int = 3) -> None:
        super().__init__()
        self.conv_weight = nn.Parameter(torch.empty(6, in_channels, 3, 3))
        self.conv_bias = nn.Parameter(torch.empty(6))
        self.scale = ChannelScale(6)
        self.fc_weight = nn.Parameter(torch.empty(classes, 6 * 4 * 4))
        self.fc_bias = nn.Parameter(torch.empty(classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.conv_weight, self.conv_bias, stride=2, padding=1)
        x = F.max_pool2d(self.scale(F.leaky_relu(x, 0.1)), 2)
        return F.linear(x.view(x.shape[0], -1), self.fc_weight, self.fc_bias)


FAMILIES: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "tinyvgg": (TinyVGGLike, (1, 1, 64, 64)),
    "resnet": (ResNetLike, (1, 3, 32, 32)),
    "unet": (UNetLike, (1, 3, 32, 32)),
    "generator": (Generator, (1, 16)),
    "branchy": (BranchyDepthwise, (1, 3, 32, 32)),
    "functional": (FunctionalNet, (1, 3, 16, 16)),
}


def build(name: str, seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    """The family's model in eval mode with seeded weights, and a seeded random input."""
    factory, input_shape = FAMILIES[name]
    generator = torch.Generator().manual_seed(seed)
    model = factory()
    with torch.no_grad():
        for tensor in model.parameters():
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.3)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.copy_(torch.randn(module.num_features, generator=generator))
                module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
    return model.eval(), torch.randn(input_shape, generator=generator)
