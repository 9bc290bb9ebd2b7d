"""Explainer methods and detail packs on real models with seeded weights."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from architectures import build
from tensorsight.capturing import capture
from tensorsight.explanation import (
    BadParameterError,
    Explainer,
    ExplainerError,
    InputStore,
    ModelRunError,
    UnknownIdError,
    decode_pack,
    encode_pack,
)
from tensorsight.explanation.details import INDEX_ARRAYS
from tensorsight.imaging import Preprocessing
from tensorsight.models.bundle import ModelBundle, Sample

CLASSES = tuple(f"class {index}" for index in range(10))
TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}
# Two forward passes of the same input can differ in the last bit (a busy machine's thread pool
# may split reductions differently); values within one run are compared exactly.
ACROSS_RUNS = {"rtol": 1e-6, "atol": 1e-6}


def photo(seed: int = 0, size: tuple[int, int] = (90, 70)) -> Image.Image:
    """A real RGB picture: smooth shapes plus noise, so every layer sees structure."""
    rng = np.random.default_rng(seed)
    height, width = size[1], size[0]
    rows, cols = np.mgrid[0:height, 0:width]
    disc = ((rows - height / 2) ** 2 + (cols - width / 3) ** 2 < (height / 4) ** 2) * 180.0
    pixels = np.stack([disc + cols, disc + rows, 255 - disc], axis=-1)
    pixels += rng.normal(0, 20, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def explainer_for(family: str, size: int, channels: int, **options) -> Explainer:
    model, _ = build(family)
    return Explainer(
        model,
        preprocessing=Preprocessing(size=(size, size), channels=channels),
        class_names=CLASSES,
        name=family,
        **options,
    )


@pytest.fixture(scope="module")
def tinyvgg() -> Explainer:
    return explainer_for("tinyvgg", 64, 1)


@pytest.fixture(scope="module")
def tinyvgg_run(tinyvgg: Explainer) -> dict:
    return tinyvgg.run_image(photo())


def reference_graph(explainer: Explainer, image: Image.Image):
    return capture(explainer.model, explainer.preprocessing.to_tensor(image))


def nodes_of_kind(explainer: Explainer, kind: str) -> list[dict]:
    return [node for node in explainer.model_info()["nodes"] if node["kind"] == kind]


def roundtrip(pack: tuple[dict, dict]) -> tuple[dict, dict]:
    """What a host sends: every pack must survive encode_pack/decode_pack."""
    return decode_pack(encode_pack(*pack))


# -- model_info, samples ---------------------------------------------------------------------


def test_model_info_lists_every_node_and_ends_in_a_synthetic_softmax(tinyvgg: Explainer) -> None:
    info = json.loads(json.dumps(tinyvgg.model_info(), allow_nan=False))
    assert info["name"] == "tinyvgg" and info["classes"] == list(CLASSES)
    assert info["input"] == {
        "channels": 1,
        "height": 64,
        "width": 64,
        "description": tinyvgg.preprocessing.describe(),
    }
    kinds = [node["kind"] for node in info["nodes"]]
    assert kinds == [
        "input",
        "conv2d",
        "relu",
        "conv2d",
        "relu",
        "max_pool2d",
        "conv2d",
        "relu",
        "conv2d",
        "relu",
        "max_pool2d",
        "flatten",
        "linear",
        "softmax",
    ]
    last = info["nodes"][-1]
    assert last["synthetic"] is True and last["inputs"] == [info["nodes"][-2]["id"]]
    assert not any(node["synthetic"] for node in info["nodes"][:-1])
    assert info["nodes"][1]["shape"] == [1, 10, 62, 62]
    assert info["nodes"][1]["config"]["kernel_size"] == [3, 3]
    assert set(info["nodes"][1]) >= {
        "id",
        "kind",
        "name",
        "module_path",
        "module_type",
        "config",
        "inputs",
        "shape",
        "group",
    }


def test_a_model_that_ends_in_softmax_gets_no_synthetic_one() -> None:
    explainer = explainer_for("branchy", 32, 3)
    nodes = explainer.model_info()["nodes"]
    assert [node["kind"] for node in nodes].count("softmax") == 1
    assert not any(node["synthetic"] for node in nodes)
    overview = explainer.run_image(photo())
    logits = per_image_of(explainer, overview, "linear")
    assert overview["output"]["logits"] == pytest.approx(logits.tolist(), abs=1e-6)


def per_image_of(explainer: Explainer, overview: dict, kind: str) -> torch.Tensor:
    node_id = nodes_of_kind(explainer, kind)[-1]["id"]
    _, arrays = explainer.activations(overview["run_id"], [node_id], encoding="f32")
    return torch.from_numpy(arrays[node_id].copy())


def test_samples_are_listed_served_and_run(tmp_path: Path) -> None:
    paths = []
    for index, label in enumerate(["class 3", "class 7"]):
        path = tmp_path / f"sample-{index}.png"
        photo(index).save(path)
        paths.append(Sample(id=f"s{index}", label=label, path=path))
    model, _ = build("tinyvgg")
    bundle = ModelBundle(
        name="tiny",
        model=model,
        preprocessing=Preprocessing(size=(64, 64), channels=1),
        class_names=CLASSES,
        samples=tuple(paths),
    )
    explainer = Explainer.from_bundle(bundle)
    assert explainer.samples() == [
        {"id": "s0", "label": "class 3", "filename": "sample-0.png"},
        {"id": "s1", "label": "class 7", "filename": "sample-1.png"},
    ]
    assert explainer.sample_png("s1") == paths[1].path.read_bytes()
    from_sample = explainer.run_sample("s1")
    from_image = explainer.run_image(Image.open(paths[1].path))
    assert from_sample["output"] == from_image["output"]
    with pytest.raises(UnknownIdError, match="no sample 'nope'"):
        explainer.sample_png("nope")


# -- run_image -------------------------------------------------------------------------------


def test_run_overview_matches_a_fresh_capture(tinyvgg: Explainer, tinyvgg_run: dict) -> None:
    overview = json.loads(json.dumps(tinyvgg_run, allow_nan=False))
    graph = reference_graph(tinyvgg, photo())
    assert set(overview["nodes"]) == {node["id"] for node in tinyvgg.model_info()["nodes"]}
    for node in graph.nodes:
        stats = overview["nodes"][node.id]
        values = node.activation[0]
        assert stats["shape"] == list(node.output_shape)
        assert stats["min"] == pytest.approx(float(values.min()))
        assert stats["max"] == pytest.approx(float(values.max()))
    with torch.no_grad():
        logits = tinyvgg.model(tinyvgg.preprocessing.to_tensor(photo()))[0]
    output = overview["output"]
    assert output["node_id"] == tinyvgg.model_info()["nodes"][-1]["id"]
    assert output["logits"] == pytest.approx(logits.tolist(), abs=1e-6)
    assert output["probabilities"] == pytest.approx(torch.softmax(logits, 0).tolist(), abs=1e-6)
    best = torch.argsort(logits, descending=True)[:5].tolist()
    assert [name for name, _ in output["top"]] == [CLASSES[index] for index in best]
    assert output["top"][0][1] == pytest.approx(float(torch.softmax(logits, 0).max()))


def test_overview_input_is_the_image_as_the_model_sees_it(
    tinyvgg: Explainer, tinyvgg_run: dict
) -> None:
    png = Image.open(io.BytesIO(base64.b64decode(tinyvgg_run["input_png_base64"])))
    assert png.size == (64, 64) and png.mode == "L"
    expected = tinyvgg.preprocessing.model_view(photo())
    assert np.array_equal(np.asarray(png), np.asarray(expected))


def test_first_view_of_tinyvgg_is_small(tinyvgg: Explainer, tinyvgg_run: dict) -> None:
    node_ids = [node["id"] for node in tinyvgg.model_info()["nodes"]]
    pack = encode_pack(*tinyvgg.activations(tinyvgg_run["run_id"], node_ids, channels=(0, 16)))
    total = len(json.dumps(tinyvgg.model_info())) + len(json.dumps(tinyvgg_run)) + len(pack)
    assert total < 300_000


def test_runs_whose_input_the_store_dropped_are_unknown() -> None:
    one_input = 64 * 64 * 4
    explainer = explainer_for(
        "tinyvgg",
        64,
        1,
        max_bytes=1,  # only the newest run's activations
        store=InputStore(max_bytes=int(one_input * 2.5)),
    )
    first, second = (explainer.run_image(photo(seed))["run_id"] for seed in (1, 2))
    explainer.activations(first, ["n1"])  # touching the first makes the second the oldest
    third = explainer.run_image(photo(3))["run_id"]
    explainer.activations(first, ["n1"])
    explainer.activations(third, ["n1"])
    with pytest.raises(UnknownIdError, match="no run"):
        explainer.activations(second, ["n1"])


# -- activations -----------------------------------------------------------------------------


def test_f32_activations_are_the_captured_values(tinyvgg: Explainer, tinyvgg_run: dict) -> None:
    graph = reference_graph(tinyvgg, photo())
    ids = [node.id for node in graph.nodes]
    meta, arrays = roundtrip(tinyvgg.activations(tinyvgg_run["run_id"], ids, encoding="f32"))
    for node in graph.nodes:
        expected = node.activation[0]
        torch.testing.assert_close(
            torch.from_numpy(arrays[node.id].copy()), expected, **ACROSS_RUNS
        )
        entry = meta["nodes"][node.id]
        assert entry["encoding"] == "f32" and entry["shape"] == list(node.output_shape)
        assert entry["channels"] == ([0, expected.shape[0]] if expected.dim() > 1 else [0, 1])


def test_u8_activations_dequantise_to_within_half_a_step(
    tinyvgg: Explainer, tinyvgg_run: dict
) -> None:
    graph = reference_graph(tinyvgg, photo())
    ids = ["n1", "n5", "n11", "n12"]
    meta, arrays = roundtrip(tinyvgg.activations(tinyvgg_run["run_id"], ids, channels=(2, 6)))
    for node_id in ids:
        expected = graph.node(node_id).activation[0]
        entry, quantised = meta["nodes"][node_id], arrays[node_id]
        assert quantised.dtype == np.uint8
        if expected.dim() > 1:
            expected = expected[2:6]
            assert entry["channels"] == [2, 6] and quantised.shape[0] == 4
        scale = torch.tensor(entry["scale"], dtype=torch.float64)
        shape = (-1,) + (1,) * (expected.dim() - 1)
        low, high = scale[:, 0].reshape(shape), scale[:, 1].reshape(shape)
        restored = low + torch.from_numpy(quantised.astype(np.float64)) / 255 * (high - low)
        step = (high - low) / 255
        assert torch.all((restored - expected.double()).abs() <= step / 2 + 1e-6)
        assert quantised.max() == 255 and quantised.min() == 0  # the scale is each channel's own


def test_channel_ranges_are_clipped_and_validated(tinyvgg: Explainer, tinyvgg_run: dict) -> None:
    meta, arrays = tinyvgg.activations(tinyvgg_run["run_id"], ["n1"], channels=(8, 64))
    assert meta["nodes"]["n1"]["channels"] == [8, 10] and arrays["n1"].shape == (2, 62, 62)
    for bad in [(10, 12), (-1, 3), (4, 4)]:
        with pytest.raises(BadParameterError):
            tinyvgg.activations(tinyvgg_run["run_id"], ["n1"], channels=bad)
    with pytest.raises(BadParameterError, match="encoding"):
        tinyvgg.activations(tinyvgg_run["run_id"], ["n1"], encoding="f16")


# -- detail packs ----------------------------------------------------------------------------


def test_conv_detail_adds_up_to_the_captured_output(tinyvgg: Explainer, tinyvgg_run: dict) -> None:
    graph = reference_graph(tinyvgg, photo())
    for info in nodes_of_kind(tinyvgg, "conv2d"):
        node = graph.node(info["id"])
        for channel in (0, 9):
            meta, arrays = roundtrip(tinyvgg.detail(tinyvgg_run["run_id"], node.id, channel))
            intermediate = torch.from_numpy(arrays["intermediate"].copy())
            output = torch.from_numpy(arrays["output"].copy())
            torch.testing.assert_close(intermediate.sum(0) + meta["bias"], output, **TOLERANCE)
            torch.testing.assert_close(output, node.activation[0, channel], **ACROSS_RUNS)
            x, kernel = arrays["input"], arrays["kernel"]
            source = graph.node(node.inputs[0]).activation[0]
            torch.testing.assert_close(torch.from_numpy(x.copy()), source, **ACROSS_RUNS)
            recomputed = (
                F.conv2d(torch.from_numpy(x.copy())[None], torch.from_numpy(kernel.copy())[None])[
                    0, 0
                ]
                + meta["bias"]
            )
            torch.testing.assert_close(recomputed, output, **TOLERANCE)
            assert meta["kind"] == "conv2d" and meta["channel"] == channel
            assert meta["stride"] == [1, 1] and meta["padding"] == [0, 0]
            assert meta["in_channels"] == list(range(source.shape[0]))


def test_relu_pool_flatten_linear_softmax_details(tinyvgg: Explainer, tinyvgg_run: dict) -> None:
    run_id = tinyvgg_run["run_id"]
    graph = reference_graph(tinyvgg, photo())
    for info in nodes_of_kind(tinyvgg, "relu"):
        _, arrays = roundtrip(tinyvgg.detail(run_id, info["id"], 4))
        source = graph.node(info["inputs"][0]).activation[0, 4]
        np.testing.assert_allclose(arrays["input"], source.numpy(), **ACROSS_RUNS)
        assert np.array_equal(arrays["output"], np.maximum(arrays["input"], 0))
    for info in nodes_of_kind(tinyvgg, "max_pool2d"):
        meta, arrays = roundtrip(tinyvgg.detail(run_id, info["id"], 2))
        assert (meta["kernel_size"], meta["stride"], meta["padding"]) == ([2, 2], [2, 2], [0, 0])
        pooled = F.max_pool2d(torch.from_numpy(arrays["input"].copy())[None], 2)[0]
        assert np.array_equal(arrays["output"], pooled.numpy())
    flatten = nodes_of_kind(tinyvgg, "flatten")[0]
    meta, arrays = roundtrip(tinyvgg.detail(run_id, flatten["id"], 0))
    assert meta["input_shape"] == [10, 13, 13]
    assert np.array_equal(arrays["output"], arrays["input"].reshape(-1))
    linear = nodes_of_kind(tinyvgg, "linear")[0]
    for unit in (0, 7):
        meta, arrays = roundtrip(tinyvgg.detail(run_id, linear["id"], unit))
        assert meta["channel"] == unit
        value = float(np.dot(arrays["input"].astype(np.float64), arrays["weight"])) + meta["bias"]
        assert value == pytest.approx(float(arrays["output"][unit]), abs=1e-4)
        np.testing.assert_allclose(
            arrays["input"], graph.node(linear["inputs"][0]).activation[0], **ACROSS_RUNS
        )
    softmax = nodes_of_kind(tinyvgg, "softmax")[0]
    meta, arrays = roundtrip(tinyvgg.detail(run_id, softmax["id"], 0))
    logits = torch.from_numpy(arrays["logits"].copy())
    torch.testing.assert_close(logits, graph.node(graph.output_id).activation[0], **ACROSS_RUNS)
    torch.testing.assert_close(
        torch.from_numpy(arrays["probabilities"].copy()), torch.softmax(logits, 0), **TOLERANCE
    )
    assert meta["max_logit"] == pytest.approx(float(logits.max()))
    assert meta["sum_exp"] == pytest.approx(float(arrays["exp"].sum()), rel=1e-6)
    assert np.allclose(arrays["exp"], np.exp(arrays["logits"] - meta["max_logit"]), rtol=1e-5)


def test_residual_batch_norm_and_cat_details() -> None:
    resnet = explainer_for("resnet", 32, 3)
    run_id = resnet.run_image(photo())["run_id"]
    graph = reference_graph(resnet, photo())
    for info in nodes_of_kind(resnet, "add"):
        meta, arrays = roundtrip(resnet.detail(run_id, info["id"], 5))
        assert meta["operand_nodes"] == info["inputs"] and arrays["operands"].shape[0] == 2
        assert np.allclose(arrays["operands"].sum(0), arrays["output"], atol=1e-6)
        for operand, source in zip(arrays["operands"], info["inputs"], strict=True):
            np.testing.assert_allclose(
                operand, graph.node(source).activation[0, 5].numpy(), **ACROSS_RUNS
            )
    for info in nodes_of_kind(resnet, "batch_norm"):
        meta, arrays = roundtrip(resnet.detail(run_id, info["id"], 3))
        expected = (arrays["input"] - meta["mean"]) / np.sqrt(meta["var"] + meta["eps"]) * meta[
            "gamma"
        ] + meta["beta"]
        assert np.allclose(expected, arrays["output"], atol=1e-5)
        np.testing.assert_allclose(
            arrays["output"], graph.node(info["id"]).activation[0, 3], **ACROSS_RUNS
        )

    unet = explainer_for("unet", 32, 3)
    run_id = unet.run_image(photo())["run_id"]
    graph = reference_graph(unet, photo())
    for info in nodes_of_kind(unet, "cat"):
        meta, arrays = roundtrip(unet.detail(run_id, info["id"], 0))
        output = graph.node(info["id"]).activation[0]
        assert meta["dim"] == 0 and [source["node"] for source in meta["sources"]] == info["inputs"]
        for source in meta["sources"]:
            part = output[source["start"] : source["stop"]]
            torch.testing.assert_close(
                part, graph.node(source["node"]).activation[0], **ACROSS_RUNS
            )
        np.testing.assert_allclose(arrays["output"], output[0].numpy(), **ACROSS_RUNS)
    assert unet.run_image(photo())["output"]["top"] == []  # a segmenter: no class scores


def test_depthwise_dilated_conv_detail() -> None:
    explainer = explainer_for("branchy", 32, 3)
    run_id = explainer.run_image(photo())["run_id"]
    depthwise = next(
        node for node in explainer.model_info()["nodes"] if node["name"] == "depthwise"
    )
    meta, arrays = roundtrip(explainer.detail(run_id, depthwise["id"], 7))
    assert meta["groups"] == 12 and meta["in_channels"] == [7]
    assert meta["dilation"] == [2, 2] and meta["padding"] == [2, 2]
    assert arrays["input"].shape == (1, 16, 16) and arrays["kernel"].shape == (1, 3, 3)
    assert np.allclose(arrays["intermediate"].sum(0) + meta["bias"], arrays["output"], atol=1e-5)


def test_every_node_of_every_family_has_an_encodable_detail() -> None:
    for family, size, channels in [
        ("tinyvgg", 64, 1),
        ("resnet", 32, 3),
        ("unet", 32, 3),
        ("branchy", 32, 3),
        ("functional", 16, 3),
    ]:
        explainer = explainer_for(family, size, channels)
        run_id = explainer.run_image(photo())["run_id"]
        for node in explainer.model_info()["nodes"]:
            meta, arrays = roundtrip(explainer.detail(run_id, node["id"], 0))
            assert meta["kind"] == node["kind"] and arrays
            # values are float32; only window tables and argmax are indices
            assert all(
                array.dtype == (np.int32 if name in INDEX_ARRAYS else np.float32)
                for name, array in arrays.items()
            )


# -- errors ----------------------------------------------------------------------------------


def test_unknown_ids_are_404_and_bad_parameters_400(tinyvgg: Explainer, tinyvgg_run: dict) -> None:
    run_id = tinyvgg_run["run_id"]
    with pytest.raises(UnknownIdError) as unknown_run:
        tinyvgg.detail("no-such-run", "n1", 0)
    assert isinstance(unknown_run.value, KeyError) and unknown_run.value.status == 404
    assert str(unknown_run.value).startswith("There is no run 'no-such-run'")
    with pytest.raises(UnknownIdError, match="no node 'n99'"):
        tinyvgg.detail(run_id, "n99", 0)
    with pytest.raises(UnknownIdError):
        tinyvgg.activations(run_id, ["n1", "n99"])
    with pytest.raises(BadParameterError, match="channel 10 does not exist") as bad_channel:
        tinyvgg.detail(run_id, "n1", 10)
    assert isinstance(bad_channel.value, ValueError) and bad_channel.value.status == 400
    with pytest.raises(BadParameterError, match="unit 10"):
        tinyvgg.detail(run_id, nodes_of_kind(tinyvgg, "linear")[0]["id"], 10)
    with pytest.raises(ExplainerError):
        tinyvgg.detail(run_id, "n2", -1)
    with pytest.raises(BadParameterError, match="whole numbers"):
        tinyvgg.detail(run_id, "n2", 1.5)  # type: ignore[arg-type]
    with pytest.raises(BadParameterError, match="whole numbers"):
        tinyvgg.activations(run_id, ["n1"], channels=("0", 4))  # type: ignore[arg-type]
    with pytest.raises(BadParameterError, match=r"\[start, stop\]"):
        tinyvgg.activations(run_id, ["n1"], channels=(0, 4, 8))  # type: ignore[arg-type]


def test_a_model_failure_is_a_500_that_names_the_layer() -> None:
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(5, 2))  # needs 5 pixels
    explainer = Explainer(
        model,
        preprocessing=Preprocessing(size=(4, 4), channels=1),
        class_names=("a", "b"),
        name="broken",
    )
    with pytest.raises(ModelRunError, match=r"layer '1' \(Linear\)") as caught:
        explainer.run_image(photo())
    assert caught.value.status == 500


def test_the_run_cache_keeps_to_a_size_budget_and_recomputes_what_it_dropped() -> None:
    one_run = 4 * sum(
        torch.Size(node["shape"]).numel()
        for node in explainer_for("tinyvgg", 64, 1).model_info()["nodes"]
    )
    explainer = explainer_for("tinyvgg", 64, 1, max_bytes=int(one_run * 2.5))
    ids = [explainer.run_image(photo(seed))["run_id"] for seed in range(4)]
    assert explainer._runs.nbytes <= one_run * 2.5 and len(explainer._runs) == 2
    for run_id in ids:  # the two dropped ones are computed again from their stored inputs
        assert explainer.activations(run_id, ["n1"])[1]["n1"].shape == (10, 62, 62)
    tiny_budget = explainer_for("tinyvgg", 64, 1, max_bytes=1)
    newest = tiny_budget.run_image(photo())["run_id"]
    assert tiny_budget.activations(newest, ["n1"])[1]["n1"].shape == (10, 62, 62)


def test_functional_layers_have_the_same_details_as_modules() -> None:
    explainer = explainer_for("functional", 16, 3)
    run_id = explainer.run_image(photo())["run_id"]
    nodes = {node["kind"]: node for node in explainer.model_info()["nodes"]}
    assert nodes["reshape"]["config"] == {"op": "view", "shape": [1, -1]}
    meta, arrays = roundtrip(explainer.detail(run_id, nodes["conv2d"]["id"], 5))
    assert meta["stride"] == [2, 2] and meta["padding"] == [1, 1]
    assert np.allclose(arrays["intermediate"].sum(0) + meta["bias"], arrays["output"], atol=1e-5)
    meta, arrays = roundtrip(explainer.detail(run_id, nodes["max_pool2d"]["id"], 1))
    assert meta["kernel_size"] == [2, 2] and meta["stride"] == [2, 2]
    pooled = F.max_pool2d(torch.from_numpy(arrays["input"].copy())[None], 2)[0]
    assert np.array_equal(arrays["output"], pooled.numpy())
    meta, arrays = roundtrip(explainer.detail(run_id, nodes["linear"]["id"], 2))
    value = float(np.dot(arrays["input"].astype(np.float64), arrays["weight"])) + meta["bias"]
    assert value == pytest.approx(float(arrays["output"][2]), abs=1e-5)
    meta, arrays = roundtrip(explainer.detail(run_id, nodes["leaky_relu"]["id"], 0))
    assert meta["negative_slope"] == 0.1
    assert np.allclose(
        arrays["output"], np.where(arrays["input"] > 0, arrays["input"], 0.1 * arrays["input"])
    )


def test_the_shipped_tinyvgg_architecture_explains_end_to_end() -> None:
    from tensorsight.models.tinyvgg import TinyVGG

    torch.manual_seed(0)
    model = TinyVGG(in_channels=1, input_size=64, num_classes=10).eval()
    explainer = Explainer(
        model,
        preprocessing=Preprocessing(size=(64, 64), channels=1),
        class_names=CLASSES,
        name="tinyvgg",
    )
    nodes = explainer.model_info()["nodes"]
    assert [node["name"] for node in nodes if node["kind"] == "conv2d"] == [
        "conv_1_1",
        "conv_1_2",
        "conv_2_1",
        "conv_2_2",
    ]
    assert nodes[-1]["synthetic"] and nodes[-2]["name"] == "output"
    run_id = explainer.run_image(photo())["run_id"]
    for node in nodes:
        if node["kind"] == "conv2d":
            meta, arrays = roundtrip(explainer.detail(run_id, node["id"], 3))
            assert np.allclose(
                arrays["intermediate"].sum(0) + meta["bias"], arrays["output"], rtol=1e-5, atol=1e-5
            )
