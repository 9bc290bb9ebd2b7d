"""The numbers the front end only looks up: window tables, conv terms, products, feeds.

Every relation the page shows (which input cells a window covers, which cell a max pool picked,
which channels feed a neuron) is checked here against PyTorch itself: unfold, max_pool2d's own
indices, autograd.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from architectures import build
from tensorsight.capturing import Graph, Node, capture
from tensorsight.explanation import BadParameterError, Explainer, decode_pack, encode_pack
from tensorsight.imaging import Preprocessing

CLASSES = tuple(f"class {index}" for index in range(10))


def roundtrip(pack: tuple[dict, dict]) -> tuple[dict, dict]:
    return decode_pack(encode_pack(*pack))


def explainer_of(model: nn.Module, size: int, channels: int) -> Explainer:
    return Explainer(
        model.eval(),
        preprocessing=Preprocessing(size=(size, size), channels=channels),
        class_names=CLASSES,
        name="test",
    )


def first_run(explainer: Explainer) -> str:
    height, width = explainer.preprocessing.size
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    from PIL import Image

    return explainer.run_image(Image.fromarray(pixels, "RGB"))["run_id"]


def of_kind(explainer: Explainer, kind: str) -> list[dict]:
    return [node for node in explainer.model_info()["nodes"] if node["kind"] == kind]


def taps(table: np.ndarray, index: int) -> list[int]:
    return list(range(*table[index].tolist()))


class Convs(nn.Module):
    """Convolutions with every setting the formula view draws: padding modes, "same", stride,
    dilation, groups."""

    def __init__(self) -> None:
        super().__init__()
        self.reflect = nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect")
        self.circular = nn.Conv2d(4, 4, 3, padding=2, dilation=2, padding_mode="circular")
        self.same = nn.Conv2d(4, 4, 4, padding="same")
        self.grouped = nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), groups=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.grouped(self.same(self.circular(self.reflect(x))))


@pytest.fixture(scope="module")
def convs() -> tuple[Explainer, str]:
    torch.manual_seed(0)
    explainer = explainer_of(Convs(), 11, 3)
    return explainer, first_run(explainer)


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
def test_conv_terms_are_the_unfolded_patches_times_the_kernel(convs) -> None:
    explainer, run_id = convs
    for info in of_kind(explainer, "conv2d"):
        module = getattr(explainer.model, info["name"])
        for channel in (0, module.out_channels - 1):
            detail, arrays = roundtrip(explainer.detail(run_id, info["id"], channel))
            x = torch.from_numpy(arrays["input"].copy())
            # PyTorch's own padding of the input, then unfold: the patch of every window.
            top, left = detail["padding"]
            kh, kw = module.kernel_size
            mode = "constant" if module.padding_mode == "zeros" else module.padding_mode
            full = F.pad(x[None], _pad_amounts(module, top, left), mode=mode)
            unfolded = F.unfold(full, (kh, kw), dilation=module.dilation, stride=module.stride)
            rows, cols = arrays["output"].shape
            for row, col in [(0, 0), (rows - 1, cols - 1), (rows // 2, cols // 3)]:
                meta, terms = roundtrip(explainer.terms(run_id, info["id"], channel, row, col))
                assert (meta["row"], meta["col"], meta["bias"]) == (row, col, detail["bias"])
                expected = unfolded[0, :, row * cols + col].reshape(x.shape[0], kh, kw)
                assert np.array_equal(terms["patch"], expected.numpy())
                assert np.array_equal(terms["products"], terms["patch"] * arrays["kernel"])
                np.testing.assert_allclose(
                    terms["channel_sums"], arrays["intermediate"][:, row, col], rtol=1e-6, atol=1e-6
                )
                assert float(terms["channel_sums"].astype(np.float64).sum()) + meta[
                    "bias"
                ] == pytest.approx(float(arrays["output"][row, col]), abs=1e-5)
                # The window tables name the same cells (in padded coordinates).
                assert len(taps(arrays["rows"], row)) == kh
                assert taps(arrays["rows"], row)[0] == row * module.stride[0] - top
                assert taps(arrays["cols"], col)[0] == col * module.stride[1] - left


def _pad_amounts(module: nn.Conv2d, top: int, left: int) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) as F.pad takes them; "same" puts the odd cell last."""
    (kh, kw), (dh, dw) = module.kernel_size, module.dilation
    total_h, total_w = (
        (dh * (kh - 1), dw * (kw - 1)) if module.padding == "same" else (2 * top, 2 * left)
    )
    return left, total_w - left, top, total_h - top


