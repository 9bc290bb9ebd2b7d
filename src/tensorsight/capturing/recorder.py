"""Run a model once and record every operation it executes, with real values.

Two listeners cooperate. Forward hooks on every module say which module is running: a *leaf*
module (one of torch.nn's layers, or a user module with weights and no sub-modules) becomes one
node, and everything inside its forward is hidden. A :class:`~torch.overrides.TorchFunctionMode`
sees the functional ops that run between leaves (``F.relu``, the residual ``+``, ``torch.cat``,
``view``...) with their real arguments, so models with shape-dependent control flow work too
(``torch.fx`` would have to trace them symbolically and fails on such branches).

Edges come from tensor identity: each recorded output tensor is remembered (and kept alive, so
its ``id`` cannot be reused) with the node that produced it.

Activations stay on the device the model ran on (the explainer moves to the host only what it
sends) and are copied lazily: a node keeps a view of its output and copies it only just before
an in-place op (``ReLU(inplace=True)``, ``+=``) would overwrite that memory. Tensor version
counters check this at the end; if any kept value changed unseen, the capture runs again
copying every output at once.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.modules.module import (
    register_module_forward_hook,
    register_module_forward_pre_hook,
)
from torch.overrides import TorchFunctionMode

from tensorsight.capturing.graph import Graph, Node
from tensorsight.capturing.kinds import (
    DEFORM_KIND,
    PASS_THROUGH_OPS,
    deform_config,
    deform_inputs,
    function_config,
    function_kind,
    is_builtin_module,
    module_config,
    module_kind,
)
from tensorsight.devices import DeviceError, resolve_device


class CaptureError(RuntimeError):
    """The model failed while being captured; says which layer, chained to the original error.

    ``module_path`` is the dotted path of the innermost module that was running (``""`` for the
    model itself) and ``module_type`` its class name.
    """

    def __init__(self, message: str, module_path: str, module_type: str) -> None:
        super().__init__(message)
        self.module_path = module_path
        self.module_type = module_type


def capture(model: nn.Module, x: torch.Tensor, *, device: str | None = None) -> Graph:
    """Run ``model`` on ``x`` once (eval mode, no gradients) and record the executed graph.

    The model is not changed: every hook is removed and every ``training`` flag restored, even
    when the forward pass fails (then a :class:`CaptureError` names the failing layer).
    Activations stay on the device the model ran on. ``device`` (``"cpu"``, ``"cuda"``,
    ``"mps"``, ``"auto"``: the first available accelerator) runs it there instead: model and
    input are moved for the capture and the model is moved back afterwards; an unavailable
    device raises :class:`~tensorsight.devices.DeviceError`.

    >>> model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
    >>> graph = capture(model, torch.randn(1, 1, 5, 5))
    >>> [(node.kind, node.name, node.output_shape) for node in graph.nodes]
    [('input', 'input', (1, 1, 5, 5)), ('conv2d', '0', (1, 2, 3, 3)), ('relu', '1', (1, 2, 3, 3))]
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"capture needs the model input as a torch.Tensor, not {type(x).__name__}.")
    if device is not None:
        target = resolve_device(device)
        with _moved_to(model, target):
            return capture(model, x.to(target))
    recorder = _Recorder(model, copy_at_once=False)
    graph = recorder.run(x)
    if graph is None:  # the model may have overwritten x too: start again from its copy
        pristine = recorder.nodes[0].activation.to(x.device, copy=True)
        graph = _Recorder(model, copy_at_once=True).run(pristine)
    assert graph is not None  # copying every output at once cannot lose one
    return graph


@contextmanager
def _moved_to(model: nn.Module, device: str) -> Iterator[None]:
    """``model`` on ``device`` while the block runs, then back where it was."""
    origins = {tensor.device for tensor in itertools.chain(model.parameters(), model.buffers())}
    if len(origins) > 1:
        raise DeviceError(
            f"the model's weights are on several devices ({', '.join(map(str, origins))}); "
            "capture it without device= where it is"
        )
    model.to(device)
    try:
        yield
    finally:
        if origins:
            model.to(origins.pop())


# How many tensors share a storage (private, so optional: without it, kept values are copied).
_use_count = getattr(torch._C, "_storage_Use_Count", None)

