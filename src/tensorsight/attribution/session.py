"""Attribution and receptive fields for the runs an Explainer keeps, as protocol methods.

:func:`with_attribution` adds these methods to a host's :class:`~tensorsight.protocol.Protocol`:

| method | params | result |
| --- | --- | --- |
| ``attribution`` | ``run_id, method, target?, layer?, job_id?`` + the method's options | pack |
| ``attribution_progress`` | ``job_id`` | ``{state, done, total}`` |
| ``attribution_cancel`` | ``job_id`` | ``{state}`` |
| ``gradcam_stages`` | ``run_id, target?, plus?`` | pack |
| ``receptive_field`` | ``run_id, node_id`` | ``{node, rows, cols, exact}`` |
| ``effective_receptive_field`` | ``run_id, node_id, y, x, channel?`` | pack |
| ``channel_exemplars`` | ``run_id, node_id, channel`` | pack (``crops`` uint8) |
| ``exemplar_layers`` | | ``[node name, ...]`` with exemplars (``[]`` for none) |

The computing methods share the Explainer's lock (a capture hooks the model's modules, so no
other forward may run meanwhile); progress and cancel have their own, so a page can poll a long
integrated-gradients run by the ``job_id`` it chose and cancel it (the call then answers 409).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from tensorsight.attribution.api import attribute, gradcam_stages
from tensorsight.attribution.core import Attribution
from tensorsight.attribution.errors import AttributionCancelled, AttributionError
from tensorsight.attribution.exemplars import channel_crops, read_index
from tensorsight.attribution.methods import METHODS, PATH_RULES
from tensorsight.attribution.receptive import effective_receptive_field, receptive_fields
from tensorsight.protocol import Arguments, Method, Protocol, ProtocolError

_KEPT_JOBS = 32
# Options read as numbers from a request; the rest are whole numbers.
_REAL_OPTIONS = frozenset(("noise", "value", "baseline", "blur_sigma"))
# Baselines a request may name instead of giving a number.
_NAMED_BASELINES = {"black": None, "zeros": None, "blur": "blur"}


class Jobs:
    """Progress of the long calls now running or recently done, by the caller's job id."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._guard = threading.Lock()

    def start(self, job_id: str) -> threading.Event:
        """Register a job; returns the event that cancels it."""
        with self._guard:
            cancel = threading.Event()
            self._jobs[job_id] = {"state": "running", "done": 0, "total": 0, "cancel": cancel}
            while len(self._jobs) > _KEPT_JOBS:
                self._jobs.popitem(last=False)
            return cancel

    def update(self, job_id: str, **changes: Any) -> None:
        """Record progress or the final state of a job."""
        with self._guard:
            if job_id in self._jobs:
                self._jobs[job_id].update(changes)

    def progress(self, job_id: str) -> dict[str, Any]:
        """``{state, done, total}``; a job not (yet) known is ``pending``."""
        with self._guard:
            job = self._jobs.get(job_id)
            if job is None:
                return {"state": "pending", "done": 0, "total": 0}
            return {key: job[key] for key in ("state", "done", "total")}

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Ask a running job to stop at its next step."""
        with self._guard:
            job = self._jobs.get(job_id)
            if job is None:
                raise AttributionError(f"There is no attribution job {job_id!r}.")
            job["cancel"].set()
            return {"state": job["state"]}


class AttributionSession:
    """Answers attribution questions about the runs of one Explainer."""

    def __init__(self, explainer: Any) -> None:
        self.explainer = explainer
        self.jobs = Jobs()

    def attribution(
        self,
        run_id: str,
        method: str,
        target: int | None = None,
        layer: str | None = None,
        job_id: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """One attribution of a kept run, as a pack: arrays ``map`` and ``raw``."""
        graph = self.explainer.run_graph(run_id)
        x = graph.nodes[0].activation
        extra: dict[str, Any] = {}
        if job_id is not None:
            extra["cancel"] = self.jobs.start(job_id)
            extra["progress"] = lambda done, total: self.jobs.update(job_id, done=done, total=total)
        try:
            result = attribute(
                self.explainer.model,
                x,
                method,
                target,
                layer,
                graph=graph,
                **extra,
                **(options or {}),
            )
        except AttributionCancelled:
            self._finish(job_id, "cancelled")
            raise
        except Exception:
            self._finish(job_id, "failed")
            raise
        self._finish(job_id, "done")
        return self._pack(result), {"map": result.map, "raw": result.raw}

    def _finish(self, job_id: str | None, state: str) -> None:
        if job_id is not None:
            self.jobs.update(job_id, state=state)

    def _pack(self, result: Attribution) -> dict[str, Any]:
        return {
            "method": result.method,
            "target": result.target,
            "target_name": self._class_name(result.target),
            "score": result.score,
            "layer": result.layer,
            "layer_name": result.layer_name,
            "settings": result.settings,
            "details": result.details,
            "range": [float(result.map.min()), float(result.map.max())],
        }

    def _class_name(self, index: int) -> str:
        names = getattr(self.explainer, "class_names", ())
        return names[index] if index < len(names) else f"class {index}"

    def gradcam_stages(
        self, run_id: str, target: int | None = None, plus: bool = False
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Grad-CAM of every spatial stage: meta ``stages`` and one array per stage node."""
        graph = self.explainer.run_graph(run_id)
        stages = gradcam_stages(
            self.explainer.model, graph.nodes[0].activation, target, graph=graph, plus=plus
        )
        meta = {
            "method": "gradcam++" if plus else "gradcam",
            "target": stages[0].target if stages else target,
            "stages": [
                {
                    "node": stage.layer,
                    "name": stage.layer_name,
                    "range": [float(stage.raw.min()), float(stage.raw.max())],
                }
                for stage in stages
            ],
        }
        return meta, {str(stage.layer): stage.raw for stage in stages}

    def receptive_field(self, run_id: str, node_id: str) -> dict[str, Any]:
        """The input box of every cell of a node (rows and columns tables)."""
        graph = self.explainer.run_graph(run_id)
        _known(graph, node_id)
        return receptive_fields(graph, node_id).describe()

    def effective_receptive_field(
        self, run_id: str, node_id: str, y: int, x: int, channel: int | None = None
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``|d cell / d input|`` as array ``heat`` ``[H, W]``, with the geometric box."""
        graph = self.explainer.run_graph(run_id)
        _known(graph, node_id)
        heat = effective_receptive_field(
            self.explainer.model, graph.nodes[0].activation, graph, node_id, y, x, channel
        )
        box = receptive_fields(graph, node_id).box(y, x)
        return (
            {
                "node": node_id,
                "y": y,
                "x": x,
                "channel": channel,
                "box": list(box),
                "max": float(heat.max()),
            },
            {"heat": heat.astype(np.float32)},
        )

    def channel_exemplars(
        self, run_id: str, node_id: str, channel: int
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The images that excite one channel most, cropped to its receptive field."""
        folder = getattr(self.explainer, "exemplars", None)
        if folder is None:
            raise AttributionError(
                "This model has no channel exemplars; compute them with `tensorsight exemplars`."
            )
        graph = self.explainer.run_graph(run_id)
        _known(graph, node_id)
        meta, crops = channel_crops(folder, graph.node(node_id).name, channel)
        return {**meta, "node": node_id, "channel": channel}, {"crops": crops}

    def exemplar_layers(self) -> list[str]:
        """The names of the layers that have channel exemplars (none without a folder)."""
        folder = getattr(self.explainer, "exemplars", None)
        return [] if folder is None else list(read_index(folder)["layers"])


def _known(graph: Any, node_id: str) -> None:
    if node_id not in graph:
        raise AttributionError(f"This run has no node {node_id!r}.")


def with_attribution(protocol: Protocol, explainer: Any) -> Protocol:
    """``protocol`` plus the attribution methods over ``explainer`` (see the module table).

    >>> from tensorsight.protocol import explainer_protocol             # doctest: +SKIP
    >>> protocol = with_attribution(explainer_protocol(explainer), explainer)  # doctest: +SKIP
    """
    session = AttributionSession(explainer)
    computing = [
        Method(
            "attribution",
            _attribution_arguments,
            result="pack",
            call=lambda _, **kwargs: session.attribution(**kwargs),
        ),
        Method(
            "gradcam_stages",
            _stages_arguments,
            result="pack",
            call=lambda _, **kwargs: session.gradcam_stages(**kwargs),
        ),
        Method(
            "receptive_field",
            _node_arguments,
            call=lambda _, **kwargs: session.receptive_field(**kwargs),
        ),
        Method(
            "effective_receptive_field",
            _cell_arguments,
            result="pack",
            call=lambda _, **kwargs: session.effective_receptive_field(**kwargs),
        ),
        Method(
            "channel_exemplars",
            _channel_arguments,
            result="pack",
            call=lambda _, **kwargs: session.channel_exemplars(**kwargs),
        ),
        Method("exemplar_layers", call=lambda _: session.exemplar_layers()),
    ]
    polling = [
        Method(
            "attribution_progress",
            _job_arguments,
            call=lambda jobs, **kwargs: jobs.progress(**kwargs),
        ),
        Method(
            "attribution_cancel", _job_arguments, call=lambda jobs, **kwargs: jobs.cancel(**kwargs)
        ),
    ]
    expected = (AttributionError, AttributionCancelled)
    # Bound to the explainer itself, the computing methods take its lock; polling has its own.
    return protocol.extend(explainer, computing, expected=expected).extend(
        session.jobs, polling, expected=expected
    )


def _attribution_arguments(arguments: Arguments) -> dict[str, Any]:
    method = arguments.choice("method", tuple(METHODS), default="saliency")
    options: dict[str, Any] = {}
    for name in METHODS[method].defaults:
        if name not in arguments.params:
            continue
        value = arguments.params[name]
        if name == "baseline" and isinstance(value, str) and value in _NAMED_BASELINES:
            options[name] = _NAMED_BASELINES[value]
        elif name == "baseline" and not _is_number(value):
            raise ProtocolError(
                400, f"The parameter 'baseline' must be black, blur or a number, not {value!r}."
            )
        elif name == "rule":
            options[name] = arguments.choice(name, tuple(PATH_RULES), default="adaptive")
        elif name in _REAL_OPTIONS:
            options[name] = _real(arguments, name)
        else:
            options[name] = arguments.integer(name)
    return {
        "run_id": arguments.text("run_id"),
        "method": method,
        "target": arguments.integer("target", default=None),
        "layer": arguments.text("layer", default=None),
        "job_id": arguments.text("job_id", default=None),
        "options": options,
    }


def _is_number(value: Any) -> bool:
    try:
        return not isinstance(value, bool) and bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def _real(arguments: Arguments, name: str) -> float:
    value = arguments.params[name]
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not np.isfinite(number):
        raise ProtocolError(400, f"The parameter {name!r} must be a number, not {value!r}.")
    return number


def _stages_arguments(arguments: Arguments) -> dict[str, Any]:
    plus = arguments.params.get("plus", False)
    if plus not in (True, False, "true", "false"):
        raise ProtocolError(400, f"The parameter 'plus' must be true or false, not {plus!r}.")
    return {
        "run_id": arguments.text("run_id"),
        "target": arguments.integer("target", default=None),
        "plus": plus in (True, "true"),
    }


def _node_arguments(arguments: Arguments) -> dict[str, Any]:
    return {"run_id": arguments.text("run_id"), "node_id": arguments.text("node_id")}


def _cell_arguments(arguments: Arguments) -> dict[str, Any]:
    return {
        **_node_arguments(arguments),
        "y": arguments.integer("y"),
        "x": arguments.integer("x"),
        "channel": arguments.integer("channel", default=None),
    }


def _channel_arguments(arguments: Arguments) -> dict[str, Any]:
    return {**_node_arguments(arguments), "channel": arguments.integer("channel")}


def _job_arguments(arguments: Arguments) -> dict[str, Any]:
    return {"job_id": arguments.text("job_id")}
