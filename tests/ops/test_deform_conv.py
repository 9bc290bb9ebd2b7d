"""tensorsight.ops.deform_conv2d against the paper's equations, torch and torchvision.

The reference below is written from Dai et al. 2017 (eq. 2-4) and Zhu et al. 2019 (eq. 3):
y(p0) = sum_k w_k * m_k * x(p0 + p_k + dp_k), with x(p) = sum_q G(q, p) x(q) over the integer
pixels q and G(q, p) = g(q_x, p_x) g(q_y, p_y), g(a, b) = max(0, 1 - |a - b|); pixels outside
the input are zero. It loops over every output value, so it only runs on tiny shapes.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F

from tensorsight.ops import (
    DeformConv2d,
    deform_conv,
    deform_conv2d,
    deform_conv2d_torch,
    sampling_positions,
    torchvision_deform_conv2d,
)


@pytest.fixture(autouse=True, params=["grid_sample", "gather"])
def design(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with each of deform_conv2d_torch's two designs (it picks by width)."""
    monkeypatch.setattr(
        deform_conv, "_GATHER_MIN_CHANNELS", 0 if request.param == "gather" else 1 << 30
    )
    return str(request.param)


def _g(a: float, b: float) -> float:
    return max(0.0, 1.0 - abs(a - b))


def _bilinear(image: torch.Tensor, py: float, px: float) -> float:
    """x(p) = sum_q G(q, p) x(q), summed over the pixels that can have a non-zero weight."""
    height, width = image.shape
    total = 0.0
    for qy in range(math.floor(py), math.floor(py) + 2):
        for qx in range(math.floor(px), math.floor(px) + 2):
            if 0 <= qy < height and 0 <= qx < width:
                total += _g(qx, px) * _g(qy, py) * float(image[qy, qx])
    return total


def reference(x, offset, weight, bias, stride, padding, dilation, mask):
    batch, channels, _, _ = x.shape
    out_channels, group_channels, kh, kw = weight.shape
    groups = channels // group_channels
    out_h, out_w = offset.shape[-2:]
    taps = kh * kw
    offset_groups = offset.shape[1] // (2 * taps)
    out = torch.zeros(batch, out_channels, out_h, out_w, dtype=torch.float64)
    for b, o, p, q in itertools.product(
        range(batch), range(out_channels), range(out_h), range(out_w)
    ):
        group = o // (out_channels // groups)
        total = float(bias[o]) if bias is not None else 0.0
        for ci, i, j in itertools.product(range(group_channels), range(kh), range(kw)):
            channel = group * group_channels + ci
            og = channel // (channels // offset_groups)
            k = i * kw + j
            dy = float(offset[b, og * 2 * taps + 2 * k, p, q])
            dx = float(offset[b, og * 2 * taps + 2 * k + 1, p, q])
            py = p * stride[0] - padding[0] + i * dilation[0] + dy
            px = q * stride[1] - padding[1] + j * dilation[1] + dx
            m = float(mask[b, og * taps + k, p, q]) if mask is not None else 1.0
            total += float(weight[o, ci, i, j]) * m * _bilinear(x[b, channel], py, px)
        out[b, o, p, q] = total
    return out


