"""Content-addressed runs: one id per (model, input), recomputed bit for bit, shared stores."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from architectures import build
from tensorsight.explanation import (
    DirectoryInputStore,
    Explainer,
    InputStore,
    UnknownIdError,
    encode_pack,
)
from tensorsight.explanation.runs import ByteLru
from tensorsight.imaging import Preprocessing

CLASSES = tuple(f"class {index}" for index in range(10))


def picture(seed: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (50, 40, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def explainer(family: str = "tinyvgg", size: int = 64, channels: int = 1, **options) -> Explainer:
    torch.manual_seed(0)
    model, _ = build(family)
    return Explainer(
        model,
        preprocessing=Preprocessing(size=(size, size), channels=channels),
        class_names=CLASSES,
        name=family,
        **options,
    )


def every_pack(session: Explainer, run_id: str) -> list[bytes]:
    """The f32 activations of every node and one detail per node: all the numbers shown."""
    nodes = session.model_info()["nodes"]
    packs = [
        encode_pack(*session.activations(run_id, [node["id"] for node in nodes], encoding="f32"))
    ]
    packs += [encode_pack(*session.detail(run_id, node["id"], 0)) for node in nodes]
    return packs


def test_the_same_picture_is_one_run_and_another_is_another() -> None:
    session = explainer()
    first = session.run_image(picture(1))
    again = session.run_image(picture(1))
    assert first == again and len(first["run_id"]) == 20
    assert session.run_image(picture(2))["run_id"] != first["run_id"]
    assert len(session._runs) == 2


@pytest.mark.parametrize(
    ("family", "size", "channels"), [("tinyvgg", 64, 1), ("resnet", 32, 3), ("branchy", 32, 3)]
)
def test_a_recomputed_run_gives_bit_identical_numbers(family, size, channels) -> None:
    session = explainer(family, size, channels, max_bytes=1)  # keeps only the newest run
    run_id = session.run_image(picture(3))["run_id"]
    first = every_pack(session, run_id)
    other = session.run_image(picture(4))["run_id"]  # evicts the first run's activations
    assert session._runs.get(run_id) is None
    assert every_pack(session, run_id) == first
    assert session._runs.get(other) is None


def test_ids_are_the_same_on_another_worker_with_the_same_weights(tmp_path) -> None:
    one, two = (explainer(store=DirectoryInputStore(tmp_path)) for _ in range(2))
    run_id = one.run_image(picture(5))["run_id"]
    assert every_pack(two, run_id) == every_pack(one, run_id)  # two computes from the file
    restarted = explainer(store=DirectoryInputStore(tmp_path))
    assert restarted.activations(run_id, ["n1"])[0]["nodes"]["n1"]["shape"] == [1, 10, 62, 62]


def test_other_weights_give_other_ids() -> None:
    session = explainer()
    changed = explainer()
    with torch.no_grad():
        next(changed.model.parameters()).add_(1e-3)
    changed = Explainer(
        changed.model, preprocessing=changed.preprocessing, class_names=CLASSES, name="changed"
    )
    assert changed.run_image(picture(1))["run_id"] != session.run_image(picture(1))["run_id"]


@pytest.mark.parametrize("run_id", ["0" * 20, "../../etc/passwd", "", "a" * 21, "ABCDEF" * 4])
def test_unknown_or_malformed_ids_are_unknown_runs(tmp_path, run_id) -> None:
    session = explainer(store=DirectoryInputStore(tmp_path))
    with pytest.raises(UnknownIdError, match="no run"):
        session.activations(run_id, ["n1"])
    assert list(tmp_path.iterdir()) == []


def test_a_directory_store_prunes_its_oldest_files(tmp_path) -> None:
    store = DirectoryInputStore(tmp_path, max_bytes=3 * 1200)
    ids = [f"{index:020x}" for index in range(6)]
    for index, run_id in enumerate(ids):
        store.put(run_id, torch.full((1, 1, 16, 16), float(index)))
    store.prune()
    kept = sorted(path.stem for path in tmp_path.glob("*.npy"))
    assert 1 <= len(kept) <= 3 and ids[-1] in kept
    fresh = DirectoryInputStore(tmp_path)
    assert torch.equal(fresh.get(ids[-1]), torch.full((1, 1, 16, 16), 5.0))
    (tmp_path / f"{ids[-1]}.npy").write_bytes(b"\x93NUMPY cut short")
    assert DirectoryInputStore(tmp_path).get(ids[-1]) is None  # unreadable: unknown, no crash


def test_the_memory_store_is_bounded_by_bytes() -> None:
    store = InputStore(max_bytes=3 * 1024)
    for index in range(10):
        store.put(f"{index:020x}", torch.zeros(256))  # 1 KiB each
    assert store.get(f"{9:020x}") is not None and store.get(f"{0:020x}") is None


def test_the_cache_makes_room_before_a_new_run_is_computed() -> None:
    one_run = 4 * sum(
        torch.Size(node["shape"]).numel() for node in explainer().model_info()["nodes"]
    )
    session = explainer(max_bytes=int(2.5 * one_run))
    first, second = (session.run_image(picture(seed))["run_id"] for seed in (6, 7))
    assert len(session._runs) == 2
    with session._runs.room_for(one_run):  # what run_image holds while capturing a third
        assert len(session._runs) == 1 and session._runs.get(second) is not None
    assert session.activations(first, ["n1"])[1]["n1"].shape == (10, 62, 62)  # recomputed
    assert len(session._runs) == 2


def test_concurrent_computations_each_hold_their_room() -> None:
    cache: ByteLru[bytes] = ByteLru(max_bytes=10, size=len)
    for key in "abc":
        cache.put(key, b"123")
    with cache.room_for(3):
        assert len(cache) == 2  # 3 held + 2 x 3 kept fit in 10
        with cache.room_for(3):
            assert len(cache) == 1 and cache.get("c") == b"123"
        cache.put("d", b"123")  # the inner value; the outer computation still holds its room
        assert len(cache) == 2 and cache.get("c") is not None
    cache.put("e", b"123")
    assert len(cache) == 3 and cache.nbytes == 9


def test_a_failed_computation_gives_its_room_back() -> None:
    cache: ByteLru[bytes] = ByteLru(max_bytes=10, size=len)
    with pytest.raises(RuntimeError), cache.room_for(8):
        raise RuntimeError("the capture failed")
    for key in "abc":
        cache.put(key, b"123")
    assert len(cache) == 3
