"""``attribute()``: which input pixels (or which places of a layer) made the model pick a class.

Every method differentiates (or perturbs) the model's own output for the target class: the
model's return value for that class (a logit for classifiers that return logits; a segmenter's
class map is summed). The model is put in eval mode for the run and left exactly as it was found:
``training`` flags restored, parameter ``.grad`` untouched (gradients are taken with
``torch.autograd.grad`` with respect to the input or a layer only), and no hook left behind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from tensorsight.attribution.errors import AttributionCancelled, AttributionError

#: ``progress(done, total)``, called as a long method advances.
Progress = Callable[[int, int], None]


class CancelEvent(Protocol):
    """Anything with ``is_set()``, such as :class:`threading.Event`."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class Attribution:
    """One attribution map and how it was made.

    ``map`` has the input's spatial size (``[H, W]``; for a vector input, its length) and is what
    to overlay; ``raw`` is the method's own result at its own resolution (the per-channel input
    attribution ``[C, H, W]``, Grad-CAM's ``[h, w]`` at the layer, occlusion's score drop per
    window position). ``settings`` holds every option in effect, defaults included;
    ``details`` holds method-specific numbers (integrated gradients: ``score``,
    ``baseline_score`` and ``total``, the sum of ``raw``).
    """

    map: np.ndarray
    raw: np.ndarray
    target: int
    method: str
    settings: dict[str, Any]
    score: float
    layer: str | None = None
    layer_name: str | None = None
    details: dict[str, float] = field(default_factory=dict)


@dataclass
class Job:
    """What every method gets: the model, the input and the target, ready to differentiate.

    ``requested`` is the caller's target (``None``: the predicted class); ``target`` and
    ``score`` are set by :meth:`choose` from the model's output on ``x``, either by a
    gradient-free forward before the method runs or, for the methods that run exactly one
    forward on ``x`` anyway (saliency, gradient x input, Grad-CAM), from that forward's output.
    """

    model: nn.Module
    x: torch.Tensor
    requested: int | None = None
    progress: Progress | None = None
    cancel: CancelEvent | None = None
    target: int = -1
    score: float = float("nan")

    def choose(self, output: Any) -> torch.Tensor:
        """Pick the target from the model's output on ``x``; returns its class scores."""
        scores = class_scores(output)
        values = scores.detach()
        self.target = choose_target(values, self.requested)
        self.score = float(values[0, self.target])
        return scores

    def advance(self, done: int, total: int) -> None:
        """Report progress, and stop (``AttributionCancelled``) if the caller cancelled."""
        if self.cancel is not None and self.cancel.is_set():
            raise AttributionCancelled("The attribution was cancelled.")
        if self.progress is not None:
            self.progress(done, total)

    def scores(self, inputs: torch.Tensor) -> torch.Tensor:
        """The target class's score for each input of a batch (differentiable)."""
        return class_scores(self.model(inputs))[:, self.target]


def class_scores(output: Any) -> torch.Tensor:
    """``[batch, classes]`` scores from a model output; maps are summed per class.

    >>> class_scores(torch.ones(2, 3, 4, 4))[0].tolist()
    [16.0, 16.0, 16.0]
    """
    if not isinstance(output, torch.Tensor) or output.dim() < 2:
        raise AttributionError(
            "Attribution needs a model that returns one tensor of class scores [batch, classes] "
            "(or class maps [batch, classes, ...])."
        )
    return output.flatten(2).sum(-1) if output.dim() > 2 else output


def choose_target(scores: torch.Tensor, target: int | None) -> int:
    """The class to explain: ``target``, or the top-scoring class when it is ``None``."""
    classes = scores.shape[-1]
    if target is None:
        return int(scores[0].argmax())
    if isinstance(target, bool) or not isinstance(target, int | np.integer):
        raise AttributionError(f"The target must be a class index, not {target!r}.")
    if not 0 <= int(target) < classes:
        raise AttributionError(
            f"Target class {target} is out of range: the model has "
            f"{classes} classes (0-{classes - 1})."
        )
    return int(target)


def model_input(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``x`` as a detached batch of one on the model's device and dtype."""
    if not isinstance(x, torch.Tensor):
        raise AttributionError(f"The input must be a torch.Tensor, not {type(x).__name__}.")
    if x.dim() < 2 or x.shape[0] != 1:
        raise AttributionError(
            f"Attribution explains one input at a time: give a batch of one, not {list(x.shape)}."
        )
    weight = next((p for p in model.parameters() if p.is_floating_point()), None)
    if weight is not None:
        x = x.to(weight.device, weight.dtype)
    return x.detach()


@contextmanager
def untouched(model: nn.Module) -> Iterator[None]:
    """Run in eval mode with gradients on; restore every module's ``training`` flag after."""
    modes = {module: module.training for module in model.modules()}
    try:
        model.eval()
        with torch.enable_grad():
            yield
    finally:
        for module, training in modes.items():
            module.training = training


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A float32 NumPy copy of a tensor (batch dimension already removed)."""
    return tensor.detach().to("cpu", torch.float32).numpy().copy()


def new_cancel_event() -> threading.Event:
    """An event to pass as ``cancel=`` and set from another thread to stop a long method."""
    return threading.Event()