@dataclass(frozen=True)
class Case:
    name: str
    batch: int
    channels: int
    size: tuple[int, int]
    out_channels: int
    kernel: tuple[int, int]
    groups: int = 1
    offset_groups: int = 1
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)

    def output_size(self) -> tuple[int, int]:
        return tuple(
            (side + 2 * pad - dil * (k - 1) - 1) // st + 1
            for side, k, st, pad, dil in zip(
                self.size, self.kernel, self.stride, self.padding, self.dilation, strict=True
            )
        )

    def tensors(self, *, masked: bool, dtype=torch.float64, seed: int = 0):
        generator = torch.Generator().manual_seed(seed)
        out_h, out_w = self.output_size()
        taps = self.kernel[0] * self.kernel[1]

        def randn(*shape, scale=1.0):
            return (torch.randn(*shape, generator=generator, dtype=torch.float64) * scale).to(dtype)

        x = randn(self.batch, self.channels, *self.size)
        # Offsets of a pixel and a half: many taps land between pixels and some outside.
        offset = randn(self.batch, 2 * self.offset_groups * taps, out_h, out_w, scale=1.5)
        weight = randn(self.out_channels, self.channels // self.groups, *self.kernel)
        bias = randn(self.out_channels)
        mask = (
            torch.rand(
                self.batch,
                self.offset_groups * taps,
                out_h,
                out_w,
                generator=generator,
                dtype=torch.float64,
            ).to(dtype)
            if masked
            else None
        )
        return x, offset, weight, bias, mask

    def settings(self) -> dict:
        return {"stride": self.stride, "padding": self.padding, "dilation": self.dilation}


CASES = [
    Case("plain 3x3", 1, 2, (6, 5), 3, (3, 3)),
    # torchvision's own test shape: groups, offset groups, stride, padding, dilation together.
    Case(
        "torchvision",
        2,
        6,
        (5, 4),
        4,
        (3, 2),
        groups=2,
        offset_groups=3,
        stride=(2, 1),
        padding=(1, 0),
        dilation=(2, 1),
    ),
    Case(
        "depthwise",
        1,
        4,
        (7, 7),
        4,
        (3, 3),
        groups=4,
        offset_groups=2,
        padding=(2, 2),
        dilation=(2, 2),
    ),
    Case("one row", 1, 1, (1, 6), 2, (1, 3), padding=(0, 1)),
]


@pytest.mark.parametrize("masked", [False, True], ids=["v1", "v2-mask"])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_matches_the_papers_equations(case: Case, masked: bool) -> None:
    x, offset, weight, bias, mask = case.tensors(masked=masked)
    expected = reference(x, offset, weight, bias, case.stride, case.padding, case.dilation, mask)
    ours = deform_conv2d_torch(x, offset, weight, bias, mask=mask, **case.settings())
    assert ours.shape == expected.shape
    assert torch.allclose(ours, expected, atol=1e-12)
    dispatched = deform_conv2d(x, offset, weight, bias, mask=mask, **case.settings())
    assert torch.allclose(dispatched, expected, atol=1e-10)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_zero_offsets_and_a_mask_of_ones_give_the_plain_convolution(case: Case) -> None:
    x, offset, weight, bias, mask = case.tensors(masked=True)
    ours = deform_conv2d_torch(
        x, torch.zeros_like(offset), weight, bias, mask=torch.ones_like(mask), **case.settings()
    )
    plain = F.conv2d(x, weight, bias, groups=case.groups, **case.settings())
    assert torch.allclose(ours, plain, atol=1e-12)


def test_integer_offsets_move_the_kernel_by_whole_pixels() -> None:
    x = torch.arange(36.0).reshape(1, 1, 6, 6)
    weight = torch.zeros(1, 1, 3, 3)
    weight[0, 0, 1, 1] = 1.0  # the centre tap reads one pixel
    offset = torch.zeros(1, 18, 4, 4)
    offset[:, 2 * 4] = 1.0  # centre tap (k = 4): dy = +1 row
    offset[:, 2 * 4 + 1] = -1.0  # and dx = -1 column
    out = deform_conv2d_torch(x, offset, weight)
    # output (p, q) reads input (p + 1 + 1, q + 1 - 1)
    expected = torch.tensor([[x[0, 0, p + 2, q].item() for q in range(4)] for p in range(4)])
    assert torch.allclose(out[0, 0], expected, atol=1e-5)


def test_the_midpoint_of_four_pixels_reads_their_mean() -> None:
    x = torch.tensor([[[[1.0, 2.0], [3.0, 5.0]]]])
    one = torch.ones(1, 1, 1, 1)  # a 1x1 kernel: the output is the sampled value itself

    def read(dy: float, dx: float) -> float:  # the value output (0, 0) reads
        offset = torch.tensor([dy, dx]).reshape(1, 2, 1, 1).expand(1, 2, 2, 2)
        return float(deform_conv2d_torch(x, offset, one)[0, 0, 0, 0])

    assert read(0.5, 0.5) == pytest.approx(2.75)
    assert read(-0.5, 0.0) == pytest.approx(0.5)  # half a row above the image reads zeros


def test_sampling_positions_follow_torchvisions_channel_order() -> None:
    offset = torch.zeros(1, 2 * 2 * 9, 2, 3)  # two offset groups
    offset[0, 2 * 5, 1, 2] = 0.25  # group 0, tap (1, 2): dy
    offset[0, 18 + 2 * 3 + 1, 0, 0] = -0.5  # group 1, tap (1, 0): dx
    y, x = sampling_positions(offset, 3, stride=2, padding=1)
    assert y.shape == x.shape == (1, 2, 9, 2, 3)
    assert float(y[0, 0, 5, 1, 2]) == 1 * 2 - 1 + 1 + 0.25
    assert float(x[0, 0, 5, 1, 2]) == 2 * 2 - 1 + 2
    assert float(x[0, 1, 3, 0, 0]) == -1 + 0 - 0.5


@pytest.mark.parametrize("masked", [False, True], ids=["v1", "v2-mask"])
def test_gradcheck_in_float64(masked: bool) -> None:
    case = Case("grad", 1, 4, (5, 5), 2, (3, 3), groups=2, offset_groups=2, padding=(1, 1))
    tensors = [
        t.requires_grad_() if t is not None else None for t in case.tensors(masked=masked, seed=3)
    ]
    x, offset, weight, bias, mask = tensors
    # Keep every sampling point off the pixel lattice, where bilinear interpolation is smooth.
    with torch.no_grad():
        offset.copy_(torch.floor(offset) + 0.1 + 0.8 * torch.rand_like(offset))

    def run(*args):
        return deform_conv2d_torch(*args[:4], mask=args[4] if masked else None, **case.settings())

    inputs = (x, offset, weight, bias, mask) if masked else (x, offset, weight, bias)
    assert torch.autograd.gradcheck(run, inputs, eps=1e-6, atol=1e-5, fast_mode=True)


def test_hand_written_backward_passes_a_full_gradcheck(design: str) -> None:
    """Every argument's gradient, column by column (not gradcheck's fast mode), with groups,
    offset groups, stride, padding and dilation together, and offsets large enough that some
    points read partly or wholly outside the input."""
    case = Case(
        "grad-full",
        1,
        4,
        (4, 3),
        2,
        (2, 2),
        groups=2,
        offset_groups=2,
        stride=(2, 1),
        padding=(1, 1),
        dilation=(2, 1),
    )
    if design != "gather":
        pytest.skip("grid_sample's design is differentiated by autograd")
    inputs = tuple(t.requires_grad_() for t in case.tensors(masked=True, seed=5))
    with torch.no_grad():  # off the pixel lattice, where bilinear interpolation is smooth
        offset = inputs[1]
        offset.copy_(torch.floor(offset * 2) + 0.1 + 0.8 * torch.rand_like(offset))

    def run(x, offset, weight, bias, mask):
        return deform_conv2d_torch(x, offset, weight, bias, mask=mask, **case.settings())

    assert torch.autograd.gradcheck(run, inputs, eps=1e-6, atol=1e-6)


def test_points_outside_the_input_read_zero_and_pass_no_gradient() -> None:
    x = torch.randn(1, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(2, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    offset = torch.full((1, 18, 2, 3), 7.5, dtype=torch.float64, requires_grad=True)
    out = deform_conv2d_torch(x, offset, weight)
    assert torch.equal(out, torch.zeros_like(out))
    out.square().add(out).sum().backward()
    for tensor in (x, offset, weight):
        assert torch.equal(tensor.grad, torch.zeros_like(tensor))


def test_a_nan_offset_gives_nan_at_its_output_position_only() -> None:
    x, weight = torch.randn(1, 3, 6, 6), torch.randn(2, 3, 3, 3)
    offset = torch.zeros(1, 18, 4, 4)
    offset[0, 2 * 4, 1, 2] = float("nan")  # the centre tap's dy of output (1, 2)
    out = deform_conv2d_torch(x, offset, weight)
    assert out[0, :, 1, 2].isnan().all()
    assert out.isnan().sum() == 2


def test_gradients_reach_only_what_asks_for_them() -> None:
    x, offset, weight, bias, mask = CASES[1].tensors(masked=True)
    offset.requires_grad_()
    out = deform_conv2d_torch(x, offset, weight, bias, mask=mask, **CASES[1].settings())
    (grad,) = torch.autograd.grad(out.sum(), offset)
    assert grad.shape == offset.shape and grad.abs().sum() > 0


def test_a_first_call_in_inference_mode_leaves_later_backwards_working() -> None:
    # Each design caches its regular grid per configuration: made in inference mode, autograd
    # could not save it later.
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(1, 4, 7, 7, generator=generator)
    weight = torch.randn(3, 4, 3, 3, generator=generator)
    offset = torch.randn(1, 18, 5, 7, generator=generator)  # a shape no other test uses
    with torch.inference_mode():
        expected = deform_conv2d_torch(x, offset, weight, padding=(0, 1), dilation=(1, 1))
    offset.requires_grad_()
    out = deform_conv2d_torch(x, offset, weight, padding=(0, 1), dilation=(1, 1))
    (grad,) = torch.autograd.grad(out.sum(), offset)
    assert torch.equal(out.detach(), expected) and grad.abs().sum() > 0


def test_channels_last_and_transposed_tensors_give_the_same_numbers() -> None:
    # The narrow design views its grid and images in other layouts; strides must not matter.
    x, offset, weight, bias, mask = CASES[1].tensors(masked=True)
    expected = deform_conv2d_torch(x, offset, weight, bias, mask=mask, **CASES[1].settings())
    for layout in (
        lambda t: t.contiguous(memory_format=torch.channels_last),
        lambda t: t.transpose(2, 3).contiguous().transpose(2, 3),
    ):
        x2, offset2, mask2 = (layout(t) for t in (x, offset, mask))
        out = deform_conv2d_torch(x2, offset2, weight, bias, mask=mask2, **CASES[1].settings())
        assert torch.allclose(out, expected, atol=1e-12)


@pytest.mark.parametrize("chunk", [1 << 21, 1], ids=["one-chunk", "chunk-per-image"])
def test_both_designs_agree_on_a_wide_layer_with_gradients(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deform_conv, "_CHUNK_VALUES", chunk)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, 64, 9, 8, generator=generator)
    weight = torch.randn(32, 32, 3, 3, generator=generator) * 0.1  # groups=2
    bias = torch.randn(32, generator=generator)
    offset = torch.randn(2, 2 * 9, 9, 8, generator=generator) * 2
    mask = torch.rand(2, 9, 9, 8, generator=generator)
    results = []
    for design in (deform_conv._deform_conv2d_gather, deform_conv._deform_conv2d_grid_sample):
        leaves = [t.clone().requires_grad_() for t in (x, offset, weight, bias, mask)]
        out = deform_conv._in_chunks(design, *leaves[:4], 1, 1, 1, leaves[4])
        out.square().sum().backward()
        results.append([out, *(t.grad for t in leaves)])
    for gathered, sampled in zip(*results, strict=True):
        assert torch.allclose(gathered, sampled, rtol=1e-4, atol=1e-3)


def test_module_has_torchvisions_constructor_keys_and_forward() -> None:
    torch.manual_seed(0)
    layer = DeformConv2d(4, 6, kernel_size=(3, 2), stride=2, padding=1, dilation=(1, 2), groups=2)
    assert sorted(layer.state_dict()) == ["bias", "weight"]
    assert layer.weight.shape == (6, 2, 3, 2)
    assert (layer.kernel_size, layer.stride, layer.padding, layer.dilation) == (
        (3, 2),
        (2, 2),
        (1, 1),
        (1, 2),
    )
    x = torch.randn(2, 4, 8, 8)
    out_h, out_w = (8 + 2 - 2 - 1) // 2 + 1, (8 + 2 - 2 - 1) // 2 + 1
    offset = torch.randn(2, 2 * 6, out_h, out_w)
    mask = torch.rand(2, 6, out_h, out_w)
    expected = deform_conv2d_torch(
        x, offset, layer.weight, layer.bias, stride=2, padding=1, dilation=(1, 2), mask=mask
    )
    assert torch.allclose(layer(x, offset, mask), expected, atol=1e-5)
    assert DeformConv2d(2, 2, 3, bias=False).bias is None
    assert "groups=2" in repr(layer)


def test_bad_shapes_say_what_was_expected() -> None:
    x, weight = torch.randn(1, 2, 6, 6), torch.randn(3, 2, 3, 3)
    with pytest.raises(ValueError, match=r"offset must be \[1, 2 \* offset_groups \* 9, 4, 4\]"):
        deform_conv2d_torch(x, torch.zeros(1, 18, 5, 5), weight)
    with pytest.raises(ValueError, match="mask must be"):
        deform_conv2d_torch(x, torch.zeros(1, 18, 4, 4), weight, mask=torch.ones(1, 8, 4, 4))
    with pytest.raises(ValueError, match="offset groups do not divide"):
        deform_conv2d_torch(x, torch.zeros(1, 54, 4, 4), weight)
    with pytest.raises(ValueError, match="divisible by groups"):
        DeformConv2d(3, 4, 3, groups=2)


def test_float32_matches_float64() -> None:
    x, offset, weight, bias, mask = CASES[1].tensors(masked=True)
    exact = deform_conv2d_torch(x, offset, weight, bias, mask=mask, **CASES[1].settings())
    single = deform_conv2d_torch(
        x.float(),
        offset.float(),
        weight.float(),
        bias.float(),
        mask=mask.float(),
        **CASES[1].settings(),
    )
    assert torch.allclose(single.double(), exact, atol=1e-5)


@pytest.mark.skipif(
    torchvision_deform_conv2d() is None, reason="torchvision does not import beside this torch"
)
@pytest.mark.parametrize("masked", [False, True], ids=["v1", "v2-mask"])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_agrees_with_torchvision(case: Case, masked: bool) -> None:
    native = torchvision_deform_conv2d()
    x, offset, weight, bias, mask = case.tensors(masked=masked, dtype=torch.float32)
    settings = case.settings()
    ours = deform_conv2d_torch(x, offset, weight, bias, mask=mask, **settings)
    theirs = native(x, offset, weight, bias, mask=mask, **settings)
    assert torch.allclose(ours, theirs, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu_with_gradients() -> None:
    case = CASES[1]
    cpu = [t.float().requires_grad_() for t in case.tensors(masked=True)]
    cuda = [t.detach().cuda().requires_grad_() for t in cpu]
    results = []
    for x, offset, weight, bias, mask in (cpu, cuda):
        out = deform_conv2d_torch(x, offset, weight, bias, mask=mask, **case.settings())
        out.square().sum().backward()
        results.append(out)
    assert torch.allclose(results[0], results[1].cpu(), atol=1e-4)
    for on_cpu, on_cuda in zip(cpu, cuda, strict=True):
        assert torch.allclose(on_cpu.grad, on_cuda.grad.cpu(), atol=1e-3)
