"""Follow captured nodes through a forward pass that keeps gradients.

A capture (:func:`tensorsight.capture`) runs without gradients and keeps detached copies, so it
cannot say how the class score changes with a layer's output. Grad-CAM and the effective
receptive field need exactly that: the live tensor of one node inside a differentiable run.

:func:`tap_run` runs the model again with gradients on. A node that is the output of a leaf
module's call (a conv, a ReLU, a pool: Grad-CAM's usual layers) is tapped by a forward hook on
that module, at the same call number as in the capture, and checked against the recorded
activation once, afterwards; the run costs one ordinary forward. Any other node (a functional op
such as the residual ``+``) is found by following the run: every torch function is watched
through a :class:`~torch.overrides.TorchFunctionMode`, and the capture's nodes are walked in
execution order: the next output whose shape and values equal the next node's recorded
activation *is* that node. That match is by value, not by re-deriving the recorder's naming
rules, so it follows functional ops, module calls and multi-output ops alike; it stops comparing
once every wanted node is found. Either way a tapped tensor is handed on to the model as a
clone, so a later in-place op (``ReLU(inplace=True)``, ``+=``) changes the clone and the tap keeps
the values the node had; a tap that is still overwritten is reported, never used. Hooks are
removed even when the model fails.

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
    calls = _module_calls(model, graph, wanted)
    if calls is not None:
        run = _hooked_run(model, x, graph, wanted, calls)
        if run is not None:
            return run
    return _followed_run(model, x, graph, wanted)


def _followed_run(model: nn.Module, x: torch.Tensor, graph: Graph, wanted: set[str]) -> TapRun:
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


def _module_calls(
    model: nn.Module, graph: Graph, wanted: set[str]
) -> dict[str, tuple[nn.Module, int]] | None:
    """For each wanted node, the leaf module whose call made it and that call's number (from 1);
    ``None`` when some node is not one module call's single tensor output."""
    modules = dict(model.named_modules())
    calls: dict[str, tuple[nn.Module, int]] = {}
    for node_id in wanted:
        node = graph.node(node_id)
        if node.kind == "input":
            continue
        module = modules.get(node.module_path) if node.module_path is not None else None
        if module is None:
            return None
        # The recorder names a module's k-th call "path#k" and numbers multiple outputs ".i".
        base = node.module_path or type(module).__name__
        same = [other for other in graph.nodes if other.module_path == node.module_path]
        names = [base if call == 1 else f"{base}#{call}" for call in range(1, len(same) + 1)]
        if [other.name for other in same] != names:
            return None
        calls[node_id] = (module, next(i for i, other in enumerate(same, 1) if other is node))
    return calls


def _hooked_run(
    model: nn.Module,
    x: torch.Tensor,
    graph: Graph,
    wanted: set[str],
    calls: dict[str, tuple[nn.Module, int]],
) -> TapRun | None:
    """The run with forward hooks on the wanted nodes' modules; ``None`` if a tap turns out not
    to hold its node's recorded values (a module called in a way the capture did not count)."""
    taps: dict[str, torch.Tensor] = {}
    versions: dict[str, int] = {}
    if any(graph.node(node_id).kind == "input" for node_id in wanted):
        (input_id,) = (node_id for node_id in wanted if graph.node(node_id).kind == "input")
        taps[input_id], versions[input_id] = x, x._version
    by_module: dict[nn.Module, dict[int, str]] = {}
    for node_id, (module, call) in calls.items():
        by_module.setdefault(module, {})[call] = node_id
    seen: dict[nn.Module, int] = dict.fromkeys(by_module, 0)

    def hook(module: nn.Module, args: Any, output: Any) -> Any:
        seen[module] += 1
        node_id = by_module[module].get(seen[module])
        if node_id is None or not isinstance(output, torch.Tensor):
            return None
        taps[node_id], versions[node_id] = output, output._version
        return output.clone()

    handles = [module.register_forward_hook(hook) for module in by_module]
    try:
        with torch.enable_grad():
            output = model(x)
    finally:
        for handle in handles:
            handle.remove()
    if set(taps) != wanted or not all(
        _same_values(tensor, graph.node(node_id).activation) for node_id, tensor in taps.items()
    ):
        return None
    run = TapRun(output, taps, versions)
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
        if len(self.taps) == len(self.wanted) or self.position >= len(self.nodes):
            return output
        if not _has_tensor(output):
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
