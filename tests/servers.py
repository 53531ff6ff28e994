"""Real Gunicorn for end-to-end tests: the repository's gunicorn.conf.py on 127.0.0.1.

``GunicornServer(env, workers)`` runs ``falcon-img init-db`` and then
``gunicorn -c gunicorn.conf.py`` from the same virtualenv as the tests, with
the environment the caller gives (an instance dir, DATABASE_URL, S3
settings...) on top of a cleaned copy of this process's environment, on a
port the OS picked. ``start()`` returns once /healthz answers 200 and every
worker has booted; ``stop()`` always ends the whole process group, also when
the server never became ready. stdout and stderr go to one log file.
"""

from __future__ import annotations

import ctypes
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Not resolved: a virtualenv's python is a symlink, and its scripts live beside the link.
BIN_DIR = Path(sys.executable).parent

#: Settings the machine's own environment must not slip into a server under test.
INHERITED_PREFIXES_DROPPED = ("FALCON_IMG_", "GUNICORN_", "AWS_")
INHERITED_NAMES_DROPPED = {"DATABASE_URL", "PORT", "WEB_CONCURRENCY", "LOG_LEVEL", "GUNICORN_CMD_ARGS"}

START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30
#: Another process may take the picked port before Gunicorn binds it: pick again.
BIND_ATTEMPTS = 3


class ServerError(RuntimeError):
    """The server did not start (the message includes the end of its log)."""


class PortTaken(ServerError):
    pass


def _end_with_parent() -> None:
    """In the child before exec: get SIGTERM if the test process dies without stopping us."""
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def base_environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if name not in INHERITED_NAMES_DROPPED and not name.startswith(INHERITED_PREFIXES_DROPPED)
    }


class Response:
    """What a request got back: status, headers (case-insensitive lookup) and the body."""

    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.body[:200]!r}>"


class GunicornServer:
    """One Gunicorn master with ``workers`` workers, started from gunicorn.conf.py."""

    #: What /healthz must answer (with every worker up) for the server to count as started.
    ready_statuses: tuple[int, ...] = (200,)

    def __init__(
        self, env: dict[str, str], workers: int = 2, *, log_path: Path | None = None,
        init_db_args: tuple[str, ...] = (),
    ) -> None:
        self.extra_env = dict(env)
        self.workers = workers
        self.init_db_args = tuple(init_db_args)
        self.host = "127.0.0.1"
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.log_path = Path(log_path) if log_path else None
        self._log_file = None
        self._attempt_log_offset = 0

    @classmethod
    def in_folder(cls, root: Path, *, workers: int = 2, database_url: str = "", **env: str) -> GunicornServer:
        """A test server keeping everything (instance dir, log) under ``root``.

        With ``database_url`` (a shared PostgreSQL database) it starts from empty
        tables, as a fresh deployment does; otherwise it uses SQLite under ``root``.
        """
        settings = {"FALCON_IMG_ENV": "testing", "FALCON_IMG_INSTANCE_DIR": str(root / "instance"), **env}
        init_db_args: tuple[str, ...] = ()
        if database_url:
            settings["DATABASE_URL"] = database_url
            init_db_args = ("--drop", "--yes")
        return cls(settings, workers=workers, log_path=root / "gunicorn.log", init_db_args=init_db_args)

    # -- lifecycle ---------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        return {
            **base_environment(),
            **self.extra_env,
            "FALCON_IMG_BIND": f"{self.host}:{self.port}",
            "WEB_CONCURRENCY": str(self.workers),
        }

    @property
    def instance_dir(self) -> Path | None:
        """Where the server keeps its SQLite file and local images, when the env names it."""
        value = self.extra_env.get("FALCON_IMG_INSTANCE_DIR")
        return Path(value) if value else None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise ServerError("the server is not running")
        return self.process.pid

    def start(self) -> GunicornServer:
        if self.log_path is None:
            raise ServerError("give the server a log_path")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.init_db()
        for attempt in range(1, BIND_ATTEMPTS + 1):
            try:
                return self._start_gunicorn()
            except PortTaken:
                if attempt == BIND_ATTEMPTS:
                    raise
                self.port = free_port()
        raise AssertionError("unreachable")

    def _start_gunicorn(self) -> GunicornServer:
        self._log_file = self.log_path.open("ab")
        self._attempt_log_offset = self._log_file.tell()
        self.process = subprocess.Popen(
            [str(BIN_DIR / "gunicorn"), "-c", str(REPO_ROOT / "gunicorn.conf.py")],
            cwd=REPO_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            # Its own process group, so stop() can end the master and every worker.
            start_new_session=True,
            preexec_fn=_end_with_parent if sys.platform == "linux" else None,
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def init_db(self) -> None:
        """``falcon-img init-db`` with the server's environment (its database and storage)."""
        completed = subprocess.run(
            [str(BIN_DIR / "falcon-img"), "init-db", *self.init_db_args],
            cwd=REPO_ROOT, env=self.env, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=START_TIMEOUT_SECONDS,
        )
        if completed.returncode != 0:
            raise ServerError(f"init-db failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}")

    def stop(self) -> None:
        """SIGTERM to the master (graceful), then SIGKILL to its whole group if it lingers.

        Safe to call twice. Workers of a master that died first notice their new
        parent and exit by themselves.
        """
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            # The master alone: it stops its workers gracefully itself.
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                # Not reaped yet, so the group id is still this server's.
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> GunicornServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                this_attempt = self.log()[self._attempt_log_offset:]
                error = PortTaken if "Address already in use" in this_attempt else ServerError
                raise error(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                healthy = self.request("GET", "/healthz", timeout=10).status in self.ready_statuses
            except OSError:
                healthy = False
            if healthy and len(self.worker_pids()) == self.workers:
                return
            time.sleep(0.2)
        raise ServerError(f"gunicorn was not ready within {START_TIMEOUT_SECONDS}s:\n{self.log_tail()}")

    # -- looking at it -----------------------------------------------------

    def worker_pids(self) -> list[int]:
        """The master's child processes, read from /proc (Linux)."""
        master = self.pid
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name, in parentheses, may itself contain spaces and parentheses.
            fields = stat[stat.rindex(")") + 2:].split()
            state, parent = fields[0], int(fields[1])
            if parent == master and state != "Z":
                children.append(int(entry.name))
        return sorted(children)

    def log(self) -> str:
        if self._log_file is not None:
            self._log_file.flush()
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    # -- talking to it -----------------------------------------------------

    def connection(self, timeout: float = 30) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(
        self, method: str, path: str, body=None, headers: dict | None = None, *,
        timeout: float = 30, encode_chunked: bool = False,
    ) -> Response:
        """One request on a fresh connection (sync workers close every connection anyway)."""
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {}, encode_chunked=encode_chunked)
            answer = conn.getresponse()
            return Response(answer.status, answer.headers, answer.read())
        finally:
            conn.close()

    def request_json(self, method: str, path: str, document, headers: dict | None = None) -> Response:
        return self.request(
            method, path, body=json.dumps(document).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
        )
