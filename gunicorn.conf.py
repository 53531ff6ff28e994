"""Gunicorn settings: `gunicorn -c gunicorn.conf.py` starts falcon-img.

Everything is read from the environment so one file serves a laptop, a
Heroku dyno and a fleet behind a load balancer: PORT, WEB_CONCURRENCY,
GUNICORN_THREADS, GUNICORN_TIMEOUT, FALCON_IMG_BIND.
"""

import datetime
import json
import multiprocessing
import os

from gunicorn.glogging import Logger

wsgi_app = "falcon_img.wsgi:app"

bind = os.environ.get("FALCON_IMG_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# A client gets two thirds of that to send a request body; then the app answers 408
# itself, instead of the worker being killed mid-request (which a client sees as a 500).
os.environ.setdefault("FALCON_IMG_BODY_TIMEOUT_SECONDS", str(max(1, timeout * 2 // 3)))
graceful_timeout = 20
keepalive = 5
# Each worker builds its own app, so no database connection crosses a fork.
preload_app = False
# Several servers on one machine (tests, blue/green) must not fight over one socket.
control_socket_disable = True

# Limits on what a client can make the server parse before the app sees it.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")


# -- the access log: one JSON object per request, on one line ------------------

#: Request headers that carry credentials: never logged, even if a format asks for them.
SECRET_REQUEST_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


class JSONAtoms(dict):
    """Gunicorn's log atoms, each text value escaped to sit inside a JSON string.

    Gunicorn's own wrapper escapes double quotes only: a backslash, a newline
    (``%0A`` in a path) or another control character sent by a client would
    break the line or the JSON. ``json.dumps`` escapes all of them, and
    everything outside ASCII, so a line is always one valid JSON object.
    Values are escaped when the format reads them, not all of them up front:
    a request has dozens of atoms and the format uses a dozen.
    """

    @staticmethod
    def _is_secret(key: str) -> bool:
        """Whether ``key`` names a credential header, as a header atom (``{authorization}i``)
        or as its environ twin (``{http_authorization}e``)."""
        if not key.startswith("{") or key[-2:] not in ("}i", "}e"):
            return False
        name = key[1:-2].lower()
        if key.endswith("}e"):
            name = name.removeprefix("http_").replace("_", "-")
        return name in SECRET_REQUEST_HEADERS

    def __getitem__(self, key: str):
        # Header atoms are looked up case-insensitively; anything missing is "-".
        key = key.lower() if key.startswith("{") else key
        if self._is_secret(key) or key not in self:
            return "-"
        value = super().__getitem__(key)
        return json.dumps(value)[1:-1] if isinstance(value, str) else value


class JSONAccessLogger(Logger):
    """Gunicorn's logger with JSON-safe atoms, numeric status/bytes, UTC times and the pid."""

    atoms_wrapper_class = JSONAtoms

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        # WSGI hands the path over as latin-1; log the UTF-8 the client sent.
        path = environ.get("PATH_INFO") or ""
        atoms["U"] = path.encode("latin-1", "replace").decode("utf-8", "replace")
        status = str(atoms.get("s") or "")
        atoms["s"] = int(status) if status.isdigit() else 0
        atoms["B"] = int(atoms.get("B") or 0)
        atoms["pid"] = os.getpid()
        return atoms

    def now(self) -> str:
        return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


logger_class = JSONAccessLogger
# Text atoms sit inside quotes (JSONAtoms escapes them); status, bytes, duration and pid are numbers.
access_log_format = (
    '{"time": "%(t)s", "remote": "%(h)s", "method": "%(m)s", "path": "%(U)s", "query": "%(q)s", '
    '"status": %(s)s, "bytes": %(B)s, "duration_s": %(L)s, "request_id": "%({x-request-id}o)s", '
    '"user_agent": "%(a)s", "pid": %(pid)s}'
)

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"},
        # An access line is already a whole JSON object: nothing may be put around it.
        "access_json": {"format": "%(message)s"},
    },
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stdout"},
        "access_stdout": {"class": "logging.StreamHandler", "formatter": "access_json", "stream": "ext://sys.stdout"},
    },
    # Gunicorn merges this over its own defaults key by key; its default root logger
    # names a handler that "handlers" above replaces, so the root is set here too.
    "root": {"handlers": ["stdout"], "level": "WARNING"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": ["access_stdout"], "level": "INFO", "propagate": False},
        "falcon_img": {"handlers": ["stdout"], "level": loglevel.upper(), "propagate": False},
    },
}


def on_starting(server):
    """Before any worker starts: remove temporary files that killed uploads left behind."""
    from falcon_img.consistency import sweep_at_start

    try:
        removed = sweep_at_start(os.environ)
    except Exception as exc:  # a sweep must never keep the service from starting
        server.log.warning("could not sweep temporary files: %s", exc)
        return
    if removed:
        server.log.info("removed %d stale temporary file(s) of interrupted uploads", removed)
