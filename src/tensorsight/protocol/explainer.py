"""The Explainer's methods: the table both the HTTP server and the Jupyter widget answer from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from typing import Protocol as TypingProtocol

from tensorsight.imaging import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, decode_image
from tensorsight.protocol.arguments import Arguments
from tensorsight.protocol.latent import latent_methods
from tensorsight.protocol.table import Method, Protocol

if TYPE_CHECKING:
    from PIL import Image

ENCODINGS = ("u8", "f32")


class ExplainerLike(TypingProtocol):
    """The Explainer methods the protocol calls (docs/architecture.md, "Explanation")."""

    def model_info(self) -> dict[str, Any]: ...
    def samples(self) -> list[dict[str, Any]]: ...
    def sample_png(self, sample_id: str) -> bytes: ...
    def run_image(self, image: Image.Image) -> dict[str, Any]: ...
    def run_sample(self, sample_id: str) -> dict[str, Any]: ...
    def overview(self, run_id: str) -> dict[str, Any]: ...
    def activations(
        self, run_id: str, node_ids: list[str], *, channels: tuple[int, int] | None, encoding: str
    ) -> tuple[dict[str, Any], Mapping[str, Any]]: ...
    def detail(
        self, run_id: str, node_id: str, channel: int
    ) -> tuple[dict[str, Any], Mapping[str, Any]]: ...
    def terms(
        self, run_id: str, node_id: str, channel: int, row: int, col: int
    ) -> tuple[dict[str, Any], Mapping[str, Any]]: ...


def explainer_methods(
    *, max_image_bytes: int = MAX_IMAGE_BYTES, max_image_pixels: int = MAX_IMAGE_PIXELS
) -> tuple[Method, ...]:
    """The table of Explainer methods; uploads are decoded within the given limits.

    >>> [method.name for method in explainer_methods()][:3]
    ['model_info', 'samples', 'sample_png']
    """

    def decode(data: bytes) -> Image.Image:
        return decode_image(data, max_bytes=max_image_bytes, max_pixels=max_image_pixels)

    def image(arguments: Arguments) -> dict[str, Any]:
        return {"image": decode(arguments.blob("the image bytes"))}

    return (
        Method("model_info"),
        Method("samples"),
        Method("sample_png", _sample_id, result="bytes", media_type="image/png"),
        Method("run_sample", _sample_id),
        Method("run_image", image),
        Method("overview", _run_id),
        Method("activations", _activations, result="pack"),
        Method("detail", _detail, result="pack"),
        Method("terms", _terms, result="pack"),
        # Generators (models whose card gives a latent_dim); others refuse them with a 400.
        *latent_methods(decode),
    )


def explainer_protocol(explainer: ExplainerLike, **limits: int) -> Protocol:
    """A :class:`Protocol` answering the Explainer methods with ``explainer``.

    ``limits``: ``max_image_bytes``, ``max_image_pixels`` (see :func:`explainer_methods`).

    >>> explainer = Explainer.from_bundle(load_model("tinyvgg"))  # doctest: +SKIP
    >>> explainer_protocol(explainer).call("model_info").value["name"]  # doctest: +SKIP
    'TinyVGG (Fashion-MNIST)'
    """
    return Protocol(explainer, explainer_methods(**limits))


def _sample_id(arguments: Arguments) -> dict[str, Any]:
    return {"sample_id": arguments.text("sample_id")}


def _run_id(arguments: Arguments) -> dict[str, Any]:
    return {"run_id": arguments.text("run_id")}


def _activations(arguments: Arguments) -> dict[str, Any]:
    return {
        "run_id": arguments.text("run_id"),
        "node_ids": arguments.texts("node_ids", query="nodes"),
        "channels": arguments.span("channels"),
        "encoding": arguments.choice("encoding", ENCODINGS, default="u8"),
    }


def _detail(arguments: Arguments) -> dict[str, Any]:
    return {
        "run_id": arguments.text("run_id"),
        "node_id": arguments.text("node_id"),
        "channel": arguments.integer("channel", default=0),
    }


def _terms(arguments: Arguments) -> dict[str, Any]:
    return {**_detail(arguments), "row": arguments.integer("row"), "col": arguments.integer("col")}