def test_conv_terms_refuse_bad_positions_and_other_kinds(convs) -> None:
    explainer, run_id = convs
    conv = of_kind(explainer, "conv2d")[0]
    for args in [(0, 11, 0), (0, 0, -1), (4, 0, 0)]:
        with pytest.raises(BadParameterError):
            explainer.terms(run_id, conv["id"], *args)
    with pytest.raises(BadParameterError, match="whole numbers"):
        explainer.terms(run_id, conv["id"], 0, 1.5, 0)  # type: ignore[arg-type]
    tinyvgg = explainer_of(build("tinyvgg")[0], 64, 1)
    relu = of_kind(tinyvgg, "relu")[0]
    with pytest.raises(BadParameterError, match="convolutions only"):
        tinyvgg.terms(first_run(tinyvgg), relu["id"], 0, 0, 0)


class Pools(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.max = nn.MaxPool2d(3, stride=2, padding=1, dilation=1, ceil_mode=True)
        self.dilated = nn.MaxPool2d(2, stride=1, padding=1, dilation=2)
        self.avg = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.adaptive = nn.AdaptiveAvgPool2d((3, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adaptive(self.avg(self.dilated(self.max(x))))


def test_pool_windows_hold_the_cell_max_pool_picked_and_reproduce_every_output() -> None:
    explainer = explainer_of(Pools(), 13, 3)
    run_id = first_run(explainer)
    for info in explainer.model_info()["nodes"][1:]:
        _, arrays = roundtrip(explainer.detail(run_id, info["id"], 1))
        x, output = arrays["input"], arrays["output"]
        height, width = x.shape
        for row, col in itertools.product(range(output.shape[0]), range(output.shape[1])):
            cells = [(r, c) for r in taps(arrays["rows"], row) for c in taps(arrays["cols"], col)]
            inside = [x[r, c] for r, c in cells if 0 <= r < height and 0 <= c < width]
            if info["kind"] == "max_pool2d":
                best = int(arrays["argmax"][row, col])
                assert divmod(best, width) in cells  # the winner lies in the window drawn
                assert x.flat[best] == output[row, col] == max(inside)
            elif info["kind"] == "avg_pool2d":  # count_include_pad=False: the cells inside
                assert np.mean(inside) == pytest.approx(float(output[row, col]), abs=1e-6)
            else:
                assert np.mean(inside) == pytest.approx(float(output[row, col]), abs=1e-6)
                assert len(cells) == len(inside)  # adaptive windows never leave the input
        assert arrays["rows"].dtype == np.int32 and ("argmax" in arrays) == (
            info["kind"] == "max_pool2d"
        )


def test_linear_products_batch_norm_line_and_cat_origin_come_with_the_pack() -> None:
    tinyvgg = explainer_of(build("tinyvgg")[0], 64, 1)
    run_id = first_run(tinyvgg)
    linear = of_kind(tinyvgg, "linear")[0]
    meta, arrays = roundtrip(tinyvgg.detail(run_id, linear["id"], 3))
    expected = torch.from_numpy(arrays["input"].copy()) * torch.from_numpy(arrays["weight"].copy())
    assert np.array_equal(arrays["products"], expected.numpy())

    resnet = explainer_of(build("resnet")[0], 32, 3)
    run_id = first_run(resnet)
    for info in of_kind(resnet, "batch_norm"):
        meta, arrays = roundtrip(resnet.detail(run_id, info["id"], 2))
        np.testing.assert_allclose(
            arrays["input"] * meta["scale"] + meta["shift"], arrays["output"], atol=1e-5
        )

    unet = explainer_of(build("unet")[0], 32, 3)
    run_id = first_run(unet)
    for info in of_kind(unet, "cat"):
        last = info["shape"][1] - 1
        meta, arrays = roundtrip(unet.detail(run_id, info["id"], last))
        origin = meta["origin"]
        assert origin["node"] == info["inputs"][-1] and origin["source"] == len(info["inputs"]) - 1
        channel = origin["channel"]
        _, sources = unet.activations(
            run_id, [origin["node"]], channels=(channel, channel + 1), encoding="f32"
        )
        assert np.array_equal(arrays["output"], sources[origin["node"]][0])


# -- feeds: which channels feed a neuron, against autograd ------------------------------------


class Joins(nn.Module):
    """Grouped and depthwise convolutions, a concatenation, a broadcast product, pooling."""

    def __init__(self) -> None:
        super().__init__()
        self.grouped = nn.Conv2d(4, 6, 3, padding=1, groups=2)
        self.depthwise = nn.Conv2d(6, 6, 3, padding=1, groups=6)
        self.plain = nn.Conv2d(4, 2, 1)
        self.squeeze = nn.Conv2d(6, 1, 1)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Linear(8 * 3 * 3, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.depthwise(self.grouped(x))
        joined = torch.cat([a, self.plain(x)], dim=1)
        gated = torch.relu(joined * self.squeeze(a))
        return self.head(torch.flatten(self.pool(gated), 1))


def _recompute(model: nn.Module, node: Node, inputs: list[torch.Tensor]) -> torch.Tensor:
    """The node's output from its inputs, by PyTorch: its module, or its functional op."""
    if node.module_path:
        return model.get_submodule(node.module_path)(*inputs)
    ops = {
        "cat": lambda xs: torch.cat(xs, dim=node.config["dim"]),
        "mul": lambda xs: xs[0] * xs[1],
        "relu": lambda xs: torch.relu(xs[0]),
        "flatten": lambda xs: torch.flatten(xs[0], 1),
    }
    return ops[node.kind](inputs)


def _read_by_autograd(model: nn.Module, graph: Graph, node: Node, channel: int) -> list[set]:
    """For each input, the channels whose values change output channel ``channel``."""
    inputs = [graph.node(source).activation.double().requires_grad_() for source in node.inputs]
    output = _recompute(model.double(), node, inputs)
    picked = output[:, channel] if output.dim() == 4 else output
    grads = torch.autograd.grad(picked.sum(), inputs, allow_unused=True)
    # A map's channels are its second axis; a vector counts as one channel.
    return [
        set()
        if grad is None
        else set(torch.nonzero(grad.abs().sum((0, 2, 3))).flatten().tolist())
        if grad.dim() == 4
        else ({0} if bool(grad.abs().sum() > 0) else set())
        for grad in grads
    ]


def _read_by_feeds(feed: dict, channel: int, source: Node) -> set:
    how = feed["channels"]
    count = source.output_shape[1] if len(source.output_shape) == 4 else 1
    if how == "all":
        return set(range(count))
    if how == "same":
        return {channel}
    return set(range(*how[channel]))


def test_feeds_name_exactly_the_channels_autograd_finds() -> None:
    torch.manual_seed(0)
    model = Joins().eval()
    explainer = explainer_of(model, 6, 4)
    graph = capture(model, torch.randn(1, 4, 6, 6))
    nodes = {node["id"]: node for node in explainer.model_info()["nodes"]}
    checked = set()
    for node in graph.nodes[1:]:
        feeds = nodes[node.id]["feeds"]
        assert [feed["node"] for feed in feeds] == list(node.inputs)
        channels = node.output_shape[1] if len(node.output_shape) == 4 else 1
        for channel in {0, channels // 2, channels - 1}:
            by_autograd = _read_by_autograd(model, graph, node, channel)
            for feed, found in zip(feeds, by_autograd, strict=True):
                assert _read_by_feeds(feed, channel, graph.node(feed["node"])) == found, (
                    node.name,
                    channel,
                    feed,
                )
        checked.add(node.kind)
    assert {"conv2d", "cat", "mul", "relu", "max_pool2d", "flatten", "linear"} <= checked
