"""capture() against plain forward passes of every architecture family in tests/architectures."""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as module_hooks

from architectures import FAMILIES, build
from tensorsight.capturing import ELEMENTWISE_KINDS, KINDS, CaptureError, Graph, Node, capture


def plain_forward_outputs(model: nn.Module, x: torch.Tensor) -> tuple[dict, torch.Tensor]:
    """Outputs of every module call in an ordinary forward pass: {(path, call number): tensor}."""
    outputs: dict[tuple[str, int], torch.Tensor] = {}
    calls: Counter[str] = Counter()
    handles = []
    for path, module in model.named_modules():

        def record(module: nn.Module, args: tuple, output: object, path: str = path) -> None:
            if isinstance(output, torch.Tensor):
                calls[path] += 1
                outputs[(path, calls[path])] = output.detach().clone()

        handles.append(module.register_forward_hook(record))
    try:
        with torch.no_grad():
            result = model(x)
    finally:
        for handle in handles:
            handle.remove()
    return outputs, result


def _inputs(graph: Graph, node: Node) -> list[torch.Tensor]:
    return [graph.node(source).activation for source in node.inputs]


# How each functional kind is recomputed from the activations of the nodes that fed it.
RECOMPUTE: dict[str, Callable[[Node, list[torch.Tensor]], torch.Tensor]] = {
    "conv2d": lambda node, xs: F.conv2d(
        xs[0],
        node.parameters["weight"],
        node.parameters["bias"],
        stride=node.config["stride"],
        padding=node.config["padding"],
    ),
    "linear": lambda node, xs: F.linear(xs[0], node.parameters["weight"], node.parameters["bias"]),
    "leaky_relu": lambda node, xs: F.leaky_relu(xs[0], node.config["negative_slope"]),
    "max_pool2d": lambda node, xs: F.max_pool2d(xs[0], node.config["kernel_size"]),
    "add": lambda node, xs: xs[0] + xs[1],
    "relu": lambda node, xs: F.relu(xs[0]),
    "tanh": lambda node, xs: torch.tanh(xs[0]),
    "cat": lambda node, xs: torch.cat(xs, dim=node.config["dim"]),
    "flatten": lambda node, xs: torch.flatten(
        xs[0], node.config["start_dim"], node.config["end_dim"]
    ),
    "reshape": lambda node, xs: xs[0].reshape(node.output_shape),
    "mean": lambda node, xs: xs[0].mean(dim=tuple(node.config["dim"])),
    "softmax": lambda node, xs: torch.softmax(xs[0], dim=node.config["dim"]),
    "upsample": lambda node, xs: F.interpolate(
        xs[0], scale_factor=node.config["scale_factor"], mode=node.config["mode"]
    ),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_leaf_activation_equals_the_plain_forward_pass(family: str) -> None:
    model, x = build(family)
    expected, _ = plain_forward_outputs(model, x)
    graph = capture(model, x)
    calls: Counter[str] = Counter()
    leaves = [node for node in graph.nodes if node.module_path is not None]
    assert leaves, "every family has leaf modules"
    for node in leaves:
        calls[node.module_path] += 1
        reference = expected[(node.module_path, calls[node.module_path])]
        # Another forward pass: equal up to how a busy thread pool may split reductions.
        torch.testing.assert_close(node.activation, reference, rtol=1e-6, atol=1e-6, msg=node.name)
        assert node.output_shape == tuple(reference.shape)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_functional_node_recomputes_from_its_inputs(family: str) -> None:
    model, x = build(family)
    graph = capture(model, x)
    functional = [node for node in graph.nodes if node.module_path is None and node.kind != "input"]
    for node in functional:
        assert node.kind in RECOMPUTE, f"no reference for {node.kind} ({node.name})"
        recomputed = RECOMPUTE[node.kind](node, _inputs(graph, node))
        torch.testing.assert_close(node.activation, recomputed, msg=node.name)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_graph_shape_input_first_and_output_is_the_model_result(family: str) -> None:
    model, x = build(family)
    with torch.no_grad():
        expected = model(x)
    graph = capture(model, x)
    assert graph.nodes[0].kind == "input"
    torch.testing.assert_close(graph.nodes[0].activation, x, rtol=0, atol=0)
    torch.testing.assert_close(
        graph.node(graph.output_id).activation, expected, rtol=1e-6, atol=1e-6
    )
    ids = [node.id for node in graph.nodes]
    assert ids == [f"n{index}" for index in range(len(ids))]
    assert len({node.name for node in graph.nodes}) == len(ids)
    for position, node in enumerate(graph.nodes):
        assert node.kind in KINDS
        assert all(ids.index(source) < position for source in node.inputs), node.name
        assert not node.activation.requires_grad
        assert node.activation.device.type == "cpu"
    assert all(node.inputs for node in graph.nodes[1:])


def test_residual_adds_have_both_branches_as_inputs() -> None:
    model, x = build("resnet")
    graph = capture(model, x)
    by_name = {node.name: node for node in graph.nodes}
    adds = [node for node in graph.nodes if node.kind == "add"]
    assert len(adds) == 3
    first = adds[0]
    assert first.group == "layer1.0" and first.module_path is None
    assert set(first.inputs) == {by_name["stem.2"].id, by_name["layer1.0.bn"].id}
    # `out += shortcut(x)` is in place: the add is a node, and the conv keeps its own value.
    in_place = adds[2]
    assert set(in_place.inputs) == {by_name["layer2.conv"].id, by_name["layer2.shortcut"].id}
    assert by_name["layer2.relu"].inputs == (in_place.id,)
    assert not torch.equal(by_name["layer2.conv"].activation, in_place.activation)


def test_unet_concatenations_take_the_skip_connections() -> None:
    model, x = build("unet")
    graph = capture(model, x)
    by_name = {node.name: node for node in graph.nodes}
    cats = [node for node in graph.nodes if node.kind == "cat"]
    assert [cat.inputs for cat in cats] == [
        (by_name["up2"].id, by_name["down2.1"].id),
        (by_name["upsample_1"].id, by_name["down1.1"].id),
    ]
    assert by_name["pool"].output_shape == (1, 8, 16, 16)
    assert by_name["pool#2"].output_shape == (1, 16, 8, 8)  # the same MaxPool2d, called again


def test_shape_dependent_branch_follows_the_input() -> None:
    model, x = build("branchy")
    large = [node.kind for node in capture(model, x).nodes]
    small = [node.kind for node in capture(model, x[..., :16, :16]).nodes]
    assert "avg_pool2d" in large and "avg_pool2d" not in small
    assert large[-1] == small[-1] == "softmax"


def test_configs_and_parameters_come_from_the_modules() -> None:
    model, x = build("branchy")
    graph = capture(model, x)
    depthwise = next(node for node in graph.nodes if node.name == "depthwise")
    assert depthwise.kind == "conv2d" and depthwise.module_type == "Conv2d"
    assert depthwise.config["groups"] == 12
    assert depthwise.config["dilation"] == [2, 2] and depthwise.config["padding"] == [2, 2]
    assert depthwise.parameters["weight"] is not model.depthwise.weight
    torch.testing.assert_close(depthwise.parameters["weight"], model.depthwise.weight)
    batch_norm = next(node for node in graph.nodes if node.kind == "batch_norm")
    torch.testing.assert_close(batch_norm.parameters["running_var"], model.bn.running_var)
    assert batch_norm.config["eps"] == model.bn.eps
    mean = next(node for node in graph.nodes if node.kind == "mean")
    assert mean.config["dim"] == [2, 3]


def test_kinds_come_from_module_types_not_names() -> None:
    misleading = nn.Sequential(OrderedDict(conv=nn.ReLU(), relu=nn.Identity(), pool=nn.Tanh()))
    graph = capture(misleading, torch.randn(1, 4))
    assert [node.kind for node in graph.nodes] == ["input", "relu", "identity", "tanh"]


class _Trivia(nn.Module):
    """Metadata reads and layout changes between layers must not become nodes."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.size(0)
        x = x.transpose(1, 2).contiguous().float().detach()
        assert x.dim() == 3 and x.shape[0] == batch
        return self.linear(x.reshape(batch, -1))


def test_metadata_and_layout_ops_are_not_nodes_but_keep_edges() -> None:
    graph = capture(_Trivia(), torch.randn(2, 3, 2))
    assert [node.name for node in graph.nodes] == ["input", "transpose_1", "reshape_1", "linear"]
    assert graph.nodes[2].inputs == (graph.nodes[1].id,)
    assert graph.nodes[3].inputs == (graph.nodes[2].id,)


def _hook_counts(model: nn.Module) -> int:
    """The model's hooks, and torch.nn's global ones (a capture registers two of those)."""
    own = sum(
        len(module._forward_hooks)
        + len(module._forward_pre_hooks)
        + len(module._forward_hooks_with_kwargs)
        + len(module._forward_pre_hooks_with_kwargs)
        + len(module._forward_hooks_always_called)
        for module in model.modules()
    )
    return (
        own + len(module_hooks._global_forward_hooks) + len(module_hooks._global_forward_pre_hooks)
    )


def test_a_forward_hook_of_the_model_that_replaces_an_output_is_seen() -> None:
    """The capture reads each output after the model's own forward hooks have run."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 1, 1))
    handle = model[0].register_forward_hook(lambda module, args, output: output * 2 - 1)
    x = torch.randn(1, 1, 6, 6)
    try:
        graph = capture(model, x)
        with torch.no_grad():
            doubled = model[0](x)
        assert _hook_counts(model) == 1  # the model's own hook, and nothing of ours
    finally:
        handle.remove()
    conv, relu = graph.nodes[1], graph.nodes[2]
    torch.testing.assert_close(conv.activation, doubled)
    assert relu.inputs == (conv.id,)
    torch.testing.assert_close(relu.activation, doubled.relu())


def test_captures_of_one_model_in_two_threads_at_once_each_see_their_own_run() -> None:
    """The capture's hooks are global to torch.nn, so each one checks the call is its own."""
    model, x = build("resnet")
    inputs = [x, torch.randn_like(x), torch.randn_like(x) * 3]
    alone = [capture(model, value) for value in inputs]
    start = threading.Barrier(len(inputs))

    def run(value: torch.Tensor) -> list[Graph]:
        start.wait()
        return [capture(model, value) for _ in range(5)]

    with ThreadPoolExecutor(len(inputs)) as pool:
        together = list(pool.map(run, inputs))
    for expected, graphs in zip(alone, together, strict=True):
        for graph in graphs:
            assert [node.name for node in graph.nodes] == [node.name for node in expected.nodes]
            assert [node.inputs for node in graph.nodes] == [n.inputs for n in expected.nodes]
            for node, reference in zip(graph.nodes, expected.nodes, strict=True):
                torch.testing.assert_close(node.activation, reference.activation)
    assert _hook_counts(model) == 0


def test_hooks_removed_training_flags_restored_and_grad_mode_kept() -> None:
    model, x = build("resnet")
    model.train()
    model.layer1[1].eval()  # a mixed state must come back exactly
    before = {name: module.training for name, module in model.named_modules()}
    graph = capture(model, x)
    assert {name: module.training for name, module in model.named_modules()} == before
    assert _hook_counts(model) == 0
    assert torch.is_grad_enabled()
    # eval mode during capture: batch norm used its running statistics
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(graph.node(graph.output_id).activation, model(x))


class _BadHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(7, 2))  # wrong: features give 8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def test_failure_names_the_layer_and_keeps_the_cause() -> None:
    model = _BadHead().train()
    with pytest.raises(CaptureError, match=r"layer 'head\.1' \(Linear\)") as caught:
        capture(model, torch.randn(1, 1, 4, 4))
    assert caught.value.module_path == "head.1" and caught.value.module_type == "Linear"
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert "mat1 and mat2" in str(caught.value)
    assert _hook_counts(model) == 0 and model.training and model.head[1].training
    # It failed inside a layer run without the function listener: torch functions are back on.
    assert torch._C._is_torch_function_enabled()
    functional, x = build("functional")  # F.conv2d, F.leaky_relu...: seen by the listener only
    kinds = [node.kind for node in capture(functional, x).nodes]
    assert kinds == ["input", "conv2d", "leaky_relu", "other", "max_pool2d", "reshape", "linear"]


