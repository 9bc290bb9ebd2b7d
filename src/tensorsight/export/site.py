"""Write the explainer as a static site: the page plus every sample's runs as plain files.

The site needs no Python: the front end's static source (``frontend/src/sources/static.js``)
reads the same JSON and packs the server would answer, from files laid out as::

    index.html                      the page, its #app marked data-source="static"
    static/app.js, static/app.css   the built front end
    data/model.json                 model_info()
    data/samples.json               samples(), each with its url
    data/samples/<id>.png           sample_png()
    data/runs/<id>.json             run_sample() (the run id is the sample id)
    data/runs/<id>/u8/<node>/<start>.pack.gz    activations, u8, channels start..start+16
    data/runs/<id>/f32/<node>/<c>.pack.gz       activations, f32, channel c ("all": vectors)
    data/runs/<id>/detail/<node>/<c>.pack.gz    detail(node, c), less its shared arrays
    data/runs/<id>/detail/<node>/shared.pack.gz the arrays every channel's detail holds alike

Packs are gzipped (the page unzips them), so no host needs to be set up to compress. An array
that every channel's detail pack of a node holds alike (a convolution's input, when it is not
grouped) is written once, in ``shared.pack.gz``; each channel's pack names it in its meta
(``"shared": ["input"]``) and the page joins the two, so it sees the server's pack exactly.

Channels past ``channels`` (per layer) are left out to keep large networks' sites small; the
page says so when one is asked for.

>>> from tensorsight.export import export_site            # doctest: +SKIP
>>> export_site(Explainer.from_bundle(load_model("tinyvgg")), Path("site")).files  # doctest: +SKIP
2315
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tensorsight.explanation import encode_pack
from tensorsight.web import static_dir

#: Channels per activation window: the overview's page of maps (PAGE in overview.js).
WINDOW = 16
#: Kinds whose detail view is about the whole tensor: one pack serves every channel.
WHOLE_TENSOR_KINDS = frozenset({"flatten", "reshape", "softmax"})
STATIC_MARKER = 'id="app" data-source="static"'


class ExplainerSource(Protocol):
    """The Explainer methods the export reads (docs/architecture.md, "Explanation")."""

    def model_info(self) -> dict[str, Any]: ...
    def samples(self) -> list[dict[str, Any]]: ...
    def sample_png(self, sample_id: str) -> bytes: ...
    def run_sample(self, sample_id: str) -> dict[str, Any]: ...
    def activations(
        self,
        run_id: str,
        node_ids: Sequence[str],
        *,
        channels: tuple[int, int] | None = None,
        encoding: str = "u8",
    ) -> tuple[dict[str, Any], dict[str, Any]]: ...
    def detail(
        self, run_id: str, node_id: str, channel: int = 0
    ) -> tuple[dict[str, Any], dict[str, Any]]: ...


@dataclass(frozen=True)
class ExportReport:
    """What was written: the folder, how many files and bytes, which samples."""

    folder: Path
    files: int
    bytes: int
    samples: tuple[str, ...]

    def describe(self) -> str:
        """One line for the command line.

        >>> ExportReport(Path("site"), 3, 2_500_000, ("a",)).describe()
        'wrote site: 3 files, 2.4 MiB, 1 sample'
        """
        plural = "" if len(self.samples) == 1 else "s"
        return (
            f"wrote {self.folder}: {self.files} files, {self.bytes / 2**20:.1f} MiB, "
            f"{len(self.samples)} sample{plural}"
        )


def export_site(
    explainer: ExplainerSource,
    folder: Path,
    *,
    sample_ids: Iterable[str] | None = None,
    channels: int | None = None,
) -> ExportReport:
    """Write the static site for ``explainer`` into ``folder`` (created; must be empty or absent).

    ``sample_ids`` limits the samples (default: all); ``channels`` limits how many channels of
    each layer get their exact values and detail packs (default: all).
    """
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(f"{folder} is not empty: export into a new or empty folder.")
    samples = explainer.samples()
    if sample_ids is not None:
        wanted = list(sample_ids)
        known = {sample["id"] for sample in samples}
        unknown = [sample_id for sample_id in wanted if sample_id not in known]
        if unknown:
            raise KeyError(
                f"Unknown sample {unknown[0]!r}; the model has "
                f"{', '.join(sorted(known)) or 'no samples'}."
            )
        samples = [sample for sample in samples if sample["id"] in wanted]
    if not samples:
        raise ValueError("The model has no samples to export; give it some with --samples DIR.")
    _write_page(folder)
    data = folder / "data"
    info = explainer.model_info()
    _write_json(data / "model.json", info)
    _write_json(
        data / "samples.json",
        [{**sample, "url": f"data/samples/{sample['id']}.png"} for sample in samples],
    )
    for sample in samples:
        (data / "samples" / f"{sample['id']}.png").parent.mkdir(parents=True, exist_ok=True)
        (data / "samples" / f"{sample['id']}.png").write_bytes(explainer.sample_png(sample["id"]))
        _write_run(explainer, info, sample["id"], data / "runs", channels)
    written = [path for path in folder.rglob("*") if path.is_file()]
    return ExportReport(
        folder,
        len(written),
        sum(path.stat().st_size for path in written),
        tuple(sample["id"] for sample in samples),
    )


def _write_page(folder: Path) -> None:
    assets = static_dir()
    (folder / "static").mkdir(parents=True, exist_ok=True)
    for name in ("app.js", "app.css"):
        shutil.copyfile(assets / name, folder / "static" / name)
    page = (assets / "index.html").read_text(encoding="utf-8")
    if 'id="app"' not in page:
        raise RuntimeError("The built index.html has no #app element to mark as static.")
    (folder / "index.html").write_text(page.replace('id="app"', STATIC_MARKER, 1), encoding="utf-8")


def _write_run(
    explainer: ExplainerSource,
    info: dict[str, Any],
    sample_id: str,
    runs: Path,
    channels: int | None,
) -> None:
    overview = explainer.run_sample(sample_id)
    run_id = overview["run_id"]
    _write_json(runs / f"{sample_id}.json", {**overview, "run_id": sample_id})
    here = runs / sample_id
    for node in info["nodes"]:
        node_id, shape = node["id"], node["shape"]
        count = shape[1] if len(shape) == 4 else 1
        shown = count if channels is None else min(count, channels)
        if len(shape) == 4:
            for start in range(0, count, WINDOW):
                window = (start, min(start + WINDOW, count))
                _write_pack(
                    here / "u8" / node_id / f"{start}.pack",
                    explainer.activations(run_id, [node_id], channels=window),
                )
            for channel in range(shown):
                _write_pack(
                    here / "f32" / node_id / f"{channel}.pack",
                    explainer.activations(
                        run_id, [node_id], channels=(channel, channel + 1), encoding="f32"
                    ),
                )
        else:
            _write_pack(here / "u8" / node_id / "0.pack", explainer.activations(run_id, [node_id]))
            _write_pack(
                here / "f32" / node_id / "all.pack",
                explainer.activations(run_id, [node_id], encoding="f32"),
            )
        _write_details(  # one pack at a time: a big layer's packs would not fit in memory
            here / "detail" / node_id,
            (
                (channel, explainer.detail(run_id, node_id, channel))
                for channel in _detail_channels(node, shown, channels)
            ),
        )


def _write_details(
    folder: Path, packs: Iterable[tuple[int, tuple[dict[str, Any], dict[str, Any]]]]
) -> None:
    """Each channel's detail pack, with its shared arrays written once (module docstring)."""
    for channel, (meta, arrays) in packs:
        shared = _shared_arrays(meta)
        if shared and not (folder / "shared.pack.gz").exists():
            _write_pack(folder / "shared.pack", ({}, {name: arrays[name] for name in shared}))
        own = {name: array for name, array in arrays.items() if name not in shared}
        _write_pack(
            folder / f"{channel}.pack", ({**meta, "shared": list(shared)} if shared else meta, own)
        )


def _shared_arrays(meta: dict[str, Any]) -> tuple[str, ...]:
    """The arrays of a detail pack that are the same for every channel of its node: the whole
    input of an ungrouped convolution."""
    return ("input",) if meta["kind"] == "conv2d" and meta["groups"] == 1 else ()


def _detail_channels(node: dict[str, Any], shown: int, channels: int | None) -> range:
    """The channels (units, for a vector) whose detail view is written."""
    if node["kind"] in WHOLE_TENSOR_KINDS:
        return range(1)
    if len(node["shape"]) == 4:
        return range(shown)
    units = node["shape"][-1] if len(node["shape"]) >= 2 else 1
    return range(units if channels is None else min(units, channels))


def _write_pack(path: Path, pack: tuple[dict[str, Any], dict[str, Any]]) -> None:
    # Gzipped: activations (zeros after every ReLU) shrink about four times. The page unzips
    # them itself, so any static host serves them as plain files; mtime 0 keeps builds identical.
    path = path.with_name(path.name + ".gz")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(encode_pack(*pack), compresslevel=6, mtime=0))


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, separators=(",", ":"), allow_nan=False), encoding="utf-8")
