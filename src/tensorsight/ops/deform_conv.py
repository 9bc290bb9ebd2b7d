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
import itertools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable
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
    op: Callable[..., torch.Tensor] = native
    return op


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
    torchvision). Differentiable in every tensor argument. Two designs give the same numbers:
    ``grid_sample`` and a matrix product for layers with few channels per offset group, a
    gather of the four corners with a hand-written backward for wide ones.

    >>> x, w = torch.randn(1, 1, 5, 5), torch.randn(1, 1, 3, 3)
    >>> offset = torch.zeros(1, 18, 3, 3)
    >>> offset[:, 1::2] = 1.0  # every tap one pixel to the right
    >>> shifted = F.conv2d(F.pad(x, (0, 1))[..., 1:], w)  # the input moved left by one
    >>> torch.allclose(deform_conv2d_torch(x, offset, w), shifted, atol=1e-5)
    True
    """
    _check_shapes(input, offset, weight, bias, stride, padding, dilation, mask)
    offset_groups = offset.shape[1] // (2 * weight.shape[2] * weight.shape[3])
    wide = input.shape[1] // offset_groups >= _GATHER_MIN_CHANNELS
    design = _deform_conv2d_gather if wide else _deform_conv2d_grid_sample
    return _in_chunks(design, input, offset, weight, bias, stride, padding, dilation, mask)


# Which of the two designs runs (bench/deform_conv.py measures both). Reading four corners
# per point costs a fixed amount of index arithmetic per point and little per channel, so the
# gather wins on wide layers (64 channels: forward about 2x faster than grid_sample's); on
# narrow ones (TinyVGG's 10) grid_sample's fused kernels, forward and backward, stay ahead,
# at batch 128 too once both run in chunks (1 thread: forward 29 vs 38 ms, forward+backward
# 119 vs 318 ms), so channels alone decide.
_GATHER_MIN_CHANNELS = 64
# Sampled values per chunk of images (8 MB of float32), in either design.
_CHUNK_VALUES = 1 << 21

_Design = Callable[
    [
        torch.Tensor,
        torch.Tensor,
        torch.Tensor,
        torch.Tensor | None,
        Pair,
        Pair,
        Pair,
        torch.Tensor | None,
    ],
    torch.Tensor,
]


def _in_chunks(
    design: _Design,
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: Pair,
    padding: Pair,
    dilation: Pair,
    mask: torch.Tensor | None,
) -> torch.Tensor:
    """``design`` run on chunks of images whose sampled values (and their gradients) stay in
    cache: once they spill to memory, each image costs more. Against one chunk for the whole
    batch (1 thread): TinyVGG's layer at batch 128 (chunks of 29 images) forward 35 vs 49 ms,
    forward+backward 141 vs 168 ms; 64 channels 54x54 at batch 8 (the gather design, one
    image per chunk) 35 vs 57 and 175 vs 278 ms."""
    _, _, kh, kw = weight.shape
    values_per_image = input.shape[1] * kh * kw * offset.shape[2] * offset.shape[3]
    chunk = max(1, _CHUNK_VALUES // values_per_image)
    if chunk >= input.shape[0]:
        return design(input, offset, weight, bias, stride, padding, dilation, mask)
    # split, not slicing: its backward is one cat, where each slice's fills a zero gradient
    # of the whole batch.
    parts = zip(
        input.split(chunk),
        offset.split(chunk),
        itertools.repeat(None) if mask is None else mask.split(chunk),
        strict=False,
    )
    outputs = [design(x, o, weight, bias, stride, padding, dilation, m) for x, o, m in parts]
    return torch.cat(outputs)


def _deform_conv2d_grid_sample(
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: Pair,
    padding: Pair,
    dilation: Pair,
    mask: torch.Tensor | None,
) -> torch.Tensor:
    """For few channels per offset group: one ``grid_sample`` reads every tap of every output
    position, then one batched matrix product applies the weights; autograd differentiates."""
    batch, in_channels, height, width = input.shape
    out_channels, group_in_channels, kh, kw = weight.shape
    taps = kh * kw
    offset_groups = offset.shape[1] // (2 * taps)
    out_h, out_w = offset.shape[-2:]
    grid = _sampling_grid(offset, (kh, kw), stride, padding, dilation, (height, width))
    # The images transposed (a view): grid_sample's (x, y) then reads the offset's own (dy, dx)
    # order, so the grid is one addcmul in the offset's layout (see _sampling_grid).
    images = input.reshape(batch * offset_groups, in_channels // offset_groups, height, width)
    sampled = F.grid_sample(
        images.transpose(2, 3),
        grid.to(input.dtype),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )
    sampled = sampled.reshape(
        batch, offset_groups, in_channels // offset_groups, taps, out_h * out_w
    )
    if mask is not None:
        sampled = sampled * mask.reshape(batch, offset_groups, 1, taps, out_h * out_w)
    groups = in_channels // group_in_channels
    columns = sampled.reshape(batch * groups, group_in_channels * taps, out_h * out_w)
    kernels = weight.reshape(1, groups, out_channels // groups, group_in_channels * taps)
    kernels = kernels.expand(batch, -1, -1, -1).reshape(batch * groups, -1, columns.shape[1])
    if bias is None:
        output = torch.bmm(kernels, columns)
    else:  # the bias as the product's addend: one op fewer, one pass fewer over the output
        # In the product's dtype, as ``output + bias`` promoted a float32 bias to before.
        addend = bias.to(columns.dtype).reshape(1, groups, out_channels // groups, 1)
        addend = addend.expand(batch, -1, -1, out_h * out_w).reshape(
            batch * groups, -1, out_h * out_w
        )
        output = torch.baddbmm(addend, kernels, columns)
    return output.view(batch, out_channels, out_h, out_w)


def _deform_conv2d_gather(
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: Pair,
    padding: Pair,
    dilation: Pair,
    mask: torch.Tensor | None,
) -> torch.Tensor:
    """For many channels per offset group: each tap of each output position reads one
    weighted sum of four input pixels (:class:`_SampleTaps`); laid out as ``kh x kw`` tiles,
    one per output position, the sampled values form an image that one convolution with
    stride ``(kh, kw)`` turns into the output (torch's fastest matrix product on CPU, and it
    handles groups)."""
    _, group_in_channels, kh, kw = weight.shape
    tiles = _SampleTaps.apply(  # type: ignore[no-untyped-call]
        input, offset, mask, (kh, kw), _pair(stride), _pair(padding), _pair(dilation)
    )
    groups = input.shape[1] // group_in_channels
    output: torch.Tensor = _TileConv.apply(tiles, weight, bias, groups)  # type: ignore[no-untyped-call]
    return output


class _TileConv(torch.autograd.Function):
    """``conv2d(tiles, weight, bias, stride=(kh, kw), groups)``, whose weight gradient is one
    matrix product per group: oneDNN's own for this stride ran about 3x slower than that
    product (12 vs 4 ms at 64 channels, 56x56, 1 thread)."""

    @staticmethod
    def forward(
        ctx: Any,
        tiles: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        groups: int,
    ) -> torch.Tensor:
        ctx.save_for_backward(tiles, weight)
        ctx.groups = groups
        return F.conv2d(tiles, weight, bias, stride=weight.shape[2:], groups=groups)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        tiles, weight = ctx.saved_tensors
        groups, kernel = ctx.groups, list(weight.shape[2:])
        grad_tiles = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_tiles = torch.ops.aten.convolution_backward(
                grad, tiles, weight, None, kernel, [0, 0], [1, 1], False, [0, 0], groups,
                [True, False, False],
            )[0]  # fmt: skip
        if ctx.needs_input_grad[1]:
            grad_weight = _tile_weight_grad(grad, tiles, weight.shape, groups)
        if ctx.needs_input_grad[2]:
            grad_bias = grad.sum((0, 2, 3))
        return grad_tiles, grad_weight, grad_bias, None


def _tile_weight_grad(
    grad: torch.Tensor, tiles: torch.Tensor, weight_shape: torch.Size, groups: int
) -> torch.Tensor:
    """``d loss / d weight`` of :class:`_TileConv`: per group, ``[O / g, B * Ho * Wo]`` output
    gradients times ``[B * Ho * Wo, kh * kw * C / g]`` tiles."""
    out_channels, per_group, kh, kw = weight_shape
    batch, _, out_h, out_w = grad.shape
    positions = batch * out_h * out_w
    outputs = grad.view(batch, groups, out_channels // groups, out_h * out_w)
    outputs = outputs.permute(1, 2, 0, 3).reshape(groups, out_channels // groups, positions)
    # The tiles are channels last: keeping channels innermost makes this a copy of whole
    # pixels; the small product is put back in the weight's (c, i, j) order afterwards.
    taps = tiles.permute(0, 2, 3, 1).reshape(batch, out_h, kh, out_w, kw, groups, per_group)
    taps = taps.permute(5, 0, 1, 3, 2, 4, 6).reshape(groups, positions, kh * kw * per_group)
    product = torch.bmm(outputs, taps).view(out_channels, kh, kw, per_group)
    return product.permute(0, 3, 1, 2).contiguous()


# Sampling points are processed in "point order" (image, output row, tap row, output column,
# tap column, offset group) so that the sampled values, channels last, are the tiled image.
# These permute torchvision's offset [B, G, kh, kw, (dy, dx), Ho, Wo] and mask
# [B, G, kh, kw, Ho, Wo] into point order and back.
_OFFSET_TO_POINTS, _POINTS_TO_OFFSET = (0, 5, 2, 6, 3, 1, 4), (0, 5, 2, 4, 6, 1, 3)
_MASK_TO_POINTS, _POINTS_TO_MASK = (0, 4, 2, 5, 3, 1), (0, 5, 2, 4, 1, 3)
# The input gets one zero pixel before and two after each side: every corner of a position
# clamped into [-1, H] (unpadded) then exists and reads zero outside, without validity tests.
_BEFORE, _AFTER = 1, 2
# d weight / d fraction for the two neighbours along one axis: (1 - f, f) -> (-1, 1).
_SLOPE: tuple[Any, Any] = (-1.0, 1.0)


class _SampleTaps(torch.autograd.Function):
    """``input, offset, mask -> tiles [B, C, Ho * kh, Wo * kw]``: tile pixel ``(i, j)`` of
    output ``(p, q)`` is the bilinear interpolation at that tap's sampling point, times its
    mask.

    Forward reads the four corners of every point with ``embedding_bag`` (one fused, threaded
    gather and weighted sum over the input laid out one pixel per row). The backward is
    written by hand, since autograd would keep many point-sized intermediates and its own
    ``embedding_bag`` backward sorts every index: the input's gradient scatters each point's
    output gradient times its four weights back to its corners; the offset's and mask's
    gradients are the output gradient dotted with the values read with the weights'
    derivatives (zero where the clamp held the point on the border).
    """

    @staticmethod
    def forward(
        ctx: Any,
        input: torch.Tensor,
        offset: torch.Tensor,
        mask: torch.Tensor | None,
        kernel_size: tuple[int, int],
        stride: tuple[int, int],
        padding: tuple[int, int],
        dilation: tuple[int, int],
    ) -> torch.Tensor:
        batch, channels, height, width = input.shape
        (kh, kw), (out_h, out_w) = kernel_size, offset.shape[-2:]
        groups = offset.shape[1] // (2 * kh * kw)
        grid = _regular_grid(
            batch, groups, kernel_size, stride, padding, dilation, (height, width),
            (out_h, out_w), torch.promote_types(offset.dtype, torch.float32), offset.device,
        )  # fmt: skip
        rows = _padded_rows(input, groups)
        pairs = _to_points(offset.view(batch, groups, kh, kw, 2, out_h, out_w), _OFFSET_TO_POINTS)
        pairs = pairs.to(grid.rows.dtype)
        y = (pairs[..., 0] + grid.rows).clamp_(-_BEFORE, height).add_(_BEFORE).view(-1)
        x = (pairs[..., 1] + grid.cols).clamp_(-_BEFORE, width).add_(_BEFORE).view(-1)
        # A NaN offset reads row 0 with NaN weights: NaN out, as grid_sample gives, not a bad index.
        y0, x0 = y.floor().nan_to_num_(0.0), x.floor().nan_to_num_(0.0)
        # Exact in floating point below 2**24 pixels per plane; the plane's start is integer.
        first = torch.add(x0, y0, alpha=width + _BEFORE + _AFTER)
        first = (first.to(grid.starts.dtype).view(batch, -1, groups) + grid.starts).view(-1)
        if mask is not None:
            mask = _to_points(mask.view(batch, groups, kh, kw, out_h, out_w), _MASK_TO_POINTS)
            mask = mask.to(y.dtype).view(-1)
        weights = _corner_weights(y - y0, x - x0, mask)
        columns = _gather(rows, first.unsqueeze(1) + grid.steps, weights)
        ctx.save_for_backward(rows, first, y, x, mask)
        ctx.grid = grid
        ctx.shapes = (input.shape, offset.shape, offset.dtype)
        return columns.view(batch, out_h * kh, out_w * kw, channels).permute(0, 3, 1, 2)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_tiles: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        rows, first, y, x, mask = ctx.saved_tensors
        input_shape, offset_shape, offset_dtype = ctx.shapes
        batch, _, height, width = input_shape
        per_group = rows.shape[1]
        grad = grad_tiles.permute(0, 2, 3, 1).reshape(-1, per_group)
        frac_y, frac_x = y - y.floor(), x - x.floor()
        index = first.unsqueeze(1) + ctx.grid.steps
        grad_input = grad_offset = grad_mask = None
        if ctx.needs_input_grad[0]:
            weights = _corner_weights(frac_y, frac_x, mask).to(grad.dtype)
            grad_rows = _scatter(grad, index, weights, rows.shape[0])
            grad_input = _unpad(grad_rows, input_shape)
        if ctx.needs_input_grad[1]:
            grad_y = _dot(grad, rows, index, _corner_weights(frac_y, frac_x, mask, "y"))
            grad_x = _dot(grad, rows, index, _corner_weights(frac_y, frac_x, mask, "x"))
            # The clamp's gradient: zero where the point was held on the border.
            grad_y *= (y > 0) & (y < height + _BEFORE)
            grad_x *= (x > 0) & (x < width + _BEFORE)
            pairs = torch.stack((grad_y, grad_x), dim=1)
            points = (*_point_shape(input_shape, offset_shape, ctx.grid), 2)
            grad_offset = _to_points(pairs.view(points), _POINTS_TO_OFFSET)
            grad_offset = grad_offset.reshape(offset_shape).to(offset_dtype)
        if ctx.needs_input_grad[2]:
            grad_mask = _dot(grad, rows, index, _corner_weights(frac_y, frac_x, None))
            points = _point_shape(input_shape, offset_shape, ctx.grid)
            grad_mask = _to_points(grad_mask.view(points), _POINTS_TO_MASK)
            grad_mask = grad_mask.reshape(batch, -1, *offset_shape[-2:]).to(offset_dtype)
        return grad_input, grad_offset, grad_mask, None, None, None, None


class _Grid(NamedTuple):
    """What every call of one configuration shares (cached by :func:`_regular_grid`)."""

    rows: torch.Tensor  # undeformed sampling rows [Ho, kh, 1, 1, 1] (unpadded pixels)
    cols: torch.Tensor  # and columns [1, 1, Wo, kw, 1]
    starts: torch.Tensor  # first padded row of each (image, offset group): [B, 1, G] int64
    steps: torch.Tensor  # the four corners' rows after the top-left one's: [1, 4] int64


@functools.lru_cache(maxsize=64)
def _regular_grid(
    batch: int,
    groups: int,
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    size: tuple[int, int],
    out_size: tuple[int, int],
    dtype: torch.dtype,
    device: torch.device,
) -> _Grid:
    """The :class:`_Grid` of a configuration; small layers would spend a good part of a call
    building it."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    (height, width), (out_h, out_w) = size, out_size

    def ticks(count: int, step: int) -> torch.Tensor:
        return torch.arange(count, dtype=dtype, device=device) * step

    padded_width = width + _BEFORE + _AFTER
    plane = (height + _BEFORE + _AFTER) * padded_width
    with _cacheable():
        rows = ticks(out_h, sh).view(-1, 1) + ticks(kh, dh)
        cols = ticks(out_w, sw).view(-1, 1) + ticks(kw, dw)
        starts = torch.arange(batch * groups, device=device) * plane
        steps = torch.tensor([[0, 1, padded_width, padded_width + 1]], device=device)
        return _Grid(
            (rows - ph).view(out_h, kh, 1, 1, 1),
            (cols - pw).view(1, 1, out_w, kw, 1),
            starts.view(batch, 1, groups),
            steps,
        )


