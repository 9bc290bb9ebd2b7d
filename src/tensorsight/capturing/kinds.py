"""What an operation is: kinds from module types and torch functions, configs from attributes.

Kinds never come from the names people give their layers: a module's kind is decided by its
class (``isinstance``), a functional op's by the torch function that ran.
"""

from __future__ import annotations

import math
import operator
import sys
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from tensorsight.ops import DeformConv2d

# Order matters only where classes inherit from each other (none of these do).
_MODULE_KINDS: tuple[tuple[type[nn.Module] | tuple[type[nn.Module], ...], str], ...] = (
    (nn.Conv2d, "conv2d"),
    (nn.ConvTranspose2d, "conv_transpose2d"),
    (nn.Linear, "linear"),
    ((nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d), "batch_norm"),
    (nn.LayerNorm, "layer_norm"),
    (nn.ReLU, "relu"),
    (nn.ReLU6, "relu6"),
    (nn.LeakyReLU, "leaky_relu"),
    (nn.GELU, "gelu"),
    (nn.SiLU, "silu"),
    (nn.Sigmoid, "sigmoid"),
    (nn.Tanh, "tanh"),
    (nn.Hardswish, "hardswish"),
    (nn.MaxPool2d, "max_pool2d"),
    (nn.AvgPool2d, "avg_pool2d"),
    (nn.AdaptiveAvgPool2d, "adaptive_avg_pool2d"),
    (nn.Flatten, "flatten"),
    (nn.Unflatten, "reshape"),
    (nn.Softmax, "softmax"),
    (nn.Upsample, "upsample"),
    ((nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout), "dropout"),
    (nn.Identity, "identity"),
    (DeformConv2d, "deform_conv2d"),
)
DEFORM_KIND = "deform_conv2d"

# The torch functions (and Tensor methods, and their in-place and operator spellings) behind
# each kind, by the function's own __name__ as torch reports it to a TorchFunctionMode.
_FUNCTION_KINDS: dict[str, str] = {
    name: kind
    for kind, names in {
        "conv2d": ["conv2d"],
        "conv_transpose2d": ["conv_transpose2d"],
        DEFORM_KIND: ["deform_conv2d"],
        "linear": ["linear"],
        "batch_norm": ["batch_norm"],
        "layer_norm": ["layer_norm"],
        "relu": ["relu", "relu_"],
        "relu6": ["relu6"],
        "leaky_relu": ["leaky_relu", "leaky_relu_"],
        "gelu": ["gelu"],
        "silu": ["silu"],
        "sigmoid": ["sigmoid", "sigmoid_"],
        "tanh": ["tanh", "tanh_"],
        "hardswish": ["hardswish"],
        "max_pool2d": ["max_pool2d", "_max_pool2d"],
        "avg_pool2d": ["avg_pool2d"],
        "adaptive_avg_pool2d": ["adaptive_avg_pool2d"],
        "add": ["add", "add_", "__add__", "__radd__", "__iadd__"],
        "mul": ["mul", "mul_", "multiply", "__mul__", "__rmul__", "__imul__"],
        "cat": ["cat", "concat", "concatenate"],
        "flatten": ["flatten"],
        "reshape": ["view", "reshape", "view_as", "reshape_as", "squeeze", "unsqueeze"],
        "mean": ["mean"],
        "softmax": ["softmax"],
        "upsample": ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear"],
        "dropout": ["dropout", "dropout2d", "feature_dropout", "alpha_dropout"],
    }.items()
    for name in names
}

# Ops that return no new values: reading metadata, or the same values in another memory layout,
# dtype or device. They never become nodes; their tensor output stands for their input.
PASS_THROUGH_OPS = frozenset(
    (
        "contiguous",
        "detach",
        "detach_",
        "clone",
        "to",
        "cpu",
        "cuda",
        "float",
        "double",
        "half",
        "bfloat16",
        "type",
        "type_as",
        "requires_grad_",
        "__get__",
        "__set__",
        "__format__",
        "__repr__",
        "__len__",
        "__bool__",
        "__index__",
        "__int__",
        "__float__",
        "__hash__",
        "__eq__",
        "__ne__",
        "__iter__",
        "__reduce_ex__",
        "__deepcopy__",
        "size",
        "dim",
        "numel",
        "item",
        "tolist",
        "stride",
        "storage_offset",
        "is_contiguous",
        "data_ptr",
        "element_size",
        "is_floating_point",
        "is_complex",
        "untyped_storage",
        "__setstate__",
        "__getstate__",
        "__array__",
    )
)

