"""Tapping captured nodes in a gradient run: module hooks and the value-matching follower agree."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from architectures import build
from tensorsight.attribution import AttributionError, layer_candidates, tap_run
from tensorsight.attribution.taps import _followed_run, _hooked_run, _module_calls
from tensorsight.capturing import capture


@pytest.mark.parametrize("family", ["tinyvgg", "resnet", "unet", "branchy", "functional"])
def test_hooked_taps_equal_followed_taps_and_their_gradients(family):
    model, x = build(family)
    graph = capture(model, x)
    calls = {node_id: _module_calls(model, graph, {node_id}) for node_id in layer_candidates(graph)}
    hookable = {node_id: found for node_id, found in calls.items() if found is not None}
    assert hookable  # every family has module layers the hooks can tap
    for node_id, found in hookable.items():
        hooked = _hooked_run(model, x, graph, {node_id}, found)
        assert hooked is not None  # the hook's tap held the recorded values: no fallback
        followed = _followed_run(model, x, graph, {node_id})
        torch.testing.assert_close(hooked.taps[node_id].detach(), graph.node(node_id).activation)
        torch.testing.assert_close(hooked.taps[node_id], followed.taps[node_id])
        gradients = [
            torch.autograd.grad(run.output.flatten(1)[0, 1], run.taps[node_id])[0]
            for run in (hooked, followed)
        ]
        torch.testing.assert_close(gradients[0], gradients[1])


class Shared(nn.Module):
    """One conv called twice: the capture has ``conv`` and ``conv#2``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.head = nn.Linear(2 * 6 * 6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.conv(x))
        y = self.conv(y)
        y += x  # in place on the second call's output
        return self.head(y.flatten(1))


def test_a_module_called_twice_is_tapped_at_the_right_call():
    torch.manual_seed(0)
    model, x = Shared().eval(), torch.randn(1, 2, 6, 6)
    graph = capture(model, x)
    second = next(node for node in graph.nodes if node.name == "conv#2")
    run = _hooked_run(model, x, graph, {second.id}, _module_calls(model, graph, {second.id}))
    assert run is not None
    torch.testing.assert_close(run.taps[second.id].detach(), second.activation)
    # Independently: the head's gradient through the residual, d(head(y + x))/dy.
    features = second.activation.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(model.head((features + x).flatten(1))[0, 2], features)
    (gradient,) = torch.autograd.grad(run.output[0, 2], run.taps[second.id])
    torch.testing.assert_close(gradient, expected)
    assert all(not module._forward_hooks for module in model.modules())


class Failing(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3)
        self.fail = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if self.fail:
            raise RuntimeError("broken on purpose")
        return y.flatten(1)


def test_hooks_are_removed_when_the_model_fails():
    model, x = Failing().eval(), torch.randn(1, 1, 5, 5)
    graph = capture(model, x)
    model.fail = True
    with pytest.raises(RuntimeError, match="broken on purpose"):
        tap_run(model, x, graph, ["n1"])
    assert not model.conv._forward_hooks


def test_a_different_input_is_not_mistaken_for_the_capture():
    model, x = build("tinyvgg")
    graph = capture(model, x)
    with pytest.raises(AttributionError, match="Could not follow"):
        tap_run(model, x + 1, graph, [layer_candidates(graph)[-1]])
