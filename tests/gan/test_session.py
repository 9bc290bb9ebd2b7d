"""GanSession: the training thread, its commands, slow motion, frames; pretrained files; CLI."""

from __future__ import annotations

import threading
import time

import pytest

torch = pytest.importorskip("torch")

from tensorsight.cli import build_parser  # noqa: E402
from tensorsight.explanation import decode_pack  # noqa: E402
from tensorsight.gan import GanLab, GanSession, SettingsError  # noqa: E402
from tensorsight.gan.pretrained import (  # noqa: E402
    PRETRAINED_DIR,
    load_lab,
    load_pretrained,
    pretrained_names,
    save_lab,
)
from tensorsight.gan.session import STAGES  # noqa: E402

CONVERGED = 0.15  # bits of JS above the floor: bench/gan_lab.py's "converged"
# What the shipped starts of the harder presets reach (python -m tensorsight.gan.pretrain).
SHIPPED_JS_ABOVE_FLOOR = {"disjoint": 0.3, "ring8": 0.4, "grid25": 0.6}
SHIPPED_MODES_MISSED = {"grid25": 1}


@pytest.fixture
def session():
    s = GanSession(preset="line", pretrained=False, frame_interval=0.0, slow_stage_s=0.02)
    yield s
    s.close()


def test_play_pause_step(session):
    assert session.play()["playing"] is True
    time.sleep(0.5)
    paused = session.pause()
    assert paused["playing"] is False and paused["epoch"] > 0
    time.sleep(0.2)
    assert session.state()["epoch"] == paused["epoch"]
    assert session.step("g")["epoch"] == paused["epoch"] + 1
    _, data = session.latest_frame()
    meta, arrays = decode_pack(data)
    assert meta["epoch"] == paused["epoch"] + 1 and arrays["fake"].shape == (150, 2)


def test_slow_motion_publishes_every_stage_then_one_whole_epoch(session):
    seen: list[str] = []
    session.subscribe(lambda: seen.append(decode_pack(session.latest_frame()[1])[0].get("stage")))
    session.slow_step()
    deadline = time.monotonic() + 20
    while session.state()["slow"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [s for s in seen if s] == [stage for stage, _ in STAGES]
    assert session.state()["epoch"] == 1


def test_pausing_mid_slow_motion_finishes_the_epoch(session):
    session.slow_stage_s = 5
    session.slow_step()
    time.sleep(0.2)
    assert session.pause()["epoch"] == 1


def test_configure_live_or_restart_and_probe(session):
    session.step()
    live = session.configure(d_lr=0.01)
    assert live["restarted"] is False and live["epoch"] == 1
    restarted = session.configure(d_neurons=4)
    assert restarted["restarted"] is True and restarted["epoch"] == 0
    probe = session.probe(0.3, 0.4)
    with torch.no_grad():
        expected = torch.sigmoid(session.lab.discriminator(torch.tensor([[0.3, 0.4]])))
    assert probe["d"] == pytest.approx(float(expected), abs=1e-6)
    with pytest.raises(SettingsError):
        session.configure(loss="hinge")


def test_close_ends_the_thread():
    s = GanSession(preset="line", pretrained=False)
    s.play()
    s.close()
    assert not any(
        t.name == "tensorsight-gan" and t is s._thread and t.is_alive()
        for t in threading.enumerate()
    )
    with pytest.raises(SettingsError, match="ended"):
        s.play()


def test_shipped_pretrained_starts_load_and_are_tiny():
    names = pretrained_names()
    assert {"line", "gaussians", "ring"} <= set(names)
    for name in names:
        assert (PRETRAINED_DIR / f"{name}.safetensors").stat().st_size < 64_000
    lab = GanSession(preset="line", pretrained=True)
    try:
        assert lab.state()["epoch"] > 0
    finally:
        lab.close()


@pytest.mark.parametrize("name", pretrained_names())
def test_each_shipped_start_is_close_to_its_preset(name):
    # The page opens on these: each must already look like its data (JS near the real-vs-real
    # floor; the three multi-cluster presets are not there yet) and cover the mixtures' modes.
    snap = load_pretrained(name).snapshot()
    assert snap["js"] <= snap["js_floor"] + SHIPPED_JS_ABOVE_FLOOR.get(name, CONVERGED)
    if "modes" in snap:
        assert snap["modes_covered"] >= snap["modes"] - SHIPPED_MODES_MISSED.get(name, 0)


def test_save_and_load_round_trip(tmp_path):
    lab = GanLab("ring", seed=3, loss="lsq", g_neurons=6)
    lab.train(4)
    save_lab(lab, tmp_path / "ring.safetensors")
    again = load_lab(tmp_path / "ring.safetensors")
    assert again.epoch == 4 and again.settings == lab.settings
    for a, b in zip(lab.generator.parameters(), again.generator.parameters(), strict=True):
        assert torch.equal(a, b)


def test_gan_command_is_registered():
    args = build_parser().parse_args(["gan", "-p", "0", "--gan-sessions", "2"])
    assert args.page == "gan" and args.gan_sessions == 2 and args.host == "127.0.0.1"
    assert build_parser().parse_args(["serve"]).gan_sessions == 4