def _to_points(tensor: torch.Tensor, order: tuple[int, ...]) -> torch.Tensor:
    """``tensor`` permuted and made contiguous (one copy), so that ``view`` flattens it."""
    return tensor.permute(order).contiguous()


def _point_shape(input_shape: torch.Size, offset_shape: torch.Size, grid: _Grid) -> tuple[int, ...]:
    """[B, Ho, kh, Wo, kw, G]: the shape of one value per sampling point, in point order."""
    out_h, kh = grid.rows.shape[:2]
    out_w, kw = grid.cols.shape[2:4]
    return (input_shape[0], out_h, kh, out_w, kw, grid.starts.shape[2])


def _padded_rows(input: torch.Tensor, offset_groups: int) -> torch.Tensor:
    """The zero-bordered input, channels last, one row per (image, offset group, pixel):
    ``[B * G * (H + 3) * (W + 3), C / G]``."""
    batch, channels, height, width = input.shape
    per_group = channels // offset_groups
    border = _BEFORE + _AFTER
    rows = input.new_zeros(batch, offset_groups, height + border, width + border, per_group)
    inner = rows[:, :, _BEFORE : _BEFORE + height, _BEFORE : _BEFORE + width]
    inner.copy_(input.view(batch, offset_groups, per_group, height, width).permute(0, 1, 3, 4, 2))
    return rows.view(-1, per_group)


