"""The explanation maths against torch.nn.functional on real tensors."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from tensorsight.explanation import maths

TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}
# PyTorch notes that padding="same" with an even kernel copies the input; that is the point.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")


def _seeded(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


CONV_CASES = [
    # in_channels, out_channels, kernel, stride, padding, dilation, groups
    pytest.param(3, 4, 3, 1, 0, 1, 1, id="plain"),
    pytest.param(3, 4, 3, 2, 1, 1, 1, id="stride2-padding1"),
    pytest.param(2, 3, 3, 1, 2, 2, 1, id="dilation2"),
    pytest.param(4, 6, 3, 1, 1, 1, 2, id="groups2"),
    pytest.param(5, 5, 3, 2, 1, 1, 5, id="depthwise-stride2"),
    pytest.param(3, 2, (3, 5), (2, 1), (1, 2), (1, 2), 1, id="rectangular"),
    pytest.param(3, 2, 4, 1, "same", 1, 1, id="same-even-kernel"),
]


def _conv_case(cin, cout, kernel, stride, padding, dilation, groups):
    """Seeded input, weights and bias for one case, its settings, and F.conv2d's answer."""
    kh, kw = maths.pair(kernel)
    x = _seeded(cin, 9, 11)
    weight, bias = _seeded(cout, cin // groups, kh, kw, seed=1), _seeded(cout, seed=2)
    settings = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    return x, weight, bias, settings, F.conv2d(x[None], weight, bias, **settings)[0]


@pytest.mark.parametrize(
    ("cin", "cout", "kernel", "stride", "padding", "dilation", "groups"), CONV_CASES
)
def test_patch_times_kernel_plus_bias_is_the_conv_output(
    cin, cout, kernel, stride, padding, dilation, groups
) -> None:
    x, weight, bias, settings, expected = _conv_case(
        cin, cout, kernel, stride, padding, dilation, groups
    )
    positions = list(itertools.product(range(expected.shape[1]), range(expected.shape[2])))
    kh, kw = maths.pair(kernel)
    for out_channel in range(cout):
        for row, col in [*positions[:: max(1, len(positions) // 7)], positions[-1]]:
            terms = maths.conv_terms(x, weight, bias, out_channel, row, col, **settings)
            assert terms.patch.shape == (cin // groups, kh, kw)
            torch.testing.assert_close(terms.products, terms.patch * terms.kernel)
            assert terms.value == pytest.approx(float(expected[out_channel, row, col]), abs=1e-5)
            assert terms.value == pytest.approx(float(terms.channel_sums.sum()) + terms.bias)


@pytest.mark.parametrize(
    ("cin", "cout", "kernel", "stride", "padding", "dilation", "groups"), CONV_CASES
)
def test_per_channel_maps_sum_to_the_output_channel(
    cin, cout, kernel, stride, padding, dilation, groups
) -> None:
    x, weight, bias, settings, expected = _conv_case(
        cin, cout, kernel, stride, padding, dilation, groups
    )
    for out_channel in range(cout):
        maps = maths.conv_channel_maps(x, weight, out_channel, **settings)
        assert maps.shape == (cin // groups, *expected.shape[1:])
        torch.testing.assert_close(
            (maps.sum(0) + bias[out_channel]).float(), expected[out_channel], **TOLERANCE
        )
        # each map is that input channel alone through its kernel slice
        channel = maths.conv_input_channels(out_channel, cin, cout, groups).start
        alone = F.conv2d(
            x[None, channel : channel + 1],
            weight[out_channel : out_channel + 1, :1],
            **{**settings, "groups": 1},
        )[0, 0]
        torch.testing.assert_close(maps[0].float(), alone, **TOLERANCE)


def test_reflect_padding_matches_a_conv2d_module() -> None:
    conv = torch.nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect")
    x = _seeded(2, 6, 6)
    with torch.no_grad():
        expected = conv(x[None])[0]
        terms = maths.conv_terms(
            x, conv.weight, conv.bias, 1, 0, 5, padding=1, padding_mode="reflect"
        )
        maps = maths.conv_channel_maps(x, conv.weight, 1, padding=1, padding_mode="reflect")
    assert terms.value == pytest.approx(float(expected[1, 0, 5]), abs=1e-5)
    torch.testing.assert_close((maps.sum(0) + conv.bias[1]).float(), expected[1], **TOLERANCE)


def _gather(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, fill: float) -> torch.Tensor:
    """``[Ho, Wo, kh, kw]``: the cells of map ``x [H, W]`` each window's taps read; ``fill``
    where a tap is outside the map (on the padding)."""

    def taps(table: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.stack([torch.arange(*row) for row in table.tolist()])
        return index.clamp(0, size - 1), (index >= 0) & (index < size)

    (r, r_in), (c, c_in) = taps(rows, x.shape[0]), taps(cols, x.shape[1])
    values = x[r[:, None, :, None], c[None, :, None, :]]
    inside = r_in[:, None, :, None] & c_in[None, :, None, :]
    return torch.where(inside, values, torch.full_like(values, fill))


@pytest.mark.parametrize(
    ("cin", "cout", "kernel", "stride", "padding", "dilation", "groups"), CONV_CASES
)
def test_conv_window_ranges_are_the_patches_unfold_takes(
    cin, cout, kernel, stride, padding, dilation, groups
) -> None:
    x, *_, expected = _conv_case(cin, cout, kernel, stride, padding, dilation, groups)
    (kh, kw), (sh, sw), (dh, dw) = maths.pair(kernel), maths.pair(stride), maths.pair(dilation)
    top, bottom, left, right = maths.conv_padding(padding, (kh, kw), (dh, dw))
    rows = maths.window_ranges(expected.shape[1], kernel=kh, stride=sh, padding=top, dilation=dh)
    cols = maths.window_ranges(expected.shape[2], kernel=kw, stride=sw, padding=left, dilation=dw)
    # Unfold a map whose every cell holds its own flat index, -1 on the padding.
    index = torch.arange(x.shape[1] * x.shape[2], dtype=torch.float64).reshape(x.shape[1:])
    padded = F.pad(index[None, None], (left, right, top, bottom), value=-1.0)
    unfolded = F.unfold(padded, (kh, kw), dilation=(dh, dw), stride=(sh, sw))[0]
    gathered = _gather(index, rows, cols, -1.0).permute(2, 3, 0, 1).reshape(kh * kw, -1)
    torch.testing.assert_close(gathered, unfolded, rtol=0, atol=0)


POOL_CASES = [
    pytest.param({"kernel_size": 2}, id="2x2"),
    pytest.param({"kernel_size": 3, "stride": 2, "padding": 1}, id="3x3-stride2-padding1"),
    pytest.param({"kernel_size": (2, 3), "stride": (1, 2)}, id="rectangular"),
    pytest.param({"kernel_size": 3, "stride": 2, "ceil_mode": True}, id="ceil-mode"),
    pytest.param({"kernel_size": 2, "stride": 1, "padding": 1, "dilation": 2}, id="dilated"),
]


def _pool_ranges(settings: dict, out_size: torch.Size) -> tuple[torch.Tensor, torch.Tensor]:
    kernel = maths.pair(settings["kernel_size"])
    stride = maths.pair(settings.get("stride", settings["kernel_size"]))
    padding = maths.pair(settings.get("padding", 0))
    dilation = maths.pair(settings.get("dilation", 1))
    return tuple(
        maths.window_ranges(
            out_size[axis],
            kernel=kernel[axis],
            stride=stride[axis],
            padding=padding[axis],
            dilation=dilation[axis],
        )
        for axis in range(2)
    )


@pytest.mark.parametrize("settings", POOL_CASES)
def test_max_pool_window_ranges_give_the_max_pool_output(settings) -> None:
    x = _seeded(7, 9)
    expected = F.max_pool2d(x[None], **settings)[0]
    rows, cols = _pool_ranges(settings, expected.shape)
    windows = _gather(x, rows, cols, -math.inf)
    torch.testing.assert_close(windows.amax(dim=(2, 3)), expected, rtol=0, atol=0)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("settings", [case for case in POOL_CASES if case.id != "dilated"])
def test_avg_pool_window_ranges_give_the_avg_pool_output(settings, count_include_pad) -> None:
    x = _seeded(7, 9)
    expected = F.avg_pool2d(x[None], count_include_pad=count_include_pad, **settings)[0]
    rows, cols = _pool_ranges(settings, expected.shape)
    pad_h, pad_w = maths.pair(settings.get("padding", 0))
    # PyTorch divides by the taps inside the padded input (or inside the input alone).
    grow = (pad_h, pad_w) if count_include_pad else (0, 0)
    ones = torch.ones(x.shape[0] + 2 * grow[0], x.shape[1] + 2 * grow[1])
    shifted = [
        table + torch.tensor([g, g, 0], dtype=torch.int32)
        for table, g in zip((rows, cols), grow, strict=True)
    ]
    counts = _gather(ones, *shifted, 0.0).sum(dim=(2, 3))
    torch.testing.assert_close(_gather(x, rows, cols, 0.0).sum(dim=(2, 3)) / counts, expected)


def test_adaptive_ranges_reproduce_adaptive_avg_pool() -> None:
    x = _seeded(2, 7, 10)
    expected = F.adaptive_avg_pool2d(x[None], (3, 4))[0]
    rows, cols = maths.adaptive_ranges(3, 7), maths.adaptive_ranges(4, 10)
    for row, col in itertools.product(range(3), range(4)):
        (top, bottom, _), (left, right, _) = rows[row].tolist(), cols[col].tolist()
        torch.testing.assert_close(
            x[:, top:bottom, left:right].mean(dim=(1, 2)), expected[:, row, col]
        )


def test_softmax_terms_match_torch_softmax_and_stay_finite_for_large_logits() -> None:
    logits = _seeded(10) * 30 + 500  # exp(500) overflows float32: the max shift must avoid it
    terms = maths.softmax_terms(logits)
    torch.testing.assert_close(terms.probabilities, torch.softmax(logits, 0), **TOLERANCE)
    assert terms.max_logit == float(logits.max())
    torch.testing.assert_close(terms.exp, torch.exp(logits - logits.max()))
    assert terms.sum_exp == pytest.approx(float(terms.exp.sum()))
    assert float(terms.exp.max()) == 1.0


def test_linear_terms_match_functional_linear() -> None:
    x, weight, bias = _seeded(12), _seeded(4, 12, seed=1), _seeded(4, seed=2)
    expected = F.linear(x, weight, bias)
    for unit in range(4):
        terms = maths.linear_terms(x, weight, bias, unit)
        torch.testing.assert_close(terms.products, x * weight[unit])
        assert terms.value == pytest.approx(float(expected[unit]), abs=1e-5)


def test_batch_norm_terms_match_functional_batch_norm() -> None:
    x = _seeded(3, 5, 5)
    mean, var = _seeded(3, seed=1), torch.rand(3) + 0.5
    gamma, beta = _seeded(3, seed=2), _seeded(3, seed=3)
    expected = F.batch_norm(x[None], mean, var, gamma, beta, training=False, eps=1e-3)[0]
    for channel in range(3):
        terms = maths.batch_norm_terms(
            x[channel],
            float(mean[channel]),
            float(var[channel]),
            1e-3,
            float(gamma[channel]),
            float(beta[channel]),
        )
        torch.testing.assert_close(terms.output, expected[channel], **TOLERANCE)
        torch.testing.assert_close(
            x[channel] * terms.scale + terms.shift, expected[channel], **TOLERANCE
        )


def test_concat_sources_match_cat() -> None:
    parts = [_seeded(2, 3, 3), _seeded(4, 3, 3, seed=1), _seeded(1, 3, 3, seed=2)]
    joined = torch.cat(parts, dim=0)
    for part, (start, stop) in zip(parts, maths.concat_sources([2, 4, 1]), strict=True):
        torch.testing.assert_close(joined[start:stop], part, rtol=0, atol=0)


def test_conv_padding_rejects_unknown_words() -> None:
    with pytest.raises(ValueError, match="padding"):
        maths.conv_padding("full", 3)
