"""The built wheel, not the editable checkout: installed into a fresh virtual environment, it
serves the page with every asset and gives ``tensorsight.show`` its widget module.

The venv sees the system's packages (``--system-site-packages``) so torch and friends are not
downloaded again; the wheel itself is installed with ``--no-deps --no-index``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from _processes import serving

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
_SERVING = r"tensorsight: serving .* at (http://\S+/)"


def clean_env() -> dict[str, str]:
    """The environment without the checkout on PYTHONPATH: only the wheel may answer."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("build")
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [built] = out.glob("tensorsight-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(folder)],
        check=True,
        timeout=300,
    )
    python = folder / "bin" / "python"
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
        env=clean_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return folder


def test_the_wheel_holds_every_asset(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "tensorsight/web/static/index.html",
        "tensorsight/web/static/app.js",
        "tensorsight/web/static/app.css",
        "tensorsight/web/static/widget.js",
        "tensorsight/models/bundles/tinyvgg/weights.safetensors",
        "tensorsight/models/bundles/tinyvgg/card.json",
        "tensorsight/models/bundles/mobilenet_v2/samples/LICENSES.md",
        "tensorsight/models/imagenet_classes.json",
        "tensorsight/py.typed",
    ):
        assert needed in names, needed
    assert any(
        name.startswith("tensorsight/models/bundles/mobilenet_v2/samples/")
        and name.endswith(".png")
        for name in names
    )
    assert not any(name.startswith(("frontend/", "tests/")) for name in names)


def test_installed_wheel_runs_serve_with_every_asset(venv: Path, tmp_path: Path) -> None:
    with _served(venv, tmp_path) as server:
        page = httpx.get(server, timeout=30)
        assert page.status_code == 200 and 'id="app"' in page.text
        for asset in re.findall(r'(?:src|href)="(static/[^"]+)"', page.text):
            answer = httpx.get(server + asset, timeout=30)
            assert answer.status_code == 200 and len(answer.content) > 1000, asset
        samples = httpx.get(server + "api/samples", timeout=30).json()
        assert len(samples) == 20
        picture = httpx.get(server + samples[0]["url"].lstrip("/"), timeout=30)
        assert picture.content.startswith(b"\x89PNG")
        run = httpx.post(server + "api/runs", json={"sample": samples[0]["id"]}, timeout=60)
        assert run.status_code == 201 and run.json()["output"]["top"]


def test_installed_wheel_gives_show_its_widget_module(venv: Path, tmp_path: Path) -> None:
    script = (
        "import tensorsight, pathlib\n"
        "from tensorsight.jupyter import explainer_widget\n"
        "from tensorsight.web import static_dir\n"
        "widget = explainer_widget('tinyvgg')\n"
        "assert widget._esm == (static_dir() / 'widget.js').read_text(encoding='utf-8')\n"
        "assert 'render' in widget._esm and len(widget._esm) > 10000\n"
        "print(pathlib.Path(tensorsight.__file__).resolve())\n"
        "print(len(widget.explainer.samples()))\n"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=clean_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    location, samples = done.stdout.split()
    assert Path(location).is_relative_to(venv.resolve()), location  # the wheel, not the checkout
    assert int(samples) == 20


@contextmanager
def _served(venv: Path, cwd: Path) -> Iterator[str]:
    """Run the venv's `tensorsight serve -p 0`, yield its URL, stop it."""
    with serving(
        [str(venv / "bin" / "tensorsight"), "serve", "-p", "0"],
        _SERVING,
        cwd=cwd,
        env={**clean_env(), "PYTHONUNBUFFERED": "1"},
    ) as url:
        yield url