def _unpad(grad_rows: torch.Tensor, input_shape: torch.Size) -> torch.Tensor:
    """The inverse of :func:`_padded_rows` for a gradient: the border dropped, NCHW again."""
    batch, _, height, width = input_shape
    per_group = grad_rows.shape[1]
    border = _BEFORE + _AFTER
    planes = grad_rows.view(batch, -1, height + border, width + border, per_group)
    inner = planes[:, :, _BEFORE : _BEFORE + height, _BEFORE : _BEFORE + width]
    return inner.permute(0, 1, 4, 2, 3).reshape(input_shape)


def _corner_weights(
    frac_y: torch.Tensor,
    frac_x: torch.Tensor,
    mask: torch.Tensor | None,
    slope: str = "",
) -> torch.Tensor:
    """``[N, 4]`` weights of each point's corners (top-left, top-right, bottom-left,
    bottom-right): the paper's ``g`` along y times ``g`` along x, times the mask. With
    ``slope="y"`` (or ``"x"``) that axis's pair ``(1 - f, f)`` becomes its derivative
    ``(-1, 1)``."""
    along_y = _SLOPE if slope == "y" else (1 - frac_y, frac_y)
    along_x = _SLOPE if slope == "x" else (1 - frac_x, frac_x)
    if mask is not None:
        along_y = (mask * along_y[0], mask * along_y[1])
    weights = frac_y.new_empty(frac_y.shape[0], 4)
    # One column at a time: a broadcast [N, 2, 1] * [N, 1, 2] product runs ten times slower.
    for corner, (wy, wx) in enumerate(itertools.product(along_y, along_x)):
        torch.mul(wy, wx, out=weights[:, corner])
    return weights