class _BadCat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = _Joiner()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class _Joiner(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, x[:, :, :1]], dim=1)


def test_failure_in_a_functional_op_names_the_module_and_the_op() -> None:
    with pytest.raises(CaptureError, match=r"layer 'block' \(_Joiner\) at cat"):
        capture(_BadCat(), torch.randn(1, 2, 3, 3))


def test_capture_rejects_a_non_tensor_input() -> None:
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        capture(nn.ReLU(), [1.0, 2.0])  # type: ignore[arg-type]


class _Overwriter(nn.Module):
    """Overwrites values after they are recorded, in ways capture sees and in one it cannot."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.ReLU(inplace=True)  # overwrites the caller's input
        self.conv = nn.Conv2d(1, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first(x)
        y = self.conv(x)
        y[:, 0] = 0.0  # __setitem__ writes into the conv's output
        z = F.relu(y * 2, inplace=True)
        with torch._C.DisableTorchFunction():  # a write no listener sees: only versions tell
            z.sub_(1.0)
        return z * 1.0


def test_values_overwritten_in_place_keep_what_they_were_when_recorded() -> None:
    model, x = _Overwriter(), _seeded_input()
    original = x.clone()
    graph = capture(model, x)
    first, conv, setitem, mul, relu, scaled = graph.nodes[1:]
    assert torch.equal(graph.nodes[0].activation, original)  # the input before ReLU overwrote it
    assert torch.equal(first.activation, F.relu(original))
    with torch.no_grad():
        conv_output = model.conv(F.relu(original))
    assert torch.equal(conv.activation, conv_output) and (conv.activation[:, 0] != 0).any()
    assert setitem.kind == "other" and torch.equal(
        setitem.activation[:, 0], torch.zeros_like(conv_output[:, 0])
    )
    assert mul.kind == "mul" and (mul.activation < 0).any()  # kept its negatives
    assert relu.kind == "relu" and torch.equal(relu.activation, F.relu(mul.activation))
    assert torch.equal(scaled.activation, relu.activation - 1.0)
    assert graph.output_id == scaled.id


def _seeded_input() -> torch.Tensor:
    return torch.randn((1, 1, 5, 5), generator=torch.Generator().manual_seed(3))


class _Scale(nn.Module):
    """A user layer with its own weight and no sub-modules: one leaf node, its ops hidden."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.full((3, 1, 1), 2.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x * self.gain + 1)


