"""A class on one server: N concurrent clients against a real ``tensorsight serve`` on loopback.

Each client does what a student does: upload a picture (from a pool, so some pictures come
twice) or pick a sample, fetch the first view's activation maps of its run, open a few detail
views, pause to read, and again. After the load, one client asks every distinct request once
more, alone, and every answer received under load is compared with that single-client answer.

The students' browsers would be other computers; here they share the cores with the server, so
they run in ``--client-processes`` processes (one event loop for all would queue each answer
behind the others' and count that wait as the server's latency).

Printed for 1 and for ``--workers`` N processes: requests/s, p50/p99 latency, non-2xx answers by
status, transport errors, wrong answers, and the server's resident memory (all its processes):
idle after warm-up, and peak under load, against the activation budget.

Goals (issue 15): at 50 clients, 0 non-2xx, 0 wrong, TinyVGG p99 < 1 s; 200 clients over 4
workers, 0 non-2xx; MobileNetV2 at 10 clients, peak minus idle within 1.25x the budget.

    python bench/serve_load.py [--model tinyvgg] [--clients 50] [--seconds 30] [--workers 4]
                               [--cache-mb 512] [--think-ms 500] [--only N]
                               [--client-processes 4] [-- SERVE OPTIONS...]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from explainer_latency import first_view_queries

PICTURES = 16  # distinct uploads in the pool
DETAILS_PER_RUN = 3
DETAIL_CHANNELS = 2  # detail views ask channels 0..1, so the requests repeat and can be checked
REQUEST_TIMEOUT_S = 120
KEEPALIVE_S = 2.0
CLIENT_STARTUP_S = 5.0  # time for the client processes to start before they all begin at once


@dataclass
class Tally:
    """What the clients saw: latencies, statuses, and the digests of every answer per request."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    answers: defaultdict[tuple[str, str], Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )

    def record(self, key: tuple[str, str], started: float, response: httpx.Response) -> None:
        self.latencies.append(time.perf_counter() - started)
        self.statuses[response.status_code] += 1
        if response.is_success:
            self.answers[key][hashlib.sha1(response.content).hexdigest()] += 1

    def merge(self, other: Tally) -> None:
        """Add what another process's clients saw."""
        self.latencies += other.latencies
        self.statuses.update(other.statuses)
        self.transport_errors.update(other.transport_errors)
        for key, digests in other.answers.items():
            self.answers[key].update(digests)


def pictures() -> list[bytes]:
    """Distinct JPEGs with structure (a bright ellipse on a gradient, noise)."""
    result = []
    for seed in range(PICTURES):
        rng = np.random.default_rng(seed)
        ys, xs = np.mgrid[0:240, 0:320].astype(np.float32)
        inside = ((xs - 100 - seed * 8) / 90) ** 2 + ((ys - 120) / 70) ** 2 < 1
        gray = 30 + 60 * xs / 320 + 150 * inside + rng.normal(0, 10, xs.shape)
        rgb = np.stack([gray, gray * 0.9, gray * 0.7], -1).clip(0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, "JPEG", quality=90)
        result.append(buffer.getvalue())
    return result


