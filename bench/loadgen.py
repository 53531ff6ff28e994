"""Driving load: wrk runs (keep-alive, from a second process), A/B rounds, and single timed requests.

wrk reports through a Lua ``done`` hook as one JSON line, so requests/s, latency
percentiles and every kind of error (socket errors, non-2xx answers) are read
exactly rather than scraped from its human output.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import shutil
import statistics
import subprocess
import time
import typing
import uuid
from pathlib import Path

REPORT_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-REPORT {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""

#: Each request a new comment, so rows and bodies differ like real traffic.
POST_COMMENT_LUA = """
local counter = 0
local thread_tag = tostring(math.random(1, 1000000))
request = function()
  counter = counter + 1
  local body = '{"text": "Benchmark comment ' .. thread_tag .. '-' .. counter .. ': nice light in this one."}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""


class LoadError(RuntimeError):
    pass


def require_tools() -> list[str]:
    """What is missing of wrk and nginx, each with how to install it."""
    missing = []
    for tool in ("wrk", "nginx"):
        if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
            missing.append(tool)
    return missing


@dataclasses.dataclass
class WrkResult:
    requests: int
    seconds: float
    errors: dict[str, int]
    p50_ms: float
    p99_ms: float
    mean_ms: float
    #: Server CPU time per request (when the side can tell it), a figure other load barely moves.
    cpu_us: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


class Wrk:
    def __init__(self, run_dir: Path, threads: int = 1, connections: int = 8) -> None:
        self.threads = threads
        self.connections = connections
        self.binary = shutil.which("wrk") or "wrk"
        self.run_dir = run_dir
        self._scripts: dict[str, Path] = {}

    def _script(self, extra: str) -> Path:
        if extra not in self._scripts:
            path = self.run_dir / f"wrk-{uuid.uuid4().hex[:8]}.lua"
            path.write_text(extra + REPORT_LUA)
            self._scripts[extra] = path
        return self._scripts[extra]

    def run(self, url: str, seconds: float, script: str = "", connections: int | None = None) -> WrkResult:
        connections = connections or self.connections
        command = [
            self.binary, f"-t{min(self.threads, connections)}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
            "--timeout", "10s", "-s", str(self._script(script)), url,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        for line in done.stdout.splitlines():
            if line.startswith("WRK-REPORT "):
                data = json.loads(line.removeprefix("WRK-REPORT "))
                break
        else:
            raise LoadError(f"wrk gave no report for {url}:\n{done.stdout}\n{done.stderr}")
        return WrkResult(
            requests=data["requests"],
            seconds=data["duration_us"] / 1e6,
            errors={kind: data[kind] for kind in ("connect", "read", "write", "status", "timeout") if data[kind]},
            p50_ms=data["p50_us"] / 1000,
            p99_ms=data["p99_us"] / 1000,
            mean_ms=data["mean_us"] / 1000,
        )


@dataclasses.dataclass
class Side:
    label: str
    url: str
    script: str = ""
    #: Reads the server's CPU seconds so far (Server.cpu_seconds).
    cpu: typing.Callable[[], float] | None = None

    def run(self, wrk: Wrk, seconds: float, connections: int | None = None) -> WrkResult:
        before = self.cpu() if self.cpu else None
        result = wrk.run(self.url, seconds, self.script, connections)
        if before is not None and result.requests:
            result.cpu_us = (self.cpu() - before) / result.requests * 1e6
        return result


@dataclasses.dataclass
class Comparison:
    """Requests/s of two sides measured in alternating rounds; ``ratio`` is a/b of the medians."""

    a: Side
    b: Side
    a_runs: list[WrkResult]
    b_runs: list[WrkResult]

    @property
    def a_rps(self) -> float:
        return statistics.median(run.rps for run in self.a_runs)

    @property
    def b_rps(self) -> float:
        return statistics.median(run.rps for run in self.b_runs)

    @property
    def a_cpu_us(self) -> float | None:
        return _median_cpu(self.a_runs)

    @property
    def b_cpu_us(self) -> float | None:
        return _median_cpu(self.b_runs)

    @property
    def ratio(self) -> float:
        return self.a_rps / self.b_rps if self.b_rps else float("nan")

    @property
    def spread(self) -> str:
        """The range of the per-round ratios, a rough sign of how noisy the machine was."""
        ratios = [a.rps / b.rps for a, b in zip(self.a_runs, self.b_runs) if b.rps]
        return f"{min(ratios):.2f}-{max(ratios):.2f}" if ratios else "-"

    def errors(self) -> str:
        problems = []
        for side, runs in ((self.a, self.a_runs), (self.b, self.b_runs)):
            total: dict[str, int] = {}
            for run in runs:
                for kind, count in run.errors.items():
                    total[kind] = total.get(kind, 0) + count
            if total:
                problems.append(f"{side.label}: " + ", ".join(f"{count} {kind}" for kind, count in total.items()))
        return "; ".join(problems)


def _median_cpu(runs: list[WrkResult]) -> float | None:
    values = [run.cpu_us for run in runs if run.cpu_us is not None]
    return statistics.median(values) if values else None


def compare(wrk: Wrk, a: Side, b: Side, rounds: int, seconds: float, warmup: float = 1.0,
            connections: int | None = None) -> Comparison:
    """Warm both sides up, then A B A B … ``rounds`` times."""
    for side in (a, b):
        side.run(wrk, warmup, connections)
    a_runs, b_runs = [], []
    for _ in range(rounds):
        a_runs.append(a.run(wrk, seconds, connections))
        b_runs.append(b.run(wrk, seconds, connections))
    return Comparison(a, b, a_runs, b_runs)


def timed_get(port: int, path: str) -> tuple[float, int, dict, bytes]:
    """Seconds for one GET on a fresh connection, from sending to the last body byte."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        started = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        return elapsed, response.status, dict(response.getheaders()), body
    finally:
        connection.close()


def streaming_upload(port: int, path: str, file_path: Path, filename: str,
                     chunk_size: int = 256 * 1024) -> tuple[int, bytes, float]:
    """POST ``file_path`` as multipart/form-data, read from disk chunk by chunk as it is sent."""
    boundary = uuid.uuid4().hex
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + file_path.stat().st_size + len(tail)

    def body() -> typing.Iterator[bytes]:
        yield head
        with file_path.open("rb") as source:
            while chunk := source.read(chunk_size):
                yield chunk
        yield tail

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        started = time.perf_counter()
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        connection.putheader("Content-Length", str(length))
        connection.endheaders()
        for chunk in body():
            connection.send(chunk)
        response = connection.getresponse()
        answer = response.read()
        return response.status, answer, time.perf_counter() - started
    finally:
        connection.close()
