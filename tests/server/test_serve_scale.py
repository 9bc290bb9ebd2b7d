"""Serving a class: workers, a store shared by hosts, restarts, Ctrl+C; real ``serve`` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
import torch

from tensorsight.cli import main

pytestmark = pytest.mark.slow


def first_run(url: str) -> tuple[str, str]:
    """A run of the first sample made on the server at ``url``: (run id, conv node id)."""
    with httpx.Client(base_url=url, timeout=120) as http:
        sample = http.get("/api/samples").json()[0]["id"]
        run = http.post("/api/runs", json={"sample": sample})
        assert run.status_code == 201, run.text
        conv = next(
            node for node in http.get("/api/model").json()["nodes"] if node["kind"] == "conv2d"
        )
    return run.json()["run_id"], conv["id"]


def detail(url: str, run_id: str, node_id: str) -> httpx.Response:
    return httpx.get(
        f"{url}api/runs/{run_id}/nodes/{node_id}/detail", params={"channel": 2}, timeout=120
    )


def stop(server) -> None:
    server.process.terminate()
    server.process.wait(timeout=30)


def test_hosts_sharing_a_store_answer_each_others_runs_and_survive_a_restart(
    tmp_path, server_factory
):
    store = ["--store", str(tmp_path / "runs")]
    first = server_factory([*store, "--cache-mb", "1"])
    second = server_factory(store)
    run_id, conv = first_run(first.url)
    made_here = detail(first.url, run_id, conv)
    assert made_here.status_code == 200
    assert detail(second.url, run_id, conv).content == made_here.content
    assert f"inputs in {tmp_path / 'runs'}" in second.output
    stop(first)
    stop(second)
    restarted = server_factory(store)
    assert detail(restarted.url, run_id, conv).content == made_here.content


def test_workers_share_one_port_and_every_run(server_factory):
    server = server_factory(["--workers", "2"])
    assert "2 workers on cpu" in server.output
    run_id, conv = first_run(server.url)
    answers = set()
    for _ in range(12):  # fresh connections, spread over the workers by the kernel
        response = detail(server.url, run_id, conv)
        assert response.status_code == 200, response.text
        answers.add(response.content)
    assert len(answers) == 1


def interrupt(args: list[str]) -> tuple[int, str]:
    """Start ``serve``, wait until it answers, press Ctrl+C (SIGINT to its process group)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tensorsight", "serve", "-p", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        while not any("serving" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.1)
        url = next(line for line in lines if "serving" in line).split(" at ")[1].split()[0]
        first_run(url)  # the workers are up and have answered
        os.killpg(process.pid, signal.SIGINT)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    time.sleep(0.2)  # the reader thread takes the last lines
    return code, "".join(lines)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_stops_with_one_line_and_no_traceback(workers):
    code, output = interrupt(["--workers", workers])
    assert code == 130, output
    assert output.rstrip().endswith("tensorsight: stopped."), output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "'0' is not a whole number of 1 or more"),
        (["--cache-mb", "lots"], "'lots' is not a whole number"),
        (["--device", "tpu"], "invalid choice: 'tpu'"),
    ],
)
def test_bad_scale_options_exit_2(capsys, args, message):
    with pytest.raises(SystemExit) as exit:
        main(["serve", *args])
    assert exit.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.skipif(
    torch.cuda.is_available() or torch.backends.mps.is_available(), reason="has an accelerator"
)
def test_an_absent_device_is_one_clear_line(capsys):
    assert main(["serve", "-p", "0", "--device", "cuda"]) == 2
    assert capsys.readouterr().err == (
        "tensorsight serve: error: --device cuda is not available on this computer (it has: cpu)\n"
    )
