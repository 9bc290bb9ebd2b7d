"""The public entry point, :func:`attribute`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tensorsight.attribution.core import (
    Attribution,
    CancelEvent,
    Job,
    Progress,
    model_input,
    to_numpy,
    untouched,
)
from tensorsight.attribution.errors import AttributionCancelled, AttributionError
from tensorsight.attribution.methods import (
    METHODS,
    gradcam_maps,
    resolve_layer,
    settings_for,
    spatial_stages,
)
from tensorsight.capturing import Graph, capture


def attribute(
    model: nn.Module,
    x: torch.Tensor,
    method: str = "saliency",
    target: int | None = None,
    layer: str | None = None,
    *,
    graph: Graph | None = None,
    progress: Progress | None = None,
    cancel: CancelEvent | None = None,
    **options: Any,
) -> Attribution:
    """Which parts of ``x`` (or of a layer) made ``model`` score class ``target``.

    ``method`` is one of ``saliency``, ``gradient_x_input``, ``smoothgrad`` (``samples``,
    ``noise``, ``seed``, ``batch_size``), ``integrated_gradients`` (``steps``, ``baseline``,
    ``blur_sigma``, ``batch_size``, ``rule``: ``"adaptive"`` or ``"gauss-legendre"``),
    ``gradcam`` and ``gradcam++`` (at ``layer``: a node id, node name or module path with a
    spatial output; default the last one) and ``occlusion`` (``window``, ``stride``,
    ``value``, ``batch_size``). ``target`` defaults to the predicted class. ``graph`` is a
    capture of ``model`` on ``x`` if you have one (Grad-CAM needs one and captures otherwise).
    Long methods call ``progress(done, total)`` and stop with ``AttributionCancelled`` once
    ``cancel.is_set()``.

    >>> from torch import nn
    >>> model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(18, 3))
    >>> result = attribute(model, torch.randn(1, 1, 5, 5), "gradcam", target=1)
    >>> result.map.shape, result.raw.shape, result.layer_name, result.target
    ((5, 5), (3, 3), '1', 1)
    """
    settings = settings_for(method, options)
    spec = METHODS[method]
    x = model_input(model, x)
    with untouched(model), _model_failures(x):
        job = Job(model, x, target, progress, cancel)
        if not spec.picks_target:
            _choose_target(job)
        extra: dict[str, Any] = {}
        if spec.needs_layer:
            graph = graph if graph is not None else capture(model, x)
            extra = {"graph": graph, "layer": resolve_layer(graph, layer)}
        result = spec.run(job, **settings, **extra)
    return Attribution(
        map=to_numpy(result.map),
        raw=to_numpy(result.raw),
        target=job.target,
        method=method,
        settings={name: _jsonable(value) for name, value in settings.items()},
        score=job.score,
        layer=result.layer,
        layer_name=result.layer_name,
        details=result.details,
    )


def gradcam_stages(
    model: nn.Module,
    x: torch.Tensor,
    target: int | None = None,
    *,
    graph: Graph | None = None,
    plus: bool = False,
) -> list[Attribution]:
    """Grad-CAM (or Grad-CAM++) at the last layer of every spatial resolution, from one
    forward and one backward pass; ``raw`` is each stage's map, ``map`` it at input size.

    >>> from torch import nn
    >>> model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.Conv2d(2, 2, 2),
    ...                       nn.Flatten(), nn.Linear(2 * 2 * 2, 3))
    >>> [stage.raw.shape for stage in gradcam_stages(model, torch.randn(1, 1, 8, 8))]
    [(6, 6), (3, 3), (2, 2)]
    """
    x = model_input(model, x)
    with untouched(model), _model_failures(x):
        job = Job(model, x, target)
        graph = graph if graph is not None else capture(model, x)
        layers = spatial_stages(graph)
        maps = gradcam_maps(job, graph, layers, plus=plus)
    method = "gradcam++" if plus else "gradcam"
    return [
        Attribution(
            map=to_numpy(_upsampled(raw, x)),
            raw=to_numpy(raw),
            target=job.target,
            method=method,
            settings={},
            score=job.score,
            layer=layer,
            layer_name=graph.node(layer).name,
        )
        for layer, raw in zip(layers, maps, strict=True)
    ]


def _upsampled(raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(
        raw[None, None], size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False
    )[0, 0]


@contextmanager
def _model_failures(x: torch.Tensor) -> Iterator[None]:
    """A model that fails on the input (wrong channels or size, most often) is the caller's
    problem to fix, so it gets an :class:`AttributionError` that says so, chained to torch's."""
    try:
        yield
    except AttributionCancelled:
        raise
    except RuntimeError as error:  # torch's own errors, and CaptureError
        raise AttributionError(
            f"The model failed on the input of shape {list(x.shape)}: {error}"
        ) from error


def _choose_target(job: Job) -> None:
    # For the methods that do not run the model on x itself (or not first): one forward
    # without gradients, on the real input only.
    with torch.no_grad():
        job.choose(job.model(job.x))


def _jsonable(value: Any) -> Any:
    # A baseline tensor is recorded by its shape; numbers and None as they are.
    if isinstance(value, torch.Tensor):
        return f"tensor {list(value.shape)}"
    return value
