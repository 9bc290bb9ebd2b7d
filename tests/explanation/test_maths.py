"""The explanation maths against torch.nn.functional on real tensors."""

from __future__ import annotations

import itertools

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


@pytest.mark.parametrize(("cin", "cout", "kernel", "stride", "padding", "dilation", "groups"),
                         CONV_CASES)
def test_patch_times_kernel_plus_bias_is_the_conv_output(cin, cout, kernel, stride, padding,
                                                         dilation, groups) -> None:
    x, weight, bias, settings, expected = _conv_case(cin, cout, kernel, stride, padding,
                                                     dilation, groups)
    positions = list(itertools.product(range(expected.shape[1]), range(expected.shape[2])))
    kh, kw = maths.pair(kernel)
    for out_channel in range(cout):
        for row, col in [*positions[::max(1, len(positions) // 7)], positions[-1]]:
            terms = maths.conv_terms(x, weight, bias, out_channel, row, col, **settings)
            assert terms.patch.shape == (cin // groups, kh, kw)
            torch.testing.assert_close(terms.products, terms.patch * terms.kernel)
            assert terms.value == pytest.approx(float(expected[out_channel, row, col]), abs=1e-5)
            assert terms.value == pytest.approx(float(terms.channel_sums.sum()) + terms.bias)


@pytest.mark.parametrize(("cin", "cout", "kernel", "stride", "padding", "dilation", "groups"),
                         CONV_CASES)
def test_per_channel_maps_sum_to_the_output_channel(cin, cout, kernel, stride, padding,
                                                    dilation, groups) -> None:
    x, weight, bias, settings, expected = _conv_case(cin, cout, kernel, stride, padding,
                                                     dilation, groups)
    for out_channel in range(cout):
        maps = maths.conv_channel_maps(x, weight, out_channel, **settings)
        assert maps.shape == (cin // groups, *expected.shape[1:])
        torch.testing.assert_close((maps.sum(0) + bias[out_channel]).float(),
                                   expected[out_channel], **TOLERANCE)
        # each map is that input channel alone through its kernel slice
        channel = maths.conv_input_channels(out_channel, cin, cout, groups).start
        alone = F.conv2d(x[None, channel:channel + 1], weight[out_channel:out_channel + 1, :1],
                         **{**settings, "groups": 1})[0, 0]
        torch.testing.assert_close(maps[0].float(), alone, **TOLERANCE)


def test_reflect_padding_matches_a_conv2d_module() -> None:
    conv = torch.nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect")
    x = _seeded(2, 6, 6)
    with torch.no_grad():
        expected = conv(x[None])[0]
        terms = maths.conv_terms(x, conv.weight, conv.bias, 1, 0, 5, padding=1,
                                 padding_mode="reflect")
        maps = maths.conv_channel_maps(x, conv.weight, 1, padding=1, padding_mode="reflect")
    assert terms.value == pytest.approx(float(expected[1, 0, 5]), abs=1e-5)
    torch.testing.assert_close((maps.sum(0) + conv.bias[1]).float(), expected[1], **TOLERANCE)


POOL_CASES = [
    pytest.param({"kernel_size": 2}, id="2x2"),
    pytest.param({"kernel_size": 3, "stride": 2, "padding": 1}, id="3x3-stride2-padding1"),
    pytest.param({"kernel_size": (2, 3), "stride": (1, 2)}, id="rectangular"),
    pytest.param({"kernel_size": 3, "stride": 2, "ceil_mode": True}, id="ceil-mode"),
]


@pytest.mark.parametrize("settings", POOL_CASES)
def test_max_pool_window_is_the_max_pool_output(settings) -> None:
    x = _seeded(7, 9)
    expected = F.max_pool2d(x[None], **settings)[0]
    window_settings = {key: value for key, value in settings.items() if key != "ceil_mode"}
    for row, col in itertools.product(range(expected.shape[0]), range(expected.shape[1])):
        window = maths.pool_window(x, row, col, mode="max", **window_settings)
        assert window.value == float(expected[row, col])


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("settings", POOL_CASES)
def test_avg_pool_window_is_the_avg_pool_output(settings, count_include_pad) -> None:
    x = _seeded(7, 9)
    expected = F.avg_pool2d(x[None], count_include_pad=count_include_pad, **settings)[0]
    window_settings = {key: value for key, value in settings.items() if key != "ceil_mode"}
    for row, col in itertools.product(range(expected.shape[0]), range(expected.shape[1])):
        window = maths.pool_window(x, row, col, mode="avg", count_include_pad=count_include_pad,
                                   **window_settings)
        assert window.value == pytest.approx(float(expected[row, col]), abs=1e-6)


def test_adaptive_pool_bounds_reproduce_adaptive_avg_pool() -> None:
    x = _seeded(2, 7, 10)
    expected = F.adaptive_avg_pool2d(x[None], (3, 4))[0]
    for row, col in itertools.product(range(3), range(4)):
        (top, bottom), (left, right) = (maths.adaptive_pool_bounds(row, 7, 3),
                                        maths.adaptive_pool_bounds(col, 10, 4))
        torch.testing.assert_close(x[:, top:bottom, left:right].mean(dim=(1, 2)),
                                   expected[:, row, col])


def test_relu_matches_functional_relu() -> None:
    x = _seeded(4, 5)
    torch.testing.assert_close(maths.relu(x), F.relu(x), rtol=0, atol=0)
    assert (maths.relu(x) == 0).any() and (maths.relu(x) > 0).any()


def test_softmax_terms_match_torch_softmax_and_stay_finite_for_large_logits() -> None:
    logits = _seeded(10) * 30 + 500  # exp(500) overflows float32: the max shift must avoid it
    terms = maths.softmax_terms(logits)
    torch.testing.assert_close(terms.probabilities, torch.softmax(logits, 0), **TOLERANCE)
    assert terms.max_logit == float(logits.max())
    torch.testing.assert_close(terms.exp, torch.exp(logits - logits.max()))
    assert terms.sum_exp == pytest.approx(float(terms.exp.sum()))
    assert float(terms.exp.max()) == 1.0


def test_flat_index_matches_torch_flatten() -> None:
    x = _seeded(3, 4, 5)
    flat = torch.flatten(x)
    for index in itertools.product(range(3), range(4), range(5)):
        position = maths.flat_index(x.shape, index)
        assert flat[position] == x[index]
        assert maths.unflat_index(x.shape, position) == index
    with pytest.raises(IndexError):
        maths.flat_index((3, 4, 5), (3, 0, 0))


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
        terms = maths.batch_norm_terms(x[channel], float(mean[channel]), float(var[channel]),
                                       1e-3, float(gamma[channel]), float(beta[channel]))
        torch.testing.assert_close(terms.output, expected[channel], **TOLERANCE)
        torch.testing.assert_close(x[channel] * terms.scale + terms.shift, expected[channel],
                                   **TOLERANCE)


def test_concat_sources_and_elementwise_sum_match_cat_and_add() -> None:
    parts = [_seeded(2, 3, 3), _seeded(4, 3, 3, seed=1), _seeded(1, 3, 3, seed=2)]
    joined = torch.cat(parts, dim=0)
    for part, (start, stop) in zip(parts, maths.concat_sources([2, 4, 1]), strict=True):
        torch.testing.assert_close(joined[start:stop], part, rtol=0, atol=0)
    torch.testing.assert_close(maths.elementwise_sum(parts[:1] * 3), parts[0] * 3)
    torch.testing.assert_close(maths.elementwise_sum([parts[0], parts[0][:1]]),
                               torch.add(parts[0], parts[0][:1]))


def test_conv_padding_rejects_unknown_words() -> None:
    with pytest.raises(ValueError, match="padding"):
        maths.conv_padding("full", 3)
