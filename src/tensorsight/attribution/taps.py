"""Follow captured nodes through a forward pass that keeps gradients.

A capture (:func:`tensorsight.capture`) runs without gradients and keeps detached copies, so it
cannot say how the class score changes with a layer's output. Grad-CAM and the effective
receptive field need exactly that: the live tensor of one node inside a differentiable run.

:func:`tap_run` runs the model again with gradients on, watching every torch function through a
:class:`~torch.overrides.TorchFunctionMode`, and walks the capture's nodes in execution order: the
next output whose shape and values equal the next node's recorded activation *is* that node. The
match is by value, not by re-deriving the recorder's naming rules, so it follows functional ops
(the residual ``+``), module calls and multi-output ops alike. A tapped tensor is handed on to the
model as a clone, so a later in-place op (``ReLU(inplace=True)``, ``+=``) changes the clone and the
tap keeps the values the node had; a tap that is still overwritten is reported, never used.

>>> import torch
>>> from torch import nn
>>> from tensorsight.capturing import capture
>>> model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(inplace=True)).eval()
>>> x = torch.randn(1, 1, 5, 5)
>>> run = tap_run(model, x, capture(model, x), ["n1"])
>>> run.taps["n1"].shape, run.taps["n1"].requires_grad
(torch.Size([1, 2, 3, 3]), True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from tensorsight.attribution.errors import AttributionError
from tensorsight.capturing import Graph


@dataclass
class TapRun:
    """The model's output of a gradient-keeping forward pass and the live tensors of some nodes."""

    output: Any
    taps: dict[str, torch.Tensor]
    versions: dict[str, int]

    def check_untouched(self) -> None:
        """Raise if an op overwrote a tapped tensor in place after it was tapped."""
        for node_id, tensor in self.taps.items():
            if tensor._version != self.versions[node_id]:
                raise AttributionError(
                    f"Node {node_id} is overwritten in place later in the model, so its gradient "
                    "cannot be taken; pick another layer."
                )


def tap_run(model: nn.Module, x: torch.Tensor, graph: Graph, node_ids: Iterable[str]) -> TapRun:
    """Run ``model(x)`` with gradients and return the live output tensor of each of ``node_ids``.

    ``x`` must be the input ``graph`` was captured from (the match is by value). The input node
    taps ``x`` itself, which then must require gradients for the input to be differentiated.
    """
    wanted = set(node_ids)
    for node_id in wanted:
        graph.node(node_id)  # KeyError for an unknown id
    follower = _Follower(graph, wanted)
    follower.see(x, protect=False)
    with torch.enable_grad(), follower:
        output = model(x)
    missing = sorted(wanted - set(follower.taps), key=lambda i: int(i.lstrip("n") or 0))
    if missing:
        lost = graph.nodes[follower.position]
        raise AttributionError(
            f"Could not follow {', '.join(missing)} through a gradient run: the model did not "
            f"reproduce node {lost.id} ({lost.name}) of the capture."
        )
    run = TapRun(output, follower.taps, follower.versions)
    run.check_untouched()
    return run


class _Follower(TorchFunctionMode):
    """Matches op outputs to the capture's nodes, in order, by shape and value."""

    def __init__(self, graph: Graph, wanted: set[str]) -> None:
        super().__init__()
        self.nodes = graph.nodes
        self.wanted = wanted
        self.position = 0
        self.taps: dict[str, torch.Tensor] = {}
        self.versions: dict[str, int] = {}

    def __torch_function__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        output = func(*args, **(kwargs or {}))
        if self.position >= len(self.nodes) or not _has_tensor(output):
            return output
        # `y += v` rebinds y to what the op returns, so a clone protects the tap; `y.add_(v)`
        # keeps using y itself, so there a clone would be ignored.
        name = getattr(func, "__name__", "")
        in_place = any(output is arg for arg in args) and not name.startswith("__i")
        return _map_tensors(output, lambda t: self.see(t, protect=not in_place))

    def see(self, tensor: torch.Tensor, *, protect: bool) -> torch.Tensor:
        """Tap ``tensor`` if it is the next node; hand the model a clone of a tapped tensor."""
        if self.position >= len(self.nodes) or not tensor.is_floating_point():
            return tensor
        node = self.nodes[self.position]
        if not _same_values(tensor, node.activation):
            return tensor
        self.position += 1
        if node.id not in self.wanted:
            return tensor
        self.taps[node.id] = tensor
        self.versions[node.id] = tensor._version
        return tensor.clone() if protect else tensor


def _same_values(tensor: torch.Tensor, recorded: torch.Tensor) -> bool:
    if tuple(tensor.shape) != tuple(recorded.shape):
        return False
    live = tensor.detach()
    if live.device != recorded.device or live.dtype != recorded.dtype:
        live = live.to(recorded.device, recorded.dtype)
    # Gradient-keeping kernels may round differently from the capture's no-grad ones.
    return bool(torch.allclose(live, recorded, rtol=1e-4, atol=1e-6, equal_nan=True))


def _has_tensor(value: Any) -> bool:
    return any(True for _ in _tensors(value))


def _tensors(value: Any) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _tensors(item)


def _map_tensors(value: Any, change: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        return change(value)
    if type(value) is tuple:
        return tuple(_map_tensors(item, change) for item in value)
    if type(value) is list:
        return [_map_tensors(item, change) for item in value]
    return value