class _FunctionalConv(nn.Module):
    """Weights used through torch.nn.functional by a module that also has children."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(4, 3, 3, 3))
        self.bias = nn.Parameter(torch.randn(4))
        self.scale = _Scale()
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.scale(x)
        return self.act(F.conv2d(x, self.weight, self.bias, stride=2, padding=1))


def test_user_leaves_and_functional_layers_carry_config_and_parameters() -> None:
    model = _FunctionalConv()
    graph = capture(model, torch.randn(1, 3, 8, 8))
    assert [(node.kind, node.name) for node in graph.nodes] == [
        ("input", "input"),
        ("other", "scale"),
        ("conv2d", "conv2d_1"),
        ("relu", "act"),
    ]
    scale, conv = graph.nodes[1], graph.nodes[2]
    assert scale.module_type == "_Scale" and set(scale.parameters) == {"gain"}
    assert conv.module_path is None and conv.inputs == (scale.id,)
    assert conv.config == {
        "stride": [2, 2],
        "padding": [1, 1],
        "dilation": [1, 1],
        "groups": 1,
        "in_channels": 3,
        "out_channels": 4,
        "kernel_size": [3, 3],
        "bias": True,
    }
    torch.testing.assert_close(conv.parameters["weight"], model.weight)
    torch.testing.assert_close(
        conv.activation, F.conv2d(scale.activation, model.weight, model.bias, stride=2, padding=1)
    )


class _TupleOutputs(nn.Module):
    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        left, right = torch.chunk(x, 2, dim=1)
        return {"joined": left * right, "left": left}


def test_ops_with_several_outputs_get_one_node_each_and_dict_outputs_work() -> None:
    graph = capture(_TupleOutputs(), torch.randn(1, 4, 3))
    assert [node.name for node in graph.nodes] == ["input", "chunk_1.0", "chunk_1.1", "mul_1"]
    assert graph.nodes[3].inputs == ("n1", "n2")
    assert graph.output_id == "n3"


def test_tensorsight_capture_is_the_function_even_after_the_package_is_imported() -> None:
    import tensorsight
    import tensorsight.capturing  # must not rebind tensorsight.capture

    model, x = build("tinyvgg")
    graph = tensorsight.capture(model, x)
    assert isinstance(graph, Graph) and graph.nodes[-1].kind == "linear"


@pytest.mark.parametrize(
    "layer",
    [
        *(nn.ReLU(), nn.ReLU6(), nn.LeakyReLU(0.1), nn.GELU(), nn.SiLU(), nn.Sigmoid()),
        *(nn.Tanh(), nn.Hardswish(), nn.Dropout(0.5), nn.Identity()),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_elementwise_kinds_are_the_layers_that_map_each_element_alone(layer: nn.Module) -> None:
    """ELEMENTWISE_KINDS (shared by details, deform and receptive fields) is exactly these."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3), layer).eval()
    x = torch.randn(1, 1, 6, 6)
    graph = capture(model, x)
    assert graph.nodes[-1].kind in ELEMENTWISE_KINDS
    assert ELEMENTWISE_KINDS <= KINDS
    # Each output element depends on the same element of the input, and on no other one.
    before = (0.1 + 0.8 * torch.rand(1, 2, 4, 4)).requires_grad_(True)
    layer(before)[0, 1, 2, 3].backward()
    assert before.grad is not None
    assert {tuple(place) for place in before.grad.nonzero().tolist()} == {(0, 1, 2, 3)}


