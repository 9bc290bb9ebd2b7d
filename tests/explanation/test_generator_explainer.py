"""The Explainer on a generator (latent runs, the discriminator's verdict) and the detail packs
of transposed convolution, upsample, layer norm and mean, on real layers with seeded weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from _dcgan import tiny_dcgan_explainer
from tensorsight.explanation import BadParameterError, Explainer
from tensorsight.imaging import Preprocessing
from tensorsight.models.dcgan import Discriminator, initialise

TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}


class Upsampler(nn.Module):
    """Every layer kind this file explains, in one small image-to-vector network."""

    def __init__(self) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1, groups=1)
        self.grouped = nn.ConvTranspose2d(4, 4, 3, stride=1, padding=2, dilation=2, groups=2)
        self.resize = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.nearest = nn.Upsample(size=(20, 18), mode="nearest")
        self.norm = nn.LayerNorm([4, 20, 18])
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.nearest(self.resize(self.grouped(self.up(x))))
        return self.head(self.norm(x).mean((2, 3)))


@pytest.fixture(scope="module")
def upsampler() -> tuple[Explainer, dict]:
    torch.manual_seed(0)
    model = Upsampler()
    with torch.no_grad():
        model.norm.weight.normal_()
        model.norm.bias.normal_()
    explainer = Explainer(
        model,
        preprocessing=Preprocessing(size=(5, 5), channels=3),
        class_names=("a", "b", "c"),
        name="upsampler",
    )
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 255, (5, 5, 3), np.uint8))
    return explainer, explainer.run_image(picture)


def _node(explainer: Explainer, kind: str, index: int = 0) -> dict:
    return [node for node in explainer.model_info()["nodes"] if node["kind"] == kind][index]


@pytest.mark.parametrize("index", [0, 1])
def test_conv_transpose_pack_matches_torch_both_ways(upsampler, index) -> None:
    explainer, run = upsampler
    node = _node(explainer, "conv_transpose2d", index)
    layer = [explainer.model.up, explainer.model.grouped][index]
    for channel in range(4):
        meta, arrays = explainer.detail(run["run_id"], node["id"], channel)
        output = torch.from_numpy(arrays["output"])
        stamps = torch.from_numpy(arrays["intermediate"]).sum(0) + meta["bias"]
        torch.testing.assert_close(stamps, output, **TOLERANCE)
        flipped = torch.from_numpy(arrays["flipped"]).double()
        stretched = torch.from_numpy(arrays["stretched"]).double()
        as_conv = (
            F.conv2d(
                stretched[None],
                flipped[:, None],
                dilation=meta["dilation"],
                groups=flipped.shape[0],
            )[0].sum(0)
            + meta["bias"]
        )
        torch.testing.assert_close(as_conv.float(), output, **TOLERANCE)
        start, stop = meta["in_channels"]
        torch.testing.assert_close(
            torch.from_numpy(arrays["kernel"]),
            layer.weight[start:stop, channel % (4 // layer.groups)].detach(),
        )
        padding = meta["padding"]
        full = torch.from_numpy(arrays["full"])
        rows = min(output.shape[0], full.shape[0] - padding[0])
        cols = min(output.shape[1], full.shape[1] - padding[1])
        torch.testing.assert_close(
            full[padding[0] : padding[0] + rows, padding[1] : padding[1] + cols] + meta["bias"],
            output[:rows, :cols],
            **TOLERANCE,
        )
        _check_tables(arrays)
    assert meta["output_padding"] == ([1, 1] if index == 0 else [0, 0])
    assert meta["groups"] == (1 if index == 0 else 2)


def _check_tables(arrays: dict) -> None:
    """The tap and window tables the view looks up rebuild every channel's share exactly."""
    x, kernel, flipped = arrays["input"], arrays["kernel"], arrays["flipped"]
    stretched, intermediate = arrays["stretched"], arrays["intermediate"]
    assert arrays["row_taps"].dtype == np.int32 and arrays["window_rows"].dtype == np.int32
    np.testing.assert_allclose(arrays["stamped"], intermediate.sum(0), rtol=1e-5, atol=1e-5)
    full = arrays["full"]
    for r, row in enumerate(arrays["canvas_rows"]):
        for c, col in enumerate(arrays["canvas_cols"]):
            expected = full[row, col] if row >= 0 and col >= 0 else 0.0
            np.testing.assert_allclose(arrays["stamped"][r, c], expected, rtol=1e-4, atol=1e-5)
    for r in range(intermediate.shape[1]):
        for c in range(intermediate.shape[2]):
            stamps = sum(
                x[:, i, j] * kernel[:, a, b]
                for i, a in arrays["row_taps"][r]
                if i >= 0
                for j, b in arrays["col_taps"][c]
                if j >= 0
            )
            np.testing.assert_allclose(stamps, intermediate[:, r, c], rtol=1e-4, atol=1e-5)
            window = stretched[:, arrays["window_rows"][r]][:, :, arrays["window_cols"][c]]
            np.testing.assert_allclose(
                (window * flipped).sum((1, 2)), intermediate[:, r, c], rtol=1e-4, atol=1e-5
            )


