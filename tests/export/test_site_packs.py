"""The static site's detail packs: each channel's file joined with its node's shared arrays is
the server's pack exactly, and an ungrouped convolution's input is written once per node."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from tensorsight.explanation import Explainer
from tensorsight.explanation.pack import decode_pack
from tensorsight.export import export_site
from tensorsight.models import load_model

SAMPLE = "ankle-boot-1"
CHANNELS = 3


def read(path: Path) -> tuple[dict, dict]:
    return decode_pack(gzip.decompress(path.read_bytes()))


def joined(folder: Path, channel: int) -> tuple[dict, dict]:
    """What the page makes of a channel's detail file (frontend/src/sources/static.js)."""
    meta, arrays = read(folder / f"{channel}.pack.gz")
    names = meta.pop("shared", [])
    if names:
        _, common = read(folder / "shared.pack.gz")
        arrays = {**{name: common[name] for name in names}, **arrays}
    return meta, arrays


def test_joined_detail_packs_are_the_servers_and_a_conv_input_is_written_once(tmp_path) -> None:
    explainer = Explainer.from_bundle(load_model("tinyvgg"))
    export_site(explainer, tmp_path / "site", sample_ids=[SAMPLE], channels=CHANNELS)
    run_id = explainer.run_sample(SAMPLE)["run_id"]
    details = tmp_path / "site" / "data" / "runs" / SAMPLE / "detail"
    convs = [node for node in explainer.model_info()["nodes"] if node["kind"] == "conv2d"]
    assert convs
    for node in convs:
        folder = details / node["id"]
        assert (folder / "shared.pack.gz").is_file()
        for channel in range(CHANNELS):
            meta, arrays = joined(folder, channel)
            assert "input" not in read(folder / f"{channel}.pack.gz")[1]
            want_meta, want = explainer.detail(run_id, node["id"], channel)
            assert meta == want_meta and list(arrays) == list(want)
            for name, array in want.items():
                assert arrays[name].dtype == array.dtype
                assert np.array_equal(arrays[name], array), (node["name"], channel, name)
    # Other kinds keep their whole pack in each channel's file.
    relu = next(n for n in explainer.model_info()["nodes"] if n["kind"] == "relu")
    assert not (details / relu["id"] / "shared.pack.gz").exists()
    assert "shared" not in read(details / relu["id"] / "0.pack.gz")[0]
