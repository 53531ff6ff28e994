"""The database: a late-bound Peewee proxy and how to open it from a URL.

Models bind to ``database`` at import time, but nothing connects until a
request (or a command) asks: ``create_app()`` only decides *which* database
the proxy stands for, so Gunicorn can fork workers that each open their own
connections. Both SQLite and PostgreSQL are pooled per process, which makes
"connect per request, always close" cost a dictionary lookup.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import peewee
from playhouse import db_url
from playhouse.pool import MaxConnectionsExceeded

database = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {
    # Readers never wait for the writer, and a commit needs no fsync of the
    # main file: see https://www.sqlite.org/wal.html.
    "journal_mode": "wal",
    "synchronous": "normal",
    "foreign_keys": 1,
    "busy_timeout": 10_000,
    "cache_size": -16_000,
}

#: Errors that mean "the database is not answering", not "the query is wrong".
#: An exhausted pool (more threads than connections) is one too: a 503, not a 500.
UNAVAILABLE_ERRORS = (peewee.OperationalError, peewee.InterfaceError, MaxConnectionsExceeded)


def _postgres_defaults(statement_timeout: float) -> dict:
    defaults = {
        "connect_timeout": 5,
        # A peer that vanished without closing the connection is noticed in
        # seconds rather than after the kernel's default of over two hours.
        "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
        "tcp_user_timeout": 15_000,
    }
    if statement_timeout:
        defaults["options"] = f"-c statement_timeout={int(statement_timeout * 1000)}"
    return defaults


class DatabaseURLError(ValueError):
    """DATABASE_URL names a database this service cannot use."""


def open_database(url: str, pool_size: int = 8, statement_timeout: float = 0) -> peewee.Database:
    """A pooled, not yet connected Database for ``url``.

    ``statement_timeout`` (seconds, 0 for none) bounds every PostgreSQL
    statement, so a stuck query becomes an error (a 503) before Gunicorn's
    worker timeout kills the worker and the client gets no answer at all.
    """
    scheme = urlsplit(url).scheme
    if scheme in {"sqlite", "sqlite+pool"}:
        path = url.split("://", 1)[1].lstrip("/")
        if url.split("://", 1)[1].startswith("//"):
            path = "/" + path
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return db_url.connect(
            "sqlite+pool://" + url.split("://", 1)[1],
            pragmas=SQLITE_PRAGMAS,
            # Pooled connections move between the threads of a gthread worker.
            check_same_thread=False,
            max_connections=pool_size * 4,
            stale_timeout=600,
        )
    if scheme in {"postgres", "postgresql", "postgres+pool", "postgresql+pool"}:
        # What the URL says wins; these keep a silent network from hanging workers.
        given = {name for name, _ in parse_qsl(urlsplit(url).query)}
        options = {name: value for name, value in _postgres_defaults(statement_timeout).items() if name not in given}
        return db_url.connect(
            "postgresql+pool://" + url.split("://", 1)[1],
            unquote_password=True,
            max_connections=pool_size,
            stale_timeout=300,
            timeout=10,
            **options,
        )
    raise DatabaseURLError(f"unsupported DATABASE_URL scheme {scheme!r}: use sqlite:// or postgresql://")


def bind(db: peewee.Database) -> None:
    """Make the proxy (and so every model) stand for ``db``."""
    database.initialize(db)


def is_sqlite() -> bool:
    return isinstance(database.obj, peewee.SqliteDatabase)


#: Writers of one process take turns here before asking SQLite for its lock.
_sqlite_writers = threading.RLock()


@contextlib.contextmanager
def write_transaction():
    """A transaction that holds the write lock from its first statement.

    SQLite's default (deferred) transactions upgrade their lock lazily and fail
    with "database is locked" when two writers race; IMMEDIATE makes the second
    one wait for the first instead. Threads of one worker also queue on a lock
    of their own first: SQLite's busy handler waits by sleeping in growing
    steps (1, 2, 5, 10 ms...), which made a busy write wait far longer than the
    write it waited for. PostgreSQL locks rows as it goes.
    """
    if is_sqlite():
        with _sqlite_writers, database.atomic("IMMEDIATE"):
            yield
    else:
        with database.atomic():
            yield


@contextlib.contextmanager
def connection():
    """Borrow a connection for a block of work (commands, tests, health checks)."""
    opened = database.connect(reuse_if_open=True)
    try:
        yield database
    finally:
        if opened and not database.is_closed():
            database.close()