# In-place operator spellings (in-place methods end in a single "_": add_, relu_, copy_).
_IN_PLACE_DUNDERS = frozenset(
    (
        "__iadd__",
        "__isub__",
        "__imul__",
        "__itruediv__",
        "__ifloordiv__",
        "__imod__",
        "__ipow__",
        "__imatmul__",
        "__iand__",
        "__ior__",
        "__ixor__",
        "__ilshift__",
        "__irshift__",
        "__setitem__",
    )
)


class _Recorder:
    def __init__(self, model: nn.Module, *, copy_at_once: bool) -> None:
        self.model = model
        self.copy_at_once = copy_at_once
        self.paths = {module: path for path, module in model.named_modules()}
        # The model itself is a leaf only when it is a single torch.nn layer: a user model that
        # keeps its weights on itself and calls torch.nn.functional must still show its ops.
        self.leaves = {
            module
            for module in self.paths
            if is_builtin_module(module) or (module is not model and _is_leaf(module))
        }
        self.late = {module for module in self.paths if module._forward_hooks}
        # torch.nn's own layers write their input only when told to (``inplace=True``).
        self.quiet_leaves = {
            module
            for module in self.leaves - self.late
            if is_builtin_module(module) and vars(module).get("inplace") is not True
        }
        self.quiet: list[AbstractContextManager[None]] = []
        self.thread = threading.get_ident()
        self.nodes: list[_Pending] = []  # made Nodes once the forward pass is over
        # id(tensor) -> (tensor, node id); the tensor is held so that its id stays unique.
        self.producers: dict[int, tuple[torch.Tensor, str]] = {}
        self.op_counts: Counter[str] = Counter()
        self.module_calls: Counter[nn.Module] = Counter()
        self.containers: list[str] = []  # paths of the non-leaf modules now running
        self.running: list[nn.Module] = []  # every module now running, innermost last
        self.leaf_depth = 0  # > 0 while inside a leaf: its inner ops are not nodes
        self.failed_op: str | None = None
        # Lazily copied activations: storage address -> node indices, and each one's version.
        self.views: dict[int, list[int]] = {}
        self.versions: dict[int, int] = {}

    def run(self, x: torch.Tensor) -> Graph | None:
        """The graph, or ``None`` when a kept activation was overwritten unseen (lazy mode)."""
        # Most captures are of a model in eval mode already: then nothing is switched (and back),
        # as nn.Module's attribute setter is slow for hundreds of layers.
        modes = {module: module.training for module in self.paths}
        switch = any(modes.values())
        # Two global hooks instead of two per module: registering and removing hundreds of
        # handles cost more than the hooks themselves. They fire for every module in every
        # thread, so each call is checked to be this capture's own. Global hooks run before a
        # module's own; where the model has forward hooks of its own (which may replace the
        # output), the output is read after them, by a hook of that module.
        handles = [
            register_module_forward_pre_hook(self._before),
            register_module_forward_hook(self._after, with_kwargs=True),
            *(
                module.register_forward_hook(
                    functools.partial(self._after, late=True), with_kwargs=True
                )
                for module in self.late
            ),
        ]
        try:
            if switch:
                self.model.eval()
            self._add(x, kind="input", name="input", inputs=(), copy=True)  # the caller's tensor
            with torch.no_grad(), _FunctionListener(self):
                try:
                    output = self.model(x)
                finally:
                    self._end_quiet_leaves()
        except Exception as error:
            raise self._failure(error) from error
        finally:
            for handle in handles:
                handle.remove()
            for module, training in modes.items() if switch else ():
                module.training = training
        if any(
            self.nodes[index].activation._version != version
            for index, version in self.versions.items()
        ):
            return None
        return Graph(tuple(pending.node() for pending in self.nodes), self._output_id(output))

    # -- module hooks -------------------------------------------------------------------------

    def _before(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        if threading.get_ident() != self.thread or module not in self.paths:
            return
        self.running.append(module)
        if self.leaf_depth:
            self.leaf_depth += 1
        elif module in self.leaves:
            self.leaf_depth = 1
            if module in self.quiet_leaves:
                # The ops inside need not reach the function listener: they are not nodes and
                # cannot overwrite a kept value (version counters would still catch one).
                quiet = torch._C.DisableTorchFunction()
                quiet.__enter__()
                self.quiet.append(quiet)
        else:
            self.containers.append(self.paths[module])

    def _after(
        self,
        module: nn.Module,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        output: Any,
        *,
        late: bool = False,
    ) -> None:
        if (
            threading.get_ident() != self.thread
            or module not in self.paths
            or late != (module in self.late)
        ):
            return
        if self.leaf_depth == 1 and self.quiet:
            self._end_quiet_leaves()
        # Hooks run inside the function mode; our own tensor reads (.shape, detach) need not
        # pass through it. (Private, but what torch's own overrides use.)
        with torch._C.DisableTorchFunction():
            self._leave(module, args, kwargs, output)

    def _end_quiet_leaves(self) -> None:
        while self.quiet:
            self.quiet.pop().__exit__(None, None, None)

    def _leave(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any
    ) -> None:
        self.running.pop()
        if not self.leaf_depth:
            self.containers.pop()
            return
        self.leaf_depth -= 1
        if self.leaf_depth:
            return
        path = self.paths.get(module, "")
        self.module_calls[module] += 1
        calls = self.module_calls[module]
        name = path or type(module).__name__
        inputs = self._inputs_of(args, kwargs)
        kind = module_kind(module)
        settings = None  # read once the forward pass is over
        if kind == DEFORM_KIND:  # read now: its offsets and mask come from the arguments
            settings = (module_config(module), _parameters_of(module))
            self._add_deform_inputs(kind, module, args, kwargs, *settings)
        for index, tensor in _tensor_outputs(output):
            self._add(
                tensor,
                kind=kind,
                name=_numbered(name if calls == 1 else f"{name}#{calls}", index),
                inputs=inputs,
                module=module,
                settings=settings,
            )

    # -- functional ops -----------------------------------------------------------------------

    def on_function(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        op_name = getattr(func, "__name__", "op")
        try:
            if self.views and args and _writes_in_place(op_name, kwargs):
                output = self._write_keeping_values(func, args, kwargs)
            else:
                output = func(*args, **kwargs)
        except Exception:
            self.failed_op = self.failed_op or op_name
            raise
        if self.leaf_depth:
            return output
        if op_name in PASS_THROUGH_OPS:
            self._alias_pass_through(args, output)
            return output
        inputs = self._inputs_of(args, kwargs)
        if not inputs:  # constants and parameter arithmetic are not part of the data flow
            return output
        kind = function_kind(op_name)
        config, tensors = function_config(kind, op_name, args, kwargs)
        result = output
        if op_name == "__setitem__":  # `y[i] = v` returns nothing but gives y new values
            result = args[0]
        parameters = {
            name: tensor.detach()
            for name, tensor in tensors.items()
            if id(tensor) not in self.producers
        }
        self._add_deform_inputs(kind, None, args, kwargs, config, parameters)
        label = kind if kind != "other" else op_name.strip("_")
        self.op_counts[label] += 1
        for index, tensor in _tensor_outputs(result):
            self._add(
                tensor,
                kind=kind,
                name=_numbered(f"{label}_{self.op_counts[label]}", index),
                inputs=inputs,
                settings=(config, parameters),
            )
        return output

    def _add_deform_inputs(
        self,
        kind: str,
        module: nn.Module | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        config: dict[str, Any],
        parameters: dict[str, torch.Tensor],
    ) -> None:
        """A deformable convolution keeps the offsets (and mask) it read, and which nodes
        produced them (``offset_node``, ``mask_node``; None when no node did)."""
        found = deform_inputs(kind, module, args, kwargs)
        if found is None:
            return
        offset, mask = found
        config.update(deform_config(offset, mask, config))
        for name, tensor in (("offset", offset), ("mask", mask)):
            source = self.producers.get(id(tensor)) if tensor is not None else None
            config[f"{name}_node"] = source[1] if source is not None else None
            if tensor is not None:
                parameters[name] = _copy(tensor)

    def _alias_pass_through(self, args: tuple[Any, ...], output: Any) -> None:
        """Let the output of ``x.contiguous()``, ``x.float()``... stand for ``x``'s node."""
        source = self.producers.get(id(args[0])) if args else None
        if source is not None and isinstance(output, torch.Tensor) and output is not args[0]:
            self.producers[id(output)] = (output, source[1])

    # -- bookkeeping --------------------------------------------------------------------------

    def _add(
        self,
        tensor: torch.Tensor,
        *,
        kind: str,
        name: str,
        inputs: tuple[str, ...],
        module: nn.Module | None = None,
        settings: tuple[dict[str, Any], dict[str, torch.Tensor]] | None = None,
        copy: bool = False,
    ) -> None:
        """Record ``tensor`` as a node's output; ``settings`` are its (config, parameters), or
        None for a module's own, read when the node is made."""
        node_id = f"n{len(self.nodes)}"
        copy = copy or self.copy_at_once
        if not copy:
            address = tensor.untyped_storage().data_ptr()
            self.views.setdefault(address, []).append(len(self.nodes))
            self.versions[len(self.nodes)] = tensor._version
        self.nodes.append(
            _Pending(
                node_id,
                kind,
                name,
                module,
                None if module is None else self.paths.get(module, ""),
                ({}, {}) if settings is None and module is None else settings,
                inputs,
                _copy(tensor) if copy else tensor.detach(),
                (self.containers[-1] or None) if self.containers else None,
            )
        )
        self.producers[id(tensor)] = (tensor, node_id)

    def _write_keeping_values(
        self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Run an op that overwrites its input without losing the kept values it overwrites.

        The cheap way, for ``F.relu6(x, inplace=True)`` and the like on a tensor that nothing
        but the kept activations shares: compute out of place and give ``x`` the new memory
        (``set_``), so the kept activations keep the old values without a copy; ``x`` is still
        the tensor the model holds, now with the new values. Otherwise copy what is kept first.
        """
        target = args[0]
        kept = self._sole_sharers(target) if kwargs.get("inplace") is True else None
        if kept is None:
            self._save_before_write(target, kwargs.get("out"))
            return func(*args, **kwargs)
        result = func(*args, **{**kwargs, "inplace": False})
        if not (
            isinstance(result, torch.Tensor)
            and result.shape == target.shape
            and result.dtype == target.dtype
            and result.is_contiguous()
        ):
            self._save_before_write(target)  # not an element-wise op after all: do it in place
            return func(*args, **kwargs)
        target.set_(result.untyped_storage(), 0, result.shape, result.stride())
        del self.views[kept[0]]  # nothing can write the old memory any more
        for index in kept[1]:  # set_ counts as a write to the tensors sharing x's version
            self.versions[index] = self.nodes[index].activation._version
        return target

    def _sole_sharers(self, tensor: Any) -> tuple[int, list[int]] | None:
        """(storage address, kept node indices) when only those nodes share ``tensor``'s memory."""
        if (
            not isinstance(tensor, torch.Tensor)
            or tensor._is_view()
            or tensor.storage_offset() != 0
            or not tensor.is_contiguous()
            or _use_count is None
        ):
            return None
        storage = tensor.untyped_storage()
        kept = self.views.get(storage.data_ptr())
        if not kept or storage.nbytes() != tensor.numel() * tensor.element_size():
            return None
        # References: the tensor, the `storage` object here, and one per kept activation.
        if _use_count(storage._cdata) != 2 + len(kept):
            return None
        return storage.data_ptr(), kept

    def _save_before_write(self, *targets: Any) -> None:
        """Copy the kept activations that share memory with tensors about to be overwritten."""
        for target in _tensors_in(targets):
            for index in self.views.pop(target.untyped_storage().data_ptr(), ()):
                self.nodes[index].activation = self.nodes[index].activation.clone()
                del self.versions[index]

    def _inputs_of(self, args: Any, kwargs: dict[str, Any]) -> tuple[str, ...]:
        if not kwargs and len(args) == 1 and isinstance(args[0], torch.Tensor):  # most layers
            source = self.producers.get(id(args[0]))
            return () if source is None else (source[1],)
        found: dict[str, None] = {}  # ordered and without repeats
        for value in _tensors_in((args, kwargs)):
            source = self.producers.get(id(value))
            if source is not None:
                found[source[1]] = None
        return tuple(found)

    def _output_id(self, output: Any) -> str:
        for value in _tensors_in(output):
            if id(value) in self.producers:
                return self.producers[id(value)][1]
        return self.nodes[-1].id

    def _failure(self, error: Exception) -> Exception:
        if isinstance(error, CaptureError):
            return error
        module = self.running[-1] if self.running else self.model
        path = self.paths.get(module, "")
        module_type = type(module).__name__
        where = f"layer {path!r} ({module_type})" if path else f"the forward of {module_type}"
        if self.failed_op and module not in self.leaves:
            where += f" at {self.failed_op}"
        return CaptureError(
            f"Capture failed in {where}: {type(error).__name__}: {error}", path, module_type
        )


@dataclass(slots=True)
class _Pending:
    """A node as the forward pass records it. Reading a layer's settings and tensors, and
    building the node, wait until the pass is over: between two layers' kernels the same
    Python ran at about half speed (the kernels had just filled the caches with activations)."""

    id: str
    kind: str
    name: str
    module: nn.Module | None
    path: str | None
    # (config, parameters), or None: the module's, read when the node is made.
    settings: tuple[dict[str, Any], dict[str, torch.Tensor]] | None
    inputs: tuple[str, ...]
    activation: torch.Tensor
    group: str | None

    def node(self) -> Node:
        """The finished node."""
        if self.settings is not None:
            config, parameters = self.settings
        else:
            assert self.module is not None
            config, parameters = module_config(self.module), _parameters_of(self.module)
        return Node(
            id=self.id,
            kind=self.kind,
            name=self.name,
            module_path=self.path,
            module_type=None if self.module is None else type(self.module).__name__,
            config=config,
            inputs=self.inputs,
            output_shape=tuple(self.activation.shape),
            activation=self.activation,
            parameters=parameters,
            group=self.group,
        )


class _FunctionListener(TorchFunctionMode):
    """Hands every torch function call to the recorder (the mode is off while it runs)."""

    def __init__(self, recorder: _Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def __torch_function__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        return self.recorder.on_function(func, args, kwargs or {})


def _parameters_of(module: nn.Module) -> dict[str, torch.Tensor]:
    if not module._modules:  # the common case, without generator chains
        named = itertools.chain(module._parameters.items(), module._buffers.items())
    else:
        named = itertools.chain(module.named_parameters(), module.named_buffers())
    return {
        name: tensor.detach()
        for name, tensor in named
        if tensor is not None and tensor.is_floating_point()
    }


def _writes_in_place(op_name: str, kwargs: dict[str, Any]) -> bool:
    return (
        (op_name.endswith("_") and not op_name.endswith("__"))
        or op_name in _IN_PLACE_DUNDERS
        or kwargs.get("inplace") is True
        or kwargs.get("out") is not None
    )


def _is_leaf(module: nn.Module) -> bool:
    """A user module holding weights but no sub-modules (torch.nn's own layers are leaves too)."""
    has_own_tensors = any(
        tensor is not None
        for tensor in itertools.chain(module._parameters.values(), module._buffers.values())
    )
    return has_own_tensors and not module._modules


def _tensor_outputs(output: Any) -> Iterator[tuple[int | None, torch.Tensor]]:
    """The tensors an op returned; the index is ``None`` when there is exactly one."""
    if isinstance(output, torch.Tensor):
        yield None, output
        return
    tensors = list(_tensors_in(output))
    if len(tensors) == 1:
        yield None, tensors[0]
        return
    yield from enumerate(tensors)


def _tensors_in(value: Any) -> Iterator[torch.Tensor]:
    """The tensors in nested tuples, lists and dicts (a lean ``tree_leaves`` for hot paths)."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _tensors_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors_in(item)


def _numbered(name: str, index: int | None) -> str:
    return name if index is None else f"{name}.{index}"


def _copy(tensor: torch.Tensor) -> torch.Tensor:
    # A copy (on the tensor's own device), because later in-place ops (ReLU(inplace=True), +=)
    # may overwrite the original.
    return tensor.detach().clone()
