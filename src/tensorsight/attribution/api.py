"""The public entry point, :func:`attribute`."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from tensorsight.attribution.core import (
    Attribution,
    CancelEvent,
    Job,
    Progress,
    choose_target,
    class_scores,
    model_input,
    to_numpy,
    untouched,
)
from tensorsight.attribution.methods import METHODS, resolve_layer, settings_for
from tensorsight.capturing import Graph, capture


def attribute(model: nn.Module, x: torch.Tensor, method: str = "saliency",
              target: int | None = None, layer: str | None = None, *,
              graph: Graph | None = None, progress: Progress | None = None,
              cancel: CancelEvent | None = None, **options: Any) -> Attribution:
    """Which parts of ``x`` (or of a layer) made ``model`` score class ``target``.

    ``method`` is one of ``saliency``, ``gradient_x_input``, ``smoothgrad`` (``samples``,
    ``noise``, ``seed``, ``batch_size``), ``integrated_gradients`` (``steps``, ``baseline``,
    ``batch_size``), ``gradcam`` and ``gradcam++`` (at ``layer``: a node id, node name or module
    path with a spatial output; default the last one) and ``occlusion`` (``window``, ``stride``,
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
    spec = METHODS.get(method)
    settings = settings_for(method, options)
    x = model_input(model, x)
    with untouched(model):
        with torch.no_grad():
            scores = class_scores(model(x))
        chosen = choose_target(scores, target)
        job = Job(model, x, chosen, float(scores[0, chosen]), progress, cancel)
        extra: dict[str, Any] = {}
        if spec is not None and spec.needs_layer:
            graph = graph if graph is not None else capture(model, x)
            extra = {"graph": graph, "layer": resolve_layer(graph, layer)}
        result = METHODS[method].run(job, **settings, **extra)
    return Attribution(
        map=to_numpy(result.map),
        raw=to_numpy(result.raw),
        target=chosen,
        method=method,
        settings={name: _jsonable(value) for name, value in settings.items()},
        score=job.score,
        layer=result.layer,
        layer_name=result.layer_name,
        details=result.details,
    )


def _jsonable(value: Any) -> Any:
    # A baseline tensor is recorded by its shape; numbers and None as they are.
    if isinstance(value, torch.Tensor):
        return f"tensor {list(value.shape)}"
    return value