# Positional parameter names of the functional ops whose arguments become a node's config.
_FUNCTION_PARAMETERS: dict[str, tuple[str, ...]] = {
    "conv2d": ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    "conv_transpose2d": (
        "input",
        "weight",
        "bias",
        "stride",
        "padding",
        "output_padding",
        "groups",
        "dilation",
    ),
    DEFORM_KIND: ("input", "offset", "weight", "bias", "stride", "padding", "dilation", "mask"),
    "linear": ("input", "weight", "bias"),
    "batch_norm": (
        "input",
        "running_mean",
        "running_var",
        "weight",
        "bias",
        "training",
        "momentum",
        "eps",
    ),
    "layer_norm": ("input", "normalized_shape", "weight", "bias", "eps"),
    "leaky_relu": ("input", "negative_slope", "inplace"),
    "gelu": ("input", "approximate"),
    "max_pool2d": (
        "input",
        "kernel_size",
        "stride",
        "padding",
        "dilation",
        "ceil_mode",
        "return_indices",
    ),
    "avg_pool2d": (
        "input",
        "kernel_size",
        "stride",
        "padding",
        "ceil_mode",
        "count_include_pad",
        "divisor_override",
    ),
    "adaptive_avg_pool2d": ("input", "output_size"),
    "cat": ("tensors", "dim"),
    "flatten": ("input", "start_dim", "end_dim"),
    "mean": ("input", "dim", "keepdim"),
    "softmax": ("input", "dim"),
    "upsample": ("input", "size", "scale_factor", "mode", "align_corners"),
    "dropout": ("input", "p", "training"),
}

# Defaults of the functional ops' settings, so a config always says what was in effect.
_FUNCTION_DEFAULTS: dict[str, dict[str, Any]] = {
    "conv2d": {"stride": 1, "padding": 0, "dilation": 1, "groups": 1},
    "conv_transpose2d": {
        "stride": 1,
        "padding": 0,
        "output_padding": 0,
        "groups": 1,
        "dilation": 1,
    },
    DEFORM_KIND: {"stride": 1, "padding": 0, "dilation": 1},
    "batch_norm": {"eps": 1e-5, "momentum": 0.1},
    "layer_norm": {"eps": 1e-5},
    "leaky_relu": {"negative_slope": 0.01},
    "max_pool2d": {"padding": 0, "dilation": 1, "ceil_mode": False},
    "avg_pool2d": {"padding": 0, "ceil_mode": False, "count_include_pad": True},
    "flatten": {"start_dim": 0, "end_dim": -1},
    "upsample": {"mode": "nearest"},
}

# Module attributes that describe a layer's settings.
_MODULE_ATTRIBUTES = frozenset(
    (
        "in_channels",
        "out_channels",
        "kernel_size",
        "stride",
        "padding",
        "output_padding",
        "dilation",
        "groups",
        "padding_mode",
        "in_features",
        "out_features",
        "num_features",
        "eps",
        "momentum",
        "affine",
        "track_running_stats",
        "normalized_shape",
        "elementwise_affine",
        "negative_slope",
        "approximate",
        "min_val",
        "max_val",
        "output_size",
        "ceil_mode",
        "count_include_pad",
        "divisor_override",
        "start_dim",
        "end_dim",
        "unflattened_size",
        "dim",
        "size",
        "scale_factor",
        "mode",
        "align_corners",
        "p",
    )
)
_INPLACE_FLAG = "inplace"


def module_kind(module: nn.Module) -> str:
    """The node kind of a module, from its class.

    >>> module_kind(nn.Conv2d(1, 2, 3)), module_kind(nn.Sequential())
    ('conv2d', 'other')
    """
    cls = type(module)
    kind = _KIND_BY_CLASS.get(cls)
    if kind is None:
        kind = next((kind for types, kind in _MODULE_KINDS if issubclass(cls, types)), "other")
        if kind == "other" and _is_torchvision_deform(cls):
            kind = DEFORM_KIND
        _KIND_BY_CLASS[cls] = kind
    return kind


