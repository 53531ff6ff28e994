"""The servers a benchmark run starts on 127.0.0.1, and stops again: Gunicorn and nginx.

Every server is a child of this process, started with its own log file in the
run's temp dir; ``stop()`` ends exactly that process (by its pid) and waits.
"""

from __future__ import annotations

import dataclasses
import grp
import http.client
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GUNICORN_CONF = REPO / "gunicorn.conf.py"

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

#: Variables of the caller's environment that would change what the servers do.
SCRUBBED_PREFIXES = ("FALCON_IMG_", "GUNICORN_")
SCRUBBED_NAMES = {"DATABASE_URL", "WEB_CONCURRENCY", "PORT", "LOG_LEVEL"}


class ServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_environ() -> dict[str, str]:
    return {
        name: value for name, value in os.environ.items()
        if name not in SCRUBBED_NAMES and not name.startswith(SCRUBBED_PREFIXES)
    }


@dataclasses.dataclass(frozen=True)
class WorkerSettings:
    """How Gunicorn runs the app: ``workers`` processes of ``threads`` threads (gthread when > 1)."""

    workers: int
    threads: int = 1

    @property
    def label(self) -> str:
        if self.threads > 1:
            return f"gthread, {self.workers} workers x {self.threads} threads"
        return f"sync, {self.workers} workers"

    def environ(self) -> dict[str, str]:
        return {"WEB_CONCURRENCY": str(self.workers), "GUNICORN_THREADS": str(self.threads)}


class Server:
    def __init__(self, name: str, command: list[str], env: dict[str, str], log_path: Path, port: int) -> None:
        self.name = name
        self.port = port
        self.log_path = log_path
        self.base_url = f"http://127.0.0.1:{port}"
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )

    def url(self, path: str) -> str:
        return self.base_url + path

    def wait_ready(self, path: str, timeout: float = 30.0) -> None:
        """Wait until ``path`` answers (any status below 500)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                status, _, _ = fetch(self.port, path)
                if status < 500:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise ServerError(f"{self.name} did not answer {path} within {timeout:.0f}s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        """The pids of the master's children (Gunicorn's workers, nginx's workers)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the master and its live workers."""
        total = 0
        for pid in [self.process.pid, *self.worker_pids()]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
        return total / CLOCK_TICKS

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def fetch(port: int, path: str, method: str = "GET", headers: dict | None = None, timeout: float = 30.0):
    """One request on a fresh connection: ``(status, headers, body)``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def start_gunicorn(
    name: str, run_dir: Path, workers: WorkerSettings, app_env: dict[str, str], app: str | None = None,
    conf: Path = GUNICORN_CONF,
) -> Server:
    """Gunicorn with the repo's gunicorn.conf.py; ``app`` overrides its ``wsgi_app``."""
    port = free_port()
    env = clean_environ()
    env.update(workers.environ())
    env.update(app_env)
    env["FALCON_IMG_BIND"] = f"127.0.0.1:{port}"
    command = [sys.executable, "-m", "gunicorn", "-c", str(conf)]
    if app:
        command.append(app)
    return Server(name, command, env, run_dir / f"{name}.log", port)


def conf_without_access_log(run_dir: Path) -> Path:
    """The repo's gunicorn.conf.py with its access log turned off (to price the log)."""
    path = run_dir / "gunicorn-no-access-log.conf.py"
    path.write_text(
        f"_source = {str(GUNICORN_CONF)!r}\n"
        "exec(compile(open(_source).read(), _source, 'exec'))\n"
        "accesslog = None\n"
    )
    return path


NGINX_CONF = """\
# Generated by bench/run.py: a minimal static file server for the comparison.
worker_processes {workers};
daemon off;
master_process on;
pid {run_dir}/nginx.pid;
error_log {run_dir}/nginx-error.log warn;
{user_line}

events {{
    worker_connections 1024;
}}

http {{
    access_log {run_dir}/nginx-access.log;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    default_type image/jpeg;
    client_body_temp_path {run_dir}/nginx-body;
    proxy_temp_path {run_dir}/nginx-proxy;
    fastcgi_temp_path {run_dir}/nginx-fastcgi;
    uwsgi_temp_path {run_dir}/nginx-uwsgi;
    scgi_temp_path {run_dir}/nginx-scgi;

    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ }}
    }}
}}
"""


def start_nginx(run_dir: Path, root: Path, workers: int) -> Server:
    """nginx serving ``root`` as static files (sendfile on, keep-alive)."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    # Workers run as this user, so they can read the run's private temp dir.
    user_line = ""
    if os.geteuid() == 0:
        user_line = f"user {pwd.getpwuid(os.getuid()).pw_name} {grp.getgrgid(os.getgid()).gr_name};"
    conf = run_dir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(run_dir=run_dir, port=port, root=root, workers=workers, user_line=user_line))
    command = [binary, "-p", str(run_dir), "-c", str(conf), "-e", str(run_dir / "nginx-error.log")]
    return Server("nginx", command, clean_environ(), run_dir / "nginx.log", port)


def process_memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of ``pid`` in bytes."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values


def reset_peak_memory(pid: int) -> bool:
    """Make VmHWM start again from the current RSS (Linux: write 5 to clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False
