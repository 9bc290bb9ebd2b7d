"""The arithmetic of the layers that make maps bigger or renormalise them: transposed
convolution (two ways), upsampling (nearest and bilinear, with their weights), layer norm and
mean. Like :mod:`tensorsight.explanation.maths`, each function works on one image (no batch
dimension), computes in float64, and is held against ``torch.nn.functional`` by the tests.

>>> x, w = torch.ones(1, 2, 2), torch.ones(1, 1, 3, 3)
>>> view = conv_transpose_scatter(x, w, 0, stride=2)
>>> view.full.shape, view.full[2, 2].item()   # the centre: all four stamps overlap
(torch.Size([5, 5]), 4.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tensorsight.explanation.maths import Pair, pair


def conv_transpose_channels(
    out_channel: int, in_channels: int, out_channels: int, groups: int = 1
) -> tuple[range, int]:
    """The input channels one output channel of a transposed convolution reads, and which
    column of the weight ``[in, out / groups, kh, kw]`` holds its kernels.

    >>> conv_transpose_channels(3, in_channels=4, out_channels=6, groups=2)
    (range(2, 4), 0)
    """
    per_group_in, per_group_out = in_channels // groups, out_channels // groups
    group, column = divmod(out_channel, per_group_out)
    return range(group * per_group_in, (group + 1) * per_group_in), column


@dataclass(frozen=True)
class TransposedScatter:
    """The scatter ("stamp") view of one output channel of a transposed convolution.

    Input cell ``(i, j)`` of channel ``ci`` adds ``x[ci, i, j] * kernel[ci]`` into the canvas
    ``full`` at rows ``i*stride + a*dilation``, columns ``j*stride + b*dilation``; overlapping
    stamps add up. The output is the canvas with ``padding`` rows/columns cropped from each
    side and ``output_padding`` extra rows/columns (receiving no stamp) at the bottom/right,
    plus the bias. ``intermediate [Cin_g, Ho, Wo]`` holds each input channel's cropped share.
    """

    kernel: torch.Tensor  # [Cin_g, kh, kw]: the stamps, one per input channel
    full: torch.Tensor  # [Hf, Wf]: every stamp added, before the crop, no bias
    intermediate: torch.Tensor  # [Cin_g, Ho, Wo]
    output: torch.Tensor  # [Ho, Wo] = intermediate.sum(0) + bias
    channels: range
    bias: float


def conv_transpose_scatter(
    x: torch.Tensor,
    weight: torch.Tensor,
    out_channel: int,
    bias: torch.Tensor | None = None,
    *,
    stride: Pair = 1,
    padding: Pair = 0,
    output_padding: Pair = 0,
    dilation: Pair = 1,
    groups: int = 1,
) -> TransposedScatter:
    """Build output channel ``out_channel`` of ``conv_transpose2d(x [C, H, W])`` by stamping.

    >>> view = conv_transpose_scatter(torch.ones(1, 2, 2), torch.ones(1, 1, 3, 3), 0,
    ...                               stride=2, padding=1, output_padding=1)
    >>> view.output.shape
    torch.Size([4, 4])
    """
    channels, column = conv_transpose_channels(
        out_channel, x.shape[0], weight.shape[1] * groups, groups
    )
    (sh, sw), (ph, pw), (oh, ow), (dh, dw) = (
        pair(stride),
        pair(padding),
        pair(output_padding),
        pair(dilation),
    )
    kernel = weight[channels.start : channels.stop, column].double()  # [Cin_g, kh, kw]
    inputs = x[channels.start : channels.stop].double()
    cin, height, width = inputs.shape
    kh, kw = kernel.shape[1:]
    full_h, full_w = (height - 1) * sh + dh * (kh - 1) + 1, (width - 1) * sw + dw * (kw - 1) + 1
    canvases = torch.zeros(cin, full_h + oh, full_w + ow, dtype=torch.float64)
    # One stamp per kernel tap: every input cell moves to its stride position at once.
    for a in range(kh):
        for b in range(kw):
            rows = slice(a * dh, a * dh + (height - 1) * sh + 1, sh)
            cols = slice(b * dw, b * dw + (width - 1) * sw + 1, sw)
            canvases[:, rows, cols] += inputs * kernel[:, a, b, None, None]
    out_h, out_w = full_h - 2 * ph + oh, full_w - 2 * pw + ow
    intermediate = canvases[:, ph : ph + out_h, pw : pw + out_w]
    bias_value = 0.0 if bias is None else float(bias[out_channel])
    return TransposedScatter(
        kernel,
        canvases[:, :full_h, :full_w].sum(0),
        intermediate,
        intermediate.sum(0) + bias_value,
        channels,
        bias_value,
    )


def transposed_taps(
    out_size: int, in_size: int, kernel: int, stride: int, padding: int, dilation: int = 1
) -> torch.Tensor:
    """For each output row (or column) of a transposed convolution, the ``(input index, kernel
    tap)`` pairs whose stamp lands on it: ``[out_size, T, 2]`` int64, ``-1`` after the last pair.

    Output row ``r`` is canvas row ``r + padding``; input row ``i`` with tap ``a`` lands on
    canvas row ``i*stride + a*dilation``.

    >>> transposed_taps(4, 2, 4, 2, 1)[1].tolist()   # DCGAN's k=4, s=2, p=1: two stamps
    [[1, 0], [0, 2]]
    """
    pairs = [
        [
            (i, a)
            for a in range(kernel)
            for i in [(row + padding - a * dilation) // stride]
            if (row + padding - a * dilation) % stride == 0 and 0 <= i < in_size
        ]
        for row in range(out_size)
    ]
    table = torch.full(
        (out_size, max((len(p) for p in pairs), default=0) or 1, 2), -1, dtype=torch.long
    )
    for row, found in enumerate(pairs):
        for slot, (i, a) in enumerate(found):
            table[row, slot] = torch.tensor([i, a])
    return table


def window_cells(out_size: int, kernel: int, dilation: int = 1) -> torch.Tensor:
    """Which rows (or columns) of the zero-inserted input each window of the equivalent
    stride-1 convolution reads: ``[out_size, kernel]``, ``r + a*dilation``.

    >>> window_cells(3, 2, dilation=2).tolist()
    [[0, 2], [1, 3], [2, 4]]
    """
    return torch.arange(out_size)[:, None] + torch.arange(kernel)[None] * dilation


@dataclass(frozen=True)
class TransposedAsConv:
    """The same output as an ordinary (stride 1) convolution: zeros inserted between the input
    cells (``stride - 1`` of them), ``dilation*(k-1) - padding`` zero rows/columns around
    (plus ``output_padding`` at the bottom/right; a negative amount crops), and the kernel
    rotated by 180 degrees. ``output = conv2d(stretched, flipped, dilation).sum(0) + bias``.
    """

    stretched: torch.Tensor  # [Cin_g, Hs, Ws]
    flipped: torch.Tensor  # [Cin_g, kh, kw]
    padding: tuple[int, int, int, int]  # (top, bottom, left, right) added around the stretch
    output: torch.Tensor  # [Ho, Wo]


def conv_transpose_as_conv(
    x: torch.Tensor,
    weight: torch.Tensor,
    out_channel: int,
    bias: torch.Tensor | None = None,
    *,
    stride: Pair = 1,
    padding: Pair = 0,
    output_padding: Pair = 0,
    dilation: Pair = 1,
    groups: int = 1,
) -> TransposedAsConv:
    """Output channel ``out_channel`` of ``conv_transpose2d`` computed as a plain convolution.

    >>> view = conv_transpose_as_conv(torch.ones(1, 2, 2), torch.ones(1, 1, 3, 3), 0, stride=2)
    >>> view.stretched[0].tolist()[2]   # row 2: input row 1 with a zero between its cells
    [0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0]
    """
    channels, column = conv_transpose_channels(
        out_channel, x.shape[0], weight.shape[1] * groups, groups
    )
    (sh, sw), (ph, pw), (oh, ow), (dh, dw) = (
        pair(stride),
        pair(padding),
        pair(output_padding),
        pair(dilation),
    )
    inputs = x[channels.start : channels.stop].double()
    flipped = weight[channels.start : channels.stop, column].double().flip(-1, -2)
    cin, height, width = inputs.shape
    kh, kw = flipped.shape[1:]
    stretched = torch.zeros(cin, (height - 1) * sh + 1, (width - 1) * sw + 1, dtype=torch.float64)
    stretched[:, ::sh, ::sw] = inputs
    qh, qw = dh * (kh - 1) - ph, dw * (kw - 1) - pw
    around = (qh, qh + oh, qw, qw + ow)
    stretched = F.pad(stretched, (around[2], around[3], around[0], around[1]))  # < 0 crops
    maps = F.conv2d(stretched[None], flipped[:, None], dilation=(dh, dw), groups=cin)[0]
    bias_value = 0.0 if bias is None else float(bias[out_channel])
    return TransposedAsConv(stretched, flipped, around, maps.sum(0) + bias_value)


@dataclass(frozen=True)
class ResampleWeights:
    """Separable resampling: ``output[r, c] = sum_{a, b} row_weight[r, a] * col_weight[c, b]
    * input[row_index[r, a], col_index[c, b]]``. Nearest has weights ``[1, 0]``."""

    row_index: torch.Tensor  # [Ho, 2] int64
    row_weight: torch.Tensor  # [Ho, 2] float64
    col_index: torch.Tensor  # [Wo, 2]
    col_weight: torch.Tensor  # [Wo, 2]

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """The resampled map ``[Ho, Wo]`` of ``x [H, W]`` (float64)."""
        x = x.double()
        total = torch.zeros(len(self.row_index), len(self.col_index), dtype=torch.float64)
        for a in range(2):
            for b in range(2):
                corner = x[self.row_index[:, a]][:, self.col_index[:, b]]
                total += self.row_weight[:, a, None] * self.col_weight[None, :, b] * corner
        return total


UPSAMPLE_MODES = ("nearest", "nearest-exact", "bilinear")


def resample_weights(
    in_size: Sequence[int],
    out_size: Sequence[int],
    mode: str = "nearest",
    align_corners: bool | None = None,
    scale_factor: Sequence[float] | None = None,
) -> ResampleWeights:
    """The source cells and weights of ``F.interpolate`` (2-D, ``nearest``, ``nearest-exact``
    or ``bilinear``) for each output row and column, with PyTorch's coordinate rules.

    ``scale_factor`` (when the caller gave one) sets the coordinate scale as ``1 / factor``;
    otherwise it is ``in / out``.

    >>> w = resample_weights((2, 2), (4, 4), "bilinear")
    >>> w.row_index[1].tolist(), [round(v, 2) for v in w.row_weight[1].tolist()]
    ([0, 1], [0.75, 0.25])
    """
    if mode not in UPSAMPLE_MODES:
        raise ValueError(f"mode must be one of {UPSAMPLE_MODES}, not {mode!r}")
    factors = list(scale_factor) if scale_factor else [None, None]
    rows = _axis_weights(in_size[0], out_size[0], mode, bool(align_corners), factors[0])
    cols = _axis_weights(in_size[1], out_size[1], mode, bool(align_corners), factors[-1])
    return ResampleWeights(*rows, *cols)


def _axis_weights(
    in_size: int, out_size: int, mode: str, align_corners: bool, factor: float | None
) -> tuple[torch.Tensor, torch.Tensor]:
    target = torch.arange(out_size, dtype=torch.float64)
    scale = 1.0 / factor if factor else in_size / out_size
    if mode.startswith("nearest"):
        offset = 0.5 if mode == "nearest-exact" else 0.0
        source = torch.floor((target + offset) * scale).clamp(max=in_size - 1).long()
        return (
            torch.stack([source, source], 1),
            torch.tensor([[1.0, 0.0]], dtype=torch.float64).repeat(out_size, 1),
        )
    if align_corners:
        step = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        position = target * step
    else:
        position = ((target + 0.5) * scale - 0.5).clamp(min=0)
    low = torch.floor(position).long().clamp(max=in_size - 1)
    high = (low + 1).clamp(max=in_size - 1)
    upper = position - low
    return torch.stack([low, high], 1), torch.stack([1 - upper, upper], 1)


@dataclass(frozen=True)
class LayerNormTerms:
    """``output = (input - mean) / std * gamma + beta``, every array shaped like the input:
    ``mean`` and ``std = sqrt(var + eps)`` are the statistics of the group each cell was
    normalised with (the last ``len(normalized_shape)`` dimensions), broadcast back."""

    mean: torch.Tensor
    std: torch.Tensor
    gamma: torch.Tensor
    beta: torch.Tensor
    output: torch.Tensor
    group_size: int


def layer_norm_terms(
    x: torch.Tensor,
    normalized_dims: int,
    eps: float,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
) -> LayerNormTerms:
    """Layer norm of one image ``x`` over its last ``normalized_dims`` dimensions.

    >>> terms = layer_norm_terms(torch.tensor([[1.0, 3.0]]), 1, eps=0.0)
    >>> terms.mean.tolist(), terms.output.tolist()
    ([[2.0, 2.0]], [[-1.0, 1.0]])
    """
    values = x.double()
    dims = tuple(range(values.dim() - normalized_dims, values.dim()))
    mean = values.mean(dims, keepdim=True).expand_as(values)
    std = (values.var(dims, unbiased=False, keepdim=True) + eps).sqrt().expand_as(values)
    gamma = torch.ones_like(values) if weight is None else weight.double().expand_as(values)
    beta = torch.zeros_like(values) if bias is None else bias.double().expand_as(values)
    size = math.prod(values.shape[values.dim() - normalized_dims :])
    return LayerNormTerms(mean, std, gamma, beta, (values - mean) / std * gamma + beta, size)


@dataclass(frozen=True)
class MeanGroups:
    """A mean as groups: ``groups[k]`` are the input values averaged into output cell ``k``
    (row-major over ``output_shape``), so ``groups.mean(1) == output.flatten()``."""

    groups: torch.Tensor  # [outputs, count]
    output_shape: tuple[int, ...]
    dims: tuple[int, ...]  # the reduced dimensions of the one-image input


def mean_groups(x: torch.Tensor, dims: Sequence[int] | None, keepdim: bool = False) -> MeanGroups:
    """Rearrange one image ``x`` so that each row holds what one mean output averages.

    ``dims`` index the one-image tensor (no batch dimension); ``None`` averages everything.

    >>> m = mean_groups(torch.arange(6.0).reshape(2, 3), [1])
    >>> m.groups.tolist(), m.output_shape
    ([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], (2,))
    """
    values = x.double()
    reduced = (
        tuple(range(values.dim()))
        if dims is None
        else tuple(sorted(dim % values.dim() for dim in dims))
    )
    kept = tuple(dim for dim in range(values.dim()) if dim not in reduced)
    count = math.prod(values.shape[dim] for dim in reduced)
    groups = values.permute(*kept, *reduced).reshape(-1, count)
    if keepdim:
        shape = tuple(1 if dim in reduced else size for dim, size in enumerate(values.shape))
    else:
        shape = tuple(values.shape[dim] for dim in kept)
    return MeanGroups(groups, shape, reduced)