def _gather(rows: torch.Tensor, index: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum_c weights[n, c] * rows[index[n, c]]`` for every point ``n``: ``[N, C / G]``."""
    return F.embedding_bag(index, rows, per_sample_weights=weights.to(rows.dtype), mode="sum")


def _dot(
    grad: torch.Tensor, rows: torch.Tensor, index: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Per point, the output gradient dotted with the value read with ``weights``."""
    values = _gather(rows, index, weights)
    # As a batch of 1 x C by C x 1 products: several times faster than (a * b).sum(1) for
    # the short rows of small layers.
    return torch.bmm(grad.unsqueeze(1), values.unsqueeze(2)).view(-1).to(weights.dtype)


def _scatter(
    grad: torch.Tensor, index: torch.Tensor, weights: torch.Tensor, size: int
) -> torch.Tensor:
    """The adjoint of :func:`_gather`: ``[size, C / G]`` rows where row ``index[n, c]``
    receives ``weights[n, c] * grad[n]``.

    A product with the (uncoalesced) sparse matrix of the weights: it adds each point's
    gradient row, scaled, straight into its four corners, where ``index_add_`` or
    ``scatter_add_`` would first need a copy per corner (four times the gradient)."""
    points = grad.shape[0]
    columns = torch.arange(points, device=grad.device).repeat_interleave(4)
    spread = torch.sparse_coo_tensor(
        torch.stack((index.view(-1), columns)),
        weights.reshape(-1).to(grad.dtype),
        (size, points),
        check_invariants=False,
    )
    total: torch.Tensor = torch.sparse.mm(spread, grad)
    return total


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

    def steps(count: int) -> torch.Tensor:
        return torch.arange(count, dtype=offset.dtype, device=offset.device)

    tap_rows = steps(kh).repeat_interleave(kw) * dh
    tap_cols = steps(kw).repeat(kh) * dw
    rows = steps(out_h) * sh - ph
    cols = steps(out_w) * sw - pw
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
    """:func:`sampling_positions` as ``grid_sample`` reads them from the *transposed* images
    (``[.., W, H]``, whose grid is ``(y, x)``, the offset's own order): ``[B * G, K, Ho * Wo,
    (y, x)]``, a view of ``[B, G, K, (y, x), Ho, Wo]``, normalised with align_corners=False
    (pixel i at (2i + 1) / side - 1, which also works for a side of one pixel;
    padding_mode="zeros" then reads zero for every corner outside).

    One contiguous ``addcmul`` against the cached regular grid (an offset of one pixel moves
    2 / side in normalised units), in the offset's layout. Swapping the pairs to (x, y) took a
    stack of two strided halves (three ops and a copy, forward and backward), and a grid with
    (y, x) innermost an addcmul over strided pairs; one grid row per tap (``Ho * Wo`` points,
    not ``Wo``) also runs grid_sample faster, and its output is the ``[C, K, Ho * Wo]``
    columns either way.
    """
    batch, channels, out_h, out_w = offset.shape
    taps = kernel_size[0] * kernel_size[1]
    base, scale = _normalised_grid(
        kernel_size,
        _pair(stride),
        _pair(padding),
        _pair(dilation),
        size,
        (out_h, out_w),
        offset.dtype,
        offset.device,
    )
    pairs = offset.reshape(batch, channels // (2 * taps), taps, 2, out_h, out_w)
    grid = torch.addcmul(base, pairs, scale)
    return grid.reshape(-1, taps, 2, out_h * out_w).transpose(2, 3)


@functools.lru_cache(maxsize=64)
def _normalised_grid(
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    size: tuple[int, int],
    out_size: tuple[int, int],
    dtype: torch.dtype,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The regular grid normalised, ``[K, (y, x), Ho, Wo]``, and the scale ``(2 / H, 2 / W)``
    of one pixel's offset (``[2, 1, 1]``); built once per configuration, since a small layer
    would spend a good part of each call on them."""
    taps = kernel_size[0] * kernel_size[1]
    height, width = size
    with _cacheable():
        zero = torch.zeros(1, 2 * taps, *out_size, dtype=dtype, device=device)
        base_y, base_x = sampling_positions(zero, kernel_size, stride, padding, dilation)
        base = torch.stack(((2 * base_y[0, 0] + 1) / height, (2 * base_x[0, 0] + 1) / width), 1)
        scale = torch.tensor([2 / height, 2 / width], dtype=dtype, device=device)
        return base - 1, scale.view(2, 1, 1)


def _cacheable() -> torch.inference_mode:
    """Cached tensors are made outside inference mode: one made inside it could not be saved
    for a later backward."""
    return torch.inference_mode(False)


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
