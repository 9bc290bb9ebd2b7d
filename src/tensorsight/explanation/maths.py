"""The arithmetic behind each detail view, one small function per idea, on real torch tensors.

Every function works on one image (no batch dimension) and returns the intermediate terms a
person can check by hand; the tests hold each one against ``torch.nn.functional``.

>>> import torch
>>> terms = softmax_terms(torch.tensor([1.0, 2.0, 3.0]))
>>> [round(p, 3) for p in terms.probabilities.tolist()]
[0.09, 0.245, 0.665]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Pair = int | Sequence[int]
Padding = int | Sequence[int] | str


def pair(value: Pair) -> tuple[int, int]:
    """``3 -> (3, 3)``; ``(3, 5)`` stays as it is.

    >>> pair(3), pair([1, 2])
    ((3, 3), (1, 2))
    """
    if isinstance(value, int):
        return value, value
    first, second = value
    return int(first), int(second)


def conv_padding(padding: Padding, kernel_size: Pair,
                 dilation: Pair = 1) -> tuple[int, int, int, int]:
    """Zero rows/columns a convolution adds: ``(top, bottom, left, right)``.

    ``"same"`` keeps the size (the odd extra cell goes bottom/right, as in PyTorch).

    >>> conv_padding("same", 4), conv_padding(1, 3), conv_padding("valid", 3)
    ((1, 2, 1, 2), (1, 1, 1, 1), (0, 0, 0, 0))
    """
    if padding == "valid":
        return 0, 0, 0, 0
    if padding == "same":
        (kh, kw), (dh, dw) = pair(kernel_size), pair(dilation)
        total_h, total_w = dh * (kh - 1), dw * (kw - 1)
        return total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2
    if isinstance(padding, str):
        raise ValueError(f"padding must be a number, a pair, 'same' or 'valid', not {padding!r}")
    ph, pw = pair(padding)
    return ph, ph, pw, pw


def pad_input(x: torch.Tensor, padding: tuple[int, int, int, int],
              mode: str = "zeros") -> torch.Tensor:
    """``x [C, H, W]`` with ``padding = (top, bottom, left, right)`` added, as a conv sees it.

    >>> pad_input(torch.ones(1, 2, 2), (1, 0, 0, 1)).shape
    torch.Size([1, 3, 3])
    """
    top, bottom, left, right = padding
    return F.pad(x, (left, right, top, bottom), mode="constant" if mode == "zeros" else mode)


def conv_input_channels(out_channel: int, in_channels: int, out_channels: int,
                        groups: int = 1) -> range:
    """Which input channels one output channel of a grouped convolution reads.

    >>> conv_input_channels(5, in_channels=8, out_channels=8, groups=8)  # depthwise
    range(5, 6)
    """
    per_group_in, per_group_out = in_channels // groups, out_channels // groups
    group = out_channel // per_group_out
    return range(group * per_group_in, (group + 1) * per_group_in)


@dataclass(frozen=True)
class ConvTerms:
    """One output value of a convolution, term by term.

    ``patch`` is what the kernel covers (``[Cin_g, kh, kw]``, padding cells included as 0),
    ``products = patch * kernel``, ``channel_sums`` their sums per input channel, and
    ``value = channel_sums.sum() + bias``.
    """

    patch: torch.Tensor
    kernel: torch.Tensor
    products: torch.Tensor
    channel_sums: torch.Tensor
    bias: float
    value: float


def conv_terms(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
               out_channel: int, row: int, col: int, *, stride: Pair = 1,
               padding: Padding = 0, dilation: Pair = 1, groups: int = 1,
               padding_mode: str = "zeros") -> ConvTerms:
    """The terms of ``conv2d(x)[out_channel, row, col]`` for ``x [C, H, W]``.

    >>> x, w = torch.ones(1, 3, 3), torch.full((1, 1, 2, 2), 0.5)
    >>> conv_terms(x, w, torch.tensor([1.0]), 0, 0, 0).value
    3.0
    """
    kernel = weight[out_channel]
    channels = conv_input_channels(out_channel, x.shape[0], weight.shape[0], groups)
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    kh, kw = kernel.shape[1:]
    padded = pad_input(x[channels.start:channels.stop],
                       conv_padding(padding, (kh, kw), (dh, dw)), padding_mode)
    top, left = row * sh, col * sw
    patch = padded[:, top:top + dh * (kh - 1) + 1:dh, left:left + dw * (kw - 1) + 1:dw]
    products = patch * kernel
    channel_sums = products.sum(dim=(1, 2))
    bias_value = 0.0 if bias is None else float(bias[out_channel])
    return ConvTerms(patch, kernel, products, channel_sums, bias_value,
                     float(channel_sums.sum()) + bias_value)


def conv_channel_maps(x: torch.Tensor, weight: torch.Tensor, out_channel: int, *,
                      stride: Pair = 1, padding: Padding = 0, dilation: Pair = 1,
                      groups: int = 1, padding_mode: str = "zeros") -> torch.Tensor:
    """Each input channel convolved with its own kernel slice: ``[Cin_g, Ho, Wo]``.

    Their sum over channels, plus the bias, is the output channel; computed in float64 so the
    per-channel maps add up to the float32 output to within its rounding.

    >>> maps = conv_channel_maps(torch.ones(2, 4, 4), torch.ones(1, 2, 3, 3), 0)
    >>> maps.shape, maps[0, 0, 0].item()
    (torch.Size([2, 2, 2]), 9.0)
    """
    channels = conv_input_channels(out_channel, x.shape[0], weight.shape[0], groups)
    kernel = weight[out_channel].double()  # [Cin_g, kh, kw]
    padded = pad_input(x[channels.start:channels.stop].double(),
                       conv_padding(padding, kernel.shape[1:], dilation), padding_mode)
    # groups = Cin_g keeps channels apart: channel i only meets kernel slice i.
    maps = F.conv2d(padded[None], kernel[:, None], stride=pair(stride),
                    dilation=pair(dilation), groups=len(channels))
    return maps[0]


@dataclass(frozen=True)
class PoolWindow:
    """The input cells one pooling output reads: ``values [kh, kw]`` (padding cells are
    ``-inf`` for max pooling and 0 for average pooling), ``top``/``left`` in input coordinates
    (negative inside the padding), and ``value`` the pooled result."""

    values: torch.Tensor
    top: int
    left: int
    value: float


def pool_window(x: torch.Tensor, row: int, col: int, *, kernel_size: Pair,
                stride: Pair | None = None, padding: Pair = 0, dilation: Pair = 1,
                mode: str = "max", count_include_pad: bool = True) -> PoolWindow:
    """The window of ``max_pool2d``/``avg_pool2d`` behind output ``[row, col]`` of map ``x [H, W]``.

    >>> x = torch.arange(16.0).reshape(4, 4)
    >>> pool_window(x, 1, 0, kernel_size=2).value  # rows 2-3, columns 0-1
    13.0
    >>> pool_window(x, 0, 0, kernel_size=2, mode="avg").value
    2.5
    """
    (kh, kw), (dh, dw), (ph, pw) = pair(kernel_size), pair(dilation), pair(padding)
    sh, sw = pair(stride if stride not in (None, []) else kernel_size)  # type: ignore[arg-type]
    top, left = row * sh - ph, col * sw - pw
    height, width = x.shape
    fill = -math.inf if mode == "max" else 0.0
    rows = torch.arange(kh) * dh + top
    cols = torch.arange(kw) * dw + left
    inside = ((rows >= 0) & (rows < height))[:, None] & ((cols >= 0) & (cols < width))[None]
    values = torch.full((kh, kw), fill, dtype=x.dtype)
    values[inside] = x[rows.clamp(0, height - 1)][:, cols.clamp(0, width - 1)][inside]
    if mode == "max":
        return PoolWindow(values, top, left, float(values.max()))
    # PyTorch divides by the window cells inside the padded input (or the input alone).
    in_padded = (((rows >= -ph) & (rows < height + ph))[:, None]
                 & ((cols >= -pw) & (cols < width + pw))[None])
    count = int(in_padded.sum()) if count_include_pad else int(inside.sum())
    return PoolWindow(values, top, left, float(values.sum()) / count)


def adaptive_pool_bounds(index: int, in_size: int, out_size: int) -> tuple[int, int]:
    """The input range ``[start, stop)`` of adaptive pooling's output cell ``index``.

    >>> [adaptive_pool_bounds(i, 5, 3) for i in range(3)]
    [(0, 2), (1, 4), (3, 5)]
    """
    return (index * in_size) // out_size, -(-((index + 1) * in_size) // out_size)


def relu(x: torch.Tensor) -> torch.Tensor:
    """``max(0, x)`` element by element: negative values become 0, the rest pass unchanged.

    >>> relu(torch.tensor([-1.5, 0.0, 2.0])).tolist()
    [0.0, 0.0, 2.0]
    """
    return torch.where(x > 0, x, torch.zeros_like(x))


@dataclass(frozen=True)
class SoftmaxTerms:
    """``probabilities = exp / sum_exp`` with ``exp = exp(logits - max_logit)`` (stable form)."""

    logits: torch.Tensor
    max_logit: float
    exp: torch.Tensor
    sum_exp: float
    probabilities: torch.Tensor


def softmax_terms(logits: torch.Tensor) -> SoftmaxTerms:
    """The steps of a softmax over a vector of logits.

    >>> terms = softmax_terms(torch.tensor([0.0, 0.0]))
    >>> terms.max_logit, terms.sum_exp, terms.probabilities.tolist()
    (0.0, 2.0, [0.5, 0.5])
    """
    max_logit = float(logits.max())
    exp = torch.exp(logits - max_logit)
    sum_exp = float(exp.sum())
    return SoftmaxTerms(logits, max_logit, exp, sum_exp, exp / sum_exp)


def flat_index(shape: Sequence[int], index: Sequence[int]) -> int:
    """Position of ``index`` (e.g. ``(c, h, w)``) in the row-major flattening of ``shape``.

    >>> flat_index((10, 13, 13), (2, 0, 5))
    343
    """
    position = 0
    for size, value in zip(shape, index, strict=True):
        if not 0 <= value < size:
            raise IndexError(f"index {tuple(index)} is outside shape {tuple(shape)}")
        position = position * size + value
    return position


def unflat_index(shape: Sequence[int], position: int) -> tuple[int, ...]:
    """The inverse of :func:`flat_index`.

    >>> unflat_index((10, 13, 13), 343)
    (2, 0, 5)
    """
    index = []
    for size in reversed(shape):
        position, value = divmod(position, size)
        index.append(value)
    return tuple(reversed(index))


@dataclass(frozen=True)
class LinearTerms:
    """One unit of a dense layer: ``value = products.sum() + bias`` with
    ``products = input * weight_row``."""

    products: torch.Tensor
    bias: float
    value: float


def linear_terms(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                 unit: int) -> LinearTerms:
    """The contributions of each input feature ``x [F]`` to output ``unit``.

    >>> terms = linear_terms(torch.tensor([1.0, 2.0]), torch.tensor([[3.0, -1.0]]), None, 0)
    >>> terms.products.tolist(), terms.value
    ([3.0, -2.0], 1.0)
    """
    products = x * weight[unit]
    bias_value = 0.0 if bias is None else float(bias[unit])
    return LinearTerms(products, bias_value, float(products.double().sum()) + bias_value)


@dataclass(frozen=True)
class BatchNormTerms:
    """Batch norm of one channel is one straight line: ``output = input * scale + shift``,
    with ``scale = gamma / sqrt(var + eps)`` and ``shift = beta - mean * scale``."""

    scale: float
    shift: float
    output: torch.Tensor


def batch_norm_terms(x: torch.Tensor, mean: float, var: float, eps: float, gamma: float = 1.0,
                     beta: float = 0.0) -> BatchNormTerms:
    """``(x - mean) / sqrt(var + eps) * gamma + beta`` for one channel's values ``x``.

    >>> terms = batch_norm_terms(torch.tensor([3.0]), mean=1.0, var=4.0, eps=0.0, gamma=2.0)
    >>> terms.scale, terms.shift, terms.output.tolist()
    (1.0, -1.0, [2.0])
    """
    scale = gamma / math.sqrt(var + eps)
    return BatchNormTerms(scale, beta - mean * scale, (x - mean) / math.sqrt(var + eps) * gamma
                          + beta)


def concat_sources(sizes: Sequence[int]) -> list[tuple[int, int]]:
    """Where each concatenated tensor lands along the joined dimension: ``[(start, stop)]``.

    >>> concat_sources([16, 16, 8])
    [(0, 16), (16, 32), (32, 40)]
    """
    bounds, start = [], 0
    for size in sizes:
        bounds.append((start, start + size))
        start += size
    return bounds


def elementwise_sum(operands: Sequence[torch.Tensor]) -> torch.Tensor:
    """The cell-by-cell sum of same-shaped (or broadcastable) operands, as a residual add.

    >>> elementwise_sum([torch.ones(2), torch.tensor([1.0, 2.0])]).tolist()
    [2.0, 3.0]
    """
    total = operands[0]
    for operand in operands[1:]:
        total = total + operand
    return total
