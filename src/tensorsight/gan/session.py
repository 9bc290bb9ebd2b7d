"""A live GAN session: a :class:`GanLab` trained on its own thread, publishing frames.

Training runs at its own pace on one thread that owns the lab, with one torch thread (tiny
networks are fastest so; the count is per thread with OpenMP, so the explainer keeps its own).
At most one frame per ``frame_interval`` is built, and only the latest is kept: a slow viewer
skips frames, it never queues them. Commands (play, step, settings...) are plain methods, safe
from any thread: each is handed to the training thread, run between two epochs (so a busy
trainer never starves it of a lock), and returns the session's :meth:`state`.

>>> session = GanSession(preset="line", pretrained=False)
>>> session.step()["epoch"]
1
>>> session.close()
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import torch

from tensorsight.explanation import encode_pack
from tensorsight.gan.distributions import PRESETS
from tensorsight.gan.frames import frame
from tensorsight.gan.lab import GanLab
from tensorsight.gan.pretrained import load_pretrained, pretrained_names
from tensorsight.gan.settings import GanSettings, SettingsError

DEFAULT_PRESET = "ring"
FRAME_INTERVAL_S = 1 / 30
SLOW_STAGE_S = 1.25
# "Make it collapse": on many modes, Adam, three G steps per D step and no R1 penalty: the
# fakes bunch into one spot that hops from mode to mode (bench/gan_lab.py --convergence).
# A faster G (lr 0.01) instead pins the fakes at tanh's corners, outside the plot.
COLLAPSE_SETTINGS = GanSettings(
    d_optimizer="adam",
    g_optimizer="adam",
    d_lr=0.001,
    g_lr=0.001,
    k_d=1,
    k_g=3,
    loss="log",
    r1_weight=0.0,
)
STAGES = (
    ("d1", "Generate: G turns a batch of noise into fakes."),
    ("d2", "Classify: D scores real points and fakes."),
    ("d3", "D's loss: how badly D tells them apart."),
    ("d4", "Gradients: backpropagation through D's weights."),
    ("d5", "Update D: its decision surface moves."),
    ("g1", "Generate: fresh noise becomes fakes."),
    ("g2", "Classify: D scores the fakes."),
    ("g3", "G's loss: how fake D finds them."),
    ("g4", "Gradients: through D into G; the arrows show where each fake is pushed."),
    ("g5", "Update G: the fakes move along the arrows."),
)
Listener = Callable[[], None]
COMMAND_TIMEOUT_S = 60


class GanSession:
    """A :class:`GanLab` with a training thread, play/pause/step controls and a latest frame."""

    def __init__(
        self,
        *,
        preset: str = DEFAULT_PRESET,
        pretrained: bool = True,
        seed: int = 0,
        frame_interval: float = FRAME_INTERVAL_S,
        slow_stage_s: float = SLOW_STAGE_S,
        threads: int = 1,
    ) -> None:
        self.frame_interval = frame_interval
        self.slow_stage_s = slow_stage_s
        self._threads = threads
        self._commands: queue.Queue[tuple[Callable[[], Any], Future[Any]]] = queue.Queue()
        self._frame_lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._frame: bytes = b""
        self._frame_number = 0
        self._playing = False
        self._slow_stage: int | None = None  # index into STAGES of the next slow-motion stage
        self._closed = False
        self.lab = self._new_lab(preset, pretrained, seed)
        self._publish()
        self._thread = threading.Thread(target=self._run, name="tensorsight-gan", daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- frames
    def subscribe(self, listener: Listener) -> None:
        """Call ``listener()`` (from the training thread) whenever a new frame is ready."""
        self._listeners.append(listener)

    def latest_frame(self) -> tuple[int, bytes]:
        """``(number, pack bytes)`` of the newest frame."""
        with self._frame_lock:
            return self._frame_number, self._frame

    def _publish(self, **extra: Any) -> None:
        data = encode_pack(
            *frame(
                self.lab.snapshot(),
                playing=self._playing,
                slow=self._slow_stage is not None,
                **extra,
            )
        )
        with self._frame_lock:
            self._frame, self._frame_number = data, self._frame_number + 1
        for listener in list(self._listeners):
            listener()

    # --------------------------------------------------------------- commands
    def state(self) -> dict[str, Any]:
        """Plain data: epoch, playing, the experiment's preset, settings and what can be chosen."""
        return self._do(self._state)

    def play(self) -> dict[str, Any]:
        return self._do(lambda: self._set_playing(True))

    def pause(self) -> dict[str, Any]:
        return self._do(lambda: self._set_playing(False))

    def step(self, which: str = "both") -> dict[str, Any]:
        """One epoch of D only (``"d"``), G only (``"g"``) or both; pauses first."""
        if which not in ("both", "d", "g"):
            raise SettingsError(f"step takes 'both', 'd' or 'g', not {which!r}.")

        def run() -> None:
            self._stop()
            self.lab.train_epoch(d=which != "g", g=which != "d")

        return self._do(run, publish=True)

    def slow_step(self) -> dict[str, Any]:
        """Show one epoch stage by stage (``STAGES``), ``slow_stage_s`` apart, then pause."""

        def run() -> None:
            self._stop()
            self._slow_stage = 0

        return self._do(run)

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change settings; live unless the architecture changes (then a new experiment)."""
        restarted: list[bool] = []
        state = self._do(lambda: restarted.append(self.lab.update(**changes)), publish=True)
        return {**state, "restarted": restarted[0]}

    def collapse(self) -> dict[str, Any]:
        """ "Make it collapse": the 8-Gaussian ring from scratch with ``COLLAPSE_SETTINGS``."""
        return self._replace(lambda: GanLab("ring8", self.lab.seed, settings=COLLAPSE_SETTINGS))

    def start(
        self, preset: str = DEFAULT_PRESET, pretrained: bool = True, seed: int = 0
    ) -> dict[str, Any]:
        """A new experiment on ``preset``: the shipped starting point, or from scratch."""
        return self._replace(lambda: self._new_lab(preset, pretrained, seed))

    def reset(self) -> dict[str, Any]:
        """Back to epoch 0: new networks from the seed, same settings and distribution."""

        def run() -> None:
            self._stop()
            self.lab.restart()

        return self._do(run, publish=True)

    def draw(self, points: list[list[float]]) -> dict[str, Any]:
        """Learn a drawn distribution (``[[x, y], ...]`` in the unit square) from scratch."""

        def run() -> None:
            self._stop()
            self.lab.set_distribution(points)

        return self._do(run, publish=True)

    def probe(self, x: float, y: float | None = None) -> dict[str, Any]:
        """D's value at the point ``(x, y)`` (``y`` omitted for a 1-D distribution)."""
        coordinates = [x] if y is None else [x, y]

        def run() -> dict[str, Any]:
            if len(coordinates) != self.lab.distribution.dim:
                raise SettingsError(
                    f"This distribution has {self.lab.distribution.dim} coordinates per point."
                )
            value = self.lab.discriminator_at(torch.tensor([coordinates], dtype=torch.float32))
            return {"x": x, "y": y, "d": float(value[0]), "d_scale": self.lab.settings.loss}

        future: Future[dict[str, Any]] = Future()
        self._commands.put((run, future))
        return future.result(timeout=COMMAND_TIMEOUT_S)

    def close(self) -> None:
        """Stop the training thread (idempotent)."""
        self._closed = True
        self._commands.put((lambda: None, Future()))  # wakes a waiting thread
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    # --------------------------------------------------------------- internals
    def _do(self, command: Callable[[], Any], *, publish: bool = False) -> dict[str, Any]:
        """Run ``command`` on the training thread between epochs; its state afterwards."""

        def run() -> dict[str, Any]:
            command()
            if publish:
                self._publish()
            return self._state()

        if self._closed:
            raise SettingsError("This GAN session has ended.")
        future: Future[dict[str, Any]] = Future()
        self._commands.put((run, future))
        return future.result(timeout=COMMAND_TIMEOUT_S)

    def _replace(self, make: Callable[[], GanLab]) -> dict[str, Any]:
        def run() -> None:
            self._stop()
            self.lab = make()

        return self._do(run, publish=True)

    def _state(self) -> dict[str, Any]:
        return {
            "epoch": self.lab.epoch,
            "playing": self._playing,
            "slow": self._slow_stage is not None,
            "distribution": self.lab.distribution.name,
            "seed": self.lab.seed,
            "settings": self.lab.settings.to_dict(),
            "presets": {name: d.title for name, d in PRESETS.items()},
            "pretrained": pretrained_names(),
        }

    def _new_lab(self, preset: str, pretrained: bool, seed: int) -> GanLab:
        if pretrained and preset in pretrained_names():
            return load_pretrained(preset)
        # 1-D data with 1-D noise: the z -> x mapping of the original paper's figure.
        one_d = preset in PRESETS and PRESETS[preset].dim == 1
        return GanLab(preset, seed, noise_dim=1 if one_d else 2)

    def _set_playing(self, playing: bool) -> None:
        self._stop()
        self._playing = playing
        self._publish()

    def _stop(self) -> None:
        """Pause; a slow-motion epoch in progress is finished first, so epochs stay whole."""
        self._playing = False
        if self._slow_stage is not None:
            stage = self._slow_stage
            self._slow_stage = None
            if stage > 0:  # the epoch has begun: run what it has not run yet
                if stage <= 4:
                    self.lab.d_phase()
                if stage <= 9:
                    self.lab.g_phase()
                    self.lab.end_epoch()

    def _run(self) -> None:
        torch.set_num_threads(self._threads)
        last_frame = 0.0
        next_stage = 0.0
        while not self._closed:
            wait = self._wait_s(next_stage)
            try:
                command, future = (
                    self._commands.get_nowait() if wait == 0 else self._commands.get(timeout=wait)
                )
            except queue.Empty:
                pass
            else:
                self._run_command(command, future)
                continue
            if self._slow_stage is not None:
                self._slow_motion_stage()
                next_stage = time.monotonic() + self.slow_stage_s
            elif self._playing:
                self.lab.train_epoch()
                if time.monotonic() - last_frame >= self.frame_interval:
                    self._publish()
                    last_frame = time.monotonic()

    def _wait_s(self, next_stage: float) -> float | None:
        """How long the thread may wait for a command: until the next slow-motion stage, not
        at all while playing, for ever while paused."""
        if self._slow_stage is not None:
            return max(0.0, next_stage - time.monotonic())
        return 0.0 if self._playing else None

    def _run_command(self, command: Callable[[], Any], future: Future[Any]) -> None:
        try:
            future.set_result(command())
        except BaseException as error:  # handed to the caller's thread, raised there
            future.set_exception(error)

    def _slow_motion_stage(self) -> None:
        """Run and show the next stage of a slow-motion epoch."""
        assert self._slow_stage is not None
        index = self._slow_stage
        stage, text = STAGES[index]
        if stage == "d5":
            self.lab.d_phase()
        elif stage == "g5":
            self.lab.g_phase()
            self.lab.end_epoch()
        self._slow_stage = index + 1 if index + 1 < len(STAGES) else None
        self._publish(stage=stage, stage_index=index + 1, stage_text=text)
