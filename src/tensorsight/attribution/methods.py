"""The attribution methods: each one is a small function of a :class:`Job` and its options.

Input-space methods return the per-channel attribution ``[C, ...]`` (``raw``) and reduce it to one
map: saliency and SmoothGrad take the largest magnitude over channels (Simonyan et al. 2014),
gradient x input and integrated gradients sum the channels, so their map still adds up to the
score difference they explain. Grad-CAM works at a layer; occlusion measures score drops.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from tensorsight.attribution.core import Job
from tensorsight.attribution.errors import AttributionError
from tensorsight.attribution.taps import tap_run
from tensorsight.capturing import Graph


@dataclass
class Result:
    """What a method returns: its raw result, the map at input resolution, extra numbers."""

    raw: torch.Tensor
    map: torch.Tensor
    details: dict[str, float] = field(default_factory=dict)
    layer: str | None = None
    layer_name: str | None = None


def input_gradient(job: Job, inputs: torch.Tensor) -> torch.Tensor:
    """d(target score)/d(input) for each input of a batch, without touching parameter grads."""
    return scores_and_gradients(job, inputs)[1]


def scores_and_gradients(job: Job, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The target score of each input of a batch (detached) and its input gradient."""
    inputs = inputs.detach().requires_grad_(True)
    scores = job.scores(inputs)
    (gradient,) = torch.autograd.grad(scores.sum(), inputs)
    return scores.detach(), gradient


def _max_magnitude(raw: torch.Tensor) -> torch.Tensor:
    return raw.abs().amax(0) if raw.dim() > 1 else raw.abs()


def _channel_sum(raw: torch.Tensor) -> torch.Tensor:
    return raw.sum(0) if raw.dim() > 1 else raw


def gradient_at_x(job: Job) -> torch.Tensor:
    """d(target score)/d(x) from one forward and one backward; the forward picks the target."""
    inputs = job.x.detach().requires_grad_(True)
    scores = job.choose(job.model(inputs))
    (gradient,) = torch.autograd.grad(scores[0, job.target], inputs)
    return gradient


def saliency(job: Job) -> Result:
    """The input gradient; the map is its largest magnitude over channels."""
    raw = gradient_at_x(job)[0]
    return Result(raw, _max_magnitude(raw))


def gradient_x_input(job: Job) -> Result:
    """Input gradient times the input, summed over channels."""
    raw = (gradient_at_x(job) * job.x)[0]
    return Result(raw, _channel_sum(raw))


def smoothgrad(job: Job, *, samples: int, noise: float, seed: int, batch_size: int) -> Result:
    """The input gradient averaged over noisy copies of the input (Smilkov et al. 2017).

    ``noise`` is the noise's standard deviation as a fraction of the input's value range.
    """
    sigma = noise * float(job.x.max() - job.x.min())
    generator = torch.Generator(device=job.x.device).manual_seed(seed)
    total = torch.zeros_like(job.x[0])
    for start in range(0, samples, batch_size):
        count = min(batch_size, samples - start)
        shape = (count, *job.x.shape[1:])
        noisy = job.x + sigma * torch.randn(
            shape, generator=generator, device=job.x.device, dtype=job.x.dtype
        )
        total += input_gradient(job, noisy).sum(0)
        job.advance(start + count, samples)
    raw = total / samples
    return Result(raw, _max_magnitude(raw))


def integrated_gradients(
    job: Job, *, steps: int, baseline: Any, blur_sigma: float, batch_size: int, rule: str
) -> Result:
    """Sundararajan et al. 2017: (x - baseline) times the mean gradient along the straight path.

    ``baseline`` is ``None`` (black: zeros), a number, a tensor shaped like the input, or
    ``"blur"``: the input itself under a gaussian blur of ``blur_sigma`` pixels (Sturmfels et
    al. 2020, "Visualizing the Impact of Feature Attribution Baselines", Distill), which keeps
    the image's colours and coarse layout and removes its detail; ``blur_sigma`` is used only
    with ``"blur"``.

    The path integral takes the gradient at ``steps`` points of the path, ``batch_size`` at a
    time, placed by ``rule``: ``"adaptive"`` (see :func:`adaptive_path`) or
    ``"gauss-legendre"`` (Captum's default rule). ``details["total"]`` (the sum of the
    attribution) approximates ``score - baseline_score`` (completeness), and
    ``details["delta"]`` is how far off it is.
    """
    base = _baseline(job.x, baseline, blur_sigma)
    delta = job.x - base
    if rule not in PATH_RULES:
        raise AttributionError(f"rule must be one of {', '.join(PATH_RULES)}, not {rule!r}.")
    total = PATH_RULES[rule](job, base, delta, steps, batch_size)
    raw = delta[0] * total
    with torch.no_grad():
        baseline_score = float(job.scores(base)[0])
    summed = float(raw.sum())
    details = {
        "score": job.score,
        "baseline_score": baseline_score,
        "total": summed,
        "delta": summed - (job.score - baseline_score),
    }
    return Result(raw, _channel_sum(raw), details)


