"""A live GAN session: a :class:`GanLab` trained on its own thread, publishing frames.

Training runs at its own pace on one torch thread (tiny networks are fastest so; the thread
count is per thread with OpenMP, so the explainer keeps its own). At most one frame per
``frame_interval`` is built, and only the latest is kept: a slow viewer skips frames, it never
queues them. Commands (play, step, settings...) are plain methods, safe from any thread; each
returns the session's :meth:`state`.

>>> session = GanSession(preset="line", pretrained=False)
>>> session.step()["epoch"]
1
>>> session.close()
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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
# "Make it collapse": a generator far faster than its discriminator, with Adam, on many modes.
COLLAPSE_SETTINGS = {"d_optimizer": "adam", "g_optimizer": "adam", "d_lr": 0.0005,
                     "g_lr": 0.01, "k_d": 1, "k_g": 3, "loss": "log"}
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


class GanSession:
    """A :class:`GanLab` with a training thread, play/pause/step controls and a latest frame."""

    def __init__(self, *, preset: str = DEFAULT_PRESET, pretrained: bool = True, seed: int = 0,
                 frame_interval: float = FRAME_INTERVAL_S, slow_stage_s: float = SLOW_STAGE_S,
                 threads: int = 1) -> None:
        self.frame_interval = frame_interval
        self.slow_stage_s = slow_stage_s
        self._threads = threads
        self._cond = threading.Condition(threading.RLock())
        self._listeners: list[Listener] = []
        self._frame: bytes = b""
        self._frame_number = 0
        self._playing = False
        self._slow = False
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
        with self._cond:
            return self._frame_number, self._frame

    def _publish(self, **extra: Any) -> None:
        with self._cond:
            data = encode_pack(*frame(self.lab.snapshot(), playing=self._playing,
                                      slow=self._slow, **extra))
            self._frame, self._frame_number = data, self._frame_number + 1
        for listener in list(self._listeners):
            listener()

    # --------------------------------------------------------------- commands
    def state(self) -> dict[str, Any]:
        """Plain data: epoch, playing, the experiment's preset, settings and what can be chosen."""
        with self._cond:
            return {"epoch": self.lab.epoch, "playing": self._playing, "slow": self._slow,
                    "distribution": self.lab.distribution.name, "seed": self.lab.seed,
                    "settings": self.lab.settings.to_dict(),
                    "presets": {name: d.title for name, d in PRESETS.items()},
                    "pretrained": pretrained_names()}

    def play(self) -> dict[str, Any]:
        return self._set_playing(True)

    def pause(self) -> dict[str, Any]:
        return self._set_playing(False)

    def step(self, which: str = "both") -> dict[str, Any]:
        """One epoch of D only (``"d"``), G only (``"g"``) or both; pauses first."""
        if which not in ("both", "d", "g"):
            raise SettingsError(f"step takes 'both', 'd' or 'g', not {which!r}.")
        with self._cond:
            self._playing = self._slow = False
            self.lab.train_epoch(d=which != "g", g=which != "d")
            self._publish()
        return self.state()

    def slow_step(self) -> dict[str, Any]:
        """Show one epoch stage by stage (``STAGES``), ``slow_stage_s`` apart, then pause."""
        with self._cond:
            self._playing, self._slow = False, True
            self._cond.notify_all()
        return self.state()

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change settings; live unless the architecture changes (then a new experiment)."""
        with self._cond:
            restarted = self.lab.update(**changes)
            self._publish()
        return {**self.state(), "restarted": restarted}

    def collapse(self) -> dict[str, Any]:
        """"Make it collapse": the 8-Gaussian ring from scratch with ``COLLAPSE_SETTINGS``."""
        with self._cond:
            self.lab = GanLab("ring8", self.lab.seed, settings=GanSettings(**COLLAPSE_SETTINGS))
            self._publish()
        return self.state()

    def start(self, preset: str = DEFAULT_PRESET, pretrained: bool = True,
              seed: int = 0) -> dict[str, Any]:
        """A new experiment on ``preset``: the shipped starting point, or from scratch."""
        with self._cond:
            self._playing = self._slow = False
            self.lab = self._new_lab(preset, pretrained, seed)
            self._publish()
        return self.state()

    def reset(self) -> dict[str, Any]:
        """Back to epoch 0: new networks from the seed, same settings and distribution."""
        with self._cond:
            self._playing = self._slow = False
            self.lab.restart()
            self._publish()
        return self.state()

    def draw(self, points: list[list[float]]) -> dict[str, Any]:
        """Learn a drawn distribution (``[[x, y], ...]`` in the unit square) from scratch."""
        with self._cond:
            self._playing = self._slow = False
            self.lab.set_distribution(points)
            self._publish()
        return self.state()

    def close(self) -> None:
        """Stop the training thread (idempotent)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    # --------------------------------------------------------------- internals
    def _new_lab(self, preset: str, pretrained: bool, seed: int) -> GanLab:
        if pretrained and preset in pretrained_names():
            return load_pretrained(preset)
        return GanLab(preset, seed)

    def _set_playing(self, playing: bool) -> dict[str, Any]:
        with self._cond:
            self._playing, self._slow = playing, False
            self._cond.notify_all()
            self._publish()
        return self.state()

    def _run(self) -> None:
        torch.set_num_threads(self._threads)
        last = 0.0
        while True:
            with self._cond:
                while not (self._closed or self._playing or self._slow):
                    self._cond.wait()
                if self._closed:
                    return
                if self._slow:
                    self._slow_motion()
                    continue
                self.lab.train_epoch()
                if time.monotonic() - last >= self.frame_interval:
                    self._publish()
                    last = time.monotonic()
            # Outside the lock between epochs, so commands get their turn.

    def _slow_motion(self) -> None:
        """Called with the lock held; waits release it, so pause or close can interrupt."""
        phases = {"d5": self.lab.d_phase, "g5": self.lab.g_phase}
        for index, (stage, text) in enumerate(STAGES, start=1):
            if stage in phases:
                phases[stage]()
            if stage == "g5":
                self.lab.end_epoch()
            self._publish(stage=stage, stage_index=index, stage_text=text)
            self._cond.wait(self.slow_stage_s)
            if self._closed or not self._slow:
                if stage < "g5":  # interrupted mid-epoch: finish it, so epochs stay whole
                    self._finish(stage)
                return
        self._slow = False
        self._publish()

    def _finish(self, stage: str) -> None:
        if stage < "d5":
            self.lab.d_phase()
        self.lab.g_phase()
        self.lab.end_epoch()