@pytest.mark.parametrize(("index", "mode"), [(0, "bilinear"), (1, "nearest")])
def test_upsample_pack_weights_rebuild_the_output(upsampler, index, mode) -> None:
    explainer, run = upsampler
    node = _node(explainer, "upsample", index)
    meta, arrays = explainer.detail(run["run_id"], node["id"], 2)
    assert meta["mode"] == mode
    x = arrays["input"].astype(np.float64)
    rebuilt = np.zeros(arrays["output"].shape)
    for a in range(2):
        for b in range(2):
            rows = arrays["row_index"][:, a].astype(int)
            cols = arrays["col_index"][:, b].astype(int)
            rebuilt += (
                arrays["row_weight"][:, a, None]
                * arrays["col_weight"][None, :, b]
                * x[rows][:, cols]
            )
    np.testing.assert_allclose(rebuilt, arrays["output"], rtol=1e-5, atol=1e-5)


def test_layer_norm_pack_holds_the_statistics_of_each_cell(upsampler) -> None:
    explainer, run = upsampler
    meta, arrays = explainer.detail(run["run_id"], _node(explainer, "layer_norm")["id"], 1)
    assert meta["normalized_shape"] == [4, 20, 18] and meta["group_size"] == 4 * 20 * 18
    rebuilt = (arrays["input"] - arrays["mean"]) / arrays["std"] * arrays["gamma"] + arrays["beta"]
    np.testing.assert_allclose(rebuilt, arrays["output"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(arrays["gamma"], explainer.model.norm.weight[1].detach().numpy())


def test_mean_pack_groups_average_to_the_output(upsampler) -> None:
    explainer, run = upsampler
    meta, arrays = explainer.detail(run["run_id"], _node(explainer, "mean")["id"], 0)
    assert meta["dim"] == [1, 2] and meta["count"] == 20 * 18 and meta["output_shape"] == [4]
    np.testing.assert_allclose(arrays["groups"].mean(1), arrays["output"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        arrays["sums"] / meta["count"], arrays["output"], rtol=1e-5, atol=1e-6
    )


@pytest.fixture(scope="module")
def generator_explainer() -> Explainer:
    return tiny_dcgan_explainer("tiny generator")


def test_run_latent_returns_z_the_image_every_layer_and_the_verdict(generator_explainer) -> None:
    z = [0.1 * index - 0.3 for index in range(8)]
    run = generator_explainer.run_latent(z)
    assert run["latent"] == pytest.approx(z)
    info = generator_explainer.model_info()
    assert info["latent"]["dim"] == 8 and info["latent"]["critic"] is True
    assert [node["kind"] for node in info["nodes"]][-2:] == ["conv_transpose2d", "tanh"]
    assert set(run["nodes"]) == {node["id"] for node in info["nodes"]}
    with torch.no_grad():
        image = generator_explainer.model(torch.tensor(z).reshape(1, 8, 1, 1))
        logit = float(generator_explainer.critic(image))
    assert run["verdict"]["logit"] == pytest.approx(logit, abs=1e-5)
    assert run["verdict"]["p_real"] == pytest.approx(1 / (1 + np.exp(-logit)), abs=1e-6)
    assert run["image_png_base64"]
    assert "not whether a photo is genuine" in run["verdict"]["note"]


def test_seeded_latent_runs_repeat_and_bad_vectors_are_refused(generator_explainer) -> None:
    first, again = (generator_explainer.run_latent(seed=5) for _ in range(2))
    assert first["latent"] == again["latent"]
    assert generator_explainer.run_latent(seed=6)["latent"] != first["latent"]
    for z, fragment in [
        ([1.0], "8 numbers"),
        ([float("nan")] * 8, "finite"),
        ([50.0] * 8, "within"),
    ]:
        with pytest.raises(BadParameterError, match=fragment):
            generator_explainer.run_latent(z)
    with pytest.raises(BadParameterError, match="generator"):
        generator_explainer.run_image(Image.new("L", (16, 16)))


def test_judge_image_asks_the_discriminator_about_a_photo(generator_explainer) -> None:
    photo = Image.new("L", (40, 30), color=230)  # light background: inverted, as trained
    answer = generator_explainer.judge_image(photo)
    x = torch.full((1, 1, 16, 16), -1.0 + 2 * (25 / 255))
    with torch.no_grad():
        logit = float(generator_explainer.critic(x))
    assert answer["logit"] == pytest.approx(logit, abs=1e-4)
    assert answer["label"] in ("real", "fake") and answer["input_png_base64"]


def test_a_one_logit_model_ends_in_a_sigmoid() -> None:
    torch.manual_seed(0)
    critic = Discriminator(features=4, image_size=16).apply(initialise)
    explainer = Explainer(
        critic,
        preprocessing=Preprocessing(size=(16, 16), channels=1),
        class_names=("real",),
        name="critic",
    )
    run = explainer.run_image(Image.new("L", (16, 16), color=10))
    assert explainer.model_info()["nodes"][-1]["kind"] == "sigmoid"
    p = run["output"]["probabilities"][0]
    assert p == pytest.approx(1 / (1 + np.exp(-run["output"]["logits"][0])), abs=1e-6)
    assert sorted(name for name, _ in run["output"]["top"]) == ["not real", "real"]
