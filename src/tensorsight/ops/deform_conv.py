"""Deformable convolution with torchvision's interface, in vectorised pure PyTorch.

A regular convolution reads its input on a fixed grid around each output position. A
deformable one (Dai et al. 2017) adds a learned offset ``(dy, dx)`` to every tap of that grid
and reads the fractional position by bilinear interpolation from the four neighbouring pixels;
DCNv2 (Zhu et al. 2019) also multiplies each tap's value by a modulation ``mask``.

Layouts follow ``torchvision.ops.deform_conv2d`` so that models and weights move between the two:
``offset`` is ``[B, 2 * offset_groups * kh * kw, Ho, Wo]`` and for kernel tap ``(i, j)`` of offset
group ``g`` channel ``g * 2 * kh * kw + 2 * (i * kw + j)`` is ``dy`` (rows) and the next one ``dx``
(columns); ``mask`` is ``[B, offset_groups * kh * kw, Ho, Wo]``. The input channels split into
``offset_groups`` contiguous blocks, each deformed by its own offsets. Outside the input every
value reads as zero.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair
from torch.overrides import handle_torch_function, has_torch_function

Pair = int | tuple[int, int]


def deform_conv2d(
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Pair = 1,
    padding: Pair = 0,
    dilation: Pair = 1,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Deformable 2-D convolution, as ``torchvision.ops.deform_conv2d`` computes it.

    ``input [B, Cin, H, W]``, ``weight [Cout, Cin / groups, kh, kw]`` (groups follow from the
    shapes), ``offset [B, 2 * G * kh * kw, Ho, Wo]`` and optional ``mask [B, G * kh * kw, Ho,
    Wo]`` for ``G`` offset groups. Runs torchvision's kernel when torchvision imports, else
    :func:`deform_conv2d_torch`; both give the same numbers.

    >>> x, w = torch.randn(1, 2, 6, 6), torch.randn(4, 2, 3, 3)
    >>> offset = torch.zeros(1, 18, 4, 4)  # zero offsets: a plain convolution
    >>> torch.allclose(deform_conv2d(x, offset, w), F.conv2d(x, w), atol=1e-5)
    True
    """
    tensors = tuple(t for t in (input, offset, weight, bias, mask) if t is not None)
    # Lets capture (a TorchFunctionMode) see this op as one node, like torch's own functions.
    if has_torch_function(tensors):
        return handle_torch_function(
            deform_conv2d,
            tensors,
            input,
            offset,
            weight,
            bias=bias,
            stride=stride,
            padding=padding,
            dilation=dilation,
            mask=mask,
        )
    native = torchvision_deform_conv2d()
    if native is not None:
        return native(
            input,
            offset,
            weight,
            bias,
            stride=_pair(stride),
            padding=_pair(padding),
            dilation=_pair(dilation),
            mask=mask,
        )
    return deform_conv2d_torch(input, offset, weight, bias, stride, padding, dilation, mask)


@functools.cache
def torchvision_deform_conv2d() -> Callable[..., torch.Tensor] | None:
    """torchvision's ``deform_conv2d`` when torchvision imports beside this torch, else None.

    >>> torchvision_deform_conv2d() is None or callable(torchvision_deform_conv2d())
    True
    """
    try:
        from torchvision.ops import deform_conv2d as native
    except Exception:  # absent, or built for another torch (it then fails on its C++ ops)
        return None
    return native


