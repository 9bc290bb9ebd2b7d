"""A real Explainer over a small TinyVGG, its app in a TestClient, and images made with Pillow."""

from __future__ import annotations

import struct
import warnings
import zlib
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from _images import encode, photo

torch = pytest.importorskip("torch")
pytest.importorskip("starlette")

with warnings.catch_warnings():
    # Newer Starlette prefers httpx2 for its TestClient; httpx (which we have) still works.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

from tensorsight.imaging import Preprocessing  # noqa: E402
from tensorsight.models.bundle import Sample  # noqa: E402
from tensorsight.models.tinyvgg import TinyVGG  # noqa: E402

if TYPE_CHECKING:
    from tensorsight.explanation import Explainer

CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
PREPROCESSING = Preprocessing(size=(64, 64), channels=1, invert_light_background=True)
# Small enough that the in-process oversize tests need not allocate 20 MB.
UPLOAD_LIMIT = 2_000_000


def tiny_model() -> TinyVGG:
    """TinyVGG with seeded random weights: real convolutions, no training needed."""
    torch.manual_seed(0)
    return TinyVGG(in_channels=1, input_size=64, num_classes=len(CLASSES)).eval()


def animated_gif() -> bytes:
    frames = [photo(80, 60, seed=seed).convert("P") for seed in range(3)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""
    data = bytearray(encode(photo(8, 8, "L"), "PNG"))
    ihdr_start = 8 + 4  # signature, then the IHDR chunk's length
    data[ihdr_start + 4 : ihdr_start + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr_start : ihdr_start + 4 + 13]))
    data[ihdr_start + 17 : ihdr_start + 21] = struct.pack(">I", crc)
    return bytes(data)


GOOD_IMAGES: dict[str, Callable[[], tuple[bytes, str]]] = {
    "png-rgb-nonsquare": lambda: (encode(photo(300, 200), "PNG"), "image/png"),
    "jpeg": lambda: (encode(photo(640, 480), "JPEG", quality=90), "image/jpeg"),
    "gif-animated": lambda: (animated_gif(), "image/gif"),
    "png-rgba": lambda: (encode(photo(120, 90, "RGBA"), "PNG"), "image/png"),
    "png-grayscale": lambda: (encode(photo(100, 100, "L"), "PNG"), "image/png"),
    "png-32x32": lambda: (encode(photo(32, 32), "PNG"), "image/png"),
    "jpeg-3000x2000": lambda: (encode(photo(3000, 2000), "JPEG", quality=85), "image/jpeg"),
    "webp": lambda: (encode(photo(200, 150), "WEBP"), "image/webp"),
    "bmp-tall": lambda: (encode(photo(50, 400), "BMP"), "image/bmp"),
}

# name -> (bytes, expected status)
BAD_IMAGES: dict[str, Callable[[], tuple[bytes, int]]] = {
    "text": lambda: (b"this is a text file, not a picture\n" * 20, 415),
    "truncated-png": lambda: (encode(photo(300, 200), "PNG")[:3000], 422),
    "truncated-jpeg": lambda: (encode(photo(300, 200), "JPEG")[:2000], 422),
    "bomb-30000x30000": lambda: (png_claiming(30000, 30000), 413),
    "empty": lambda: (b"", 400),
    # Pillow fails on these while opening them, before any pixel is read.
    "jpeg-cut-to-12-bytes": lambda: (encode(photo(300, 200), "JPEG")[:12], 422),
    "jpeg-cut-to-30-bytes": lambda: (encode(photo(300, 200), "JPEG")[:30], 422),
    "bmp-cut-to-30-bytes": lambda: (encode(photo(50, 40), "BMP")[:30], 422),
    "webp-cut-to-100-bytes": lambda: (encode(photo(200, 150), "WEBP")[:100], 422),
}


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("samples")
    for index, name in enumerate(("sneaker-0", "bag-1")):
        photo(28, 28, "L", seed=index).save(folder / f"{name}.png")
    return folder


@pytest.fixture(scope="session")
def explainer(sample_dir: Path) -> Explainer:
    from tensorsight.explanation import Explainer

    samples = (
        Sample("sneaker-0", "Sneaker", sample_dir / "sneaker-0.png"),
        Sample("bag-1", "Bag", sample_dir / "bag-1.png"),
    )
    return Explainer(
        tiny_model(),
        preprocessing=PREPROCESSING,
        class_names=CLASSES,
        name="TinyVGG (test)",
        samples=samples,
    )


@pytest.fixture(scope="session")
def client(explainer: Explainer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from tensorsight.server import create_app

    static = tmp_path_factory.mktemp("static")
    (static / "index.html").write_text("<!doctype html><title>tensorsight</title>")
    (static / "app-5FJ2K3QX.js").write_text("export const answer = 42;\n" * 100)
    (static / "style.css").write_text("body { margin: 0 }\n")
    app = create_app(explainer, static_dir=static, max_upload_bytes=UPLOAD_LIMIT)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def oracle_model() -> TinyVGG:
    """Another instance of the served model (same seed), for computing answers in PyTorch."""
    return tiny_model()


@pytest.fixture(scope="session")
def preprocessing() -> Preprocessing:
    return PREPROCESSING


@pytest.fixture(scope="session")
def upload_limit() -> int:
    """The upload limit of the in-process ``client`` app, in bytes."""
    return UPLOAD_LIMIT


@pytest.fixture(scope="session")
def class_names() -> tuple[str, ...]:
    return CLASSES


@pytest.fixture(scope="session")
def oracle(oracle_model: TinyVGG) -> Callable[[bytes], np.ndarray]:
    """The model's own softmax for image bytes, preprocessed as the server does, in PyTorch."""
    from tensorsight.imaging import decode_image

    def probabilities(data: bytes) -> np.ndarray:
        with torch.no_grad():
            logits = oracle_model(PREPROCESSING.to_tensor(decode_image(data)))
        return torch.softmax(logits, dim=1)[0].numpy()

    return probabilities


@cache
def _good_image(name: str) -> tuple[bytes, str]:
    return GOOD_IMAGES[name]()


@cache
def _bad_image(name: str) -> tuple[bytes, int]:
    return BAD_IMAGES[name]()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``good_image`` runs a test once per acceptable image, ``bad_image`` per refused one."""
    for fixture, names in (("good_image", GOOD_IMAGES), ("bad_image", BAD_IMAGES)):
        if fixture in metafunc.fixturenames:
            metafunc.parametrize(fixture, list(names), indirect=True)


@pytest.fixture
def good_image(request: pytest.FixtureRequest) -> tuple[bytes, str]:
    """``(bytes, content type)`` of an image the server must accept."""
    return _good_image(request.param)


@pytest.fixture
def bad_image(request: pytest.FixtureRequest) -> tuple[bytes, int]:
    """``(bytes, expected status)`` of an upload the server must refuse."""
    return _bad_image(request.param)


def post_image(client, data: bytes, content_type: str, how: str):
    """POST an image to /api/runs as the raw body (``how="raw"``) or as the multipart field
    ``image``, with a TestClient or an httpx client alike."""
    if how == "raw":
        return client.post("/api/runs", content=data, headers={"content-type": content_type})
    return client.post("/api/runs", files={"image": ("upload", data, content_type)})


@pytest.fixture(scope="session")
def upload() -> Callable[..., object]:
    """:func:`post_image`, for tests in any file of this folder."""
    return post_image


@pytest.fixture(scope="session")
def sample_png() -> bytes:
    """A small acceptable upload, sent after each refused one to show the server still works."""
    return encode(photo(64, 48, seed=7), "PNG")