def _is_torchvision_deform(cls: type[nn.Module]) -> bool:
    # A torchvision layer can only be in a model once torchvision is imported: never import it.
    ops = sys.modules.get("torchvision.ops")
    native = getattr(ops, "DeformConv2d", None)
    return native is not None and issubclass(cls, native)


def deform_inputs(
    kind: str, module: nn.Module | None, args: Sequence[Any], kwargs: Mapping[str, Any]
) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """The ``(offset, mask)`` that fed a deformable convolution (module or function), else None.

    >>> offset = torch.zeros(1, 18, 3, 3)
    >>> deform_inputs("deform_conv2d", DeformConv2d(1, 1, 3), (torch.ones(1, 1, 5, 5), offset),
    ...               {})[0] is offset
    True
    """
    if kind != DEFORM_KIND:
        return None
    names = ("input", "offset", "mask") if module is not None else _FUNCTION_PARAMETERS[kind]
    bound = {**dict(zip(names, args, strict=False)), **kwargs}
    offset, mask = bound.get("offset"), bound.get("mask")
    if not isinstance(offset, torch.Tensor):
        return None
    return offset, mask if isinstance(mask, torch.Tensor) else None


def deform_config(
    offset: torch.Tensor, mask: torch.Tensor | None, config: Mapping[str, Any]
) -> dict[str, Any]:
    """What the offsets say about a deformable convolution: offset groups, whether modulated.

    >>> deform_config(torch.zeros(1, 36, 3, 3), None, {"kernel_size": [3, 3]})
    {'offset_groups': 2, 'modulated': False}
    """
    kh, kw = config.get("kernel_size", (1, 1))
    return {"offset_groups": int(offset.shape[1]) // (2 * kh * kw), "modulated": mask is not None}


_KIND_BY_CLASS: dict[type[nn.Module], str] = {}  # isinstance over the table, once per class


def function_kind(op_name: str) -> str:
    """The node kind of a torch function, given its ``__name__``.

    >>> function_kind("__iadd__"), function_kind("permute")
    ('add', 'other')
    """
    return _FUNCTION_KINDS.get(op_name, "other")


def is_builtin_module(module: nn.Module) -> bool:
    """Whether ``module`` is one of torch.nn's own layers (not a container or a user class).

    >>> is_builtin_module(nn.ReLU()), is_builtin_module(nn.Sequential(nn.ReLU()))
    (True, False)
    """
    cls = type(module)
    known = _BUILTIN_CLASSES.get(cls)
    if known is None:  # per class, once: a capture asks it of every module of the model
        known = cls.__module__.startswith("torch.nn.") and not issubclass(
            cls, nn.Sequential | nn.ModuleList | nn.ModuleDict | nn.ParameterList | nn.ParameterDict
        )
        _BUILTIN_CLASSES[cls] = known
    return known


_BUILTIN_CLASSES: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()


def module_config(module: nn.Module) -> dict[str, Any]:
    """The settings of a module that explain what it computes, as JSON-able values.

    >>> module_config(nn.Conv2d(3, 8, 3, padding=1))["padding"]
    [1, 1]
    """
    # Settings are plain instance attributes; reading __dict__ avoids nn.Module.__getattr__.
    attributes = vars(module)
    known = _CONFIGS.get(module)
    if known is not None and known.matches(attributes, module):
        return dict(known.config)
    names = tuple(name for name in attributes if name in _MODULE_ATTRIBUTES)
    config = {name: _jsonable(attributes[name]) for name in names if _is_setting(attributes[name])}
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear) or (
        module_kind(module) == DEFORM_KIND
    ):
        config["bias"] = _has_bias(module)
    if not any(type(attributes[name]) is list for name in names):  # may change inside
        _CONFIGS[module] = _KnownConfig(attributes, names, config)
    return dict(config)


class _KnownConfig:
    """A module's config as last read, and what it was read from: the same attribute objects
    (remembered only when every setting is an immutable value, so that a changed setting is a
    new object), as many attributes, and the same bias. Turning settings into JSON-able values
    was the largest part of making nodes after the forward pass (MobileNetV2: 1.2 of 3.4 ms;
    a Conv2d's config 14 us, remembered 2.5 us)."""

    __slots__ = ("bias", "config", "count", "names", "values")

    def __init__(
        self, attributes: dict[str, Any], names: tuple[str, ...], config: dict[str, Any]
    ) -> None:
        self.count = len(attributes)
        self.names = names
        self.values = tuple(map(attributes.get, names))
        self.bias = config.get("bias")
        self.config = config

    def matches(self, attributes: dict[str, Any], module: nn.Module) -> bool:
        return (
            len(attributes) == self.count
            and all(map(operator.is_, map(attributes.get, self.names), self.values))
            and (self.bias is None or _has_bias(module) == self.bias)
        )