def deform_conv2d_torch(
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Pair = 1,
    padding: Pair = 0,
    dilation: Pair = 1,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """The pure-PyTorch deformable convolution (what :func:`deform_conv2d` runs without
    torchvision): one ``grid_sample`` reads every tap of every output position, then one
    batched matrix product applies the weights. Differentiable in every tensor argument.

    >>> x, w = torch.randn(1, 1, 5, 5), torch.randn(1, 1, 3, 3)
    >>> offset = torch.zeros(1, 18, 3, 3)
    >>> offset[:, 1::2] = 1.0  # every tap one pixel to the right
    >>> shifted = F.conv2d(F.pad(x, (0, 1))[..., 1:], w)  # the input moved left by one
    >>> torch.allclose(deform_conv2d_torch(x, offset, w), shifted, atol=1e-5)
    True
    """
    batch, in_channels, height, width = _check_shapes(
        input, offset, weight, bias, stride, padding, dilation, mask
    )
    out_channels, group_in_channels, kh, kw = weight.shape
    taps = kh * kw
    offset_groups = offset.shape[1] // (2 * taps)
    out_h, out_w = offset.shape[-2:]
    grid = _sampling_grid(offset, (kh, kw), stride, padding, dilation, (height, width))
    images = input.reshape(batch * offset_groups, in_channels // offset_groups, height, width)
    sampled = F.grid_sample(
        images, grid.to(input.dtype), mode="bilinear", padding_mode="zeros", align_corners=False
    )
    sampled = sampled.reshape(
        batch, offset_groups, in_channels // offset_groups, taps, out_h * out_w
    )
    if mask is not None:
        sampled = sampled * mask.reshape(batch, offset_groups, 1, taps, out_h * out_w)
    groups = in_channels // group_in_channels
    columns = sampled.reshape(batch, groups, group_in_channels * taps, out_h * out_w)
    kernels = weight.reshape(groups, out_channels // groups, group_in_channels * taps)
    output = torch.matmul(kernels, columns).reshape(batch, out_channels, out_h, out_w)
    if bias is not None:
        output = output + bias.reshape(1, -1, 1, 1)
    return output


def sampling_positions(
    offset: torch.Tensor,
    kernel_size: Pair,
    stride: Pair = 1,
    padding: Pair = 0,
    dilation: Pair = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each tap reads the input: ``(y, x)``, each ``[B, G, kh * kw, Ho, Wo]`` in input
    pixels. Tap ``k = i * kw + j`` of output ``(p, q)`` reads at
    ``y = p * stride - padding + i * dilation + dy`` (``x`` likewise with ``q``, ``j``, ``dx``).

    >>> y, x = sampling_positions(torch.zeros(1, 18, 2, 2), 3)
    >>> y[0, 0, :, 0, 0].tolist()  # the regular 3x3 grid of output (0, 0), row by row
    [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    """
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (
        _pair(value) for value in (kernel_size, stride, padding, dilation)
    )
    batch, channels, out_h, out_w = offset.shape
    taps = kh * kw
    pairs = offset.reshape(batch, channels // (2 * taps), taps, 2, out_h, out_w)
    options = {"dtype": offset.dtype, "device": offset.device}
    tap_rows = torch.arange(kh, **options).repeat_interleave(kw) * dh
    tap_cols = torch.arange(kw, **options).repeat(kh) * dw
    rows = torch.arange(out_h, **options) * sh - ph
    cols = torch.arange(out_w, **options) * sw - pw
    base_y = tap_rows.reshape(taps, 1, 1) + rows.reshape(1, out_h, 1)
    base_x = tap_cols.reshape(taps, 1, 1) + cols.reshape(1, 1, out_w)
    return base_y + pairs[:, :, :, 0], base_x + pairs[:, :, :, 1]


def _sampling_grid(
    offset: torch.Tensor,
    kernel_size: tuple[int, int],
    stride: Pair,
    padding: Pair,
    dilation: Pair,
    size: tuple[int, int],
) -> torch.Tensor:
    """:func:`sampling_positions` as ``grid_sample`` reads them: ``[B * G, K * Ho, Wo, (x, y)]``
    normalised with align_corners=False (pixel i at (2i + 1) / side - 1, which also works for a
    side of one pixel; padding_mode="zeros" then reads zero for every corner outside).
    """
    batch, channels, out_h, out_w = offset.shape
    taps = kernel_size[0] * kernel_size[1]
    zero = torch.zeros(1, 2 * taps, out_h, out_w, dtype=offset.dtype, device=offset.device)
    base_y, base_x = sampling_positions(zero, kernel_size, stride, padding, dilation)
    height, width = size
    # The regular grid is normalised once; the offsets only need scaling (one fused op).
    base = torch.stack(
        ((2 * base_x[0, 0] + 1) / width - 1, (2 * base_y[0, 0] + 1) / height - 1), dim=-1
    )
    scale = torch.tensor([2 / width, 2 / height], dtype=offset.dtype, device=offset.device)
    # (dy, dx) pairs -> grid_sample's (x, y), moved last: [B, G, K, Ho, Wo, 2].
    pairs = offset.reshape(batch, channels // (2 * taps), taps, 2, out_h, out_w)
    pairs = pairs.flip(3).permute(0, 1, 2, 4, 5, 3)
    grid = torch.addcmul(base, pairs, scale)
    return grid.reshape(batch * (channels // (2 * taps)), taps * out_h, out_w, 2)


class DeformConv2d(nn.Module):
    """A deformable convolution layer with ``torchvision.ops.DeformConv2d``'s constructor,
    ``weight``/``bias`` state-dict keys and ``forward(input, offset, mask=None)``.

    The offsets (and mask) are inputs, as in torchvision: the layer that predicts them (usually
    an ``nn.Conv2d`` with ``2 * kh * kw`` outputs) belongs to your model.

    >>> layer = DeformConv2d(4, 8, kernel_size=3, padding=1, groups=2)
    >>> sorted(layer.state_dict()), tuple(layer.weight.shape)
    (['bias', 'weight'], (8, 2, 3, 3))
    >>> layer(torch.randn(2, 4, 7, 7), torch.zeros(2, 18, 7, 7)).shape
    torch.Size([2, 8, 7, 7])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Pair,
        stride: Pair = 1,
        padding: Pair = 0,
        dilation: Pair = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"in_channels ({in_channels}) and out_channels ({out_channels}) must both be "
                f"divisible by groups ({groups})."
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.dilation = _pair(dilation)
        self.groups = groups
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels // groups, *self.kernel_size)
        )
        self.bias: nn.Parameter | None
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """nn.Conv2d's initialisation (what torchvision uses too)."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.weight.shape[2] * self.weight.shape[3]
            bound = 1 / math.sqrt(fan_in) if fan_in else 0.0
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(
        self, input: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Convolve ``input`` sampling at the regular grid moved by ``offset`` (and scaled by
        ``mask``); layouts as :func:`deform_conv2d`."""
        return deform_conv2d(
            input,
            offset,
            self.weight,
            self.bias,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            mask=mask,
        )

    def extra_repr(self) -> str:
        settings: dict[str, Any] = {"kernel_size": self.kernel_size, "stride": self.stride}
        if self.padding != (0, 0):
            settings["padding"] = self.padding
        if self.dilation != (1, 1):
            settings["dilation"] = self.dilation
        if self.groups != 1:
            settings["groups"] = self.groups
        if self.bias is None:
            settings["bias"] = False
        described = ", ".join(f"{key}={value}" for key, value in settings.items())
        return f"{self.in_channels}, {self.out_channels}, {described}"


def output_size(
    size: tuple[int, int],
    kernel_size: Pair,
    stride: Pair = 1,
    padding: Pair = 0,
    dilation: Pair = 1,
) -> tuple[int, int]:
    """The output height and width of a (deformable) convolution over a ``size`` input.

    >>> output_size((28, 28), 3)
    (26, 26)
    """
    sides = zip(
        size, _pair(kernel_size), _pair(stride), _pair(padding), _pair(dilation), strict=True
    )
    height, width = (
        (side + 2 * pad - dil * (k - 1) - 1) // st + 1 for side, k, st, pad, dil in sides
    )
    return height, width


def _check_shapes(
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: Pair,
    padding: Pair,
    dilation: Pair,
    mask: torch.Tensor | None,
) -> tuple[int, int, int, int]:
    """Raise a ValueError naming the first shape that does not fit; return the input's shape."""
    if input.dim() != 4 or offset.dim() != 4 or weight.dim() != 4:
        raise ValueError(
            f"deform_conv2d needs 4-D input, offset and weight, got {list(input.shape)}, "
            f"{list(offset.shape)} and {list(weight.shape)}."
        )
    batch, in_channels, height, width = input.shape
    out_channels, group_in_channels, kh, kw = weight.shape
    if group_in_channels == 0 or in_channels % group_in_channels:
        raise ValueError(
            f"The weight's {group_in_channels} input channels per group do not divide the "
            f"input's {in_channels} channels."
        )
    if out_channels % (in_channels // group_in_channels):
        raise ValueError(
            f"{out_channels} output channels cannot be split into "
            f"{in_channels // group_in_channels} groups."
        )
    expected = output_size((height, width), (kh, kw), stride, padding, dilation)
    taps = kh * kw
    if (
        offset.shape[0] != batch
        or offset.shape[1] % (2 * taps)
        or offset.shape[1] == 0
        or tuple(offset.shape[2:]) != expected
    ):
        raise ValueError(
            f"The offset must be [{batch}, 2 * offset_groups * {taps}, {expected[0]}, "
            f"{expected[1]}] for this input and kernel, got {list(offset.shape)}."
        )
    offset_groups = offset.shape[1] // (2 * taps)
    if in_channels % offset_groups:
        raise ValueError(
            f"{offset_groups} offset groups do not divide the input's {in_channels} channels."
        )
    if mask is not None and tuple(mask.shape) != (batch, offset_groups * taps, *expected):
        raise ValueError(
            f"The mask must be [{batch}, {offset_groups * taps}, {expected[0]}, "
            f"{expected[1]}] (offset groups x kernel taps), got {list(mask.shape)}."
        )
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ValueError(f"The bias must be [{out_channels}], got {list(bias.shape)}.")
    return batch, in_channels, height, width