@contextmanager
def serve(options: list[str]) -> Iterator[tuple[str, int]]:
    """A ``tensorsight serve -p 0`` subprocess answering its API; yields (url, pid)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tensorsight", "serve", "-p", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True).start()
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            found = re.search(r"serving .* at (http://\S+/)", "".join(lines))
            if found and _answers(found[1]):
                yield found[1], process.pid
                return
            time.sleep(0.1)
        raise SystemExit("tensorsight serve did not start:\n" + "".join(lines))
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "api/model", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants (Linux /proc)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+) kB", status)[1]) * 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, TypeError):  # the process ended meanwhile
            continue
    return total


class Student:
    """One client's loop: make a run, look at it, read, again."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        tally: Tally,
        info: dict,
        samples: list[str],
        uploads: list[bytes],
        think_s: float,
        seed: int,
    ) -> None:
        self.http, self.tally, self.samples, self.uploads = http, tally, samples, uploads
        self.queries = first_view_queries(info)
        self.detail_nodes = [
            node["id"] for node in info["nodes"] if node["kind"] not in ("input", "softmax")
        ] or ["n0"]
        self.think_s = think_s
        self.random = random.Random(seed)

    async def run_until(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            run_id = await self.make_run()
            if run_id is not None:
                await self.look_at(run_id)
            await asyncio.sleep(self.random.expovariate(1 / self.think_s) if self.think_s else 0)

    async def make_run(self) -> str | None:
        if self.random.random() < 0.5 or not self.samples:
            index = self.random.randrange(len(self.uploads))
            key = ("upload", str(index))
            request = self.http.post(
                "/api/runs", files={"image": ("photo.jpg", self.uploads[index], "image/jpeg")}
            )
        else:
            sample = self.random.choice(self.samples)
            key = ("sample", sample)
            request = self.http.post("/api/runs", json={"sample": sample})
        response = await self.timed(key, request)
        return response.json()["run_id"] if response is not None and response.is_success else None

    async def look_at(self, run_id: str) -> None:
        for query in self.queries:
            params = "&".join(f"{name}={value}" for name, value in query.items())
            await self.timed(
                ("get", f"/api/runs/{run_id}/activations?{params}"),
                self.http.get(f"/api/runs/{run_id}/activations", params=query),
            )
        for _ in range(DETAILS_PER_RUN):
            node = self.random.choice(self.detail_nodes)
            path = (
                f"/api/runs/{run_id}/nodes/{node}/detail"
                f"?channel={self.random.randrange(DETAIL_CHANNELS)}"
            )
            await self.timed(("get", path), self.http.get(path))

    async def timed(self, key: tuple[str, str], request) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await request
        except httpx.HTTPError as error:
            self.tally.transport_errors[type(error).__name__] += 1
            return None
        self.tally.record(key, started, response)
        return response


def load(
    url: str, clients: int, seconds: float, think_s: float, processes: int
) -> tuple[Tally, float]:
    """Every client's tally and the seconds the load lasted; clients dealt over ``processes``."""
    seeds = [list(range(clients))[index::processes] for index in range(processes)]
    if processes == 1:
        return asyncio.run(students(url, seeds[0], None, seconds, think_s))
    begin = time.time() + CLIENT_STARTUP_S
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        parts = list(
            pool.map(
                _students_process,
                [url] * processes,
                seeds,
                [begin] * processes,
                [seconds] * processes,
                [think_s] * processes,
            )
        )
    tally = Tally()
    for part, _ in parts:
        tally.merge(part)
    return tally, max(elapsed for _, elapsed in parts)


def _students_process(
    url: str, seeds: list[int], begin: float, seconds: float, think_s: float
) -> tuple[Tally, float]:
    return asyncio.run(students(url, seeds, begin, seconds, think_s))


async def students(
    url: str, seeds: list[int], begin: float | None, seconds: float, think_s: float
) -> tuple[Tally, float]:
    """Clients with these seeds, from wall-clock time ``begin`` (None: now) for ``seconds``."""
    tally = Tally()
    clients = len(seeds)
    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them: else a
    # request can race the server's close (a browser retries it; here it counts as an error).
    limits = httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=KEEPALIVE_S
    )
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S, limits=limits) as http:
        info = (await http.get("/api/model")).json()
        samples = [sample["id"] for sample in (await http.get("/api/samples")).json()]
        uploads = pictures()
        group = [Student(http, tally, info, samples, uploads, think_s, seed) for seed in seeds]
        if begin is not None:
            await asyncio.sleep(max(0.0, begin - time.time()))
        started = time.monotonic()
        await asyncio.gather(*(student.run_until(started + seconds) for student in group))
        return tally, time.monotonic() - started


