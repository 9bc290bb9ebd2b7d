"""How ``tensorsight serve`` runs: one process, or N uvicorn workers sharing one socket and store.

Workers are separate processes (uvicorn's supervisor spawns them), so each loads the model
itself from :class:`ServeOptions`, passed through the environment. Any worker answers any run
id: ids are content-addressed and inputs live in a store directory every worker reads
(``--store``, or a temporary one the supervisor removes on exit).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from tensorsight.explanation import DirectoryInputStore, InputStore
    from tensorsight.models import ModelBundle

OPTIONS_VARIABLE = "TENSORSIGHT_SERVE_OPTIONS"
DEFAULT_CACHE_MB = 512
DEFAULT_STORE_MB = 256
DEFAULT_DIRECTORY_STORE_MB = 4096
_GRACEFUL_SHUTDOWN_S = 2
# The part of --cache-mb that keeps gzipped answers already sent (the rest: activations).
_ANSWER_SHARE = 16


@dataclass(frozen=True)
class ServeOptions:
    """Everything a worker needs to build the same app as its siblings (JSON-able)."""

    models: tuple[str, ...] = ("tinyvgg",)  # several: one app each, with a picker
    weights: str | None = None
    class_names: tuple[str, ...] | None = None
    input_size: tuple[int, int] | None = None
    trust_pickle: bool = False
    samples: str | None = None
    allowed_hosts: tuple[str, ...] | None = None
    workers: int = 1
    store: str | None = None
    store_mb: int | None = None
    cache_mb: int = DEFAULT_CACHE_MB
    threads: int = 1  # torch threads per worker
    device: str = "cpu"
    gan_sessions: int = 4  # per process: a GAN session lives in the worker its socket reached

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeOptions:
        fields = json.loads(text)
        for name in ("models", "class_names", "input_size", "allowed_hosts"):
            if fields.get(name) is not None:
                fields[name] = tuple(fields[name])
        return cls(**fields)

    def store_description(self) -> str:
        """Where run inputs live, as the start-up line says it."""
        if self.store is None and self.workers > 1:
            return "inputs in a temporary directory the workers share"
        return _store(self).describe()


@dataclass(frozen=True)
class PendingModel:
    """A built-in model a server lists by name and loads on its first request, so start-up
    builds only the first model (the one the page opens on)."""

    spec: str
    name: str


def load_bundles(options: ServeOptions) -> list[ModelBundle | PendingModel]:
    """The models the options name, on the options' device: the first loaded, and so is any
    model not built in; the other built-ins pending (raises ModelLoadError)."""
    from tensorsight.models import builtin_model_name

    loaded: list[ModelBundle | PendingModel] = []
    for index, spec in enumerate(options.models):
        name = builtin_model_name(spec) if index else None
        loaded.append(PendingModel(spec, name) if name else load_bundle(options, spec))
    return loaded


def load_bundle(options: ServeOptions, spec: str) -> ModelBundle:
    """The model ``spec`` names, loaded as the options say, on their device."""
    from tensorsight.models import ModelLoadError, load_model

    try:
        bundle = load_model(
            spec,
            weights=Path(options.weights) if options.weights else None,
            class_names=options.class_names,
            input_size=options.input_size,
            trust_pickle=options.trust_pickle,
            samples=options.samples,
        )
    except ModelLoadError as error:
        if len(options.models) == 1:
            raise
        raise ModelLoadError(f"{spec}: {error}") from error
    bundle.model.to(options.device)
    return bundle


def build_app(
    options: ServeOptions, bundles: list[ModelBundle | PendingModel] | None = None
) -> ASGIApp:
    """The app one process serves: one model's, or several behind a picker (server.several)."""
    from tensorsight.explanation import Explainer
    from tensorsight.server.several import ServedModel, create_multi_app, unique_ids

    bundles = bundles if bundles is not None else load_bundles(options)
    store = _store(options)  # run ids name their model, so the models can share one store
    budget = options.cache_mb * 2**20
    answers = budget // _ANSWER_SHARE

    def explainer(bundle: ModelBundle) -> Explainer:
        return Explainer.from_bundle(bundle, max_bytes=budget - answers, store=store)

    def served(model_id: str, bundle: ModelBundle | PendingModel) -> ServedModel:
        if isinstance(bundle, PendingModel):
            spec = bundle.spec
            return ServedModel(
                model_id, bundle.name, load=lambda: explainer(load_bundle(options, spec))
            )
        return ServedModel(model_id, bundle.name, explainer(bundle))

    models = [served(*pair) for pair in zip(unique_ids(options.models), bundles, strict=True)]
    return create_multi_app(
        models,
        allowed_hosts=options.allowed_hosts,
        gan_sessions=options.gan_sessions,
        answer_cache_bytes=answers,
    )


def worker_app() -> ASGIApp:
    """uvicorn's app factory in each worker process: the app the supervisor's options describe."""
    import torch

    from tensorsight.explanation.memory import tune_allocator

    tune_allocator()
    options = ServeOptions.from_json(os.environ[OPTIONS_VARIABLE])
    # Ctrl+C reaches every process of the terminal; the supervisor alone handles it and stops
    # the workers with SIGTERM, which uvicorn answers with a graceful shutdown.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(options.threads)
    return build_app(options)


def serve_here(
    options: ServeOptions, bundles: list[ModelBundle | PendingModel], listener: socket.socket
) -> None:
    """Serve in this process until a signal stops it (Ctrl+C raises KeyboardInterrupt)."""
    import torch
    import uvicorn

    from tensorsight.explanation.memory import tune_allocator

    tune_allocator()
    torch.set_num_threads(options.threads)
    config = uvicorn.Config(
        build_app(options, bundles),
        log_level="warning",
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S,
    )
    uvicorn.Server(config).run(sockets=[listener])


def serve_workers(options: ServeOptions, listener: socket.socket) -> bool:
    """Serve with ``options.workers`` processes on one socket; True when Ctrl+C stopped them."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    class Supervisor(Multiprocess):
        interrupted = False

        def handle_int(self) -> None:
            Supervisor.interrupted = True
            super().handle_int()

    with tempfile.TemporaryDirectory(prefix="tensorsight-runs-") as scratch:
        if options.store is None:  # the workers must share their inputs
            options = dataclasses.replace(options, store=scratch)
        os.environ[OPTIONS_VARIABLE] = options.to_json()
        config = uvicorn.Config(
            "tensorsight.server.processes:worker_app",
            factory=True,
            workers=options.workers,
            log_level="warning",
            timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S,
        )
        Supervisor(config, sockets=[listener]).run()
    return Supervisor.interrupted


def _store(options: ServeOptions) -> InputStore | DirectoryInputStore:
    from tensorsight.explanation import DirectoryInputStore, InputStore

    if options.store is None:
        return InputStore((options.store_mb or DEFAULT_STORE_MB) * 2**20)
    return DirectoryInputStore(
        options.store, (options.store_mb or DEFAULT_DIRECTORY_STORE_MB) * 2**20
    )
