"""In-place activations: kept values survive and the model computes exactly what it computes alone.

A capture runs ``F.relu(x, inplace=True)`` out of place and hands ``x`` the new memory when
nothing else shares it, else copies the kept values first; either way the model must not notice.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tensorsight.capturing import capture


class ConvBnRelu(nn.Module):
    def __init__(self, activation: nn.Module) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.act = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class KeepsAView(nn.Module):
    """Takes a view of the batch-norm output before overwriting it: the view must see the write."""

    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn(x)
        head = y[:, :1]
        F.relu(y, inplace=True)
        return head * 2


class IgnoresTheResult(nn.Module):
    """Relies on the in-place write, not on the returned tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(3)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn(x)
        self.relu(y)
        y += 1  # a second write, on the memory the first one produced
        return F.relu6(y, inplace=True) - x


def seeded(model: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):  # non-trivial statistics, so negatives appear
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


@pytest.mark.parametrize(
    "activation",
    [
        nn.ReLU(inplace=True),
        nn.ReLU6(inplace=True),
        nn.Hardswish(inplace=True),
        nn.LeakyReLU(0.1, True),
        nn.SiLU(inplace=True),
    ],
    ids=type,
)
def test_kept_values_before_an_in_place_activation(activation: nn.Module) -> None:
    model = seeded(ConvBnRelu(activation))
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        before = model.bn(model.conv(x))
        expected = (
            type(activation)()(before.clone())
            if not isinstance(activation, nn.LeakyReLU)
            else F.leaky_relu(before, 0.1)
        )
    graph = capture(model, x)
    kinds = {node.module_path: node for node in graph.nodes}
    assert torch.equal(kinds["bn"].activation, before)
    assert (before < 0).any()  # the activation really changed something
    assert torch.equal(kinds["act"].activation, expected)
    assert torch.equal(graph.output.activation, expected)


@pytest.mark.parametrize("model_type", [KeepsAView, IgnoresTheResult])
def test_the_model_computes_what_it_computes_alone(model_type: type[nn.Module]) -> None:
    model = seeded(model_type())
    x = torch.randn(2, 3, 5, 5)
    with torch.no_grad():
        alone = model(x.clone())
    graph = capture(model, x)
    assert torch.equal(graph.output.activation, alone)
    bn = next(node for node in graph.nodes if node.module_path == "bn")
    with torch.no_grad():
        assert torch.equal(bn.activation, model.bn(x))