PathRule = Callable[[Job, torch.Tensor, torch.Tensor, int, int], torch.Tensor]


def gauss_legendre_path(
    job: Job, base: torch.Tensor, delta: torch.Tensor, steps: int, batch_size: int
) -> torch.Tensor:
    """The path's mean gradient by Gauss-Legendre quadrature with ``steps`` points.

    Exact for polynomial integrands of degree ``2 * steps - 1``; a ReLU network's gradient
    along the path is piecewise constant instead, and jumps where units switch on or off.
    """
    alphas, weights = (
        torch.from_numpy(values).to(job.x.device, job.x.dtype) for values in gauss_legendre(steps)
    )
    total = torch.zeros_like(job.x[0])
    for chunk, (_, gradients) in _along_path(job, base, delta, alphas, batch_size, 0, steps):
        total += (weights[chunk].view(-1, *[1] * total.dim()) * gradients).sum(0)
    return total


def adaptive_path(
    job: Job, base: torch.Tensor, delta: torch.Tensor, steps: int, batch_size: int
) -> torch.Tensor:
    """The path's mean gradient by the trapezoid rule on points placed where it is needed.

    A ReLU network's score along the path is piecewise linear, so its gradient jumps where
    units switch, and those jumps crowd into short stretches (from a black baseline, where the
    biases first give way to the image). The forward pass that gives each point's gradient
    also gives its score ``f``, and between two points ``a < b`` the score's change ``f(b) -
    f(a)`` is exactly what the trapezoid ``(b - a) * (f'(a) + f'(b)) / 2`` of the path
    derivative ``f' = gradient . (x - baseline)`` should add up to: their difference is that
    stretch's error, measured. The rule starts from ``steps // 8`` evenly spaced points (both
    ends included), then in rounds of ``steps // 16`` gives each new point to the stretch
    whose error, shared among the points it already got this round, is largest, and spaces
    each stretch's new points evenly. The attribution is never rescaled to add up: the
    remaining error is what ``details["delta"]`` reports. One step is the midpoint.

    Every point's gradient is kept until the end (the trapezoid weights change as stretches
    split). Where ``steps`` input-sized gradients would pass :data:`ADAPTIVE_BYTES`, the rule
    places its points keeping only their scores and path derivatives, then takes the
    gradients again at the final points and sums them as they come: the same points and
    weights, in twice the time and without the memory.
    """
    if steps == 1:
        return gauss_legendre_path(job, base, delta, steps, batch_size)
    keep = steps * job.x.numel() * job.x.element_size() <= ADAPTIVE_BYTES
    passes = 1 if keep else 2
    path = _Path(keep_gradients=keep)
    points = np.linspace(0.0, 1.0, max(2, steps // 8))
    path.add(job, base, delta, points, batch_size, passes * steps)
    per_round = max(1, steps // 16)
    while len(path.alphas) < steps:
        added = path.refinement(min(per_round, steps - len(path.alphas)))
        path.add(job, base, delta, added, batch_size, passes * steps)
    if keep:
        return path.trapezoid(path.gradients)
    positions = torch.from_numpy(path.alphas).to(job.x.device, job.x.dtype)
    again = _along_path(job, base, delta, positions, batch_size, steps, passes * steps)
    return path.trapezoid(gradient for _, (_, gradients) in again for gradient in gradients)


#: The most gradient bytes :func:`adaptive_path` keeps (MobileNetV2 at 224x224: 445 steps);
#: past it, it takes every gradient twice instead.
ADAPTIVE_BYTES = 256 * 2**20


class _Path:
    """The points of the path evaluated so far: position, score, path derivative, gradient."""

    def __init__(self, *, keep_gradients: bool) -> None:
        self.keep_gradients = keep_gradients
        self.alphas = np.empty(0)
        self.scores = np.empty(0)
        self.slopes = np.empty(0)
        self.gradients: list[torch.Tensor] = []

    def add(
        self,
        job: Job,
        base: torch.Tensor,
        delta: torch.Tensor,
        alphas: np.ndarray,
        batch_size: int,
        steps: int,
    ) -> None:
        """Evaluate the path at ``alphas`` and keep the points in order of position."""
        positions = torch.from_numpy(alphas).to(job.x.device, job.x.dtype)
        found = len(self.alphas)
        for _, (scores, gradients) in _along_path(
            job, base, delta, positions, batch_size, found, steps
        ):
            self.scores = np.append(self.scores, scores.double().cpu().numpy())
            slopes = (gradients * delta).flatten(1).sum(1)
            self.slopes = np.append(self.slopes, slopes.double().cpu().numpy())
            if self.keep_gradients:
                self.gradients.extend(gradients)
        self.alphas = np.append(self.alphas, alphas)
        order = np.argsort(self.alphas, kind="stable")
        self.alphas = self.alphas[order]
        self.scores = self.scores[order]
        self.slopes = self.slopes[order]
        if self.keep_gradients:
            self.gradients = [self.gradients[index] for index in order]

    def refinement(self, count: int) -> np.ndarray:
        """``count`` new positions, given out one by one to the stretch of the largest error
        per point it got (a stretch split in k + 1 around one jump keeps about 1 / (k + 1)
        of its error)."""
        widths = np.diff(self.alphas)
        trapezoids = widths * (self.slopes[:-1] + self.slopes[1:]) / 2
        errors = np.abs(np.diff(self.scores) - trapezoids)
        given = np.zeros(len(widths), dtype=int)
        for _ in range(count):
            given[np.argmax(errors / (given + 1))] += 1
        return np.concatenate(
            [
                self.alphas[index]
                + widths[index] * np.arange(1, given[index] + 1) / (given[index] + 1)
                for index in np.flatnonzero(given)
            ]
        )

    def trapezoid(self, gradients: Iterable[torch.Tensor]) -> torch.Tensor:
        """The trapezoid rule over the points' ``gradients`` (in order of position): each
        gradient weighs half its two stretches."""
        widths = np.diff(self.alphas)
        weights = np.zeros(len(self.alphas))
        weights[:-1] += widths / 2
        weights[1:] += widths / 2
        total: torch.Tensor | None = None
        for weight, gradient in zip(weights, gradients, strict=True):
            if total is None:
                total = torch.zeros_like(gradient)
            total.add_(gradient, alpha=float(weight))
        assert total is not None  # at least two points
        return total


def _along_path(
    job: Job,
    base: torch.Tensor,
    delta: torch.Tensor,
    alphas: torch.Tensor,
    batch_size: int,
    done: int,
    steps: int,
) -> Iterator[tuple[slice, tuple[torch.Tensor, torch.Tensor]]]:
    """The target's score and input gradient at ``base + alpha * delta``, ``batch_size``
    positions at a time, reporting progress as ``done + evaluated`` of ``steps``."""
    shape = (-1, *[1] * (job.x.dim() - 1))
    for start in range(0, len(alphas), batch_size):
        chunk = slice(start, min(len(alphas), start + batch_size))
        yield chunk, scores_and_gradients(job, base + alphas[chunk].view(shape) * delta)
        job.advance(done + chunk.stop, steps)


#: How integrated gradients may place its points (the ``rule`` option).
PATH_RULES: dict[str, PathRule] = {
    "adaptive": adaptive_path,
    "gauss-legendre": gauss_legendre_path,
}


#: The blurred baseline's gaussian, in pixels of the model input (see ``integrated_gradients``).
DEFAULT_BLUR_SIGMA = 4.0

#: The most integrated-gradients points: their Gauss-Legendre rule costs O(steps^2) to build
#: (about a second at this many), and more points change no map one can see.
MAX_STEPS = 16384


@functools.lru_cache(maxsize=16)
def gauss_legendre(points: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes on [0, 1] (ascending) and their weights (summing to 1).

    Newton's method on the Legendre polynomial from the usual cosine guesses; NumPy's
    ``leggauss`` solves an eigenproblem instead, which takes a minute at 4096 points.

    >>> nodes, weights = gauss_legendre(2)
    >>> [round(float(v), 6) for v in nodes], [round(float(w), 6) for w in weights]
    ([0.211325, 0.788675], [0.5, 0.5])
    """
    x = np.cos(np.pi * (np.arange(1, points + 1) - 0.25) / (points + 0.5))
    for _ in range(100):
        value, slope = _legendre(points, x)
        step = value / slope
        x = x - step
        if np.abs(step).max() < 1e-15:
            break
    _, slope = _legendre(points, x)
    return (1 - x) / 2, 1 / ((1 - x**2) * slope**2)


def _legendre(degree: int, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P_degree(x) and its derivative, by the three-term recurrence."""
    previous, current = np.ones_like(x), x
    for order in range(2, degree + 1):
        following = ((2 * order - 1) * x * current - (order - 1) * previous) / order
        previous, current = current, following
    return current, degree * (x * current - previous) / (x**2 - 1)


def _baseline(x: torch.Tensor, baseline: Any, blur_sigma: float) -> torch.Tensor:
    if baseline is None:
        return torch.zeros_like(x)
    if isinstance(baseline, str):
        if baseline != "blur":
            raise AttributionError(
                f"The baseline {baseline!r} is unknown: give 'blur', None (zeros), a number or "
                "a tensor shaped like the input."
            )
        return gaussian_blur(x, blur_sigma)
    if isinstance(baseline, int | float):
        return torch.full_like(x, float(baseline))
    if isinstance(baseline, torch.Tensor):
        base = baseline.to(x.device, x.dtype)
        if base.shape == x.shape[1:]:
            base = base.unsqueeze(0)
        if base.shape != x.shape:
            raise AttributionError(
                f"The baseline has shape {list(baseline.shape)}; the input is {list(x.shape)}."
            )
        return base
    raise AttributionError(
        "The baseline must be None (zeros), 'blur', a number or a tensor shaped like the input."
    )


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``x`` ``[N, C, H, W]`` blurred by a gaussian of ``sigma`` pixels, each channel alone.

    Separable (a row pass, then a column pass), with reflect padding so the edges keep their
    brightness; the kernel reaches 3 sigma, at most one pixel short of the image's side, and
    sums to 1, so a constant image stays as it is.

    >>> x = torch.zeros(1, 1, 5, 5)
    >>> x[0, 0, 2, 2] = 1.0
    >>> [round(v, 4) for v in gaussian_blur(x, 1.0)[0, 0, 2].tolist()]
    [0.0431, 0.0984, 0.1592, 0.0984, 0.0431]
    >>> float((gaussian_blur(torch.full((1, 3, 7, 9), 0.3), 2.5) - 0.3).abs().max()) < 1e-6
    True
    """
    if x.dim() != 4:
        raise AttributionError("A blurred baseline needs an image input [1, C, H, W].")
    if isinstance(sigma, bool) or not isinstance(sigma, int | float) or not sigma > 0:
        raise AttributionError(f"blur_sigma must be a positive number, not {sigma!r}.")
    channels = x.shape[1]
    for axis, length in ((3, x.shape[3]), (2, x.shape[2])):
        radius = min(int(np.ceil(3 * sigma)), length - 1)
        if radius < 1:
            continue
        offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
        kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
        kernel = kernel / kernel.sum()
        if axis == 3:
            weight = kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
            padded = F.pad(x, (radius, radius, 0, 0), mode="reflect")
        else:
            weight = kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
            padded = F.pad(x, (0, 0, radius, radius), mode="reflect")
        x = F.conv2d(padded, weight, groups=channels)
    return x


def gradcam(job: Job, *, graph: Graph, layer: str, plus: bool = False) -> Result:
    """Grad-CAM (Selvaraju et al. 2017) or Grad-CAM++ (Chattopadhay et al. 2018) at ``layer``.

    Grad-CAM weighs each channel of the layer's activation A by its spatially averaged gradient
    and keeps the positive part of the weighted sum. Grad-CAM++ weighs with
    ``sum(alpha * relu(g))``, ``alpha = g^2 / (2 g^2 + sum(A) g^3)``: the closed form for an
    exponentiated score, as the paper (and pytorch-grad-cam) use it.
    """
    (raw,) = gradcam_maps(job, graph, [layer], plus=plus)
    size = tuple(job.x.shape[-2:])
    upsampled = F.interpolate(raw[None, None], size=size, mode="bilinear", align_corners=False)
    return Result(raw, upsampled[0, 0], layer=layer, layer_name=graph.node(layer).name)


def gradcam_maps(
    job: Job, graph: Graph, layers: list[str], *, plus: bool = False
) -> list[torch.Tensor]:
    """Grad-CAM (``[h, w]`` at each layer) of several layers from one forward and backward;
    the forward's output picks the target."""
    run = tap_run(job.model, job.x, graph, layers)
    activations = [run.taps[layer] for layer in layers]
    scores = job.choose(run.output)
    gradients = torch.autograd.grad(scores[0, job.target], activations)
    maps = []
    for activation, gradient in zip(activations, gradients, strict=True):
        activation, gradient = activation.detach()[0], gradient[0]
        weights = gradcam_plus_weights(activation, gradient) if plus else gradient.mean((1, 2))
        maps.append(F.relu((weights[:, None, None] * activation).sum(0)))
    return maps


def spatial_stages(graph: Graph) -> list[str]:
    """The last node of each spatial resolution on the way to the output (Grad-CAM's stages)."""
    candidates = layer_candidates(graph)
    return [
        node_id
        for node_id, following in zip(candidates, [*candidates[1:], None], strict=True)
        if following is None
        or graph.node(node_id).output_shape[2:] != graph.node(following).output_shape[2:]
    ]


def gradcam_plus_weights(activation: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
    """Grad-CAM++ channel weights from one input's activation and gradient ``[C, h, w]``."""
    squared, cubed = gradient**2, gradient**3
    denominator = 2 * squared + activation.sum((1, 2), keepdim=True) * cubed
    denominator = torch.where(denominator != 0, denominator, torch.ones_like(denominator))
    alpha = squared / denominator
    return (alpha * F.relu(gradient)).sum((1, 2))


def window_starts(length: int, window: int, stride: int) -> list[int]:
    """Where occlusion windows start along one axis; the last one always reaches the edge.

    >>> window_starts(10, 4, 3)
    [0, 3, 6]
    >>> window_starts(11, 4, 3)
    [0, 3, 6, 7]
    """
    starts = list(range(0, max(length - window, 0) + 1, stride))
    if starts[-1] + window < length:
        starts.append(length - window)
    return starts


def occlusion(
    job: Job, *, window: int | None, stride: int | None, value: float, batch_size: int
) -> Result:
    """Zeiler & Fergus 2014: slide a ``window`` x ``window`` patch of ``value`` over the input.

    ``raw[i, j]`` is the score drop with the patch at the (i, j)-th position; each pixel of the
    map is the mean drop over the patches that covered it. Defaults: a window of an eighth of the
    shorter side, stride half the window.
    """
    if job.x.dim() != 4:
        raise AttributionError("Occlusion needs an image input [1, C, H, W].")
    height, width = job.x.shape[-2:]
    window = window or max(1, min(height, width) // 8)
    stride = stride or max(1, window // 2)
    if window < 1 or stride < 1 or window > min(height, width):
        raise AttributionError(
            f"The occlusion window ({window}) must fit the input "
            f"({height}x{width}) and the stride ({stride}) be positive."
        )
    rows, cols = window_starts(height, window, stride), window_starts(width, window, stride)
    positions = [(top, left) for top in rows for left in cols]
    drops = torch.empty(len(positions), dtype=job.x.dtype, device=job.x.device)
    for start in range(0, len(positions), batch_size):
        chunk = positions[start : start + batch_size]
        batch = job.x.repeat(len(chunk), *[1] * (job.x.dim() - 1))
        for index, (top, left) in enumerate(chunk):
            batch[index, :, top : top + window, left : left + window] = value
        with torch.no_grad():
            drops[start : start + len(chunk)] = job.score - job.scores(batch)
        job.advance(start + len(chunk), len(positions))
    raw = drops.view(len(rows), len(cols))
    return Result(raw, _spread(raw, rows, cols, window, (height, width)))


def _spread(
    raw: torch.Tensor, rows: list[int], cols: list[int], window: int, size: tuple[int, int]
) -> torch.Tensor:
    """Each pixel's mean over the window drops that covered it (0 where none did)."""
    total = torch.zeros(size, dtype=raw.dtype, device=raw.device)
    count = torch.zeros_like(total)
    for i, top in enumerate(rows):
        for j, left in enumerate(cols):
            total[top : top + window, left : left + window] += raw[i, j]
            count[top : top + window, left : left + window] += 1
    return total / count.clamp(min=1)


@dataclass(frozen=True)
class Method:
    """A method's function, its options with their defaults, and whether it needs a layer."""

    run: Callable[..., Result]
    defaults: dict[str, Any]
    needs_layer: bool = False
    long: bool = False
    #: It runs one forward on the input itself and picks the target from it (``Job.choose``).
    picks_target: bool = False


METHODS: dict[str, Method] = {
    "saliency": Method(saliency, {}, picks_target=True),
    "gradient_x_input": Method(gradient_x_input, {}, picks_target=True),
    "smoothgrad": Method(
        smoothgrad, {"samples": 25, "noise": 0.15, "seed": 0, "batch_size": 16}, long=True
    ),
    "integrated_gradients": Method(
        integrated_gradients,
        {
            "steps": 32,
            "baseline": None,
            "blur_sigma": DEFAULT_BLUR_SIGMA,
            "batch_size": 16,
            "rule": "adaptive",
        },
        long=True,
    ),
    "gradcam": Method(gradcam, {}, needs_layer=True, picks_target=True),
    "gradcam++": Method(
        lambda job, **options: gradcam(job, plus=True, **options),
        {},
        needs_layer=True,
        picks_target=True,
    ),
    "occlusion": Method(
        occlusion, {"window": None, "stride": None, "value": 0.0, "batch_size": 32}, long=True
    ),
}


def settings_for(method: str, options: dict[str, Any]) -> dict[str, Any]:
    """Every option of ``method`` in effect: ``options`` over the defaults; unknown ones fail."""
    if method not in METHODS:
        raise AttributionError(
            f"Unknown attribution method {method!r}; choose one of {', '.join(METHODS)}."
        )
    defaults = METHODS[method].defaults
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        accepted = ", ".join(defaults) or "no options"
        raise AttributionError(f"{method} takes {accepted}; not {', '.join(unknown)}.")
    settings = {**defaults, **options}
    for name in ("samples", "steps", "batch_size"):
        if name in settings and (not isinstance(settings[name], int) or settings[name] < 1):
            raise AttributionError(
                f"{name} must be a positive whole number, not {settings[name]!r}."
            )
    if settings.get("steps", 0) > MAX_STEPS:
        raise AttributionError(f"steps must be at most {MAX_STEPS}, not {settings['steps']}.")
    return settings


def layer_candidates(graph: Graph) -> list[str]:
    """Ids of the nodes with a spatial output (``[1, C, h, w]``, more than one place), in order."""
    return [
        node.id
        for node in graph.nodes[1:]
        if len(node.output_shape) == 4 and node.output_shape[2] * node.output_shape[3] > 1
    ]


def resolve_layer(graph: Graph, layer: str | None) -> str:
    """The node id of ``layer`` (a node id, node name or module path); default the last spatial."""
    candidates = layer_candidates(graph)
    if not candidates:
        raise AttributionError("This model has no layer with a spatial output for Grad-CAM.")
    if layer is None:
        return candidates[-1]
    matches = [node.id for node in graph.nodes if layer in (node.id, node.name, node.module_path)]
    if not matches:
        raise AttributionError(f"The model has no layer {layer!r}.")
    if matches[0] not in candidates:
        shape = list(graph.node(matches[0]).output_shape)
        raise AttributionError(
            f"Layer {layer!r} has no spatial output (shape {shape}); Grad-CAM "
            "needs a layer shaped [1, C, h, w]."
        )
    return matches[0]