_CONFIGS: weakref.WeakKeyDictionary[nn.Module, _KnownConfig] = weakref.WeakKeyDictionary()


def _has_bias(module: nn.Module) -> bool:
    parameters = vars(module).get("_parameters", {})
    if "bias" in parameters:  # torch.nn's layers: without nn.Module.__getattr__
        return parameters["bias"] is not None
    return getattr(module, "bias", None) is not None


def function_config(
    kind: str, op_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Split a functional op's arguments into its settings and the untracked tensors it used.

    Returns ``(config, tensors)``; ``tensors`` maps a parameter name to each tensor argument
    (the caller decides which ones were produced by earlier nodes).

    >>> config, tensors = function_config("conv2d", "conv2d",
    ...                                   (torch.ones(1, 2, 5, 5), torch.ones(4, 2, 3, 3)),
    ...                                   {"stride": 2})
    >>> config["stride"], config["out_channels"], config["bias"], sorted(tensors)
    ([2, 2], 4, False, ['input', 'weight'])
    """
    names = _FUNCTION_PARAMETERS.get(kind)
    if op_name in ("view", "reshape") and len(args) > 1:  # x.view(n, -1) or x.view((n, -1))
        shape = args[1] if len(args) == 2 and isinstance(args[1], Sequence) else args[1:]
        return {"op": op_name, "shape": _jsonable(list(shape))}, {}
    if names is None:  # unknown op: positional settings keep their order
        bound = {f"arg{index}": value for index, value in enumerate(args)}
    else:
        bound = {name: value for name, value in zip(names, args, strict=False)}
    bound.update(kwargs)
    config: dict[str, Any] = dict(_FUNCTION_DEFAULTS.get(kind, {}))
    tensors: dict[str, torch.Tensor] = {}
    for name, value in bound.items():
        if isinstance(value, torch.Tensor):
            tensors[name] = value
        elif _is_setting(value) and name != _INPLACE_FLAG:
            config[name] = _jsonable(value)
    if kind == DEFORM_KIND and "weight" in tensors and "input" in tensors:
        # groups are not an argument: they follow from the input and weight shapes
        config["groups"] = tensors["input"].shape[1] // max(tensors["weight"].shape[1], 1)
    if kind in ("conv2d", "conv_transpose2d", "linear", DEFORM_KIND) and "weight" in tensors:
        config.update(_weight_settings(kind, tensors["weight"], config))
        config["bias"] = "bias" in tensors
    if kind != "other" and op_name != kind:
        config["op"] = op_name
    return config, tensors


def _weight_settings(kind: str, weight: torch.Tensor, config: Mapping[str, Any]) -> dict[str, Any]:
    if kind == "linear":
        return {"in_features": weight.shape[1], "out_features": weight.shape[0]}
    groups = int(config.get("groups", 1))
    first, second = int(weight.shape[0]), int(weight.shape[1])
    if kind in ("conv2d", DEFORM_KIND):
        channels = {"in_channels": second * groups, "out_channels": first}
    else:  # transposed convolution weights are [in, out / groups, kh, kw]
        channels = {"in_channels": first, "out_channels": second * groups}
    settings: dict[str, Any] = {**channels, "kernel_size": list(weight.shape[2:])}
    for name in ("stride", "padding", "dilation", "output_padding"):
        if isinstance(config.get(name), int):
            settings[name] = [config[name]] * (weight.dim() - 2)
    return settings


# Exact types, not ABCs: these checks run for every attribute of every layer of every capture.
_SCALARS = (bool, int, float, str, type(None))
_SEQUENCES = (tuple, list, torch.Size)


def _is_setting(value: Any) -> bool:
    if isinstance(value, _SCALARS):
        return True
    if isinstance(value, _SEQUENCES):
        return all(isinstance(item, _SCALARS) for item in value)
    return False


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, _SEQUENCES):
        return [_jsonable(item) for item in value]
    return value