def wrong_answers(url: str, tally: Tally) -> tuple[int, int]:
    """(answers that differ from a single client's answer to the same request, requests checked)."""
    uploads = pictures()
    wrong = 0
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as http:
        for (kind, what), digests in tally.answers.items():
            if kind == "upload":
                response = http.post(
                    "/api/runs", files={"image": ("photo.jpg", uploads[int(what)], "image/jpeg")}
                )
            elif kind == "sample":
                response = http.post("/api/runs", json={"sample": what})
            else:
                response = http.get(what)
            expected = hashlib.sha1(response.content).hexdigest()
            wrong += sum(count for digest, count in digests.items() if digest != expected)
    return wrong, len(tally.answers)


def warm_up(url: str) -> None:
    """One run and its first view, so the idle memory includes a loaded, exercised model."""
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as http:
        info = http.get("/api/model").json()
        run_id = http.post(
            "/api/runs", files={"image": ("photo.jpg", pictures()[0], "image/jpeg")}
        ).json()["run_id"]
        for query in first_view_queries(info):
            http.get(f"/api/runs/{run_id}/activations", params=query)


def bench(args: argparse.Namespace, workers: int) -> None:
    options = [
        "--model",
        args.model,
        "--workers",
        str(workers),
        "--cache-mb",
        str(args.cache_mb),
        *args.serve_options,
    ]
    with serve(options) as (url, pid):
        warm_up(url)
        time.sleep(1)
        idle = rss_bytes(pid)
        peak = [idle]
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.2):
                peak.append(rss_bytes(pid))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        tally, elapsed = load(
            url, args.clients, args.seconds, args.think_ms / 1000, args.client_processes
        )
        done.set()
        watcher.join()
        wrong, checked = wrong_answers(url, tally)
    report(args, workers, tally, elapsed, idle, max(peak), wrong, checked)


def report(
    args: argparse.Namespace,
    workers: int,
    tally: Tally,
    elapsed: float,
    idle: int,
    peak: int,
    wrong: int,
    checked: int,
) -> None:
    count = len(tally.latencies)
    latencies = sorted(tally.latencies) or [0.0]
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    non_2xx = {status: n for status, n in sorted(tally.statuses.items()) if not 200 <= status < 300}
    budget = args.cache_mb * 2**20 * workers
    serve_options = "".join(f" {option}" for option in args.serve_options)
    print(
        f"{args.model}, {args.clients} clients in {args.client_processes} process(es), "
        f"{workers} worker(s){serve_options}, {elapsed:.0f} s, load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores:"
    )
    print(f"  requests/s {count / elapsed:.1f} ({count} answered)")
    print(f"  latency p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    print(f"  non-2xx {sum(non_2xx.values())} {non_2xx or ''}".rstrip())
    print(
        f"  transport errors {sum(tally.transport_errors.values())} "
        f"{dict(tally.transport_errors) or ''}".rstrip()
    )
    print(f"  wrong answers {wrong} (of {count}; {checked} distinct requests checked)")
    print(
        f"  resident memory idle {idle / 2**20:.0f} MB, peak {peak / 2**20:.0f} MB: "
        f"{(peak - idle) / 2**20:.0f} MB above idle = {(peak - idle) / budget:.2f}x the "
        f"activation budget ({args.cache_mb} MB x {workers})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tinyvgg")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=4, help="N, compared with 1 worker")
    parser.add_argument("--only", type=int, help="run only this worker count")
    parser.add_argument("--cache-mb", type=int, default=512)
    parser.add_argument(
        "--think-ms",
        type=float,
        default=500,
        help="mean pause between a client's runs (exponential)",
    )
    parser.add_argument(
        "--client-processes",
        type=int,
        default=4,
        help="processes the clients are dealt over (default: 4)",
    )
    parser.add_argument(
        "serve_options", nargs="*", help="more `tensorsight serve` options, after --"
    )
    args = parser.parse_args()
    if not 1 <= args.client_processes <= min(16, args.clients):
        parser.error("--client-processes: 1..16, and no more than --clients")
    if not 1 <= args.clients <= 1000 or not 0 < args.seconds <= 600:
        parser.error("keep it bounded: 1..1000 clients, up to 600 s")
    for workers in [args.only] if args.only else sorted({1, args.workers}):
        bench(args, workers)


if __name__ == "__main__":
    main()
