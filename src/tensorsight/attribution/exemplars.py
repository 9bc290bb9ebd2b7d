"""What each channel learned: the images that excite it most, cropped to its receptive field.

For every channel of the chosen layers, each image's strongest response (the channel's largest
value anywhere in the map) is ranked; the ``count`` best images are kept, each cropped to the
receptive field (:mod:`tensorsight.attribution.receptive`) of the cell where it peaked. They are
written as one PNG sheet per layer (a row per channel, a column per exemplar, each crop padded
to the layer's full field size) beside ``index.json``::

    exemplars/index.json  {"format": "tensorsight-exemplars/1", "count": 9, "source": ...,
                           "layers": {name: {"node_kind", "channels", "cell": [h, w], "file",
                                             "entries": [[{"image", "y", "x", "box", "value"},
                                                          ...] per channel]}}}
    exemplars/<layer>.png

``tensorsight train`` writes them for the test set (folder ``exemplars/`` of the bundle);
``tensorsight exemplars`` computes them for any model from a folder of images.

>>> import torch
>>> from torch import nn
>>> model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 6 * 6, 2))
>>> found = compute_exemplars(model, torch.rand(12, 1, 8, 8), count=3)
>>> sheet = found.layers["0"]
>>> sheet.cell, len(sheet.entries), len(sheet.entries[0])
((3, 3), 2, 3)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from tensorsight.attribution.errors import AttributionError
from tensorsight.attribution.receptive import receptive_fields
from tensorsight.capturing import Graph, capture

INDEX_FILE = "index.json"
FORMAT = "tensorsight-exemplars/1"
DEFAULT_KINDS = ("conv2d",)


@dataclass
class LayerExemplars:
    """One layer's exemplars: per channel, the best images and where and how strongly."""

    node_kind: str
    cell: tuple[int, int]
    entries: list[list[dict[str, Any]]]
    crops: np.ndarray = field(repr=False)  # [channels, count, C, h, w] float32, the model input

    def describe(self, file: str) -> dict[str, Any]:
        """The layer's ``index.json`` entry."""
        return {
            "node_kind": self.node_kind,
            "channels": len(self.entries),
            "cell": list(self.cell),
            "file": file,
            "entries": self.entries,
        }


