"""``tensorsight serve`` on the command line: help, option errors, model errors, a real start."""

from __future__ import annotations

import io
import json
import socket
import sys
import time

import httpx
import pytest
import torch
from PIL import Image

from tensorsight.cli import main


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``tensorsight *args`` in process: (exit code, stdout, stderr)."""
    try:
        code = main(list(args))
    except SystemExit as exit:
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


def test_help_says_it_serves_this_computer_only(capsys):
    code, out, _ = run_cli(capsys, "serve", "--help")
    assert code == 0
    assert "127.0.0.1" in out and "this computer only" in out
    for option in (
        "--port",
        "--open",
        "--model",
        "--weights",
        "--classes",
        "--input-size",
        "--trust-pickle",
    ):
        assert option in out


def test_serve_is_listed_in_the_top_level_help(capsys):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0 and "serve" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "eighty"], "invalid int value: 'eighty'"),
        (["--input-size", "224"], "'224' is not HxW"),
        (["--input-size", "0x10"], "'0x10' is not HxW"),
        (["--colour", "red"], "unrecognized arguments: --colour"),
    ],
)
def test_bad_options_exit_2_with_the_reason(capsys, args, message):
    code, _, err = run_cli(capsys, "serve", *args)
    assert code == 2
    assert message in err


def one_line_error(capsys, *args: str) -> str:
    code, out, err = run_cli(capsys, "serve", "-p", "0", *args)
    assert code == 2
    assert out == ""
    assert err.startswith("tensorsight serve: error: ") and err.count("\n") == 1, err
    return err


def test_unknown_model_is_one_clear_line(capsys):
    assert "no_such_model" in one_line_error(capsys, "--model", "no_such_model")


def test_factory_in_a_missing_module_is_one_clear_line(capsys):
    err = one_line_error(capsys, "--model", "no_such_package.models:build")
    assert "no_such_package" in err


def test_missing_weights_file_is_one_clear_line(capsys, tmp_path):
    missing = tmp_path / "nothing-here.safetensors"
    assert "nothing-here.safetensors" in one_line_error(capsys, "--weights", str(missing))


def test_pickled_weights_need_trust_pickle(capsys, tmp_path):
    from tensorsight.models.tinyvgg import TinyVGG

    weights = tmp_path / "tinyvgg.pt"
    torch.save(TinyVGG().state_dict(), weights)
    assert "--trust-pickle" in one_line_error(capsys, "--weights", str(weights))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "names no classes"),
        ("[1, 2, 3]", "JSON list of strings"),
        ("[broken", "not valid JSON"),
    ],
)
def test_bad_classes_file_is_one_clear_line(capsys, tmp_path, content, message):
    classes = tmp_path / "classes.txt"
    classes.write_text(content)
    assert message in one_line_error(capsys, "--classes", str(classes))


def test_busy_port_is_one_clear_line(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run_cli(capsys, "serve", "-p", str(port))
    assert code == 2
    assert f"cannot listen on 127.0.0.1 port {port}" in err


@pytest.mark.slow
def test_classes_file_and_open_in_a_real_server(tmp_path, server_factory):
    names = [
        "tee",
        "trousers",
        "jumper",
        "dress",
        "coat",
        "sandal",
        "shirt",
        "trainer",
        "bag",
        "boot",
    ]
    (tmp_path / "classes.json").write_text(json.dumps(names))
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.py"
    # webbrowser runs $BROWSER with the URL for %s: this "browser" writes it down.
    browser.write_text(f"import sys\nopen({str(opened)!r}, 'w').write(sys.argv[1])")
    server = server_factory(
        ["--classes", str(tmp_path / "classes.json"), "--open"],
        env={"BROWSER": f"{sys.executable} {browser} %s"},
    )
    assert httpx.get(server.url + "api/model").json()["classes"] == names
    for _ in range(100):  # webbrowser starts the browser command without waiting for it
        if opened.exists():
            break
        time.sleep(0.1)
    assert opened.read_text() == server.url


USER_MODULE = """
from tensorsight.models.tinyvgg import TinyVGG


def build():
    return TinyVGG(in_channels=3, input_size=(96, 80), num_classes=3)
"""


@pytest.mark.slow
@pytest.mark.parametrize("weights_format", ["safetensors", "pickle"])
def test_your_own_model_with_weights_classes_and_input_size(
    tmp_path, server_factory, weights_format
):
    from safetensors.torch import save_file

    from tensorsight.explanation import decode_pack
    from tensorsight.models.tinyvgg import TinyVGG

    (tmp_path / "shapes_net.py").write_text(USER_MODULE)
    (tmp_path / "classes.txt").write_text("circle\nsquare\ntriangle\n")
    torch.manual_seed(3)
    state = TinyVGG(in_channels=3, input_size=(96, 80), num_classes=3).state_dict()
    if weights_format == "safetensors":
        weights, trust = tmp_path / "shapes.safetensors", []
        save_file(state, weights)
    else:
        weights, trust = tmp_path / "shapes.pt", ["--trust-pickle"]
        torch.save(state, weights)
    server = server_factory(
        [
            "--model",
            "shapes_net:build",
            "--weights",
            str(weights),
            "--classes",
            str(tmp_path / "classes.txt"),
            "--input-size",
            "96x80",
            *trust,
        ],
        env={"PYTHONPATH": str(tmp_path)},
    )

    with httpx.Client(base_url=server.url, timeout=60) as http:
        info = http.get("/api/model").json()
        assert info["classes"] == ["circle", "square", "triangle"]
        assert (info["input"]["height"], info["input"]["width"]) == (96, 80)
        run = http.post("/api/runs", content=(tmp_path / "classes.txt").read_bytes())
        assert run.status_code == 415  # a text file is not an image
        png = _png_bytes(120, 100)
        run = http.post("/api/runs", content=png, headers={"content-type": "image/png"})
        assert run.status_code == 201, run.text
        conv = next(node for node in info["nodes"] if node["module_path"] == "conv_1_1")
        detail = http.get(
            f"/api/runs/{run.json()['run_id']}/nodes/{conv['id']}/detail", params={"channel": 4}
        )
    meta, arrays = decode_pack(detail.content)
    torch.testing.assert_close(
        torch.from_numpy(arrays["kernel"].copy()), state["conv_1_1.weight"][4]
    )
    assert meta["bias"] == pytest.approx(float(state["conv_1_1.bias"][4]))


def _png_bytes(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((width, height)).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()
