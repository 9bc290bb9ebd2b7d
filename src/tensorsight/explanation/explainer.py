"""The explainer session: a model, how images reach it, and its runs.

Both hosts (the HTTP server and the Jupyter widget) call exactly these methods
(docs/architecture.md, "Explanation"); each returns JSON-able data or a ``(meta, arrays)`` pack.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from tensorsight.capturing import CaptureError, Graph, Node, capture
from tensorsight.explanation.details import check_channel, detail_pack, per_image, terms_pack
from tensorsight.explanation.errors import BadParameterError, ModelRunError, UnknownIdError
from tensorsight.explanation.feeds import node_feeds
from tensorsight.explanation.host import HostGraph, to_host, value_ranges
from tensorsight.explanation.latent import (
    VERDICT_NOTE,
    critic_input,
    image_png_base64,
    latent_vector,
    verdict,
)
from tensorsight.explanation.memory import release_freed_memory
from tensorsight.explanation.runs import (
    RUN_ID,
    ByteLru,
    InputStore,
    model_digest,
    run_id_for,
)
from tensorsight.imaging import Preprocessing, decode_image

if TYPE_CHECKING:
    from PIL import Image

    from tensorsight.models import ModelBundle, Sample

# Runs of a big network hold hundreds of MB of activations: the cache has a size budget.
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
TOP_CLASSES = 5
ENCODINGS = ("u8", "f32")


@dataclass(frozen=True)
class _Run:
    graph: Graph
    synthetic: frozenset[str]
    # The overview's node statistics and output summary, made on first asking: a run's numbers
    # never change, and every student who opens the same sample asks for them again.
    summary: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def nbytes(self) -> int:
        return sum(
            node.activation.numel() * node.activation.element_size() for node in self.graph.nodes
        )


class Explainer:
    """Runs images through a model and answers the front end's questions about them.

    A run's id derives from the model and the preprocessed input (the same picture is the same
    run). Inputs are kept in ``store`` (default: this process's memory, bounded); activations
    in a cache of ``max_bytes`` (the newest run is always kept). A run whose activations were
    evicted is recomputed from its stored input, with the same numbers; only a run whose input
    the store no longer has raises :class:`UnknownIdError`.

    >>> import numpy as np
    >>> from tensorsight.models import load_model
    >>> explainer = Explainer.from_bundle(load_model("tinyvgg"))
    >>> overview = explainer.run_sample(explainer.samples()[0]["id"])
    >>> meta, arrays = explainer.detail(overview["run_id"], "n1", channel=0)
    >>> np.allclose(arrays["intermediate"].sum(0) + meta["bias"], arrays["output"], atol=1e-5)
    True
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        preprocessing: Preprocessing,
        class_names: Sequence[str],
        name: str,
        samples: Iterable[Sample] = (),
        max_bytes: int = DEFAULT_MAX_BYTES,
        store: InputStore | None = None,
        latent_dim: int | None = None,
        critic: nn.Module | None = None,
        exemplars: Path | None = None,
    ) -> None:
        self.model = model
        # A generator takes a latent vector [1, latent_dim, 1, 1] instead of an image, and may
        # come with the discriminator (critic) trained against it.
        self.latent_dim = latent_dim
        self.critic = critic.eval() if critic is not None else None
        self.exemplars = exemplars  # the bundle's channel exemplars folder (attribution.exemplars)
        self.preprocessing = preprocessing
        self.class_names = tuple(class_names)
        self.name = name
        self._samples = {sample.id: sample for sample in samples}
        self.store = store if store is not None else InputStore()
        self._runs: ByteLru[_Run] = ByteLru(max_bytes, lambda run: run.nbytes, self._evicted)
        self._model_id = model_digest(model)
        self._run_bytes = 0
        self._structure: _Run | None = None

    @classmethod
    def from_bundle(cls, bundle: ModelBundle, **options: Any) -> Explainer:
        """An explainer for a :class:`~tensorsight.models.bundle.ModelBundle`."""
        latent_dim = bundle.card.get("latent_dim")
        return cls(
            bundle.model,
            preprocessing=bundle.preprocessing,
            class_names=bundle.class_names,
            name=bundle.name,
            samples=bundle.samples,
            latent_dim=int(latent_dim) if latent_dim else None,
            critic=bundle.critic,
            exemplars=bundle.exemplars,
            **options,
        )

    # -- the model -----------------------------------------------------------------------------

    def model_info(self) -> dict[str, Any]:
        """Name, classes, input format and every node of the network (from a blank probe run)."""
        if self._structure is None:
            height, width = self.preprocessing.size
            probe = torch.zeros(1, self.preprocessing.channels, height, width)
            self._structure = self._capture(probe)
        run = self._structure
        height, width = self.preprocessing.size
        info: dict[str, Any] = {
            "name": self.name,
            "classes": list(self.class_names),
            "input": {
                "channels": self.preprocessing.channels,
                "height": height,
                "width": width,
                "description": self.preprocessing.describe(),
            },
            "nodes": [
                {
                    **node.describe(),
                    "synthetic": node.id in run.synthetic,
                    "feeds": node_feeds(run.graph, node),
                }
                for node in run.graph.nodes
            ],
        }
        if self.latent_dim:
            info["input"]["description"] = (
                f"a latent vector z of {self.latent_dim} numbers drawn from N(0, 1)"
            )
            info["latent"] = {
                "dim": self.latent_dim,
                "distribution": "standard normal",
                "critic": self.critic is not None,
                "verdict_note": VERDICT_NOTE,
            }
        return info

    def samples(self) -> list[dict[str, Any]]:
        """The sample images that ship with the model: ``[{id, label, filename}]``."""
        return [
            {"id": sample.id, "label": sample.label, "filename": sample.path.name}
            for sample in self._samples.values()
        ]

    def sample_png(self, sample_id: str) -> bytes:
        """The sample image as PNG bytes."""
        path = self._sample(sample_id).path
        if path.suffix.lower() == ".png":
            return path.read_bytes()
        return _png(decode_image(path.read_bytes()))

    # -- runs ----------------------------------------------------------------------------------

    def run_sample(self, sample_id: str) -> dict[str, Any]:
        """:meth:`run_image` on a shipped sample."""
        return self.run_image(decode_image(self._sample(sample_id).path.read_bytes()))

    def run_image(self, image: Image.Image) -> dict[str, Any]:
        """Preprocess ``image``, run the model once, keep the run, and return its overview.

        The overview holds the input as the model sees it (PNG, base64), every node's value
        range (overall and per channel) and the output: logits, probabilities, top classes.
        """
        if self.latent_dim:
            raise BadParameterError(
                f"{self.name} is a generator: its input is a latent vector, not an image. Run "
                "a latent vector (run_latent), or ask its discriminator about a photo "
                "(judge_image)."
            )
        view = self.preprocessing.model_view(image)
        x = torch.from_numpy(self.preprocessing.view_array(view))[None]
        run_id, run = self._kept(x)
        return self._overview(run_id, run, _png(view))

    def overview(self, run_id: str) -> dict[str, Any]:
        """The overview of a run this explainer knows (what :meth:`run_image` answered), e.g.
        to reopen a shared link to an upload; the input picture is rebuilt from the stored
        input tensor. :class:`UnknownIdError` once the store no longer has it."""
        run = self._run(run_id)
        x = self.store.get(run_id)
        if x is None:
            raise UnknownIdError(f"There is no run {run_id!r} (run the image again).")
        return self._overview(run_id, run, _png(self._model_view_of(x)))

    def _overview(self, run_id: str, run: _Run, input_png: bytes) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "input_png_base64": base64.b64encode(input_png).decode("ascii"),
            **self._summary(run),
        }

    def _summary(self, run: _Run) -> dict[str, Any]:
        """``{"nodes": ..., "output": ...}`` of the overview, made once per run."""
        if not run.summary:
            run.summary.update(nodes=_node_stats(run.graph), output=self._output_summary(run.graph))
        return run.summary

    def run_latent(
        self, z: Sequence[float] | None = None, *, seed: int | None = None
    ) -> dict[str, Any]:
        """Run a generator on latent vector ``z`` (or a seeded N(0, 1) draw; a fresh one when
        both are None) and return its overview, with ``latent`` (the numbers of z),
        ``image_png_base64`` (the generated image) and ``verdict`` (the discriminator's).

        >>> explainer.run_latent(seed=0)["verdict"]["p_real"]  # doctest: +SKIP
        0.46...
        """
        if not self.latent_dim:
            raise BadParameterError(f"{self.name} takes images, not latent vectors.")
        latent = latent_vector(self.latent_dim, z, seed)
        run_id, run = self._kept(latent)
        image = to_host(run.graph.output.activation)
        return {
            "run_id": run_id,
            "latent": latent.flatten().tolist(),
            "input_png_base64": image_png_base64(image),
            "image_png_base64": image_png_base64(image),
            **self._summary(run),
            "verdict": verdict(self.critic, image) if self.critic is not None else None,
        }

    def judge_image(self, image: Image.Image) -> dict[str, Any]:
        """The discriminator's verdict on a photo, with the photo as it sees it (PNG)."""
        if self.critic is None or not self.latent_dim:
            raise BadParameterError(f"{self.name} has no discriminator to judge images with.")
        shape = self.model_info()["nodes"][-1]["shape"]
        x = critic_input(image, (int(shape[2]), int(shape[3])), int(shape[1]))
        return {**verdict(self.critic, x), "input_png_base64": image_png_base64(x)}

    def _model_view_of(self, x: torch.Tensor) -> Image.Image:
        """The 8-bit picture a preprocessed input came from (undoing mean and std)."""
        from PIL import Image

        values = per_image(x).detach().to(torch.float32).cpu().numpy()
        if self.preprocessing.mean:
            mean = np.asarray(self.preprocessing.mean, np.float32)[:, None, None]
            std = np.asarray(self.preprocessing.std, np.float32)[:, None, None]
            values = values * std + mean
        pixels = np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)
        if pixels.shape[0] == 1:
            return Image.fromarray(pixels[0], "L")
        return Image.fromarray(pixels.transpose(1, 2, 0), "RGB")

    def activations(
        self,
        run_id: str,
        node_ids: Sequence[str],
        *,
        channels: tuple[int, int] | None = None,
        encoding: str = "u8",
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The activations of ``node_ids`` as a pack: ``[channels, H, W]`` maps, or vectors.

        ``u8`` quantises each channel to 0..255 over its own ``scale`` ``[min, max]`` (a vector
        counts as one channel); ``f32`` sends the values. ``channels=(start, stop)`` limits the
        maps sent; vectors are always sent whole. Computed where the run lives; only the
        arrays sent cross to the host.
        """
        if encoding not in ENCODINGS:
            raise BadParameterError(f"encoding must be one of {ENCODINGS}, not {encoding!r}.")
        graph = self._run(run_id).graph
        meta: dict[str, Any] = {}
        arrays: dict[str, np.ndarray] = {}
        for node_id in node_ids:
            node = _node(graph, node_id)
            values = per_image(node.activation).to(torch.float32)
            if values.dim() == 1:
                start, stop = 0, 1
            else:
                start, stop = _channel_range(channels, values.shape[0])
                values = values[start:stop]
            low, high = _channel_scales(values)
            meta[node_id] = {
                "shape": list(node.output_shape),
                "channels": [start, stop],
                "encoding": encoding,
                "scale": to_host(torch.stack((low, high), dim=1)).tolist(),
            }
            sent = _quantise(values, low, high) if encoding == "u8" else values.contiguous()
            arrays[node_id] = to_host(sent).numpy()
        return {"nodes": meta}, arrays

    def detail(
        self, run_id: str, node_id: str, channel: int = 0
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The numbers behind one node's detail view for one channel (or unit), as a pack
        (computed on the host from the nodes it reads, moved there from the run's device)."""
        _check_whole_numbers("channel", channel)
        graph = HostGraph.of(self._run(run_id).graph)
        return detail_pack(graph, _node(graph, node_id), channel)

    def terms(
        self, run_id: str, node_id: str, channel: int, row: int, col: int
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """One convolution window term by term (patch, products), fetched as the view moves.

        >>> meta, arrays = explainer.terms(run_id, "n1", 0, 2, 3)  # doctest: +SKIP
        >>> arrays["products"].sum() + meta["bias"]  # == output[2, 3]  # doctest: +SKIP
        """
        _check_whole_numbers("channel, row and col", channel, row, col)
        graph = HostGraph.of(self._run(run_id).graph)
        return terms_pack(graph, _node(graph, node_id), channel, row, col)

    # -- internals -----------------------------------------------------------------------------

    def _kept(self, x: torch.Tensor) -> tuple[str, _Run]:
        """The run of input ``x`` (cached or computed), its input stored for recomputing."""
        run_id = run_id_for(self._model_id, x)
        run = self._runs.get(run_id) or self._computed(run_id, x)
        self.store.put(run_id, x)
        return run_id, run

    def _capture(self, x: torch.Tensor) -> _Run:
        weight = next(
            (tensor for tensor in self.model.parameters() if tensor.is_floating_point()), None
        )
        if weight is not None:  # a model on the GPU or in half precision gets its input so too
            x = x.to(device=weight.device, dtype=weight.dtype)
        try:
            graph = capture(self.model, x)
        except CaptureError as error:
            raise ModelRunError(f"The model {self.name!r} failed on this input. {error}") from error
        output = graph.output
        scores = per_image(output.activation)
        if output.kind in ("softmax", "sigmoid") or scores.dim() != 1:
            return _Run(graph, frozenset())  # already probabilities, or not class scores
        if scores.numel() == 1:  # one logit (a discriminator, a yes/no model): its sigmoid
            kind, probabilities = "sigmoid", torch.sigmoid(output.activation)
        else:
            kind, probabilities = "softmax", torch.softmax(output.activation, dim=-1)
        synthetic = Node(
            id=f"n{len(graph.nodes)}",
            kind=kind,
            name=kind,
            module_path=None,
            module_type=None,
            config={"dim": -1} if kind == "softmax" else {},
            inputs=(output.id,),
            output_shape=output.output_shape,
            activation=probabilities,
            parameters={},
            group=None,
        )
        return _Run(Graph((*graph.nodes, synthetic), synthetic.id), frozenset({synthetic.id}))

    def _output_summary(self, graph: Graph) -> dict[str, Any]:
        output = graph.output
        if output.kind not in ("softmax", "sigmoid") or not output.inputs:
            return {"node_id": output.id, "logits": [], "probabilities": [], "top": []}
        logits = to_host(per_image(graph.node(output.inputs[0]).activation))
        probabilities = to_host(per_image(output.activation))
        if output.kind == "sigmoid":
            if probabilities.numel() != 1:
                return {"node_id": output.id, "logits": [], "probabilities": [], "top": []}
            name = self.class_names[0] if self.class_names else "yes"
            p = float(probabilities[0])
            pairs: list[list[Any]] = [[name, p], [f"not {name}", 1 - p]]
            return {
                "node_id": output.id,
                "logits": logits.tolist(),
                "probabilities": probabilities.tolist(),
                "top": pairs if p >= 0.5 else pairs[::-1],
            }
        names = (
            self.class_names
            if len(self.class_names) == probabilities.numel()
            else tuple(str(index) for index in range(probabilities.numel()))
        )
        order = torch.argsort(probabilities, descending=True)[:TOP_CLASSES]
        return {
            "node_id": output.id,
            "logits": logits.tolist(),
            "probabilities": probabilities.tolist(),
            "top": [[names[index], float(probabilities[index])] for index in order.tolist()],
        }

    def run_graph(self, run_id: str) -> Graph:
        """The captured graph of a kept run (with the synthetic softmax, when one was added);
        for views computed elsewhere (attribution, receptive fields). ``UnknownIdError`` if
        the run expired."""
        return self._run(run_id).graph

    def _run(self, run_id: str) -> _Run:
        """The run's capture: cached, or computed again from its stored input."""
        run = self._runs.get(run_id)
        if run is not None:
            self.store.touch(run_id)
            return run
        x = self.store.get(run_id) if RUN_ID.fullmatch(run_id) else None
        # A store shared by several models (serve --model a --model b) holds the others' runs
        # too: the id names its model, so only this model's runs are recomputed here.
        if x is not None and run_id_for(self._model_id, x) != run_id:
            x = None
        if x is None:
            raise UnknownIdError(
                f"There is no run {run_id!r} (this server does not know that image; run it again)."
            )
        return self._computed(run_id, x)

    def _computed(self, run_id: str, x: torch.Tensor) -> _Run:
        """Capture ``x`` into the cache, making room first so old and new never both pass it."""
        with self._runs.room_for(self._run_bytes):
            run = self._capture(x)
        self._runs.put(run_id, run)
        self._run_bytes = run.nbytes  # the next run of this model is about as large
        return run

    def _evicted(self) -> None:
        # The next capture reuses what the evicted runs freed; more than that goes back.
        release_freed_memory(keep_bytes=self._run_bytes + self._run_bytes // 4)

    def _sample(self, sample_id: str) -> Sample:
        sample = self._samples.get(sample_id)
        if sample is None:
            raise UnknownIdError(f"There is no sample {sample_id!r} for model {self.name!r}.")
        return sample


def _node(graph: Graph, node_id: str) -> Node:
    if node_id not in graph:
        raise UnknownIdError(f"This network has no node {node_id!r}.")
    return graph.node(node_id)


def _channel_range(channels: tuple[int, int] | None, count: int) -> tuple[int, int]:
    if channels is None:
        return 0, count
    if len(channels) != 2:
        raise BadParameterError(f"channels must be [start, stop], not {list(channels)!r}.")
    start, stop = channels
    _check_whole_numbers("channels", start, stop)
    if start < 0 or stop <= start:
        raise BadParameterError(f"channels {start}:{stop} is not a range (0 <= start < stop).")
    check_channel(torch.empty(count), start)
    return start, min(stop, count)


def _check_whole_numbers(name: str, *values: Any) -> None:
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in values):
        raise BadParameterError(f"{name} must be whole numbers, not {list(values)!r}.")


def _finite(values: torch.Tensor) -> torch.Tensor:
    return torch.nan_to_num(
        values,
        nan=0.0,
        posinf=torch.finfo(torch.float32).max,
        neginf=torch.finfo(torch.float32).min,
    )


def _channel_scales(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each channel's finite ``(min, max)``; a vector is one channel."""
    flat = values.reshape(1 if values.dim() == 1 else values.shape[0], -1)
    low, high = torch.aminmax(flat, dim=1)
    if not bool(torch.isfinite(low).all() & torch.isfinite(high).all()):  # NaN or inf inside
        low, high = torch.aminmax(_finite(flat), dim=1)
    return low, high


def _quantise(values: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Map each channel's ``low..high`` to 0..255 (a constant channel maps to 0)."""
    shape = (-1,) + (1,) * (values.dim() - 1)
    # float64 where the device has it (MPS has none): the same bytes as on the CPU.
    precise = torch.float32 if values.device.type == "mps" else torch.float64
    low, high = low.to(precise).reshape(shape), high.to(precise).reshape(shape)
    span = torch.where(high > low, high - low, torch.ones_like(high))
    # In place on one copy: (finite(values) - low) / span * 255, rounded and clamped.
    scaled = values.to(precise, copy=True)
    finfo = torch.finfo(torch.float32)
    torch.nan_to_num(scaled, nan=0.0, posinf=finfo.max, neginf=finfo.min, out=scaled)
    scaled.sub_(low).div_(span).mul_(255.0).round_().clamp_(0, 255)
    return scaled.to(torch.uint8)


def _node_stats(graph: Graph) -> dict[str, dict[str, Any]]:
    """Each node's shape and finite value range (the overview's colour scales)."""
    ranges = value_ranges([per_image(node.activation) for node in graph.nodes])
    return {
        node.id: {"shape": list(node.output_shape), "min": _short(low), "max": _short(high)}
        for node, (low, high) in zip(graph.nodes, ranges, strict=True)
    }


def _short(value: float) -> float:
    """A float32 value to the 7 significant digits it holds: half the JSON of ``repr``."""
    return float(f"{value:.7g}")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
