"""Transposed convolution (both views), upsampling, layer norm and mean against torch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tensorsight.explanation import upmaths

TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}


def _seeded(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


TRANSPOSED_CASES = [
    # in, out, kernel, stride, padding, output_padding, dilation, groups
    pytest.param(3, 4, 3, 1, 0, 0, 1, 1, id="plain"),
    pytest.param(3, 2, 4, 2, 1, 0, 1, 1, id="dcgan-k4-s2-p1"),
    pytest.param(2, 3, 3, 2, 1, 1, 1, 1, id="stride2-output-padding1"),
    pytest.param(2, 2, 3, 1, 1, 0, 2, 1, id="dilation2"),
    pytest.param(4, 6, 3, 2, 0, 1, 1, 2, id="groups2-output-padding"),
    pytest.param(3, 3, 3, 3, 1, 2, 1, 3, id="depthwise-stride3"),
    pytest.param(2, 2, (3, 2), (2, 3), (1, 0), (1, 2), (1, 2), 1, id="rectangular"),
    pytest.param(2, 2, 2, 1, 2, 0, 1, 1, id="padding-beyond-kernel-crops"),
    pytest.param(64, 8, 4, 1, 0, 0, 1, 1, id="latent-projection-1x1"),
]


def _transposed_case(cin, cout, kernel, stride, padding, output_padding, dilation, groups):
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    size = (1, 1) if cin == 64 else (5, 6)
    x = _seeded(cin, *size)
    weight, bias = _seeded(cin, cout // groups, kh, kw, seed=1), _seeded(cout, seed=2)
    settings = {
        "stride": stride,
        "padding": padding,
        "output_padding": output_padding,
        "dilation": dilation,
        "groups": groups,
    }
    expected = F.conv_transpose2d(x[None], weight, bias, **settings)[0]
    return x, weight, bias, settings, expected


ARGS = ("cin", "cout", "kernel", "stride", "padding", "output_padding", "dilation", "groups")


@pytest.mark.parametrize(ARGS, TRANSPOSED_CASES)
def test_scatter_stamps_summed_and_cropped_are_conv_transpose2d(
    cin, cout, kernel, stride, padding, output_padding, dilation, groups
) -> None:
    x, weight, bias, settings, expected = _transposed_case(
        cin, cout, kernel, stride, padding, output_padding, dilation, groups
    )
    for channel in range(cout):
        view = upmaths.conv_transpose_scatter(x, weight, channel, bias, **settings)
        torch.testing.assert_close(view.output.float(), expected[channel], **TOLERANCE)
        torch.testing.assert_close(view.intermediate.sum(0) + view.bias, view.output)
        assert view.kernel.shape[0] == cin // groups


@pytest.mark.parametrize(ARGS, TRANSPOSED_CASES)
def test_zero_inserted_input_with_flipped_kernel_is_conv_transpose2d(
    cin, cout, kernel, stride, padding, output_padding, dilation, groups
) -> None:
    x, weight, bias, settings, expected = _transposed_case(
        cin, cout, kernel, stride, padding, output_padding, dilation, groups
    )
    for channel in range(cout):
        view = upmaths.conv_transpose_as_conv(x, weight, channel, bias, **settings)
        torch.testing.assert_close(view.output.float(), expected[channel], **TOLERANCE)
        channels, column = upmaths.conv_transpose_channels(channel, cin, cout, groups)
        torch.testing.assert_close(
            view.flipped.float(), weight[channels.start : channels.stop, column].flip(-1, -2)
        )


def test_scatter_canvas_holds_one_stamp_per_input_cell() -> None:
    x = torch.zeros(1, 3, 3)
    x[0, 1, 2] = 2.0
    kernel = torch.arange(9.0).reshape(1, 1, 3, 3)
    view = upmaths.conv_transpose_scatter(x, kernel, 0, stride=2)
    # input (1, 2) lands at rows 2..4, columns 4..6 of the 7x7 canvas, times 2.
    torch.testing.assert_close(view.full[2:5, 4:7], 2 * kernel[0, 0].double())
    assert float(view.full.abs().sum()) == pytest.approx(2 * 36)


def test_checkerboard_when_kernel_is_not_a_multiple_of_stride() -> None:
    ones = torch.ones(1, 4, 4)
    uneven = upmaths.conv_transpose_scatter(ones, torch.ones(1, 1, 3, 3), 0, stride=2).full
    even = upmaths.conv_transpose_scatter(ones, torch.ones(1, 1, 4, 4), 0, stride=2).full
    assert set(uneven[2:-2, 2:-2].unique().tolist()) == {1.0, 2.0, 4.0}
    assert even[2:-2, 2:-2].unique().tolist() == [4.0]


UPSAMPLE_CASES = [
    pytest.param({"scale_factor": 2, "mode": "nearest"}, id="nearest-x2"),
    pytest.param({"size": (7, 5), "mode": "nearest"}, id="nearest-size"),
    pytest.param({"scale_factor": 1.5, "mode": "nearest-exact"}, id="nearest-exact"),
    pytest.param({"scale_factor": 2, "mode": "bilinear", "align_corners": False}, id="bilinear"),
    pytest.param({"size": (9, 4), "mode": "bilinear", "align_corners": True}, id="bilinear-ac"),
    pytest.param({"scale_factor": 3, "mode": "bilinear"}, id="bilinear-x3"),
    pytest.param({"size": (2, 3), "mode": "bilinear"}, id="bilinear-downsample"),
]


@pytest.mark.parametrize("options", UPSAMPLE_CASES)
def test_resample_weights_reproduce_interpolate(options) -> None:
    x = _seeded(4, 6)
    expected = F.interpolate(x[None, None], **options)[0, 0]
    factor = options.get("scale_factor")
    weights = upmaths.resample_weights(
        x.shape,
        expected.shape,
        options["mode"],
        options.get("align_corners"),
        scale_factor=(factor, factor) if factor else None,
    )
    torch.testing.assert_close(weights.apply(x).float(), expected, **TOLERANCE)
    torch.testing.assert_close(
        weights.row_weight.sum(1), torch.ones(expected.shape[0], dtype=torch.float64)
    )


@pytest.mark.parametrize(("shape", "normalized"), [((3, 4, 5), 3), ((3, 4, 5), 1), ((6, 8), 1)])
def test_layer_norm_terms_reproduce_layer_norm(shape, normalized) -> None:
    x = _seeded(*shape)
    weight, bias = _seeded(*shape[-normalized:], seed=1), _seeded(*shape[-normalized:], seed=2)
    expected = F.layer_norm(x, shape[-normalized:], weight, bias, eps=1e-5)
    terms = upmaths.layer_norm_terms(x, normalized, 1e-5, weight, bias)
    torch.testing.assert_close(terms.output.float(), expected, **TOLERANCE)
    rebuilt = (x.double() - terms.mean) / terms.std * terms.gamma + terms.beta
    torch.testing.assert_close(rebuilt, terms.output)


@pytest.mark.parametrize(
    ("dims", "keepdim"),
    [((1, 2), False), ((1, 2), True), ((0,), False), (None, False), ((-1,), True)],
)
def test_mean_groups_average_to_the_mean(dims, keepdim) -> None:
    x = _seeded(3, 4, 5)
    expected = x.mean() if dims is None else x.mean(dims, keepdim=keepdim)
    groups = upmaths.mean_groups(x, dims, keepdim)
    assert groups.output_shape == tuple(expected.shape)
    torch.testing.assert_close(groups.groups.mean(1).float(), expected.flatten(), **TOLERANCE)