@dataclass
class Exemplars:
    """The exemplars of several layers, by node name."""

    count: int
    layers: dict[str, LayerExemplars]
    source: str = ""

    def save(
        self, folder: str | Path, *, mean: Sequence[float] = (), std: Sequence[float] = ()
    ) -> Path:
        """Write ``index.json`` and a PNG sheet per layer into ``folder``; returns it.

        ``mean``/``std`` undo the model's input normalisation so the sheets show the pictures.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        layers = {}
        for name, layer in self.layers.items():
            file = f"{_safe(name)}.png"
            _sheet(layer.crops, mean, std).save(folder / file, optimize=True)
            layers[name] = layer.describe(file)
        index = {"format": FORMAT, "count": self.count, "source": self.source, "layers": layers}
        (folder / INDEX_FILE).write_text(json.dumps(index) + "\n", encoding="utf-8")
        return folder


def compute_exemplars(
    model: nn.Module,
    images: torch.Tensor | Iterable[torch.Tensor],
    *,
    count: int = 9,
    layers: Sequence[str] | None = None,
    batch_size: int = 128,
) -> Exemplars:
    """The ``count`` images of ``images`` that excite each channel of ``layers`` most.

    ``images`` is a tensor ``[N, C, H, W]`` of model inputs (or an iterable of such batches);
    ``layers`` are node names or module paths, default every convolution. Image indices count
    from 0 in the order given.
    """
    batches = _batches(images, batch_size)
    first = next(batches, None)
    if first is None:
        raise AttributionError("No images to find exemplars in.")
    structure = capture(model, first[:1])
    chosen = _choose_layers(structure, layers)
    best = _Best(structure, chosen, count)
    seen = 0
    for batch in _chain(first, batches):
        best.add(capture(model, batch), seen)
        best.keep_inputs(batch, seen)
        seen += len(batch)
    return best.result(seen)


def _chain(first: torch.Tensor, rest: Iterable[torch.Tensor]) -> Iterable[torch.Tensor]:
    yield first
    yield from rest


def _batches(
    images: torch.Tensor | Iterable[torch.Tensor], batch_size: int
) -> Iterator[torch.Tensor]:
    if isinstance(images, torch.Tensor):
        return iter(images.split(batch_size))
    return iter(images)


def _choose_layers(graph: Graph, layers: Sequence[str] | None) -> list[str]:
    spatial = [node for node in graph.nodes[1:] if len(node.output_shape) == 4]
    if layers is None:
        return [node.id for node in spatial if node.kind in DEFAULT_KINDS]
    chosen = []
    for layer in layers:
        match = next((node.id for node in spatial if layer in (node.name, node.module_path)), None)
        if match is None:
            raise AttributionError(f"The model has no layer {layer!r} with a spatial output.")
        chosen.append(match)
    return chosen


class _Best:
    """Running top-``count`` per channel: (value, image index, y, x), plus the kept crops."""

    def __init__(self, graph: Graph, node_ids: list[str], count: int) -> None:
        self.graph, self.node_ids, self.count = graph, node_ids, count
        self.fields = {node_id: receptive_fields(graph, node_id) for node_id in node_ids}
        self.top: dict[str, torch.Tensor] = {}  # node -> [channels, count, 4]
        self.inputs: dict[int, torch.Tensor] = {}

    def add(self, graph: Graph, offset: int) -> None:
        for node_id in self.node_ids:
            activation = graph.node(node_id).activation.float()
            batch, channels, _, width = activation.shape
            peak, where = activation.flatten(2).max(2)  # [batch, channels]
            index = torch.arange(offset, offset + batch).view(-1, 1).expand(batch, channels)
            rows = torch.stack(
                [peak, index.float(), (where // width).float(), (where % width).float()], dim=-1
            ).transpose(0, 1)
            if node_id in self.top:
                rows = torch.cat([self.top[node_id], rows], dim=1)
            order = rows[..., 0].argsort(dim=1, descending=True, stable=True)[:, : self.count]
            self.top[node_id] = torch.gather(rows, 1, order[..., None].expand(-1, -1, 4))

    def keep_inputs(self, batch: torch.Tensor, offset: int) -> None:
        """Keep only the images some channel still ranks among its best."""
        needed = {int(i) for top in self.top.values() for i in top[..., 1].flatten().tolist()}
        self.inputs = {i: image for i, image in self.inputs.items() if i in needed}
        for local, image in enumerate(batch):
            if offset + local in needed:
                self.inputs[offset + local] = image.detach().cpu().float()

    def result(self, seen: int) -> Exemplars:
        layers = {}
        for node_id in self.node_ids:
            node = self.graph.node(node_id)
            fields = self.fields[node_id]
            cell = (
                int((fields.rows[:, 1] - fields.rows[:, 0]).max()) + 1,
                int((fields.cols[:, 1] - fields.cols[:, 0]).max()) + 1,
            )
            entries, crops = self._layer(self.top[node_id], fields, cell)
            layers[node.name] = LayerExemplars(node.kind, cell, entries, crops)
        return Exemplars(self.count, layers, source=f"{seen} images")

    def _layer(
        self, top: torch.Tensor, fields: Any, cell: tuple[int, int]
    ) -> tuple[list[list[dict[str, Any]]], np.ndarray]:
        channels, kept = top.shape[0], top.shape[1]
        some_input = next(iter(self.inputs.values()))
        crops = np.zeros((channels, self.count, some_input.shape[0], *cell), np.float32)
        entries = []
        for channel in range(channels):
            row = []
            for rank in range(kept):
                value, image, y, x = top[channel, rank].tolist()
                box = fields.box(int(y), int(x))
                top_, left, bottom, right = box
                crop = self.inputs[int(image)][:, top_ : bottom + 1, left : right + 1]
                crops[channel, rank, :, : crop.shape[1], : crop.shape[2]] = crop.numpy()
                row.append(
                    {
                        "image": int(image),
                        "y": int(y),
                        "x": int(x),
                        "box": list(box),
                        "value": float(value),
                    }
                )
            entries.append(row)
        return entries, crops


def _sheet(crops: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> Image.Image:
    """Crops ``[channels, count, C, h, w]`` as one image: a row per channel."""
    channels, count, colours, height, width = crops.shape
    pixels = crops.copy()
    if mean:
        pixels = (
            pixels * np.asarray(std, np.float32)[:, None, None]
            + np.asarray(mean, np.float32)[:, None, None]
        )
    pixels = (pixels.clip(0, 1) * 255).round().astype(np.uint8)
    grid = pixels.transpose(0, 3, 1, 4, 2).reshape(channels * height, count * width, colours)
    return Image.fromarray(grid[..., 0] if colours == 1 else grid, "L" if colours == 1 else "RGB")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "layer"


def write_exemplars(
    folder: str | Path,
    model: nn.Module,
    inputs: torch.Tensor,
    *,
    mean: Sequence[float] = (),
    std: Sequence[float] = (),
    count: int = 9,
    layers: Sequence[str] | None = None,
    source: str = "",
) -> Path:
    """Compute the exemplars of ``inputs`` and save them into ``folder`` (``train`` uses this)."""
    found = compute_exemplars(model, inputs, count=count, layers=layers)
    found.source = source or found.source
    return found.save(folder, mean=mean, std=std)


def channel_crops(
    folder: str | Path, layer: str, channel: int
) -> tuple[dict[str, Any], np.ndarray]:
    """One channel's exemplars from a saved folder: its entries and crops ``[count, h, w, C]``
    (uint8, as the sheet stores them; a clipped crop is padded at its bottom and right)."""
    folder = Path(folder)
    index = read_index(folder)
    spec = index["layers"].get(layer)
    if spec is None:
        raise AttributionError(
            f"No exemplars were computed for layer {layer!r}; these have "
            f"them: {', '.join(index['layers']) or 'none'}."
        )
    if not 0 <= channel < spec["channels"]:
        raise AttributionError(f"Channel {channel} is out of range (0-{spec['channels'] - 1}).")
    height, width = spec["cell"]
    with Image.open(folder / spec["file"]) as sheet:  # our own file, written by save()
        pixels = np.asarray(sheet)
    row = pixels[channel * height : (channel + 1) * height]
    row = row[..., None] if row.ndim == 2 else row
    crops = row.reshape(height, -1, width, row.shape[-1]).transpose(1, 0, 2, 3)
    return {
        "layer": layer,
        "cell": [height, width],
        "entries": spec["entries"][channel],
        "source": index.get("source", ""),
    }, np.ascontiguousarray(crops)


def read_index(folder: str | Path) -> dict[str, Any]:
    """The ``index.json`` of an exemplars folder (``AttributionError`` if it is not one)."""
    path = Path(folder) / INDEX_FILE
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise AttributionError(f"{path} is not a readable exemplars index: {error}") from None
    if index.get("format") != FORMAT:
        raise AttributionError(f"{path} is not a {FORMAT} index.")
    return index  # type: ignore[no-any-return]