def test_elementwise_kinds_list_every_elementwise_capture_kind() -> None:
    assert {"relu", "relu6", "leaky_relu", "gelu", "silu", "sigmoid", "tanh", "hardswish"} | {
        "dropout",
        "identity",
    } == ELEMENTWISE_KINDS


def test_a_layer_changed_between_captures_shows_its_new_settings() -> None:
    """Configs are remembered per layer; changing any setting (or the bias) is seen."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
    x = torch.randn(1, 1, 9, 9)
    assert capture(model, x).nodes[1].config["stride"] == [1, 1]
    model[0].stride = (2, 2)
    changed = capture(model, x).nodes[1]
    assert changed.config["stride"] == [2, 2] and changed.output_shape == (1, 2, 4, 4)
    model[0].padding_mode = "reflect"
    assert capture(model, x).nodes[1].config["padding_mode"] == "reflect"
    model[0].bias = None
    assert capture(model, x).nodes[1].config["bias"] is False
    model[0].dilation = [2, 2]  # a list, which may change inside: never remembered
    assert capture(model, x).nodes[1].config["dilation"] == [2, 2]
    model[0].dilation[0] = 1
    assert capture(model, x).nodes[1].config["dilation"] == [1, 2]


def test_a_remembered_config_is_each_captures_own() -> None:
    """Editing one graph's config (a caller may) changes no later capture's."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2))
    x = torch.randn(1, 1, 9, 9)
    first = capture(model, x).nodes[1].config
    first["stride"] = "edited"
    first["extra"] = 1
    again = capture(model, x).nodes[1].config
    assert again["stride"] == [2, 2] and "extra" not in again
