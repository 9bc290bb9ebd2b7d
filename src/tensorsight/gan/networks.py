"""The two tiny networks: multilayer perceptrons initialised as GAN Lab does.

>>> import torch
>>> g = mlp(2, 2, 8, 2, final=torch.nn.Tanh(), generator=torch.Generator().manual_seed(0))
>>> g(torch.zeros(3, 2)).shape
torch.Size([3, 2])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import nn


def mlp(
    inputs: int,
    hidden_layers: int,
    neurons: int,
    outputs: int,
    *,
    final: nn.Module | None = None,
    generator: torch.Generator,
) -> nn.Sequential:
    """``inputs`` -> ``hidden_layers`` x (Linear(neurons) + ReLU) -> Linear(outputs) [-> final].

    Weights are N(0, 1/sqrt(fan_in)), drawn from ``generator`` (GAN Lab's init: it keeps the
    tiny networks' outputs near unit scale whatever their width). Deeper biases are 0, but each
    first-layer bias puts its ReLU's kink through a random point of the unit cube, where the
    inputs (noise, or points of the unit square) live: GAN Lab's zero biases put every kink
    through the corner (0, 0), so both networks start almost linear over the data and, measured
    from scratch, need thousands of epochs to bend (README "GAN Lab").
    """
    widths = [inputs] + [neurons] * hidden_layers + [outputs]
    layers: list[nn.Module] = []
    for index, (fan_in, fan_out) in enumerate(pairwise(widths)):
        linear = nn.Linear(fan_in, fan_out)
        with torch.no_grad():
            linear.weight.normal_(0.0, 1.0 / math.sqrt(fan_in), generator=generator)
            linear.bias.zero_()
            if index == 0:
                through = torch.rand(fan_out, fan_in, generator=generator)
                linear.bias.copy_(-(linear.weight * through).sum(1))
        layers.append(linear)
        if index < len(widths) - 2:
            layers.append(nn.ReLU())
    if final is not None:
        layers.append(final)
    return nn.Sequential(*layers)


def gradient_norm(parameters: Sequence[torch.Tensor]) -> float:
    """The L2 norm of all the parameters' ``.grad`` together (0 when none has one)."""
    grads = [p.grad.detach().flatten() for p in parameters if p.grad is not None]
    return float(torch.cat(grads).norm()) if grads else 0.0
