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


def conv_padding(
    padding: Padding, kernel_size: Pair, dilation: Pair = 1
) -> tuple[int, int, int, int]:
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


def pad_input(
    x: torch.Tensor, padding: tuple[int, int, int, int], mode: str = "zeros"
) -> torch.Tensor:
    """``x [C, H, W]`` with ``padding = (top, bottom, left, right)`` added, as a conv sees it.

    >>> pad_input(torch.ones(1, 2, 2), (1, 0, 0, 1)).shape
    torch.Size([1, 3, 3])
    """
    top, bottom, left, right = padding
    return F.pad(x, (left, right, top, bottom), mode="constant" if mode == "zeros" else mode)


def padded_sources(size: int, before: int, after: int, mode: str = "zeros") -> torch.Tensor:
    """For each cell of an axis padded as a convolution pads it, the input cell it repeats;
    ``-1`` for a zero. PyTorch's own padding decides, applied to the cells' indices.

    >>> padded_sources(3, 2, 1, "reflect").tolist(), padded_sources(3, 1, 1).tolist()
    ([2, 1, 0, 1, 2, 1], [-1, 0, 1, 2, -1])
    """
    index = torch.arange(size, dtype=torch.float64)[None, None]
    if mode == "zeros":
        return F.pad(index, (before, after), value=-1.0)[0, 0].long()
    return F.pad(index, (before, after), mode=mode)[0, 0].long()


def conv_input_channels(
    out_channel: int, in_channels: int, out_channels: int, groups: int = 1
) -> range:
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


def conv_terms(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    out_channel: int,
    row: int,
    col: int,
    *,
    stride: Pair = 1,
    padding: Padding = 0,
    dilation: Pair = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
) -> ConvTerms:
    """The terms of ``conv2d(x)[out_channel, row, col]`` for ``x [C, H, W]``.

    >>> x, w = torch.ones(1, 3, 3), torch.full((1, 1, 2, 2), 0.5)
    >>> conv_terms(x, w, torch.tensor([1.0]), 0, 0, 0).value
    3.0
    """
    kernel = weight[out_channel]
    channels = conv_input_channels(out_channel, x.shape[0], weight.shape[0], groups)
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    kh, kw = kernel.shape[1:]
    top, bottom, left, right = conv_padding(padding, (kh, kw), (dh, dw))
    # Only the window's cells are read (not the whole padded map): the view asks per window.
    rows = padded_sources(x.shape[1], top, bottom, padding_mode)[
        row * sh : row * sh + dh * (kh - 1) + 1 : dh
    ]
    cols = padded_sources(x.shape[2], left, right, padding_mode)[
        col * sw : col * sw + dw * (kw - 1) + 1 : dw
    ]
    cells = x[channels.start : channels.stop][:, rows.clamp(min=0)][:, :, cols.clamp(min=0)]
    patch = torch.where((rows >= 0)[:, None] & (cols >= 0)[None], cells, torch.zeros_like(cells))
    products = patch * kernel
    # Summed in float64 like conv_channel_maps, so each sum is the intermediate map's value.
    channel_sums = products.double().sum(dim=(1, 2))
    bias_value = 0.0 if bias is None else float(bias[out_channel])
    return ConvTerms(
        patch, kernel, products, channel_sums, bias_value, float(channel_sums.sum()) + bias_value
    )


def conv_channel_maps(
    x: torch.Tensor,
    weight: torch.Tensor,
    out_channel: int,
    *,
    stride: Pair = 1,
    padding: Padding = 0,
    dilation: Pair = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
) -> torch.Tensor:
    """Each input channel convolved with its own kernel slice: ``[Cin_g, Ho, Wo]``.

    Their sum over channels, plus the bias, is the output channel; computed in float64 so the
    per-channel maps add up to the float32 output to within its rounding.

    >>> maps = conv_channel_maps(torch.ones(2, 4, 4), torch.ones(1, 2, 3, 3), 0)
    >>> maps.shape, maps[0, 0, 0].item()
    (torch.Size([2, 2, 2]), 9.0)
    """
    channels = conv_input_channels(out_channel, x.shape[0], weight.shape[0], groups)
    kernel = weight[out_channel].double()  # [Cin_g, kh, kw]
    padded = pad_input(
        x[channels.start : channels.stop].double(),
        conv_padding(padding, kernel.shape[1:], dilation),
        padding_mode,
    )
    # groups = Cin_g keeps channels apart: channel i only meets kernel slice i.
    maps = F.conv2d(
        padded[None],
        kernel[:, None],
        stride=pair(stride),
        dilation=pair(dilation),
        groups=len(channels),
    )
    return maps[0]


def window_ranges(
    out_size: int, *, kernel: int, stride: int, padding: int = 0, dilation: int = 1
) -> torch.Tensor:
    """Along one axis, the input cells each output index of a sliding window reads.

    Row ``i`` is ``(start, stop, step)``: the taps are ``range(start, stop, step)`` in input
    coordinates, so a tap outside ``0..size-1`` sits on the padding. This one table serves
    convolutions and max/average pooling (``padding`` is the leading side's).

    >>> window_ranges(3, kernel=3, stride=2, padding=1).tolist()
    [[-1, 2, 1], [1, 4, 1], [3, 6, 1]]
    """
    starts = torch.arange(out_size, dtype=torch.int32) * stride - padding
    stops = starts + dilation * (kernel - 1) + 1
    return torch.stack([starts, stops, torch.full_like(starts, dilation)], dim=1)


def adaptive_ranges(out_size: int, in_size: int) -> torch.Tensor:
    """:func:`window_ranges` for adaptive pooling: output ``i`` averages
    ``[floor(i * in / out), ceil((i + 1) * in / out))``.

    >>> adaptive_ranges(3, 5).tolist()
    [[0, 2, 1], [1, 4, 1], [3, 5, 1]]
    """
    index = torch.arange(out_size, dtype=torch.int64)
    starts = (index * in_size) // out_size
    stops = -(-((index + 1) * in_size) // out_size)
    return torch.stack([starts, stops, torch.ones_like(starts)], dim=1).to(torch.int32)


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


@dataclass(frozen=True)
class LinearTerms:
    """One unit of a dense layer: ``value = products.sum() + bias`` with
    ``products = input * weight_row``."""

    products: torch.Tensor
    bias: float
    value: float


def linear_terms(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, unit: int
) -> LinearTerms:
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


def batch_norm_terms(
    x: torch.Tensor, mean: float, var: float, eps: float, gamma: float = 1.0, beta: float = 0.0
) -> BatchNormTerms:
    """``(x - mean) / sqrt(var + eps) * gamma + beta`` for one channel's values ``x``.

    >>> terms = batch_norm_terms(torch.tensor([3.0]), mean=1.0, var=4.0, eps=0.0, gamma=2.0)
    >>> terms.scale, terms.shift, terms.output.tolist()
    (1.0, -1.0, [2.0])
    """
    scale = gamma / math.sqrt(var + eps)
    return BatchNormTerms(
        scale, beta - mean * scale, (x - mean) / math.sqrt(var + eps) * gamma + beta
    )


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
